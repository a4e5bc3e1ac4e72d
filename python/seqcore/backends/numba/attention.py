"""Fused scaled dot-product attention and GELU, compiled: the native kernel's recipe, tile products through BLAS.

Forward, per (batch row, head) and tile of queries: a loop over tiles of keys keeps each query's running maximum
m and sum l of exp(score - m) and rescales the output accumulator whenever m grows (an online softmax), so no
[Lq, Lk] matrix exists; lse = m + log(l) is kept for the backward.  The backward recomputes each tile's
probabilities from lse, P = exp(s - lse), with D = rowsum(dout * out) standing in for rowsum(P * dP):
dS = P * (dP - D).  Tiles of keys wholly above the causal diagonal are skipped.  The keep decisions of dropout
come from the same counter hash as the reference's ``dropout_keep`` (uint64 arithmetic wraps as NumPy's does),
so every backend drops the same elements.  Tile products are np.dot on contiguous slices (BLAS); element-wise
work runs in float64 whatever the data's dtype.

A row whose allowed scores hold a NaN (a NaN in its query or in a key it may attend) comes out NaN, lse NaN.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import _kernel

_BQ = 64  # queries per tile
_BK = 128  # keys per tile: a [64, 128] score tile, 64 KiB in float64, stays in L2 with its q, k and v tiles

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 2.0**-53


@_kernel
def _keep_factor(seed, idx, p, inv_keep):
    """1/(1-p) if element ``idx`` of the full [B,h,Lq,Lk] array is kept, else 0 (splitmix64 of seed and idx)."""
    z = seed + (np.uint64(idx) + _ONE) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    u = np.float64(z >> _S11) * _TWO_M53
    return inv_keep if u >= p else 0.0


@_kernel
def _scores_row(s_row, i, j0, n, scale, mask, has_mask, mb, mh, causal, srow):
    """srow[:n] = the tile row's scores times scale, -inf where (i, j0 + c) may not attend; returns (the row's
    maximum, -inf if none is allowed, whether an allowed score is NaN), and the end of the allowed columns."""
    c_end = min(n, i - j0 + 1) if causal else n  # keys past the diagonal
    c_end = max(c_end, 0)
    for c in range(c_end):
        srow[c] = np.float64(s_row[c]) * scale
    for c in range(c_end, n):
        srow[c] = -np.inf
    if has_mask:
        mrow = mask[mb, mh, i if mask.shape[2] > 1 else 0]
        if mask.shape[3] > 1:
            for c in range(c_end):
                if not mrow[j0 + c]:
                    srow[c] = -np.inf
        elif not mrow[0]:
            for c in range(c_end):
                srow[c] = -np.inf
    mx = -np.inf
    nan = False
    for c in range(c_end):
        x = srow[c]
        nan |= x != x
        mx = x if x > mx else mx
    return mx, nan, c_end


@_kernel
def _keep_row(seed, base, n, p, inv_keep, frow):
    """frow[c] = 1/(1-p) or 0: the keep decision of element base + c of the full [B,h,Lq,Lk] array."""
    for c in range(n):
        frow[c] = _keep_factor(seed, base + c, p, inv_keep)


@_kernel
def _forward(q, k, v, h, mask, has_mask, causal, scale, dropout, seed, out, lse):
    """q [BH,Lq,d], k [BH,Lk,d], v [BH,Lk,dv] -> out [BH,Lq,dv], lse [BH,Lq] (BH = B*h, row bh = b*h + hh)."""
    BH, Lq, _ = q.shape
    Lk, dv = v.shape[1], v.shape[2]
    inv_keep = 1.0 / (1.0 - dropout)
    m_run = np.empty(_BQ)
    l_run = np.empty(_BQ)
    nan_row = np.empty(_BQ, np.bool_)
    srow = np.empty(_BK)  # one row of the score tile, scaled, in float64 (-inf where not allowed)
    erow = np.empty(_BK)  # its exp(s - m)
    frow = np.empty(_BK)  # its dropout factors, 1/(1-p) or 0
    for bh in range(BH):
        mb = bh // h if mask.shape[0] > 1 else 0
        mh = bh % h if mask.shape[1] > 1 else 0
        for i0 in range(0, Lq, _BQ):
            i1 = min(i0 + _BQ, Lq)
            m = i1 - i0
            qt = q[bh, i0:i1]
            acc = np.zeros((m, dv), q.dtype)
            m_run[:m] = -np.inf
            l_run[:m] = 0.0
            nan_row[:m] = False
            for j0 in range(0, Lk, _BK):
                if causal and j0 > i1 - 1:
                    break  # this tile and every later one lie above the diagonal
                j1 = min(j0 + _BK, Lk)
                n = j1 - j0
                s = np.dot(qt, k[bh, j0:j1].T)
                p = np.empty((m, n), q.dtype)
                for r in range(m):
                    i = i0 + r
                    mx, nan, c_end = _scores_row(s[r], i, j0, n, scale, mask, has_mask, mb, mh, causal, srow)
                    nan_row[r] |= nan
                    m_new = max(m_run[r], mx)
                    if m_new == -np.inf:  # nothing allowed yet in this row
                        p[r] = 0.0
                        continue
                    alpha = math.exp(m_run[r] - m_new)
                    total = 0.0
                    for c in range(c_end):
                        e = math.exp(srow[c] - m_new)
                        erow[c] = e
                        total += e
                    for c in range(c_end, n):
                        erow[c] = 0.0
                    if dropout > 0.0:  # the sum l is of the probabilities before dropout
                        _keep_row(seed, (bh * Lq + i) * Lk + j0, c_end, dropout, inv_keep, frow)
                        for c in range(c_end):
                            erow[c] *= frow[c]
                    for c in range(n):
                        p[r, c] = erow[c]
                    l_run[r] = l_run[r] * alpha + total
                    m_run[r] = m_new
                    if alpha != 1.0:
                        for c in range(dv):
                            acc[r, c] *= alpha
                acc += np.dot(p, v[bh, j0:j1])
            for r in range(m):
                i = i0 + r
                if nan_row[r]:
                    for c in range(dv):
                        out[bh, i, c] = np.nan
                    lse[bh, i] = np.nan
                elif l_run[r] == 0.0:  # no key it may attend: zeros, not 0/0
                    for c in range(dv):
                        out[bh, i, c] = 0.0
                    lse[bh, i] = -np.inf
                else:
                    inv = 1.0 / l_run[r]
                    for c in range(dv):
                        out[bh, i, c] = np.float64(acc[r, c]) * inv
                    lse[bh, i] = m_run[r] + math.log(l_run[r])


@_kernel
def _backward(q, k, v, out, lse, dout, h, mask, has_mask, causal, scale, dropout, seed, dq, dk, dv):
    """The [BH, ...] views of the forward's arrays and dout -> dq, dk, dv (dk and dv zeroed by the caller)."""
    BH, Lq, _ = q.shape
    Lk, Dv = v.shape[1], v.shape[2]
    inv_keep = 1.0 / (1.0 - dropout)
    D = np.empty(_BQ)
    srow = np.empty(_BK)
    frow = np.ones(_BK)  # dropout factors (1 without dropout)
    for bh in range(BH):
        mb = bh // h if mask.shape[0] > 1 else 0
        mh = bh % h if mask.shape[1] > 1 else 0
        for i0 in range(0, Lq, _BQ):
            i1 = min(i0 + _BQ, Lq)
            m = i1 - i0
            qt = q[bh, i0:i1]
            gt = dout[bh, i0:i1]
            for r in range(m):  # rowsum(P * dP) of the row, which equals dout . out
                acc = 0.0
                for c in range(Dv):
                    acc += np.float64(gt[r, c]) * np.float64(out[bh, i0 + r, c])
                D[r] = acc
            dqt = np.zeros(qt.shape, q.dtype)
            for j0 in range(0, Lk, _BK):
                if causal and j0 > i1 - 1:
                    break
                j1 = min(j0 + _BK, Lk)
                n = j1 - j0
                kt = k[bh, j0:j1]
                s = np.dot(qt, kt.T)
                dp = np.dot(gt, v[bh, j0:j1].T)
                pd = np.empty((m, n), q.dtype)  # the probabilities after dropout
                for r in range(m):
                    i = i0 + r
                    row_lse = np.float64(lse[bh, i])
                    _, _, c_end = _scores_row(s[r], i, j0, n, scale, mask, has_mask, mb, mh, causal, srow)
                    if row_lse == -np.inf:  # no key it may attend: no probability, no gradient
                        c_end = 0
                    if dropout > 0.0:
                        _keep_row(seed, (bh * Lq + i) * Lk + j0, c_end, dropout, inv_keep, frow)
                    for c in range(c_end):  # dS = P * (dP - D), dP taken through the dropout, in place of s
                        e = math.exp(srow[c] - row_lse)
                        f = frow[c]
                        pd[r, c] = e * f
                        s[r, c] = e * (np.float64(dp[r, c]) * f - D[r])
                    for c in range(c_end, n):
                        pd[r, c] = 0.0
                        s[r, c] = 0.0
                dv[bh, j0:j1] += np.dot(pd.T, gt)
                dqt += np.dot(s, kt)
                dk[bh, j0:j1] += np.dot(s.T, qt)
            dq[bh, i0:i1] = dqt
        if scale != 1.0:
            dq[bh] *= scale
            dk[bh] *= scale


