"""1-D convolution, channels last: the cpp backend's recipe, im2col and col2im compiled,
the products through BLAS (np.matmul), in chunks of rows that bound the scratch memory.

np.matmul, not np.dot: np.dot sends a 1x1 operand to BLAS scal, which makes 0 * NaN zero."""

from __future__ import annotations

import numpy as np

from .._types import Conv1DCache
from ._kernels import _kernel

_COLS_BUDGET = 1 << 22  # elements of the im2col scratch


@_kernel
def _im2col(x, r0, r1, To, K, stride, left, dilation, cols):
    """cols[r - r0, k*C:(k+1)*C] = x[b, o*stride + k*dilation - left] (zeros in the padding), r = b*To + o."""
    T, C = x.shape[1], x.shape[2]
    for r in range(r0, r1):
        b, o = r // To, r % To
        row = cols[r - r0]
        for k in range(K):
            t = o * stride + k * dilation - left
            if 0 <= t < T:
                for c in range(C):
                    row[k * C + c] = x[b, t, c]
            else:
                for c in range(C):
                    row[k * C + c] = 0


@_kernel
def _col2im_add(dcols, r0, r1, To, K, stride, left, dilation, dx):
    T, C = dx.shape[1], dx.shape[2]
    for r in range(r0, r1):
        b, o = r // To, r % To
        row = dcols[r - r0]
        for k in range(K):
            t = o * stride + k * dilation - left
            if 0 <= t < T:
                for c in range(C):
                    dx[b, t, c] += row[k * C + c]


def _out_len(T, K, stride, padding, dilation):
    return (T + padding[0] + padding[1] - dilation * (K - 1) - 1) // stride + 1


def _chunks(rows, KC):
    step = max(1, _COLS_BUDGET // max(1, KC))
    for r0 in range(0, rows, step):
        yield r0, min(rows, r0 + step)


def conv1d_forward(x, W, b, stride, padding, dilation):
    B, T, C = x.shape
    K, _, F = W.shape
    To = _out_len(T, K, stride, padding, dilation)
    rows, KC = B * To, K * C
    Wm = W.reshape(KC, F)
    y = np.empty((B, To, F), x.dtype)
    ym = y.reshape(rows, F)
    for r0, r1 in _chunks(rows, KC):
        cols = np.empty((r1 - r0, KC), x.dtype)
        _im2col(x, r0, r1, To, K, stride, padding[0], dilation, cols)
        np.matmul(cols, Wm, out=ym[r0:r1])
    if b is not None:
        y += b
    return y, Conv1DCache(x, W, b is not None, stride, padding, dilation)


def conv1d_backward(cache: Conv1DCache, dy):
    x, W, has_bias, stride, padding, dilation = cache
    B, T, C = x.shape
    K, _, F = W.shape
    To = dy.shape[1]
    rows, KC = B * To, K * C
    Wm, dym = W.reshape(KC, F), dy.reshape(rows, F)
    dx = np.zeros_like(x)
    dWm = np.zeros((KC, F), x.dtype)
    for r0, r1 in _chunks(rows, KC):
        cols = np.empty((r1 - r0, KC), x.dtype)
        _im2col(x, r0, r1, To, K, stride, padding[0], dilation, cols)
        dWm += cols.T @ dym[r0:r1]
        _col2im_add(dym[r0:r1] @ Wm.T, r0, r1, To, K, stride, padding[0], dilation, dx)
    db = dym.sum(axis=0, dtype=np.float64).astype(dy.dtype) if has_bias else None
    return dx, dWm.reshape(K, C, F), db
