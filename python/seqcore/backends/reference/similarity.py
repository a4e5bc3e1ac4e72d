"""Top-k dot-product search in plain NumPy: every score, then one stable sort per query."""

from __future__ import annotations

import numpy as np


def topk_dot(matrix, queries, k, exclude=None):
    """The k best rows of ``queries @ matrix.T`` per query, best first.

    Order: higher score first, NaN after every number, ties by the lower id.  Ids in
    ``exclude[q]`` (-1 = padding) are skipped; missing places get id -1 and score -inf.
    """
    Q, V = queries.shape[0], matrix.shape[0]
    scores = queries @ matrix.T  # [Q,V]
    skipped = np.zeros((Q, V), bool)
    if exclude is not None:
        rows, cols = np.nonzero(exclude >= 0)
        skipped[rows, exclude[rows, cols]] = True
    nan = np.isnan(scores)
    ids = np.broadcast_to(np.arange(V), (Q, V))
    # lexsort: the last key is the primary one; skipped rows last, then NaN, then -score, then id
    order = np.lexsort((ids, -np.where(nan, 0, scores), nan, skipped), axis=-1)[:, :k]
    top_ids = np.take_along_axis(ids, order, axis=-1).astype(np.int64)
    top_scores = np.take_along_axis(scores, order, axis=-1)
    gone = np.take_along_axis(skipped, order, axis=-1)
    top_ids[gone] = -1
    top_scores[gone] = -np.inf
    return np.ascontiguousarray(top_scores), np.ascontiguousarray(top_ids)
