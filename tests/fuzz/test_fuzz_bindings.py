"""Fuzzing the raw binding module seqcore._core, as code embedding seqcore might call it.

Each example builds a valid positional call of one ``_core`` function, then applies up to
three mutations: a wrong dtype or shape, another memory layout (strided, negative strides,
misaligned, read-only, big-endian, a nested list), a non-array, an in-place argument that
aliases or partly overlaps another argument, a length, id or label out of range, an int
that is negative or does not fit int64, a NaN or infinite float, a non-bool flag.

The oracle: the call raises ValueError or TypeError, or it returns; and when it returns,
the same call on C-contiguous native copies of its arguments returns the same values and
leaves in-place arguments in the same state (a kernel that read the gaps of a strided
view, a dangling converted temporary or an overlapping output gives other numbers).  A
call that returns although two of the arrays it writes overlap is a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fuzz_strategies import (
    BAD_DTYPES,
    LAYOUTS,
    NAMED_ERRORS,
    Fill,
    bad_shapes,
    cast,
    example,
    floats,
    int_array,
    materialize,
    reshaped,
    sizes,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from kernel_specs import bleu_groups, bleu_texts

from seqcore import _core

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Argument kinds: what a position holds, and so which mutations apply to it.
IN, INOUT, OPT_IN, OPT_INOUT, OUT = "in", "inout", "opt_in", "opt_inout", "out"
LENGTHS, IDS, INT, FLOAT, BOOL, STR = "lengths", "ids", "int", "float", "bool", "str"
ARRAYS = (IN, INOUT, OPT_IN, OPT_INOUT, OUT)
WRITTEN = (INOUT, OPT_INOUT, OUT)

Call = tuple[list[Any], list[str]]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


# ---------------------------------------------------------------- valid calls


def _recurrent(kind: str, what: str):
    def build(draw, fill: Fill) -> Call:
        B, T, D, H = draw(sizes), draw(st.integers(0, 4)), draw(sizes), draw(sizes)
        G = GATES[kind]
        x, h0 = fill((B, T, D)), fill((B, H))
        c0 = fill((B, H))
        W, U = fill((D, G * H)), fill((H, G * H))
        reset_after = draw(st.booleans())
        b = fill((2, 3 * H) if kind == "gru" and reset_after else (G * H,))
        lengths = _i64(int_array(draw, (B,), 0, T)) if draw(st.booleans()) else None
        reverse = draw(st.booleans())
        if what == "cell":
            xs = fill((B, D))
            if kind == "lstm":
                return [xs, h0, c0, W, U, b], [IN] * 6
            if kind == "gru":
                return [xs, h0, W, U, b, reset_after], [IN] * 5 + [BOOL]
            return [xs, h0, W, U, b], [IN] * 5
        if kind == "lstm":
            fwd = [x, h0, c0, W, U, b, lengths, reverse]
            kinds = [IN] * 6 + [LENGTHS, BOOL]
        elif kind == "gru":
            fwd = [x, h0, W, U, b, reset_after, lengths, reverse]
            kinds = [IN] * 5 + [BOOL, LENGTHS, BOOL]
        else:
            fwd = [x, h0, W, U, b, lengths, reverse]
            kinds = [IN] * 5 + [LENGTHS, BOOL]
        if what == "forward":
            return fwd, kinds
        out = getattr(_core, f"{kind}_forward")(*fwd)
        dy, dhT = fill((B, T, H)), fill((B, H))
        if kind == "lstm":
            y, _, _, gates, c = out
            return [x, h0, c0, W, U, lengths, reverse, gates, c, y, dy, dhT, fill((B, H))], (
                [IN] * 5 + [LENGTHS, BOOL, IN, IN, IN, OPT_IN, OPT_IN, OPT_IN]
            )
        if kind == "gru":
            y, _, gates, hr = out
            return [x, h0, W, U, reset_after, lengths, reverse, gates, hr, y, dy, dhT], (
                [IN] * 4 + [BOOL, LENGTHS, BOOL, IN, IN, IN, OPT_IN, OPT_IN]
            )
        y, _ = out
        return [x, h0, W, U, lengths, reverse, y, dy, dhT], [IN] * 4 + [LENGTHS, BOOL, IN, OPT_IN, OPT_IN]

    return build


def _shape(draw) -> tuple[int, ...]:
    return (*draw(st.lists(sizes, max_size=2)), draw(st.integers(1, 5)))


def _rows(draw, fill: Fill) -> Call:
    return [fill(_shape(draw))], [IN]


def _pair(draw, fill: Fill) -> Call:
    shape = _shape(draw)
    return [fill(shape), fill(shape)], [IN, IN]


def _cross_entropy(backward: bool):
    def build(draw, fill: Fill) -> Call:
        shape = _shape(draw)
        logits = fill(shape)
        labels = _i64(int_array(draw, shape[:-1], 0, shape[-1] - 1)) if draw(st.booleans()) else fill(shape)
        kinds = [IN, IDS if labels.dtype == np.int64 else IN]
        if backward:
            return [logits, labels, fill(shape[:-1])], [*kinds, IN]
        return [logits, labels], kinds

    return build


def _clip(draw, fill: Fill) -> Call:
    a = fill(_shape(draw))
    lo, hi = sorted(draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 2.0, -math.inf, math.inf]), min_size=2, max_size=2)))
    out = draw(st.sampled_from(["none", "self", "new"]))
    o = None if out == "none" else (a if out == "self" else np.zeros_like(a))
    return [a, lo, hi, o], [IN, FLOAT, FLOAT, OUT]


def _scale(draw, fill: Fill) -> Call:
    a = fill(_shape(draw))
    out = draw(st.sampled_from(["none", "self", "new"]))
    o = None if out == "none" else (a if out == "self" else np.zeros_like(a))
    return [a, draw(st.sampled_from([0.0, 0.5, -2.0])), o], [IN, FLOAT, OUT]


def _optimizer(name: str):
    def build(draw, fill: Fill) -> Call:
        shape = _shape(draw)[: draw(st.integers(0, 3))]
        p, g = fill(shape), fill(shape)
        pos = lambda: np.abs(fill(shape))  # noqa: E731
        if name == "sgd_update":
            momentum = draw(st.sampled_from([0.0, 0.9]))
            return [
                p,
                g,
                fill(shape) if momentum or draw(st.booleans()) else None,
                0.1,
                momentum,
                draw(st.booleans()),
            ], ([INOUT, IN, OPT_INOUT, FLOAT, FLOAT, BOOL])
        if name == "adam_update":
            vhat = pos() if draw(st.booleans()) else None
            return [p, g, fill(shape), pos(), vhat, 0.01, 0.9, 0.999, 1e-7, draw(st.sampled_from([0.0, 1e-3]))], (
                [INOUT, IN, INOUT, INOUT, OPT_INOUT] + [FLOAT] * 5
            )
        if name == "rmsprop_update":
            momentum = draw(st.sampled_from([0.0, 0.9]))
            buf = fill(shape) if momentum or draw(st.booleans()) else None
            mg = fill(shape) if draw(st.booleans()) else None
            return [p, g, pos(), buf, mg, 0.01, 0.9, momentum, 1e-7], [INOUT, IN, INOUT, OPT_INOUT, OPT_INOUT] + [
                FLOAT
            ] * 4
        return [p, g, pos(), 0.1, 1e-7], [INOUT, IN, INOUT, FLOAT, FLOAT]

    return build


def _embedding(backward: bool):
    def build(draw, fill: Fill) -> Call:
        V, E = draw(st.integers(1, 5)), draw(sizes)
        ids = _i64(int_array(draw, tuple(draw(st.lists(sizes, max_size=2))), 0, V - 1))
        if backward:
            return [ids, fill((*ids.shape, E)), V + draw(st.integers(0, 2))], [IDS, IN, INT]
        return [fill((V, E)), ids], [IN, IDS]

    return build


def _topk_dot(draw, fill: Fill) -> Call:
    V, Q, E = draw(st.integers(1, 5)), draw(sizes), draw(st.integers(0, 1))  # E <= 1: exact scores, exact order
    exclude = _i64(int_array(draw, (Q, draw(sizes)), 0, V)) - 1 if draw(st.booleans()) else None
    return [fill((V, E)), fill((Q, E)), draw(st.integers(1, V)), exclude], [IN, IN, INT, IDS]


def _bleu_stats(draw, fill: Fill) -> Call:
    S = draw(sizes)
    M = draw(sizes) if S else 0
    hyp_text, hyp_offsets = bleu_texts(draw, S)
    ref_text, ref_offsets = bleu_texts(draw, M)
    args = [hyp_text, hyp_offsets, ref_text, ref_offsets, bleu_groups(draw, S, M), draw(st.integers(1, 5)),
            draw(st.sampled_from(["13a", "none"]))]  # fmt: skip
    return args, [IN, IDS, IN, IDS, IDS, INT, STR]


def _beam_search_step(draw, fill: Fill) -> Call:
    from kernel_specs import _beam

    args = _beam(draw, fill)
    state = args["state"]
    eos = -1 if args["eos"] is None else args["eos"]
    call = [*state, np.asarray(args["log_probs"]), _i64(args["rows"]), args["step"], eos, args["length_norm"]]
    return call, [INOUT] * 8 + [IN, IDS, INT, INT, IN]


def _gather_rows(draw, fill: Fill) -> Call:
    N = draw(st.integers(1, 4))
    x = fill((N, *draw(st.lists(sizes, max_size=2))))
    if draw(st.booleans()):
        x = _i64(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float64).clip(-9, 9))
    return [x, _i64(int_array(draw, (draw(sizes),), 0, N - 1))], [IN, IDS]


def _corpus(draw, V: int) -> tuple[np.ndarray, np.ndarray]:
    N = draw(st.integers(0, 12))
    cuts = sorted(draw(st.lists(st.integers(0, N), max_size=3)))
    return _i64(int_array(draw, (N,), 0, V - 1)), np.array([0, *cuts, N], np.int64)


def _word2vec(draw, fill: Fill) -> Call:
    V, E = draw(st.integers(1, 5)), draw(st.integers(0, 1))  # E <= 1: exact dot products
    ids, offsets = _corpus(draw, V)
    table = _i64(int_array(draw, (draw(st.integers(1, 5)),), 0, V - 1))
    keep = np.asarray(fill((V,)), np.float64)
    scalars = [draw(st.integers(1, 3)), draw(st.integers(0, 3)), 0.025, 1e-4, draw(st.integers(0, 5)), 30, 7,
               draw(st.integers(1, 3))]  # fmt: skip
    return [ids, offsets, fill((V, E)), fill((V, E)), table, keep, *scalars], [IDS, IN, INOUT, INOUT, IDS, IN] + [
        INT,
        INT,
        FLOAT,
        FLOAT,
        INT,
        INT,
        INT,
        INT,
    ]


def _cooccurrence(draw, fill: Fill) -> Call:
    V = draw(st.integers(1, 5))
    ids, offsets = _corpus(draw, V)
    return [ids, offsets, V, draw(st.integers(1, 4)), draw(st.booleans())], [IDS, IN, INT, INT, BOOL]


def _glove(draw, fill: Fill) -> Call:
    V, E, n = draw(st.integers(1, 5)), draw(st.integers(0, 1)), draw(sizes)
    rows, cols = (_i64(int_array(draw, (n,), 0, V - 1)) for _ in range(2))
    values = np.abs(np.asarray(fill((n,)), np.float64)) + 0.5
    params = [fill((V, E)), fill((V, E)), fill((V,)), fill((V,))]
    sq = [np.abs(fill(p.shape)) + 1 for p in params]
    scalars = [100.0, 0.75, 0.05, draw(st.integers(0, 2)), draw(st.integers(0, 5)), draw(st.integers(1, 3))]
    kinds = [IDS, IDS, IN] + [INOUT] * 8 + [FLOAT, FLOAT, FLOAT, INT, INT, INT]
    return [rows, cols, values, *params, *sq, *scalars], kinds


def _norm(kind: str, backward: bool):
    def build(draw, fill: Fill) -> Call:
        shape = tuple(max(1, n) for n in _shape(draw)) if kind == "batch" else _shape(draw)
        F = shape[-1]
        x, gamma, beta = fill(shape), fill((F,)), fill((F,))
        eps = draw(st.sampled_from([0.0, 1e-5, 1.0]))
        if not backward:
            return [x, gamma, beta, eps], [IN, IN, IN, FLOAT]
        out = getattr(_core, f"{kind}_norm_forward")(x, gamma, beta, eps)
        xhat, rstd = out[1], out[-1]
        return [xhat, rstd, gamma, fill(shape)], [IN] * 4

    return build


def _conv(backward: bool):
    def build(draw, fill: Fill) -> Call:
        K, stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        left, right = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        T = max(0, dilation * (K - 1) + 1 - left - right) + draw(st.integers(0, 3))
        B, C, F = draw(sizes), draw(sizes), draw(sizes)
        x, W = fill((B, T, C)), fill((K, C, F))
        To = (T + left + right - dilation * (K - 1) - 1) // stride + 1
        if backward:
            return [x, W, draw(st.booleans()), stride, left, right, dilation, fill((B, To, F))], (
                [IN, IN, BOOL, INT, INT, INT, INT, IN]
            )
        b = fill((F,)) if draw(st.booleans()) else None
        return [x, W, b, stride, left, right, dilation], [IN, IN, OPT_IN, INT, INT, INT, INT]

    return build


def _spectrogram(draw, fill: Fill) -> Call:
    W = draw(st.integers(2, 9))
    x = fill((draw(sizes), W + draw(st.integers(0, 12))))
    window = np.abs(np.asarray(fill((W,)), np.float64)) + 0.1  # always float64, whatever x's dtype
    return [x, window, draw(st.integers(0, W - 1)), draw(st.sampled_from([1.0 / W, 1e-4]))], [IN, IN, INT, FLOAT]


def _attention(backward: bool):
    def build(draw, fill: Fill) -> Call:
        B, h, Lq, Lk, d, dv = (draw(sizes) for _ in range(6))
        q, k, v = fill((B, h, Lq, d)), fill((B, h, Lk, d)), fill((B, h, Lk, dv))
        mask = None
        if draw(st.booleans()):  # each dimension 1 (broadcast) or full
            shape = tuple(draw(st.sampled_from([1, n])) for n in (B, h, Lq, Lk))
            mask = int_array(draw, shape, 0, 1).astype(bool)
        causal, scale = draw(st.booleans()), draw(st.sampled_from([1.0, 0.125, -0.5]))
        dropout, seed = draw(st.sampled_from([0.0, 0.0, 0.5])), draw(st.integers(0, 2**64 - 1))
        fwd = [q, k, v, mask, causal, scale, dropout, seed]
        kinds = [IN, IN, IN, OPT_IN, BOOL, FLOAT, FLOAT, INT]
        if not backward:
            return fwd, kinds
        out, lse = _core.attention_forward(*fwd)
        return [q, k, v, out, lse, mask, causal, scale, dropout, seed, fill(out.shape)], (
            [IN] * 5 + [OPT_IN, BOOL, FLOAT, FLOAT, INT, IN]
        )

    return build


def _gelu(backward: bool):
    def build(draw, fill: Fill) -> Call:
        shape = tuple(draw(sizes) for _ in range(draw(st.integers(0, 3))))
        x = fill(shape)
        if backward:
            return [x, fill(shape), draw(st.booleans())], [IN, IN, BOOL]
        return [x, draw(st.booleans())], [IN, BOOL]

    return build


def _after_set_threads(draw) -> Call:
    """No arguments to fuzz: vary the thread count set before the call instead (the test restores it)."""
    _core.set_num_threads(draw(st.integers(1, 2**31 - 1)))
    return [], []


CORE: dict[str, Callable[[Any, Fill], Call]] = {}
for _kind in GATES:
    for _what in ("forward", "backward", "cell"):
        CORE[f"{_kind}_{_what}"] = _recurrent(_kind, _what)
CORE.update(
    softmax=_rows,
    log_softmax=_rows,
    softmax_backward=_pair,
    log_softmax_backward=_pair,
    softmax_cross_entropy=_cross_entropy(False),
    softmax_cross_entropy_backward=_cross_entropy(True),
    clip_by_value=_clip,
    sum_of_squares=_rows,
    scale=_scale,
    embedding_forward=_embedding(False),
    embedding_backward=_embedding(True),
    topk_dot=_topk_dot,
    bleu_stats=_bleu_stats,
    beam_search_step=_beam_search_step,
    gather_rows=_gather_rows,
    word2vec_sgns_train=_word2vec,
    glove_cooccurrence=_cooccurrence,
    glove_train=_glove,
    layer_norm_forward=_norm("layer", False),
    layer_norm_backward=_norm("layer", True),
    batch_norm_forward=_norm("batch", False),
    batch_norm_backward=_norm("batch", True),
    conv1d_forward=_conv(False),
    conv1d_backward=_conv(True),
    spectrogram=_spectrogram,
    attention_forward=_attention(False),
    attention_backward=_attention(True),
    gelu_forward=_gelu(False),
    gelu_backward=_gelu(True),
    set_num_threads=lambda draw, fill: ([draw(st.integers(1, 4))], [INT]),
    get_num_threads=lambda draw, fill: _after_set_threads(draw),
    build_info=lambda draw, fill: _after_set_threads(draw),
)
for _name in ("sgd_update", "adam_update", "rmsprop_update", "adagrad_update"):
    CORE[_name] = _optimizer(_name)


def test_every_binding_is_fuzzed() -> None:
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public == set(CORE), f"not fuzzed: {sorted(public - set(CORE))}; gone: {sorted(set(CORE) - public)}"


# ---------------------------------------------------------------- mutations

INTS = [-1, 0, 1, 3, 2**31 - 1, 2**31, 2**32 + 3, 2**62, 2**63 - 1, -(2**63), 2**63, 2**64, True, 1.5, None, "3"]
FLOATS_ = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 5e-324, 2**70, True, None, "0.5", np.float32(0.5)]
BOOLS = [0, 1, 2, None, "yes", np.bool_(True), 1.0]
STRS = [None, "", "13A", "none\x00", "zh", b"13a", b"\xff", 13, "\ud800"]
JUNK = [None, 1.5, "abc", object(), [], [[1.0]], np.float64(1.0), np.array(2.0), np.empty((2**40, 0))]


def overlap(args: list[Any], kinds: list[str], k: int, draw) -> None:
    """Make args[k] (written in place) share memory with another array argument: alias or a shifted view."""
    others = [j for j, a in enumerate(args) if j != k and isinstance(a, np.ndarray) and kinds[j] in ARRAYS]
    if not others or not isinstance(args[k], np.ndarray):
        return
    j = draw(st.sampled_from(others))
    a = args[j]
    if draw(st.booleans()) or a.shape != args[k].shape or a.size == 0:
        args[k] = a  # the very same array
        return
    buf = np.empty(a.size + 1, a.dtype)
    buf[: a.size] = a.reshape(-1)
    args[j] = buf[: a.size].reshape(a.shape)
    args[k] = buf[1:].reshape(a.shape)  # shifted by one element: every element but one is shared


def mutate(draw, args: list[Any], kinds: list[str]) -> None:
    k = draw(st.integers(0, len(args) - 1))
    kind, a = kinds[k], args[k]
    if kind in ARRAYS or kind in (LENGTHS, IDS):
        how = draw(st.sampled_from(["dtype", "shape", "layout", "layout", "junk", "overlap", "range"]))
        if not isinstance(a, np.ndarray):
            a = np.zeros(0, np.int64) if kind in (LENGTHS, IDS) else np.zeros(3)
        if how == "dtype":
            extra = [np.dtype(">f8"), np.dtype(">f4"), np.dtype(np.longlong), np.dtype(np.uint64), np.dtype(np.int32)]
            args[k] = cast(a, draw(st.sampled_from([*BAD_DTYPES, np.dtype(np.float32), np.dtype(np.float64), *extra])))
        elif how == "shape":
            args[k] = reshaped(a, draw(st.sampled_from(bad_shapes(a.shape))))
        elif how == "layout":
            args[k] = materialize(a, draw(st.sampled_from(LAYOUTS)))
        elif how == "junk":
            args[k] = draw(st.sampled_from(JUNK))
        elif how == "overlap" and kind in WRITTEN:
            overlap(args, kinds, k, draw)
        elif how == "range" and kind in (LENGTHS, IDS) and a.size:
            b = cast(a, np.int64)
            b.reshape(-1)[draw(st.integers(0, b.size - 1))] = draw(st.sampled_from([-1, 2**31, 2**63 - 1, -(2**63), 6]))
            args[k] = b
    elif kind == INT:
        args[k] = draw(st.sampled_from(INTS))
    elif kind == FLOAT:
        args[k] = draw(st.sampled_from(FLOATS_))
    elif kind == BOOL:
        args[k] = draw(st.sampled_from(BOOLS))
    elif kind == STR:
        args[k] = draw(st.sampled_from(STRS))


# ---------------------------------------------------------------- the oracle


def canonical(a: Any) -> Any:
    """A C-contiguous, aligned, native-order copy of an array argument (anything else as it is)."""
    if isinstance(a, np.ndarray):
        return np.array(a, dtype=a.dtype.newbyteorder("=") if a.dtype.kind in "fiuc" else a.dtype, order="C")
    return a


def shares(a: Any, b: Any) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.size > 0 and np.may_share_memory(a, b)


def written_overlap(args: list[Any], kinds: list[str]) -> str | None:
    """Which written array shares memory with another argument (out may be its input exactly)."""
    for k, a in enumerate(args):
        if kinds[k] not in WRITTEN:
            continue
        for j, b in enumerate(args):
            if j == k or not shares(a, b):
                continue
            if kinds[k] == OUT and j == 0 and a is b:  # clip/scale into the input itself is allowed
                continue
            return f"argument {k} overlaps argument {j}"
    return None


def same(a: Any, b: Any, what: str) -> None:
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b), f"{what}: {a!r} != {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{what}[{k}]")
    elif isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a!r} vs {b!r}"
        # Not bit for bit: Eigen's small (coefficient-based) float64 products vectorize by the runtime
        # alignment of their operands, so an input 8 bytes off a 32-byte boundary moves the last bit.
        # A kernel reading garbage (gaps of a view, a freed temporary, an overlapping output) is far off.
        if a.dtype.kind == "f":
            ok = np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)
        else:
            ok = np.array_equal(a, b)
        assert ok, f"{what}: {a} != {b} (the same call on contiguous copies)"
    elif isinstance(b, float):
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{what}: {a} != {b}"
    elif isinstance(b, dict):
        assert a.keys() == b.keys(), what
    else:
        assert a == b, f"{what}: {a!r} != {b!r}"


#: the most an example may ask a kernel to allocate (a huge int may make a call valid and its output gigabytes;
#: under AddressSanitizer nothing caps memory, so such a call would really be made)
OUTPUT_BUDGET = 2**26


def _int(a: Any) -> bool:
    """What pybind11 takes for an int64 argument: bool included (it is an int subclass; True is a stride of 1)."""
    return isinstance(a, (int, np.integer))


def output_bytes(name: str, args: list[Any]) -> int:
    """What the call's output (or scratch) sized by a scalar argument would take, 0 where none is (or the call is
    invalid)."""
    if name == "conv1d_forward" and len(args) == 7:
        x, W, _, stride, left, right, dilation = args
        shapes_ok = all(isinstance(a, np.ndarray) and a.ndim == 3 for a in (x, W))
        if shapes_ok and all(_int(a) and a >= 0 for a in (stride, left, right, dilation)) and stride and dilation:
            K, C, F = W.shape
            To = max((x.shape[1] + left + right - dilation * (K - 1) - 1) // stride + 1, 0)
            # The im2col rows (K*C wide) count too: huge padding makes a small output from millions of rows,
            # seconds of work on an ordinary build and minutes under ASan.  F = 0 returns before any work.
            width = max(K * C, F) if F else 0
            return To * x.shape[0] * width * x.dtype.itemsize
    if name == "embedding_backward" and len(args) == 3 and isinstance(args[1], np.ndarray) and _int(args[2]):
        dy, V = args[1], args[2]
        return max(int(V), 0) * (dy.shape[-1] if dy.ndim else 1) * dy.dtype.itemsize
    if name == "glove_train" and len(args) == 17 and _int(args[14]):
        return max(int(args[14]), 0) * 8 * max(args[0].size if isinstance(args[0], np.ndarray) else 1, 1)
    if name == "word2vec_sgns_train" and len(args) == 14 and _int(args[7]):
        return max(int(args[7]), 0) * 4  # negatives drawn per pair
    if name == "topk_dot" and len(args) == 4 and all(isinstance(a, np.ndarray) and a.ndim == 2 for a in args[:2]):
        # the scan visits every row of matrix for every query (a huge empty matrix would take hours), and the
        # heaps and outputs hold k entries per query
        k = int(args[2]) if _int(args[2]) and args[2] > 0 else 0
        return args[0].shape[0] * max(args[1].shape[0], 1) + args[1].shape[0] * k * 16
    if name == "spectrogram" and len(args) == 4 and all(isinstance(a, np.ndarray) and a.ndim for a in args[:2]):
        x, window, noverlap = args[0], args[1], args[2]
        W = window.shape[0]
        if x.ndim == 2 and _int(noverlap) and 0 <= noverlap < W <= x.shape[1]:
            return x.shape[0] * ((x.shape[1] - noverlap) // (W - noverlap)) * (W // 2 + 1) * x.dtype.itemsize
    return 0


@pytest.mark.parametrize("name", sorted(CORE))
@given(data=st.data())
def test_core(name: str, data: st.DataObject) -> None:
    threads = _core.get_num_threads()
    try:
        with example(f"_core.{name}"):
            check_core(name, data.draw)
    finally:
        _core.set_num_threads(threads)


def check_core(name: str, draw) -> None:
    fn = getattr(_core, name)
    fill = Fill(draw, draw(floats), draw(st.sampled_from(["clean", "clean", "nan"])))
    args, kinds = CORE[name](draw, fill)
    for _ in range(draw(st.integers(0, 3)) if args else 0):
        mutate(draw, args, kinds)
    assume(output_bytes(name, args) <= OUTPUT_BUDGET)
    copies = [canonical(a) for a in args]
    bad_overlap = written_overlap(args, kinds)
    try:
        with np.errstate(all="ignore"):
            result = fn(*args)
    except NAMED_ERRORS:
        return
    assert bad_overlap is None, f"returned although {bad_overlap} and one of them is written"
    with np.errstate(all="ignore"):
        expected = fn(*copies)
    same(result, expected, name)
    for k, kind in enumerate(kinds):
        if kind in WRITTEN and isinstance(args[k], np.ndarray):
            same(args[k], copies[k], f"{name}: argument {k} after the update")
