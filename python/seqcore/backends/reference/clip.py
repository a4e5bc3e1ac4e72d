"""Gradient clipping, the course's fix for exploding gradients."""

from __future__ import annotations

import math

import numpy as np


def clip_by_value(grads, min_value, max_value, inplace=False):
    return [np.asarray(np.clip(g, min_value, max_value, out=g if inplace else None)) for g in grads]


def clip_by_global_norm(grads, max_norm, inplace=False):
    """Scale every array by max_norm / global_norm when the global L2 norm exceeds max_norm."""
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    scale = max_norm / norm if math.isfinite(norm) and norm > max_norm else 1.0
    if inplace:
        for g in grads:
            g *= g.dtype.type(scale)
        return list(grads), norm
    return [np.asarray(g * g.dtype.type(scale)) for g in grads], norm
