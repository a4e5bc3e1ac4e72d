"""A small decoder-only (causal, GPT-style) Transformer character model for any one-item-per-line text.

The network (``TransformerCharLM.model``, an ``nn.Model`` subclass): character embedding * sqrt(d_model)
+ the sinusoidal positional encoding, dropout, ``num_layers`` ``nn.EncoderLayer``s each run with the
look-ahead mask (an encoder layer that may only look back is a GPT block, post-norm as in the course), and
a ``Dense(V)`` giving logits.

The data follows ``CharLM`` (``models/charlm.py``) exactly, so that the two models' losses compare: an item
``"abc"`` reads ``[eos, a, b, c]`` and predicts ``[a, b, c, eos]`` (the end-of-item character, ``"\\n"``,
doubles as the start symbol), batches are padded after each item's end, and padded positions do not count.
Under the causal mask a position never sees the padding after it, so no padding mask is needed.  The
loss of ``evaluate`` is ``CharLM.evaluate``'s: mean cross-entropy in nats per character over every
predicted character, each item's end included.

Unlike the recurrent model, this one has a fixed number of positions (``max_positions``): an item may have
at most ``max_positions - 1`` characters.  Sampling re-runs the network on the whole prefix at every step
(items are short; no key/value cache).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import nn, optim
from .._checks import positive_int as _positive_int
from .._checks import string_list
from ..autograd import Tensor, no_grad
from ..autograd import functional as F
from ..text import CharVocab
from ._model_file import read_model_file, save_model_file, set_model_weights
from .charlm import COURSE_MAX_LENGTH, TrainingHistory, _draw

__all__ = ["CausalTransformer", "TransformerCharLM"]

FORMAT = "seqcore.transformer_charlm"
FORMAT_VERSION = "1"


def _items(items: Any, what: str = "items") -> list[str]:
    return string_list(items, what, allow_empty=False)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _positive_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    if not 0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class CausalTransformer(nn.Model):
    """ids [B, L] -> logits [B, L, V]: embedding * sqrt(d_model) + positions, dropout, causal encoder layers,
    Dense(V).  Position i sees positions 0..i only."""

    def __init__(
        self,
        vocab_size: int,
        *,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        max_positions: int,
        dropout_rate: float = 0.1,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.d_model, self.max_positions = d_model, max_positions
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.dropout = nn.Dropout(dropout_rate)
        self.blocks = [nn.EncoderLayer(d_model, num_heads, dff, dropout_rate=dropout_rate) for _ in range(num_layers)]
        self.final_layer = nn.Dense(vocab_size)
        self._positions = nn.positional_encoding(max_positions, d_model, dtype=self.dtype)

    def call(self, ids: Any, training: bool | None = None) -> Any:
        L = ids.shape[1]
        if L > self.max_positions:
            raise ValueError(f"{self.name}: sequences of {L} positions, this model has {self.max_positions}")
        x = self.embedding(ids) * math.sqrt(self.d_model) + self._positions[:, :L]
        x = self.dropout(x, training=training)
        mask = nn.create_look_ahead_mask(L)
        for block in self.blocks:
            x = block(x, training=training, mask=mask)
        return self.final_layer(x)


class TransformerCharLM:
    """A causal Transformer character model over ``vocab`` (see the module doc).

    num_layers, d_model, num_heads, dff: the blocks' sizes; max_positions: the longest input (an item of
    at most ``max_positions - 1`` characters plus the start symbol); dropout: the rate of every dropout
    (after the positions, in attention, after each sub-layer); seed: initial weights (None keeps seqcore's
    generator as it is).
    """

    def __init__(
        self,
        vocab: CharVocab,
        *,
        num_layers: int = 2,
        d_model: int = 64,
        num_heads: int = 4,
        dff: int = 256,
        max_positions: int = 64,
        dropout: float = 0.1,
        seed: int | None = None,
    ) -> None:
        if not isinstance(vocab, CharVocab):
            raise TypeError(f"vocab must be a seqcore.text.CharVocab, got {type(vocab).__name__}")
        self.vocab = vocab
        self.num_layers = _positive_int("num_layers", num_layers)
        self.d_model = _positive_int("d_model", d_model)
        self.num_heads = _positive_int("num_heads", num_heads)
        self.dff = _positive_int("dff", dff)
        self.max_positions = _positive_int("max_positions", max_positions)
        if self.max_positions < 2:
            raise ValueError(
                f"max_positions must be at least 2 (the start symbol and one character), got {max_positions}"
            )
        self.dropout = _rate("dropout", dropout)
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})")
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        self.model = CausalTransformer(
            vocab.size,
            num_layers=self.num_layers,
            d_model=self.d_model,
            num_heads=self.num_heads,
            dff=self.dff,
            max_positions=self.max_positions,
            dropout_rate=self.dropout,
        )
        with no_grad():  # build the weights now (layers build on their first call)
            self.model(np.full((1, 1), vocab.eos_id, np.int64), training=False)
        self.max_item_length = min(COURSE_MAX_LENGTH, self.max_positions - 1)

    # ---------------------------------------------------------------- data
    def encode_items(self, items: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Padded (inputs [B,T], targets [B,T], lengths [B]) ids, exactly as ``CharLM.encode_items``."""
        items = _items(items)
        eos = self.vocab.eos_id
        encoded = [self.vocab.encode(item) for item in items]
        longest = max(len(e) for e in encoded)
        if longest + 1 > self.max_positions:
            k = next(i for i, e in enumerate(encoded) if len(e) == longest)
            raise ValueError(
                f"items[{k}] has {longest} characters; this model reads at most max_positions - 1 = "
                f"{self.max_positions - 1} (build it with a larger max_positions)"
            )
        lengths = np.array([len(e) + 1 for e in encoded], dtype=np.int64)
        T = int(lengths.max())
        x = np.full((len(items), T), eos, dtype=np.int64)
        y = np.full((len(items), T), eos, dtype=np.int64)
        for k, e in enumerate(encoded):
            x[k, 1 : len(e) + 1] = e
            y[k, : len(e)] = e
        return x, y, lengths

    def logits(self, ids: Any) -> np.ndarray:
        """Logits [B, L, V] (inference: no dropout, no tape) for input ids [B, L]."""
        arr = np.asarray(ids)
        if arr.ndim != 2 or arr.dtype.kind not in "iu":
            raise ValueError(f"ids must be a 2-d integer array [B, L], got shape {arr.shape} dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab.size):
            raise ValueError(f"ids must lie in [0, {self.vocab.size}), got values from {arr.min()} to {arr.max()}")
        with no_grad():
            out = self.model(arr.astype(np.int64), training=False)
        return np.asarray(out.data if isinstance(out, Tensor) else out)

    def count_params(self) -> int:
        return int(self.model.count_params())

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, items: Iterable[str], *, batch_size: int = 256) -> float:
        """Mean cross-entropy in nats per character (each item's end-of-item character included): the
        definition of ``CharLM.evaluate``."""
        items = _items(items)
        batch_size = _positive_int("batch_size", batch_size)
        total, count = 0.0, 0
        for lo in range(0, len(items), batch_size):
            x, y, lengths = self.encode_items(items[lo : lo + batch_size])
            z = self.logits(x).astype(np.float64)
            z -= z.max(axis=-1, keepdims=True)
            nll = np.log(np.exp(z).sum(axis=-1)) - np.take_along_axis(z, y[..., None], axis=-1)[..., 0]
            mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
            total += float(nll[mask].sum())
            count += int(mask.sum())
        return total / count

    # ---------------------------------------------------------------- training
    def fit(
        self,
        items: Iterable[str],
        *,
        batch_size: int = 32,
        epochs: int | None = None,
        steps: int | None = None,
        seconds: float | None = None,
        warmup_steps: int = 200,
        lr_scale: float = 1.0,
        optimizer: Any = None,
        validation: Iterable[str] | None = None,
        restore_best: bool = True,
        seed: int | None = 0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> TrainingHistory:
        """Mini-batches of padded items (padded positions out of the loss), like ``CharLM.fit``.

        Stops after ``epochs`` passes, ``steps`` updates or ``seconds`` of training, whichever comes first
        (one must be given).  The default optimizer is Adam(beta_1=0.9, beta_2=0.98, epsilon=1e-9) on
        ``WarmupInverseSqrt(d_model, warmup_steps, lr_scale)``, fresh for each call; ``optimizer`` replaces
        it.  ``callback(step, smoothed per-char loss)`` runs after every step and may return True to stop.
        With ``validation`` items the model is evaluated after every epoch and at the end
        (``history.val_losses``, nats per character) and, with ``restore_best``, left with the weights of
        its best evaluation.
        """
        items = _items(items)
        val = None if validation is None else _items(validation, "validation")
        batch_size = _positive_int("batch_size", batch_size)
        if epochs is None and steps is None and seconds is None:
            raise ValueError("fit: give epochs, steps, seconds or a combination")
        epochs = None if epochs is None else _positive_int("epochs", epochs)
        steps = None if steps is None else _positive_int("steps", steps)
        seconds = None if seconds is None else _positive_real("seconds", seconds)
        self.encode_items(items)  # every item must fit the positions (and the alphabet): fail before training
        if val is not None:
            self.encode_items(val)
        if optimizer is None:
            schedule = optim.WarmupInverseSqrt(self.d_model, _positive_int("warmup_steps", warmup_steps), lr_scale)
            opt = optim.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
        else:
            opt = optim.get(optimizer)
        self.max_item_length = min(max(self.max_item_length, max(len(i) for i in items) + 1), self.max_positions - 1)
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)  # dropout masks
        rng = np.random.default_rng(seed)
        variables = list(self.model.trainable_weights)
        history = TrainingHistory()
        best: tuple[float, list[np.ndarray]] | None = None
        smooth: float | None = None
        start = time.perf_counter()

        def validate() -> None:
            nonlocal best
            if val is None:
                return
            score = self.evaluate(val)
            history.val_losses.append((history.steps, score))
            if best is None or score < best[0]:
                best = (score, self.model.get_weights())

        def finish() -> TrainingHistory:
            history.seconds = time.perf_counter() - start
            if not history.val_losses or history.val_losses[-1][0] != history.steps:
                validate()
            if best is not None and restore_best:
                self.model.set_weights(best[1])
                history.best_val_loss = best[0]
            return history

        epoch = 0
        while epochs is None or epoch < epochs:
            order = rng.permutation(len(items))
            for lo in range(0, len(order), batch_size):
                x, y, lengths = self.encode_items([items[k] for k in order[lo : lo + batch_size]])
                mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
                count = int(mask.sum())
                logits = self.model(x, training=True)
                loss = F.softmax_cross_entropy(logits, y, mask).sum() * (1.0 / count)
                value = float(loss.data)
                if not math.isfinite(value):
                    raise FloatingPointError(f"fit: the loss became {value} (lower lr_scale or raise warmup_steps)")
                loss.backward()
                opt.apply_gradients([(v.grad, v) for v in variables])
                for v in variables:
                    v.grad = None
                smooth = value if smooth is None else 0.98 * smooth + 0.02 * value
                history.losses.append(smooth)
                history.raw_losses.append(value)
                history.steps += 1
                history.characters += count
                stop = callback is not None and callback(history.steps, smooth) is True
                if (
                    stop
                    or (steps is not None and history.steps >= steps)
                    or (seconds is not None and time.perf_counter() - start >= seconds)
                ):
                    return finish()
            epoch += 1
            validate()
        return finish()

    # ---------------------------------------------------------------- sampling
    def sample(
        self,
        n: int = 1,
        *,
        prefix: str = "",
        temperature: float = 1.0,
        top_k: int | None = None,
        max_length: int | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> list[str]:
        """``n`` items drawn from the model, each starting with ``prefix`` and ending at the end-of-item
        character or after ``max_length`` characters (default: the longest training item + 1, at least
        the course's 50, at most ``max_positions - 1``).  temperature 0 is greedy; top_k keeps the k
        likeliest characters.  The same seed gives the same items."""
        n = _positive_int("n", n)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
            raise TypeError(f"temperature must be a number >= 0, got {temperature!r}")
        if not (temperature >= 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None:
            top_k = min(_positive_int("top_k", top_k), self.vocab.size)
        limit = self.max_item_length if max_length is None else _positive_int("max_length", max_length)
        if limit > self.max_positions - 1:
            raise ValueError(f"max_length must be at most max_positions - 1 = {self.max_positions - 1}, got {limit}")
        prefix_ids = self.vocab.encode(prefix)
        eos = self.vocab.eos_id
        if eos in prefix_ids:
            raise ValueError("prefix must not contain the end-of-item character")
        if len(prefix_ids) >= limit:
            raise ValueError(f"max_length ({limit}) must exceed the prefix's length ({len(prefix_ids)})")
        if rng is None:
            rng = np.random.default_rng(seed)
        ids = np.empty((n, 1 + len(prefix_ids)), np.int64)
        ids[:, 0] = eos
        ids[:, 1:] = prefix_ids
        length = np.full(n, limit, np.int64)
        alive = np.ones(n, dtype=bool)
        for t in range(len(prefix_ids), limit):
            live = np.flatnonzero(alive)
            nxt = np.full(n, eos, np.int64)
            nxt[live] = _draw(self.logits(ids[live])[:, -1], float(temperature), top_k, rng)
            ended = alive & (nxt == eos)
            length[ended] = t
            alive &= ~ended
            if not alive.any():
                break
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
        return [self.vocab.decode(ids[k, 1 : 1 + length[k]]) for k in range(n)]

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "max_positions": self.max_positions,
            "dropout": self.dropout,
            "vocab": self.vocab.to_config(),
            "max_item_length": self.max_item_length,
        }

    def save(self, path: Any, *, dtype: Any = "float32") -> None:
        """One checksummed safetensors file (written atomically): the config and the weights."""
        save_model_file(
            path, self.model, fmt=FORMAT, version=FORMAT_VERSION, config=self.config(), dtype=dtype, extra={}
        )

    @classmethod
    def load(cls, path: Any) -> TransformerCharLM:
        """A model written by ``save``; a damaged file raises ``seqcore.CorruptFileError``, a file of another
        kind a ``ValueError``."""
        from .._atomic import CorruptFileError  # noqa: PLC0415

        cfg, weights = read_model_file(path, fmt=FORMAT, kind="TransformerCharLM")
        try:
            model = cls(
                CharVocab.from_config(cfg["vocab"]),
                num_layers=cfg["num_layers"],
                d_model=cfg["d_model"],
                num_heads=cfg["num_heads"],
                dff=cfg["dff"],
                max_positions=cfg["max_positions"],
                dropout=cfg["dropout"],
            )
            model.max_item_length = _positive_int("max_item_length", cfg["max_item_length"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"load: {str(path)!r} holds a damaged TransformerCharLM ({exc})") from None
        set_model_weights(model.model, weights, path, "TransformerCharLM")
        return model
