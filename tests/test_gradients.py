"""Every backward against central finite differences of its forward, in float64.

The functional is J = sum_k <R_k, out_k> over all outputs (y, hT, cT; the loss; softmax's y)
with random weights R_k, so dJ/d(input) is exactly what the backward returns when fed R_k
as upstream gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import (
    FAST_BACKENDS,
    FD_ATOL,
    FD_EPS,
    FD_RTOL,
    conv1d_case,
    cross_entropy_case,
    embedding_case,
    finite_difference_check,
    norm_case,
    recurrent_case,
    require_backend,
    softmax_case,
)
from seqcore import use_backend

EPS = FD_EPS
RTOL = FD_RTOL
ATOL = FD_ATOL
BACKENDS = ["reference", *FAST_BACKENDS]
RECURRENT = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
RECURRENT_IDS = ["lstm", "gru_reset_after", "gru_reset_before", "rnn"]


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("lengths", [None, [3, 0, 4]], ids=["no_lengths", "lengths"])
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_recurrent_gradients(backend, kind, reset_after, lengths, reverse):
    case = recurrent_case(
        kind, np.float64, B=3, T=4, D=2, H=3, lengths=lengths, reverse=reverse, reset_after=reset_after, seed=11
    )
    finite_difference_check(case, backend)


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_recurrent_gradients_final_state_only(backend, kind, reset_after):
    """Only hT / cT weighted (dy None): the gradient that reaches back through every step."""
    case = recurrent_case(
        kind, np.float64, B=2, T=5, D=2, H=2, lengths=[5, 2], reverse=True, upstream="final", reset_after=reset_after
    )
    finite_difference_check(case, backend)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 2, 3)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_family_gradients(backend, fn, shape):
    finite_difference_check(softmax_case(fn, np.float64, shape, seed=12), backend)


@pytest.mark.parametrize("target", ["sparse", "onehot", "dist", "unnormalized"])
@pytest.mark.parametrize("shape", [(4, 5), (3,), (2, 2, 3)], ids=["2d", "1d", "3d"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_gradients(backend, shape, target):
    finite_difference_check(cross_entropy_case(np.float64, shape, target=target, seed=13), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_default_dloss_is_ones(backend):
    """dloss=None weights every row's loss by one: the gradient of the plain sum of losses."""
    require_backend(backend)
    case = cross_entropy_case(np.float64, (3, 4), target="sparse", dloss="none", seed=14)
    inputs = case.make_inputs()
    with use_backend(backend):
        _, cache = case.forward(**inputs)
        dlogits = case.backward(cache)["dlogits"]
        numeric = np.zeros_like(inputs["logits"])
        for idx in np.ndindex(numeric.shape):
            shifted = {k: v.copy() for k, v in inputs.items()}
            shifted["logits"][idx] += EPS
            plus = case.forward(**shifted)[0]["loss"].sum()
            shifted["logits"][idx] -= 2 * EPS
            minus = case.forward(**shifted)[0]["loss"].sum()
            numeric[idx] = (plus - minus) / (2 * EPS)
    np.testing.assert_allclose(dlogits, numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_gradients(backend):
    finite_difference_check(embedding_case(np.float64, V=4, E=3, ids_shape=(2, 5), seed=15), backend)


@pytest.mark.parametrize(
    ("kind", "shape"), [("layer", (3, 5)), ("layer", (2, 2, 4)), ("batch", (6, 3)), ("batch", (2, 3, 2))]
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_norm_gradients(backend, kind, shape):
    finite_difference_check(norm_case(kind, np.float64, shape, eps=1e-2, seed=16), backend)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "bias"), [(1, (0, 0), 1, True), (2, (2, 1), 2, True), (1, (1, 1), 1, False)]
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_conv1d_gradients(backend, stride, padding, dilation, bias):
    case = conv1d_case(np.float64, 2, 6, 2, 3, 3, stride=stride, padding=padding, dilation=dilation, bias=bias, seed=17)
    finite_difference_check(case, backend)
