"""Softmax, log-softmax and softmax cross-entropy over the last axis.

Every array is viewed as [N, C] rows (inputs arrive C-contiguous) and handed
to a compiled row loop in ``_kernels``: rows are shifted by their max before
exp, as in the reference, and results are stored in the input's dtype.
"""

from __future__ import annotations

import numpy as np

from .._types import SoftmaxCrossEntropyCache
from . import _kernels as k


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


def _rowwise(kernel, *arrays: np.ndarray) -> np.ndarray:
    """Run kernel(*rows of arrays, out) and return out, shaped like the first array."""
    out = np.empty_like(arrays[0])
    kernel(*(_rows(a) for a in arrays), _rows(out))
    return out


def softmax(x):
    return _rowwise(k.softmax_rows, x)


def softmax_backward(y, dy):
    return _rowwise(k.softmax_backward_rows, y, dy)


def log_softmax(x):
    return _rowwise(k.log_softmax_rows, x)


def log_softmax_backward(y, dy):
    return _rowwise(k.log_softmax_backward_rows, y, dy)


def _label_rows(labels: np.ndarray, sparse: bool, shape: tuple[int, ...]) -> np.ndarray:
    """Class ids as [N], or a dense target as [N, C] rows.  A dense target of another shape is broadcast
    to the logits' shape, as the reference's arithmetic would (the kernels never index past their rows)."""
    if sparse:
        return labels.reshape(-1)
    if labels.shape != shape:
        labels = np.ascontiguousarray(np.broadcast_to(labels, shape))
    return _rows(labels)


def softmax_cross_entropy(logits, labels):
    """Per-row loss -sum(target * log softmax(logits)); sparse labels are class ids."""
    sparse = labels.ndim == logits.ndim - 1
    probs = np.empty_like(logits)
    loss = np.empty(logits.shape[:-1], logits.dtype)
    kernel = k.cross_entropy_sparse_rows if sparse else k.cross_entropy_dense_rows
    kernel(_rows(logits), _label_rows(labels, sparse, logits.shape), _rows(probs), loss.reshape(-1))
    return loss, SoftmaxCrossEntropyCache(probs, labels, sparse)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss):
    probs, labels, sparse = cache
    out = np.empty_like(probs)
    kernel = k.cross_entropy_sparse_backward_rows if sparse else k.cross_entropy_dense_backward_rows
    kernel(_rows(probs), _label_rows(labels, sparse, probs.shape), dloss.reshape(-1), _rows(out))
    return out