def _views(q, k, v, mask):
    B, h, Lq, d = q.shape
    Lk, dv = v.shape[2], v.shape[3]
    BH = B * h
    m = mask if mask is not None else np.ones((1, 1, 1, 1), np.bool_)
    return B, h, Lq, Lk, dv, BH, q.reshape(BH, Lq, d), k.reshape(BH, Lk, d), v.reshape(BH, Lk, dv), m


def attention_forward(q, k, v, mask, causal, scale, dropout, seed):
    B, h, Lq, Lk, dv, BH, q3, k3, v3, m = _views(q, k, v, mask)
    out = np.empty((B, h, Lq, dv), q.dtype)
    lse = np.empty((B, h, Lq), q.dtype)
    if out.size == 0:  # also when B*h or Lq is 0 next to a huge size: no loop over nothing
        return out, lse
    _forward(
        q3,
        k3,
        v3,
        h,
        m,
        mask is not None,
        bool(causal),
        float(scale),
        float(dropout),
        np.uint64(seed),
        out.reshape(BH, Lq, dv),
        lse.reshape(BH, Lq),
    )
    return out, lse


def attention_backward(q, k, v, out, lse, mask, causal, scale, dropout, seed, dout):
    B, h, Lq, Lk, dv, BH, q3, k3, v3, m = _views(q, k, v, mask)
    dq, dk, dvv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    if BH == 0 or Lq == 0:
        return dq, dk, dvv
    _backward(
        q3,
        k3,
        v3,
        out.reshape(BH, Lq, dv),
        lse.reshape(BH, Lq),
        dout.reshape(BH, Lq, dv),
        h,
        m,
        mask is not None,
        bool(causal),
        float(scale),
        float(dropout),
        np.uint64(seed),
        dq.reshape(q3.shape),
        dk.reshape(k3.shape),
        dvv.reshape(v3.shape),
    )
    return dq, dk, dvv


