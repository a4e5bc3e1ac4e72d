"""The course's encoder-decoder Transformer on the date-translation data: human-readable date -> ISO date.

Same data and task as ``DateTranslator`` (``seqcore.datasets.dates``: ``date_pairs`` / ``date_splits``), a
different model: ``nn.Transformer`` (post-norm encoder and decoder layers, sinusoidal positions, multi-head
attention).  The source side reads ``HUMAN_VOCAB`` ids (the ``<pad>`` id masked out of every attention over
the source); the target side is ``MACHINE_VOCAB`` plus a start symbol ``<bos>``.  Every ISO date has exactly
Ty = 10 characters, so no end symbol and no target padding are needed: the decoder runs 10 steps.

Training is teacher forcing: the decoder reads ``<bos>`` + target[:-1] under the look-ahead mask and is
scored at every position by softmax cross-entropy on its logits (optionally label-smoothed over the 11
output symbols); Adam(beta_1=0.9, beta_2=0.98, epsilon=1e-9) follows ``optim.WarmupInverseSqrt``.  Batches
are cut to their longest source text, so a batch of short dates does not pay for 30 positions.

Decoding goes through ``seqcore.decode`` (``greedy`` for beam width 1, ``beam_search`` wider).  The encoder
runs once per input and its output rides in the search state with the source mask and the prefix decoded so
far; each step re-runs the decoder on the whole prefix (10 steps of at most 10 positions: cheaper than
keeping per-layer key/value caches in the state) and reads the last position's log-softmax.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import decode, nn, optim
from .._checks import positive_int as _positive_int
from .._checks import string_list
from ..autograd import Tensor, no_grad
from ..autograd import functional as F
from ..datasets import dates as D
from ._model_file import read_model_file, save_model_file, set_model_weights
from .date_translator import DateTrainingHistory, _pairs

__all__ = ["DEFAULT_RECIPE", "DateTransformer", "draw_attention_png"]

FORMAT = "seqcore.date_transformer"
FORMAT_VERSION = "1"
SOURCE_VOCAB: tuple[str, ...] = D.HUMAN_VOCAB
TARGET_VOCAB: tuple[str, ...] = (*D.MACHINE_VOCAB, "<bos>")
PAD = D.PAD  # source padding id (HUMAN_VOCAB's "<pad>")
BOS = len(D.MACHINE_VOCAB)  # the decoder's start symbol; never a target, never predicted
N_OUT = len(D.MACHINE_VOCAB)  # the symbols a step may output: '-' and the digits
BLOCKS = {"self": "block1_self_att", "cross": "block2_decenc_att"}

#: the default architecture and training recipe (measured in docs/transformer.md)
DEFAULT_RECIPE: dict[str, Any] = {
    "num_layers": 2,
    "d_model": 64,
    "num_heads": 4,
    "dff": 128,
    "dropout_rate": 0.0,
    "examples": 20_000,
    "batch_size": 64,
    "epochs": 8,
    "warmup_steps": 400,
    "lr_scale": 0.8,
    "label_smoothing": 0.1,
}


def _real_in(name: str, value: Any, lo: float, hi: float, *, hi_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not (lo <= v < hi if hi_open else lo <= v <= hi):
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}{')' if hi_open else ']'}, got {value!r}")
    return v


def _positive_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    if not 0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def encode_source(strings: Sequence[str], *, trim: bool = True) -> np.ndarray:
    """Source ids [N, L] (int64) into ``HUMAN_VOCAB`` (``datasets.dates.encode_human``: normalised, cut at
    Tx = 30, padded with ``<pad>``); ``trim`` drops the columns that are padding in every row (at least one
    column is kept)."""
    ids = D.encode_human(strings, D.TX)
    if trim and ids.shape[0]:
        used = np.flatnonzero((ids != PAD).any(axis=0))
        ids = np.ascontiguousarray(ids[:, : max(int(used[-1]) + 1 if used.size else 1, 1)])
    return ids


def encode_target(isos: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Teacher forcing's (decoder input, target) ids, both [N, Ty]: the input is ``<bos>`` + target[:-1]."""
    target = D.encode_machine(isos)
    dec_in = np.empty_like(target)
    dec_in[:, 0] = BOS
    dec_in[:, 1:] = target[:, :-1]
    return dec_in, target


def source_mask(src: np.ndarray) -> np.ndarray:
    """The encoder's and the cross-attention's mask [N, 1, Ls] (True where the source is not padding)."""
    return nn.create_padding_mask(src, pad=PAD)


