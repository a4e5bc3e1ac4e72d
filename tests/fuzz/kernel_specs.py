"""What a valid call of each public kernel looks like, for the fuzz suite to draw and then break.

A ``Spec`` builds the keyword arguments of one valid call of ``seqcore.kernels.<name>``
from drawn sizes and values; its ``huge`` builder makes a call whose sizes would wrap a
32-bit index (2**31 + 1, 2**32 + 3, ...) but whose arrays are all empty or tiny, because
another size is zero.  Backward kernels name the forward whose cache they consume and
build their upstream gradients from that forward's outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from fuzz_strategies import HUGE, Fill, int_array, positive_sizes, sizes
from hypothesis import strategies as st

Args = dict[str, Any]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclass(frozen=True)
class Spec:
    name: str
    build: Callable[[Any, Fill], Args]
    gemm: bool = False  # matrix products inside (see Compare.loose)
    huge: Callable[[Any, Fill], Args] | None = None
    inplace: tuple[str, ...] = ()  # arguments updated in place
    ints: tuple[str, ...] = ()  # integer arrays: lengths, ids, labels
    # real arrays of any dtype, converted to float64 whatever the call's float dtype (the spectrogram's window):
    # left out of the mutations that tie a float argument to the first one's dtype
    any_real: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()  # flags, hyperparameters, sizes
    forward: str | None = None  # a backward: the forward whose cache it takes
    upstream: Callable[[Any, Fill, tuple], Args] | None = None
    # float64 results summed from the state arrays updated in place (a training kernel's loss): compared at the
    # tolerance of this argument's dtype, since a float32 state carries float32 rounding into the sum
    summary_of: str | None = None


def _scale(n: int) -> float:
    return 1.0 / np.sqrt(max(n, 1))


# ---------------------------------------------------------------- recurrent


def _recurrent(kind: str, cell: bool):
    def build(draw, fill: Fill, dims: tuple[int, int, int, int] | None = None) -> Args:
        B, T, D, H = dims or (draw(sizes), draw(st.integers(0, 5)), draw(sizes), draw(sizes))
        G = GATES[kind]
        args: Args = {"x": fill((B, D) if cell else (B, T, D))}
        args["h" if cell else "h0"] = fill((B, H), 0.5)
        if kind == "lstm":
            args["c" if cell else "c0"] = fill((B, H), 0.5)
        args["W"] = fill((D, G * H), _scale(D))
        args["U"] = fill((H, G * H), _scale(H))
        reset_after = draw(st.booleans()) if kind == "gru" else True
        args["b"] = fill((2, 3 * H) if kind == "gru" and reset_after else (G * H,), 0.1)
        if kind == "gru":
            args["reset_after"] = reset_after
        if not cell:
            # lengths as an array only where it is small (a huge batch comes without)
            args["lengths"] = int_array(draw, (B,), 0, T) if B < 64 and draw(st.booleans()) else None
            args["reverse"] = draw(st.booleans())
        return args

    def huge(draw, fill: Fill) -> Args:
        # Sizes past 2**31 where every array is empty: a loop over time or rows that did not stop
        # early would run for hours.  (A huge batch is left out where the reference itself would
        # allocate per row: its sequence loop and the GRU cell, which runs it.)
        big = draw(st.sampled_from(HUGE))
        if cell:
            shapes = [(0, 1, big, 0)] + ([] if kind == "gru" else [(big, 1, 0, 0)])
        else:
            shapes = [(0, big, draw(sizes), draw(sizes)), (draw(sizes), big, 0, 0)]
        return build(draw, fill, draw(st.sampled_from(shapes)))

    scalars = ("reset_after",) if kind == "gru" else ()
    if not cell:
        scalars += ("reverse",)
    return Spec(
        f"{kind}_cell" if cell else f"{kind}_forward",
        build,
        gemm=True,
        huge=huge,
        ints=() if cell else ("lengths",),
        scalars=scalars,
    )


def _recurrent_upstream(kind: str):
    def upstream(draw, fill: Fill, out: tuple) -> Args:
        args: Args = {"dy": fill(out[0].shape), "dhT": fill(out[1].shape)}
        if kind == "lstm":
            args["dcT"] = fill(out[2].shape)
        return {k: (v if draw(st.integers(0, 3)) else None) for k, v in args.items()}

    return upstream


# ---------------------------------------------------------------- softmax family


def _shape(draw, last_min: int = 1) -> tuple[int, ...]:
    lead = draw(st.lists(sizes, min_size=0, max_size=2))
    return (*lead, draw(st.integers(last_min, 6)))


def _huge_rows(draw) -> tuple[int, ...]:
    """Many rows of a [..., C] array, none of them there: a zero next to a huge size."""
    big = draw(st.sampled_from(HUGE))
    return draw(st.sampled_from([(0, big, 3), (big, 0, 2), (big, 0, 1)]))


def _unary(name: str) -> Spec:
    return Spec(
        name,
        lambda draw, fill: {"x": fill(_shape(draw), draw(st.sampled_from([1.0, 10.0])))},
        huge=lambda draw, fill: {"x": fill(_huge_rows(draw))},
    )


def _binary(name: str, forward: Callable[[np.ndarray], np.ndarray]) -> Spec:
    def build(draw, fill: Fill, shape=None) -> Args:
        shape = shape or _shape(draw)
        y = fill(shape)
        if draw(st.booleans()):  # y as the forward would give it (NaN where x had one)
            with np.errstate(all="ignore"):
                y = forward(y).astype(y.dtype)
        return {"y": y, "dy": fill(shape)}

    return Spec(name, build, huge=lambda draw, fill: build(draw, fill, _huge_rows(draw)))


def _softmax_np(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax_np(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _cross_entropy(draw, fill: Fill, shape=None) -> Args:
    shape = shape or _shape(draw)
    C = shape[-1]
    logits = fill(shape, draw(st.sampled_from([1.0, 10.0])))
    how = draw(st.sampled_from(["ids", "ids", "probs", "onehot", "any"]))
    if how == "ids":
        labels = int_array(draw, shape[:-1], 0, C - 1)
    elif how == "probs":
        labels = _softmax_np(fill(shape)).astype(logits.dtype)
    elif how == "onehot":
        labels = np.eye(C, dtype=logits.dtype)[
            np.random.default_rng(draw(st.integers(0, 99))).integers(0, C, shape[:-1])
        ]
    else:
        labels = fill(shape)
    return {"logits": logits, "labels": labels}


def _ce_huge(draw, fill: Fill) -> Args:
    return _cross_entropy(draw, fill, _huge_rows(draw))


# ---------------------------------------------------------------- clipping


def _grads(draw, fill: Fill) -> list[np.ndarray] | np.ndarray:
    n = draw(st.integers(0, 3))
    grads = [Fill(fill.draw, draw(st.sampled_from([fill.dt, fill.dt, np.dtype(np.float32)])), fill.cls)(_shape(draw, 0))
             for _ in range(n)]  # fmt: skip
    if n == 1 and draw(st.booleans()):
        return grads[0]  # a lone array is accepted too
    return grads


_BOUNDS = [0.0, 1.0, 5.0, -5.0, 1e-3, 1e30, -1e30, float("inf"), float("-inf"), 3e38, 1e300]


def _clip_value(draw, fill: Fill) -> Args:
    lo, hi = sorted(draw(st.lists(st.sampled_from(_BOUNDS), min_size=2, max_size=2)))
    return {"grads": _grads(draw, fill), "min_value": lo, "max_value": hi, "inplace": draw(st.booleans())}


def _clip_norm(draw, fill: Fill) -> Args:
    max_norm = draw(st.sampled_from([1e-30, 0.5, 1.0, 5.0, 1e30, float("inf")]))
    return {"grads": _grads(draw, fill), "max_norm": max_norm, "inplace": draw(st.booleans())}


def _clip_huge(name: str):
    def huge(draw, fill: Fill) -> Args:
        args = (_clip_value if name == "clip_by_value" else _clip_norm)(draw, fill)
        args["grads"] = [fill(_huge_rows(draw)), fill((2,))]
        return args

    return huge


# ---------------------------------------------------------------- optimizers


def _optimizer(name: str):
    def build(draw, fill: Fill, shape=None) -> Args:
        shape = shape if shape is not None else _shape(draw, 0)[: draw(st.integers(0, 3))]
        args: Args = {"param": fill(shape), "grad": fill(shape)}
        lr = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0, 1e30]))
        if name == "sgd_update":
            momentum = draw(st.sampled_from([0.0, 0.0, 0.5, 0.9, 1.0]))
            args["velocity"] = fill(shape) if momentum or draw(st.booleans()) else None
            args.update(lr=lr, momentum=momentum, nesterov=draw(st.booleans()))
        elif name == "adam_update":
            args.update(m=fill(shape), v=fill(shape, positive=True))
            args["vhat"] = fill(shape, positive=True) if draw(st.booleans()) else None
            args.update(
                lr=lr,
                beta1=draw(st.sampled_from([0.0, 0.5, 0.9, 0.999999])),
                beta2=draw(st.sampled_from([0.0, 0.9, 0.999])),
                eps=draw(st.sampled_from([0.0, 1e-7, 1.0])),
                step=draw(st.sampled_from([1, 2, 10, 10**6])),
                weight_decay=draw(st.sampled_from([0.0, 0.0, 0.01, -1.0])),
            )
        elif name == "rmsprop_update":
            momentum = draw(st.sampled_from([0.0, 0.0, 0.9, 2.0]))
            args["velocity"] = fill(shape, positive=True)
            args["momentum_buf"] = fill(shape) if momentum or draw(st.booleans()) else None
            args["mg"] = fill(shape) if draw(st.booleans()) else None
            args.update(
                lr=lr,
                rho=draw(st.sampled_from([0.0, 0.9, 1.0])),
                momentum=momentum,
                eps=draw(st.sampled_from([0.0, 1e-7, 1.0])),
            )
        else:
            args.update(accumulator=fill(shape, positive=True), lr=lr, eps=draw(st.sampled_from([0.0, 1e-7, 1.0])))
        return args

    def huge(draw, fill: Fill) -> Args:
        return build(draw, fill, _huge_rows(draw))

    inplace = {
        "sgd_update": ("param", "velocity"),
        "adam_update": ("param", "m", "v", "vhat"),
        "rmsprop_update": ("param", "velocity", "momentum_buf", "mg"),
        "adagrad_update": ("param", "accumulator"),
    }[name]
    scalars = {
        "sgd_update": ("lr", "momentum", "nesterov"),
        "adam_update": ("lr", "beta1", "beta2", "eps", "step", "weight_decay"),
        "rmsprop_update": ("lr", "rho", "momentum", "eps"),
        "adagrad_update": ("lr", "eps"),
    }[name]
    return Spec(name, build, huge=huge, inplace=inplace, scalars=scalars)


# ---------------------------------------------------------------- embedding, norms, Conv1D


def _embedding_forward(draw, fill: Fill, V=None, E=None, ids_shape=None) -> Args:
    V = V if V is not None else draw(positive_sizes)
    E = E if E is not None else draw(sizes)
    ids_shape = ids_shape if ids_shape is not None else tuple(draw(st.lists(sizes, max_size=2)))
    return {"weights": fill((V, E)), "ids": int_array(draw, ids_shape, 0, V - 1)}


def _embedding_forward_huge(draw, fill: Fill) -> Args:
    big = draw(st.sampled_from(HUGE))
    if draw(st.booleans()):  # a huge vocabulary of width 0: ids may point anywhere in it
        args = _embedding_forward(draw, fill, V=1, E=0, ids_shape=(3,))
        args["weights"] = np.empty((big, 0), fill.dt)
        args["ids"] = np.array([0, big - 1, big // 2], np.int64)
        return args
    return _embedding_forward(draw, fill, ids_shape=(0, big))


def _embedding_backward(draw, fill: Fill, V=None, E=None, ids_shape=None) -> Args:
    V = V if V is not None else draw(positive_sizes)
    E = E if E is not None else draw(sizes)
    ids_shape = ids_shape if ids_shape is not None else tuple(draw(st.lists(sizes, max_size=2)))
    ids = int_array(draw, ids_shape, 0, V - 1)
    return {"ids": ids, "dy": fill((*ids_shape, E)), "num_embeddings": V + draw(st.integers(0, 2))}


def _embedding_backward_huge(draw, fill: Fill) -> Args:
    big = draw(st.sampled_from(HUGE))
    if draw(st.booleans()):
        return {"ids": np.array([big - 1, 0], np.int64), "dy": fill((2, 0)), "num_embeddings": big}
    return _embedding_backward(draw, fill, ids_shape=(big, 0))


def _norm(draw, fill: Fill, shape=None) -> Args:
    shape = shape or _shape(draw)
    F = shape[-1]
    return {
        "x": fill(shape, draw(st.sampled_from([1.0, 100.0]))),
        "gamma": fill((F,)),
        "beta": fill((F,)),
        "eps": draw(st.sampled_from([0.0, 1e-12, 1e-5, 1.0])),
    }


def _rows(draw) -> tuple[int, ...]:
    """A [..., F] shape with at least one row (batch norm needs one)."""
    return tuple(max(1, n) for n in _shape(draw))


def _norm_upstream(draw, fill: Fill, out: tuple) -> Args:
    return {"dy": fill(out[0].shape)}


def _conv(draw, fill: Fill, dims=None) -> Args:
    if dims is None:
        K, stride, dilation = draw(positive_sizes), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        left, right = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        span = dilation * (K - 1) + 1
        T = max(0, span - left - right) + draw(st.integers(0, 4))
        B, C, F = draw(sizes), draw(sizes), draw(sizes)
    else:
        B, T, C, K, F, stride, left, right, dilation = dims
    args = {"x": fill((B, T, C)), "W": fill((K, C, F), _scale(K * C))}
    args["b"] = fill((F,), 0.1) if draw(st.booleans()) else None
    args.update(stride=stride, padding=(left, right), dilation=dilation)
    return args


def _conv_huge(draw, fill: Fill) -> Args:
    big = draw(st.sampled_from(HUGE))
    which = draw(st.sampled_from(["B", "T", "padding", "stride"]))
    if which == "B":  # many rows, no channels, no filters: the output has B*To rows and no columns
        return _conv(draw, fill, (big, 3, 0, 2, 0, 1, 0, 0, 1))
    if which == "T":  # no batch, a huge time axis
        return _conv(draw, fill, (0, big, draw(sizes), 2, draw(sizes), 1, 1, 1, 2))
    if which == "padding":  # huge padding: To ~ 2**40 steps of nothing
        return _conv(draw, fill, (draw(sizes), 3, 0, 2, 0, 1, big, draw(st.sampled_from([0, big])), 1))
    return _conv(draw, fill, (2, 5, 3, 2, draw(sizes), big, 1, 1, draw(st.sampled_from([1, 2]))))


# ---------------------------------------------------------------- similarity search


def _topk_dot(draw, fill: Fill) -> Args:
    # E <= 1: a score is one product (or 0), the same bits on every backend, so the order of the ids
    # (ties included) is comparable exactly; longer dot products are tested in test_kernels_embeddings.
    V, Q, E = draw(positive_sizes), draw(sizes), draw(st.integers(0, 1))
    args: Args = {"matrix": fill((V, E)), "queries": fill((Q, E)), "k": draw(st.integers(1, V))}
    if draw(st.booleans()):
        args["exclude"] = int_array(draw, (Q, draw(sizes)), 0, V).astype(np.int64) - 1  # -1 = padding
    return args


# ---------------------------------------------------------------- spectrogram


def _spectrogram(draw, fill: Fill, shape: tuple[int, ...] | None = None) -> Args:
    nfft = draw(st.integers(2, 9))
    if shape is None:
        L = nfft + draw(st.integers(0, 12))
        shape = draw(st.sampled_from([(L,), (draw(sizes), L)]))
    args: Args = {"x": fill(shape), "nfft": nfft, "noverlap": draw(st.integers(0, nfft - 1))}
    args["fs"] = draw(st.sampled_from([1.0, 8000.0, 44100]))
    kind = draw(st.sampled_from(["hann", "hamming", "boxcar", "array"]))
    if kind == "array":  # a window is finite (the kernel refuses others), and of any real dtype
        w = np.abs(Fill(fill.draw, np.dtype(np.float64), "clean")((nfft,))) + 0.1
        dt = draw(st.sampled_from([np.float64, np.float32, np.int64]))
        args["window"] = (np.ceil(w) if dt == np.int64 else w).astype(dt)
    else:
        args["window"] = kind
    return args


def _spectrogram_huge(draw, fill: Fill) -> Args:
    # no clips, each of more than 2**31 samples: 2**25 frames or more of nothing
    return _spectrogram(draw, fill, (0, draw(st.sampled_from(HUGE))))


# ---------------------------------------------------------------- attention and GELU
#
# q, k, v and dout are drawn clean (normal numbers, maybe large enough to saturate the softmax) whatever the
# value class: a fused kernel skips the tiles above the causal diagonal and never forms the [Lq, Lk] products
# of masked pairs, so a NaN or Inf in v or dout reaches fewer outputs there than through the reference's full
# matrix products (0 * NaN); test_kernels_attention.py checks how NaN propagates.  No dropout either: with a
# dropout the call needs its seed, and a mutation that drops the seed (None: seqcore's generator draws one)
# would give each backend another keep mask; test_kernels_attention.py covers dropout on every backend.


def _attention_mask(draw, full: tuple[int, int, int, int]) -> Any:
    """None, or a mask broadcastable to full: each dim 1 or full, maybe fewer dims, bool or 0/1 numbers."""
    if not draw(st.integers(0, 2)):
        return None
    shape = tuple(n if draw(st.booleans()) else 1 for n in full)
    shape = shape[draw(st.integers(0, 3)) :]  # left-padded with ones by the kernel
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = rng.random(shape) < draw(st.sampled_from([0.0, 0.5, 0.8, 1.0]))
    return mask.astype(draw(st.sampled_from([np.bool_, np.bool_, np.int64, np.float32])))


def _attention(draw, fill: Fill, dims: tuple[int, ...] | None = None, causal: bool | None = None) -> Args:
    B, h, Lq, Lk, d, dv = dims or (
        draw(sizes),
        draw(sizes),
        draw(sizes),
        draw(positive_sizes),
        draw(positive_sizes),
        draw(positive_sizes),
    )
    clean = Fill(fill.draw, fill.dt, "clean")
    spread = draw(st.sampled_from([1.0, 1.0, 4.0]))
    args: Args = {"q": clean((B, h, Lq, d), spread), "k": clean((B, h, Lk, d), spread), "v": clean((B, h, Lk, dv))}
    if dims is None:
        args["mask"] = _attention_mask(draw, (B, h, Lq, Lk))
    args["causal"] = draw(st.booleans()) if causal is None else causal
    args["scale"] = draw(st.sampled_from([None, None, 0.0, 0.3, -1.0, 10.0]))
    return args


def _attention_huge(draw, fill: Fill) -> Args:
    # no (batch row, head) pair or no query next to a size past 2**31: a loop over them must not start
    big = draw(st.sampled_from(HUGE))
    dims = draw(
        st.sampled_from([(0, big, 2, 3, 2, 1), (big, 0, 1, 2, 3, 2), (0, 1, big, 2, 1, 1), (0, 1, 2, big, 1, 1)])
    )
    # (not causal with a huge Lq or Lk: the reference builds its [Lq, Lk] causal pattern even for no batch row)
    return _attention(draw, fill, dims, None if max(dims[2:4]) < 8 else False)


def _attention_upstream(draw, fill: Fill, out: tuple) -> Args:
    return {"dout": Fill(fill.draw, fill.dt, "clean")(out[0].shape)}


def _gelu(draw, fill: Fill, shape: tuple[int, ...] | None = None, backward: bool = False) -> Args:
    shape = shape if shape is not None else _shape(draw, 0)
    args: Args = {"x": fill(shape, draw(st.sampled_from([1.0, 5.0, 1e3])))}
    if backward:
        # Finite dy: the native float32 derivative flushes values below FLT_MIN to 0 (exp_packet, see activations.h),
        # so an infinite dy would give 0 * inf = NaN where the float64 reference gives +-inf (|x| in 13.2..14).
        dy = fill(shape)
        args["dy"] = np.where(np.isinf(dy), np.copysign(1e3, dy), dy).astype(dy.dtype) if dy.size else dy
    args["approximate"] = draw(st.sampled_from(["none", "tanh"]))
    return args


# ---------------------------------------------------------------- BLEU statistics

#: bytes the tokenizer treats specially (spaces, points, digits, hyphens, entity characters, pieces of multi-byte
#: whitespace) and bytes that are not UTF-8 at all
BLEU_ALPHABET = np.frombuffer(b" \t\n.,-<>&;'0123456789ab\xc2\x85\xa0\xe2\x80\x8a\xe3\xff", np.uint8)


def bleu_texts(draw, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k segments of random bytes back to back, and their offsets [k+1]."""
    offsets = np.zeros(k + 1, np.int64)
    np.cumsum([draw(st.integers(0, 12)) for _ in range(k)], out=offsets[1:])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.choice(BLEU_ALPHABET, int(offsets[-1])).astype(np.uint8), offsets


