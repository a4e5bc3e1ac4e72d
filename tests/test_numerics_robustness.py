"""Numerical robustness on every backend, float32 and float64: the policy docs/numerics.md states.

- softmax, log_softmax and softmax cross-entropy at logits of +-1e4 and near the ends of the dtype's range,
  against the exact values (computed in extended precision and rounded to the dtype);
- LSTM / GRU / RNN with saturated gates and over 500 steps: finite, bounded, as accurate as the
  problem's conditioning allows;
- gradient clipping with NaN / Inf gradients, in the kernels and in the optimizers' clip options;
- layer / batch norm with zero-variance rows and large offsets: the accuracy float64 statistics give.

Tests marked xfail(strict=True) pin limitations found here and reported; they fail once fixed, so the
marker is removed together with the bug.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import ALL_BACKENDS, DTYPES, OPTIMIZERS, optimizer_state, optimizer_step, recurrent_case, run_case
from seqcore import kernels as K
from seqcore import optim, use_backend

RECURRENT = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
RECURRENT_IDS = ["lstm", "gru_reset_after", "gru_reset_before", "rnn"]

# The exact values: long double is x87 extended on x86-64 (64-bit mantissa, exponents to 1e4932), so
# differences of float32/float64 logits neither round nor overflow there.  Where long double is plain
# double, every row below still fits (spreads stay under 1.8e308) and float64 results lose half an ulp.
EXACT = np.longdouble


def dtype_id(dt) -> str:
    return np.dtype(dt).name


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def quiet():
    """Overflow to +-inf, underflow and 0 * inf are what these inputs are about, not warnings to print."""
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def rounded(exact: np.ndarray, dtype) -> np.ndarray:
    """The exact values rounded to dtype: +-inf where they lie beyond its range, as IEEE rounding gives."""
    with quiet():
        return exact.astype(dtype)


def assert_within(actual: np.ndarray, expected: np.ndarray, bound, what: str) -> None:
    """|actual - expected| <= bound elementwise; infinities at the same places with the same signs."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert not np.isnan(actual).any(), f"{what}: NaN at {np.argwhere(np.isnan(actual))[:5].tolist()}"
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], err_msg=f"{what}: infinities")
    assert np.isfinite(actual[~inf]).all(), f"{what}: non-finite where the exact value is finite"
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), expected.shape)
    err = np.abs(actual[~inf].astype(np.float64) - expected[~inf].astype(np.float64))
    worst = int(np.argmax(err - bound[~inf])) if err.size else 0
    assert (err <= bound[~inf]).all(), (
        f"{what}: error {err[worst]:.3g} > bound {bound[~inf][worst]:.3g} "
        f"(actual {actual[~inf][worst]!r}, exact {expected[~inf][worst]!r})"
    )


# ---------------------------------------------------------------- softmax family at extreme logits

C = 6
_COMMON_ROWS = [
    [1e4, -1e4, 1e4 - 0.5, 0.0, -1e4 + 3, 1e4 - 20],  # exp(1e4) overflows both dtypes without the max shift
    [-1e4, -1e4 + 1, -1e4 - 1, -1e4 + 0.25, -1e4, -1e4 - 30],  # and exp(-1e4) underflows: 0 / 0 unshifted
    [1e4] * C,
    [-1e4] * C,
]
_ROWS = {
    np.dtype(np.float64): [
        [1e30, 1e30, -1e30, 0.0, 5e29, -5e29],
        [1e30, 1e4, -1e4, 1e-30, -1e30, 1e30],
        [-1e15, -1e15 + 1, -1e15 - 0.5, -1e15 + 2, -1e15, -1e15 + 0.25],  # O(1) gaps at 1e15 (ulp 0.125)
        [1e308] * C,  # all equal, at the top of the range
        [-1e308] * C,
    ],
    np.dtype(np.float32): [
        [1.5e38, -1.5e38, 1.5e38, 0.0, 1e4, -1e4],  # spread 3e38: still a float32
        [-1e7, -1e7 + 1, -1e7 - 1, -1e7 + 2, -1e7, -1e7 + 3],  # O(1) gaps at 1e7 (ulp 1)
        [3e38] * C,
        [-3e38] * C,
    ],
}
# Rows whose spread exceeds the dtype's range: x - max overflows to -inf, which is also the exact
# log_softmax rounded to the dtype (e.g. -6e38 in float32), and the exact sparse loss there is inf.
_OVERFLOW_ROWS = {
    np.dtype(np.float64): [[1.5e308, -1.5e308, 0.0, 1.0, 1.5e308, -1.0]],
    np.dtype(np.float32): [[3e38, -3e38, 0.0, 1.0, 3e38, -1e4]],
}