def _data(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class DateTransformer:
    """Human-readable date -> "YYYY-MM-DD" with the course's encoder-decoder Transformer (see the module doc).

    num_layers, d_model, num_heads, dff, dropout_rate: ``nn.Transformer``'s; the defaults are the recipe
    of ``DEFAULT_RECIPE``.  seed: initial weights (``seqcore.set_seed``); None leaves seqcore's generator
    as it is.
    """

    tx, ty = D.TX, D.TY
    source_vocab, target_vocab = SOURCE_VOCAB, TARGET_VOCAB

    def __init__(
        self,
        *,
        num_layers: int = DEFAULT_RECIPE["num_layers"],
        d_model: int = DEFAULT_RECIPE["d_model"],
        num_heads: int = DEFAULT_RECIPE["num_heads"],
        dff: int = DEFAULT_RECIPE["dff"],
        dropout_rate: float = DEFAULT_RECIPE["dropout_rate"],
        seed: int | None = 0,
    ) -> None:
        self.num_layers = _positive_int("num_layers", num_layers)
        self.d_model = _positive_int("d_model", d_model)
        self.num_heads = _positive_int("num_heads", num_heads)
        self.dff = _positive_int("dff", dff)
        self.dropout_rate = _real_in("dropout_rate", dropout_rate, 0.0, 1.0)
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})")
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        self.transformer = nn.Transformer(
            self.num_layers,
            self.d_model,
            self.num_heads,
            self.dff,
            len(SOURCE_VOCAB),
            len(TARGET_VOCAB),
            max(self.tx, self.ty),
            dropout_rate=self.dropout_rate,
            key_dim=self.d_model // self.num_heads,  # the paper's per-head size (the course's key_dim=d_model costs 4x)
        )
        with no_grad():  # build every weight now (Keras layers build on their first call): save/load need them
            self._forward(np.zeros((1, 2), np.int64), np.full((1, 1), BOS, np.int64), training=False)

    # ---------------------------------------------------------------- the network
    def _forward(self, src: np.ndarray, dec_in: np.ndarray, *, training: bool) -> tuple[Tensor, Any]:
        """Logits [N, Lt, 12] and the attention-weights mapping of a teacher-forced pass."""
        mask = source_mask(src)
        return self.transformer(
            src,
            dec_in,
            training=training,
            enc_padding_mask=mask,
            look_ahead_mask=nn.create_look_ahead_mask(dec_in.shape[1]),
            dec_padding_mask=mask,
        )

    def _encode(self, src: np.ndarray) -> np.ndarray:
        with no_grad():
            return _data(self.transformer.encoder(src, training=False, mask=source_mask(src)))

    def _decode_logits(self, prefix: np.ndarray, enc: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits [n, Lt, 12] of the decoder run on ``prefix`` [n, Lt] over encoder outputs [n, Ls, d_model]."""
        with no_grad():
            x, weights = self.transformer.decoder(
                prefix,
                enc,
                training=False,
                look_ahead_mask=nn.create_look_ahead_mask(prefix.shape[1]),
                padding_mask=mask,
            )
            return _data(self.transformer.final_layer(x)), weights

    def count_params(self) -> int:
        return int(self.transformer.count_params())

    @property
    def weights(self) -> list[Any]:
        return list(self.transformer.weights)

    # ---------------------------------------------------------------- decoding (seqcore.decode)
    def _search(self, strings: Sequence[str], beam_width: int, n_best: int) -> list[list[tuple[np.ndarray, float]]]:
        src = encode_source(strings)
        N = src.shape[0]
        if N == 0:
            return []
        init = (self._encode(src), source_mask(src), np.zeros((N, 0), np.int64))

        def step_fn(prev: np.ndarray, state: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, Any]:
            enc, mask, prefix = state
            prefix = np.concatenate([prefix, prev[:, None].astype(np.int64)], axis=1)
            logits, _ = self._decode_logits(prefix, enc, mask)
            # only '-' and the digits can come out: <bos> is an input symbol
            return _log_softmax(logits[:, -1, :N_OUT]), (enc, mask, prefix)

        if beam_width == 1:
            result = decode.greedy(step_fn, init, max_len=self.ty, bos=BOS)
            return [[(tokens, float(lp))] for tokens, lp in zip(result.tokens, result.log_probs)]
        hyps = decode.beam_search(
            step_fn, init, beam_width=beam_width, max_len=self.ty, bos=BOS, n_best=n_best, length_penalty=0.0
        )
        return [[(h.tokens, h.log_prob) for h in row] for row in hyps]

    def translate(self, texts: Sequence[str], *, beam_width: int = 1) -> list[str]:
        """ISO date strings ("YYYY-MM-DD" shaped, not checked to be a real date), one per text.

        beam_width 1 decodes with ``seqcore.decode.greedy``, wider with ``seqcore.decode.beam_search``
        (every output has Ty characters, so no length penalty is needed)."""
        texts = string_list(texts, "texts")
        beam_width = _positive_int("beam_width", beam_width)
        return [D.decode_machine(row[0][0][None])[0] for row in self._search(texts, beam_width, 1)]

    def n_best(
        self, texts: Sequence[str], n: int = 3, *, beam_width: int | None = None
    ) -> list[list[tuple[str, float]]]:
        """The ``n`` most likely ISO strings per text with their log P(y|x), best first (beam search of
        width ``beam_width``, default ``n``)."""
        texts = string_list(texts, "texts")
        n = _positive_int("n", n)
        beam_width = n if beam_width is None else _positive_int("beam_width", beam_width)
        if n > beam_width:
            raise ValueError(f"n must be at most beam_width = {beam_width}, got {n}")
        return [[(D.decode_machine(t[None])[0], lp) for t, lp in row] for row in self._search(texts, beam_width, n)]

    def log_prob(self, x: Sequence[str], y: Sequence[str]) -> np.ndarray:
        """log P(y|x) [N] float64 (a teacher-forced pass; the ``seqcore.decode.Scorer`` protocol)."""
        xs, ys = string_list(x, "x"), string_list(y, "y")
        if len(xs) != len(ys):
            raise ValueError(f"x and y must have the same length, got {len(xs)} and {len(ys)}")
        if not xs:
            return np.zeros(0)
        dec_in, target = encode_target(ys)
        with no_grad():
            logits = _data(self._forward(encode_source(xs), dec_in, training=False)[0])
        lp = _log_softmax(logits[..., :N_OUT])
        return np.take_along_axis(lp, target[..., None], axis=-1)[..., 0].sum(axis=1)

    def beam_search(self, x: Sequence[str], *, beam_width: int, length_penalty: float = 0.0) -> list[str]:
        """The top hypothesis per input of a beam search (``seqcore.decode.Scorer``; all outputs have Ty
        characters, so ``length_penalty`` cannot change the ranking)."""
        return self.translate(x, beam_width=beam_width)

    def output_length(self, y: str) -> int:
        return self.ty

    def evaluate(self, pairs: Sequence[tuple[str, str]], *, beam_width: int = 1, batch_size: int = 1000) -> float:
        """Exact-match accuracy (all Ty characters right) on (human date, ISO date) pairs."""
        pairs = _pairs(pairs)
        D.encode_machine([m for _, m in pairs])  # the labels must be ISO dates: a clear error, not 0% accuracy
        batch_size = _positive_int("batch_size", batch_size)
        right = 0
        for lo in range(0, len(pairs), batch_size):
            chunk = pairs[lo : lo + batch_size]
            got = self.translate([h for h, _ in chunk], beam_width=beam_width)
            right += sum(g == m for g, (_, m) in zip(got, chunk))
        return right / len(pairs)

    # ---------------------------------------------------------------- attention
    def attention_map(
        self,
        text: str,
        *,
        layer: int | None = None,
        head: int = 1,
        block: str = "cross",
        png: Any = None,
    ) -> np.ndarray:
        """The attention weights of one decoder layer's head while it writes ``text``'s translation.

        layer: 1 .. num_layers (default the last); head: 1 .. num_heads; block: "cross" (encoder-decoder
        attention: [Ty, Ls], row t = where output character t looked among the Ls characters read) or "self"
        (the decoder's masked self-attention: [Ty, Ty] over <bos> and the characters written before).
        The decoder is run teacher-forced on the model's own greedy translation.  Rows sum to 1.  With
        ``png`` (a path) the map is also drawn there as a heat map (matplotlib, written atomically).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        layer = self.num_layers if layer is None else _positive_int("layer", layer)
        if layer > self.num_layers:
            raise ValueError(f"layer must lie in [1, {self.num_layers}] (the decoder's layers), got {layer}")
        head = _positive_int("head", head)
        if head > self.num_heads:
            raise ValueError(f"head must lie in [1, {self.num_heads}], got {head}")
        if block not in BLOCKS:
            raise ValueError(f"block must be 'self' or 'cross', got {block!r}")
        iso = self.translate([text])[0]
        src = encode_source([text])
        dec_in, _ = encode_target([iso])
        _, weights = self._decode_logits(dec_in, self._encode(src), source_mask(src))
        scores = _data(weights[f"decoder_layer{layer}_{BLOCKS[block]}"])  # [1, h, Lt, Lk]
        out = np.array(scores[0, head - 1], dtype=np.float32)
        if png is not None:
            read = D.normalize_human(text)[: self.tx] or " "
            columns = list(read)[: out.shape[1]] if block == "cross" else ["<bos>", *iso[:-1]]
            draw_attention_png(
                png,
                out,
                columns,
                list(iso),
                title=f"decoder layer {layer}, head {head}, {block}-attention: {text[:40]!r} -> {iso}",
                xlabel="input characters (as read: lower-case, no commas; ␣ a space)"
                if block == "cross"
                else "decoder input (<bos> and the characters written before)",
            )
        return out

    # ---------------------------------------------------------------- training
    def fit(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        epochs: int | None = DEFAULT_RECIPE["epochs"],
        steps: int | None = None,
        seconds: float | None = None,
        batch_size: int = DEFAULT_RECIPE["batch_size"],
        warmup_steps: int = DEFAULT_RECIPE["warmup_steps"],
        lr_scale: float = DEFAULT_RECIPE["lr_scale"],
        label_smoothing: float = DEFAULT_RECIPE["label_smoothing"],
        validation: Sequence[tuple[str, str]] | None = None,
        restore_best: bool = True,
        seed: int | None = 0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> DateTrainingHistory:
        """Teacher-forced training on (human date, ISO date) pairs; returns the history.

        Stops after ``epochs`` passes, ``steps`` updates or ``seconds`` of training, whichever comes first (at
        least one must be given).  Each call starts a fresh optimizer: Adam(0.9, 0.98, 1e-9) on
        ``WarmupInverseSqrt(d_model, warmup_steps, lr_scale)``.  ``label_smoothing`` in [0, 1) moves that
        much of each target's probability evenly onto the 11 output symbols.  ``callback(step, loss)`` runs
        after every step and may return True to stop.  With ``validation`` pairs the exact-match accuracy is
        measured after every epoch and at the end and, with ``restore_best``, the model keeps the weights of
        its best measurement.  seed: batch order, dropout (``seqcore.set_seed``); None keeps the generators.
        """
        pairs = _pairs(pairs)
        val = None if validation is None else _pairs(validation, "validation")
        batch_size = _positive_int("batch_size", batch_size)
        if epochs is None and steps is None and seconds is None:
            raise ValueError("fit: give epochs, steps, seconds or a combination")
        epochs = None if epochs is None else _positive_int("epochs", epochs)
        steps = None if steps is None else _positive_int("steps", steps)
        seconds = None if seconds is None else _positive_real("seconds", seconds)
        warmup_steps = _positive_int("warmup_steps", warmup_steps)
        lr_scale = _positive_real("lr_scale", lr_scale)
        smoothing = _real_in("label_smoothing", label_smoothing, 0.0, 1.0)
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        rng = np.random.default_rng(seed)
        src_all = encode_source([h for h, _ in pairs], trim=False)
        dec_all, tgt_all = encode_target([m for _, m in pairs])
        schedule = optim.WarmupInverseSqrt(self.d_model, warmup_steps, lr_scale)
        opt = optim.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
        variables = self.transformer.trainable_weights
        history = DateTrainingHistory()
        best: tuple[float, list[np.ndarray]] | None = None
        start = time.perf_counter()

        def validate() -> None:
            nonlocal best
            if val is None:
                return
            score = self.evaluate(val)
            history.val_accuracy.append((history.steps, score))
            if best is None or score >= best[0]:  # ties go to the later, better-trained weights
                best = (score, self.transformer.get_weights())

        def out_of_budget() -> bool:
            return (steps is not None and history.steps >= steps) or (
                seconds is not None and time.perf_counter() - start >= seconds
            )

        stopped = False
        while not stopped and (epochs is None or history.epochs < epochs):
            order = rng.permutation(len(pairs))
            for lo in range(0, len(order), batch_size):
                rows = order[lo : lo + batch_size]
                loss = self._train_step(opt, variables, src_all[rows], dec_all[rows], tgt_all[rows], smoothing)
                history.losses.append(loss)
                history.steps += 1
                history.examples += rows.size
                stop = callback is not None and callback(history.steps, loss) is True
                if stop or out_of_budget():
                    stopped = True
                    break
            else:
                history.epochs += 1
                validate()
        history.seconds = time.perf_counter() - start
        if val is not None and (not history.val_accuracy or history.val_accuracy[-1][0] != history.steps):
            validate()
        if best is not None:
            if restore_best:
                self.transformer.set_weights(best[1])
                history.best_val_accuracy = best[0]
            else:
                history.best_val_accuracy = history.val_accuracy[-1][1]
        return history

    def _train_step(
        self,
        opt: Any,
        variables: list[Any],
        src: np.ndarray,
        dec_in: np.ndarray,
        target: np.ndarray,
        smoothing: float,
    ) -> float:
        """One teacher-forced update; returns the batch's mean per-character loss before it."""
        used = np.flatnonzero((src != PAD).any(axis=0))
        src = np.ascontiguousarray(src[:, : int(used[-1]) + 1 if used.size else 1])
        logits, _ = self._forward(src, dec_in, training=True)
        labels: Any = target
        if smoothing:
            V = logits.shape[-1]
            labels = np.zeros((*target.shape, V), dtype=logits.dtype)
            labels[..., :N_OUT] = smoothing / N_OUT
            np.put_along_axis(labels, target[..., None], 1.0 - smoothing + smoothing / N_OUT, axis=-1)
        per_char = F.softmax_cross_entropy(logits, labels)
        loss = per_char.mean()
        value = float(loss.data)
        if not math.isfinite(value):
            raise FloatingPointError(f"fit: the loss became {value} (lower lr_scale or raise warmup_steps)")
        loss.backward()
        opt.apply_gradients([(v.grad, v) for v in variables])
        for v in variables:
            v.grad = None
        return value

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "dropout_rate": self.dropout_rate,
            "tx": self.tx,
            "ty": self.ty,
            "source_vocab": list(SOURCE_VOCAB),
            "target_vocab": list(TARGET_VOCAB),
        }

    def save(self, path: Any, *, dtype: Any = "float32") -> None:
        """One checksummed safetensors file (written atomically): the config and the weights."""
        save_model_file(
            path, self.transformer, fmt=FORMAT, version=FORMAT_VERSION, config=self.config(), dtype=dtype, extra={}
        )

    @classmethod
    def load(cls, path: Any) -> DateTransformer:
        """A model written by ``save``.  A damaged file raises ``seqcore.CorruptFileError``; a file of another
        kind or for other vocabularies a ``ValueError``."""
        cfg, weights = read_model_file(path, fmt=FORMAT, kind="DateTransformer")
        arch = ("num_layers", "d_model", "num_heads", "dff", "dropout_rate")
        try:
            model = cls(**{k: cfg[k] for k in arch}, seed=None)
        except (KeyError, TypeError, ValueError) as exc:
            from .._atomic import CorruptFileError  # noqa: PLC0415

            raise CorruptFileError(f"load: {str(path)!r} holds a damaged DateTransformer ({exc})") from None
        expected = model.config()
        if cfg != expected:
            differ = sorted(k for k in set(cfg) | set(expected) if cfg.get(k) != expected.get(k))
            raise ValueError(f"load: {str(path)!r} was made for another configuration ({', '.join(differ)} differ)")
        set_model_weights(model.transformer, weights, path, "DateTransformer")
        return model


def draw_attention_png(
    path: Any,
    weights: np.ndarray,
    columns: Sequence[str],
    rows: Sequence[str],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "output characters",
) -> None:
    """A heat map of ``weights`` [len(rows), len(columns)] drawn to ``path`` as a PNG (matplotlib's Agg
    backend; written atomically).  Spaces in the labels are shown as ␣."""
    import io  # noqa: PLC0415

    from .._atomic import atomic_write_bytes  # noqa: PLC0415

    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape != (len(rows), len(columns)):
        raise ValueError(
            f"weights must have shape (len(rows), len(columns)) = {(len(rows), len(columns))}, got {w.shape}"
        )
    try:
        import matplotlib  # noqa: PLC0415
    except ImportError:
        raise ImportError('drawing an attention map needs matplotlib: pip install "seqcore[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    show = ["␣" if c == " " else c for c in columns]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * len(columns) + 2.5), 4.2), constrained_layout=True)
    try:
        image = ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0, vmax=max(float(w.max()) if w.size else 0, 1e-9))
        ax.set_xticks(np.arange(len(columns)))
        ax.set_xticklabels(show, fontsize=9)
        ax.set_yticks(np.arange(len(rows)))
        ax.set_yticklabels(list(rows), fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, label="attention weight")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
