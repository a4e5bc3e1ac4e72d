"""Layer and batch normalization over [N, F] views, in plain NumPy.

Statistics (means, variances, the sums of the backward) are taken in float64 whatever the
input dtype, two-pass (mean first, then the mean squared deviation); results are stored in
the input's dtype.  Layer norm reduces each row (axis 1), batch norm each feature (axis 0).
"""

from __future__ import annotations

import numpy as np

from .._types import BatchNormCache, LayerNormCache


def _normalize(rows, axis, eps):
    """(xhat in float64, mean, rstd) of the [N, F] rows reduced along ``axis``."""
    x = rows.astype(np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axis, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    return (x - mean) * rstd, mean, rstd, var


def _normalize_backward(xhat, rstd, gamma, dy, axis):
    """dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma, means along axis."""
    dxhat = (dy * gamma).astype(np.float64)
    xh = xhat.astype(np.float64)
    mean_d = dxhat.mean(axis=axis, keepdims=True)
    mean_dx = (dxhat * xh).mean(axis=axis, keepdims=True)
    return rstd.astype(np.float64) * (dxhat - mean_d - xh * mean_dx)


def layer_norm_forward(x, gamma, beta, eps):
    dt, F = x.dtype, x.shape[-1]
    xhat, mean, rstd, _ = _normalize(x.reshape(-1, F), 1, eps)
    xhat = xhat.astype(dt).reshape(x.shape)
    y = xhat * gamma + beta
    return y, LayerNormCache(xhat, mean[:, 0].astype(dt), rstd[:, 0].astype(dt), gamma)


def layer_norm_backward(cache: LayerNormCache, dy):
    xhat, _, rstd, gamma = cache
    dt, F = xhat.dtype, xhat.shape[-1]
    xh, g = xhat.reshape(-1, F), dy.reshape(-1, F)
    dx = _normalize_backward(xh, rstd[:, None], gamma, g, 1)
    dgamma = (g * xh).sum(axis=0, dtype=np.float64).astype(dt)
    dbeta = g.sum(axis=0, dtype=np.float64).astype(dt)
    return dx.astype(dt).reshape(xhat.shape), dgamma, dbeta


def batch_norm_forward(x, gamma, beta, eps):
    dt, F = x.dtype, x.shape[-1]
    xhat, mean, rstd, var = _normalize(x.reshape(-1, F), 0, eps)
    xhat = xhat.astype(dt).reshape(x.shape)
    y = xhat * gamma + beta
    mean, var, rstd = mean[0].astype(dt), var[0].astype(dt), rstd[0].astype(dt)
    return y, mean, var, BatchNormCache(xhat, mean, rstd, gamma)


def batch_norm_backward(cache: BatchNormCache, dy):
    xhat, _, rstd, gamma = cache
    dt, F = xhat.dtype, xhat.shape[-1]
    xh, g = xhat.reshape(-1, F), dy.reshape(-1, F)
    dx = _normalize_backward(xh, rstd[None, :], gamma, g, 0)
    dgamma = (g * xh).sum(axis=0, dtype=np.float64).astype(dt)
    dbeta = g.sum(axis=0, dtype=np.float64).astype(dt)
    return dx.astype(dt).reshape(xhat.shape), dgamma, dbeta
