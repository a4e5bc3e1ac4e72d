"""The CUDA element-wise and row kernels against the reference backend: softmax, log_softmax and their
backwards, softmax cross-entropy (class ids and dense targets), layer norm, GELU (both forms), the four
optimizer updates with every option, the embedding lookup and its gradient, and gradient clipping.

Every call goes through seqcore.kernels with CuPy arrays (dispatch picks the cuda backend) and is compared
with the reference backend on the same NumPy inputs, float64 to 1e-10 and float32 to 1e-5 (absolute
tolerances scaled by the expected magnitude): forward values, then caches, then backward results.  Shapes
cover one warp and one block a row (the switch is at 1024), F = 1, N = 1, empty N, 0-d arrays and sizes
over one thread block; values cover large logits, NaN and infinities where the CPU defines the result.
Finite differences check the layer-norm and cross-entropy gradients in float64 through the CUDA kernels
alone, and the column sums and the embedding scatter-add are checked to be reproducible bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import seqcore
from seqcore import kernels as K

cp = pytest.importorskip("cupy")

# NumPy's reference warns on the NaN/Inf inputs below; the results are what is compared.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = (np.float64, np.float32)
TOL = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (1e-5, 1e-6)}


def dtype_id(d: Any) -> str:
    return np.dtype(d).name


def dev(value: Any) -> Any:
    """NumPy arrays (also inside lists, tuples and caches) as CuPy arrays."""
    if isinstance(value, np.ndarray):
        return cp.asarray(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(dev(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(dev(v) for v in value)
    return value


def ref(fn: str, *args: Any, **kwargs: Any) -> Any:
    """seqcore.kernels.<fn> on the reference backend (NumPy arguments)."""
    with seqcore.use_backend("reference"):
        return getattr(K, fn)(*args, **kwargs)


def gpu(fn: str, *args: Any, **kwargs: Any) -> Any:
    """seqcore.kernels.<fn> with the arrays moved to the device: dispatch runs it on the cuda backend."""
    return getattr(K, fn)(*dev(args), **{k: dev(v) for k, v in kwargs.items()})


def close(actual: Any, expected: Any, what: str, *, exact: bool = False) -> None:
    """actual (a CuPy array) equals expected (NumPy) to the dtype's tolerance, NaN where it has NaN."""
    assert isinstance(actual, cp.ndarray), f"{what}: expected a CuPy array, got {type(actual).__name__}"
    expected = np.asarray(expected)
    got = cp.asnumpy(actual)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, expected {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    if exact:
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    rtol, atol = TOL[expected.dtype]
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max()) if finite.size else 0.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, equal_nan=True, err_msg=what)


def normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, scale: float = 1.0) -> np.ndarray:
    return np.asarray(scale * rng.standard_normal(shape), dtype=dtype)


# ---------------------------------------------------------------- softmax family

# 1-D, C = 1, a warp a row (C <= 1024), a block a row (C > 1024), N = 0 in two ways
ROW_SHAPES = [(1,), (7,), (1, 1), (3, 1), (4, 7), (2, 3, 33), (5, 1000), (3, 1024), (3, 1025), (2, 5000), (0, 5),
              (2, 0, 4), (300, 17)]  # fmt: skip


def shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "0d"


def check_softmax_pair(kind: str, x: np.ndarray, dy: np.ndarray, label: str) -> None:
    forward, backward = (("softmax", "softmax_backward") if kind == "softmax" else
                         ("log_softmax", "log_softmax_backward"))  # fmt: skip
    want = ref(forward, x)
    got = gpu(forward, x)
    close(got, want, f"{label}: {forward}")
    # the backward from the same y on both sides, so only the backward itself is compared
    close(gpu(backward, want, dy), ref(backward, want, dy), f"{label}: {backward}")


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_softmax_family_matches_reference(shape, dtype, kind):
    rng = np.random.default_rng([1, len(shape), *shape])
    x, dy = normal(rng, shape, dtype, 3.0), normal(rng, shape, dtype)
    check_softmax_pair(kind, x, dy, f"{kind} {np.dtype(dtype).name} {shape}")


