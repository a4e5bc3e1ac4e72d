"""1-D convolution, channels last (Keras layout), in plain NumPy: one matrix product per tap.

y[b, o] = b + sum_k xp[b, o*stride + k*dilation] @ W[k], with xp = x zero-padded by
(left, right) steps along time.
"""

from __future__ import annotations

import numpy as np

from .._types import Conv1DCache


def output_length(T, K, stride, padding, dilation):
    return (T + padding[0] + padding[1] - dilation * (K - 1) - 1) // stride + 1


def _taps(xp, k, To, stride, dilation):
    """The [B,To,C] steps of the padded input that tap k reads (a view)."""
    start = k * dilation
    return xp[:, start : start + stride * (To - 1) + 1 : stride]


def conv1d_forward(x, W, b, stride, padding, dilation):
    B, T, _ = x.shape
    K, _, F = W.shape
    To = output_length(T, K, stride, padding, dilation)
    y = np.zeros((B, To, F), x.dtype)
    if y.size == 0:  # B * To may still be 2**40 (huge padding, no filters): matmul would walk every row
        return y, Conv1DCache(x, W, b is not None, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), padding, (0, 0)))
    for k in range(K):
        y += _taps(xp, k, To, stride, dilation) @ W[k]
    if b is not None:
        y += b
    return y, Conv1DCache(x, W, b is not None, stride, padding, dilation)


def conv1d_backward(cache: Conv1DCache, dy):
    x, W, has_bias, stride, padding, dilation = cache
    B, T, C = x.shape
    K, _, F = W.shape
    To = dy.shape[1]
    if dy.size == 0:  # no output: zero gradients, without walking B * To empty rows
        return np.zeros_like(x), np.zeros_like(W), np.zeros(F, dy.dtype) if has_bias else None
    xp = np.pad(x, ((0, 0), padding, (0, 0)))
    dxp = np.zeros_like(xp)
    dW = np.empty_like(W)
    for k in range(K):
        dW[k] = _taps(xp, k, To, stride, dilation).reshape(B * To, C).T @ dy.reshape(B * To, F)
        _taps(dxp, k, To, stride, dilation)[...] += dy @ W[k].T
    dx = dxp[:, padding[0] : padding[0] + T].copy()
    db = dy.sum(axis=(0, 1), dtype=np.float64).astype(dy.dtype) if has_bias else None
    return dx, dW, db
