"""The CUDA recurrent kernels (LSTM, GRU, RNN: forward, backward, cell) against the reference backend.

Every call goes through seqcore.kernels with CuPy arrays (so dispatch picks the cuda backend) and
is compared with the reference backend on the same NumPy inputs: forward values, then the cache
field by field, then the backward's gradients, float64 to 1e-10 and float32 to 1e-5.  Shapes cover
lengths (with a 0 and a full length), reverse, both GRU variants, B = 1, H not a multiple of 32,
D != H, more than one thread block, and empty sizes.  A finite-difference check in float64 runs a
tiny LSTM through the CUDA kernels alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import seqcore
from seqcore import kernels as K

cp = pytest.importorskip("cupy")

DTYPES = (np.float64, np.float32)
TOL = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (1e-5, 2e-6)}

# (B, T, D, H, lengths, reverse): odd sizes, a 0 and a full length, B = 1, H = 33 (not a multiple of 32),
# B*H over one 256-thread block, and 4H over one 32-column block of the bias-gradient sums.
SHAPES = [
    (3, 5, 4, 7, None, False),
    (3, 5, 4, 7, [5, 0, 3], True),
    (4, 6, 5, 33, [6, 2, 0, 4], False),
    (1, 4, 2, 3, None, True),
    (1, 3, 6, 5, [2], False),
    (8, 7, 16, 40, [7, 1, 3, 7, 0, 5, 6, 2], True),
]
EMPTY = [  # (B, T, D, H, lengths)
    (0, 3, 2, 4, None),
    (2, 0, 3, 4, None),
    (2, 0, 3, 4, [0, 0]),
    (2, 3, 0, 4, [3, 1]),
    (2, 3, 4, 0, None),
]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _ids(shape: tuple) -> str:
    B, T, D, H, lengths, reverse = shape
    return f"B{B}T{T}D{D}H{H}{'-len' if lengths is not None else ''}{'-rev' if reverse else ''}"


def close(actual: Any, expected: Any, what: str) -> None:
    assert isinstance(actual, cp.ndarray), f"{what}: expected a CuPy array, got {type(actual).__name__}"
    expected = np.asarray(expected)
    got = cp.asnumpy(actual)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, expected {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    rtol, atol = TOL[expected.dtype]
    scale = max(1.0, float(np.abs(expected).max()) if expected.size else 0.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def dev(a: Any) -> Any:
    return None if a is None else cp.asarray(a)


def make_inputs(kind: str, B: int, T: int, D: int, H: int, dtype: Any, seed: int, reset_after: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    G = GATES[kind] * H

    def r(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(dtype)

    # Weights scaled so pre-activations stay O(1) and the recurrence contracts: float32 rounding then stays
    # at rounding size instead of growing step by step, and the float32 comparison tests the kernels.
    w, u = 1.0 / np.sqrt(max(D, 1)), 0.9 / np.sqrt(max(H, 1))
    inputs = {"x": r(B, T, D), "h0": r(B, H, scale=0.5), "W": r(D, G, scale=w), "U": r(H, G, scale=u)}
    if kind == "lstm":
        inputs["c0"] = r(B, H, scale=0.5)
    inputs["b"] = r(2, G, scale=0.3) if kind == "gru" and reset_after else r(G, scale=0.3)
    return inputs


def forward(kind: str, inputs: dict, lengths: Any, reverse: bool, reset_after: bool) -> tuple[tuple, Any]:
    """(outputs, cache) of kind's forward on whichever backend the arrays pick."""
    x, h0, W, U, b = (inputs[k] for k in ("x", "h0", "W", "U", "b"))
    if kind == "lstm":
        y, hT, cT, cache = K.lstm_forward(x, h0, inputs["c0"], W, U, b, lengths=lengths, reverse=reverse)
        return (y, hT, cT), cache
    if kind == "gru":
        y, hT, cache = K.gru_forward(x, h0, W, U, b, reset_after=reset_after, lengths=lengths, reverse=reverse)
        return (y, hT), cache
    y, hT, cache = K.rnn_forward(x, h0, W, U, b, lengths=lengths, reverse=reverse)
    return (y, hT), cache


def backward(kind: str, cache: Any, grads: dict) -> tuple:
    if kind == "lstm":
        return K.lstm_backward(cache, grads.get("dy"), grads.get("dhT"), grads.get("dcT"))
    if kind == "gru":
        return K.gru_backward(cache, grads.get("dy"), grads.get("dhT"))
    return K.rnn_backward(cache, grads.get("dy"), grads.get("dhT"))