def bleu_groups(draw, S: int, M: int) -> np.ndarray:
    """[S+1] rising from 0 to M: some hypotheses get several references, some none."""
    cuts = sorted(draw(st.lists(st.integers(0, M), min_size=max(S - 1, 0), max_size=max(S - 1, 0))))
    return np.array([0, *cuts, M] if S else [0], np.int64)


def _bleu_stats(draw, fill: Fill) -> Args:
    S = draw(sizes)
    M = draw(sizes) if S else 0
    hyp_text, hyp_offsets = bleu_texts(draw, S)
    ref_text, ref_offsets = bleu_texts(draw, M)
    return {"hyp_text": hyp_text, "hyp_offsets": hyp_offsets, "ref_text": ref_text, "ref_offsets": ref_offsets,
            "ref_groups": bleu_groups(draw, S, M), "max_order": draw(st.integers(1, 5)),
            "tokenize": draw(st.sampled_from(["13a", "none"]))}  # fmt: skip


# ---------------------------------------------------------------- word-vector training (E <= 1: exact dot products,
# so every backend makes bit-identical updates and NaN/Inf land in the same places)


def _corpus(draw, V: int) -> tuple[np.ndarray, np.ndarray]:
    N = draw(st.integers(0, 12))
    ids = int_array(draw, (N,), 0, V - 1)
    cuts = sorted(draw(st.lists(st.integers(0, N), max_size=3)))
    return ids, np.array([0, *cuts, N], np.int64)