def extreme_logits(dtype, *, overflow: bool = True) -> np.ndarray:
    dt = np.dtype(dtype)
    rows = _COMMON_ROWS + _ROWS[dt] + (_OVERFLOW_ROWS[dt] if overflow else [])
    x = np.array(rows, dtype=dt)
    assert np.isfinite(x).all()
    return x


def exact_log_softmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log_softmax, log-sum-exp of the shifted row) in extended precision."""
    xe = x.astype(EXACT)
    s = xe - xe.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return s - lse, lse


def upstream(shape: tuple[int, ...], dtype, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_softmax_at_extreme_logits(backend, dtype):
    """Probabilities exact to a few ulps (absolute below the smallest normal number), rows summing to 1,
    and a finite gradient equal to p * (dy - sum(dy * p))."""
    x = extreme_logits(dtype)
    logp, _ = exact_log_softmax(x)
    p = np.exp(logp)
    dy = upstream(x.shape, dtype, 1)
    with use_backend(backend), quiet():
        y = K.softmax(x)
        dx = K.softmax_backward(y, dy)
    e, tiny = eps(dtype), float(np.finfo(dtype).tiny)
    assert_within(y, rounded(p, dtype), 8 * e * p.astype(np.float64) + tiny, f"softmax [{backend}]")
    np.testing.assert_allclose(y.astype(np.float64).sum(axis=-1), 1.0, rtol=0, atol=2 * C * e)
    want = p * (dy - (dy * p).sum(axis=-1, keepdims=True))
    scale = np.abs(dy).max(axis=-1, keepdims=True).astype(np.float64)
    assert_within(
        dx, rounded(want, dtype), scale * (16 * e * p.astype(np.float64) + 2 * tiny), f"softmax_backward [{backend}]"
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_log_softmax_at_extreme_logits(backend, dtype):
    """log_softmax = x - max - log(sum(exp(x - max))) to a few ulps of |value| + log C, -inf exactly where the
    exact value lies beyond the dtype's range; the gradient dy - p * sum(dy) is finite."""
    x = extreme_logits(dtype)
    logp, _ = exact_log_softmax(x)
    dy = upstream(x.shape, dtype, 2)
    with use_backend(backend), quiet():
        y = K.log_softmax(x)
        dx = K.log_softmax_backward(y, dy)
    e = eps(dtype)
    bound = 8 * e * (np.abs(rounded(logp, np.float64)) + 1 + math.log(C))
    assert_within(y, rounded(logp, dtype), bound, f"log_softmax [{backend}]")
    assert np.isneginf(y[-1]).any(), "the overflow row lost its -inf (it no longer tests what it says)"
    want = dy - np.exp(logp) * dy.sum(axis=-1, keepdims=True)
    scale = np.abs(dy).sum(axis=-1, keepdims=True).astype(np.float64)
    assert_within(dx, rounded(want, dtype), 16 * e * scale, f"log_softmax_backward [{backend}]")


