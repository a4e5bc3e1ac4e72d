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
    if sparse:
        loss = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    else:
        loss = -(labels * logp).sum(axis=-1)
    return loss, SoftmaxCrossEntropyCache(np.exp(logp), labels, sparse)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss):
    probs, labels, sparse = cache
    if sparse:
        target = np.zeros_like(probs)
        np.put_along_axis(target, labels[..., None], 1.0, axis=-1)
        # a dense target need not sum to one: d/dlogits of -sum(t log p) is p*sum(t) - t
        return (probs - target) * dloss[..., None]
    return (probs * labels.sum(axis=-1, keepdims=True) - labels) * dloss[..., None]