def _word2vec(draw, fill: Fill) -> Args:
    V, E = draw(positive_sizes), draw(st.integers(0, 1))
    ids, offsets = _corpus(draw, V)
    return {
        "ids": ids,
        "sentence_offsets": offsets,
        "W_in": fill((V, E)),
        "W_out": fill((V, E)),
        "neg_table": int_array(draw, (draw(positive_sizes),), 0, V - 1),
        "keep_prob": fill((V,)),
        "window": draw(st.integers(1, 3)),
        "negative": draw(st.integers(0, 3)),
        "alpha": draw(st.sampled_from([0.025, 0.5])),
        "min_alpha": 1e-4,
        "words_done": draw(st.integers(0, 5)),
        "total_words": draw(st.integers(1, 30)),
        "seed": draw(st.sampled_from([0, 1, 2**64 - 1])),
        "threads": draw(st.integers(1, 3)),
    }


def _cooccurrence(draw, fill: Fill) -> Args:
    V = draw(positive_sizes)
    ids, offsets = _corpus(draw, V)
    return {"ids": ids, "sentence_offsets": offsets, "V": V, "window": draw(st.integers(1, 4)),
            "symmetric": draw(st.booleans())}  # fmt: skip


def _glove(draw, fill: Fill) -> Args:
    V, E, n = draw(positive_sizes), draw(st.integers(0, 1)), draw(sizes)
    args: Args = {
        "rows": int_array(draw, (n,), 0, V - 1),
        "cols": int_array(draw, (n,), 0, V - 1),
        # co-occurrences are positive counts (log x is taken): whatever the fill, keep them finite and > 0
        "values": np.nan_to_num(np.abs(fill((n,)).astype(np.float64)), nan=1.0, posinf=1e30) + 0.5,
        "W": fill((V, E)),
        "C": fill((V, E)),
        "bw": fill((V,)),
        "bc": fill((V,)),
    }
    for name in ("gradsq_W", "gradsq_C", "gradsq_bw", "gradsq_bc"):
        args[name] = np.abs(fill(args[name[7:]].shape)) + 1
    args.update(x_max=draw(st.sampled_from([1.0, 100.0])), alpha=0.75, lr=0.05, epochs=draw(st.integers(0, 2)),
                seed=draw(st.integers(0, 5)), threads=draw(st.integers(1, 3)))  # fmt: skip
    return args


