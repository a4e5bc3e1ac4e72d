"""Layer and batch normalization: compiled loops over [N, F] views, statistics in float64.

Same recipe as the reference: two-pass mean and biased variance, xhat rounded to the
input's dtype and y = xhat * gamma + beta in that dtype; the backward's sums accumulate
in float64 (products dy * gamma and dy * xhat are formed in the data's dtype first, as the
reference forms them).
"""

from __future__ import annotations

import numpy as np

from .._types import BatchNormCache, LayerNormCache
from ._kernels import _kernel


@_kernel
def _layer_norm_rows(x, gamma, beta, eps, y, xhat, mean, rstd):
    N, F = x.shape
    for n in range(N):
        xr = x[n]
        s = 0.0
        for f in range(F):
            s += np.float64(xr[f])
        m = s / F
        ss = 0.0
        for f in range(F):
            d = np.float64(xr[f]) - m
            ss += d * d
        r = 1.0 / np.sqrt(ss / F + eps)
        for f in range(F):
            xhat[n, f] = (np.float64(xr[f]) - m) * r
            y[n, f] = xhat[n, f] * gamma[f] + beta[f]
        mean[n] = m
        rstd[n] = r


@_kernel
def _layer_norm_backward_rows(xhat, rstd, gamma, dy, dx, dgamma, dbeta):
    """dgamma, dbeta: float64 [F] accumulators."""
    N, F = xhat.shape
    for n in range(N):
        a = 0.0
        b = 0.0
        for f in range(F):
            d = np.float64(dy[n, f] * gamma[f])
            a += d
            b += d * np.float64(xhat[n, f])
            dgamma[f] += np.float64(dy[n, f] * xhat[n, f])
            dbeta[f] += np.float64(dy[n, f])
        a /= F
        b /= F
        r = np.float64(rstd[n])
        for f in range(F):
            d = np.float64(dy[n, f] * gamma[f])
            dx[n, f] = r * (d - a - np.float64(xhat[n, f]) * b)


@_kernel
def _batch_norm(x, gamma, beta, eps, y, xhat, mean, var, rstd):
    N, F = x.shape
    m = np.zeros(F)
    for n in range(N):
        for f in range(F):
            m[f] += np.float64(x[n, f])
    m /= N
    v = np.zeros(F)
    for n in range(N):
        for f in range(F):
            d = np.float64(x[n, f]) - m[f]
            v[f] += d * d
    v /= N
    r = 1.0 / np.sqrt(v + eps)
    for n in range(N):
        for f in range(F):
            xhat[n, f] = (np.float64(x[n, f]) - m[f]) * r[f]
            y[n, f] = xhat[n, f] * gamma[f] + beta[f]
    for f in range(F):
        mean[f] = m[f]
        var[f] = v[f]
        rstd[f] = r[f]


@_kernel
def _batch_norm_backward(xhat, rstd, gamma, dy, dx, dgamma, dbeta):
    """dgamma, dbeta: float64 [F] accumulators."""
    N, F = xhat.shape
    a = np.zeros(F)
    b = np.zeros(F)
    for n in range(N):
        for f in range(F):
            d = np.float64(dy[n, f] * gamma[f])
            a[f] += d
            b[f] += d * np.float64(xhat[n, f])
            dgamma[f] += np.float64(dy[n, f] * xhat[n, f])
            dbeta[f] += np.float64(dy[n, f])
    a /= N
    b /= N
    for n in range(N):
        for f in range(F):
            d = np.float64(dy[n, f] * gamma[f])
            dx[n, f] = np.float64(rstd[f]) * (d - a[f] - np.float64(xhat[n, f]) * b[f])


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.size // a.shape[-1], a.shape[-1])


def layer_norm_forward(x, gamma, beta, eps):
    rows = _rows(x)
    y, xhat = np.empty_like(x), np.empty_like(x)
    mean, rstd = np.empty(rows.shape[0], x.dtype), np.empty(rows.shape[0], x.dtype)
    _layer_norm_rows(rows, gamma, beta, eps, _rows(y), _rows(xhat), mean, rstd)
    return y, LayerNormCache(xhat, mean, rstd, gamma)


def layer_norm_backward(cache: LayerNormCache, dy):
    xhat, _, rstd, gamma = cache
    F = xhat.shape[-1]
    dx = np.empty_like(xhat)
    dgamma, dbeta = np.zeros(F), np.zeros(F)
    _layer_norm_backward_rows(_rows(xhat), rstd, gamma, _rows(dy), _rows(dx), dgamma, dbeta)
    return dx, dgamma.astype(xhat.dtype), dbeta.astype(xhat.dtype)


def batch_norm_forward(x, gamma, beta, eps):
    F = x.shape[-1]
    y, xhat = np.empty_like(x), np.empty_like(x)
    mean, var, rstd = (np.empty(F, x.dtype) for _ in range(3))
    _batch_norm(_rows(x), gamma, beta, eps, _rows(y), _rows(xhat), mean, var, rstd)
    return y, mean, var, BatchNormCache(xhat, mean, rstd, gamma)


def batch_norm_backward(cache: BatchNormCache, dy):
    xhat, _, rstd, gamma = cache
    F = xhat.shape[-1]
    dx = np.empty_like(xhat)
    dgamma, dbeta = np.zeros(F), np.zeros(F)
    _batch_norm_backward(_rows(xhat), rstd, gamma, _rows(dy), _rows(dx), dgamma, dbeta)
    return dx, dgamma.astype(xhat.dtype), dbeta.astype(xhat.dtype)