# ---------------------------------------------------------------- GELU

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


@_kernel
def _gelu(x, tanh_form, y):
    for n in range(x.size):
        z = np.float64(x[n])
        if tanh_form:
            y[n] = 0.5 * z * (1.0 + math.tanh(_SQRT_2_OVER_PI * (z + _GELU_CUBIC * z * z * z)))
        else:
            y[n] = 0.5 * z * (1.0 + math.erf(z * _INV_SQRT_2))


_SECH2_ZERO = 20.0


@_kernel
def _gelu_grad(x, dy, tanh_form, dx):
    for n in range(x.size):
        z = np.float64(x[n])
        if tanh_form:
            t = math.tanh(_SQRT_2_OVER_PI * (z + _GELU_CUBIC * z * z * z))
            zs = min(max(z, -_SECH2_ZERO), _SECH2_ZERO)  # the reference's clamp: finite limits at +-inf
            d = 0.5 * (1.0 + t) + 0.5 * zs * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * zs * zs)
        else:
            d = 0.5 * (1.0 + math.erf(z * _INV_SQRT_2)) + z * math.exp(-0.5 * z * z) * _INV_SQRT_2PI
        dx[n] = np.float64(dy[n]) * d


def gelu_forward(x, approximate):
    y = np.empty_like(x)
    if x.size:
        _gelu(x.reshape(-1), bool(approximate), y.reshape(-1))
    return y


def gelu_backward(x, dy, approximate):
    dx = np.empty_like(x)
    if x.size:
        _gelu_grad(x.reshape(-1), dy.reshape(-1), bool(approximate), dx.reshape(-1))
    return dx
