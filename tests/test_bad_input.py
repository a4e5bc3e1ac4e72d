"""Input policy of every public kernel, on every backend.

Rejected, with a ValueError / TypeError naming the argument, the expected and the given
shape or dtype: wrong shapes and ranks, non-float / float16 / complex / object / bool
dtypes, mixed float32 and float64, bad lengths, labels, caches, flags and clipping bounds.
Accepted, with results equal to those of C-contiguous copies: non-contiguous, negative-stride,
Fortran-ordered, misaligned and read-only arrays.  Empty sizes (T=0, B=0, D=0) give empty
outputs of the right shapes; NaN and Inf propagate as IEEE arithmetic says.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

from helpers import (
    ALL_BACKENDS,
    DTYPES,
    OPTIMIZERS,
    assert_close,
    backend_problem,
    optimizer_state,
    optimizer_step,
    recurrent_case,
    require_backend,
    run_case,
)
from seqcore import kernels as K
from seqcore import use_backend

# NaN and Inf inputs are part of these tests; NumPy says so in warnings, which are expected here.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

B, T, D, H, C = 2, 5, 3, 4, 6
RECURRENT = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
RECURRENT_IDS = ["lstm", "gru_reset_after", "gru_reset_before", "rnn"]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    """Each test runs inside use_backend(backend).

    A backend that cannot load is left to conftest's pytest_runtest_call, which fails the test
    (or skips it under SEQCORE_ALLOW_MISSING_BACKENDS=1) instead of erroring in setup.
    """
    if backend_problem(request.param) is not None:
        yield request.param
        return
    with use_backend(request.param):
        yield request.param


def _rng(*key):
    return np.random.default_rng([len(key), *key])


# ---------------------------------------------------------------- valid calls, by name


def forward_args(kind: str, dt, B=B, T=T, D=D, H=H, reset_after=True) -> dict[str, Any]:
    rng = _rng(B, T, D, H, {"lstm": 4, "gru": 3, "rnn": 1}[kind])
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    args: dict[str, Any] = {"x": rng.standard_normal((B, T, D)).astype(dt)}
    args["h0"] = 0.5 * rng.standard_normal((B, H)).astype(dt)
    if kind == "lstm":
        args["c0"] = 0.5 * rng.standard_normal((B, H)).astype(dt)
    args["W"] = (rng.standard_normal((D, G * H)) / np.sqrt(max(D, 1))).astype(dt)
    args["U"] = (rng.standard_normal((H, G * H)) / np.sqrt(max(H, 1))).astype(dt)
    bshape = (2, 3 * H) if kind == "gru" and reset_after else (G * H,)
    args["b"] = (0.1 * rng.standard_normal(bshape)).astype(dt)
    if kind == "gru":
        args["reset_after"] = reset_after
    return args


def cell_args(kind: str, dt, reset_after=True) -> dict[str, Any]:
    seq = forward_args(kind, dt, reset_after=reset_after)
    args = {"x": seq.pop("x")[:, 0].copy(), "h": seq.pop("h0")}
    if kind == "lstm":
        args["c"] = seq.pop("c0")
    args.update(seq)
    return args


FORWARD = {"lstm": K.lstm_forward, "gru": K.gru_forward, "rnn": K.rnn_forward}
BACKWARD = {"lstm": K.lstm_backward, "gru": K.gru_backward, "rnn": K.rnn_backward}
CELL = {"lstm": K.lstm_cell, "gru": K.gru_cell, "rnn": K.rnn_cell}


def backward_args(kind: str, dt, reset_after=True) -> dict[str, Any]:
    fa = forward_args(kind, dt, reset_after=reset_after)
    cache = FORWARD[kind](**fa)[-1]
    rng = _rng(B, T, H, 99)
    args = {"cache": cache, "dy": rng.standard_normal((B, T, H)).astype(dt)}
    args["dhT"] = rng.standard_normal((B, H)).astype(dt)
    if kind == "lstm":
        args["dcT"] = rng.standard_normal((B, H)).astype(dt)
    return args


def softmax_args(dt) -> dict[str, Any]:
    return {"x": _rng(C, 1).standard_normal((3, C)).astype(dt)}


def softmax_backward_args(dt) -> dict[str, Any]:
    y = K.softmax(_rng(C, 2).standard_normal((3, C)).astype(dt))
    return {"y": y, "dy": _rng(C, 3).standard_normal((3, C)).astype(dt)}


def ce_args(dt) -> dict[str, Any]:
    rng = _rng(C, 4)
    return {"logits": rng.standard_normal((4, C)).astype(dt), "labels": rng.integers(0, C, size=4)}


def ce_backward_args(dt) -> dict[str, Any]:
    _, cache = K.softmax_cross_entropy(**ce_args(dt))
    return {"cache": cache, "dloss": _rng(C, 5).uniform(0.5, 1.5, size=4).astype(dt)}


V, E = 7, 3


def embedding_args(dt) -> dict[str, Any]:
    rng = _rng(V, E, 6)
    return {"weights": rng.standard_normal((V, E)).astype(dt), "ids": rng.integers(0, V, size=(2, 5))}


def embedding_backward_args(dt) -> dict[str, Any]:
    rng = _rng(V, E, 7)
    return {
        "ids": rng.integers(0, V, size=(2, 5)),
        "dy": rng.standard_normal((2, 5, E)).astype(dt),
        "num_embeddings": V,
    }


NORM_FORWARD = {"layer": K.layer_norm_forward, "batch": K.batch_norm_forward}


def norm_args(dt) -> dict[str, Any]:
    rng = _rng(B, T, H, 8)
    x = rng.standard_normal((B, T, H)).astype(dt)
    return {
        "x": x,
        "gamma": rng.uniform(0.5, 1.5, H).astype(dt),
        "beta": rng.standard_normal(H).astype(dt),
        "eps": 1e-3,
    }


def norm_backward_args(kind: str, dt) -> dict[str, Any]:
    cache = NORM_FORWARD[kind](**norm_args(dt))[-1]
    return {"cache": cache, "dy": _rng(B, T, H, 9).standard_normal((B, T, H)).astype(dt)}


CONV = {"stride": 2, "padding": (1, 2), "dilation": 2}  # T=5, K=2: To = (5 + 3 - 2 - 1) // 2 + 1 = 3


def conv_args(dt) -> dict[str, Any]:
    rng = _rng(B, T, D, 10)
    return {
        "x": rng.standard_normal((B, T, D)).astype(dt),
        "W": rng.standard_normal((2, D, H)).astype(dt),
        "b": rng.standard_normal(H).astype(dt),
        **CONV,
    }


def conv_backward_args(dt) -> dict[str, Any]:
    _, cache = K.conv1d_forward(**conv_args(dt))
    return {"cache": cache, "dy": _rng(B, 3, H, 11).standard_normal((B, 3, H)).astype(dt)}


# kernel name -> (function, valid kwargs factory(dtype), array arguments in checking order; the first defines sizes)
KERNELS: dict[str, tuple[Callable, Callable[[Any], dict], tuple[str, ...]]] = {
    "lstm_forward": (K.lstm_forward, lambda dt: forward_args("lstm", dt), ("x", "U", "W", "h0", "c0", "b")),
    "gru_forward": (K.gru_forward, lambda dt: forward_args("gru", dt), ("x", "U", "W", "h0", "b")),
    "gru_forward_reset_before": (
        K.gru_forward,
        lambda dt: forward_args("gru", dt, reset_after=False),
        ("x", "U", "W", "h0", "b"),
    ),
    "rnn_forward": (K.rnn_forward, lambda dt: forward_args("rnn", dt), ("x", "U", "W", "h0", "b")),
    "lstm_backward": (K.lstm_backward, lambda dt: backward_args("lstm", dt), ("dy", "dhT", "dcT")),
    "gru_backward": (K.gru_backward, lambda dt: backward_args("gru", dt), ("dy", "dhT")),
    "rnn_backward": (K.rnn_backward, lambda dt: backward_args("rnn", dt), ("dy", "dhT")),
    "lstm_cell": (K.lstm_cell, lambda dt: cell_args("lstm", dt), ("x", "U", "W", "h", "c", "b")),
    "gru_cell": (K.gru_cell, lambda dt: cell_args("gru", dt), ("x", "U", "W", "h", "b")),
    "gru_cell_reset_before": (
        K.gru_cell,
        lambda dt: cell_args("gru", dt, reset_after=False),
        ("x", "U", "W", "h", "b"),
    ),
    "rnn_cell": (K.rnn_cell, lambda dt: cell_args("rnn", dt), ("x", "U", "W", "h", "b")),
    "softmax": (K.softmax, softmax_args, ("x",)),
    "log_softmax": (K.log_softmax, softmax_args, ("x",)),
    "softmax_backward": (K.softmax_backward, softmax_backward_args, ("y", "dy")),
    "log_softmax_backward": (K.log_softmax_backward, softmax_backward_args, ("y", "dy")),
    "softmax_cross_entropy": (K.softmax_cross_entropy, ce_args, ("logits",)),
    "softmax_cross_entropy_backward": (K.softmax_cross_entropy_backward, ce_backward_args, ("dloss",)),
    "embedding_forward": (K.embedding_forward, lambda dt: embedding_args(dt), ("weights",)),
    "embedding_backward": (K.embedding_backward, lambda dt: embedding_backward_args(dt), ("dy",)),
    "layer_norm_forward": (K.layer_norm_forward, lambda dt: norm_args(dt), ("x", "gamma", "beta")),
    "layer_norm_backward": (K.layer_norm_backward, lambda dt: norm_backward_args("layer", dt), ("dy",)),
    "batch_norm_forward": (K.batch_norm_forward, lambda dt: norm_args(dt), ("x", "gamma", "beta")),
    "batch_norm_backward": (K.batch_norm_backward, lambda dt: norm_backward_args("batch", dt), ("dy",)),
    "conv1d_forward": (K.conv1d_forward, lambda dt: conv_args(dt), ("x", "W", "b")),
    "conv1d_backward": (K.conv1d_backward, lambda dt: conv_backward_args(dt), ("dy",)),
}
# arguments whose own ndim is part of the check ("x must have 3 dimensions")
RANKED = {"x", "U"}
# what the rank error of a first argument says instead of the expected shape
RANK_MESSAGES = {
    ("embedding_forward", "weights"): "2 dimensions",
    ("embedding_backward", "dy"): "ids.shape + (E,)",
    ("conv1d_forward", "x"): "3 dimensions",
    ("conv1d_forward", "W"): "(K, C, F)",
}
# arguments whose last axis defines a size (F of Conv1D's W): not a wrong shape when changed there
DEFINES_LAST_AXIS = {("conv1d_forward", "W")}
# array arguments that may be None
OPTIONAL_ARRAYS = {("conv1d_forward", "b")}
# integer arguments that go through the layout tests too
INTEGER_ARRAYS = {"softmax_cross_entropy": ("labels",), "embedding_forward": ("ids",), "embedding_backward": ("ids",)}
# arguments that fix the sizes: reshaping them is legal, their ndim/emptiness is what is checked
FREE_SHAPE = {
    "softmax": "x",
    "log_softmax": "x",
    "softmax_backward": "y",
    "log_softmax_backward": "y",
    "layer_norm_forward": "x",
    "batch_norm_forward": "x",
}
SEQUENCE_FIRST = {"lstm_forward", "gru_forward", "gru_forward_reset_before", "rnn_forward"}
CELL_FIRST = {"lstm_cell", "gru_cell", "gru_cell_reset_before", "rnn_cell"}


def expect_error(exc: type[Exception], fn: Callable, kwargs: dict, *fragments: str, name: str | None = None) -> str:
    """fn(**kwargs) raises exc; its message starts with `name` and contains every fragment."""
    with pytest.raises(exc) as info:
        fn(**kwargs)
    msg = str(info.value)
    if name is not None:
        assert re.match(rf"{re.escape(name)}(?!\w)", msg), f"message does not start with the argument {name!r}: {msg!r}"
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} missing from {msg!r}"
    return msg


def _free_shape(kernel: str, arg: str) -> bool:
    return FREE_SHAPE.get(kernel) == arg or arg == "logits"


CACHE_KERNELS = {"lstm_backward", "gru_backward", "rnn_backward", "softmax_cross_entropy_backward"}
# kernels that take a cache and a required dy: the cache fixes dy's dtype and shape
REQUIRED_DY = {"layer_norm_backward", "batch_norm_backward", "conv1d_backward"}


def _is_first(kernel: str, arg: str) -> bool:
    """The argument whose dtype and sizes the others must match (kernels taking a cache have none)."""
    return arg == KERNELS[kernel][2][0] and kernel not in CACHE_KERNELS | REQUIRED_DY


def _cases(keep: Callable[[str, str], bool]):
    cases = [(k, a) for k, (_, _, arrays) in KERNELS.items() for a in arrays if keep(k, a)]
    return pytest.mark.parametrize(("kernel", "arg"), cases, ids=[f"{k}-{a}" for k, a in cases])


every_array = _cases(lambda k, a: True)
sized_arrays = _cases(  # shape fixed by others
    lambda k, a: not _is_first(k, a) and not _free_shape(k, a) and (k, a) not in DEFINES_LAST_AXIS
)
free_arrays = _cases(_free_shape)  # any shape with a non-empty last axis
ranked_arrays = _cases(lambda k, a: not _free_shape(k, a))
follower_arrays = _cases(lambda k, a: not _is_first(k, a))  # dtype fixed by the first argument


# ---------------------------------------------------------------- wrong shapes and ranks


@free_arrays
def test_empty_class_axis(backend, kernel, arg):
    fn, make, _ = KERNELS[kernel]
    kwargs = make(np.float64)
    bad = kwargs[arg][..., :0]
    expect_error(ValueError, fn, {**kwargs, arg: bad}, str(bad.shape), "non-empty last axis", name=arg)


@sized_arrays
def test_wrong_shape(backend, kernel, arg):
    fn, make, _ = KERNELS[kernel]
    kwargs = make(np.float64)
    good = kwargs[arg]
    for bad in (np.concatenate([good, good[..., :1]], axis=-1), good[..., :-1]):  # last axis one too long / short
        expect_error(ValueError, fn, {**kwargs, arg: bad}, str(good.shape), f"got {bad.shape}", name=arg)


@pytest.mark.parametrize("kernel", sorted(k for k in KERNELS if k in FREE_SHAPE or k == "softmax_cross_entropy"))
def test_zero_dim_rejected(backend, kernel):
    """The softmax family needs a class axis: a 0-d x / y / logits is an error, not a 1-class softmax."""
    fn, make, arrays = KERNELS[kernel]
    kwargs = make(np.float64)
    arg = arrays[0]
    bad = kwargs[arg][(0,) * kwargs[arg].ndim]
    expect_error(ValueError, fn, {**kwargs, arg: bad}, "got shape ()", name=arg)


@ranked_arrays
def test_wrong_rank(backend, kernel, arg):
    fn, make, _ = KERNELS[kernel]
    kwargs = make(np.float64)
    good = kwargs[arg]
    first_of_sequence = kernel in SEQUENCE_FIRST | CELL_FIRST and arg in RANKED
    for bad in (good[..., None], good.reshape(-1) if good.ndim > 1 else good.reshape(1, -1)):
        expected = f"{good.ndim} dimensions" if first_of_sequence else str(good.shape)
        expected = RANK_MESSAGES.get((kernel, arg), expected)
        expect_error(ValueError, fn, {**kwargs, arg: bad}, expected, str(bad.shape), name=arg)


# ---------------------------------------------------------------- wrong dtypes

BAD_DTYPES = [np.int64, np.int32, np.float16, np.complex128, object, np.bool_]


@pytest.mark.parametrize("bad_dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@every_array
def test_wrong_dtype(backend, kernel, arg, bad_dtype):
    fn, make, _ = KERNELS[kernel]
    kwargs = make(np.float32)
    bad = kwargs[arg].astype(bad_dtype)
    expect_error(TypeError, fn, {**kwargs, arg: bad}, f"got {np.dtype(bad_dtype)}", name=arg)


@pytest.mark.parametrize("first", DTYPES, ids=lambda d: np.dtype(d).name)
@follower_arrays
def test_mixed_float_dtypes(backend, kernel, arg, first):
    """Every float argument must share the first argument's (or the cache's) dtype: no silent casting."""
    fn, make, _ = KERNELS[kernel]
    kwargs = make(first)
    other = np.float64 if first == np.float32 else np.float32
    bad = kwargs[arg].astype(other)
    expect_error(TypeError, fn, {**kwargs, arg: bad}, str(np.dtype(first)), f"got {np.dtype(other)}", name=arg)


@every_array
def test_none_for_required_array(backend, kernel, arg):
    fn, make, _ = KERNELS[kernel]
    if kernel in CACHE_KERNELS or (kernel, arg) in OPTIONAL_ARRAYS:  # None means zeros (ones for dloss, no bias)
        kwargs = make(np.float64)
        fn(**{**kwargs, arg: None})
        return
    expect_error(TypeError, fn, {**make(np.float64), arg: None}, "None", name=arg)


# ---------------------------------------------------------------- lengths, flags, caches, labels


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_bad_lengths(backend, kind):
    fn, kwargs = FORWARD[kind], forward_args(kind, np.float64)
    expect_error(
        ValueError, fn, {**kwargs, "lengths": [T, T + 1]}, f"[0, T] = [0, {T}]", f"got {T + 1}", name="lengths"
    )
    expect_error(ValueError, fn, {**kwargs, "lengths": [-1, 2]}, f"[0, {T}]", "got -1", name="lengths")
    expect_error(ValueError, fn, {**kwargs, "lengths": [1, 2, 3]}, f"(B,) = ({B},)", "got (3,)", name="lengths")
    expect_error(ValueError, fn, {**kwargs, "lengths": [[1], [2]]}, f"({B},)", "got (2, 1)", name="lengths")
    expect_error(ValueError, fn, {**kwargs, "lengths": 3}, f"({B},)", "got ()", name="lengths")
    expect_error(TypeError, fn, {**kwargs, "lengths": np.array([1.0, 2.0])}, f"({B},)", "float64", name="lengths")
    expect_error(TypeError, fn, {**kwargs, "lengths": np.array([True, False])}, "bool", name="lengths")
    expect_error(TypeError, fn, {**kwargs, "lengths": ["1", "2"]}, "<U1", name="lengths")
    # accepted: any integer dtype, lists, the edge values 0 and T
    ref = fn(**{**kwargs, "lengths": np.array([0, T], dtype=np.int64)})
    for lengths in ([0, T], np.array([0, T], dtype=np.int32), np.array([0, T], dtype=np.uint8)):
        out = fn(**{**kwargs, "lengths": lengths})
        for k, (a, e) in enumerate(zip(out[:-1], ref[:-1])):
            assert_close(a, e, f"{kind} with lengths {lengths!r}: output {k}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_bad_flags(backend, kind):
    fn, kwargs = FORWARD[kind], forward_args(kind, np.float64)
    for value in (1, 0, "yes", None, np.array([True])):
        expect_error(TypeError, fn, {**kwargs, "reverse": value}, "bool", f"got {type(value).__name__}", name="reverse")
        if kind == "gru":
            expect_error(TypeError, fn, {**kwargs, "reset_after": value}, "bool", name="reset_after")
            cell = cell_args("gru", np.float64)
            expect_error(TypeError, K.gru_cell, {**cell, "reset_after": value}, "bool", name="reset_after")
    fn(**{**kwargs, "reverse": np.bool_(True)})  # NumPy bools are bools


def test_gru_bias_layout_follows_reset_after(backend):
    kwargs = forward_args("gru", np.float64, reset_after=True)
    flat = kwargs["b"].sum(axis=0)
    expect_error(ValueError, K.gru_forward, {**kwargs, "b": flat}, "(2, 3H)", f"(2, {3 * H})", "got (12,)", name="b")
    kwargs["reset_after"] = False
    expect_error(ValueError, K.gru_forward, kwargs, "(3H,)", f"({3 * H},)", f"got (2, {3 * H})", name="b")


WRONG_CACHES = {
    "lstm_backward": ("gru", "LSTMCache", "lstm_forward"),
    "gru_backward": ("rnn", "GRUCache", "gru_forward"),
    "rnn_backward": ("lstm", "RNNCache", "rnn_forward"),
}


@pytest.mark.parametrize("kernel", sorted(WRONG_CACHES))
def test_wrong_cache(backend, kernel):
    other, wanted, producer = WRONG_CACHES[kernel]
    fn = KERNELS[kernel][0]
    other_cache = FORWARD[other](**forward_args(other, np.float64))[-1]
    expect_error(TypeError, fn, {"cache": other_cache}, wanted, producer, type(other_cache).__name__, name="cache")
    expect_error(TypeError, fn, {"cache": tuple(other_cache)}, wanted, "tuple", name="cache")
    expect_error(TypeError, fn, {"cache": None}, wanted, "NoneType", name="cache")
    _, ce_cache = K.softmax_cross_entropy(**ce_args(np.float64))
    expect_error(TypeError, fn, {"cache": ce_cache}, wanted, "SoftmaxCrossEntropyCache", name="cache")
    lstm_cache = FORWARD["lstm"](**forward_args("lstm", np.float64))[-1]
    expect_error(
        TypeError, K.softmax_cross_entropy_backward, {"cache": lstm_cache}, "SoftmaxCrossEntropyCache", name="cache"
    )


def test_bad_labels(backend):
    kwargs = ce_args(np.float64)
    fn = K.softmax_cross_entropy
    for bad, given in ((np.array([0, 1, C, 2]), C), (np.array([0, -1, 2, 2]), -1)):
        expect_error(ValueError, fn, {**kwargs, "labels": bad}, f"[0, C) = [0, {C})", f"got {given}", name="labels")
    expect_error(ValueError, fn, {**kwargs, "labels": np.array([0, 1, 2])}, "(4,)", "got (3,)", name="labels")
    onehot_int = np.eye(C, dtype=np.int64)[[0, 1, 2, 3]]  # an integer one-hot reads as ids of the wrong shape
    expect_error(ValueError, fn, {**kwargs, "labels": onehot_int}, "(4,)", f"got (4, {C})", name="labels")
    expect_error(TypeError, fn, {**kwargs, "labels": np.array([True, False, True, True])}, "bool", name="labels")
    dense = np.full((4, C), 1.0 / C)
    expect_error(ValueError, fn, {**kwargs, "labels": dense[:, :-1]}, f"(4, {C})", f"got (4, {C - 1})", name="labels")
    expect_error(TypeError, fn, {**kwargs, "labels": dense.astype(np.float32)}, "float64", "float32", name="labels")
    expect_error(TypeError, fn, {**kwargs, "labels": dense.astype(np.complex128)}, "complex128", name="labels")
    expect_error(TypeError, fn, {**kwargs, "labels": None}, name="labels")
    # accepted: any integer dtype, a list of ids, the edges 0 and C-1
    ref, _ = fn(kwargs["logits"], np.array([0, C - 1, 0, C - 1]))
    for labels in ([0, C - 1, 0, C - 1], np.array([0, C - 1, 0, C - 1], dtype=np.uint8)):
        assert_close(fn(kwargs["logits"], labels)[0], ref, f"labels {labels!r}")


def test_bad_clip_arguments(backend):
    g = [np.ones((2, 3)), np.ones(4, dtype=np.float32)]
    v, n = K.clip_by_value, K.clip_by_global_norm
    for bad in (-1.0, 0, 0.0, -np.inf):
        expect_error(ValueError, n, {"grads": g, "max_norm": bad}, "> 0", f"got {float(bad)}", name="max_norm")
    expect_error(ValueError, n, {"grads": g, "max_norm": np.nan}, "NaN", name="max_norm")
    for bad in ("1", None, True, np.ones(1), 1 + 0j):
        expect_error(TypeError, n, {"grads": g, "max_norm": bad}, type(bad).__name__, name="max_norm")
    expect_error(
        ValueError, v, {"grads": g, "min_value": 2, "max_value": 1}, "<= max_value", "2.0 > 1.0", name="min_value"
    )
    expect_error(ValueError, v, {"grads": g, "min_value": np.nan, "max_value": 1}, "NaN", name="min_value")
    expect_error(ValueError, v, {"grads": g, "min_value": -1, "max_value": np.nan}, "NaN", name="max_value")
    expect_error(TypeError, v, {"grads": g, "min_value": "-1", "max_value": 1}, "str", name="min_value")
    for fn, extra in ((v, {"min_value": -1.0, "max_value": 1.0}), (n, {"max_norm": 1.0})):
        expect_error(TypeError, fn, {"grads": [g[0], [1.0, 2.0]], **extra}, "grads[1]", "list", name="grads[1]")
        expect_error(TypeError, fn, {"grads": [np.arange(3)], **extra}, "float32 or float64", "int64", name="grads[0]")
        expect_error(TypeError, fn, {"grads": [np.ones(2, np.float16)], **extra}, "float16", name="grads[0]")
        expect_error(TypeError, fn, {"grads": 5.0, **extra}, "float", name="grads")
        expect_error(TypeError, fn, {"grads": {"a": g[0]}, **extra}, "dict", name="grads")
        expect_error(TypeError, fn, {"grads": g, "inplace": 1, **extra}, "bool", "int", name="inplace")
        frozen = np.ones(3)
        frozen.flags.writeable = False
        expect_error(ValueError, fn, {"grads": [g[0], frozen], "inplace": True, **extra}, "read-only", name="grads[1]")
        fn(grads=[frozen], **extra)  # read-only is fine when not written
    np.testing.assert_array_equal(v([np.array([5.0])], 2, 2)[0], [2.0])  # min == max is allowed


# ---------------------------------------------------------------- unusual layouts are accepted


def _negative(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a
    flipped = np.flip(a).copy()
    return np.flip(flipped)  # same values, every stride negative


def _strided(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a
    return np.repeat(a, 2, axis=-1)[..., ::2]


def _fortran(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(a)


def _misaligned(a: np.ndarray) -> np.ndarray:
    buf = np.empty(a.nbytes + 1, dtype=np.uint8)
    out = buf[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


LAYOUTS = {
    "negative": _negative,
    "strided": _strided,
    "fortran": _fortran,
    "misaligned": _misaligned,
    "read_only": _read_only,
}


def assert_all_close(got: list[np.ndarray], expected: list[np.ndarray], what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
    for k, (a, e) in enumerate(zip(got, expected)):
        assert_close(a, e, f"{what}: output {k}")


def _flatten(result: Any) -> list[np.ndarray]:
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # a cache
        return [v for v in result if isinstance(v, np.ndarray)]
    out: list[np.ndarray] = []
    for item in result:
        out += _flatten(item) if not isinstance(item, float) else [np.asarray(item)]
    return out


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_layouts_accepted(backend, kernel, layout):
    fn, make, arrays = KERNELS[kernel]
    kwargs = make(np.float64)
    expected = _flatten(fn(**kwargs))
    names = [*arrays, *INTEGER_ARRAYS.get(kernel, ())]
    for name in names:  # one unusual argument at a time, then all at once
        changed = {**kwargs, name: LAYOUTS[layout](kwargs[name])}
        assert_all_close(_flatten(fn(**changed)), expected, f"{kernel} with {layout} {name}")
    changed = {**kwargs, **{name: LAYOUTS[layout](kwargs[name]) for name in names}}
    assert_all_close(_flatten(fn(**changed)), expected, f"{kernel} with every array {layout}")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_layouts_accepted_with_lengths(backend, kind, layout):
    kwargs = {**forward_args(kind, np.float32), "lengths": np.array([T, 2], dtype=np.int32), "reverse": True}
    expected = _flatten(FORWARD[kind](**kwargs))
    changed = {k: LAYOUTS[layout](v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    assert_all_close(_flatten(FORWARD[kind](**changed)), expected, f"{kind} forward, {layout} inputs and lengths")


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("layout", ["negative", "strided", "fortran", "misaligned"])
def test_clip_views(backend, layout, inplace):
    """Clipping works on views; inplace=True writes through them and touches nothing else of the base."""
    rng = np.random.default_rng(21)
    base = 4.0 * rng.standard_normal((6, 8))
    if layout == "strided":
        base_copy, view = base.copy(), base[:, ::2]
    elif layout == "negative":
        base_copy, view = base.copy(), base[::-1, ::-1]
    elif layout == "fortran":
        base = np.asfortranarray(base)
        base_copy, view = base.copy(order="K"), base
    else:
        view = _misaligned(base)
        base, base_copy = view, view.copy()
    contiguous = np.ascontiguousarray(view)
    for fn, extra in ((K.clip_by_value, (-1.0, 2.0)), (K.clip_by_global_norm, (3.0,))):
        with use_backend("reference"):
            res = fn([contiguous.copy()], *extra)
        want = res[0][0] if isinstance(res, tuple) else res[0]
        before = view.copy()
        res = fn([view], *extra, inplace=inplace)
        got = res[0][0] if isinstance(res, tuple) else res[0]
        assert_close(got, want, f"{fn.__name__} on a {layout} view")
        if inplace:
            assert_close(view, want, f"{fn.__name__} inplace on a {layout} view: the view")
            untouched = np.ones(base.shape, bool)
            if layout == "strided":
                untouched[:, ::2] = False
                np.testing.assert_array_equal(base[untouched], base_copy[untouched])
            view[...] = before  # restore for the next function
        else:
            np.testing.assert_array_equal(view, before)
            np.testing.assert_array_equal(base, base_copy)


# ---------------------------------------------------------------- empty sizes

EMPTY = [(3, 0, 4, 5), (0, 4, 3, 5), (0, 0, 3, 5), (3, 4, 0, 5)]
EMPTY_IDS = ["T0", "B0", "B0_T0", "D0"]


@pytest.mark.parametrize("with_lengths", [False, True], ids=["no_lengths", "lengths"])
@pytest.mark.parametrize("size", EMPTY, ids=EMPTY_IDS)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
def test_empty_sizes(backend, kind, reset_after, size, with_lengths):
    b, t, d, h = size
    lengths = np.full(b, t, dtype=np.int64) if with_lengths else None
    dt = np.float64
    kwargs = forward_args(kind, dt, B=b, T=t, D=d, H=h, reset_after=reset_after)
    res = FORWARD[kind](**kwargs, lengths=lengths, reverse=True)
    y, finals, cache = res[0], res[1:-1], res[-1]
    assert y.shape == (b, t, h) and y.dtype == dt
    inits = (kwargs["h0"], kwargs["c0"]) if kind == "lstm" else (kwargs["h0"],)
    assert len(finals) == len(inits)
    for got, init in zip(finals, inits):
        assert got.shape == (b, h) and got.dtype == dt
        if t == 0 or b == 0:
            np.testing.assert_array_equal(got, init)  # no step ran: final state = initial state
    rng = np.random.default_rng(0)
    dhT = rng.standard_normal((b, h))
    upstream = {"dy": np.ones((b, t, h)), "dhT": dhT}
    if kind == "lstm":
        upstream["dcT"] = dhT + 1
    grads = BACKWARD[kind](cache, **upstream)
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    shapes = [(b, t, d), (b, h)] + ([(b, h)] if kind == "lstm" else []) + [(d, G * h), (h, G * h), kwargs["b"].shape]
    assert [g.shape for g in grads] == shapes
    assert all(g.dtype == dt for g in grads)
    if t == 0 or b == 0:
        np.testing.assert_array_equal(grads[1], dhT)  # dh0 = dhT when nothing ran
        if kind == "lstm":
            np.testing.assert_array_equal(grads[2], dhT + 1)
        for g in grads[-3:]:
            np.testing.assert_array_equal(g, 0.0)
    # and the values agree with the reference
    case = recurrent_case(kind, dt, B=b, T=t, D=d, H=h, lengths=lengths, reverse=True, reset_after=reset_after)
    ref_out, ref_grads = run_case(case, "reference")
    out, got = run_case(case, backend)
    for name in ref_out:
        assert_close(out[name], ref_out[name], f"{case.label} {name}")
    for name in ref_grads:
        assert_close(got[name], ref_grads[name], f"{case.label} {name}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_empty_batch_cell(backend, kind):
    kwargs = cell_args(kind, np.float32)
    kwargs = {k: (v[:0] if k in ("x", "h", "c") else v) for k, v in kwargs.items()}
    out = CELL[kind](**kwargs)
    for a in out if isinstance(out, tuple) else (out,):
        assert a.shape == (0, H) and a.dtype == np.float32


def test_empty_softmax_family(backend):
    x = np.zeros((0, 5), np.float32)
    for fn in (K.softmax, K.log_softmax):
        y = fn(x)
        assert y.shape == (0, 5) and y.dtype == np.float32
    assert K.softmax_backward(x, x).shape == (0, 5)
    assert K.log_softmax_backward(x, x).shape == (0, 5)
    loss, cache = K.softmax_cross_entropy(x, np.zeros(0, dtype=np.int64))
    assert loss.shape == (0,) and loss.dtype == np.float32
    assert K.softmax_cross_entropy_backward(cache).shape == (0, 5)
    out, norm = K.clip_by_global_norm([x], 1.0)
    assert norm == 0.0 and out[0].shape == (0, 5)


LOGITS_1D = np.array([0.5, -1.0, 2.0])
P_1D = np.exp(LOGITS_1D) / np.exp(LOGITS_1D).sum()


@pytest.mark.parametrize("label", [2, np.int64(2), np.array(2)], ids=["int", "np_int", "0d_array"])
def test_cross_entropy_1d_logits_scalar_label(backend, label):
    """1-D logits [C] with one class id: a 0-d loss equal to -log p[label] (not a dense target)."""
    loss, cache = K.softmax_cross_entropy(LOGITS_1D, label)
    assert loss.shape == (), f"loss shape {loss.shape}"
    assert float(loss) == pytest.approx(-np.log(P_1D[2]), rel=1e-12)


@pytest.mark.parametrize("dloss", [None, np.float64(2.0), np.array(2.0)], ids=["none", "np_float", "0d_array"])
def test_cross_entropy_backward_1d_logits(backend, dloss):
    """The backward of 1-D logits takes a 0-d dloss (or None)."""
    _, cache = K.softmax_cross_entropy(LOGITS_1D, P_1D)  # a dense target of shape [C]
    grad = K.softmax_cross_entropy_backward(cache, dloss)
    assert grad.shape == (3,)
    np.testing.assert_allclose(grad, 0.0 if dloss is None else 0.0 * P_1D, atol=1e-12)  # target = softmax: zero
    _, cache = K.softmax_cross_entropy(LOGITS_1D, np.eye(3)[2])
    scale = 1.0 if dloss is None else 2.0
    np.testing.assert_allclose(
        K.softmax_cross_entropy_backward(cache, dloss), scale * (P_1D - np.eye(3)[2]), rtol=1e-12
    )


# ---------------------------------------------------------------- NaN and Inf propagate


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
def test_non_finite_inputs(backend, kind, reset_after, value, reverse):
    """A non-finite x[0, 2, 0] gives the reference's IEEE results; other rows are untouched."""

    def poison(inputs):
        inputs["x"][0, 2, 0] = value
        return inputs

    case = recurrent_case(
        kind, np.float64, B=3, T=5, D=3, H=4, lengths=None, reverse=reverse, reset_after=reset_after, transform=poison
    )
    ref_out, ref_grads = run_case(case, "reference")
    out, grads = run_case(case, backend)
    for name in ("y", "hT", "cT"):
        if name in out:
            assert_close(out[name], ref_out[name], f"{case.label} {name} with x[0, 2, 0] = {value}")
            assert np.all(np.isfinite(out[name][1:])), f"{case.label}: {name} of clean rows is not finite"
    if np.isnan(value):
        hit = out["y"][0, :3] if reverse else out["y"][0, 2:]
        assert np.all(np.isnan(hit)), f"{case.label}: NaN did not reach every later step of row 0"
    for name in ("dx", "dh0", "dc0"):  # per-row gradients of clean rows do not depend on row 0
        if name in grads:
            assert_close(grads[name][1:], ref_grads[name][1:], f"{case.label} {name}[1:]")
            assert np.all(np.isfinite(grads[name][1:]))
    for name in ("dW", "dU", "db"):
        assert grads[name].shape == ref_grads[name].shape