# ---------------------------------------------------------------- beam search


def _beam_state(draw, B: int, K: int, L: int) -> Any:
    """A valid state some steps into a search: live scores <= 0 (some -inf), finished lists best first, rows done."""
    from seqcore.kernels import BeamState

    state = BeamState.initial(B, K, L)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if B and K < 1000:
        state.scores[...] = np.where(rng.random((B, K)) < 0.2, -np.inf, -rng.exponential(2.0, (B, K)))
        state.tokens[...] = rng.integers(-1, 6, (B, K, L))
        count = rng.integers(0, K + 1, B)
        state.fin_count[...] = count
        held = np.arange(K) < count[:, None]
        state.fin_scores[held] = -np.sort(rng.exponential(1.0, (B, K)), axis=1)[held]
        state.fin_log_probs[held] = state.fin_scores[held] * 2
        state.fin_lengths[held] = rng.integers(1, L + 1, int(held.sum()))
        state.fin_tokens[...] = rng.integers(-1, 6, (B, K, L))
        state.done[...] = rng.random(B) < 0.3
    return state


def _beam(draw, fill: Fill, dims: tuple[int, int, int, int] | None = None, step_rows: bool = True) -> Args:
    B, K, L, V = dims or (draw(sizes), draw(positive_sizes), draw(positive_sizes), draw(positive_sizes))
    state = _beam_state(draw, B, K, L)
    free = [b for b in range(B) if not state.done[b]]
    rows = [b for b in free if step_rows and draw(st.booleans())]
    A = len(rows)
    lp = fill((A * K, V))
    # log-probs, whatever the fill: NaN and +-inf become -inf (impossible), the rest -|x|
    lp = np.where(np.isnan(lp) | np.isinf(lp), -np.inf, -np.abs(lp)).astype(lp.dtype)
    alpha = draw(st.sampled_from([0.0, 0.7, 1.0]))
    return {
        "state": state,
        "log_probs": lp,
        "rows": np.asarray(rows, np.int64).astype(draw(st.sampled_from([np.int64, np.int32, np.uint8]))),
        "step": draw(st.integers(0, L - 1)),
        "eos": draw(st.one_of(st.none(), st.integers(0, V - 1))),
        "length_norm": np.arange(1, L + 1, dtype=np.float64) ** alpha,
    }


