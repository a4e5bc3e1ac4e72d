"""Gradient clipping: compiled loops over each array's elements.

C-contiguous arrays (all that seqcore itself makes) are processed as flat
views; other layouts go through NumPy, which handles strides at full speed.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import _kernel


@_kernel
def _clip(src, dst, lo, hi):
    """dst = src clipped to [lo, hi]; NaN stays NaN (as np.clip).  Compared in float64, which for float32
    data picks the same elements as comparing with lo, hi rounded to float32."""
    for i in range(src.size):
        v = src[i]
        dst[i] = lo if v < lo else (hi if v > hi else v)


@_kernel
def _sum_squares(a):
    """sum(a**2) in float64, in 8 interleaved partial sums: independent lanes that LLVM can vectorize."""
    partial = np.zeros(8)
    n8 = a.size - a.size % 8
    for i in range(0, n8, 8):
        for lane in range(8):
            v = np.float64(a[i + lane])  # not float(): numba keeps a float32 a float32 there
            partial[lane] += v * v
    total = 0.0
    for i in range(n8, a.size):
        v = np.float64(a[i])
        total += v * v
    return total + partial.sum()


@_kernel
def _scale(src, dst, factor):
    """dst = src * factor, factor already in the arrays' dtype (as the reference multiplies)."""
    for i in range(src.size):
        dst[i] = src[i] * factor


def _flat(a: np.ndarray) -> np.ndarray | None:
    """A 1-D view of a C-contiguous array (0-d included), None for other layouts."""
    return a.reshape(-1) if a.flags.c_contiguous else None


def clip_by_value(grads, min_value, max_value, inplace=False):
    out = []
    for g in grads:
        dst = g if inplace else np.empty_like(g)
        src_flat, dst_flat = _flat(g), _flat(dst)
        if src_flat is None or dst_flat is None:
            np.clip(g, min_value, max_value, out=dst)
        else:
            _clip(src_flat, dst_flat, float(min_value), float(max_value))
        out.append(dst)
    return out


def clip_by_global_norm(grads, max_norm, inplace=False):
    """Scale every array by max_norm / global_norm when the global L2 norm exceeds max_norm."""
    total = 0.0
    for g in grads:
        flat = _flat(g)
        total += _sum_squares(np.ravel(g) if flat is None else flat)
    norm = math.sqrt(total)
    scale = max_norm / norm if math.isfinite(norm) and norm > max_norm else 1.0
    out = []
    for g in grads:
        dst = g if inplace else np.empty_like(g)
        factor = g.dtype.type(scale)
        src_flat, dst_flat = _flat(g), _flat(dst)
        if src_flat is None or dst_flat is None:
            np.multiply(g, factor, out=dst)
        elif not (inplace and scale == 1.0):  # scaling in place by one changes nothing
            _scale(src_flat, dst_flat, factor)
        out.append(dst)
    return out, norm
