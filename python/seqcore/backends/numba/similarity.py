"""Top-k dot-product search: scores of a block of queries by one BLAS product, then a compiled
size-k heap per query (partial selection, no sort of the V scores)."""

from __future__ import annotations

import numpy as np

from ._kernels import _kernel

_BLOCK_BYTES = 1 << 25  # one [Qb,V] score block at most ~32 MiB


@_kernel
def _worse(s_a, i_a, s_b, i_b):
    """Whether (s_a, i_a) ranks after (s_b, i_b): NaN last, then lower score, then higher id."""
    if s_a != s_a:
        return s_b == s_b or i_a > i_b
    if s_b != s_b:
        return False
    return s_a < s_b or (s_a == s_b and i_a > i_b)


@_kernel
def _sift_down(hs, hi, n, pos):
    """Restore the heap (worst entry at the root) below pos."""
    while True:
        c = 2 * pos + 1
        if c >= n:
            return
        if c + 1 < n and _worse(hs[c + 1], hi[c + 1], hs[c], hi[c]):
            c += 1
        if _worse(hs[c], hi[c], hs[pos], hi[pos]):
            hs[c], hs[pos] = hs[pos], hs[c]
            hi[c], hi[pos] = hi[pos], hi[c]
            pos = c
        else:
            return


@_kernel
def _select(scores, k, exclude, use_exclude, q0, out_s, out_i):
    Qb, V = scores.shape
    skip = np.zeros(V, np.bool_)
    hs = np.empty(k, scores.dtype)
    hi = np.empty(k, np.int64)
    for r in range(Qb):
        q = q0 + r
        if use_exclude:
            for x in range(exclude.shape[1]):
                if exclude[q, x] >= 0:
                    skip[exclude[q, x]] = True
        n = 0
        row = scores[r]
        for v in range(V):
            if skip[v]:
                continue
            s = row[v]
            if n < k:  # fill, sifting the new entry up
                hs[n] = s
                hi[n] = v
                c = n
                n += 1
                while c > 0:
                    p = (c - 1) // 2
                    if _worse(hs[c], hi[c], hs[p], hi[p]):
                        hs[c], hs[p] = hs[p], hs[c]
                        hi[c], hi[p] = hi[p], hi[c]
                        c = p
                    else:
                        break
            elif _worse(hs[0], hi[0], s, v):
                hs[0] = s
                hi[0] = v
                _sift_down(hs, hi, n, 0)
        # pop the worst to the back: the output is best first
        for j in range(k - 1, n - 1, -1):
            out_s[q, j] = -np.inf
            out_i[q, j] = -1
        m = n
        while m > 0:
            out_s[q, m - 1] = hs[0]
            out_i[q, m - 1] = hi[0]
            m -= 1
            hs[0] = hs[m]
            hi[0] = hi[m]
            _sift_down(hs, hi, m, 0)
        if use_exclude:
            for x in range(exclude.shape[1]):
                if exclude[q, x] >= 0:
                    skip[exclude[q, x]] = False


def topk_dot(matrix, queries, k, exclude=None):
    Q, V = queries.shape[0], matrix.shape[0]
    out_s = np.empty((Q, k), matrix.dtype)
    out_i = np.empty((Q, k), np.int64)
    ex = exclude if exclude is not None else np.empty((Q, 0), np.int64)
    step = max(1, _BLOCK_BYTES // max(1, V * matrix.dtype.itemsize))
    for q0 in range(0, Q, step):
        scores = np.dot(queries[q0 : q0 + step], matrix.T)
        _select(scores, k, ex, exclude is not None, q0, out_s, out_i)
    return out_s, out_i