def _beam_huge(draw, fill: Fill) -> Args:
    # no row to step (B = 0, or none chosen) next to a beam width or vocabulary past 2**31
    big = draw(st.sampled_from(HUGE))
    B, K, V = draw(st.sampled_from([(0, big, 3), (0, 2, big), (draw(sizes), 2, big)]))
    return _beam(draw, fill, (B, K, 2, V), step_rows=False)


def _gather(draw, fill: Fill) -> Args:
    N, M = draw(sizes), draw(sizes)
    shape = (N, *draw(st.lists(sizes, max_size=2)))
    x = fill(shape) if draw(st.integers(0, 2)) else int_array(draw, shape, -5, 5).astype(np.int64)
    return {"x": x, "idx": int_array(draw, (M if N else 0,), 0, max(N - 1, 0))}


def _gather_huge(draw, fill: Fill) -> Args:
    big = draw(st.sampled_from(HUGE))
    if draw(st.booleans()):
        return {"x": fill((0, big)), "idx": np.zeros(0, np.int64)}
    return {"x": fill((big, 0)), "idx": int_array(draw, (draw(sizes),), 0, big - 1).astype(np.int64)}


# ---------------------------------------------------------------- the table

FORWARD_SPECS: dict[str, Spec] = {}
for _kind in ("lstm", "gru", "rnn"):
    FORWARD_SPECS[f"{_kind}_forward"] = _recurrent(_kind, cell=False)
    FORWARD_SPECS[f"{_kind}_cell"] = _recurrent(_kind, cell=True)
