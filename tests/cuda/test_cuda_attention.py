"""The CUDA fused attention kernels against the NumPy reference: values (out, then the cache's lse), then the
gradients, over odd sizes (Lq != Lk, not multiples of the tiles, Dh != Dv, every head-size bucket), causal in
both alignments, every broadcast form of the mask, fully masked rows and tiles, dropout with a seed, and a
larger causal case; plus the edges (empty sizes, one key), streams, cache interchange with the CPU backends and
the head-size limit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

cp = pytest.importorskip("cupy")

from seqcore import kernels as K  # noqa: E402
from seqcore import use_backend  # noqa: E402

# rtol, and atol as a fraction of the largest |expected| (at least 1): the project's tolerances.
TOL = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float64): (1e-10, 1e-10)}

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def _close(got: Any, want: np.ndarray, what: str) -> None:
    assert isinstance(got, cp.ndarray), f"{what}: expected a CuPy array, got {type(got).__name__}"
    got = cp.asnumpy(got)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    rtol, atol = TOL[want.dtype]
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max()) if finite.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=what)


def _inputs(dtype, B, h, Lq, Lk, d, dv, mask_shape, data_seed):
    rng = np.random.default_rng([data_seed, B, h, Lq, Lk, d, dv, 7])
    dt = np.dtype(dtype)
    q = rng.standard_normal((B, h, Lq, d)).astype(dt)
    k = rng.standard_normal((B, h, Lk, d)).astype(dt)
    v = rng.standard_normal((B, h, Lk, dv)).astype(dt)
    dout = rng.standard_normal((B, h, Lq, dv)).astype(dt)
    mask = None if mask_shape is None else rng.random(mask_shape) < 0.7
    return q, k, v, dout, mask


def check(
    dtype: Any,
    B: int,
    h: int,
    Lq: int,
    Lk: int,
    d: int,
    dv: int | None = None,
    *,
    mask_shape: tuple[int, ...] | None = None,
    mask: np.ndarray | None = None,
    causal: bool = False,
    scale: float | None = None,
    dropout: float = 0.0,
    seed: int | None = None,
    data_seed: int = 0,
) -> None:
    """attention_forward and attention_backward on CuPy arrays (the cuda backend) against the reference."""
    dv = d if dv is None else dv
    q, k, v, dout, random_mask = _inputs(dtype, B, h, Lq, Lk, d, dv, mask_shape, data_seed)
    mask = random_mask if mask is None else mask
    kw = {"causal": causal, "scale": scale, "dropout": dropout, "seed": seed}
    with use_backend("reference"):
        ref_out, ref_cache = K.attention_forward(q, k, v, mask=mask, **kw)
        ref_dq, ref_dk, ref_dv = K.attention_backward(ref_cache, dout)
    dmask = None if mask is None else cp.asarray(mask)
    out, cache = K.attention_forward(cp.asarray(q), cp.asarray(k), cp.asarray(v), mask=dmask, **kw)
    label = f"{np.dtype(dtype).name} B={B} h={h} Lq={Lq} Lk={Lk} d={d} dv={dv} causal={causal} p={dropout}"
    _close(out, ref_out, f"{label}: out")
    _close(cache.lse, ref_cache.lse, f"{label}: cache.lse")
    dq, dk, dvv = K.attention_backward(cache, cp.asarray(dout))
    _close(dq, ref_dq, f"{label}: dq")
    _close(dk, ref_dk, f"{label}: dk")
    _close(dvv, ref_dv, f"{label}: dv")


DTYPES = (np.float64, np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("B", "h", "Lq", "Lk", "d", "dv"),
    [
        (2, 3, 5, 7, 4, 4),  # smaller than every tile
        (2, 2, 37, 70, 16, 24),  # Lq != Lk, neither a multiple of a tile, Dh != Dv
        (1, 3, 100, 65, 64, 64),
        (2, 1, 65, 129, 64, 32),
        (1, 2, 70, 90, 128, 128),
        (1, 2, 33, 47, 128, 96),
        (1, 1, 40, 50, 200, 256),  # the generic head size
        (1, 2, 1, 1, 8, 3),  # one query, one key
    ],
)
def test_shapes(dtype, B, h, Lq, Lk, d, dv):
    check(dtype, B, h, Lq, Lk, d, dv)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("Lq", "Lk"), [(70, 70), (50, 130), (130, 50), (1, 9), (9, 1)])
def test_causal(dtype, Lq, Lk):
    """Top-left aligned (key j <= query i) whatever Lq and Lk: keys past Lq get no gradient."""
    check(dtype, 2, 2, Lq, Lk, 32, 24, causal=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "mask_shape",
    [
        (45,),  # [Lk]
        (33, 45),  # [Lq,Lk]
        (1, 45),
        (33, 1),  # one flag per query
        (3, 1, 45),  # [h,1,Lk]
        (3, 33, 45),
        (2, 1, 1, 45),  # key padding per batch row
        (2, 1, 33, 45),
        (1, 3, 33, 45),
        (2, 3, 33, 45),
        (2, 3, 33, 1),
        (1, 1, 1, 1),
    ],
)
def test_mask_broadcast_forms(dtype, mask_shape):
    check(dtype, 2, 3, 33, 45, 16, 16, mask_shape=mask_shape, causal=len(mask_shape) == 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_rows_and_tiles(dtype):
    """Queries with no key give out 0, lse -inf and no gradient; key tiles and query tiles the mask rules out
    entirely are skipped by the kernels and must change nothing."""
    B, h, Lq, Lk = 2, 2, 150, 200
    rng = np.random.default_rng(3)
    mask = rng.random((B, 1, Lq, Lk)) < 0.8
    mask[:, :, 5, :] = False  # one query of every head sees nothing
    mask[1, :, 100:, :] = False  # whole query tiles
    mask[:, :, :, 64:160] = False  # whole key tiles
    mask[0, :, 20, 170] = True  # a lone key in a masked region
    check(dtype, B, h, Lq, Lk, 32, 32, mask=mask)
    check(dtype, B, h, Lq, Lk, 64, 64, mask=mask, causal=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_everything(dtype):
    check(dtype, 1, 2, 9, 11, 8, 8, mask=np.zeros((1, 1, 1, 11), dtype=bool))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("dropout", "seed"), [(0.1, 1234), (0.5, 2**64 - 1), (0.9, 7)])
def test_dropout_matches_reference(dtype, dropout, seed):
    """The keep mask is the CPU's hash of (seed, element index): forward and backward equal the reference's."""
    check(dtype, 2, 3, 37, 70, 16, 24, dropout=dropout, seed=seed, mask_shape=(2, 1, 37, 70), causal=True)
    check(dtype, 1, 2, 70, 40, 64, 64, dropout=dropout, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale(dtype):
    check(dtype, 1, 2, 20, 30, 16, 16, scale=0.37)
    check(dtype, 1, 2, 20, 30, 16, 16, scale=-2.0, causal=True)


def test_larger_causal_float32():
    check(np.float32, 2, 4, 1000, 1000, 64, 64, causal=True, data_seed=5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_sizes(dtype):
    for B, h, Lq in [(0, 2, 5), (2, 0, 5), (2, 2, 0)]:
        check(dtype, B, h, Lq, 6, 8, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_default_stream_and_views(dtype):
    """Work is queued on CuPy's current stream; offset (not 16-byte aligned) views are read correctly."""
    B, h, Lq, Lk, d = 1, 2, 20, 30, 12
    q, k, v, dout, _ = _inputs(dtype, B, h, Lq + 1, Lk, d, d, None, 9)
    with use_backend("reference"):
        ref_out, ref_cache = K.attention_forward(q[:, :, 1:], k, v, causal=True)
        ref_grads = K.attention_backward(ref_cache, dout[:, :, 1:])
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        dq_full = cp.asarray(q).reshape(-1)[1:]  # one element in: misaligned for 16-byte loads
        qd = dq_full[: q[:, :, 1:].size].reshape(B, h, Lq, d)
        qd[...] = cp.asarray(q[:, :, 1:])
        out, cache = K.attention_forward(qd, cp.asarray(k), cp.asarray(v), causal=True)
        grads = K.attention_backward(cache, cp.asarray(dout[:, :, 1:]))
    s.synchronize()
    _close(out, ref_out, "stream: out")
    _close(cache.lse, ref_cache.lse, "stream: lse")
    for name, got, want in zip(("dq", "dk", "dv"), grads, ref_grads):
        _close(got, want, f"stream: {name}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cache_interchange_with_cpu(dtype):
    """A CPU forward's cache (host arrays) moved to the device drives the CUDA backward, and the CUDA forward's
    cache moved to the host drives the reference backward: same gradients either way."""
    q, k, v, dout, mask = _inputs(dtype, 2, 2, 40, 50, 16, 16, (2, 1, 40, 50), 11)
    with use_backend("reference"):
        ref_out, ref_cache = K.attention_forward(q, k, v, mask=mask, causal=True, dropout=0.2, seed=99)
        ref_grads = K.attention_backward(ref_cache, dout)
    dev_cache = K.AttentionCache(*(cp.asarray(x) if isinstance(x, np.ndarray) else x for x in ref_cache))
    for name, got, want in zip(("dq", "dk", "dv"), K.attention_backward(dev_cache, cp.asarray(dout)), ref_grads):
        _close(got, want, f"CPU cache -> CUDA backward: {name}")
    _, cuda_cache = K.attention_forward(
        cp.asarray(q), cp.asarray(k), cp.asarray(v), mask=cp.asarray(mask), causal=True, dropout=0.2, seed=99
    )
    host_cache = K.AttentionCache(*(cp.asnumpy(x) if isinstance(x, cp.ndarray) else x for x in cuda_cache))
    with use_backend("reference"):
        grads = K.attention_backward(host_cache, dout)
    for name, got, want in zip(("dq", "dk", "dv"), grads, ref_grads):
        _close(cp.asarray(got), want, f"CUDA cache -> reference backward: {name}")


def test_head_size_limit():
    q = cp.zeros((1, 1, 4, 257), dtype=cp.float32)
    v = cp.zeros((1, 1, 4, 8), dtype=cp.float32)
    with pytest.raises(ValueError, match="head sizes"):
        K.attention_forward(q, q, v)


def test_repeatable_forward():
    """The forward has no atomics: two runs give the same bits."""
    q, k, v, _, mask = _inputs(np.float32, 2, 2, 90, 110, 64, 64, (2, 2, 90, 110), 4)
    args = (cp.asarray(q), cp.asarray(k), cp.asarray(v))
    a, _ = K.attention_forward(*args, mask=cp.asarray(mask), dropout=0.3, seed=5)
    b, _ = K.attention_forward(*args, mask=cp.asarray(mask), dropout=0.3, seed=5)
    np.testing.assert_array_equal(cp.asnumpy(a), cp.asnumpy(b))
