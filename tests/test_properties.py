"""Hypothesis: odd shapes (T, B, H, D = 1, sizes off the SIMD widths, ragged lengths) on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import (
    DTYPES,
    FAST_BACKENDS,
    OPTIMIZERS,
    assert_close,
    cell_case,
    check_against_reference,
    clip_norm_case,
    clip_value_case,
    conv1d_case,
    cross_entropy_case,
    embedding_case,
    norm_case,
    optimizer_case,
    recurrent_case,
    require_backend,
    run_case,
    softmax_case,
)
from seqcore import kernels as K
from seqcore import use_backend

RECURRENT = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
RECURRENT_IDS = ["lstm", "gru_reset_after", "gru_reset_before", "rnn"]

dtypes = st.sampled_from(DTYPES)
small = st.integers(1, 9)
hidden = st.integers(1, 37)


@st.composite
def sequence_shapes(draw):
    """(B, T, D, H, lengths) with lengths favouring 0 and T."""
    B, T = draw(small), draw(small)
    D, H = draw(st.integers(1, 20)), draw(hidden)
    kind = draw(st.sampled_from(["none", "full", "ragged"]))
    if kind == "none":
        lengths = None
    elif kind == "full":
        lengths = [T] * B
    else:
        lengths = draw(st.lists(st.one_of(st.just(0), st.just(T), st.integers(0, T)), min_size=B, max_size=B))
    return B, T, D, H, lengths


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(shape=sequence_shapes(), dtype=dtypes, reverse=st.booleans(), upstream=st.sampled_from(["all", "none", "dy"]))
def test_recurrent(backend, kind, reset_after, shape, dtype, reverse, upstream):
    B, T, D, H, lengths = shape
    case = recurrent_case(
        kind, dtype, B=B, T=T, D=D, H=H, lengths=lengths, reverse=reverse, upstream=upstream, reset_after=reset_after
    )
    check_against_reference(case, backend)


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
@given(B=small, D=st.integers(1, 20), H=hidden, dtype=dtypes)
def test_cell_is_one_step(backend, kind, reset_after, B, D, H, dtype):
    """A cell equals the reference cell, and equals one step of the sequence kernel on the same backend."""
    require_backend(backend)
    case = cell_case(kind, dtype, B=B, D=D, H=H, reset_after=reset_after)
    out, _ = check_against_reference(case, backend)
    inputs = case.make_inputs()
    with use_backend(backend):
        x = inputs["x"][:, None, :]
        if kind == "lstm":
            _, hT, cT, _ = K.lstm_forward(x, inputs["h"], inputs["c"], inputs["W"], inputs["U"], inputs["b"])
            assert_close(out["c"], cT, f"{case.label} [{backend}]: cell c vs one lstm_forward step")
        elif kind == "gru":
            _, hT, _ = K.gru_forward(x, inputs["h"], inputs["W"], inputs["U"], inputs["b"], reset_after=reset_after)
        else:
            _, hT, _ = K.rnn_forward(x, inputs["h"], inputs["W"], inputs["U"], inputs["b"])
    assert_close(out["h"], hT, f"{case.label} [{backend}]: cell h vs one forward step")


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
@given(shape=sequence_shapes(), reverse=st.booleans())
def test_rows_are_independent(backend, kind, reset_after, shape, reverse):
    """Each row's outputs and input gradients equal those of the same row run alone (batch of one)."""
    require_backend(backend)
    B, T, D, H, lengths = shape
    full = recurrent_case(
        kind, np.float64, B=B, T=T, D=D, H=H, lengths=lengths, reverse=reverse, reset_after=reset_after
    )
    out, grads = run_case(full, backend)
    row = B - 1
    one = recurrent_case(kind, np.float64, B=1, T=T, D=D, H=H, reverse=reverse, reset_after=reset_after)
    one.make_inputs = lambda: {
        **{k: (v[row : row + 1] if k in ("x", "h0", "c0") else v) for k, v in full.make_inputs().items()},
        "lengths": None if lengths is None else np.array(lengths[row : row + 1]),
    }
    one.make_upstream = lambda: {k: (None if v is None else v[row : row + 1]) for k, v in full.make_upstream().items()}
    out1, grads1 = run_case(one, backend)
    for name in ("y", "hT", "cT"):
        if name in out:
            assert_close(out[name][row : row + 1], out1[name], f"{full.label} [{backend}] row {row} {name}")
    for name in ("dx", "dh0", "dc0"):
        if name in grads:
            assert_close(grads[name][row : row + 1], grads1[name], f"{full.label} [{backend}] row {row} {name}")


