"""Scaled dot-product attention and GELU in plain NumPy: the ground truth for the fused kernels.

Attention is the course's three lines, softmax(Q K^T * scale + mask) V, with the whole [Lq, Lk] score matrix
materialised (the fused kernels never do).  Arithmetic is float64 whatever the input dtype; results come back in
the input's dtype.  Dropout draws its keep mask from ``dropout_keep`` (a counter hash of the seed and the element's
index), so every backend, forward and backward, drops the same elements for the same seed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def dropout_uniforms(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """u in [0, 1) for every element of ``shape`` (C order): splitmix64 of seed + (index + 1) * golden ratio."""
    idx = np.arange(1, math.prod(shape) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps mod 2**64 on purpose
        z = np.uint64(seed) + idx * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(shape)


def dropout_keep(seed: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    """The elements attention dropout keeps: u(seed, index) >= p."""
    return dropout_uniforms(seed, shape) >= p


def _allowed(mask, causal, Lq, Lk):
    """[.., Lq, Lk] booleans of the (query, key) pairs that may attend, or None when all may."""
    allowed = mask
    if causal:
        tri = np.tri(Lq, Lk, dtype=bool)  # key j <= query i (top-left aligned, as torch's is_causal)
        allowed = tri if allowed is None else allowed & tri
    return allowed


def _probabilities(q, k, mask, causal, scale):
    """(p, lse) in float64: the softmax over keys of the scaled, masked scores, and its log-sum-exp per row."""
    s = np.matmul(q.astype(np.float64), np.swapaxes(k.astype(np.float64), -1, -2)) * scale
    allowed = _allowed(mask, causal, q.shape[2], k.shape[2])
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # a row with no allowed key: every exp below is 0
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    p = e / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore"):
        lse = np.where(total > 0, m + np.log(total), -np.inf)[..., 0]
    return p, lse


def _dropped(p, dropout, seed):
    if dropout == 0.0:
        return p
    return p * dropout_keep(seed, p.shape, dropout) / (1.0 - dropout)


def attention_forward(q, k, v, mask, causal, scale, dropout, seed):
    p, lse = _probabilities(q, k, mask, causal, scale)
    out = np.matmul(_dropped(p, dropout, seed), v.astype(np.float64))
    return out.astype(q.dtype), lse.astype(q.dtype)


def attention_backward(q, k, v, out, lse, mask, causal, scale, dropout, seed, dout):
    # lse is not needed here: the reference recomputes the probabilities from scratch.
    p, _ = _probabilities(q, k, mask, causal, scale)
    keep_scale = 1.0 if dropout == 0.0 else dropout_keep(seed, p.shape, dropout) / (1.0 - dropout)
    g = dout.astype(np.float64)
    dv = np.matmul(np.swapaxes(p * keep_scale, -1, -2), g)
    dp = np.matmul(g, np.swapaxes(v.astype(np.float64), -1, -2)) * keep_scale
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))  # the softmax's Jacobian, row by row
    dq = np.matmul(ds, k.astype(np.float64)) * scale
    dk = np.matmul(np.swapaxes(ds, -1, -2), q.astype(np.float64)) * scale
    return dq.astype(q.dtype), dk.astype(q.dtype), dv.astype(q.dtype)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_SECH2_ZERO = 20.0  # |x| past which the tanh form's 1 - tanh(u)^2 is negligible (see gelu_backward)


def gelu_forward(x, approximate):
    z = x.astype(np.float64)
    if approximate:
        y = 0.5 * z * (1.0 + np.tanh(_SQRT_2_OVER_PI * (z + _GELU_CUBIC * z**3)))
    else:
        y = 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))
    return np.asarray(y, dtype=x.dtype)  # a 0-d input stays a 0-d array, not a NumPy scalar


def gelu_backward(x, dy, approximate):
    z = x.astype(np.float64)
    if approximate:
        t = np.tanh(_SQRT_2_OVER_PI * (z + _GELU_CUBIC * z**3))
        # Past |x| = 20, 1 - t^2 is below 1e-260 (0 in float32): clamping x in the slope's polynomial keeps x^2
        # finite there, so the gradient tends to 1 (x -> +inf) and 0 (x -> -inf) instead of 0 * inf = NaN.
        zs = np.clip(z, -_SECH2_ZERO, _SECH2_ZERO)
        d = 0.5 * (1.0 + t) + 0.5 * zs * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * zs * zs)
    else:
        d = 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.asarray(dy.astype(np.float64) * d, dtype=x.dtype)