def test_non_finite_softmax_family(backend):
    x = np.array(
        [
            [0.5, -np.inf, 1.0, 2.0],  # a masked class: probability 0
            [np.nan, 0.0, 1.0, 2.0],  # NaN: row NaN
            [np.inf, 0.0, 1.0, 2.0],  # +inf: inf - inf
            [-np.inf, -np.inf, -np.inf, -np.inf],  # everything masked
            [1.0, 2.0, 3.0, 4.0],
        ]
    )
    for fn in (K.softmax, K.log_softmax):
        with use_backend("reference"):
            want = fn(x)
        got = fn(x)
        assert_close(got, want, f"{fn.__name__} with non-finite rows")
        assert np.all(np.isnan(got[1]))
    p = K.softmax(x)
    assert p[0, 1] == 0.0 and np.all(np.isfinite(p[0])) and np.all(np.isfinite(p[4]))
    labels = np.array([0, 0, 0, 0, 3])
    with use_backend("reference"):
        want, cache = K.softmax_cross_entropy(x, labels)
        want_grad = K.softmax_cross_entropy_backward(cache)
    loss, cache = K.softmax_cross_entropy(x, labels)
    assert_close(loss, want, "softmax_cross_entropy with non-finite rows")
    assert_close(K.softmax_cross_entropy_backward(cache), want_grad, "its gradient")
    masked_label, _ = K.softmax_cross_entropy(x[:1], np.array([1]))
    assert masked_label[0] == np.inf


