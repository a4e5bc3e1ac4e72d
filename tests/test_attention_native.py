"""The native attention and GELU kernels (cpp adapter) against an inline NumPy formula, finite differences and
torch (scaled_dot_product_attention, gelu): masks, causal, odd sizes, fully masked rows, dropout, threads, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore.backends import cpp

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------- the formula


def keep_mask(seed: int, shape: tuple[int, int, int, int], p: float) -> np.ndarray:
    """The spec's dropout rule: element idx = ((b*h + hh)*Lq + i)*Lk + j is kept iff u(seed, idx) >= p."""
    idx = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (idx + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return u >= p


def allowed(mask, causal: bool, shape: tuple[int, int, int, int]) -> np.ndarray:
    ok = np.ones(shape, bool)
    if mask is not None:
        ok = ok & mask
    if causal:
        ok = ok & np.tril(np.ones(shape[2:], bool))
    return ok


def formula(q, k, v, mask=None, causal=False, scale=None, dropout=0.0, seed=0, dout=None):
    """out, lse and (with dout) dq, dk, dv of softmax(q k^T scale + mask) v with dropout, in float64."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    ok = allowed(mask, causal, s.shape)
    s = np.where(ok, s, -np.inf)
    m = s.max(-1, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(ok, np.exp(s - m), 0.0)
    total = e.sum(-1, keepdims=True)
    p = e / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore"):
        lse = np.where(total[..., 0] > 0, np.log(total[..., 0]) + m[..., 0], -np.inf)
    z = keep_mask(seed, s.shape, dropout) / (1.0 - dropout) if dropout > 0 else np.ones(s.shape)
    out = (p * z) @ v
    if dout is None:
        return out, lse
    dout = np.asarray(dout, np.float64)
    dv = np.swapaxes(p * z, -1, -2) @ dout
    dp = (dout @ np.swapaxes(v, -1, -2)) * z
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    dq = scale * ds @ k
    dk = scale * np.swapaxes(ds, -1, -2) @ q
    return out, lse, dq, dk, dv


def inputs(B, h, Lq, Lk, d, dv, dtype, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, h, Lq, d)).astype(dtype)
    k = rng.standard_normal((B, h, Lk, d)).astype(dtype)
    v = rng.standard_normal((B, h, Lk, dv)).astype(dtype)
    g = rng.standard_normal((B, h, Lq, dv)).astype(dtype)
    return q, k, v, g


def padding_mask(B, Lk, seed=1, full_row=None):
    """[B,1,1,Lk] key padding: row b keeps its first lengths[b] keys (at least one)."""
    lengths = np.random.default_rng(seed).integers(1, Lk + 1, B)
    return (np.arange(Lk)[None, :] < lengths[:, None])[:, None, None, :]


def run(q, k, v, mask=None, causal=False, scale=None, dropout=0.0, seed=0, dout=None):
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    out, lse = cpp.attention_forward(q, k, v, mask, causal, scale, dropout, seed)
    if dout is None:
        return out, lse
    return (out, lse, *cpp.attention_backward(q, k, v, out, lse, mask, causal, scale, dropout, seed, dout))


def close(got, want, dtype, what=""):
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


# (B, h, Lq, Lk, d, dv): tile remainders both ways, d not a multiple of the SIMD width, Lq != Lk, single
# query / key, several key tiles (Lk > 256) and query tiles (Lq > 96), head widths over 512 (the tile products'
# Eigen fallback)
SHAPES = [
    (2, 3, 5, 7, 4, 3),
    (2, 2, 70, 300, 20, 33),
    (1, 2, 130, 64, 33, 16),
    (1, 1, 1, 9, 8, 8),
    (2, 1, 9, 1, 8, 5),
    (1, 2, 257, 257, 16, 16),
    (1, 1, 7, 9, 520, 530),
]


def masks_for(B, h, Lq, Lk):
    rng = np.random.default_rng(7)
    full = rng.random((B, h, Lq, Lk)) > 0.3
    full[0, 0, 0] = False  # a fully masked row
    return {
        "none": None,
        "padding": padding_mask(B, Lk),
        "full": full,
        "per-query": rng.random((1, 1, Lq, 1)) > 0.2,
        "per-head": rng.random((1, h, 1, Lk)) > 0.5,
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_against_formula(shape, causal, dtype):
    B, h, Lq, Lk, d, dv = shape
    q, k, v, g = inputs(*shape, dtype)
    for name, mask in masks_for(B, h, Lq, Lk).items():
        got = run(q, k, v, mask, causal, dout=g)
        want = formula(q, k, v, mask, causal, dout=g)
        assert all(a.dtype == dtype for a in got)
        assert not any(np.isnan(a).any() for a in got), name
        np.testing.assert_array_equal(np.isneginf(got[1]), np.isneginf(want[1]))
        for label, a, b in zip(("out", "lse", "dq", "dk", "dv"), got, want):
            close(np.where(np.isneginf(b), 0, a), np.where(np.isneginf(b), 0, b), dtype, f"{name} {label}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_formula_bit_for_bit_mask(dtype):
    q, k, v, g = inputs(2, 2, 70, 140, 16, 12, dtype)
    mask = padding_mask(2, 140)
    for causal in (False, True):
        got = run(q, k, v, mask, causal, 0.3, 0.25, 12345, g)
        want = formula(q, k, v, mask, causal, 0.3, 0.25, 12345, g)
        for label, a, b in zip(("out", "lse", "dq", "dk", "dv"), got, want):
            close(a, b, dtype, label)


def test_dropout_seed_and_rate():
    q, k, v, _ = inputs(2, 2, 40, 50, 8, 8, np.float64)
    a = run(q, k, v, dropout=0.4, seed=3)[0]
    np.testing.assert_array_equal(a, run(q, k, v, dropout=0.4, seed=3)[0])
    assert not np.allclose(a, run(q, k, v, dropout=0.4, seed=4)[0])
    np.testing.assert_array_equal(run(q, k, v, dropout=0.0, seed=3)[0], run(q, k, v, dropout=0.0, seed=9)[0])
    # uniform scores and v = identity: out[i, j] = z_ij / ((1 - p) Lk), so the kept fraction is out's nonzero share
    Lk = 256
    q0 = np.zeros((2, 2, 128, 4))
    eye = np.broadcast_to(np.eye(Lk), (2, 2, Lk, Lk)).copy()
    for p in (0.1, 0.5, 0.9):
        out = run(q0, np.zeros((2, 2, Lk, 4)), eye, dropout=p, seed=2**64 - 1)[0]
        kept = out > 0
        assert abs(kept.mean() - (1 - p)) < 0.01
        np.testing.assert_allclose(out[kept], 1.0 / ((1 - p) * Lk), rtol=1e-12)


def test_seed_range():
    q, k, v, _ = inputs(1, 1, 3, 3, 2, 2, np.float64)
    for seed in (0, 2**63, 2**64 - 1, np.uint64(5), np.int64(5)):
        cpp.attention_forward(q, k, v, None, False, 1.0, 0.5, seed)
    for seed in (-1, 2**64):
        with pytest.raises(ValueError, match="seed"):
            cpp.attention_forward(q, k, v, None, False, 1.0, 0.5, seed)
    with pytest.raises(TypeError, match="seed"):
        cpp.attention_forward(q, k, v, None, False, 1.0, 0.5, 1.5)


def numeric_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for n in range(flat.size):
        old = flat[n]
        flat[n] = old + eps
        up = f()
        flat[n] = old - eps
        down = f()
        flat[n] = old
        gflat[n] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_backward_finite_differences(dropout):
    B, h, Lq, Lk, d, dv = 2, 2, 5, 6, 3, 4
    q, k, v, g = inputs(B, h, Lq, Lk, d, dv, np.float64, seed=5)
    mask = np.random.default_rng(3).random((B, 1, Lq, Lk)) > 0.3
    mask[1, 0, 2] = False  # a fully masked row: no gradient from it

    def loss():
        return float((run(q, k, v, mask, True, 0.7, dropout, 99)[0] * g).sum())

    _, _, dq, dk, dvv = run(q, k, v, mask, True, 0.7, dropout, 99, g)
    for got, x in ((dq, q), (dk, k), (dvv, v)):
        np.testing.assert_allclose(got, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_fully_masked_and_empty():
    q, k, v, g = inputs(2, 2, 4, 5, 3, 3, np.float64)
    mask = np.zeros((1, 1, 1, 1), bool)
    out, lse, dq, dk, dv = run(q, k, v, mask, False, dout=g)
    assert (out == 0).all() and np.isneginf(lse).all()
    assert (dq == 0).all() and (dk == 0).all() and (dv == 0).all()
    # Lk = 0: every row fully masked; Lq = 0, d = 0, dv = 0: empty or trivial outputs
    for shape in [(2, 2, 4, 0, 3, 3), (2, 2, 0, 5, 3, 3), (2, 2, 4, 5, 0, 3), (2, 2, 4, 5, 3, 0), (0, 2, 4, 5, 3, 3)]:
        q, k, v, g = inputs(*shape, np.float32)
        got = run(q, k, v, None, True, 1.0, 0.0, 0, g)
        want = formula(q, k, v, None, True, 1.0, dout=g)
        for a, b in zip(got, want):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_threads_agree():
    q, k, v, g = inputs(1, 1, 300, 700, 16, 16, np.float64)  # one (b, hh): the backward shares its key tiles
    before = seqcore.get_num_threads()
    try:
        seqcore.set_num_threads(1)
        one = run(q, k, v, padding_mask(1, 700), True, dout=g)
        seqcore.set_num_threads(3)
        many = run(q, k, v, padding_mask(1, 700), True, dout=g)
    finally:
        seqcore.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- against torch


def torch_sdpa(q, k, v, mask, causal, dout):
    """torch's out and gradients; its bool attn_mask is True where attention is allowed, like ours."""
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    attn_mask = None
    if mask is not None or causal:
        attn_mask = torch.from_numpy(allowed(mask, causal, (*q.shape[:3], k.shape[2])))
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=attn_mask)
    out.backward(torch.from_numpy(dout))
    return [t.detach().numpy() for t in (out, tq.grad, tk.grad, tv.grad)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape", [(2, 4, 33, 47, 20, 20), (3, 2, 65, 65, 33, 33), (2, 2, 1, 10, 16, 16), (2, 2, 10, 1, 8, 8)]
)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_against_torch(shape, causal, masked, dtype):
    B, h, Lq, Lk, d, dv = shape
    q, k, v, g = inputs(*shape, dtype, seed=11)
    mask = padding_mask(B, Lk, seed=4) if masked else None
    if masked and Lq > 2:
        mask = mask & (np.arange(Lq) != 1)[None, None, :, None]  # query 1 sees nothing: torch gives NaN there
    ours = run(q, k, v, mask, causal, dout=g)
    theirs = torch_sdpa(q, k, v, mask, causal, g)
    rows_ok = allowed(mask, causal, (B, h, Lq, Lk)).any(-1)
    tol = 1e-10 if dtype == np.float64 else 3e-5
    for label, a, b in zip(("out", "dq"), (ours[0], ours[2]), (theirs[0], theirs[1])):
        np.testing.assert_allclose(a[rows_ok], b[rows_ok], rtol=tol, atol=tol, err_msg=label)
        assert (a[~rows_ok] == 0).all()
    if rows_ok.all():  # torch's NaN rows spoil its dk/dv wherever they flow
        for label, a, b in zip(("dk", "dv"), ours[3:], theirs[2:]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=label)
    else:  # ours against the formula there instead
        want = formula(q, k, v, mask, causal, dout=g)
        for a, b in zip(ours[3:], want[3:]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---------------------------------------------------------------- GELU


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_against_torch(dtype, approximate):
    rng = np.random.default_rng(0)
    for shape in [(3, 37), (1,), (0, 4), (2, 3, 1029)]:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        if x.size:
            x.reshape(-1)[: min(x.size, 8)] = [0.0, -0.0, 1e-30, -40.0, 40.0, 9.0, -9.0, 3.0][: min(x.size, 8)]
        dy = rng.standard_normal(shape).astype(dtype)
        # torch in float64 on the same values: its float32 tanh form loses the gradient's tail where tanh rounds to 1
        tx = torch.tensor(x.astype(np.float64), requires_grad=True)
        ty = F.gelu(tx, approximate="tanh" if approximate else "none")
        ty.backward(torch.from_numpy(dy.astype(np.float64)))
        y = cpp.gelu_forward(x, approximate)
        dx = cpp.gelu_backward(x, dy, approximate)
        assert y.shape == x.shape and y.dtype == dtype and dx.dtype == dtype
        tol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_float32_independent_of_position(approximate):
    x = np.random.default_rng(1).standard_normal(101).astype(np.float32)
    whole = cpp.gelu_forward(x, approximate)
    for start in range(1, 9):
        np.testing.assert_array_equal(cpp.gelu_forward(np.ascontiguousarray(x[start:]), approximate), whole[start:])


# ---------------------------------------------------------------- bad input


def test_bad_input():
    q, k, v, g = inputs(2, 2, 4, 5, 3, 6, np.float32)
    ok = (q, k, v, None, False, 1.0, 0.0, 0)

    def fwd(**kw):
        args = dict(zip(("q", "k", "v", "mask", "causal", "scale", "dropout", "seed"), ok))
        args.update(kw)
        return cpp.attention_forward(*args.values())

    fwd()
    bad = [
        (ValueError, dict(q=q[0])),
        (ValueError, dict(k=k[:, :1])),
        (ValueError, dict(k=k[..., :2].copy())),
        (ValueError, dict(v=v[:, :, :4].copy())),
        (TypeError, dict(k=k.astype(np.float64))),
        (TypeError, dict(q=q.astype(np.int32))),
        (ValueError, dict(q=np.asfortranarray(q))),
        (ValueError, dict(k=k[:, :, ::-1])),
        (TypeError, dict(mask=np.ones((2, 2, 4, 5), np.int8))),
        (ValueError, dict(mask=np.ones((2, 2, 4), bool))),
        (ValueError, dict(mask=np.ones((2, 2, 4, 3), bool))),
        (ValueError, dict(mask=np.ones((2, 2, 5, 4), bool)[:, :, :4, :4])),
        (TypeError, dict(mask=[[True]])),
        (ValueError, dict(dropout=1.0)),
        (ValueError, dict(dropout=-0.1)),
        (ValueError, dict(dropout=float("nan"))),
        (ValueError, dict(scale=float("inf"))),
        (ValueError, dict(scale=float("nan"))),
        (TypeError, dict(seed="1")),
        (TypeError, dict(q="q")),
    ]
    for exc, kw in bad:
        with pytest.raises(exc):
            fwd(**kw)
    out, lse = fwd()
    cpp.attention_backward(q, k, v, out, lse, None, False, 1.0, 0.0, 0, g)
    for args in [
        (q, k, v, out, lse[..., :3].copy(), None, False, 1.0, 0.0, 0, g),
        (q, k, v, out[:, :1].copy(), lse, None, False, 1.0, 0.0, 0, g),
        (q, k, v, out, lse, None, False, 1.0, 0.0, 0, g[..., :2].copy()),
        (q, k, v, out, lse, None, False, 1.0, 0.0, 0, g.astype(np.float64)),
    ]:
        with pytest.raises((ValueError, TypeError)):
            cpp.attention_backward(*args)
    with pytest.raises(TypeError):
        cpp.gelu_forward(np.arange(4), False)
    with pytest.raises(ValueError):
        cpp.gelu_forward(np.ones((4, 4))[:, ::2], False)
    with pytest.raises((ValueError, TypeError)):
        cpp.gelu_backward(np.ones(4), np.ones(3), True)
    with pytest.raises(TypeError):
        cpp.gelu_backward(np.ones(4), np.ones(4, np.float32), True)
