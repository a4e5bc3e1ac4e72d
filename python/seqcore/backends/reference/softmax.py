"""Softmax, log-softmax and softmax cross-entropy over the last axis, in plain NumPy."""

from __future__ import annotations

import numpy as np

from .._types import SoftmaxCrossEntropyCache


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(y, dy):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def log_softmax_backward(y, dy):
    return dy - np.exp(y) * dy.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Per-row loss -sum(target * log softmax(logits)); sparse labels are class ids."""
    logp = log_softmax(logits)
    sparse = labels.ndim == logits.ndim - 1
    if sparse:  # row by row on the [N, C] view: take_along_axis would build an index per axis, even empty ones
        rows = logp.reshape(-1, logp.shape[-1])
        loss = -rows[np.arange(rows.shape[0]), labels.reshape(-1)].reshape(labels.shape)
    else:
        loss = -(labels * logp).sum(axis=-1)
    # np.asarray: 1-D logits give a 0-d loss array (as the other backends do), not a NumPy scalar
    return np.asarray(loss), SoftmaxCrossEntropyCache(np.exp(logp), labels, sparse)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss):
    probs, labels, sparse = cache
    if sparse:
        target = np.zeros_like(probs)
        rows = target.reshape(-1, target.shape[-1])
        rows[np.arange(rows.shape[0]), labels.reshape(-1)] = 1.0
        # a dense target need not sum to one: d/dlogits of -sum(t log p) is p*sum(t) - t
        return (probs - target) * dloss[..., None]
    return (probs * labels.sum(axis=-1, keepdims=True) - labels) * dloss[..., None]