def test_non_finite_clipping(backend):
    g = np.array([np.nan, np.inf, -np.inf, 3.0, -0.5])
    out = K.clip_by_value([g], -1.0, 1.0)[0]
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [1.0, -1.0, 1.0, -0.5])
    for bad, is_nan in ((np.array([np.inf, 1.0]), False), (np.array([np.nan, 1.0]), True)):
        other = np.array([3.0, 4.0], np.float32)
        (a, b), norm = K.clip_by_global_norm([bad, other], 1.0)
        assert np.isnan(norm) if is_nan else norm == np.inf
        np.testing.assert_array_equal(a, bad)  # a non-finite norm leaves every array unscaled
        np.testing.assert_array_equal(b, other)


# ---------------------------------------------------------------- embedding ids


def test_bad_embedding_ids(backend):
    fwd, bwd = K.embedding_forward, K.embedding_backward
    f, b = embedding_args(np.float64), embedding_backward_args(np.float64)
    for bad in (V, V + 5, -1):
        ids = np.array([[0, 1], [bad, 2]])
        expect_error(ValueError, fwd, {**f, "ids": ids}, f"[0, V) = [0, {V})", f"got {bad}", name="ids")
        dy = np.ones((2, 2, E))
        expect_error(
            ValueError, bwd, {**b, "ids": ids, "dy": dy}, f"[0, num_embeddings) = [0, {V})", f"got {bad}", name="ids"
        )
    expect_error(ValueError, fwd, {**f, "ids": np.uint64(2**63 + 1)}, f"[0, {V})", str(2**63 + 1), name="ids")
    for bad, given in ((f["ids"].astype(np.float64), "float64"), (f["ids"] > 2, "bool"), (["1"], "<U1")):
        expect_error(TypeError, fwd, {**f, "ids": bad}, "integer", given, name="ids")
        expect_error(TypeError, bwd, {**b, "ids": bad}, "integer", given, name="ids")
    expect_error(TypeError, fwd, {**f, "ids": None}, "None", name="ids")
    # accepted: any integer dtype, lists, 0-d ids, the edges 0 and V - 1
    want = f["weights"][[0, V - 1]]
    for ids in ([0, V - 1], np.array([0, V - 1], np.uint8), np.array([0, V - 1], np.int32)):
        assert_close(fwd(f["weights"], ids), want, f"embedding_forward with ids {ids!r}")
    assert_close(fwd(f["weights"], 3), f["weights"][3], "a 0-d id")
    assert_close(fwd(f["weights"], np.array(3)), f["weights"][3], "a 0-d id array")


