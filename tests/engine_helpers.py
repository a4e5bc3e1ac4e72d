"""Shared machinery of the engine tests: a finite-difference gradient check over Tensors and layer weights.

``gradcheck(fn, inputs, variables)`` runs ``fn`` on fresh leaf Tensors made from ``inputs``
(a dict of float64 arrays), weighs every output with a seeded random array R_k and
backpropagates J = sum_k <R_k, out_k>.  It then compares the gradient of every input and
of every variable (layer weights, perturbed in place) with central differences of J,
computed under ``no_grad``.  ``fn`` may return a Tensor or a (nested) list of Tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from seqcore.autograd import Tensor, Variable, no_grad

EPS = 1e-6
RTOL = 1e-6
ATOL = 1e-8  # scaled by max(1, max |gradient|): the rounding error of a central difference at EPS
ENGINE_BACKENDS = ("reference", "cpp")


def outputs_of(result: Any) -> list[Tensor]:
    """The Tensors of ``result`` (a Tensor or nested lists/tuples of them) in order."""
    if isinstance(result, (list, tuple)):
        return [t for item in result for t in outputs_of(item)]
    assert isinstance(result, Tensor), f"expected Tensor outputs, got {type(result).__name__}"
    return [result]


def upstream_weights(outs: Sequence[Tensor], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 7919])
    return [rng.standard_normal(t.shape) for t in outs]


def objective(outs: Sequence[Tensor], weights: Sequence[np.ndarray]) -> float:
    return float(sum(np.sum(np.asarray(t.data, dtype=np.float64) * w) for t, w in zip(outs, weights)))


def backprop(fn: Callable[..., Any], leaves: dict[str, Tensor], seed: int) -> list[np.ndarray]:
    """Run fn on the leaves and backpropagate J; returns the weights R_k used."""
    outs = outputs_of(fn(**leaves))
    weights = upstream_weights(outs, seed)
    if len(outs) == 1:
        outs[0].backward(weights[0].astype(outs[0].dtype))
    else:
        total = None
        for t, w in zip(outs, weights):
            if t.requires_grad:
                term = (t * w.astype(t.dtype)).sum()
                total = term if total is None else total + term
        assert total is not None, "no output depends on an input that requires gradients"
        total.backward()
    return weights


def gradcheck(
    fn: Callable[..., Any],
    inputs: dict[str, np.ndarray] | None = None,
    variables: Sequence[Variable] = (),
    *,
    seed: int = 0,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    what: str = "",
) -> dict[str, np.ndarray]:
    """Check the tape's gradients of J = sum_k <R_k, fn(**inputs)_k> against central differences.

    inputs: name -> float array, passed to fn as leaf Tensors that require gradients.
    variables: Variables fn reads (layer weights); their ``.grad`` is checked too (perturbed in place).
    Returns the analytic gradients by name (inputs by key, variables by ``.name``).
    """
    inputs = {k: np.array(v, copy=True) for k, v in (inputs or {}).items()}
    for v in variables:
        v.grad = None
    leaves = {k: Tensor(v.copy(), requires_grad=True) for k, v in inputs.items()}
    weights = backprop(fn, leaves, seed)
    analytic: dict[str, np.ndarray] = {}
    for k, leaf in leaves.items():
        analytic[k] = np.zeros_like(inputs[k]) if leaf.grad is None else leaf.grad
    for v in variables:
        analytic[v.name] = np.zeros_like(v.data) if v.grad is None else v.grad

    def J(arrays: dict[str, np.ndarray]) -> float:
        with no_grad():
            return objective(outputs_of(fn(**{k: Tensor(a) for k, a in arrays.items()})), weights)

    numeric: dict[str, np.ndarray] = {}
    for k in inputs:
        arr = inputs[k]
        num = np.zeros(arr.shape, dtype=np.float64)
        for idx in np.ndindex(arr.shape):
            value = arr[idx]
            arr[idx] = value + eps
            plus = J(inputs)
            arr[idx] = value - eps
            minus = J(inputs)
            arr[idx] = value
            num[idx] = (plus - minus) / (2 * eps)
        numeric[k] = num
    for v in variables:
        num = np.zeros(v.shape, dtype=np.float64)
        for idx in np.ndindex(v.shape):
            value = v.data[idx]
            v.data[idx] = value + eps
            plus = J(inputs)
            v.data[idx] = value - eps
            minus = J(inputs)
            v.data[idx] = value
            num[idx] = (plus - minus) / (2 * eps)
        numeric[v.name] = num

    for name, num in numeric.items():
        got = analytic[name]
        assert isinstance(got, np.ndarray), f"{what}: gradient of {name} is {type(got).__name__}"
        assert got.shape == num.shape, f"{what}: gradient of {name} has shape {got.shape}, expected {num.shape}"
        scale = max(1.0, float(np.abs(num).max(initial=0.0)))
        np.testing.assert_allclose(
            got, num, rtol=rtol, atol=atol * scale, err_msg=f"{what}: d J / d {name} vs central differences"
        )
    return analytic


def randomize_weights(layer: Any, seed: int, scale: float = 0.5) -> None:
    """Seeded random weights for every weight of ``layer`` (variances, if any, kept positive)."""
    rng = np.random.default_rng([seed, 104729])
    new = []
    for v in layer.weights:
        if "variance" in v.name:
            new.append(rng.uniform(0.5, 1.5, v.shape))
        else:
            new.append(scale * rng.standard_normal(v.shape))
    layer.set_weights(new)


def trainable(layer: Any) -> list[Variable]:
    return [v for v in layer.weights if v.requires_grad]


def away_from(values: np.ndarray, points: Sequence[float], margin: float = 0.05) -> np.ndarray:
    """``values`` moved at least ``margin`` away from each of ``points`` (kinks of relu, abs, clip)."""
    out = np.array(values, dtype=np.float64, copy=True)
    for p in points:
        near = np.abs(out - p) < margin
        out[near] = p + np.where(out[near] >= p, margin, -margin) * 2
    return out