def extreme_rows(dtype: Any) -> np.ndarray:
    """Rows of large logits, NaN, +Inf, all -Inf, some -Inf, and a huge spread."""
    big = 1e300 if dtype == np.float64 else 1e30
    inf, nan = np.inf, np.nan
    rows = [
        [1e4, -1e4, 0.0, 3.0, 2.0],
        [nan, 1.0, 2.0, 3.0, 4.0],
        [inf, 1.0, 2.0, 3.0, 4.0],
        [-inf, -inf, -inf, -inf, -inf],
        [-inf, 0.0, 1.0, 2.0, -inf],
        [big, big, -big, 0.0, 1.0],
        [-big, -big, -big, -big, -big],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ]
    return np.asarray(rows, dtype=dtype)


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_softmax_family_extreme_values(dtype, kind):
    x = extreme_rows(dtype)
    dy = normal(np.random.default_rng(2), x.shape, dtype)
    check_softmax_pair(kind, x, dy, f"{kind} {np.dtype(dtype).name} extreme")
    # the same rows where a block handles each (C > 1024): pad with -inf, which changes nothing
    wide = np.full((x.shape[0], 1500), -np.inf, dtype)
    wide[:, :5] = x
    dy_wide = normal(np.random.default_rng(3), wide.shape, dtype)
    check_softmax_pair(kind, wide, dy_wide, f"{kind} {np.dtype(dtype).name} extreme, 1500 wide")


