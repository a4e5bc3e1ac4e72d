"""Character-level language model (the course's "Dinosaur Island"): chars -> RNN/LSTM/GRU stack -> softmax.

The network is an ordinary ``nn.Sequential`` (``CharLM.model``): an ``Embedding`` (or one-hot input, as
in the course), one or more recurrent layers returning sequences, and a ``Dense(V)`` producing logits.
Anything the engine offers works on it (``summary``, ``fit``, the tape, ``gradient_norms``).

Training and sampling do not go through the tape, because at one name per step the per-op Python of a
general engine costs more than the arithmetic: ``_forward_backward`` is the same network as a straight
line of fused kernels (one whole-sequence recurrent kernel per layer, one softmax-cross-entropy, their
backwards), and sampling steps the single-step cell kernels.  Tests hold both to the tape's values and
gradients.

Sequence layout: an item ``"abc"`` becomes inputs ``[eos, a, b, c]`` and targets ``[a, b, c, eos]``; the
end-of-item character doubles as the start symbol (the course starts from a zero vector instead, which
for a one-hot input differs only in one weight row).  Batches are padded after each item's end and carry
its length, so padded steps neither run the recurrence nor count in the loss.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import kernels as K
from .. import nn, optim
from .._backend import active
from .._checks import positive_int as _positive_int
from .._checks import string_list
from .._config import resolve_dtype
from ..nn.saving import _read, _write
from ..text import CharVocab

CELLS = {"rnn": nn.SimpleRNN, "lstm": nn.LSTM, "gru": nn.GRU}
FORMAT = "seqcore.charlm"
FORMAT_VERSION = "1"
COURSE_MAX_LENGTH = 50  # the course stops a sampled name after 50 characters
COURSE_SMOOTHING = 0.999  # smooth(loss) = 0.999 * loss + 0.001 * current, as in the course
COURSE_NAME_LENGTH = 7  # the course starts the smoothed loss at -log(1/V) * 7 ("dino_names")


def _items(items: Any, what: str = "items") -> list[str]:
    return string_list(items, what, allow_empty=False)


@dataclass
class TrainingHistory:
    """What a training run did: the smoothed loss after each step, each step's own loss (``raw_losses``:
    summed over the name for the course loop, per character for mini-batches) and the samples it drew."""

    losses: list[float] = field(default_factory=list)
    raw_losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, nats per char) with validation
    best_val_loss: float | None = None  # the validation loss of the weights the model was left with
    steps: int = 0
    characters: int = 0
    seconds: float = 0.0
    samples: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


class CharLM:
    """A character-level language model over ``vocab``.

    cell: "rnn" (the course's tanh RNN), "lstm" or "gru"; units: hidden size, or one size per stacked
    layer; embedding_dim: None feeds one-hot characters (the course), an int learns an embedding;
    dropout: while training, the rate of inverted dropout on the input of every recurrent layer and of
    the output layer (char-rnn's regulariser: a few hundred names are memorised quickly without it).
    """

    def __init__(
        self,
        vocab: CharVocab,
        *,
        cell: str = "lstm",
        units: int | Sequence[int] = 128,
        embedding_dim: int | None = None,
        dropout: float = 0.0,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(vocab, CharVocab):
            raise TypeError(f"vocab must be a seqcore.text.CharVocab, got {type(vocab).__name__}")
        if not isinstance(cell, str) or cell.lower() not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        sizes = [units] if isinstance(units, (int, np.integer)) and not isinstance(units, bool) else list(units)
        if not sizes:
            raise ValueError("units must be a positive int or a non-empty list of them")
        self.units = [_positive_int("units", u) for u in sizes]
        self.embedding_dim = None if embedding_dim is None else _positive_int("embedding_dim", embedding_dim)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.cell = cell.lower()
        self.vocab = vocab
        self.dtype = resolve_dtype(dtype)
        V = vocab.size
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        layers: list[nn.Layer] = []
        if self.embedding_dim is not None:
            layers.append(nn.Embedding(V, self.embedding_dim, dtype=self.dtype, input_shape=(None,)))
        width = V if self.embedding_dim is None else self.embedding_dim
        for k, u in enumerate(self.units):
            kw: dict[str, Any] = {"return_sequences": True, "dtype": self.dtype}
            if k == 0 and self.embedding_dim is None:
                kw["input_shape"] = (None, width)
            layers.append(CELLS[self.cell](u, **kw))
        layers.append(nn.Dense(V, dtype=self.dtype))
        self.model = nn.Sequential(layers, name=f"charlm_{self.cell}")
        self.model.build((None, None) if self.embedding_dim is not None else (None, None, V))
        self.model.compile(optimizer="adam", loss=nn_loss())
        self.embedding = layers[0] if self.embedding_dim is not None else None
        self.recurrent = [layer for layer in layers if isinstance(layer, nn.RNN)]
        self.dense = layers[-1]
        self._eye = np.eye(V, dtype=self.dtype)
        self.max_item_length = COURSE_MAX_LENGTH

    # ---------------------------------------------------------------- data
    def encode_items(self, items: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Padded (inputs [B,T], targets [B,T], lengths [B]) ids for a batch of items (see module doc)."""
        items = _items(items)
        eos = self.vocab.eos_id
        encoded = [self.vocab.encode(item) for item in items]
        lengths = np.array([len(e) + 1 for e in encoded], dtype=np.int64)
        T = int(lengths.max())
        x = np.full((len(items), T), eos, dtype=np.int64)
        y = np.full((len(items), T), eos, dtype=np.int64)
        for k, e in enumerate(encoded):
            x[k, 1 : len(e) + 1] = e
            y[k, : len(e)] = e
        return x, y, lengths

    def inputs(self, ids: np.ndarray) -> np.ndarray:
        """What ``self.model`` takes for ids [B,T]: the ids themselves, or one-hot rows [B,T,V]."""
        return ids if self.embedding is not None else self._eye[ids]

    def batch(self, items: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) for ``self.model`` (e.g. for ``seqcore.diagnostics.gradient_norms``); items of one length."""
        x, y, lengths = self.encode_items(items)
        if np.any(lengths != lengths[0]):
            raise ValueError("batch: the items must all have the same length (no padding in this form)")
        return self.inputs(x), y

    # ---------------------------------------------------------------- the fused step
    def trainable_weights(self) -> list[Any]:
        return list(self.model.trainable_weights)

    def _run_recurrent(self, layer: Any, x: np.ndarray, lengths: np.ndarray | None) -> tuple[np.ndarray, Any]:
        W, U, b = layer.kernel.data, layer.recurrent_kernel.data, layer.bias.data
        z = np.zeros((x.shape[0], layer.units), dtype=x.dtype)
        if self.cell == "lstm":
            y, _, _, cache = K.lstm_forward(x, z, z, W, U, b, lengths=lengths)
        elif self.cell == "gru":
            y, _, cache = K.gru_forward(x, z, W, U, b, reset_after=layer.reset_after, lengths=lengths)
        else:
            y, _, cache = K.rnn_forward(x, z, W, U, b, lengths=lengths)
        return y, cache

    def _back_recurrent(self, cache: Any, dy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.cell == "lstm":
            dx, _, _, dW, dU, db = K.lstm_backward(cache, dy=dy)
        elif self.cell == "gru":
            dx, _, dW, dU, db = K.gru_backward(cache, dy=dy)
        else:
            dx, _, dW, dU, db = K.rnn_backward(cache, dy=dy)
        return dx, [dW, dU, db]

    def _dropout(self, h: np.ndarray, rng: np.random.Generator | None, masks: list[np.ndarray | None]) -> np.ndarray:
        """Inverted dropout on a layer's input while training (``rng`` given); the mask is kept for backward."""
        if rng is None or not self.dropout:
            masks.append(None)
            return h
        mask = (rng.random(h.shape) >= self.dropout).astype(h.dtype) / h.dtype.type(1.0 - self.dropout)
        masks.append(mask)
        return h * mask

    def _logits(
        self, ids: np.ndarray, lengths: np.ndarray | None, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, list[Any], np.ndarray, list[np.ndarray | None]]:
        """Logits [B,T,V], the recurrent caches, the Dense layer's input and the dropout masks (or Nones)."""
        h = K.embedding_forward(self.embedding.embeddings.data, ids) if self.embedding is not None else self._eye[ids]
        caches: list[Any] = []
        masks: list[np.ndarray | None] = []
        for layer in self.recurrent:
            h, cache = self._run_recurrent(layer, self._dropout(h, rng, masks), lengths)
            caches.append(cache)
        h = self._dropout(h, rng, masks)
        logits = h @ self.dense.kernel.data + self.dense.bias.data
        return logits, caches, h, masks

    def _forward_backward(
        self,
        ids: np.ndarray,
        targets: np.ndarray,
        lengths: np.ndarray | None,
        weights: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, list[np.ndarray]]:
        """Loss sum(weights * per-char cross-entropy) and its gradients, in ``trainable_weights`` order.

        ``rng`` turns dropout on (training); without it the step is deterministic (evaluation, tests)."""
        logits, caches, top, masks = self._logits(ids, lengths, rng)
        losses, ce = K.softmax_cross_entropy(logits, targets)
        loss = float(np.dot(losses.ravel(), weights.ravel()))
        dlogits = K.softmax_cross_entropy_backward(ce, weights.astype(logits.dtype, copy=False))
        V = logits.shape[-1]
        d2 = dlogits.reshape(-1, V)
        grads = [top.reshape(-1, top.shape[-1]).T @ d2, d2.sum(axis=0)]
        dh = dlogits @ self.dense.kernel.data.T
        if masks[-1] is not None:  # masks[l] sat in front of recurrent layer l, masks[-1] in front of the Dense
            dh = dh * masks[-1]
        for k in reversed(range(len(caches))):
            dh, layer_grads = self._back_recurrent(caches[k], dh)
            if masks[k] is not None:
                dh = dh * masks[k]
            grads[:0] = layer_grads
        if self.embedding is not None:
            grads.insert(0, K.embedding_backward(ids, dh, V))
        return loss, grads

    def loss_and_gradients(self, items: Iterable[str], *, reduction: str = "mean") -> tuple[float, list[np.ndarray]]:
        """Cross-entropy over every predicted character of ``items`` and its gradients.

        reduction: "mean" (per character) or "sum" (the course's loss of one name).  Gradients come in
        ``self.trainable_weights()`` order.
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        x, y, lengths = self.encode_items(items)
        mask = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float64)
        if reduction == "mean":
            mask /= mask.sum()
        return self._forward_backward(x, y, None if np.all(lengths == x.shape[1]) else lengths, mask)

    # ---------------------------------------------------------------- training
    def _remember_lengths(self, items: list[str]) -> None:
        """Sampling's default length limit: the course's 50, or room for the longest training item."""
        self.max_item_length = max(self.max_item_length, max(len(item) for item in items) + 1)

    def fit_course(
        self,
        items: Iterable[str],
        iterations: int,
        *,
        learning_rate: float = 0.01,
        clip: float = 5.0,
        print_every: int = 2000,
        n_samples: int = 7,
        seed: int | None = 0,
        callback: Callable[[int, float, list[str]], Any] | None = None,
    ) -> TrainingHistory:
        """The course's loop: SGD, one item per step (its summed loss), every gradient clipped to
        [-clip, clip], the loss smoothed as 0.999 * loss + 0.001 * current.

        Every ``print_every`` steps ``callback(step, smoothed_loss, samples)`` gets ``n_samples`` sampled
        names (nothing is printed here; ``n_samples=0`` samples nothing).  Items are shuffled once and cycled,
        as in the course.
        """
        items = _items(items)
        self._remember_lengths(items)
        iterations = _positive_int("iterations", iterations)
        print_every = _positive_int("print_every", print_every)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise ValueError(f"n_samples must be an int >= 0, got {n_samples!r}")
        opt = optim.SGD(learning_rate=learning_rate, clipvalue=clip)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(items))
        encoded = [self.encode_items([items[k]]) for k in order]
        variables = self.trainable_weights()
        smooth = -math.log(1.0 / self.vocab.size) * COURSE_NAME_LENGTH
        history = TrainingHistory()
        start = time.perf_counter()
        for step in range(iterations):
            x, y, lengths = encoded[step % len(encoded)]
            loss, grads = self._forward_backward(x, y, None, np.ones(x.shape, dtype=np.float64), rng)
            opt.apply_gradients(zip(grads, variables))
            smooth = smooth * COURSE_SMOOTHING + loss * (1.0 - COURSE_SMOOTHING)
            history.losses.append(smooth)
            history.raw_losses.append(loss)
            history.characters += int(lengths[0])
            if n_samples and ((step + 1) % print_every == 0 or step == 0):
                samples = self.sample(n_samples, seed=None if seed is None else seed + step)
                history.samples.append((step + 1, samples))
                if callback is not None:
                    callback(step + 1, smooth, samples)
        history.steps = iterations
        history.seconds = time.perf_counter() - start
        return history

    def fit(
        self,
        items: Iterable[str],
        *,
        batch_size: int = 32,
        epochs: int | None = None,
        seconds: float | None = None,
        optimizer: Any = None,
        validation: Iterable[str] | None = None,
        restore_best: bool = True,
        seed: int | None = 0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> TrainingHistory:
        """Mini-batches of padded items (padding masked out of the recurrence and the loss), Adam by default.

        Stops after ``epochs`` passes or ``seconds`` of training, whichever comes first (one must be
        given).  ``callback(step, smoothed per-char loss)`` runs after every step; it may return True to
        stop.  The default optimizer is Adam(0.005, clipnorm=5).  With ``validation`` items the model is
        evaluated after every epoch and at the end (``history.val_losses``, nats per character) and,
        with ``restore_best``, left with the weights of its best evaluation (Keras's EarlyStopping with
        ``restore_best_weights``): a few hundred names are memorised well within a minute.
        """
        items = _items(items)
        val = None if validation is None else _items(validation, "validation")
        self._remember_lengths(items)
        batch_size = _positive_int("batch_size", batch_size)
        if epochs is None and seconds is None:
            raise ValueError("fit: give epochs, seconds or both")
        if epochs is not None:
            epochs = _positive_int("epochs", epochs)
        if seconds is not None and (isinstance(seconds, bool) or not float(seconds) > 0):
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        opt = optim.get(optimizer) if optimizer is not None else optim.Adam(learning_rate=0.005, clipnorm=5.0)
        rng = np.random.default_rng(seed)
        variables = self.trainable_weights()
        history = TrainingHistory()
        best: tuple[float, list[np.ndarray]] | None = None
        smooth = None
        start = time.perf_counter()

        def validate() -> None:
            nonlocal best
            if val is None:
                return
            score = self.evaluate(val)
            history.val_losses.append((history.steps, score))
            if best is None or score < best[0]:
                best = (score, [v.data.copy() for v in variables])

        def finish() -> TrainingHistory:
            history.seconds = time.perf_counter() - start
            if not history.val_losses or history.val_losses[-1][0] != history.steps:
                validate()
            if best is not None and restore_best:
                for v, data in zip(variables, best[1]):
                    v.data[...] = data
                history.best_val_loss = best[0]
            return history

        epoch = 0
        while epochs is None or epoch < epochs:
            order = rng.permutation(len(items))
            for lo in range(0, len(order), batch_size):
                x, y, lengths = self.encode_items([items[k] for k in order[lo : lo + batch_size]])
                mask = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float64)
                count = float(mask.sum())
                loss, grads = self._forward_backward(x, y, lengths, mask / count, rng)
                opt.apply_gradients(zip(grads, variables))
                smooth = loss if smooth is None else 0.98 * smooth + 0.02 * loss
                history.losses.append(smooth)
                history.raw_losses.append(loss)
                history.steps += 1
                history.characters += int(count)
                stop = callback is not None and callback(history.steps, smooth) is True
                if stop or (seconds is not None and time.perf_counter() - start >= seconds):
                    return finish()
            epoch += 1
            validate()
        return finish()

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, items: Iterable[str], *, batch_size: int = 256) -> float:
        """Mean cross-entropy in nats per character (each item's end-of-item character included)."""
        items = _items(items)
        batch_size = _positive_int("batch_size", batch_size)
        total, count = 0.0, 0
        for lo in range(0, len(items), batch_size):
            x, y, lengths = self.encode_items(items[lo : lo + batch_size])
            logits = self._logits(x, lengths)[0]
            losses, _ = K.softmax_cross_entropy(logits.astype(np.float64), y)
            mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
            total += float(losses[mask].sum())
            count += int(mask.sum())
        return total / count

    # ---------------------------------------------------------------- sampling
    def _step(self, ids: np.ndarray, states: list[list[np.ndarray]], kernels: Any = K) -> np.ndarray:
        """Feed one character per row through every layer (single-step cell kernels); returns logits [B,V].

        ``kernels`` is ``seqcore.kernels`` for a checked call, or the active backend itself once a checked
        call has shown these weights and states to be what the kernels take (sampling's later steps).
        """
        if self.embedding is not None:
            h = kernels.embedding_forward(self.embedding.embeddings.data, ids)
        else:
            h = self._eye[ids]
        for layer, state in zip(self.recurrent, states):
            W, U, b = layer.kernel.data, layer.recurrent_kernel.data, layer.bias.data
            if self.cell == "lstm":
                state[0], state[1] = kernels.lstm_cell(h, state[0], state[1], W, U, b)
            elif self.cell == "gru":
                state[0] = kernels.gru_cell(h, state[0], W, U, b, reset_after=layer.reset_after)
            else:
                state[0] = kernels.rnn_cell(h, state[0], W, U, b)
            h = state[0]
        return h @ self.dense.kernel.data + self.dense.bias.data

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
        batch_size: int = 256,
    ) -> list[str]:
        """``n`` items drawn from the model, each starting with ``prefix`` and ending at the end-of-item
        character or after ``max_length`` characters (default: the course's 50, or the longest training
        item + 1 for a model trained on longer lines).  temperature 0 is greedy (argmax); top_k keeps only
        the k likeliest characters.  Rows are sampled side by side in batches of ``batch_size``."""
        return [
            text
            for text, _ in self.sample_detailed(
                n,
                prefix=prefix,
                temperature=temperature,
                top_k=top_k,
                max_length=max_length,
                seed=seed,
                rng=rng,
                batch_size=batch_size,
            )
        ]

    def sample_detailed(
        self,
        n: int = 1,
        *,
        prefix: str = "",
        temperature: float = 1.0,
        top_k: int | None = None,
        max_length: int | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        batch_size: int = 256,
    ) -> list[tuple[str, bool]]:
        """Like ``sample`` with, for each item, whether it ended with the end-of-item character (True)
        or was cut at ``max_length`` (False)."""
        n = _positive_int("n", n)
        batch_size = _positive_int("batch_size", batch_size)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
            raise TypeError(f"temperature must be a number >= 0, got {temperature!r}")
        if not (temperature >= 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None:
            top_k = min(_positive_int("top_k", top_k), self.vocab.size)
        limit = self.max_item_length if max_length is None else _positive_int("max_length", max_length)
        prefix_ids = self.vocab.encode(prefix)
        if self.vocab.eos_id in prefix_ids:
            raise ValueError("prefix must not contain the end-of-item character")
        if len(prefix_ids) >= limit:
            raise ValueError(f"max_length ({limit}) must exceed the prefix's length ({len(prefix_ids)})")
        if rng is None:
            rng = np.random.default_rng(seed)
        out: list[tuple[str, bool]] = []
        for lo in range(0, n, batch_size):
            out.extend(self._sample_batch(min(batch_size, n - lo), prefix_ids, float(temperature), top_k, limit, rng))
        return out

    def _sample_batch(
        self, B: int, prefix_ids: np.ndarray, temperature: float, top_k: int | None, limit: int, rng: Any
    ) -> list[tuple[str, bool]]:
        eos = self.vocab.eos_id
        states = [[np.zeros((B, u), self.dtype) for _ in range(2 if self.cell == "lstm" else 1)] for u in self.units]
        logits = self._step(np.full(B, eos, dtype=np.int64), states)
        backend = active()
        for c in prefix_ids:
            logits = self._step(np.full(B, c, dtype=np.int64), states, backend)
        rows = np.zeros((B, limit), dtype=np.int64)
        rows[:, : len(prefix_ids)] = prefix_ids
        length = np.full(B, limit, dtype=np.int64)
        alive = np.ones(B, dtype=bool)
        for t in range(len(prefix_ids), limit):
            ids = _draw(logits, temperature, top_k, rng)
            ended = alive & (ids == eos)
            length[ended] = t
            alive &= ~ended
            if not alive.any():
                break
            rows[:, t] = ids
            if t + 1 < limit:
                logits = self._step(ids, states, backend)
        return [(self.vocab.decode(rows[k, : length[k]]), not alive[k]) for k in range(B)]

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
            "dtype": np.dtype(self.dtype).name,
            "vocab": self.vocab.to_config(),
            "max_item_length": self.max_item_length,
        }

    def save(self, path: Any) -> None:
        """One checksummed safetensors file (written atomically): the config and the weights."""
        tensors = {f"{k:03d}": np.asarray(v.data) for k, v in enumerate(self.model.weights)}
        names = [v.name for v in self.model.weights]
        _write(
            path,
            tensors,
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "config": json.dumps(self.config()),
                "names": json.dumps(names),
            },
        )

    @classmethod
    def load(cls, path: Any) -> CharLM:
        """A model written by ``save``; a damaged file raises ``seqcore.CorruptFileError``."""
        from .._atomic import CorruptFileError  # noqa: PLC0415

        tensors, metadata = _read(path)
        if metadata.get("format") != FORMAT:
            raise ValueError(f"load: {str(path)!r} is not a seqcore CharLM file (format {metadata.get('format')!r})")
        try:
            cfg = json.loads(metadata["config"])
            model = cls(
                CharVocab.from_config(cfg["vocab"]),
                cell=cfg["cell"],
                units=cfg["units"],
                embedding_dim=cfg["embedding_dim"],
                dropout=cfg.get("dropout", 0.0),
                dtype=cfg["dtype"],
            )
            model.max_item_length = int(cfg["max_item_length"])
            weights = [tensors[f"{k:03d}"] for k in range(len(model.model.weights))]
            model.model.set_weights(weights)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise CorruptFileError(f"load: {str(path)!r} holds a damaged CharLM ({exc})") from None
        return model


def nn_loss() -> Any:
    """The loss of ``CharLM.model`` for the engine (per-position sparse cross-entropy on logits)."""
    from ..losses import SparseCategoricalCrossentropy  # noqa: PLC0415

    return SparseCategoricalCrossentropy(from_logits=True)


def _draw(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    """One id per row of logits [B,V]: argmax at temperature 0, else softmax(logits / T) over the top k."""
    if logits.shape[0] == 1 and top_k is None and temperature > 0.0:  # one name at a time: fewer, 1-d ops
        z = logits[0].astype(np.float64)
        cdf = np.cumsum(np.exp((z - z.max()) / temperature))
        return np.array([min(int(np.searchsorted(cdf, rng.random() * cdf[-1])), z.shape[0] - 1)])
    z = logits.astype(np.float64)
    if top_k is not None and top_k < z.shape[1]:
        cut = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z = np.where(z >= cut, z, -np.inf)
    if temperature == 0.0:
        return z.argmax(axis=1)
    z = z / temperature
    z -= z.max(axis=1, keepdims=True)
    cdf = np.cumsum(np.exp(z), axis=1)
    u = rng.random(z.shape[0]) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), z.shape[1] - 1)