def test_bad_embedding_backward(backend):
    b = embedding_backward_args(np.float64)
    fn = K.embedding_backward
    for bad in (-1, 2.0, True, None, "7"):
        exc = ValueError if bad == -1 and not isinstance(bad, bool) else TypeError
        expect_error(exc, fn, {**b, "num_embeddings": bad}, name="num_embeddings")
    expect_error(ValueError, fn, {**b, "num_embeddings": 3}, "[0, num_embeddings) = [0, 3)", name="ids")
    for bad in (b["dy"][:, :-1], b["dy"][0], b["dy"][..., None], b["dy"].reshape(10, E)):
        expect_error(ValueError, fn, {**b, "dy": bad}, "ids.shape + (E,) = (2, 5, E)", f"got {bad.shape}", name="dy")
    expect_error(ValueError, fn, {**b, "ids": 3, "dy": np.ones((2, E))}, "(E,)", "got (2, 3)", name="dy")
    dW = fn(np.int64(3), np.ones(E), np.int32(V))  # a 0-d id with a [E] dy; NumPy ints for V
    assert dW.shape == (V, E) and dW[3].sum() == E and dW.sum() == E


def test_empty_embedding(backend):
    w = np.zeros((0, 4), np.float32)
    y = K.embedding_forward(w, np.zeros((3, 0), np.int64))
    assert y.shape == (3, 0, 4) and y.dtype == np.float32
    dW = K.embedding_backward(np.zeros((3, 0), np.int64), np.zeros((3, 0, 4), np.float32), 0)
    assert dW.shape == (0, 4) and dW.dtype == np.float32
    dW = K.embedding_backward(np.zeros(0, np.int64), np.zeros((0, 4)), 5)
    np.testing.assert_array_equal(dW, np.zeros((5, 4)))
    expect_error(ValueError, K.embedding_forward, {"weights": w, "ids": [0]}, "[0, V) = [0, 0)", "got 0", name="ids")


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("kind", ["layer", "batch"])
def test_bad_norm_arguments(backend, kind):
    fn, kwargs = NORM_FORWARD[kind], norm_args(np.float64)
    for bad, fragment in ((-1e-3, ">= 0.0"), (np.nan, "NaN")):
        expect_error(ValueError, fn, {**kwargs, "eps": bad}, fragment, name="eps")
    for bad in ("1e-3", None, True, np.ones(1)):
        expect_error(TypeError, fn, {**kwargs, "eps": bad}, "real number", type(bad).__name__, name="eps")
    fn(**{**kwargs, "eps": 0})  # an int, and 0, are fine
    backward = {"layer": K.layer_norm_backward, "batch": K.batch_norm_backward}[kind]
    wanted, producer = {
        "layer": ("LayerNormCache", "layer_norm_forward"),
        "batch": ("BatchNormCache", "batch_norm_forward"),
    }[kind]
    other = NORM_FORWARD["batch" if kind == "layer" else "layer"](**kwargs)[-1]
    dy = np.ones((B, T, H))
    for cache, given in ((other, type(other).__name__), (tuple(other), "tuple"), (None, "NoneType")):
        expect_error(TypeError, backward, {"cache": cache, "dy": dy}, wanted, producer, given, name="cache")


