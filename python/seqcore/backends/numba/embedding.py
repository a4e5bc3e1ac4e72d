"""Embedding lookup and its weight gradient: compiled row copies and a sequential scatter-add.

The scatter-add visits positions in order, as the reference's ``np.add.at`` does, so the
gradient is the same sum in the same order: deterministic and equal to the reference's.
"""

from __future__ import annotations

import numpy as np

from ._kernels import _kernel


@_kernel
def _gather(weights, ids, out):
    for n in range(ids.size):
        src, dst = weights[ids[n]], out[n]
        for e in range(src.size):
            dst[e] = src[e]


@_kernel
def _scatter_add(ids, dy, dW):
    for n in range(ids.size):
        src, dst = dy[n], dW[ids[n]]
        for e in range(src.size):
            dst[e] += src[e]


def embedding_forward(weights, ids):
    E = weights.shape[1]
    out = np.empty((*ids.shape, E), weights.dtype)
    _gather(weights, ids.reshape(-1), out.reshape(ids.size, E))
    return out


def embedding_backward(ids, dy, num_embeddings):
    E = dy.shape[-1]
    dW = np.zeros((num_embeddings, E), dy.dtype)
    _scatter_add(ids.reshape(-1), dy.reshape(ids.size, E), dW)
    return dW
