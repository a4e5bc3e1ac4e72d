"""Kernels behind word-vector training and search: topk_dot, word2vec_sgns_train, glove_cooccurrence,
glove_train, on every backend against the NumPy reference (and the reference against brute force)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import ALL_BACKENDS, DTYPES, FAST_BACKENDS, Case, check_against_reference
from seqcore import kernels as K
from seqcore import use_backend

# ---------------------------------------------------------------- topk_dot


def brute_topk(matrix, queries, k, exclude=None):
    """A full stable sort of every score: NaN last, ties by id, excluded ids dropped, padding -1/-inf."""
    scores = np.asarray(queries, np.float64) @ np.asarray(matrix, np.float64).T
    Q, V = queries.shape[0], matrix.shape[0]
    s_out, i_out = np.full((Q, k), -np.inf), np.full((Q, k), -1, np.int64)
    for q in range(Q):
        skip = set() if exclude is None else {int(x) for x in exclude[q] if x >= 0}
        ids = [v for v in range(V) if v not in skip]
        row = scores[q]
        ids.sort(key=lambda v: (np.isnan(row[v]), -np.nan_to_num(row[v], nan=0.0), v))
        ids = ids[:k]
        i_out[q, : len(ids)] = ids
        s_out[q, : len(ids)] = row[ids]
    return s_out, i_out


def integer_inputs(dt, V, Q, E, seed):
    """Small integers: every dot product is exact in any summation order, and ties are common."""
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, (V, E)).astype(dt), rng.integers(-2, 3, (Q, E)).astype(dt)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("V", "Q", "E", "k"), [(50, 7, 3, 5), (300, 40, 8, 300), (1, 1, 2, 1), (600, 3, 0, 4)])
@pytest.mark.parametrize("with_exclude", [False, True])
def test_topk_dot_equals_a_full_sort(backend, dtype, V, Q, E, k, with_exclude):
    matrix, queries = integer_inputs(dtype, V, Q, E, seed=V + Q)
    if V > 5:
        matrix[3, 0 if E else slice(None)] = np.nan  # NaN scores rank after every number
    exclude = None
    if with_exclude:
        exclude = np.random.default_rng(1).integers(-1, V, (Q, 4))
        exclude[:, 0] = 0
    with use_backend(backend):
        scores, ids = K.topk_dot(matrix, queries, k, exclude=exclude)
    want_s, want_i = brute_topk(matrix, queries, k, exclude)
    assert scores.dtype == dtype and ids.dtype == np.int64 and scores.shape == ids.shape == (Q, k)
    np.testing.assert_array_equal(ids, want_i)
    np.testing.assert_array_equal(scores, want_s.astype(dtype))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_random_matches_reference(backend, dtype):
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((5000, 37)).astype(dtype)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    queries = rng.standard_normal((130, 37)).astype(dtype)
    exclude = rng.integers(-1, 5000, (130, 3))

    def forward(matrix, queries, exclude):
        scores, ids = K.topk_dot(matrix, queries, 10, exclude=exclude)
        return {"scores": scores, "ids": ids}, None

    case = Case("topk_dot", lambda: {"matrix": matrix.copy(), "queries": queries.copy(), "exclude": exclude}, forward)
    check_against_reference(case, backend)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_topk_dot_edges(backend):
    m = np.eye(3)
    with use_backend(backend):
        s, i = K.topk_dot(m, np.zeros((0, 3)), 2)
        assert s.shape == i.shape == (0, 2)
        s, i = K.topk_dot(m, m[:2], 3, exclude=np.array([[0, 1], [0, 2]]))  # one candidate left
        np.testing.assert_array_equal(i, [[2, -1, -1], [1, -1, -1]])
        np.testing.assert_array_equal(s, [[0, -np.inf, -np.inf], [1, -np.inf, -np.inf]])
        s, i = K.topk_dot(m, m, 3, exclude=np.full((3, 3), -1))  # all padding
        np.testing.assert_array_equal(i[:, 0], [0, 1, 2])


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_topk_dot_bad_input(backend):
    m, q = np.eye(3), np.ones((2, 3))
    with use_backend(backend):
        for k, msg in [(0, "k must be >= 1"), (4, r"k must lie in \[1, V\]"), (1.0, "k must be an int")]:
            with pytest.raises((ValueError, TypeError), match=msg):
                K.topk_dot(m, q, k)
        with pytest.raises(ValueError, match=r"^queries must have shape \(Q, E\)"):
            K.topk_dot(m, np.ones((2, 4)), 1)
        with pytest.raises(TypeError, match="^queries must have dtype float64"):
            K.topk_dot(m, q.astype(np.float32), 1)
        with pytest.raises(ValueError, match=r"^exclude must lie in \[-1, V\)"):
            K.topk_dot(m, q, 1, exclude=np.array([[3], [0]]))
        with pytest.raises(ValueError, match=r"^exclude must have shape \(Q, X\)"):
            K.topk_dot(m, q, 1, exclude=np.array([0, 1]))
        with pytest.raises(TypeError, match="^exclude must be None or an integer array"):
            K.topk_dot(m, q, 1, exclude=np.zeros((2, 1)))
        with pytest.raises(ValueError, match="^matrix must have 2 dimensions"):
            K.topk_dot(np.ones(3), q, 1)