def test_batch_norm_needs_a_row(backend):
    kwargs = norm_args(np.float64)
    for x in (np.zeros((0, H)), np.zeros((B, 0, H))):
        expect_error(ValueError, K.batch_norm_forward, {**kwargs, "x": x}, "at least one row", str(x.shape), name="x")
    y, mean, var, cache = K.batch_norm_forward(np.arange(float(H)), kwargs["gamma"], kwargs["beta"], eps=1e-3)
    np.testing.assert_array_equal(var, 0.0)  # one row: zero variance, y = beta
    np.testing.assert_allclose(y, kwargs["beta"], rtol=1e-12)
    np.testing.assert_array_equal(mean, np.arange(float(H)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_empty_layer_norm(backend, dtype):
    kwargs = norm_args(dtype)
    y, cache = K.layer_norm_forward(np.zeros((2, 0, H), dtype), kwargs["gamma"], kwargs["beta"], eps=1e-3)
    assert y.shape == (2, 0, H) and y.dtype == dtype
    assert cache.mean.shape == (0,) and cache.rstd.shape == (0,) and cache.mean.dtype == dtype
    dx, dgamma, dbeta = K.layer_norm_backward(cache, np.zeros((2, 0, H), dtype))
    assert dx.shape == (2, 0, H) and dgamma.dtype == dtype
    np.testing.assert_array_equal(dgamma, 0.0)
    np.testing.assert_array_equal(dbeta, 0.0)


@pytest.mark.parametrize("kind", ["layer", "batch"])
def test_non_finite_norm(backend, kind):
    """A NaN in x spoils its row (layer) or its feature (batch) and nothing else; results equal the reference's."""
    kwargs = norm_args(np.float64)
    kwargs["x"][0, 1, 2] = np.nan
    with use_backend("reference"):
        want = NORM_FORWARD[kind](**kwargs)
    got = NORM_FORWARD[kind](**kwargs)
    assert_all_close(_flatten(got), _flatten(want), f"{kind}_norm with a NaN")
    y = got[0]
    spoiled = np.zeros(y.shape, bool)
    if kind == "layer":
        spoiled[0, 1] = True
    else:
        spoiled[..., 2] = True
    assert np.all(np.isnan(y[spoiled])) and np.all(np.isfinite(y[~spoiled]))


# ---------------------------------------------------------------- Conv1D geometry


def test_bad_conv1d_arguments(backend):
    fn, kwargs = K.conv1d_forward, conv_args(np.float64)
    for name in ("stride", "dilation"):
        expect_error(ValueError, fn, {**kwargs, name: 0}, ">= 1", "got 0", name=name)
        for bad in (1.0, True, None, "2"):
            expect_error(TypeError, fn, {**kwargs, name: bad}, "int", type(bad).__name__, name=name)
    for bad, exc in (((1, -1), ValueError), (1, TypeError), ((1, 2, 3), TypeError), ((1.0, 0), TypeError),
                     ((True, 0), TypeError), ("same", TypeError), (None, TypeError)):  # fmt: skip
        expect_error(exc, fn, {**kwargs, "padding": bad}, "(left, right)", "non-negative", repr(bad), name="padding")
    fn(**{**kwargs, "padding": [np.int64(1), 0]})  # a list and NumPy ints are fine
    W = kwargs["W"]
    expect_error(ValueError, fn, {**kwargs, "W": W[:0]}, "K >= 1", "got (0,", name="W")
    expect_error(ValueError, fn, {**kwargs, "W": W[:, :-1]}, f"C = {D}", str(W[:, :-1].shape), name="W")
    # too short: span dilation*(K-1)+1 = 5 > T + left + right = 2 + 1 + 1
    short = {**kwargs, "x": kwargs["x"][:, :2], "W": np.ones((3, D, H)), "padding": (1, 1)}
    expect_error(ValueError, fn, short, "too short", "2 + 1 + 1 = 4", "= 5", name="x")
    y, _ = fn(**{**short, "padding": (1, 2), "stride": 7})  # exactly long enough: one output step
    assert y.shape == (B, 1, H)
    other = K.layer_norm_forward(**norm_args(np.float64))[-1]
    for cache, given in ((other, "LayerNormCache"), (None, "NoneType")):
        expect_error(TypeError, K.conv1d_backward, {"cache": cache, "dy": y}, "Conv1DCache", given, name="cache")


# ---------------------------------------------------------------- optimizer updates (in place)

OPT_SHAPE = (3, 4)


def _optim(variant: str, dt=np.float64) -> tuple[dict[str, Any], np.ndarray]:
    rng = _rng(*OPT_SHAPE, 41)
    return optimizer_state(rng, variant, dt, OPT_SHAPE), rng.standard_normal(OPT_SHAPE).astype(dt)


def _written(variant: str) -> list[str]:
    """param and the state arrays the variant writes (given ones the kernel ignores are not written)."""
    _, hyper, positional, keyword = OPTIMIZERS[variant]
    names = ["param", *(n for n in (*positional, *keyword) if not n.startswith("-"))]
    if hyper.get("momentum", 0.0) == 0.0:  # momentum off: velocity (SGD) / momentum_buf (RMSprop) unused
        names = [n for n in names if not (n == "velocity" and variant.startswith("sgd")) and n != "momentum_buf"]
    return names


def _call(variant: str, arrays: dict[str, Any], grad: Any, **overrides: Any) -> None:
    optimizer_step(variant, arrays, grad, 1, **overrides)


def _expect_rejected(variant: str, arrays: dict, grad: Any, exc, *fragments: str, name: str, **overrides) -> None:
    """The call raises, naming ``name``, and writes nothing."""
    before = {k: v.copy() for k, v in arrays.items() if isinstance(v, np.ndarray)}
    expect_error(exc, _call, {"variant": variant, "arrays": arrays, "grad": grad, **overrides}, *fragments, name=name)
    for k, v in before.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=f"{variant}: a rejected call changed {k}")


WRITTEN = [(v, n) for v in sorted(OPTIMIZERS) for n in _written(v)]


@pytest.mark.parametrize(("variant", "arg"), WRITTEN, ids=[f"{v}-{n}" for v, n in WRITTEN])
def test_optimizer_state_arrays(backend, variant, arg):
    """Arrays updated in place are used as given: no conversion, so every layout problem is an error."""
    arrays, grad = _optim(variant)
    good = arrays[arg]
    shape_msg = "param.shape" if arg != "param" else None

    def run(bad, exc, *fragments):
        _expect_rejected(variant, {**arrays, arg: bad}, grad, exc, *fragments, name=arg)

    if shape_msg:
        run(good[:, :-1].copy(), ValueError, "param.shape", str(OPT_SHAPE), f"got {(3, 3)}")
        run(good.astype(np.float32), TypeError, "float64", "got float32")
        if arg not in OPTIMIZERS[variant][3]:  # vhat, mg: None switches AMSGrad / centering off
            run(None, TypeError, "None")
    run(good.tolist(), TypeError, "NumPy or CuPy array", "list")
    run(np.repeat(good, 2, axis=-1)[..., ::2], ValueError, "C-contiguous")
    run(np.asfortranarray(good), ValueError, "C-contiguous")
    run(_misaligned(good), ValueError, "aligned")
    run(_read_only(good), ValueError, "read-only")
    for bad_dtype in (np.int64, np.float16, np.complex128):
        run(good.astype(bad_dtype), TypeError, f"got {np.dtype(bad_dtype)}")


@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
def test_optimizer_grad(backend, variant):
    """grad is only read: any array-like of param's shape and dtype, copied when needed."""
    arrays, grad = _optim(variant)
    _expect_rejected(variant, arrays, grad[:, :-1], ValueError, "param.shape", "got (3, 3)", name="grad")
    _expect_rejected(variant, arrays, grad.astype(np.float32), TypeError, "float64", "float32", name="grad")
    _expect_rejected(variant, arrays, grad.astype(np.int64), TypeError, "int64", name="grad")
    _expect_rejected(variant, arrays, None, TypeError, "None", name="grad")
    with use_backend("reference"):
        want, _ = _optim(variant)
        _call(variant, want, grad)
    for layout in ("negative", "strided", "fortran", "misaligned", "read_only"):
        got, _ = _optim(variant)
        _call(variant, got, LAYOUTS[layout](grad))
        for name, value in want.items():
            if value is not None:
                assert_close(got[name], value, f"{variant} with a {layout} grad: {name}")
    got, _ = _optim(variant)
    _call(variant, got, grad.tolist())
    assert_close(got["param"], want["param"], f"{variant} with grad as a list")


@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
def test_optimizer_aliasing(backend, variant):
    """Two arrays sharing memory would read what the other just wrote: refused."""
    arrays, grad = _optim(variant)
    names = _written(variant)
    p = arrays["param"]
    _expect_rejected(variant, arrays, p, ValueError, "share memory", "param", name="grad")
    _call(variant, arrays, p[::-1])  # a reversed view of param is copied (grad is converted), so it is safe
    if len(names) > 1:
        first, second = names[0], names[1]
        _expect_rejected(variant, {**arrays, second: arrays[first]}, grad, ValueError, first, name=second)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_optimizer_empty_and_0d(backend, dtype):
    for variant in sorted(OPTIMIZERS):
        for shape in ((0, 3), ()):
            arrays = optimizer_state(_rng(7), variant, dtype, shape)
            _call(variant, arrays, np.ones(shape, dtype))
            assert arrays["param"].shape == shape and arrays["param"].dtype == dtype


SCALARS = {
    # variant: [(hyper-parameter, bad value, exception, fragments)]
    "sgd_momentum": [
        ("lr", np.nan, ValueError, ("NaN",)),
        ("lr", "0.1", TypeError, ("real number", "str")),
        ("lr", None, TypeError, ("NoneType",)),
        ("lr", True, TypeError, ("bool",)),
        ("momentum", -0.1, ValueError, ("[0.0, 1.0]", "got -0.1")),
        ("momentum", 1.5, ValueError, ("[0.0, 1.0]", "got 1.5")),
        ("nesterov", 1, TypeError, ("bool", "int")),
    ],
    "adam": [
        ("beta1", 1.0, ValueError, ("[0.0, 1.0)", "got 1.0")),
        ("beta2", -0.5, ValueError, ("[0.0, 1.0)",)),
        ("eps", -1e-7, ValueError, (">= 0.0",)),
        ("step", 0, ValueError, (">= 1", "got 0")),
        ("step", 1.0, TypeError, ("int", "float")),
        ("step", True, TypeError, ("int", "bool")),
        ("weight_decay", np.nan, ValueError, ("NaN",)),
        ("lr", [0.1], TypeError, ("list",)),
    ],
    "rmsprop_momentum": [
        ("rho", 1.5, ValueError, ("[0.0, 1.0]",)),
        ("momentum", -1.0, ValueError, (">= 0.0",)),
        ("eps", np.nan, ValueError, ("NaN",)),
    ],
    "adagrad": [("eps", -1.0, ValueError, (">= 0.0",)), ("lr", 1j, TypeError, ("complex",))],
}
SCALAR_CASES = [(v, *c) for v, cases in SCALARS.items() for c in cases]


@pytest.mark.parametrize(
    ("variant", "hyper", "value", "exc", "fragments"),
    SCALAR_CASES,
    ids=[f"{c[0]}-{c[1]}={c[2]!r}" for c in SCALAR_CASES],
)
def test_optimizer_scalars(backend, variant, hyper, value, exc, fragments):
    arrays, grad = _optim(variant)
    _expect_rejected(variant, arrays, grad, exc, *fragments, name=hyper, **{hyper: value})


def test_optimizer_scalars_accepted(backend):
    """Python and NumPy ints and floats are accepted as hyper-parameters, the edges of each range included."""
    for variant, overrides in (
        ("sgd_momentum", {"lr": 1, "momentum": np.float32(1.0)}),
        ("sgd_momentum", {"lr": np.float64(0.1), "momentum": 0}),
        ("adam", {"beta1": 0, "beta2": 0.0, "eps": 0, "step": np.int32(7)}),
        ("rmsprop_momentum", {"rho": 1, "momentum": np.int64(2)}),
        ("rmsprop", {"rho": 0.0}),
    ):
        arrays, grad = _optim(variant)
        _call(variant, arrays, grad, **overrides)


def test_optimizer_missing_state(backend):
    arrays, grad = _optim("sgd_momentum")
    _expect_rejected("sgd_momentum", {**arrays, "velocity": None}, grad, TypeError, "momentum != 0", name="velocity")
    arrays, grad = _optim("rmsprop_momentum")
    _expect_rejected(
        "rmsprop_momentum", {**arrays, "momentum_buf": None}, grad, TypeError, "momentum > 0", name="momentum_buf"
    )
    arrays, grad = _optim("rmsprop")
    _expect_rejected("rmsprop", {**arrays, "velocity": None}, grad, TypeError, "None", name="velocity")


# ---------------------------------------------------------------- the native binding checks again


def _native_calls():
    """Calls straight into seqcore._core that would read or write out of bounds if unchecked."""
    from seqcore import _core as c

    f = forward_args("lstm", np.float64)
    x, h0, c0, W, U, b = (f[k] for k in ("x", "h0", "c0", "W", "U", "b"))
    L = np.array([T, 1], dtype=np.int64)
    y, hT, cT, gates, cs = c.lstm_forward(x, h0, c0, W, U, b, L, False)
    g = forward_args("gru", np.float64)
    logits, labels = np.zeros((4, C)), np.array([0, 1, 2, 3], dtype=np.int64)
    p, ones, mv = np.zeros(6), np.ones(6), np.zeros(6)
    frozen = np.zeros(6)
    frozen.flags.writeable = False
    return {
        "U too narrow": lambda: c.lstm_forward(x, h0, c0, W, U[:, :-1], b, None, False),
        "W rows != D": lambda: c.lstm_forward(x, h0, c0, W[:-1], U, b, None, False),
        "h0 rows != B": lambda: c.lstm_forward(x, h0[:1], c0, W, U, b, None, False),
        "b too short": lambda: c.lstm_forward(x, h0, c0, W, U, b[:-1], None, False),
        "lengths > T": lambda: c.lstm_forward(x, h0, c0, W, U, b, np.array([T + 1, 0]), False),
        "lengths < 0": lambda: c.lstm_forward(x, h0, c0, W, U, b, np.array([-1, 0]), False),
        "lengths shape": lambda: c.lstm_forward(x, h0, c0, W, U, b, np.array([1, 1, 1]), False),
        "mixed dtypes": lambda: c.lstm_forward(x, h0.astype(np.float32), c0, W, U, b, None, False),
        "integer x": lambda: c.lstm_forward(x.astype(np.int64), h0, c0, W, U, b, None, False),
        "strided x": lambda: c.lstm_forward(np.repeat(x, 2, axis=-1)[..., ::2], h0, c0, W, U, b, None, False),
        "gates of another size": lambda: c.lstm_backward(
            x, h0, c0, W, U, L, False, gates[:, :-1], cs, y, None, None, None
        ),
        "dy shape": lambda: c.lstm_backward(x, h0, c0, W, U, L, False, gates, cs, y, y[:, :-1], None, None),
        "gru bias layout": lambda: c.gru_forward(g["x"], g["h0"], g["W"], g["U"], g["b"][0], True, None, False),
        "label >= C": lambda: c.softmax_cross_entropy(logits, np.array([0, 1, 2, C])),
        "label < 0": lambda: c.softmax_cross_entropy(logits, np.array([0, -1, 2, 3])),
        "backward label >= C": lambda: c.softmax_cross_entropy_backward(logits, np.array([0, 1, C, 3]), np.ones(4)),
        "dloss shape": lambda: c.softmax_cross_entropy_backward(logits, labels, np.ones(3)),
        "softmax dy shape": lambda: c.softmax_backward(logits, logits[:, :-1].copy()),
        "clip out shape": lambda: c.clip_by_value(np.ones(5), -1.0, 1.0, np.ones(4)),
        "clip out dtype": lambda: c.clip_by_value(np.ones(5), -1.0, 1.0, np.ones(5, np.float32)),
        "scale out shape": lambda: c.scale(np.ones(5), 2.0, np.ones(6)),
        "adam m shape": lambda: c.adam_update(p, ones, np.zeros(5), mv, None, 0.1, 0.9, 0.99, 1e-7, 0.0),
        "adam m is v": lambda: c.adam_update(p, ones, mv, mv, None, 0.1, 0.9, 0.99, 1e-7, 0.0),
        "sgd read-only param": lambda: c.sgd_update(frozen, ones, None, 0.1, 0.0, False),
        "sgd grad is param": lambda: c.sgd_update(p, p, None, 0.1, 0.0, False),
        "sgd no velocity": lambda: c.sgd_update(p, ones, None, 0.1, 0.9, False),
        "rmsprop no momentum_buf": lambda: c.rmsprop_update(p, ones, mv, None, None, 0.1, 0.9, 0.5, 1e-7),
        "adagrad float32 accumulator": lambda: c.adagrad_update(p, ones, np.zeros(6, np.float32), 0.1, 1e-7),
        "adagrad strided accumulator": lambda: c.adagrad_update(p, ones, np.zeros(12)[::2], 0.1, 1e-7),
        "embedding id >= V": lambda: c.embedding_forward(np.ones((3, 2)), np.array([0, 3])),
        "embedding id < 0": lambda: c.embedding_forward(np.ones((3, 2)), np.array([-1])),
        "embedding int32 ids": lambda: c.embedding_forward(np.ones((3, 2)), np.array([0], np.int32)),
        "embedding 1-d weights": lambda: c.embedding_forward(np.ones(3), np.array([0])),
        "embedding backward id >= V": lambda: c.embedding_backward(np.array([0, 3]), np.ones((2, 2)), 3),
        "embedding backward dy rows": lambda: c.embedding_backward(np.array([0, 1]), np.ones((3, 2)), 3),
        "embedding backward dy rank": lambda: c.embedding_backward(np.array([0, 1]), np.ones(2), 3),
        "embedding backward V < 0": lambda: c.embedding_backward(np.zeros(0, np.int64), np.ones((0, 2)), -1),
        "layer norm gamma size": lambda: c.layer_norm_forward(np.ones((2, 3)), np.ones(2), np.ones(3), 1e-3),
        "layer norm F = 0": lambda: c.layer_norm_forward(np.ones((2, 0)), np.ones(0), np.ones(0), 1e-3),
        "layer norm eps < 0": lambda: c.layer_norm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), -1.0),
        "layer norm backward rstd size": lambda: c.layer_norm_backward(
            np.ones((2, 3)), np.ones(3), np.ones(3), np.ones((2, 3))
        ),
        "batch norm no rows": lambda: c.batch_norm_forward(np.ones((0, 3)), np.ones(3), np.ones(3), 1e-3),
        "conv W channels": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((2, 4, 1)), None, 1, 0, 0, 1),
        "conv K = 0": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((0, 3, 1)), None, 1, 0, 0, 1),
        "conv too short": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((3, 3, 1)), None, 1, 0, 0, 3),
        "conv stride 0": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((3, 3, 1)), None, 0, 0, 0, 1),
        "conv negative padding": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((3, 3, 1)), None, 1, -1, 0, 1),
        "conv bias size": lambda: c.conv1d_forward(np.ones((2, 5, 3)), np.ones((3, 3, 1)), np.ones(2), 1, 0, 0, 1),
        "conv backward dy shape": lambda: c.conv1d_backward(
            np.ones((2, 5, 3)), np.ones((3, 3, 1)), True, 1, 0, 0, 1, np.ones((2, 4, 1))
        ),
        "batch norm backward dy shape": lambda: c.batch_norm_backward(
            np.ones((2, 3)), np.ones(3), np.ones(3), np.ones((3, 3))
        ),
    }