CACHE_ARRAYS = {"lstm": ("gates", "c", "y"), "gru": ("gates", "hr", "y"), "rnn": ("y",)}
OUT_NAMES = {"lstm": ("y", "hT", "cT"), "gru": ("y", "hT"), "rnn": ("y", "hT")}
GRAD_NAMES = {
    "lstm": ("dx", "dh0", "dc0", "dW", "dU", "db"),
    "gru": ("dx", "dh0", "dW", "dU", "db"),
    "rnn": ("dx", "dh0", "dW", "dU", "db"),
}


def compare(
    kind: str,
    B: int,
    T: int,
    D: int,
    H: int,
    lengths: Any,
    reverse: bool,
    dtype: Any,
    *,
    reset_after: bool = True,
    upstream: tuple[str, ...] = ("dy", "dhT", "dcT"),
    lengths_on_device: bool = True,
    seed: int = 0,
) -> None:
    label = f"{kind} {np.dtype(dtype).name} B{B} T{T} D{D} H{H} lengths={lengths} reverse={reverse}"
    if kind == "gru":
        label += f" reset_after={reset_after}"
    inputs = make_inputs(kind, B, T, D, H, dtype, seed, reset_after)
    lens = None if lengths is None else np.asarray(lengths, np.int64)
    with seqcore.use_backend("reference"):
        ref_out, ref_cache = forward(kind, inputs, lens, reverse, reset_after)
    dev_inputs = {k: dev(v) for k, v in inputs.items()}
    dev_lens = dev(lens) if lengths_on_device else lens
    out, cache = forward(kind, dev_inputs, dev_lens, reverse, reset_after)
    for name, a, e in zip(OUT_NAMES[kind], out, ref_out):
        close(a, e, f"{label}: forward {name}")
    for field in CACHE_ARRAYS[kind]:
        close(getattr(cache, field), getattr(ref_cache, field), f"{label}: cache.{field}")
    assert cache.reverse == reverse
    if lengths is None:
        assert cache.lengths is None
    else:
        np.testing.assert_array_equal(cp.asnumpy(cp.asarray(cache.lengths)), lens)

    rng = np.random.default_rng(seed + 1)
    grads = {
        "dy": rng.standard_normal((B, T, H)).astype(dtype),
        "dhT": rng.standard_normal((B, H)).astype(dtype),
        "dcT": rng.standard_normal((B, H)).astype(dtype),
    }
    grads = {k: v for k, v in grads.items() if k in upstream and (k != "dcT" or kind == "lstm")}
    with seqcore.use_backend("reference"):
        ref_grads = backward(kind, ref_cache, grads)
    got = backward(kind, cache, {k: dev(v) for k, v in grads.items()})
    assert len(got) == len(ref_grads)
    for name, a, e in zip(GRAD_NAMES[kind], got, ref_grads):
        close(a, e, f"{label}: backward {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_lstm_matches_reference(shape, dtype):
    compare("lstm", *shape, dtype)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_gru_matches_reference(shape, dtype, reset_after):
    compare("gru", *shape, dtype, reset_after=reset_after)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_rnn_matches_reference(shape, dtype):
    compare("rnn", *shape, dtype)


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
@pytest.mark.parametrize("upstream", [(), ("dy",), ("dhT", "dcT")], ids=["none", "dy", "final"])
def test_backward_with_absent_gradients(kind, upstream):
    """None for dy / dhT / dcT means zeros, with and without lengths."""
    name, _, variant = kind.partition("-")
    for lengths, reverse in ((None, False), ([4, 0, 2], True)):
        compare(name, 3, 4, 3, 5, lengths, reverse, np.float64, reset_after=variant != "before", upstream=upstream)


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
def test_host_lengths_with_device_arrays(kind):
    """lengths may stay a NumPy array while the data are CuPy arrays."""
    name, _, variant = kind.partition("-")
    compare(name, 3, 5, 4, 6, [5, 2, 0], True, np.float64, reset_after=variant != "before", lengths_on_device=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
@pytest.mark.parametrize("empty", EMPTY, ids=lambda e: "B{}T{}D{}H{}{}".format(*e[:4], "-len" if e[4] else ""))
def test_empty_sizes(empty, kind, dtype):
    """No rows, no steps, no inputs or no units: the reference's zeros and shapes, no zero-sized launch."""
    name, _, variant = kind.partition("-")
    B, T, D, H, lengths = empty
    compare(name, B, T, D, H, lengths, False, dtype, reset_after=variant != "before")
    compare(name, B, T, D, H, lengths, True, dtype, reset_after=variant != "before")


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
def test_padding_is_never_read(kind):
    """NaN in x and dy past each row's length reaches no output or gradient (as on the CPU)."""
    name, _, variant = kind.partition("-")
    reset_after = variant != "before"
    B, T, D, H = 3, 5, 4, 6
    lens = np.array([5, 2, 0], np.int64)
    inputs = make_inputs(name, B, T, D, H, np.float64, 5, reset_after)
    pad = np.arange(T)[None, :] >= lens[:, None]
    inputs["x"][pad] = np.nan
    dy = np.random.default_rng(6).standard_normal((B, T, H))
    dy[pad] = np.nan
    clean = {k: v.copy() for k, v in inputs.items()}
    clean["x"][pad] = 0.0
    clean_dy = np.where(pad[:, :, None], 0.0, dy)
    with seqcore.use_backend("reference"):
        ref_out, ref_cache = forward(name, clean, lens, True, reset_after)
        ref_grads = backward(name, ref_cache, {"dy": clean_dy})
    out, cache = forward(name, {k: dev(v) for k, v in inputs.items()}, dev(lens), True, reset_after)
    grads = backward(name, cache, {"dy": dev(dy)})
    for what, a, e in zip(OUT_NAMES[name] + GRAD_NAMES[name], tuple(out) + tuple(grads), ref_out + tuple(ref_grads)):
        close(a, e, f"{kind} with NaN padding: {what}")


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
def test_rows_that_never_run_keep_their_gradient_from_inf_weights(kind):
    """A row of length 0 passes dhT (and dcT) straight to dh0: its zero step rows times an Inf in U must not
    turn the carry into NaN."""
    name, _, variant = kind.partition("-")
    reset_after = variant != "before"
    inputs = make_inputs(name, 2, 3, 2, 4, np.float64, 9, reset_after)
    inputs["U"][0, 0] = np.inf
    lens = np.array([0, 0], np.int64)
    grads = {"dy": np.ones((2, 3, 4)), "dhT": np.full((2, 4), 0.5), "dcT": np.full((2, 4), -0.25)}
    if name != "lstm":
        del grads["dcT"]
    with seqcore.use_backend("reference"):
        ref_out, ref_cache = forward(name, inputs, lens, False, reset_after)
        ref_grads = backward(name, ref_cache, grads)
    out, cache = forward(name, {k: dev(v) for k, v in inputs.items()}, dev(lens), False, reset_after)
    got = backward(name, cache, {k: dev(v) for k, v in grads.items()})
    for what, a, e in zip(OUT_NAMES[name] + GRAD_NAMES[name], tuple(out) + tuple(got), ref_out + tuple(ref_grads)):
        assert np.isfinite(cp.asnumpy(a)).all(), f"{kind}: {what} is not finite"
        close(a, e, f"{kind} with Inf in U and no steps: {what}")


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("B, D, H", [(1, 3, 5), (5, 4, 33), (9, 40, 37), (0, 3, 4), (2, 0, 3), (2, 3, 0)])
def test_cells_match_reference(B, D, H, dtype):
    label = f"{np.dtype(dtype).name} B{B} D{D} H{H}"
    rng = np.random.default_rng(7)

    def r(*shape: int, scale: float = 0.5) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(dtype)

    x, h, c = r(B, D, scale=1.0), r(B, H), r(B, H)
    W4, U4, b4 = r(D, 4 * H), r(H, 4 * H), r(4 * H)
    W3, U3, b3a, b3b = r(D, 3 * H), r(H, 3 * H), r(2, 3 * H), r(3 * H)
    W1, U1, b1 = r(D, H), r(H, H), r(H)
    with seqcore.use_backend("reference"):
        ref_lstm = K.lstm_cell(x, h, c, W4, U4, b4)
        ref_gru_a = K.gru_cell(x, h, W3, U3, b3a, reset_after=True)
        ref_gru_b = K.gru_cell(x, h, W3, U3, b3b, reset_after=False)
        ref_rnn = K.rnn_cell(x, h, W1, U1, b1)
    d = dev
    h_new, c_new = K.lstm_cell(d(x), d(h), d(c), d(W4), d(U4), d(b4))
    close(h_new, ref_lstm[0], f"lstm_cell {label} h")
    close(c_new, ref_lstm[1], f"lstm_cell {label} c")
    close(K.gru_cell(d(x), d(h), d(W3), d(U3), d(b3a), reset_after=True), ref_gru_a, f"gru_cell after {label}")
    close(K.gru_cell(d(x), d(h), d(W3), d(U3), d(b3b), reset_after=False), ref_gru_b, f"gru_cell before {label}")
    close(K.rnn_cell(d(x), d(h), d(W1), d(U1), d(b1)), ref_rnn, f"rnn_cell {label}")


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
def test_cell_is_one_step_of_the_forward(kind):
    """A cell gives the numbers of a T = 1 forward on the device."""
    name, _, variant = kind.partition("-")
    reset_after = variant != "before"
    inputs = {k: dev(v) for k, v in make_inputs(name, 4, 1, 5, 6, np.float64, 3, reset_after).items()}
    out, _ = forward(name, inputs, None, False, reset_after)
    x = inputs["x"][:, 0]
    if name == "lstm":
        h, c = K.lstm_cell(x, inputs["h0"], inputs["c0"], inputs["W"], inputs["U"], inputs["b"])
        close(c, cp.asnumpy(out[2]), "lstm_cell c vs forward")
    elif name == "gru":
        h = K.gru_cell(x, inputs["h0"], inputs["W"], inputs["U"], inputs["b"], reset_after=reset_after)
    else:
        h = K.rnn_cell(x, inputs["h0"], inputs["W"], inputs["U"], inputs["b"])
    close(h, cp.asnumpy(out[1]), f"{kind} cell h vs forward")


# ---------------------------------------------------------------- cache interchange


@pytest.mark.parametrize("kind", ["lstm", "gru-after", "gru-before", "rnn"])
def test_device_backward_takes_a_reference_cache(kind):
    """A cache made by the reference (NumPy arrays) fed to the device backward with CuPy gradients."""
    name, _, variant = kind.partition("-")
    reset_after = variant != "before"
    inputs = make_inputs(name, 3, 4, 3, 5, np.float64, 11, reset_after)
    lens = np.array([4, 1, 3], np.int64)
    with seqcore.use_backend("reference"):
        _, ref_cache = forward(name, inputs, lens, True, reset_after)
        dy = np.random.default_rng(12).standard_normal((3, 4, 5))
        ref_grads = backward(name, ref_cache, {"dy": dy})
    got = backward(name, ref_cache, {"dy": dev(dy)})
    for gname, a, e in zip(GRAD_NAMES[name], got, ref_grads):
        close(a, e, f"{kind} backward {gname} from a reference cache")


# ---------------------------------------------------------------- finite differences


def test_lstm_gradients_match_finite_differences():
    """The device backward is the derivative of the device forward (float64, central differences)."""
    B, T, D, H = 2, 4, 3, 3
    inputs = make_inputs("lstm", B, T, D, H, np.float64, 21)
    lens = np.array([4, 2], np.int64)
    rng = np.random.default_rng(22)
    dy, dhT, dcT = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    order = ("x", "h0", "c0", "W", "U", "b")

    def loss(arrays: dict) -> float:
        d = {k: dev(v) for k, v in arrays.items()}
        y, hT, cT, _ = K.lstm_forward(*(d[k] for k in order), lengths=dev(lens), reverse=True)
        return float(cp.sum(y * dev(dy)) + cp.sum(hT * dev(dhT)) + cp.sum(cT * dev(dcT)))

    d = {k: dev(v) for k, v in inputs.items()}
    _, _, _, cache = K.lstm_forward(*(d[k] for k in order), lengths=dev(lens), reverse=True)
    grads = dict(zip(("x", "h0", "c0", "W", "U", "b"), K.lstm_backward(cache, dev(dy), dev(dhT), dev(dcT))))
    eps = 1e-6
    for name in order:
        analytic = cp.asnumpy(grads[name])
        numeric = np.zeros_like(inputs[name])
        for idx in np.ndindex(inputs[name].shape):
            plus = {k: v.copy() for k, v in inputs.items()}
            minus = {k: v.copy() for k, v in inputs.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric[idx] = (loss(plus) - loss(minus)) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=f"d loss / d {name}")
    # the padding steps of row 1 (t >= 2) receive no gradient
    assert not cp.asnumpy(grads["x"])[1, 2:].any()
