"""Shared test machinery: backend loading, tolerances, seeded inputs and the one reference comparison.

Every kernel test is phrased as a :class:`Case`: a seeded recipe for fresh inputs, a
forward that runs on the active backend and returns named outputs plus the cache, and
optionally the upstream gradients and a backward.  :func:`check_against_reference` runs
a case on the reference backend and on an implementation and compares, values first,
then gradients, under explicit per-dtype tolerances.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from seqcore import _backend, use_backend
from seqcore import kernels as K

FAST_BACKENDS = ("cpp", "numba")
ALL_BACKENDS = ("reference", *FAST_BACKENDS)
DTYPES = (np.float32, np.float64)
KERNEL_NAMES = tuple(name for name in K.__all__ if not isinstance(getattr(K, name), type))  # not the NamedTuples
ALLOW_MISSING = "SEQCORE_ALLOW_MISSING_BACKENDS"


# ---------------------------------------------------------------- backends


def backend_problem(name: str) -> str | None:
    """Why backend ``name`` cannot run the kernels, or None when it can."""
    try:
        module = _backend.load(name)
    except ImportError as exc:
        return str(exc)
    if getattr(module, "NAME", None) != name:
        return f"seqcore backend {name!r} imported as {module!r}, whose NAME is {getattr(module, 'NAME', None)!r}"
    missing = [k for k in KERNEL_NAMES if not callable(getattr(module, k, None))]
    if missing:
        return f"seqcore backend {name!r} lacks {', '.join(missing)}"
    return None


def require_backend(name: str) -> None:
    """Fail the test when ``name`` cannot load (skip instead when SEQCORE_ALLOW_MISSING_BACKENDS=1)."""
    reason = backend_problem(name)
    if reason is None:
        return
    if os.environ.get(ALLOW_MISSING) == "1":
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


# ---------------------------------------------------------------- tolerances


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float  # scaled by max(1, max |expected|) of the array compared


TOLERANCES = {
    np.dtype(np.float32): Tolerance(rtol=1e-5, atol=1e-5),
    np.dtype(np.float64): Tolerance(rtol=1e-10, atol=1e-10),
}


def magnitude(a: np.ndarray) -> float:
    finite = np.abs(a[np.isfinite(a)])
    return max(1.0, float(finite.max()) if finite.size else 0.0)


def assert_close(actual: Any, expected: Any, what: str, tol: Tolerance | None = None) -> None:
    """Same type, dtype and shape, and values within tol (NaN where expected is NaN, same infinities)."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), f"{what}: expected a NumPy array, got {type(actual).__name__}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, expected {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    if expected.dtype not in TOLERANCES:  # lengths, flags: exact
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    tol = tol or TOLERANCES[expected.dtype]
    np.testing.assert_allclose(
        actual, expected, rtol=tol.rtol, atol=tol.atol * magnitude(expected), equal_nan=True, err_msg=what
    )


def assert_same_values(actual: Any, expected: Any, what: str) -> None:
    """Exactly equal (inputs a kernel must not have changed)."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray) and actual.shape == expected.shape, what
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), what
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_same_values(a, e, f"{what}[{k}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), what
        for key in expected:
            assert_same_values(actual[key], expected[key], f"{what}[{key!r}]")
    else:
        assert actual == expected, what


# ---------------------------------------------------------------- the comparison


@dataclass
class Case:
    """A seeded kernel invocation.

    make_inputs() returns fresh keyword arguments for ``forward`` (identical every call);
    forward(**inputs) returns ({output name: array}, cache) on the active backend;
    make_upstream() returns fresh keyword arguments for ``backward(cache, **upstream)``,
    which returns {gradient name: array}.
    grad_of maps each gradient to the input it differentiates, and pairs maps each
    upstream gradient to the output it weights (used by the finite-difference tests).
    """

    label: str
    make_inputs: Callable[[], dict[str, Any]]
    forward: Callable[..., tuple[dict[str, np.ndarray], Any]]
    make_upstream: Callable[[], dict[str, Any]] | None = None
    backward: Callable[..., dict[str, np.ndarray]] | None = None
    grad_of: dict[str, str] = field(default_factory=dict)
    pairs: dict[str, str] = field(default_factory=dict)
    mutates_inputs: bool = False
    tol: Tolerance | None = None


def run_case(case: Case, backend: str, backward_backend: str | None = None) -> tuple[dict, dict | None]:
    """Outputs and gradients of ``case`` with the forward on ``backend`` and the backward on ``backward_backend``."""
    inputs = case.make_inputs()
    with use_backend(backend):
        out, cache = case.forward(**inputs)
    if case.backward is None:
        return out, None
    upstream = case.make_upstream() if case.make_upstream else {}
    with use_backend(backward_backend or backend):
        grads = case.backward(cache, **upstream)
    return out, grads


def _snapshot(cache: Any) -> list[Any]:
    if isinstance(cache, np.ndarray):
        return [cache.copy()]
    if isinstance(cache, tuple):
        return [v.copy() if isinstance(v, np.ndarray) else v for v in cache]
    return [cache]


def check_against_reference(
    case: Case, backend: str, *, backward_backend: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """THE comparison: run ``case`` on the reference and on ``backend``, values first, then gradients.

    With ``backward_backend`` the backward runs there on ``backend``'s cache (cache interchange).
    Also checks that neither call changed its inputs (unless the case mutates them by design).
    """
    require_backend(backend)
    if backward_backend is not None:
        require_backend(backward_backend)
    bwd = backward_backend or backend
    where = backend if bwd == backend else f"{backend}->{bwd}"

    with use_backend("reference"):
        ref_out, ref_cache = case.forward(**case.make_inputs())
    inputs, pristine = case.make_inputs(), case.make_inputs()
    with use_backend(backend):
        out, cache = case.forward(**inputs)
    assert sorted(out) == sorted(ref_out), f"{case.label} [{where}]: outputs {sorted(out)} != {sorted(ref_out)}"
    for name in ref_out:
        assert_close(out[name], ref_out[name], f"{case.label} [{where}] forward {name}", case.tol)
    if not case.mutates_inputs:
        for name, value in pristine.items():
            assert_same_values(inputs[name], value, f"{case.label} [{where}] forward changed its input {name}")
    if case.backward is None:
        return out, None

    make_upstream = case.make_upstream or dict
    with use_backend("reference"):
        ref_grads = case.backward(ref_cache, **make_upstream())
    upstream, pristine = make_upstream(), make_upstream()
    cache_before = _snapshot(cache)
    with use_backend(bwd):
        grads = case.backward(cache, **upstream)
    assert_same_values(_snapshot(cache), cache_before, f"{case.label} [{where}] backward changed the cache")
    assert sorted(grads) == sorted(ref_grads), f"{case.label} [{where}]: gradients {sorted(grads)}"
    for name in ref_grads:
        assert_close(grads[name], ref_grads[name], f"{case.label} [{where}] backward {name}", case.tol)
    for name, value in pristine.items():
        assert_same_values(upstream[name], value, f"{case.label} [{where}] backward changed its input {name}")
    return out, grads


# ---------------------------------------------------------------- seeded inputs


def make_lengths(rng: np.random.Generator, B: int, T: int, kind: Any) -> np.ndarray | None:
    """None; "full" (all T); "zeros"; "mixed" (0 and T present when B >= 2, the rest random); or an explicit list."""
    if kind is None:
        return None
    if not isinstance(kind, str):
        return np.asarray(kind, dtype=np.int64)
    if kind == "full":
        return np.full(B, T, dtype=np.int64)
    if kind == "zeros":
        return np.zeros(B, dtype=np.int64)
    if kind == "mixed":
        L = rng.integers(0, T + 1, size=B)
        if B >= 2:
            L[:2] = (0, T)
        if B >= 3:
            L[2] = max(T - 1, 0)
        return rng.permutation(L).astype(np.int64)
    raise ValueError(f"unknown lengths kind {kind!r}")


GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def recurrent_inputs(
    rng: np.random.Generator,
    kind: str,
    dtype: Any,
    B: int,
    T: int,
    D: int,
    H: int,
    *,
    reset_after: bool = True,
) -> dict[str, np.ndarray]:
    """x, h0 (, c0), W, U, b with weights ~ 1/sqrt(fan_in) so the gates are not saturated."""
    G = GATES[kind]
    arrays = {
        "x": rng.standard_normal((B, T, D)),
        "h0": 0.5 * rng.standard_normal((B, H)),
        "W": rng.standard_normal((D, G * H)) / math.sqrt(max(D, 1)),
        "U": rng.standard_normal((H, G * H)) / math.sqrt(max(H, 1)),
    }
    if kind == "lstm":
        arrays["c0"] = 0.5 * rng.standard_normal((B, H))
    if kind == "gru" and reset_after:
        arrays["b"] = 0.2 * rng.standard_normal((2, 3 * H))
    else:
        arrays["b"] = 0.2 * rng.standard_normal(G * H)
    return {k: v.astype(dtype) for k, v in arrays.items()}


def recurrent_upstream(
    rng: np.random.Generator, kind: str, dtype: Any, B: int, T: int, H: int, which: str = "all"
) -> dict[str, np.ndarray | None]:
    """dy, dhT (, dcT): "all" given, "none" (all None), "dy" only, or "final" (dhT/dcT only)."""
    names = ["dy", "dhT"] + (["dcT"] if kind == "lstm" else [])
    shapes = {"dy": (B, T, H), "dhT": (B, H), "dcT": (B, H)}
    out: dict[str, np.ndarray | None] = {n: rng.standard_normal(shapes[n]).astype(dtype) for n in names}
    keep = {"all": names, "none": [], "dy": ["dy"], "final": [n for n in names if n != "dy"]}[which]
    return {n: (v if n in keep else None) for n, v in out.items()}


def _cache_outputs(cache: Any) -> dict[str, Any]:
    """The cache's arrays and flags as outputs, so a backend's cache is compared with the reference's."""
    out = {}
    for name, value in cache._asdict().items():
        if isinstance(value, np.ndarray):
            out[f"cache.{name}"] = value
        else:  # lengths None / flags: compare exactly through a 0-d or int array
            out[f"cache.{name}"] = np.asarray(-1 if value is None else value, dtype=np.int64)
    return out


def named(names: tuple[str, ...], result: Any, what: str) -> dict[str, Any]:
    """{name: value} for a kernel's tuple result, which must have exactly len(names) items."""
    assert isinstance(result, tuple) and len(result) == len(names), f"{what} returned {result!r:.200}"
    return dict(zip(names, result))


def _lstm_forward(x, h0, c0, W, U, b, lengths=None, reverse=False):
    y, hT, cT, cache = K.lstm_forward(x, h0, c0, W, U, b, lengths=lengths, reverse=reverse)
    assert isinstance(cache, K.LSTMCache), type(cache)
    return {"y": y, "hT": hT, "cT": cT, **_cache_outputs(cache)}, cache


def _lstm_backward(cache, dy=None, dhT=None, dcT=None):
    return named(("dx", "dh0", "dc0", "dW", "dU", "db"), K.lstm_backward(cache, dy, dhT, dcT), "lstm_backward")


def _gru_forward(x, h0, W, U, b, reset_after=True, lengths=None, reverse=False):
    y, hT, cache = K.gru_forward(x, h0, W, U, b, reset_after=reset_after, lengths=lengths, reverse=reverse)
    assert isinstance(cache, K.GRUCache), type(cache)
    return {"y": y, "hT": hT, **_cache_outputs(cache)}, cache


def _gru_backward(cache, dy=None, dhT=None):
    return named(("dx", "dh0", "dW", "dU", "db"), K.gru_backward(cache, dy, dhT), "gru_backward")


def _rnn_forward(x, h0, W, U, b, lengths=None, reverse=False):
    y, hT, cache = K.rnn_forward(x, h0, W, U, b, lengths=lengths, reverse=reverse)
    assert isinstance(cache, K.RNNCache), type(cache)
    return {"y": y, "hT": hT, **_cache_outputs(cache)}, cache


def _rnn_backward(cache, dy=None, dhT=None):
    return named(("dx", "dh0", "dW", "dU", "db"), K.rnn_backward(cache, dy, dhT), "rnn_backward")


_SEQ = {
    "lstm": (_lstm_forward, _lstm_backward),
    "gru": (_gru_forward, _gru_backward),
    "rnn": (_rnn_forward, _rnn_backward),
}


def recurrent_case(
    kind: str,
    dtype: Any,
    *,
    B: int = 5,
    T: int = 7,
    D: int = 6,
    H: int = 9,
    lengths: Any = "mixed",
    reverse: bool = False,
    upstream: str = "all",
    reset_after: bool = True,
    seed: int = 0,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Case:
    """Forward + backward of an LSTM / GRU / RNN over whole sequences.

    transform(inputs) may alter the fresh inputs (non-contiguous views, NaNs ...).
    """
    forward, backward = _SEQ[kind]
    dt = np.dtype(dtype)
    label = f"{kind}{'' if kind != 'gru' else f'(reset_after={reset_after})'} {dt} B={B} T={T} D={D} H={H} "
    label += f"lengths={lengths if lengths is None or isinstance(lengths, str) else list(lengths)} "
    label += f"reverse={reverse} upstream={upstream} seed={seed}"

    def make_inputs():
        rng = np.random.default_rng([seed, B, T, D, H, GATES[kind]])
        inputs: dict[str, Any] = recurrent_inputs(rng, kind, dt, B, T, D, H, reset_after=reset_after)
        inputs["lengths"] = make_lengths(rng, B, T, lengths)
        inputs["reverse"] = reverse
        if kind == "gru":
            inputs["reset_after"] = reset_after
        return transform(inputs) if transform else inputs

    def make_upstream():
        rng = np.random.default_rng([seed + 1, B, T, D, H, GATES[kind]])
        return recurrent_upstream(rng, kind, dt, B, T, H, upstream)

    grad_of = {"dx": "x", "dh0": "h0", "dW": "W", "dU": "U", "db": "b"}
    pairs = {"dy": "y", "dhT": "hT"}
    if kind == "lstm":
        grad_of["dc0"] = "c0"
        pairs["dcT"] = "cT"
    return Case(label, make_inputs, forward, make_upstream, backward, grad_of, pairs)


def cell_case(kind: str, dtype: Any, *, B: int = 4, D: int = 5, H: int = 7, reset_after: bool = True, seed: int = 0):
    """One step of an LSTM / GRU / RNN cell."""
    dt = np.dtype(dtype)

    def make_inputs():
        rng = np.random.default_rng([seed, B, D, H, GATES[kind], 7])
        seq = recurrent_inputs(rng, kind, dt, B, 1, D, H, reset_after=reset_after)
        inputs = {"x": seq["x"][:, 0].copy(), "h": seq["h0"], "W": seq["W"], "U": seq["U"], "b": seq["b"]}
        if kind == "lstm":
            inputs["c"] = seq["c0"]
        if kind == "gru":
            inputs["reset_after"] = reset_after
        return inputs

    def forward(**inp):
        if kind == "lstm":
            h, c = K.lstm_cell(inp["x"], inp["h"], inp["c"], inp["W"], inp["U"], inp["b"])
            return {"h": h, "c": c}, None
        if kind == "gru":
            return {"h": K.gru_cell(inp["x"], inp["h"], inp["W"], inp["U"], inp["b"], reset_after=reset_after)}, None
        return {"h": K.rnn_cell(inp["x"], inp["h"], inp["W"], inp["U"], inp["b"])}, None

    label = f"{kind}_cell {dt} B={B} D={D} H={H}" + (f" reset_after={reset_after}" if kind == "gru" else "")
    return Case(label, make_inputs, forward)


def softmax_case(
    fn: str,
    dtype: Any,
    shape: tuple[int, ...] = (4, 11),
    *,
    scale: float = 3.0,
    seed: int = 0,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Case:
    """softmax or log_softmax forward, then its backward on the produced y and a random dy."""
    dt = np.dtype(dtype)
    fwd, bwd = (K.softmax, K.softmax_backward) if fn == "softmax" else (K.log_softmax, K.log_softmax_backward)

    def make_inputs():
        rng = np.random.default_rng([seed, len(shape), *shape, 11])
        inputs = {"x": (scale * rng.standard_normal(shape)).astype(dt)}
        return transform(inputs) if transform else inputs

    def make_upstream():
        rng = np.random.default_rng([seed + 1, len(shape), *shape, 11])
        return {"dy": rng.standard_normal(shape).astype(dt)}

    def forward(x):
        y = fwd(x)
        return {"y": y}, y

    def backward(y, dy):
        return {"dx": bwd(y, dy)}

    label = f"{fn} {dt} shape={shape} scale={scale}"
    return Case(label, make_inputs, forward, make_upstream, backward, {"dx": "x"}, {"dy": "y"})


def softmax_backward_case(fn: str, dtype: Any, shape: tuple[int, ...] = (4, 11), *, seed: int = 0) -> Case:
    """softmax_backward / log_softmax_backward alone, on identical (reference-made) y and dy."""
    dt = np.dtype(dtype)
    fwd = {"softmax": np.exp, "log_softmax": lambda a: a}[fn]
    bwd = K.softmax_backward if fn == "softmax" else K.log_softmax_backward

    def make_inputs():
        rng = np.random.default_rng([seed, len(shape), *shape, 13])
        logits = 2.0 * rng.standard_normal(shape)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return {"y": fwd(logp).astype(dt), "dy": rng.standard_normal(shape).astype(dt)}

    def forward(y, dy):
        return {"dx": bwd(y, dy)}, None

    return Case(f"{fn}_backward {dt} shape={shape}", make_inputs, forward)


def cross_entropy_case(
    dtype: Any,
    shape: tuple[int, ...] = (6, 5),
    *,
    target: str = "sparse",
    dloss: str = "random",
    scale: float = 2.0,
    seed: int = 0,
) -> Case:
    """softmax_cross_entropy with sparse ids or a dense target ("onehot", "dist", "unnormalized"), and its backward."""
    dt = np.dtype(dtype)
    C = shape[-1]

    def make_inputs():
        rng = np.random.default_rng([seed, len(shape), *shape, 17])
        logits = (scale * rng.standard_normal(shape)).astype(dt)
        ids = rng.integers(0, C, size=shape[:-1])
        if target == "sparse":
            labels: np.ndarray = ids.astype(np.int64)
        elif target == "onehot":
            labels = np.eye(C, dtype=dt)[ids]
        elif target == "dist":
            p = np.exp(rng.standard_normal(shape))
            labels = (p / p.sum(axis=-1, keepdims=True)).astype(dt)
        else:  # unnormalized non-negative weights (label smoothing sums, masks ...)
            labels = rng.uniform(0.0, 2.0, size=shape).astype(dt)
        return {"logits": logits, "labels": labels}

    def make_upstream():
        rng = np.random.default_rng([seed + 1, len(shape), *shape, 17])
        return {"dloss": None if dloss == "none" else rng.uniform(-1.0, 2.0, size=shape[:-1]).astype(dt)}

    def forward(logits, labels):
        loss, cache = K.softmax_cross_entropy(logits, labels)
        assert isinstance(cache, K.SoftmaxCrossEntropyCache), type(cache)
        return {"loss": loss, **_cache_outputs(cache)}, cache

    def backward(cache, dloss=None):
        return {"dlogits": K.softmax_cross_entropy_backward(cache, dloss)}

    label = f"softmax_cross_entropy {dt} shape={shape} target={target} dloss={dloss}"
    return Case(label, make_inputs, forward, make_upstream, backward, {"dlogits": "logits"}, {"dloss": "loss"})


def grads_list(seed: int, dtypes: tuple[Any, ...], shapes: tuple[tuple[int, ...], ...], scale: float = 3.0):
    rng = np.random.default_rng([seed, len(shapes), 19])
    return [np.asarray(scale * rng.standard_normal(s), dtype=dt) for dt, s in zip(dtypes, shapes)]


def _check_inplace(grads: list[np.ndarray], out: list[np.ndarray], inplace: bool, label: str) -> None:
    assert isinstance(out, list) and len(out) == len(grads), f"{label}: returned {type(out).__name__}"
    for k, (g, o) in enumerate(zip(grads, out)):
        if inplace:
            assert o is g or np.shares_memory(g, o) or g.size == 0, f"{label}: inplace=True returned a new grads[{k}]"
            np.testing.assert_array_equal(g, o, err_msg=f"{label}: grads[{k}] not updated in place")
        else:
            assert not np.shares_memory(g, o), f"{label}: inplace=False returned grads[{k}] itself"


def clip_value_case(
    dtypes: tuple[Any, ...] = (np.float64,),
    shapes: tuple[tuple[int, ...], ...] = ((5, 7),),
    *,
    lo: float = -1.0,
    hi: float = 1.5,
    inplace: bool = False,
    seed: int = 0,
    transform: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
) -> Case:
    def make_inputs():
        g = grads_list(seed, dtypes, shapes)
        return {"grads": transform(g) if transform else g}

    def forward(grads):
        out = K.clip_by_value(grads, lo, hi, inplace=inplace)
        _check_inplace(grads, out, inplace, "clip_by_value")
        return {f"out[{k}]": o for k, o in enumerate(out)}, None

    dts = ",".join(str(np.dtype(d)) for d in dtypes)
    label = f"clip_by_value [{dts}] shapes={shapes} [{lo}, {hi}] inplace={inplace}"
    return Case(label, make_inputs, forward, mutates_inputs=inplace)


def clip_norm_case(
    dtypes: tuple[Any, ...] = (np.float64,),
    shapes: tuple[tuple[int, ...], ...] = ((5, 7),),
    *,
    max_norm: float = 2.0,
    inplace: bool = False,
    seed: int = 0,
    single_array: bool = False,
    transform: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
) -> Case:
    def make_inputs():
        g = grads_list(seed, dtypes, shapes)
        g = transform(g) if transform else g
        return {"grads": g[0] if single_array else g}

    def forward(grads):
        out, norm = K.clip_by_global_norm(grads, max_norm, inplace=inplace)
        assert isinstance(norm, float), f"clip_by_global_norm returned the norm as {type(norm).__name__}"
        _check_inplace([grads] if single_array else grads, out, inplace, "clip_by_global_norm")
        return {"norm": np.asarray(norm, dtype=np.float64), **{f"out[{k}]": o for k, o in enumerate(out)}}, None

    dts = ",".join(str(np.dtype(d)) for d in dtypes)
    label = f"clip_by_global_norm [{dts}] shapes={shapes} max_norm={max_norm} inplace={inplace}"
    tol = TOLERANCES[min((np.dtype(d) for d in dtypes), key=lambda d: d.itemsize)] if dtypes else None
    return Case(label, make_inputs, forward, mutates_inputs=inplace, tol=tol)


# ---------------------------------------------------------------- optimizer updates

# variant -> (kernel, hyper-parameters, state arrays passed positionally, state arrays passed by keyword)
OPTIMIZERS: dict[str, tuple[str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "sgd": ("sgd_update", {"lr": 0.1}, ("velocity",), ()),
    "sgd_no_velocity": ("sgd_update", {"lr": 0.1}, ("-velocity",), ()),
    "sgd_momentum": ("sgd_update", {"lr": 0.1, "momentum": 0.9}, ("velocity",), ()),
    "sgd_nesterov": ("sgd_update", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, ("velocity",), ()),
    "adam": ("adam_update", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, ("m", "v"), ()),
    "adamw": (
        "adam_update",
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3, "weight_decay": 0.05},
        ("m", "v"),
        (),
    ),
    "amsgrad": ("adam_update", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, ("m", "v"), ("vhat",)),
    "rmsprop": (
        "rmsprop_update",
        {"lr": 0.01, "rho": 0.9, "momentum": 0.0, "eps": 1e-7},
        ("velocity", "-momentum_buf"),
        (),
    ),
    "rmsprop_momentum": (
        "rmsprop_update",
        {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "eps": 1e-7},
        ("velocity", "momentum_buf"),
        (),
    ),
    "rmsprop_centered": (
        "rmsprop_update",
        {"lr": 0.01, "rho": 0.8, "momentum": 0.5, "eps": 1e-6},
        ("velocity", "momentum_buf"),
        ("mg",),
    ),
    "adagrad": ("adagrad_update", {"lr": 0.1, "eps": 1e-7}, ("accumulator",), ()),
}
# state arrays that must stay positive (second moments, accumulators)
POSITIVE_STATES = {"v", "vhat", "accumulator"}


def optimizer_state(rng: np.random.Generator, variant: str, dtype: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """param and every state array of ``variant``, seeded; an unused positional state ("-name") is None."""
    _, _, positional, keyword = OPTIMIZERS[variant]
    arrays: dict[str, Any] = {"param": rng.standard_normal(shape)}
    for name in (*positional, *keyword):
        if name.startswith("-"):
            arrays[name[1:]] = None
        elif name in POSITIVE_STATES:
            arrays[name] = rng.uniform(0.0, 1.0, shape)
        elif name == "velocity" and variant.startswith("rmsprop"):  # a mean square: positive, and >= mg**2 below
            arrays[name] = rng.uniform(0.5, 1.5, shape)
        else:
            arrays[name] = 0.3 * rng.standard_normal(shape)
    if "mg" in arrays:  # centered RMSprop: velocity - mg**2 stays a variance (> 0) through the updates
        arrays["velocity"] = arrays["velocity"] + arrays["mg"] ** 2
    return {k: (v if v is None else np.asarray(v, dtype=dtype)) for k, v in arrays.items()}


def optimizer_step(variant: str, arrays: dict[str, Any], grad: Any, iteration: int, **overrides: Any) -> Any:
    """One call of the variant's kernel on the active backend, as step ``iteration`` (hyper-parameters overridable)."""
    kernel, hyper, positional, keyword = OPTIMIZERS[variant]
    args = [arrays[name.lstrip("-")] for name in positional]
    kwargs = {**hyper, **{name: arrays[name] for name in keyword}, **overrides}
    if kernel == "adam_update":
        kwargs.setdefault("step", iteration)
    return getattr(K, kernel)(arrays["param"], grad, *args, **kwargs)


def optimizer_case(variant: str, dtype: Any, shape: tuple[int, ...] = (5, 7), *, steps: int = 3, seed: int = 0) -> Case:
    """``steps`` in-place updates with seeded gradients; outputs: param and every state array after them."""
    dt = np.dtype(dtype)

    def make_inputs():
        rng = np.random.default_rng([seed, len(shape), *shape, 23])
        arrays = optimizer_state(rng, variant, dt, shape)
        grads = [rng.standard_normal(shape).astype(dt) for _ in range(steps)]
        return {"arrays": arrays, "grads": grads}

    def forward(arrays, grads):
        for s, g in enumerate(grads):
            result = optimizer_step(variant, arrays, g, s + 1)
            assert result is None, f"{variant} returned {type(result).__name__}, expected None"
        return {name: a for name, a in arrays.items() if a is not None}, None

    label = f"{variant} {dt} shape={shape} steps={steps}"
    return Case(label, make_inputs, forward, mutates_inputs=True)


# ---------------------------------------------------------------- embedding


def embedding_case(dtype: Any, V: int = 7, E: int = 5, ids_shape: tuple[int, ...] = (4, 6), *, seed: int = 0) -> Case:
    """embedding_forward on seeded weights and ids (repeats included), then embedding_backward."""
    dt = np.dtype(dtype)

    def make_inputs():
        rng = np.random.default_rng([seed, V, E, len(ids_shape), *ids_shape, 29])
        ids = rng.integers(0, max(V, 1), size=ids_shape) if V else np.zeros(ids_shape, np.int64)
        return {"weights": rng.standard_normal((V, E)).astype(dt), "ids": ids}

    def make_upstream():
        rng = np.random.default_rng([seed + 1, V, E, len(ids_shape), *ids_shape, 29])
        return {"dy": rng.standard_normal((*ids_shape, E)).astype(dt)}

    def forward(weights, ids):
        return {"y": K.embedding_forward(weights, ids)}, (ids, weights.shape[0])

    def backward(cache, dy):
        ids, V = cache
        return {"dweights": K.embedding_backward(ids, dy, V)}

    label = f"embedding {dt} V={V} E={E} ids_shape={ids_shape}"
    return Case(label, make_inputs, forward, make_upstream, backward, {"dweights": "weights"}, {"dy": "y"})


# ---------------------------------------------------------------- normalization


def norm_case(
    kind: str,
    dtype: Any,
    shape: tuple[int, ...] = (6, 7),
    *,
    eps: float = 1e-3,
    offset: float = 0.0,
    scale: float = 1.0,
    seed: int = 0,
) -> Case:
    """layer_norm ("layer") or batch_norm ("batch") forward on x = offset + scale * noise, then the backward."""
    dt = np.dtype(dtype)
    F = shape[-1]
    forward_fn, backward_fn = {
        "layer": (K.layer_norm_forward, K.layer_norm_backward),
        "batch": (K.batch_norm_forward, K.batch_norm_backward),
    }[kind]
    cache_type = K.LayerNormCache if kind == "layer" else K.BatchNormCache

    def make_inputs():
        rng = np.random.default_rng([seed, len(shape), *shape, 31])
        return {
            "x": (offset + scale * rng.standard_normal(shape)).astype(dt),
            "gamma": (1.0 + 0.5 * rng.standard_normal(F)).astype(dt),
            "beta": (0.5 * rng.standard_normal(F)).astype(dt),
        }

    def make_upstream():
        rng = np.random.default_rng([seed + 1, len(shape), *shape, 31])
        return {"dy": rng.standard_normal(shape).astype(dt)}

    def forward(x, gamma, beta):
        result = forward_fn(x, gamma, beta, eps=eps)
        cache = result[-1]
        assert isinstance(cache, cache_type), type(cache)
        out = {"y": result[0], **_cache_outputs(cache)}
        if kind == "batch":
            out.update(mean=result[1], var=result[2])
        return out, cache

    def backward(cache, dy):
        return named(("dx", "dgamma", "dbeta"), backward_fn(cache, dy), f"{kind}_norm_backward")

    label = f"{kind}_norm {dt} shape={shape} eps={eps} offset={offset} scale={scale}"
    grad_of = {"dx": "x", "dgamma": "gamma", "dbeta": "beta"}
    return Case(label, make_inputs, forward, make_upstream, backward, grad_of, {"dy": "y"})


# ---------------------------------------------------------------- Conv1D

K_ = K  # seqcore.kernels, for conv1d_case, whose K is the kernel size


def conv1d_case(
    dtype: Any,
    B: int = 2,
    T: int = 9,
    C: int = 3,
    K: int = 3,
    F: int = 4,
    *,
    stride: int = 1,
    padding: tuple[int, int] = (0, 0),
    dilation: int = 1,
    bias: bool = True,
    seed: int = 0,
) -> Case:
    """conv1d_forward on x [B,T,C], W [K,C,F], b [F] (or None), then conv1d_backward."""
    dt = np.dtype(dtype)
    To = (T + padding[0] + padding[1] - dilation * (K - 1) - 1) // stride + 1

    def make_inputs():
        rng = np.random.default_rng([seed, B, T, C, K, F, 37])
        inputs = {
            "x": rng.standard_normal((B, T, C)).astype(dt),
            "W": (rng.standard_normal((K, C, F)) / math.sqrt(max(K * C, 1))).astype(dt),
        }
        inputs["b"] = (0.5 * rng.standard_normal(F)).astype(dt) if bias else None
        return inputs

    def make_upstream():
        rng = np.random.default_rng([seed + 1, B, T, C, K, F, 37])
        return {"dy": rng.standard_normal((B, To, F)).astype(dt)}

    def forward(x, W, b):
        y, cache = K_.conv1d_forward(x, W, b, stride=stride, padding=padding, dilation=dilation)
        assert isinstance(cache, K_.Conv1DCache), type(cache)
        return {"y": y, **_cache_outputs(cache)}, cache

    def backward(cache, dy):
        grads = named(("dx", "dW", "db"), K_.conv1d_backward(cache, dy), "conv1d_backward")
        if not bias:
            assert grads.pop("db") is None, "conv1d_backward returned a db for a forward without bias"
        return grads

    label = f"conv1d {dt} B={B} T={T} C={C} K={K} F={F} stride={stride} padding={padding} dilation={dilation}"
    label += f" bias={bias}"
    grad_of = {"dx": "x", "dW": "W", **({"db": "b"} if bias else {})}
    return Case(label, make_inputs, forward, make_upstream, backward, grad_of, {"dy": "y"})


# ---------------------------------------------------------------- finite differences

FD_EPS = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8  # scaled by max(1, max |gradient|): the rounding error of a central difference at EPS


def finite_difference_check(case: Case, backend: str) -> None:
    """Compare case.backward's gradients with central differences of J over every input element."""
    require_backend(backend)
    inputs, upstream = case.make_inputs(), case.make_upstream()
    weights = {out: upstream[up] for up, out in case.pairs.items() if upstream.get(up) is not None}

    def J(inp) -> float:
        out, _ = case.forward(**inp)
        return float(sum(np.sum(w * out[name]) for name, w in weights.items()))

    with use_backend(backend):
        _, cache = case.forward(**inputs)
        grads = case.backward(cache, **upstream)
        for gname, iname in case.grad_of.items():
            base = case.make_inputs()
            numeric = np.zeros_like(base[iname])
            for idx in np.ndindex(numeric.shape):
                value = base[iname][idx]
                base[iname][idx] = value + FD_EPS
                plus = J(base)
                base[iname][idx] = value - FD_EPS
                minus = J(base)
                base[iname][idx] = value
                numeric[idx] = (plus - minus) / (2 * FD_EPS)
            scale = max(1.0, float(np.abs(numeric).max(initial=0.0)))
            np.testing.assert_allclose(
                grads[gname],
                numeric,
                rtol=FD_RTOL,
                atol=FD_ATOL * scale,
                err_msg=f"{case.label} [{backend}]: {gname} vs finite differences of J in {iname}",
            )