@pytest.mark.parametrize("pick", ["argmax", "argmin", "cycle"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_sparse_cross_entropy_at_extreme_logits(backend, dtype, pick):
    """loss = logsumexp(x) - x[label] exactly rounded (inf only where that exceeds the dtype's range);
    dlogits = (p - onehot) * dloss, finite."""
    x = extreme_logits(dtype)
    labels = {
        "argmax": x.argmax(axis=-1),
        "argmin": x.argmin(axis=-1),
        "cycle": np.arange(x.shape[0]) % C,
    }[pick].astype(np.int64)
    logp, _ = exact_log_softmax(x)
    dloss = np.random.default_rng(3).uniform(-1.0, 2.0, x.shape[0]).astype(dtype)
    with use_backend(backend), quiet():
        loss, cache = K.softmax_cross_entropy(x, labels)
        dlogits = K.softmax_cross_entropy_backward(cache, dloss)
    e = eps(dtype)
    exact_loss = -np.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
    bound = 8 * e * (np.abs(rounded(exact_loss, np.float64)) + 1 + math.log(C))
    assert_within(loss, rounded(exact_loss, dtype), bound, f"loss [{backend}] labels={pick}")
    want = (np.exp(logp) - np.eye(C)[labels]) * dloss[:, None]
    assert_within(dlogits, rounded(want, dtype), 16 * e * np.abs(dloss[:, None]), f"dlogits [{backend}]")


@pytest.mark.parametrize("target", ["onehot_max", "spread"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_dense_cross_entropy_at_extreme_logits(backend, dtype, target):
    """Dense targets: loss = -sum(t * log_softmax(x)), gradient p * sum(t) - t.  Rows whose spread overflows
    the dtype are left out: there x - max is -inf and 0 * -inf is NaN (docs/numerics.md)."""
    x = extreme_logits(dtype, overflow=False)
    rng = np.random.default_rng(4)
    if target == "onehot_max":
        t = np.eye(C)[x.argmax(axis=-1)]
    else:  # every class weighted, a total other than one
        t = rng.uniform(0.1, 1.0, x.shape)
    t = t.astype(dtype)
    logp, _ = exact_log_softmax(x)
    dloss = rng.uniform(-1.0, 2.0, x.shape[0]).astype(dtype)
    with use_backend(backend), quiet():
        loss, cache = K.softmax_cross_entropy(x, t)
        dlogits = K.softmax_cross_entropy_backward(cache, dloss)
    e = eps(dtype)
    te = t.astype(EXACT)
    exact_loss = -(te * logp).sum(axis=-1)
    # lse * sum(t) - sum(t * (x - max)) cancels terms of size sum(t * |x - max|): the error scales with them
    scale = (te * (np.abs(logp) + 1 + math.log(C))).sum(axis=-1).astype(np.float64)
    assert_within(loss, rounded(exact_loss, dtype), 8 * e * scale, f"loss [{backend}] target={target}")
    want = (np.exp(logp) * te.sum(axis=-1, keepdims=True) - te) * dloss[:, None]
    bound = 16 * e * np.abs(dloss[:, None]).astype(np.float64) * (1 + t.sum(axis=-1, keepdims=True))
    assert_within(dlogits, rounded(want, dtype), bound, f"dlogits [{backend}] target={target}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_single_class_rows(backend, dtype):
    """One class: probability 1, log-probability 0, loss 0 and zero gradients, whatever the logit."""
    big = float(np.finfo(dtype).max) / 2
    x = np.array([[big], [-big], [1e4], [0.0]], dtype=dtype)
    with use_backend(backend), quiet():
        np.testing.assert_array_equal(K.softmax(x), np.ones_like(x))
        np.testing.assert_array_equal(K.log_softmax(x), np.zeros_like(x))
        loss, cache = K.softmax_cross_entropy(x, np.zeros(4, np.int64))
        np.testing.assert_array_equal(loss, np.zeros(4, dtype))
        np.testing.assert_array_equal(K.softmax_cross_entropy_backward(cache), np.zeros_like(x))


@pytest.mark.parametrize(
    ("backend", "dtype"),
    [pytest.param(b, d, id=f"{b}-{dtype_id(d)}") for b in ALL_BACKENDS for d in DTYPES],
)
def test_masked_logits_get_exactly_zero_probability(backend, dtype):
    """A logit of -inf (a mask) or so far below the max that exp underflows gets probability 0, as IEEE exp
    gives: masked classes must not receive probability mass or gradient."""
    x = np.array([[0.0, -np.inf, 1.0, -1e4], [-np.inf, 2.0, -np.inf, -3e3]], dtype=dtype)
    with use_backend(backend), quiet():
        p = K.softmax(x)
        _, cache = K.softmax_cross_entropy(x, np.array([0, 1]))
        dlogits = K.softmax_cross_entropy_backward(cache)
    masked = np.array([[False, True, False, True], [True, False, True, True]])
    assert (p[masked] == 0).all(), f"softmax [{backend}]: masked probabilities {p[masked]}"
    assert (cache.probs[masked] == 0).all(), f"cross-entropy probs [{backend}]: {cache.probs[masked]}"
    assert (dlogits[masked] == 0).all(), f"cross-entropy gradient [{backend}]: {dlogits[masked]}"


# ---------------------------------------------------------------- recurrent kernels with saturated gates


def _scaled(scale: float):
    """W, U and b times ``scale``: pre-activations of order +-scale, so nearly every gate is saturated."""

    def transform(inputs):
        for name in ("W", "U", "b"):
            inputs[name] = (inputs[name] * scale).astype(inputs[name].dtype)
        return inputs

    return transform


def _as_float64(arrays: dict) -> dict:
    return {
        k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in arrays.items()
    }


def _check_states(kind: str, out: dict, inputs: dict, what: str) -> None:
    for name, value in out.items():
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), f"{what}: {name} is not finite"
    # tanh, and convex combinations of tanh and the previous state: never beyond max(1, |h0|)
    limit = max(1.0, float(np.abs(inputs["h0"]).max(initial=0)))
    for name in ("y", "hT"):
        assert np.abs(out[name]).max(initial=0) <= limit, f"{what}: |{name}| > max(1, |h0|)"
    if kind == "lstm":  # c_t = f c_{t-1} + i g with f, i in [0, 1] and |g| <= 1
        T = inputs["x"].shape[1]
        limit = np.abs(inputs["c0"]).max() + T
        assert np.abs(out["cache.c"]).max(initial=0) <= limit, f"{what}: |c| grew beyond |c0| + T"


# Accuracy under saturation.  A gate within an ulp of 0 or 1 has a derivative g (1 - g) known only to about eps
# absolutely, and an unsaturated gate sits on a pre-activation that is a sum of terms of size ~scale (rounding
# ~ eps * scale); the weights (~scale) carry both into dx, dh0, dW.  Errors are then a fixed fraction of each
# array's largest entry rather than of each entry.  Measured over 40 seed and scale (50 .. 1e4) combinations a
# kernel: float32 against float64 at most 1.1e4 * eps (1.3e-3) on every backend, the reference included;
# float64 against the reference at most 1.7e4 * eps.  2**16 * eps leaves a factor of 4.
SATURATED = 2.0**16


@pytest.mark.parametrize("scale", [50.0, 1e3, 1e4])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_recurrent_with_saturated_gates(backend, kind, reset_after, dtype, scale):
    seed = int(math.log10(scale))
    case = recurrent_case(
        kind,
        dtype,
        lengths="mixed",
        reverse=seed % 2 == 1,
        reset_after=reset_after,
        seed=seed,
        transform=_scaled(scale),
    )
    inputs = case.make_inputs()
    b_in = inputs["b"][0] if inputs["b"].ndim == 2 else inputs["b"]
    pre = inputs["x"].reshape(-1, inputs["x"].shape[-1]).astype(np.float64) @ inputs["W"] + b_in
    assert np.median(np.abs(pre)) > 0.3 * scale, "the inputs do not saturate the gates"

    with quiet():
        out, grads = run_case(case, backend)
        _check_states(kind, out, inputs, f"{case.label} [{backend}]")
        for name, g in grads.items():
            assert np.isfinite(g).all(), f"{case.label} [{backend}]: {name} is not finite"

        # the truth: float32 inputs, widened, through the float64 reference
        if np.dtype(dtype) == np.float32 or backend != "reference":
            upstream_ = case.make_upstream()
            with use_backend("reference"):
                truth_out, cache = case.forward(**_as_float64(inputs))
                truth = {**truth_out, **case.backward(cache, **_as_float64(upstream_))}
            tol = SATURATED * eps(dtype)
            for name, value in [*grads.items(), ("y", out["y"]), ("hT", out["hT"])]:
                want = truth[name]
                if want.size:
                    err = np.abs(value.astype(np.float64) - want).max()
                    limit = tol * max(1.0, np.abs(want).max())
                    assert err <= limit, f"{case.label} [{backend}] {name}: error {err:.3g} > {limit:.3g}"


@pytest.mark.parametrize("scale", [1.0, 100.0])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_recurrent_state_stays_bounded_over_500_steps(backend, kind, reset_after, dtype, scale):
    """h in [-1, 1] and |c| <= |c0| + t at every one of 500 steps, and the backward through all of them finite
    (cross-backend values are not compared here: over 500 steps of a near-chaotic map ulps grow without bound)."""
    case = recurrent_case(kind, dtype, B=3, T=500, D=4, H=8, reset_after=reset_after, seed=11, transform=_scaled(scale))
    inputs = case.make_inputs()
    with quiet():
        out, grads = run_case(case, backend)
    _check_states(kind, out, inputs, f"{case.label} [{backend}]")
    for name, g in grads.items():
        assert np.isfinite(g).all(), f"{case.label} [{backend}]: {name} is not finite"


# ---------------------------------------------------------------- gradient clipping with NaN / Inf


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_clip_by_value_keeps_nan_and_clips_inf(backend, dtype, inplace):
    """NaN stays NaN (it is not a value to clip, as np.clip); +-Inf are values and clip to the bounds."""
    g = np.array([np.nan, np.inf, -np.inf, 7.0, -7.0, 0.5, -0.0], dtype=dtype)
    with use_backend(backend):
        (out,) = K.clip_by_value([g], -5.0, 5.0, inplace=inplace)
    want = np.array([np.nan, 5.0, -5.0, 5.0, -5.0, 0.5, -0.0], dtype=dtype)
    np.testing.assert_array_equal(out, want)
    assert np.shares_memory(out, g) == inplace


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "neg_inf"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_clip_by_global_norm_reports_a_nonfinite_norm(backend, dtype, bad, inplace):
    """A NaN/Inf gradient gives a NaN/Inf norm, returned for the caller to check, and the arrays come back
    unscaled: the NaN/Inf stays where it was and no finite entry is rescaled by a meaningless factor."""
    grads = [np.array([[1.0, bad, 3.0]], dtype=dtype), np.array([100.0, -200.0], dtype=dtype)]
    before = [g.copy() for g in grads]
    with use_backend(backend), quiet():
        out, norm = K.clip_by_global_norm(grads, 1.0, inplace=inplace)
    assert isinstance(norm, float)
    if np.isnan(bad):
        assert math.isnan(norm), norm
    else:
        assert norm == math.inf, norm
    for k, (o, g, b) in enumerate(zip(out, grads, before)):
        np.testing.assert_array_equal(o, b, err_msg=f"clip_by_global_norm [{backend}] changed grads[{k}]")
        np.testing.assert_array_equal(g, b, err_msg=f"clip_by_global_norm [{backend}] changed its input {k}")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_clip_by_global_norm_float32_accumulates_in_float64(backend):
    """float32 squares overflow at 1.8e19 and underflow below 1e-23; the float64 sum of squares gives the norm of
    gradients near 3e38 and of subnormal ones (no flush to zero) and clips them exactly."""
    for value, max_norm in [(3e38, 1.0), (1e-39, 1e-40)]:
        g = [np.array([value, -value], np.float32), np.array([value], np.float32)]
        exact = math.sqrt(3) * float(np.float32(value))
        with use_backend(backend):
            (a, b), norm = K.clip_by_global_norm(g, max_norm)
        assert norm == pytest.approx(exact, rel=1e-12), (value, norm)
        total = math.sqrt(sum(float(np.sum(np.square(x, dtype=np.float64))) for x in (a, b)))
        # float32 subnormals keep fewer significant bits: 1e-40 is 2**-133, 17 bits of mantissa
        assert total == pytest.approx(max_norm, rel=1e-6 if value > 1 else 1e-4), (value, total)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_clip_by_global_norm_of_huge_finite_float64_gradients(backend):
    g = [np.array([1e200, -1e200, 1.0])]
    with use_backend(backend), quiet():
        (out,), norm = K.clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(math.sqrt(2) * 1e200, rel=1e-12)
    np.testing.assert_allclose(out, np.array([1e200, -1e200, 1.0]) / (math.sqrt(2) * 1e200), rtol=1e-12)


class Var:
    """The optimizer's variable contract: ``.data`` updated in place, ``.name``, ``.trainable``."""

    def __init__(self, data: np.ndarray, name: str) -> None:
        self.data, self.name, self.trainable = data, name, True


OPTIMIZER_VARIANTS = {
    "sgd": (optim.SGD, {"learning_rate": 0.1}),
    "sgd_nesterov": (optim.SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": (optim.Adam, {"learning_rate": 0.01}),
    "adamw_amsgrad": (optim.AdamW, {"learning_rate": 0.01, "amsgrad": True}),
    "rmsprop_centered": (optim.RMSprop, {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    "adagrad": (optim.Adagrad, {"learning_rate": 0.1}),
}
CLIPS = {"none": {}, "clipvalue": {"clipvalue": 0.5}, "clipnorm": {"clipnorm": 1.0}, "global": {"global_clipnorm": 1.0}}
BAD_AT = (1, 2)  # where grads[0] gets its NaN / Inf


def _step(variant: str, clip: str, dtype, grads: list[np.ndarray]) -> list[np.ndarray]:
    """The weights after one apply_gradients on fresh variables and optimizer."""
    cls, kwargs = OPTIMIZER_VARIANTS[variant]
    rng = np.random.default_rng(5)
    variables = [Var(rng.standard_normal(g.shape).astype(dtype), f"w{k}") for k, g in enumerate(grads)]
    opt = cls(**kwargs, **CLIPS[clip])
    with quiet():
        opt.apply_gradients(zip(grads, variables))
    return [v.data for v in variables]


def _gradients(dtype, bad: float) -> list[np.ndarray]:
    rng = np.random.default_rng(6)
    grads = [4.0 * rng.standard_normal(s) for s in ((3, 4), (5,), (2, 2))]  # norms above the clip thresholds
    grads[0][BAD_AT] = bad
    return [g.astype(dtype) for g in grads]


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("variant", list(OPTIMIZER_VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_optimizer_with_a_nonfinite_gradient(backend, dtype, variant, clip, bad):
    """The documented behaviour (docs/numerics.md), which never turns a NaN into a finite step:

    no clipping: the NaN/Inf reaches its own weight (non-finite after the step), every other entry steps
    as it would have; clipvalue: NaN as without clipping, an Inf is a value and clips to the bound;
    clipnorm: the norm of that variable is not finite, so its whole gradient is NaN (its weights all
    become NaN) and the other variables clip to their own norms; global_clipnorm: the global norm is not
    finite, so every gradient is NaN and every weight becomes NaN, as Keras 3 does.
    """
    with use_backend(backend):
        got = _step(variant, clip, dtype, _gradients(dtype, bad))
        clean = _gradients(dtype, bad)
        if clip == "clipvalue" and np.isinf(bad):
            clean[0][BAD_AT] = 0.5
        else:
            clean[0][BAD_AT] = 0.0
        want = _step(variant, clip, dtype, clean)  # the same step with a finite entry in place of the bad one

    what = f"{variant} {clip} [{backend}] {np.dtype(dtype)} bad={bad}"
    if clip == "global":
        for k, w in enumerate(got):
            assert np.isnan(w).all(), f"{what}: weights {k} are not all NaN"
        return
    if clip == "clipvalue" and np.isinf(bad):
        for k, (w, v) in enumerate(zip(got, want)):
            np.testing.assert_array_equal(w, v, err_msg=f"{what}: weights {k}")
        return
    if clip == "clipnorm":
        assert np.isnan(got[0]).all(), f"{what}: the variable with the bad gradient is not all NaN"
    else:
        assert not np.isfinite(got[0][BAD_AT]), f"{what}: the bad entry's weight is finite"
        others = np.ones(got[0].shape, bool)
        others[BAD_AT] = False
        np.testing.assert_array_equal(got[0][others], want[0][others], err_msg=f"{what}: weights 0")
    for k in (1, 2):
        assert np.isfinite(got[k]).all(), f"{what}: weights {k} are not finite"
        np.testing.assert_array_equal(got[k], want[k], err_msg=f"{what}: weights {k}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(OPTIMIZERS))
def test_optimizer_kernels_agree_on_nonfinite_gradients(variant, dtype):
    """Every backend leaves NaN / Inf in the same entries of the parameter and of each state array."""
    results = {}
    for backend in ALL_BACKENDS:
        rng = np.random.default_rng(7)
        arrays = optimizer_state(rng, variant, dtype, (3, 5))
        g = rng.standard_normal((3, 5)).astype(dtype)
        g[0, 1], g[1, 2], g[2, 3] = np.nan, np.inf, -np.inf
        with use_backend(backend), quiet():
            for step in range(1, 4):
                optimizer_step(variant, arrays, g, step)
        results[backend] = arrays
    for backend in ("cpp", "numba"):
        for name, value in results[backend].items():
            if value is None:
                continue
            ref = results["reference"][name]
            np.testing.assert_array_equal(np.isnan(value), np.isnan(ref), err_msg=f"{variant} [{backend}] {name} NaN")
            np.testing.assert_array_equal(np.isinf(value) * np.sign(value), np.isinf(ref) * np.sign(ref))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_centered_rmsprop_when_the_squared_gradient_overflows(backend):
    """g**2 overflows (float32, |g| > 1.8e19): velocity = inf and mg**2 = inf, so velocity - mg**2 is NaN as the
    formula is written, and the step must be NaN on every backend, not a silent zero."""
    param, v, mg = np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)
    with use_backend(backend), quiet():
        K.rmsprop_update(param, np.array([1e38], np.float32), v, None, lr=0.01, rho=0.9, momentum=0.0, eps=1e-7, mg=mg)
    assert np.isinf(v).all() and np.isfinite(mg).all()
    assert np.isnan(param).all(), f"[{backend}] param = {param}"


# ---------------------------------------------------------------- layer / batch norm: zero variance, large offsets


def _norm(kind: str, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps_: float, dy: np.ndarray):
    with quiet():
        if kind == "layer":
            y, cache = K.layer_norm_forward(x, gamma, beta, eps=eps_)
        else:
            y, _, _, cache = K.batch_norm_forward(x, gamma, beta, eps=eps_)
        return y, cache, K.layer_norm_backward(cache, dy) if kind == "layer" else K.batch_norm_backward(cache, dy)


def _exact_norm(kind: str, x, gamma, dy, eps_: float):
    """(xhat, mean, rstd, dx, dgamma, dbeta) in extended precision, statistics along the normalized axis."""
    axis = -1 if kind == "layer" else 0
    xe, g, d = x.astype(EXACT), gamma.astype(EXACT), dy.astype(EXACT)
    mean = xe.mean(axis=axis, keepdims=True)
    var = ((xe - mean) ** 2).mean(axis=axis, keepdims=True)
    rstd = 1 / np.sqrt(var + EXACT(eps_))
    xhat = (xe - mean) * rstd
    dxhat = d * g
    dx = rstd * (dxhat - dxhat.mean(axis=axis, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True))
    dgamma = (d * xhat).reshape(-1, x.shape[-1]).sum(axis=0)
    dbeta = d.reshape(-1, x.shape[-1]).sum(axis=0)
    return xhat, mean, rstd, dx, dgamma, dbeta


def _norm_inputs(kind: str, dtype, offsets: np.ndarray, noise: float, seed: int):
    """x = offset + noise * N(0, 1): layer norm rows [6, 40] with one offset a row, batch norm [40, 6] one a column."""
    rng = np.random.default_rng(seed)
    shape = (6, 40) if kind == "layer" else (40, 6)
    off = offsets[:, None] if kind == "layer" else offsets[None, :]
    x = (off + noise * rng.standard_normal(shape)).astype(dtype)
    F = shape[-1]
    gamma = (1.0 + 0.5 * rng.standard_normal(F)).astype(dtype)
    beta = (0.5 * rng.standard_normal(F)).astype(dtype)
    return x, gamma, beta, rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("eps_", [1e-3, 1e-5])
@pytest.mark.parametrize("kind", ["layer", "batch"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_norm_of_constant_rows(backend, dtype, kind, eps_):
    """Zero variance: xhat = 0 and y = beta, rstd = 1/sqrt(eps), dx = rstd * (dy*gamma - mean(dy*gamma)),
    dgamma = 0, all finite.  float32 input is exact: its float64 sums have no rounding (24-bit values, few
    terms), whatever the magnitude.  float64 sums round, so the computed mean may miss the constant by an
    ulp, which rstd turns into |xhat| <= a few ulp(value) / sqrt(eps); hence the moderate values there."""
    big = [3e38, -1e30, 1e6] if np.dtype(dtype) == np.float32 else [1e6, -3e5, 12345.678]
    offsets = np.array([0.0, -3.25, 0.1, *big])
    x, gamma, beta, dy = _norm_inputs(kind, dtype, offsets, 0.0, seed=8)
    with use_backend(backend):
        y, cache, (dx, dgamma, dbeta) = _norm(kind, x, gamma, beta, eps_, dy)
    xhat, _, rstd, want_dx, _, want_dbeta = _exact_norm(kind, x, gamma, dy, eps_)
    e = eps(dtype)
    slack = 16 * float(np.finfo(np.float64).eps) * np.abs(x).astype(np.float64) / math.sqrt(eps_)
    what = f"{kind}_norm [{backend}] {np.dtype(dtype)} eps={eps_}"
    if np.dtype(dtype) == np.float32:
        np.testing.assert_array_equal(cache.xhat, np.zeros_like(x), err_msg=f"{what}: xhat")
        np.testing.assert_array_equal(y, np.broadcast_to(beta, y.shape), err_msg=f"{what}: y")
        np.testing.assert_array_equal(dgamma, np.zeros_like(gamma), err_msg=f"{what}: dgamma")
    else:
        assert_within(cache.xhat, np.zeros_like(x), slack, f"{what}: xhat")
        assert_within(y, np.broadcast_to(beta, y.shape), slack * np.abs(gamma) + 2 * e * np.abs(beta), f"{what}: y")
    assert_within(cache.rstd, rounded(rstd.reshape(cache.rstd.shape), dtype), 2 * e / math.sqrt(eps_), f"{what}: rstd")
    d_scale = float(rstd.max()) * np.abs(dy * gamma).max()
    assert_within(dx, rounded(want_dx, dtype), 16 * e * d_scale, f"{what}: dx")
    assert_within(dbeta, rounded(want_dbeta, dtype), 4 * e * np.abs(dy).sum(axis=0), f"{what}: dbeta")


@pytest.mark.xfail(
    reason="float64 rows of a constant beyond ~1e20: the rounded mean misses the constant by an ulp, whose "
    "square exceeds eps, so xhat is +-1 instead of 0 (summing x - x[0] would make constants exact)",
    strict=True,
)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_float64_layer_norm_of_a_huge_constant_row(backend):
    x = np.full((1, 7), 1e30)
    with use_backend(backend):
        y, _ = K.layer_norm_forward(x, np.ones(7), np.zeros(7), eps=1e-3)
    np.testing.assert_array_equal(y, np.zeros_like(x))


@pytest.mark.parametrize("noise", [1.0, 1e-2])
@pytest.mark.parametrize("kind", ["layer", "batch"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_norm_with_large_offsets(backend, dtype, kind, noise):
    """x = 1e6-ish + small noise.  A float32 one-pass E[x^2] - E[x]^2 would lose every digit (1e12 - 1e12);
    two-pass statistics in float64 are exact to float64 rounding, so float32 outputs are within a few float32
    ulps of the exact normalization of the (already rounded) inputs.  For float64 inputs the rounding of the
    mean, ~eps * offset, is amplified by offset / std, and that is the bound."""
    offsets = np.array([1e6, -1e6, 3e7, 0.0, 1e4, -2.5e5])
    x, gamma, beta, dy = _norm_inputs(kind, dtype, offsets, noise, seed=9)
    with use_backend(backend):
        y, cache, (dx, dgamma, dbeta) = _norm(kind, x, gamma, beta, 1e-5, dy)
    xhat, mean, rstd, want_dx, want_dgamma, want_dbeta = _exact_norm(kind, x, gamma, dy, 1e-5)
    e = eps(dtype)
    axis = -1 if kind == "layer" else 0
    spread = np.abs(x.astype(EXACT) - mean).max(axis=axis, keepdims=True).astype(np.float64)
    conditioning = np.abs(mean.astype(np.float64)) / np.maximum(spread, 1e-300)  # offset / noise
    acc = 8 * e + 16 * float(np.finfo(np.float64).eps) * conditioning  # relative error of xhat per row/column
    what = f"{kind}_norm [{backend}] {np.dtype(dtype)} noise={noise}"
    assert 1 < float(np.abs(xhat).max()) < 10, "xhat is not of order one: the inputs are not what is meant"
    assert_within(
        cache.xhat, rounded(xhat, dtype), acc * np.maximum(np.abs(xhat.astype(np.float64)), 1), what + " xhat"
    )
    assert_within(
        cache.mean.reshape(mean.shape),
        rounded(mean, dtype),
        2 * e * np.abs(mean.astype(np.float64)) + 4 * float(np.finfo(np.float64).eps) * np.abs(x).max(),
        what + " mean",
    )
    assert_within(cache.rstd.reshape(rstd.shape), rounded(rstd, dtype), acc * rstd.astype(np.float64), what + " rstd")
    want_y = xhat * gamma.astype(EXACT) + beta.astype(EXACT)
    y_scale = np.abs(xhat * gamma.astype(EXACT)).astype(np.float64) + np.abs(beta).astype(np.float64)
    assert_within(y, rounded(want_y, dtype), (acc + 4 * e) * np.maximum(y_scale, 1), what + " y")
    d_scale = (
        rstd.astype(np.float64)
        * np.abs(dy * gamma).max(axis=axis, keepdims=True)
        * (1 + float(np.abs(xhat).max())) ** 2
    )
    assert_within(dx, rounded(want_dx, dtype), 16 * (acc + e) * d_scale.astype(np.float64), what + " dx")
    terms = (np.abs(dy) * np.maximum(np.abs(xhat), 1)).sum(axis=0).astype(np.float64)
    assert_within(dgamma, rounded(want_dgamma, dtype), 8 * (float(acc.max()) + e) * terms, what + " dgamma")
    assert_within(dbeta, rounded(want_dbeta, dtype), 4 * e * np.abs(dy).sum(axis=0), what + " dbeta")
