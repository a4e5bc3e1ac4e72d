"""Fused scaled dot-product attention: every backend against the NumPy reference (shapes, every broadcast form of
the mask, causal, fully masked rows, dropout), the backward against finite differences, the reference and the
backends against torch's scaled_dot_product_attention, and bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from helpers import (
    ALL_BACKENDS,
    DTYPES,
    FAST_BACKENDS,
    Case,
    assert_close,
    check_against_reference,
    finite_difference_check,
    require_backend,
)
from seqcore import kernels as K
from seqcore import set_seed, use_backend
from seqcore.backends.reference.attention import dropout_keep

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def attention_case(
    dtype: Any,
    B: int = 2,
    h: int = 3,
    Lq: int = 5,
    Lk: int = 7,
    d: int = 4,
    dv: int | None = None,
    *,
    mask_shape: tuple[int, ...] | None = None,
    masked_rows: tuple[int, ...] = (),
    causal: bool = False,
    scale: float | None = None,
    dropout: float = 0.0,
    seed: int | None = None,
    spread: float = 1.0,
    data_seed: int = 0,
) -> Case:
    """attention_forward on seeded q, k, v (mask: random, True with probability 0.7, of ``mask_shape``; the
    query rows ``masked_rows`` of a mask with mq = Lq attend nothing), then attention_backward."""
    dt = np.dtype(dtype)
    dv = d if dv is None else dv
    seed = 1234 if dropout and seed is None else seed  # a fixed seed: every backend drops the same elements

    def make_inputs():
        rng = np.random.default_rng([data_seed, B, h, Lq, Lk, d, dv, 41])
        inputs: dict[str, Any] = {
            "q": (spread * rng.standard_normal((B, h, Lq, d))).astype(dt),
            "k": (spread * rng.standard_normal((B, h, Lk, d))).astype(dt),
            "v": rng.standard_normal((B, h, Lk, dv)).astype(dt),
        }
        mask = None
        if mask_shape is not None:
            mask = rng.random(mask_shape) < 0.7
            for i in masked_rows:
                mask[..., i, :] = False
        inputs["mask"] = mask
        return inputs

    def make_upstream():
        rng = np.random.default_rng([data_seed + 1, B, h, Lq, Lk, d, dv, 41])
        return {"dout": rng.standard_normal((B, h, Lq, dv)).astype(dt)}

    def forward(q, k, v, mask):
        out, cache = K.attention_forward(q, k, v, mask=mask, causal=causal, scale=scale, dropout=dropout, seed=seed)
        assert isinstance(cache, K.AttentionCache), type(cache)
        return {"out": out, "lse": cache.lse}, cache

    def backward(cache, dout):
        dq, dk, dvv = K.attention_backward(cache, dout)
        return {"dq": dq, "dk": dk, "dv": dvv}

    label = f"attention {dt} B={B} h={h} Lq={Lq} Lk={Lk} d={d} dv={dv} mask={mask_shape} rows={masked_rows} "
    label += f"causal={causal} scale={scale} dropout={dropout}"
    return Case(
        label, make_inputs, forward, make_upstream, backward, {"dq": "q", "dk": "k", "dv": "v"}, {"dout": "out"}
    )


# ---------------------------------------------------------------- every backend against the reference

# (B, h, Lq, Lk, d, dv): Lq != Lk both ways, d not a multiple of 16, dv != d, one query, one key, lengths
# spanning several tiles of queries (64) and keys (128), one (batch row, head) pair and many
SHAPES = [
    (2, 3, 5, 7, 4, None),
    (1, 1, 9, 3, 20, 33),
    (2, 2, 1, 6, 33, 5),
    (2, 2, 6, 1, 5, 3),
    (1, 1, 1, 1, 1, 1),
    (1, 2, 130, 300, 20, 7),
    (2, 1, 300, 130, 8, 16),
    (5, 4, 17, 23, 16, 16),
]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("B", "h", "Lq", "Lk", "d", "dv"), SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_shapes_match_reference(backend, dtype, B, h, Lq, Lk, d, dv, causal):
    check_against_reference(attention_case(dtype, B, h, Lq, Lk, d, dv, causal=causal), backend)


def mask_shapes(B: int, h: int, Lq: int, Lk: int) -> list[tuple[int, ...]]:
    """Every broadcast form of a mask: fewer dims (left-padded), each dim 1 or full, the key dim 1 too."""
    return [
        (Lk,),
        (Lq, Lk),
        (B, 1, 1, Lk),
        (1, 1, Lq, Lk),
        (B, h, Lq, Lk),
        (B, 1, Lq, 1),
        (1, h, 1, Lk),
        (h, Lq, Lk),
        (1, 1, 1, 1),
        (Lq, 1),
    ]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", mask_shapes(2, 3, 70, 150), ids=str)
@pytest.mark.parametrize("causal", [False, True])
def test_masks_match_reference(backend, dtype, mask_shape, causal):
    check_against_reference(attention_case(dtype, 2, 3, 70, 150, 8, 5, mask_shape=mask_shape, causal=causal), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("scale", "spread"), [(None, 3.0), (0.0, 1.0), (-0.7, 1.0), (25.0, 1.0)])
def test_scales_match_reference(backend, dtype, scale, spread):
    """Peaked softmaxes (large scores), a uniform one (scale 0) and a negative scale."""
    check_against_reference(attention_case(dtype, 2, 2, 9, 140, 6, scale=scale, spread=spread), backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dropout", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("causal", [False, True])
def test_dropout_matches_reference(backend, dtype, dropout, causal):
    case = attention_case(dtype, 2, 3, 70, 150, 8, 6, mask_shape=(2, 1, 1, 150), causal=causal, dropout=dropout)
    check_against_reference(case, backend)


@pytest.mark.parametrize(("fwd", "bwd"), [("reference", "numba"), ("numba", "reference"), ("numba", "cpp")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cache_interchange(fwd, bwd, dtype):
    case = attention_case(dtype, 2, 2, 20, 30, 5, mask_shape=(2, 1, 20, 30), causal=True, dropout=0.2)
    check_against_reference(case, fwd, backward_backend=bwd)


# ---------------------------------------------------------------- fully masked rows


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fully_masked_rows_give_zeros(backend, dtype, causal, dropout):
    """A query that may attend no key: out = 0, lse = -inf, no NaN anywhere, and no gradient from its row."""
    rows = (0, 3, 69)
    case = attention_case(
        dtype, 2, 2, 70, 140, 6, mask_shape=(2, 1, 70, 140), masked_rows=rows, causal=causal, dropout=dropout
    )
    if backend != "reference":
        check_against_reference(case, backend)
    require_backend(backend)
    inputs, dout = case.make_inputs(), case.make_upstream()["dout"]
    with use_backend(backend):
        out, cache = case.forward(**inputs)
        grads = case.backward(cache, dout)
        bumped = dout.copy()
        bumped[:, :, list(rows)] = 1e3  # the upstream gradient of a masked row reaches nothing
        grads_bumped = case.backward(cache, bumped)
    assert not any(np.isnan(a).any() for a in (out["out"], *grads.values()))
    assert np.all(out["out"][:, :, list(rows)] == 0)
    assert np.all(out["lse"][:, :, list(rows)] == -np.inf)
    assert np.all(grads["dq"][:, :, list(rows)] == 0)
    others = [i for i in range(70) if i not in rows]
    assert np.isfinite(out["lse"][:, :, others]).all()
    for name in grads:
        np.testing.assert_array_equal(grads_bumped[name], grads[name], err_msg=name)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_mask_of_nothing(backend):
    require_backend(backend)
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((1, 2, 5, 3)), rng.standard_normal((1, 2, 5, 2))
    with use_backend(backend):
        out, cache = K.attention_forward(q, k, v, mask=np.zeros(5, bool), causal=True)
        dq, dk, dv = K.attention_backward(cache, np.ones_like(out))
    assert np.all(out == 0) and np.all(cache.lse == -np.inf)
    assert not (dq.any() or dk.any() or dv.any())


# ---------------------------------------------------------------- dropout


def identity_values(dtype: Any, B: int, h: int, Lq: int, Lk: int, seed: int = 5):
    """q, k small (no probability underflows to 0) and v = I: out is then the attention matrix after dropout."""
    rng = np.random.default_rng(seed)
    q = (0.3 * rng.standard_normal((B, h, Lq, 4))).astype(dtype)
    k = (0.3 * rng.standard_normal((B, h, Lk, 4))).astype(dtype)
    v = np.broadcast_to(np.eye(Lk, dtype=dtype), (B, h, Lk, Lk)).copy()
    return q, k, v


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("seed", [0, 77, 2**63 + 5, 2**64 - 1])
def test_dropout_keep_mask(backend, p, seed):
    """Kept elements are exactly dropout_keep's (the spec's counter hash), scaled by 1/(1-p), a fraction ~1-p."""
    require_backend(backend)
    B, h, Lq, Lk = 2, 3, 40, 50
    q, k, v = identity_values(np.float64, B, h, Lq, Lk)
    with use_backend(backend):
        weights, _ = K.attention_forward(q, k, v, dropout=p, seed=seed)
        plain, _ = K.attention_forward(q, k, v)
    keep = dropout_keep(seed, (B, h, Lq, Lk), p)
    np.testing.assert_array_equal(weights != 0, keep)
    np.testing.assert_allclose(weights, np.where(keep, plain / (1 - p), 0.0), rtol=1e-12, atol=1e-15)
    assert abs(keep.mean() - (1 - p)) < 0.02


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_dropout_seeds(backend):
    """Same seed, same result; another seed, another mask; no seed: seqcore's generator draws one and the cache
    keeps it, so set_seed reproduces the call and the backward drops what the forward dropped."""
    require_backend(backend)
    q, k, v = identity_values(np.float64, 1, 2, 20, 30)
    g = np.random.default_rng(1).standard_normal((1, 2, 20, 30))
    with use_backend(backend):
        a, _ = K.attention_forward(q, k, v, dropout=0.4, seed=9)
        b, _ = K.attention_forward(q, k, v, dropout=0.4, seed=9)
        c, _ = K.attention_forward(q, k, v, dropout=0.4, seed=10)
        set_seed(3)
        d1, cache1 = K.attention_forward(q, k, v, dropout=0.4)
        set_seed(3)
        d2, cache2 = K.attention_forward(q, k, v, dropout=0.4)
        grads = K.attention_backward(cache1, g)
        with use_backend("reference"):
            want = K.attention_backward(cache1, g)
    np.testing.assert_array_equal(a, b)
    assert (a != 0).tolist() != (c != 0).tolist()
    assert isinstance(cache1.seed, int) and 0 <= cache1.seed < 2**63 and cache1.seed == cache2.seed
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(d1 != 0, dropout_keep(cache1.seed, (1, 2, 20, 30), 0.4))
    for got, ref, name in zip(grads, want, ("dq", "dk", "dv")):
        assert_close(got, ref, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_identical_on_every_backend(dtype):
    for b in ALL_BACKENDS:
        require_backend(b)
    q, k, v = identity_values(dtype, 2, 2, 70, 140)
    masks = {}
    for b in ALL_BACKENDS:
        with use_backend(b):
            out, _ = K.attention_forward(q, k, v, dropout=0.3, seed=2024, causal=True)
        masks[b] = out != 0
    for b in FAST_BACKENDS:
        np.testing.assert_array_equal(masks[b], masks["reference"], err_msg=b)


# ---------------------------------------------------------------- finite differences


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(
    ("mask_shape", "causal", "dropout"),
    [(None, False, 0.0), ((2, 1, 3, 4), True, 0.0), ((4,), False, 0.3), ((2, 2, 3, 4), True, 0.3)],
    ids=["plain", "mask_causal", "mask_dropout", "mask_causal_dropout"],
)
@pytest.mark.parametrize(("Lq", "Lk"), [(3, 4), (4, 3)])
def test_gradients_vs_finite_differences(backend, mask_shape, causal, dropout, Lq, Lk):
    shape = None if mask_shape is None else mask_shape[:-2] + (Lq, Lk) if len(mask_shape) == 4 else (Lk,)
    case = attention_case(np.float64, 2, 2, Lq, Lk, 3, 2, mask_shape=shape, causal=causal, dropout=dropout, seed=5)
    finite_difference_check(case, backend)


# ---------------------------------------------------------------- torch


def torch_sdpa(q, k, v, mask, causal, scale, dout):
    """torch's forward and autograd backward, in the inputs' dtype (torch: a True mask element takes part)."""
    torch = pytest.importorskip("torch")
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    allowed = None if mask is None else torch.tensor(np.broadcast_to(mask, (*q.shape[:3], k.shape[2])).copy())
    if causal and allowed is not None:  # torch refuses attn_mask with is_causal: fold the triangle into the mask
        allowed = allowed & torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril()
        causal = False
    out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=allowed, is_causal=causal, scale=scale)
    out.backward(torch.tensor(dout))
    return [t.detach().numpy() for t in (out, tq.grad, tk.grad, tv.grad)]


TORCH_CASES = [
    # (B, h, Lq, Lk, d, dv, mask shape, causal)
    (2, 3, 5, 7, 8, 8, None, False),
    (2, 3, 7, 5, 9, 6, None, True),
    (1, 2, 1, 6, 33, 5, (1, 2, 1, 6), False),
    (2, 2, 70, 150, 20, 12, (2, 1, 70, 150), False),
    (2, 2, 150, 70, 7, 7, (2, 1, 1, 70), True),
    (2, 1, 12, 9, 5, 4, (2, 1, 12, 1), False),  # whole rows masked: torch gives NaN there
]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("B", "h", "Lq", "Lk", "d", "dv", "mask_shape", "causal"), TORCH_CASES)
def test_equals_torch(backend, dtype, B, h, Lq, Lk, d, dv, mask_shape, causal):
    require_backend(backend)
    rng = np.random.default_rng([B, h, Lq, Lk, d])
    q, k = rng.standard_normal((B, h, Lq, d)).astype(dtype), rng.standard_normal((B, h, Lk, d)).astype(dtype)
    v, dout = rng.standard_normal((B, h, Lk, dv)).astype(dtype), rng.standard_normal((B, h, Lq, dv)).astype(dtype)
    mask = None if mask_shape is None else rng.random(mask_shape) < 0.7
    want = torch_sdpa(q, k, v, mask, causal, None, dout)
    with use_backend(backend):
        out, cache = K.attention_forward(q, k, v, mask=mask, causal=causal)
        got = [out, *K.attention_backward(cache, dout)]
    rows_ok = np.isfinite(want[0]).all(axis=-1)  # torch: NaN on a row that attends nothing (ours: zeros)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    for name, g, w in zip(("out", "dq", "dk", "dv"), got, want):
        if name in ("out", "dq"):
            g, w = g[rows_ok], w[rows_ok]
        elif not rows_ok.all():  # dk, dv: torch's NaN rows spread into every key; compare where torch is finite
            finite = np.isfinite(w)
            g, w = g[finite], w[finite]
        scale = max(1.0, float(np.abs(w).max(initial=0.0)))
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=f"{name} vs torch")
    assert np.all(out[~rows_ok] == 0)


# ---------------------------------------------------------------- NaN, empty sizes


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_nan_propagation(backend):
    """A NaN in query i makes row i NaN; a NaN in key j the rows that may attend j; the others stay as they were."""
    require_backend(backend)
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((1, 1, 6, 3)), rng.standard_normal((1, 1, 8, 3)), rng.standard_normal((1, 1, 8, 2))
    with use_backend(backend):
        clean, _ = K.attention_forward(q, k, v, causal=True)
        qn = q.copy()
        qn[0, 0, 2, 1] = np.nan
        out, _ = K.attention_forward(qn, k, v, causal=True)
        assert np.isnan(out[0, 0, 2]).all()
        np.testing.assert_allclose(np.delete(out, 2, axis=2), np.delete(clean, 2, axis=2), rtol=1e-12)
        kn = k.copy()
        kn[0, 0, 3, 0] = np.nan  # causal: queries 3.. may attend key 3
        out, _ = K.attention_forward(q, kn, v, causal=True)
        assert np.isnan(out[0, 0, 3:]).all()
        np.testing.assert_allclose(out[0, 0, :3], clean[0, 0, :3], rtol=1e-12)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(("B", "h", "Lq"), [(0, 2, 3), (2, 0, 3), (2, 2, 0)])
def test_empty_sizes(backend, B, h, Lq):
    require_backend(backend)
    q, k, v = np.zeros((B, h, Lq, 3)), np.zeros((B, h, 4, 3)), np.zeros((B, h, 4, 5))
    with use_backend(backend):
        out, cache = K.attention_forward(q, k, v, causal=True, dropout=0.5, seed=1)
        grads = K.attention_backward(cache, np.zeros_like(out))
    assert out.shape == (B, h, Lq, 5) and cache.lse.shape == (B, h, Lq)
    assert [g.shape for g in grads] == [q.shape, k.shape, v.shape]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_layouts(backend, dtype):
    """float32 stays float32; non-contiguous and Fortran-ordered inputs give the results of C copies."""
    require_backend(backend)
    rng = np.random.default_rng(8)
    q = rng.standard_normal((2, 2, 9, 4)).astype(dtype)
    k = rng.standard_normal((2, 2, 11, 4)).astype(dtype)
    v = rng.standard_normal((2, 2, 11, 6)).astype(dtype)
    mask = rng.random((2, 1, 9, 11)) < 0.8
    with use_backend(backend):
        want, wc = K.attention_forward(q, k, v, mask=mask)
        got, gc = K.attention_forward(
            np.asfortranarray(q), np.swapaxes(np.swapaxes(k, 2, 3).copy(), 2, 3), v[..., ::-1].copy()[..., ::-1],
            mask=np.asfortranarray(mask),
        )  # fmt: skip
    assert want.dtype == dtype and wc.lse.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gc.lse, wc.lse)


# ---------------------------------------------------------------- bad input


@pytest.fixture
def qkv():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 7))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_bad_shapes(backend, qkv):
    require_backend(backend)
    q, k, v = qkv
    with use_backend(backend):
        with pytest.raises(ValueError, match=r"k must have shape \[B,h,Lk,d\]"):
            K.attention_forward(q, k[..., :4], v)  # head dims differ
        with pytest.raises(ValueError, match=r"k must have shape \[B,h,Lk,d\]"):
            K.attention_forward(q, k[:1], v[:1])  # batch differs
        with pytest.raises(ValueError, match=r"v must have shape \[B,h,Lk,dv\]"):
            K.attention_forward(q, k, v[:, :, :5])
        with pytest.raises(ValueError, match="q must have 4 dimensions"):
            K.attention_forward(q[0], k, v)
        with pytest.raises(ValueError, match="v must have 4 dimensions"):
            K.attention_forward(q, k, v[0])
        with pytest.raises(ValueError, match="needs d, dv and Lk >= 1"):
            K.attention_forward(q[..., :0], k[..., :0], v)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 3), (2, 4, 6), (2, 2, 1, 6), (1, 2, 3, 4, 6), (4, 1, 6, 1)])
def test_mask_that_does_not_broadcast(backend, qkv, shape):
    require_backend(backend)
    with use_backend(backend), pytest.raises(ValueError) as err:
        K.attention_forward(*qkv, mask=np.ones(shape, bool))
    assert str(shape) in str(err.value) and "(2, 3, 4, 6)" in str(err.value)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_bad_masks_and_scalars(backend, qkv):
    require_backend(backend)
    q, k, v = qkv
    with use_backend(backend):
        ones = np.ones(6)
        a, _ = K.attention_forward(q, k, v, mask=ones.astype(np.int64))  # 0/1 numbers are accepted
        b, _ = K.attention_forward(q, k, v, mask=ones.astype(bool))
        np.testing.assert_array_equal(a, b)
        with pytest.raises(ValueError, match="only 0 and 1"):
            K.attention_forward(q, k, v, mask=np.full(6, 0.5))
        with pytest.raises(TypeError, match="mask must be a boolean array"):
            K.attention_forward(q, k, v, mask=np.array(["a"] * 6))
        with pytest.raises(TypeError, match=r"k must have dtype float64"):
            K.attention_forward(q, k.astype(np.float32), v)
        with pytest.raises(TypeError, match=r"v must have dtype float32"):
            K.attention_forward(q.astype(np.float32), k.astype(np.float32), v)
        with pytest.raises(TypeError, match="q must have dtype float32 or float64"):
            K.attention_forward(q.astype(np.int64), k, v)
        for p in (1.0, -0.1, 2.0, math.nan):
            with pytest.raises(ValueError, match="dropout"):
                K.attention_forward(q, k, v, dropout=p)
        with pytest.raises(TypeError, match="dropout"):
            K.attention_forward(q, k, v, dropout="0.1")
        for seed in (-1, 2**64, 1.5, "3", True):
            with pytest.raises(ValueError, match="seed must be an int in"):
                K.attention_forward(q, k, v, dropout=0.1, seed=seed)
        for scale in (math.inf, math.nan):
            with pytest.raises(ValueError, match="scale"):
                K.attention_forward(q, k, v, scale=scale)
        _, cache = K.attention_forward(q, k, v)
        with pytest.raises(ValueError, match=r"dout must have shape \[B,h,Lq,dv\]"):
            K.attention_backward(cache, np.zeros((2, 3, 4, 6)))
        with pytest.raises(TypeError, match="dout must have dtype float64"):
            K.attention_backward(cache, np.zeros((2, 3, 4, 7), np.float32))
        with pytest.raises(TypeError):
            K.attention_backward(tuple(cache)[:3], np.zeros((2, 3, 4, 7)))
