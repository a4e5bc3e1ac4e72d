"""GELU, exact (erf) and tanh forms: every backend against the NumPy reference and torch, the backward against
finite differences, large |x|, NaN and Inf, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import ALL_BACKENDS, DTYPES, FAST_BACKENDS, Case, assert_close, check_against_reference, require_backend
from seqcore import kernels as K
from seqcore import use_backend

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

MODES = ("none", "tanh")


def gelu_case(dtype, shape, approximate: str, *, spread: float = 3.0, seed: int = 0) -> Case:
    dt = np.dtype(dtype)

    def make_inputs():
        return {"x": (spread * np.random.default_rng([seed, len(shape), *shape, 43]).standard_normal(shape)).astype(dt)}

    def make_upstream():
        return {"dy": np.random.default_rng([seed + 1, len(shape), *shape, 43]).standard_normal(shape).astype(dt)}

    def forward(x):
        return {"y": K.gelu_forward(x, approximate=approximate)}, x

    def backward(x, dy):
        return {"dx": K.gelu_backward(x, dy, approximate=approximate)}

    label = f"gelu {dt} shape={shape} approximate={approximate} spread={spread}"
    return Case(label, make_inputs, forward, make_upstream, backward, {"dx": "x"}, {"dy": "y"})


SHAPES = [(1,), (7,), (3, 5), (2, 3, 129), (0, 4)]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("approximate", MODES)
def test_matches_reference(backend, dtype, shape, approximate):
    check_against_reference(gelu_case(dtype, shape, approximate), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("approximate", MODES)
@pytest.mark.parametrize("spread", [1e-3, 30.0, 1e150])
def test_matches_reference_small_and_large(backend, approximate, spread):
    check_against_reference(gelu_case(np.float64, (4, 50), approximate, spread=spread), backend)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", MODES)
def test_equals_torch(backend, dtype, approximate):
    """Values and gradients, NaN and Inf included, where torch and we agree on what the formula gives."""
    torch = pytest.importorskip("torch")
    require_backend(backend)
    rng = np.random.default_rng(5)
    x = np.concatenate([4 * rng.standard_normal(300), [0.0, -0.0, 1e-30, -1e-30, 9.0, -9.0, 40.0, -40.0, 1e10]])
    x = np.concatenate([x, [-1e10, np.nan, np.inf, -np.inf]]).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(t, approximate=approximate)
    ty.backward(torch.tensor(dy))
    with use_backend(backend):
        y = K.gelu_forward(x, approximate=approximate)
        dx = K.gelu_backward(x, dy, approximate=approximate)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol, equal_nan=True)
    want = t.grad.numpy().copy()
    if approximate == "tanh":  # torch's tanh-form gradient at +-inf is 0 * inf = NaN; ours is the limit, dy or 0
        inf = np.isinf(x)
        assert np.isnan(want[inf]).all()
        want[inf] = np.where(x[inf] > 0, dy[inf], 0.0)
    np.testing.assert_allclose(dx, want, rtol=tol, atol=tol, equal_nan=True)
    assert y.dtype == dx.dtype == dtype


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("approximate", MODES)
def test_gradient_vs_finite_differences(backend, approximate):
    require_backend(backend)
    x = np.linspace(-6, 6, 97)
    eps = 1e-6
    with use_backend(backend):
        dx = K.gelu_backward(x, np.ones_like(x), approximate=approximate)
        numeric = K.gelu_forward(x + eps, approximate=approximate) - K.gelu_forward(x - eps, approximate=approximate)
    np.testing.assert_allclose(dx, numeric / (2 * eps), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", MODES)
def test_limits(backend, dtype, approximate):
    """Far from 0: gelu(x) -> x and its slope 1 on the right, gelu(x) -> -0 and its slope 0 on the left; the exact
    form at 0 is 0 with slope 1/2; NaN stays NaN."""
    require_backend(backend)
    x = np.array([30.0, 1e4, 1e30, -30.0, -1e4, -1e30, 0.0, np.nan], dtype)
    with use_backend(backend):
        y = K.gelu_forward(x, approximate=approximate)
        dx = K.gelu_backward(x, np.ones_like(x), approximate=approximate)
    np.testing.assert_array_equal(y[:3], x[:3])
    assert np.all(y[3:7] == 0) and np.isnan(y[7])
    if approximate == "none" or dtype == np.float64:
        np.testing.assert_array_equal(dx[:2], 1.0)
    assert np.all(np.abs(dx[3:5]) < 1e-30)  # the tanh form's slope at -30 is -4e-195, not 0
    assert dx[6] == 0.5 and np.isnan(dx[7])


@pytest.mark.parametrize("backend", ["numba"])
@pytest.mark.parametrize("approximate", MODES)
def test_zero_dim(backend, approximate):
    """A 0-d x gives 0-d arrays back (the reference returns NumPy scalars there: not checked on it yet)."""
    require_backend(backend)
    with use_backend(backend):
        y = K.gelu_forward(np.array(1.5), approximate=approximate)
        dx = K.gelu_backward(np.array(1.5), np.array(2.0), approximate=approximate)
        with use_backend("reference"):
            want_y = K.gelu_forward(np.array(1.5), approximate=approximate)
            want_dx = K.gelu_backward(np.array(1.5), np.array(2.0), approximate=approximate)
    assert isinstance(y, np.ndarray) and y.shape == () and isinstance(dx, np.ndarray) and dx.shape == ()
    assert_close(y, np.asarray(want_y), "y")
    assert_close(dx, np.asarray(want_dx), "dx")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_inf(backend):
    """The formulas as written: gelu(inf) = inf, gelu(-inf) = -inf * 0 = NaN, as torch computes them."""
    require_backend(backend)
    with use_backend(backend):
        y = K.gelu_forward(np.array([np.inf, -np.inf]))
        with use_backend("reference"):
            want = K.gelu_forward(np.array([np.inf, -np.inf]))
    assert_close(y, want, "gelu(+-inf)")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_bad_input(backend):
    require_backend(backend)
    x = np.ones((2, 3))
    with use_backend(backend):
        for bad in ("exact", "Tanh", None, True, 1):
            with pytest.raises(ValueError, match="approximate must be 'none'"):
                K.gelu_forward(x, approximate=bad)
            with pytest.raises(ValueError, match="approximate must be 'none'"):
                K.gelu_backward(x, x, approximate=bad)
        with pytest.raises(ValueError, match=r"dy must have shape x.shape = \(2, 3\)"):
            K.gelu_backward(x, np.ones((3, 2)))
        with pytest.raises(TypeError, match="dy must have dtype float64"):
            K.gelu_backward(x, x.astype(np.float32))
        with pytest.raises(TypeError, match="x must have dtype float32 or float64"):
            K.gelu_forward(x.astype(np.int64))
        with pytest.raises(TypeError, match="x must be an array, got None"):
            K.gelu_forward(None)