def test_softmax_rows_sum_to_one_and_nan_rows():
    """A NaN anywhere in a row makes the whole row NaN; other rows are untouched and sum to 1."""
    x = np.random.default_rng(4).standard_normal((6, 2000))
    x[2, 1234] = np.nan
    y = cp.asnumpy(gpu("softmax", x))
    assert np.isnan(y[2]).all()
    others = np.delete(y, 2, axis=0)
    np.testing.assert_allclose(others.sum(axis=-1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------- softmax cross-entropy

CE_SHAPES = [(5,), (1, 1), (4, 7), (2, 3, 33), (3, 1000), (2, 3000), (0, 6), (257, 3)]


def ce_labels(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, sparse: bool) -> np.ndarray:
    if sparse:
        return np.asarray(rng.integers(0, shape[-1], size=shape[:-1]), dtype=np.int64)
    return np.asarray(rng.uniform(0.0, 1.0, shape), dtype=dtype)  # need not sum to 1


def check_cross_entropy(logits: np.ndarray, labels: np.ndarray, dloss: np.ndarray | None, label: str) -> None:
    want_loss, want_cache = ref("softmax_cross_entropy", logits, labels)
    loss, cache = gpu("softmax_cross_entropy", logits, labels)
    close(loss, want_loss, f"{label}: loss")
    close(cache.probs, want_cache.probs, f"{label}: cache.probs")
    assert cache.sparse == want_cache.sparse
    if want_cache.sparse:
        np.testing.assert_array_equal(cp.asnumpy(cp.asarray(cache.labels)), want_cache.labels)
    else:
        close(cp.asarray(cache.labels), want_cache.labels, f"{label}: cache.labels")
    want = ref("softmax_cross_entropy_backward", want_cache, dloss)
    got = K.softmax_cross_entropy_backward(cache, dev(dloss))
    close(got, want, f"{label}: dlogits")


@pytest.mark.parametrize("sparse", [True, False], ids=["ids", "dense"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=shape_id)
def test_cross_entropy_matches_reference(shape, dtype, sparse):
    rng = np.random.default_rng([5, len(shape), *shape, sparse])
    logits = normal(rng, shape, dtype, 3.0)
    labels = ce_labels(rng, shape, dtype, sparse)
    dloss = normal(rng, shape[:-1], dtype)
    label = f"cross-entropy {np.dtype(dtype).name} {shape} {'ids' if sparse else 'dense'}"
    check_cross_entropy(logits, labels, dloss, label)
    check_cross_entropy(logits, labels, None, label + " dloss=None")


@pytest.mark.parametrize("sparse", [True, False], ids=["ids", "dense"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cross_entropy_extreme_values(dtype, sparse):
    x = extreme_rows(dtype)
    rng = np.random.default_rng(6)
    labels = ce_labels(rng, x.shape, dtype, sparse)
    if not sparse:
        labels[0] = 0.0
        labels[0, 1] = 1.0  # one-hot on a logit 2e4 below the max: a loss of 2e4
    dloss = normal(rng, x.shape[:-1], dtype)
    dloss[5] = np.inf  # (p - onehot) * inf: inf or -inf or NaN (0 * inf) as the reference has it
    check_cross_entropy(x, labels, dloss, f"cross-entropy {np.dtype(dtype).name} extreme")


@pytest.mark.parametrize("sparse", [True, False], ids=["ids", "dense"])
def test_cross_entropy_backward_finite_differences(sparse):
    """d(sum_n dloss_n loss_n)/dlogits against central differences, float64, through the CUDA kernels only."""
    rng = np.random.default_rng(7)
    N, C = 4, 6
    logits = rng.standard_normal((N, C))
    labels = ce_labels(rng, (N, C), np.float64, sparse)
    dloss = rng.standard_normal(N)
    _, cache = gpu("softmax_cross_entropy", logits, labels)
    grad = cp.asnumpy(K.softmax_cross_entropy_backward(cache, cp.asarray(dloss)))

    def row_losses(z: np.ndarray) -> np.ndarray:
        loss, _ = gpu("softmax_cross_entropy", z, labels)
        return cp.asnumpy(loss) * dloss

    h = 1e-6
    for c in range(C):  # a column at a time: rows are independent, so each row's change is its own derivative
        up, down = logits.copy(), logits.copy()
        up[:, c] += h
        down[:, c] -= h
        fd = (row_losses(up) - row_losses(down)) / (2 * h)
        np.testing.assert_allclose(grad[:, c], fd, rtol=1e-6, atol=1e-8, err_msg=f"column {c}")


# ---------------------------------------------------------------- layer norm

# F = 1, N = 1, a warp a row, a block a row (F > 1024), many row chunks of the column sums, empty N, 1-D x
NORM_SHAPES = [(1, 1), (4, 7), (1, 64), (3, 1000), (2, 3, 1500), (5000, 16), (700, 33), (0, 8), (6,), (9, 1)]


def check_layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dy: np.ndarray, eps: float, label: str):
    want_y, want_cache = ref("layer_norm_forward", x, gamma, beta, eps=eps)
    y, cache = gpu("layer_norm_forward", x, gamma, beta, eps=eps)
    close(y, want_y, f"{label}: y")
    for field in ("xhat", "mean", "rstd", "gamma"):
        close(cp.asarray(getattr(cache, field)), getattr(want_cache, field), f"{label}: cache.{field}")
    want = ref("layer_norm_backward", want_cache, dy)
    got = K.layer_norm_backward(cache, cp.asarray(dy))
    for name, a, e in zip(("dx", "dgamma", "dbeta"), got, want):
        close(a, e, f"{label}: {name}")
    return cache, got


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", NORM_SHAPES, ids=shape_id)
def test_layer_norm_matches_reference(shape, dtype):
    rng = np.random.default_rng([8, len(shape), *shape])
    F = shape[-1]
    x = normal(rng, shape, dtype, 2.0) + dtype(0.5)
    gamma, beta = normal(rng, (F,), dtype), normal(rng, (F,), dtype)
    dy = normal(rng, shape, dtype)
    check_layer_norm(x, gamma, beta, dy, 1e-5, f"layer_norm {np.dtype(dtype).name} {shape}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_layer_norm_special_rows(dtype):
    """A constant row (var 0: xhat 0, rstd 1/sqrt(eps)), a row far from 0 (the two-pass variance), a NaN row,
    and eps = 0 with a constant row (rstd inf, xhat NaN), as the reference has them."""
    rng = np.random.default_rng(9)
    F = 12
    x = normal(rng, (5, F), dtype)
    x[0] = 3.0
    x[1] = dtype(1e3) + normal(rng, (F,), dtype)
    x[2, 4] = np.nan
    gamma, beta = normal(rng, (F,), dtype), normal(rng, (F,), dtype)
    dy = normal(rng, x.shape, dtype)
    label = f"layer_norm {np.dtype(dtype).name}"
    check_layer_norm(x, gamma, beta, dy, 1e-5, label + " special rows")
    check_layer_norm(x[:1], gamma, beta, dy[:1], 0.0, label + " constant row, eps 0")


def test_layer_norm_backward_is_reproducible():
    """The column sums (dgamma, dbeta) and dx come out bit for bit the same on every run."""
    rng = np.random.default_rng(10)
    x, dy = rng.standard_normal((3000, 40)), rng.standard_normal((3000, 40))
    gamma, beta = rng.standard_normal(40), rng.standard_normal(40)
    _, cache = gpu("layer_norm_forward", x, gamma, beta, eps=1e-5)
    first = [cp.asnumpy(a) for a in K.layer_norm_backward(cache, cp.asarray(dy))]
    for _ in range(3):
        again = [cp.asnumpy(a) for a in K.layer_norm_backward(cache, cp.asarray(dy))]
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)


def test_layer_norm_backward_finite_differences():
    """dx, dgamma, dbeta of sum(y * w) against central differences, float64, through the CUDA kernels only."""
    rng = np.random.default_rng(11)
    N, F, eps = 3, 6, 1e-5
    x, w = rng.standard_normal((N, F)), rng.standard_normal((N, F))
    gamma, beta = rng.standard_normal(F), rng.standard_normal(F)
    _, cache = gpu("layer_norm_forward", x, gamma, beta, eps=eps)
    dx, dgamma, dbeta = (cp.asnumpy(a) for a in K.layer_norm_backward(cache, cp.asarray(w)))

    def row_losses(x_: np.ndarray, g_: np.ndarray, b_: np.ndarray) -> np.ndarray:
        y, _ = gpu("layer_norm_forward", x_, g_, b_, eps=eps)
        return (cp.asnumpy(y) * w).sum(axis=-1)

    h = 1e-6
    for f in range(F):
        up, down = x.copy(), x.copy()
        up[:, f] += h
        down[:, f] -= h
        fd = (row_losses(up, gamma, beta) - row_losses(down, gamma, beta)) / (2 * h)
        np.testing.assert_allclose(dx[:, f], fd, rtol=1e-6, atol=1e-7, err_msg=f"dx[:, {f}]")
        for name, got, which in (("dgamma", dgamma, 0), ("dbeta", dbeta, 1)):
            params = [gamma.copy(), beta.copy()], [gamma.copy(), beta.copy()]
            params[0][which][f] += h
            params[1][which][f] -= h
            fd = (row_losses(x, *params[0]).sum() - row_losses(x, *params[1]).sum()) / (2 * h)
            np.testing.assert_allclose(got[f], fd, rtol=1e-6, atol=1e-7, err_msg=f"{name}[{f}]")


# ---------------------------------------------------------------- GELU

GELU_SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 129), (0, 4), (70001,)]
MODES = ("none", "tanh")


def check_gelu(x: np.ndarray, dy: np.ndarray, approximate: str, label: str) -> None:
    close(gpu("gelu_forward", x, approximate=approximate), ref("gelu_forward", x, approximate=approximate),
          f"{label}: y")  # fmt: skip
    close(gpu("gelu_backward", x, dy, approximate=approximate), ref("gelu_backward", x, dy, approximate=approximate),
          f"{label}: dx")  # fmt: skip


@pytest.mark.parametrize("approximate", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", GELU_SHAPES, ids=shape_id)
def test_gelu_matches_reference(shape, dtype, approximate):
    rng = np.random.default_rng([12, len(shape), *shape])
    x, dy = normal(rng, shape, dtype, 3.0), normal(rng, shape, dtype)
    check_gelu(x, dy, approximate, f"gelu {approximate} {np.dtype(dtype).name} {shape}")


@pytest.mark.parametrize("approximate", MODES)
@pytest.mark.parametrize("spread", [1e-3, 30.0, 1e150])
def test_gelu_small_and_large_float64(approximate, spread):
    rng = np.random.default_rng(13)
    x, dy = spread * rng.standard_normal((4, 50)), rng.standard_normal((4, 50))
    check_gelu(x, dy, approximate, f"gelu {approximate} spread {spread}")


@pytest.mark.parametrize("approximate", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_gelu_special_values(dtype, approximate):
    """Zeros, tiny and huge values, NaN and the infinities: the reference's results (limits, NaN) exactly where."""
    x = np.asarray([0.0, -0.0, 1e-30, -1e-30, 4.0, -4.0, 9.0, -9.0, 40.0, -40.0, 1e10, -1e10, np.nan, np.inf,
                    -np.inf], dtype=dtype)  # fmt: skip
    dy = np.asarray(np.random.default_rng(14).standard_normal(x.shape), dtype=dtype)
    check_gelu(x, dy, approximate, f"gelu {approximate} {np.dtype(dtype).name} special")


# ---------------------------------------------------------------- optimizer updates

# variant: (kernel, hyper-parameters, state arrays given positionally ("-name": None), state arrays by keyword)
OPTIMIZERS: dict[str, tuple[str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "sgd": ("sgd_update", {"lr": 0.1}, ("-velocity",), ()),
    "sgd_unused_velocity": ("sgd_update", {"lr": 0.1}, ("velocity",), ()),
    "sgd_momentum": ("sgd_update", {"lr": 0.1, "momentum": 0.9}, ("velocity",), ()),
    "sgd_nesterov": ("sgd_update", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, ("velocity",), ()),
    "adam": ("adam_update", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, ("m", "v"), ()),
    "adamw": ("adam_update", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3, "weight_decay": 0.05},
              ("m", "v"), ()),
    "amsgrad": ("adam_update", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, ("m", "v"), ("vhat",)),
    "amsgrad_adamw": ("adam_update", {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1},
                      ("m", "v"), ("vhat",)),
    "rmsprop": ("rmsprop_update", {"lr": 0.01, "rho": 0.9, "momentum": 0.0, "eps": 1e-7},
                ("velocity", "-momentum_buf"), ()),
    "rmsprop_unused_buf": ("rmsprop_update", {"lr": 0.01, "rho": 0.9, "momentum": 0.0, "eps": 1e-7},
                           ("velocity", "momentum_buf"), ()),
    "rmsprop_momentum": ("rmsprop_update", {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "eps": 1e-7},
                         ("velocity", "momentum_buf"), ()),
    "rmsprop_centered": ("rmsprop_update", {"lr": 0.01, "rho": 0.8, "momentum": 0.0, "eps": 1e-6},
                         ("velocity", "-momentum_buf"), ("mg",)),
    "rmsprop_centered_momentum": ("rmsprop_update", {"lr": 0.01, "rho": 0.8, "momentum": 0.5, "eps": 1e-6},
                                  ("velocity", "momentum_buf"), ("mg",)),
    "adagrad": ("adagrad_update", {"lr": 0.1, "eps": 1e-7}, ("accumulator",), ()),
}  # fmt: skip
POSITIVE_STATES = {"v", "vhat", "accumulator"}


def optimizer_state(rng: np.random.Generator, variant: str, dtype: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    _, _, positional, keyword = OPTIMIZERS[variant]
    arrays: dict[str, Any] = {"param": rng.standard_normal(shape)}
    for name in (*positional, *keyword):
        if name.startswith("-"):
            arrays[name[1:]] = None
        elif name in POSITIVE_STATES:
            arrays[name] = rng.uniform(0.0, 1.0, shape)
        elif name == "velocity" and variant.startswith("rmsprop"):  # a mean square, above mg**2
            arrays[name] = rng.uniform(0.5, 1.5, shape)
        else:
            arrays[name] = 0.3 * rng.standard_normal(shape)
    if "mg" in arrays:
        arrays["velocity"] = arrays["velocity"] + arrays["mg"] ** 2
    return {k: (v if v is None else np.asarray(v, dtype=dtype)) for k, v in arrays.items()}


def optimizer_step(variant: str, arrays: dict[str, Any], grad: Any, step: int) -> Any:
    kernel, hyper, positional, keyword = OPTIMIZERS[variant]
    args = [arrays[name.lstrip("-")] for name in positional]
    kwargs = {**hyper, **{name: arrays[name] for name in keyword}}
    if kernel == "adam_update":
        kwargs["step"] = step
    return getattr(K, kernel)(arrays["param"], grad, *args, **kwargs)


def check_optimizer(variant: str, dtype: Any, shape: tuple[int, ...], grads: list[np.ndarray], label: str) -> None:
    rng = np.random.default_rng([15, len(shape), *shape])
    want = optimizer_state(rng, variant, dtype, shape)
    ours = {k: dev(v) for k, v in want.items()}
    before = {k: v.copy() for k, v in ours.items() if v is not None}
    identity = {k: id(v) for k, v in ours.items()}
    for step, g in enumerate(grads, start=1):
        with seqcore.use_backend("reference"):
            assert optimizer_step(variant, want, g, step) is None
        assert optimizer_step(variant, ours, cp.asarray(g), step) is None
    assert {k: id(v) for k, v in ours.items()} == identity, f"{label}: arrays replaced, not updated in place"
    for name, expected in want.items():
        if expected is None:
            assert ours[name] is None
            continue
        close(ours[name], expected, f"{label}: {name}")
    kernel, hyper = OPTIMIZERS[variant][:2]
    unused = {"sgd_update": "velocity", "rmsprop_update": "momentum_buf"}.get(kernel)
    if unused in before and hyper.get("momentum", 0.0) == 0.0:  # given without momentum: left as it was
        close(ours[unused], cp.asnumpy(before[unused]), f"{label}: unused {unused}", exact=True)


@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(5, 7), (1,), (3000,), (0,)], ids=shape_id)
def test_optimizer_matches_reference(shape, dtype, variant):
    rng = np.random.default_rng([16, len(shape), *shape])
    grads = [normal(rng, shape, dtype) for _ in range(3)]
    check_optimizer(variant, dtype, shape, grads, f"{variant} {np.dtype(dtype).name} {shape}")


@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_optimizer_nan_and_inf_gradients(dtype, variant):
    """NaN and +-Inf in the gradient (and huge values whose square overflows in float32) spread where the
    reference's arithmetic spreads them, finite entries updated as usual."""
    rng = np.random.default_rng(17)
    g = normal(rng, (4, 6), dtype)
    g[0, 0], g[1, 2], g[2, 3], g[3, 5] = np.nan, np.inf, -np.inf, dtype(1e30)
    grads = [g, normal(rng, (4, 6), dtype)]
    check_optimizer(variant, dtype, (4, 6), grads, f"{variant} {np.dtype(dtype).name} nan/inf")


def test_adam_first_step_is_sign_times_lr():
    """From zero moments the first step is -lr * sign(g) (bias correction, eps 0), in float64 to rounding."""
    g = cp.asarray([0.5, -2.0, 1e-3])
    p, m, v = cp.zeros(3), cp.zeros(3), cp.zeros(3)
    K.adam_update(p, g, m, v, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0, step=1)
    np.testing.assert_allclose(cp.asnumpy(p), -0.1 * np.sign(cp.asnumpy(g)), rtol=1e-12)


# ---------------------------------------------------------------- embedding

# (V, E, ids shape, how ids are drawn): repeats, a single row, a large vocabulary (more sort bits), a 0-d id,
# one hot id repeated 1800 times, no ids, E = 0, V = 0 with no ids
EMBEDDING_CASES = [
    (7, 5, (4, 6), "uniform"),
    (1, 3, (10,), "uniform"),
    (50000, 16, (3000,), "uniform"),
    (3, 1, (), "uniform"),
    (10, 33, (2000,), "hot"),
    (5, 4, (0,), "uniform"),
    (5, 4, (2, 0), "uniform"),
    (4, 0, (3,), "uniform"),
    (0, 6, (0,), "uniform"),
    (300, 257, (40, 3), "uniform"),
]


def embedding_id(case: tuple) -> str:
    V, E, shape, kind = case
    return f"V{V}E{E}ids{shape_id(shape)}-{kind}"


def make_ids(rng: np.random.Generator, V: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if V == 0:
        return np.zeros(shape, np.int64)
    ids = rng.integers(0, V, size=shape)
    if kind == "hot":
        ids = np.where(rng.random(shape) < 0.9, 4, ids)
    return np.asarray(ids, dtype=np.int64)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("case", EMBEDDING_CASES, ids=embedding_id)
def test_embedding_matches_reference(case, dtype):
    V, E, shape, kind = case
    rng = np.random.default_rng([18, V, E, len(shape), *shape])
    weights = normal(rng, (V, E), dtype)
    ids = make_ids(rng, V, shape, kind)
    dy = normal(rng, (*shape, E), dtype)
    label = f"embedding {np.dtype(dtype).name} {embedding_id(case)}"
    close(gpu("embedding_forward", weights, ids), ref("embedding_forward", weights, ids), f"{label}: y", exact=True)
    close(gpu("embedding_backward", ids, dy, V), ref("embedding_backward", ids, dy, V), f"{label}: dW")


def test_embedding_backward_adds_in_position_order():
    """Repeated ids are summed from 0 in position order, the CPU's (and np.add.at's) order, so float64 agrees
    bit for bit, on every run; values of very different size make the order visible."""
    rng = np.random.default_rng(19)
    ids = np.asarray(rng.integers(0, 6, size=5000), dtype=np.int64)
    dy = rng.standard_normal((5000, 9)) * np.exp(rng.uniform(-30, 30, (5000, 1)))
    want = np.zeros((6, 9))
    for n, i in enumerate(ids):  # the documented order, spelled out
        want[i] += dy[n]
    first = gpu("embedding_backward", ids, dy, 6)
    close(first, want, "dW", exact=True)
    for _ in range(2):
        close(gpu("embedding_backward", ids, dy, 6), cp.asnumpy(first), "dW again", exact=True)


# ---------------------------------------------------------------- gradient clipping


def clip_grads(seed: int, with_nan: bool = False) -> list[np.ndarray]:
    """Mixed dtypes and shapes: 2-D, 1-D, empty, 0-d, and one over many blocks of the sum of squares."""
    rng = np.random.default_rng(seed)
    grads = [
        normal(rng, (4, 5), np.float64, 3.0),
        normal(rng, (7,), np.float32, 3.0),
        np.zeros((0, 3), np.float64),
        np.asarray(2.5, np.float32),
        normal(rng, (300_001,), np.float32, 0.01),
    ]
    if with_nan:
        grads[0][1, 2] = np.nan
    return grads


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("with_nan", [False, True], ids=["finite", "nan"])
def test_clip_by_value_matches_reference(with_nan, inplace):
    grads = clip_grads(20, with_nan)
    want = ref("clip_by_value", [g.copy() for g in grads], -0.5, 0.7)
    ours = [cp.asarray(g) for g in grads]
    got = K.clip_by_value(ours, -0.5, 0.7, inplace=inplace)
    assert len(got) == len(want)
    for k, (a, e) in enumerate(zip(got, want)):
        close(a, e, f"clip_by_value grads[{k}]", exact=True)
        if inplace:
            assert a is ours[k], f"grads[{k}]: inplace=True must return the caller's array"
    if not inplace:
        for k, (a, g) in enumerate(zip(ours, grads)):
            close(a, g, f"grads[{k}] left as given", exact=True)


def test_clip_by_value_strided_view_in_place():
    """A strided CuPy view clipped in place: the base array changes where the view looks, nowhere else."""
    base = cp.asarray(np.random.default_rng(21).standard_normal((6, 8)) * 3)
    expected = cp.asnumpy(base)
    expected[:, ::2] = np.clip(expected[:, ::2], -1.0, 1.0)
    view = base[:, ::2]
    (out,) = K.clip_by_value([view], -1.0, 1.0, inplace=True)
    assert out is view
    close(base, expected, "base after clipping a view", exact=True)


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("max_norm", [1.0, 1e6], ids=["clipped", "unclipped"])
@pytest.mark.parametrize("with_nan", [False, True], ids=["finite", "nan"])
def test_clip_by_global_norm_matches_reference(with_nan, max_norm, inplace):
    grads = clip_grads(22, with_nan)
    want, want_norm = ref("clip_by_global_norm", [g.copy() for g in grads], max_norm)
    ours = [cp.asarray(g) for g in grads]
    got, norm = K.clip_by_global_norm(ours, max_norm, inplace=inplace)
    assert isinstance(norm, float)
    if with_nan:
        assert np.isnan(norm)
    else:
        np.testing.assert_allclose(norm, want_norm, rtol=1e-12)
    for k, (a, e) in enumerate(zip(got, want)):
        close(a, e, f"clip_by_global_norm grads[{k}]")
        if inplace:
            assert a is ours[k], f"grads[{k}]: inplace=True must return the caller's array"


def test_clip_by_global_norm_overflowing_sum_and_empty_list():
    """Finite values whose squares overflow are still clipped (the norm taken scaled); no arrays: norm 0."""
    grads = [np.full(3, 1e200), np.asarray([1e199, -2e199])]
    want, want_norm = ref("clip_by_global_norm", [g.copy() for g in grads], 5.0)
    got, norm = K.clip_by_global_norm([cp.asarray(g) for g in grads], 5.0)
    np.testing.assert_allclose(norm, want_norm, rtol=1e-12)
    for a, e in zip(got, want):
        close(cp.asarray(a), e, "clipped huge gradient")
    out, norm = K.clip_by_global_norm([cp.zeros(0)], 1.0)
    assert norm == 0.0 and out[0].shape == (0,)