@st.composite
def last_axis_shapes(draw):
    lead = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2))
    return (*lead, draw(st.integers(1, 37)))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(shape=last_axis_shapes(), dtype=dtypes, scale=st.sampled_from([0.01, 1.0, 30.0, 1000.0]))
def test_softmax_family(backend, fn, shape, dtype, scale):
    check_against_reference(softmax_case(fn, dtype, shape, scale=scale), backend)


@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
@given(shape=last_axis_shapes(), dtype=dtypes, scale=st.sampled_from([0.01, 1.0, 30.0, 1000.0]))
def test_softmax_invariants(backend, shape, dtype, scale):
    """softmax rows sum to one, log_softmax = log(softmax), both shift-invariant."""
    require_backend(backend)
    x = (scale * np.random.default_rng(list(shape)).standard_normal(shape)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    with use_backend(backend):
        p, logp = K.softmax(x), K.log_softmax(x)
        shifted = K.log_softmax(x + dtype(7))
    assert np.all(p >= 0) and np.all(logp <= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=tol)
    np.testing.assert_allclose(np.exp(logp), p, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(shifted, logp, rtol=tol * 10, atol=tol * max(1.0, scale))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(
    shape=last_axis_shapes(),
    dtype=dtypes,
    target=st.sampled_from(["sparse", "onehot", "dist", "unnormalized"]),
    dloss=st.sampled_from(["random", "none"]),
)
def test_cross_entropy(backend, shape, dtype, target, dloss):
    check_against_reference(cross_entropy_case(dtype, shape, target=target, dloss=dloss), backend)


clip_lists = st.lists(
    st.tuples(dtypes, st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)), min_size=0, max_size=4
)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(
    arrays=clip_lists,
    bounds=st.tuples(st.floats(-3, 3), st.floats(0, 3)).map(lambda t: (t[0], t[0] + t[1])),
    inplace=st.booleans(),
)
def test_clip_by_value(backend, arrays, bounds, inplace):
    dts, shapes = tuple(a[0] for a in arrays), tuple(a[1] for a in arrays)
    check_against_reference(clip_value_case(dts, shapes, lo=bounds[0], hi=bounds[1], inplace=inplace), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(arrays=clip_lists, max_norm=st.floats(1e-3, 100.0), inplace=st.booleans())
def test_clip_by_global_norm(backend, arrays, max_norm, inplace):
    dts, shapes = tuple(a[0] for a in arrays), tuple(a[1] for a in arrays)
    check_against_reference(clip_norm_case(dts, shapes, max_norm=max_norm, inplace=inplace), backend)


# ---------------------------------------------------------------- optimizers, embedding, normalization, Conv1D

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(variant=st.sampled_from(sorted(OPTIMIZERS)), shape=shapes, dtype=dtypes, steps=st.integers(1, 3))
def test_optimizer_update(backend, variant, shape, dtype, steps):
    check_against_reference(optimizer_case(variant, dtype, shape, steps=steps), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(V=st.integers(1, 9), E=st.integers(0, 20), ids_shape=shapes, dtype=dtypes)
def test_embedding(backend, V, E, ids_shape, dtype):
    check_against_reference(embedding_case(dtype, V, E, ids_shape), backend)


@pytest.mark.parametrize("kind", ["layer", "batch"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(shape=last_axis_shapes(), dtype=dtypes, offset=st.sampled_from([0.0, 50.0]), eps=st.sampled_from([1e-5, 1.0]))
def test_norm(backend, kind, shape, dtype, offset, eps):
    check_against_reference(norm_case(kind, dtype, shape, offset=offset, eps=eps), backend)


@st.composite
def conv_geometries(draw):
    """(B, T, C, K, F, stride, padding, dilation) with an output length of at least 1."""
    K, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    left, right = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    span = dilation * (K - 1) + 1
    T = draw(st.integers(max(0, span - left - right), 12))
    return (
        draw(small),
        T,
        draw(st.integers(1, 6)),
        K,
        draw(st.integers(1, 6)),
        draw(st.integers(1, 3)),
        (left, right),
        dilation,
    )


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(geometry=conv_geometries(), dtype=dtypes, bias=st.booleans())
def test_conv1d(backend, geometry, dtype, bias):
    B, T, C, K_, F, stride, padding, dilation = geometry
    case = conv1d_case(dtype, B, T, C, K_, F, stride=stride, padding=padding, dilation=dilation, bias=bias)
    check_against_reference(case, backend)