NATIVE_CASES = [
    "U too narrow", "W rows != D", "h0 rows != B", "b too short", "lengths > T", "lengths < 0", "lengths shape",
    "mixed dtypes", "integer x", "strided x", "gates of another size", "dy shape", "gru bias layout", "label >= C",
    "label < 0", "backward label >= C", "dloss shape", "softmax dy shape", "clip out shape", "clip out dtype",
    "scale out shape", "adam m shape", "adam m is v", "sgd read-only param", "sgd grad is param", "sgd no velocity",
    "rmsprop no momentum_buf", "adagrad float32 accumulator", "adagrad strided accumulator", "embedding id >= V",
    "embedding id < 0", "embedding int32 ids", "embedding 1-d weights", "embedding backward id >= V",
    "embedding backward dy rows", "embedding backward dy rank", "embedding backward V < 0", "layer norm gamma size",
    "layer norm F = 0", "layer norm eps < 0", "layer norm backward rstd size", "batch norm no rows",
    "batch norm backward dy shape", "conv W channels", "conv K = 0", "conv too short", "conv stride 0",
    "conv negative padding", "conv bias size", "conv backward dy shape",
]  # fmt: skip


@pytest.mark.parametrize("case", NATIVE_CASES)
def test_native_binding_rejects(case):
    """seqcore._core repeats the checks: a direct call with bad arguments raises instead of crashing."""
    require_backend("cpp")
    call = _native_calls()[case]
    with pytest.raises((ValueError, TypeError)):
        call()