FORWARD_SPECS.update(
    softmax=_unary("softmax"),
    log_softmax=_unary("log_softmax"),
    softmax_backward=_binary("softmax_backward", _softmax_np),
    log_softmax_backward=_binary("log_softmax_backward", _log_softmax_np),
    softmax_cross_entropy=Spec("softmax_cross_entropy", _cross_entropy, huge=_ce_huge, ints=("labels",)),
    clip_by_value=Spec(
        "clip_by_value", _clip_value, huge=_clip_huge("clip_by_value"), scalars=("min_value", "max_value", "inplace")
    ),
    clip_by_global_norm=Spec(
        "clip_by_global_norm", _clip_norm, huge=_clip_huge("clip_by_global_norm"), scalars=("max_norm", "inplace")
    ),
    embedding_forward=Spec("embedding_forward", _embedding_forward, huge=_embedding_forward_huge, ints=("ids",)),
    embedding_backward=Spec(
        "embedding_backward",
        _embedding_backward,
        huge=_embedding_backward_huge,
        ints=("ids",),
        scalars=("num_embeddings",),
    ),
    layer_norm_forward=Spec(
        "layer_norm_forward", _norm, huge=lambda d, f: _norm(d, f, _huge_rows(d)), scalars=("eps",)
    ),
    batch_norm_forward=Spec("batch_norm_forward", lambda d, f: _norm(d, f, _rows(d)), scalars=("eps",)),
    topk_dot=Spec("topk_dot", _topk_dot, ints=("exclude",), scalars=("k",)),
    bleu_stats=Spec(
        "bleu_stats",
        _bleu_stats,
        ints=("hyp_text", "hyp_offsets", "ref_text", "ref_offsets", "ref_groups"),
        scalars=("max_order", "tokenize"),
    ),
    beam_search_step=Spec(
        "beam_search_step",
        _beam,
        huge=_beam_huge,
        inplace=("state",),
        ints=("rows", "length_norm"),
        scalars=("step", "eos"),
    ),
    gather_rows=Spec("gather_rows", _gather, huge=_gather_huge, ints=("x", "idx")),
    word2vec_sgns_train=Spec(
        "word2vec_sgns_train",
        _word2vec,
        inplace=("W_in", "W_out"),
        summary_of="W_in",
        ints=("ids", "sentence_offsets", "neg_table", "keep_prob"),
        scalars=("window", "negative", "alpha", "min_alpha", "words_done", "total_words", "seed", "threads"),
    ),
    glove_cooccurrence=Spec(
        "glove_cooccurrence", _cooccurrence, ints=("ids", "sentence_offsets"), scalars=("V", "window", "symmetric")
    ),
    glove_train=Spec(
        "glove_train",
        _glove,
        inplace=("W", "C", "bw", "bc", "gradsq_W", "gradsq_C", "gradsq_bw", "gradsq_bc"),
        summary_of="W",
        ints=("rows", "cols", "values"),
        scalars=("x_max", "alpha", "lr", "epochs", "seed", "threads"),
    ),
    conv1d_forward=Spec("conv1d_forward", _conv, gemm=True, huge=_conv_huge, scalars=("stride", "padding", "dilation")),
    # gemm: an FFT's sums, whose order decides what +-Inf among the samples makes of a bin (Inf or NaN)
    spectrogram=Spec(
        "spectrogram",
        _spectrogram,
        gemm=True,
        huge=_spectrogram_huge,
        any_real=("window",),
        scalars=("nfft", "noverlap", "fs", "window"),
    ),
)
for _name in ("sgd_update", "adam_update", "rmsprop_update", "adagrad_update"):
    FORWARD_SPECS[_name] = _optimizer(_name)
