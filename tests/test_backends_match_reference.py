"""Every kernel on every fast backend equals the reference backend (values, then gradients)."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import seqcore
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
    softmax_backward_case,
    softmax_case,
)
from seqcore import kernels as K
from seqcore import use_backend

# (kind, reset_after): the four recurrent kernels
RECURRENT = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
RECURRENT_IDS = ["lstm", "gru_reset_after", "gru_reset_before", "rnn"]


def dtype_id(dt) -> str:
    return np.dtype(dt).name


# ---------------------------------------------------------------- recurrent forward + backward


@pytest.mark.parametrize("upstream", ["all", "none", "dy", "final"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("lengths", [None, "full", "mixed"], ids=["no_lengths", "full_lengths", "mixed_lengths"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_recurrent(backend, kind, reset_after, dtype, lengths, reverse, upstream):
    case = recurrent_case(
        kind, dtype, lengths=lengths, reverse=reverse, upstream=upstream, reset_after=reset_after, seed=1
    )
    check_against_reference(case, backend)


@pytest.mark.parametrize("lengths", ["zeros", [3, 0, 1, 3], [1, 1, 1, 1]], ids=["all_zero", "ragged", "all_one"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_recurrent_edge_lengths(backend, kind, reset_after, dtype, lengths, reverse):
    case = recurrent_case(kind, dtype, B=4, T=3, D=2, H=3, lengths=lengths, reverse=reverse, reset_after=reset_after)
    check_against_reference(case, backend)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_recurrent_large(backend, kind, reset_after, dtype, reverse):
    """Sizes big enough for blocked GEMMs and the threaded element-wise loops."""
    case = recurrent_case(
        kind, dtype, B=64, T=9, D=48, H=100, lengths="mixed", reverse=reverse, reset_after=reset_after, seed=2
    )
    check_against_reference(case, backend)


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_recurrent_thread_counts(backend, kind, reset_after):
    """One thread and several threads both match the reference (and so each other)."""
    require_backend(backend)
    with use_backend(backend):
        before = seqcore.get_num_threads()
    try:
        for n in (1, 2):
            seqcore.set_num_threads(n)
            with use_backend(backend):
                assert seqcore.get_num_threads() == min(n, os.cpu_count() or n)
            case = recurrent_case(kind, np.float64, B=37, T=9, D=20, H=70, reset_after=reset_after, seed=3)
            check_against_reference(case, backend)
    finally:
        seqcore.set_num_threads(before)


def _at_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A C-contiguous copy of ``a`` starting ``offset`` bytes past a 64-byte boundary (dtype-aligned)."""
    buf = np.empty(a.nbytes + 128, dtype=np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    out = buf[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_recurrent_bitwise_reproducible(backend, kind, reset_after):
    """The same call gives bit-identical results, wherever in memory its (dtype-aligned) inputs lie."""
    require_backend(backend)

    def placed(offset):
        if offset is None:  # wherever NumPy puts them
            return recurrent_case(kind, np.float32, B=48, T=6, D=30, H=64, reset_after=reset_after, seed=4)

        def move(inputs):
            return {k: _at_offset(v, offset) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                    for k, v in inputs.items()}  # fmt: skip

        return recurrent_case(kind, np.float32, B=48, T=6, D=30, H=64, reset_after=reset_after, seed=4, transform=move)

    first_out, first_grads = run_case(placed(0), backend)
    for offset in (4, 8, 16, 32, 48, None, 0):
        out, grads = run_case(placed(offset), backend)
        for name, value in [*first_out.items(), *first_grads.items()]:
            got = out[name] if name in out else grads[name]
            np.testing.assert_array_equal(
                got, value, err_msg=f"{kind} [{backend}]: {name} at input offset {offset} differs from offset 0"
            )


@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_cache_refers_to_y(backend, kind, reset_after):
    """The cache holds y itself: a backward after changing y in place sees the changed values."""
    require_backend(backend)
    case = recurrent_case(kind, np.float64, reset_after=reset_after, lengths="mixed")
    with use_backend(backend):
        out, cache = case.forward(**case.make_inputs())
    assert np.shares_memory(out["y"], cache.y), f"{case.label}: cache.y is a copy of y"


@pytest.mark.parametrize(("fwd", "bwd"), list(itertools.permutations(("reference", *FAST_BACKENDS), 2)))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
def test_cache_interchange(fwd, bwd, kind, reset_after, dtype):
    """A cache made on one backend feeds the backward of another."""
    for reverse in (False, True):
        case = recurrent_case(kind, dtype, lengths="mixed", reverse=reverse, reset_after=reset_after, seed=5)
        check_against_reference(case, fwd, backward_backend=bwd)


@pytest.mark.parametrize(("fwd", "bwd"), list(itertools.permutations(("reference", *FAST_BACKENDS), 2)))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cache_interchange_softmax_family(fwd, bwd, dtype):
    for case in (
        softmax_case("softmax", dtype),
        softmax_case("log_softmax", dtype),
        cross_entropy_case(dtype, target="sparse"),
        cross_entropy_case(dtype, target="dist"),
    ):
        check_against_reference(case, fwd, backward_backend=bwd)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
def test_padding_is_never_read(backend, kind, reset_after, dtype):
    """NaN in x past each row's length and in dy there changes nothing; padded dx is zero."""
    require_backend(backend)
    lengths = [5, 0, 2, 7, 3]

    def poison(inputs):
        x = inputs["x"]
        for b, L in enumerate(lengths):
            x[b, L:] = np.nan
        return inputs

    for reverse in (False, True):
        clean = recurrent_case(kind, dtype, lengths=lengths, reverse=reverse, reset_after=reset_after, seed=6)
        dirty = recurrent_case(
            kind, dtype, lengths=lengths, reverse=reverse, reset_after=reset_after, seed=6, transform=poison
        )
        upstream = clean.make_upstream()
        for b, L in enumerate(lengths):
            upstream["dy"][b, L:] = np.nan
        dirty.make_upstream = lambda upstream=upstream: {k: v.copy() for k, v in upstream.items()}
        ref_out, ref_grads = run_case(clean, "reference")
        out, grads = run_case(dirty, backend)
        for name in ("y", "hT", "cT"):
            if name in ref_out:
                assert_close(out[name], ref_out[name], f"{dirty.label} [{backend}] {name}")
        for name in ref_grads:
            assert_close(grads[name], ref_grads[name], f"{dirty.label} [{backend}] {name}")
        for b, L in enumerate(lengths):
            assert not np.any(out["y"][b, L:]), f"{dirty.label}: y past lengths[{b}] = {L} is not zero"
            assert not np.any(grads["dx"][b, L:]), f"{dirty.label}: dx past lengths[{b}] = {L} is not zero"


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("size", [(4, 5, 7), (1, 1, 1), (64, 48, 100)], ids=["small", "ones", "large"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "reset_after"), RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_cell(backend, kind, reset_after, dtype, size):
    B, D, H = size
    check_against_reference(cell_case(kind, dtype, B=B, D=D, H=H, reset_after=reset_after), backend)


# ---------------------------------------------------------------- softmax family

SHAPES = [(7,), (4, 11), (2, 3, 17), (3, 1), (64, 1000)]
SHAPE_IDS = ["1d", "2d", "3d", "C1", "large"]


@pytest.mark.parametrize("scale", [3.0, 300.0], ids=["moderate", "huge_logits"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_softmax_family(backend, fn, dtype, shape, scale):
    check_against_reference(softmax_case(fn, dtype, shape, scale=scale), backend)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_softmax_family_backward(backend, fn, dtype, shape):
    check_against_reference(softmax_backward_case(fn, dtype, shape), backend)


@pytest.mark.parametrize("dloss", ["random", "none"])
@pytest.mark.parametrize("target", ["sparse", "onehot", "dist", "unnormalized"])
@pytest.mark.parametrize("shape", [(6, 5), (5,), (2, 3, 7), (3, 1), (64, 1000)], ids=["2d", "1d", "3d", "C1", "large"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_softmax_cross_entropy(backend, dtype, shape, target, dloss):
    check_against_reference(cross_entropy_case(dtype, shape, target=target, dloss=dloss), backend)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_softmax_cross_entropy_huge_logits(backend, dtype):
    for target in ("sparse", "dist"):
        check_against_reference(cross_entropy_case(dtype, (8, 13), target=target, scale=500.0), backend)


# ---------------------------------------------------------------- clipping

CLIP_LISTS = [
    ((np.float64,), ((5, 7),)),
    ((np.float32,), ((5, 7),)),
    ((np.float32, np.float64, np.float32), ((3, 4, 5), (7,), (2, 1))),
    ((np.float32,), ((300, 257),)),
    ((np.float64, np.float64), ((0, 3), ())),
]
CLIP_IDS = ["f64", "f32", "mixed", "large", "empty_and_scalar"]


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("bounds", [(-1.0, 1.5), (-5.0, 5.0), (0.25, 0.25), (0.1, np.inf)], ids=str)
@pytest.mark.parametrize(("dtypes", "shapes"), CLIP_LISTS, ids=CLIP_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_clip_by_value(backend, dtypes, shapes, bounds, inplace):
    lo, hi = bounds
    check_against_reference(clip_value_case(dtypes, shapes, lo=lo, hi=hi, inplace=inplace), backend)


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6], ids=["clips", "clips_a_little", "no_clip"])
@pytest.mark.parametrize(("dtypes", "shapes"), CLIP_LISTS, ids=CLIP_IDS)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_clip_by_global_norm(backend, dtypes, shapes, max_norm, inplace):
    check_against_reference(clip_norm_case(dtypes, shapes, max_norm=max_norm, inplace=inplace), backend)


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_clip_by_global_norm_single_array_and_empty_list(backend, inplace):
    check_against_reference(clip_norm_case(max_norm=1.0, inplace=inplace, single_array=True), backend)
    check_against_reference(clip_norm_case((), (), max_norm=1.0, inplace=inplace), backend)


@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
def test_clip_by_global_norm_semantics(backend):
    """Absolute check (not just vs the reference): the joint norm, the rescale, and no rescale below max_norm."""
    require_backend(backend)
    g = [np.array([3.0, 0.0]), np.array([[4.0]], dtype=np.float32)]
    with use_backend(backend):
        out, norm = K.clip_by_global_norm(g, 1.0)
        same, norm2 = K.clip_by_global_norm(g, 5.0)
        clipped = K.clip_by_value([np.array([-7.0, -1.0, 0.5, 9.0])], -5.0, 5.0)
    assert norm == pytest.approx(5.0, rel=1e-12) and norm2 == pytest.approx(5.0, rel=1e-12)
    np.testing.assert_allclose(out[0], [0.6, 0.0], rtol=1e-12)
    np.testing.assert_allclose(out[1], [[0.8]], rtol=1e-6)
    assert out[1].dtype == np.float32
    np.testing.assert_array_equal(same[0], g[0])
    np.testing.assert_array_equal(same[1], g[1])
    np.testing.assert_array_equal(clipped[0], [-5.0, -1.0, 0.5, 5.0])


@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
def test_clipping_returns_arrays(backend, inplace):
    """Every returned gradient is an ndarray of its input's shape and dtype, 0-d ones included."""
    require_backend(backend)

    def make():
        return [np.array(7.0), np.ones((2, 0)), np.array([[-9.0]], np.float32)]

    with use_backend(backend):
        clipped = K.clip_by_value(make(), -1.0, 1.0, inplace=inplace)
        scaled, _ = K.clip_by_global_norm(make(), 1.0, inplace=inplace)
    for name, out in (("clip_by_value", clipped), ("clip_by_global_norm", scaled)):
        assert len(out) == 3, f"{name} [{backend}] returned {len(out)} arrays for 3"
        for k, (o, g) in enumerate(zip(out, make())):
            assert isinstance(o, np.ndarray), f"{name} [{backend}] returned {type(o).__name__} for grads[{k}]"
            assert o.shape == g.shape and o.dtype == g.dtype, f"{name} [{backend}] grads[{k}]"


# ---------------------------------------------------------------- optimizer updates


@pytest.mark.parametrize("shape", [(5, 7), (), (0, 3), (300, 1001)], ids=["2d", "0d", "empty", "large"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", sorted(OPTIMIZERS))
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_optimizer_update(backend, variant, dtype, shape):
    check_against_reference(optimizer_case(variant, dtype, shape, steps=1 if shape == (300, 1001) else 3), backend)


# ---------------------------------------------------------------- embedding

EMBEDDING_SIZES = [(7, 5, (4, 6)), (3, 1, (10,)), (7, 5, ()), (7, 5, (2, 0)), (1, 4, (2, 3, 2)), (1000, 64, (32, 50))]
EMBEDDING_IDS = ["2d", "E1", "0d_ids", "no_ids", "V1", "large"]


@pytest.mark.parametrize(("V", "E", "ids_shape"), EMBEDDING_SIZES, ids=EMBEDDING_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_embedding(backend, dtype, V, E, ids_shape):
    check_against_reference(embedding_case(dtype, V, E, ids_shape), backend)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_embedding_backward_is_exact(backend, dtype):
    """Many repeats of few ids: the scatter-add sums in the reference's order, so the results are equal bit for bit."""
    case = embedding_case(dtype, V=3, E=33, ids_shape=(40, 25), seed=3)
    _, want = run_case(case, "reference")
    for _ in range(2):
        _, got = run_case(case, backend)
        np.testing.assert_array_equal(got["dweights"], want["dweights"])


# ---------------------------------------------------------------- normalization

NORM_SHAPES = {
    "layer": [(4, 7), (2, 3, 5), (6,), (3, 1), (0, 5), (64, 1000)],
    "batch": [(8, 5), (2, 3, 4), (1, 3), (6,), (7, 1), (1000, 64)],
}
NORM_CASES = [(kind, shape) for kind, shapes in NORM_SHAPES.items() for shape in shapes]


@pytest.mark.parametrize("data", [(0.0, 1.0), (1000.0, 0.5), (0.0, 1e-3)], ids=["plain", "offset", "tiny_var"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("kind", "shape"), NORM_CASES, ids=[f"{k}-{s}" for k, s in NORM_CASES])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_norm(backend, kind, shape, dtype, data):
    offset, scale = data
    check_against_reference(norm_case(kind, dtype, shape, offset=offset, scale=scale), backend)


@pytest.mark.parametrize(("fwd", "bwd"), list(itertools.permutations(("reference", *FAST_BACKENDS), 2)))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cache_interchange_norm(fwd, bwd, dtype):
    for kind in ("layer", "batch"):
        check_against_reference(norm_case(kind, dtype, (3, 4, 6), seed=5), fwd, backward_backend=bwd)


# ---------------------------------------------------------------- Conv1D

CONV_GEOMETRY = [  # (stride, padding, dilation)
    (1, (0, 0), 1),
    (2, (0, 0), 1),
    (1, (2, 0), 1),
    (3, (1, 2), 2),
    (2, (4, 4), 3),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize(("stride", "padding", "dilation"), CONV_GEOMETRY, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_conv1d(backend, dtype, stride, padding, dilation, bias):
    case = conv1d_case(dtype, stride=stride, padding=padding, dilation=dilation, bias=bias)
    check_against_reference(case, backend)


CONV_SIZES = {  # (B, T, C, K, F, stride, padding, dilation)
    "pointwise": (3, 7, 5, 1, 4, 1, (0, 0), 1),
    "pointwise_strided": (3, 7, 5, 1, 4, 2, (1, 0), 1),
    "T1_padded": (2, 1, 3, 3, 2, 1, (1, 1), 1),
    "T0_all_padding": (2, 0, 3, 3, 2, 1, (2, 1), 1),
    "B0": (0, 6, 3, 2, 4, 1, (0, 0), 1),
    "C0": (2, 6, 0, 2, 4, 1, (0, 0), 1),
    "F0": (2, 6, 3, 2, 0, 1, (0, 0), 1),
    "kernel_as_long_as_input": (2, 5, 3, 5, 4, 1, (0, 0), 1),
    "large": (8, 200, 32, 5, 48, 1, (2, 2), 1),
    "chunked": (2, 600, 1400, 3, 4, 1, (1, 1), 1),  # more im2col rows than one chunk holds
}


@pytest.mark.parametrize("size", sorted(CONV_SIZES))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_conv1d_sizes(backend, dtype, size):
    B, T, C, K_, F, stride, padding, dilation = CONV_SIZES[size]
    case = conv1d_case(dtype, B, T, C, K_, F, stride=stride, padding=padding, dilation=dilation, seed=1)
    check_against_reference(case, backend)


@pytest.mark.parametrize(("fwd", "bwd"), list(itertools.permutations(("reference", *FAST_BACKENDS), 2)))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cache_interchange_conv1d(fwd, bwd, dtype):
    for bias in (True, False):
        case = conv1d_case(dtype, stride=2, padding=(1, 2), dilation=2, bias=bias, seed=5)
        check_against_reference(case, fwd, backward_backend=bwd)