FORWARD_SPECS.update(
    attention_forward=Spec(
        "attention_forward", _attention, gemm=True, huge=_attention_huge, scalars=("causal", "scale")
    ),
    gelu_forward=Spec("gelu_forward", _gelu, huge=lambda d, f: _gelu(d, f, _huge_rows(d)), scalars=("approximate",)),
    gelu_backward=Spec(
        "gelu_backward",
        lambda d, f: _gelu(d, f, backward=True),
        huge=lambda d, f: _gelu(d, f, _huge_rows(d), backward=True),
        scalars=("approximate",),
    ),
)


def _ce_upstream(draw, fill: Fill, out: tuple) -> Args:
    return {"dloss": fill(out[0].shape) if draw(st.integers(0, 3)) else None}


def _conv_upstream(draw, fill: Fill, out: tuple) -> Args:
    return {"dy": fill(out[0].shape)}


BACKWARD_SPECS: dict[str, Spec] = {
    f"{kind}_backward": Spec(
        f"{kind}_backward", lambda d, f: {}, gemm=True, forward=f"{kind}_forward", upstream=_recurrent_upstream(kind)
    )
    for kind in ("lstm", "gru", "rnn")
}
BACKWARD_SPECS.update(
    softmax_cross_entropy_backward=Spec(
        "softmax_cross_entropy_backward", lambda d, f: {}, forward="softmax_cross_entropy", upstream=_ce_upstream
    ),
    layer_norm_backward=Spec(
        "layer_norm_backward", lambda d, f: {}, forward="layer_norm_forward", upstream=_norm_upstream
    ),
    batch_norm_backward=Spec(
        "batch_norm_backward", lambda d, f: {}, forward="batch_norm_forward", upstream=_norm_upstream
    ),
    conv1d_backward=Spec(
        "conv1d_backward", lambda d, f: {}, gemm=True, forward="conv1d_forward", upstream=_conv_upstream
    ),
    attention_backward=Spec(
        "attention_backward", lambda d, f: {}, gemm=True, forward="attention_forward", upstream=_attention_upstream
    ),
)
