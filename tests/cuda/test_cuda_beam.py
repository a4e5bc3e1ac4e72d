"""The cuda backend's beam search step, row gather and top-k dot-product search against the reference backend.

Beam search is compared for exact equality, step by step (parents and every state array after every step):
the device adds, divides and compares as the CPU does, so the same ranking, ties (the lower flat index
k*V + v), finished lists and stopping rule come out bit for bit.  The shapes reach every path of the
kernels: one scan block a row and many (V = 50,000), one selection pass (K <= 16) and several (K > 16),
the walk's scratch in shared memory (K <= 32) and in the workspace, K > V, K = 1, V = 1.

topk_dot's scores come from cuBLAS, summed in another order than NumPy's: its exact checks use
integer-valued data (exact dot products, and ties everywhere), its random-data check compares scores
within float rounding.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from seqcore import kernels as K
from seqcore import use_backend
from seqcore.decode import beam_search, length_norms

cp = pytest.importorskip("cupy")
cuda_beam = pytest.importorskip("seqcore.backends.cuda.beam")

NEG = -np.inf
DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------- helpers


def random_tables(rng, steps, rows, V, dtype, *, ties=False, impossible=0.0, slack=False):
    """[steps, rows, V] log-probs; ties: values on a grid of 1/4 (equal scores everywhere); impossible: a share
    of -inf (never a whole row); slack: some values just above 0 (read as 0)."""
    logits = rng.standard_normal((steps, rows, V))
    if ties:
        logits = np.round(logits * 2) / 4
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    if ties:
        lp = np.minimum(np.round(lp * 4) / 4 - 0.25, 0.0)
    if impossible:
        mask = rng.random(lp.shape) < impossible
        mask[..., 0] = False
        lp[mask] = NEG
    if slack:
        lp[rng.random(lp.shape) < 0.05] = 5e-5
    return lp.astype(dtype)


def device_state(B, Kb, L):
    return K.BeamState(*(cp.asarray(a) for a in K.BeamState.initial(B, Kb, L)))


def host(state):
    return K.BeamState(*(cp.asnumpy(a) for a in state))


def assert_same_state(dev, ref, where):
    for name, a, b in zip(ref._fields, dev, ref):
        assert isinstance(a, cp.ndarray), name
        np.testing.assert_array_equal(cp.asnumpy(a), b, err_msg=f"state.{name} {where}")


def search_both(B, Kb, L, V, eos, alpha, tables):
    """The whole search on the reference backend (NumPy) and on the device (CuPy), compared after every step."""
    ref = K.BeamState.initial(B, Kb, L)
    dev = device_state(B, Kb, L)
    norms = length_norms(L, alpha)
    rows = np.arange(B)
    steps = 0
    for step in range(L):
        if rows.size == 0:
            break
        lp = tables[step].reshape(B, Kb, V)[rows].reshape(-1, V)
        with use_backend("reference"):
            want = K.beam_search_step(ref, lp, rows, step, eos=eos, length_norm=norms)
        got = K.beam_search_step(dev, cp.asarray(lp), cp.asarray(rows), step, eos=eos, length_norm=norms)
        assert isinstance(got, cp.ndarray) and got.dtype == np.int64
        np.testing.assert_array_equal(cp.asnumpy(got), want, err_msg=f"parents at step {step}")
        assert_same_state(dev, ref, f"after step {step}")
        rows = rows[~ref.done[rows]]
        steps += 1
    return ref, steps


# ---------------------------------------------------------------- beam_search_step: whole searches

CONFIGS = [  # B, K, L, V, eos, alpha
    (3, 1, 5, 4, 0, 0.0),
    (4, 2, 6, 5, 0, 0.7),
    (2, 3, 4, 7, 6, 1.0),
    (3, 4, 5, 3, None, 0.7),
    (2, 3, 3, 1, None, 0.5),  # V = 1: every beam has one continuation
    (2, 3, 3, 1, 0, 0.5),  # every candidate is EOS: no live beam after step 0
    (5, 5, 7, 40, 2, 0.7),
    (1, 8, 4, 2, 1, 2.0),  # K*V < 2K
    (3, 12, 5, 2, 1, 0.7),  # K > V
    (3, 3, 4, 300, 0, 0.7),
    (2, 4, 5, 1030, 1029, 1.0),
    (3, 3, 3, 2000, 5, 1.0),  # 6000 candidates a row: 2 scan blocks
    (2, 16, 4, 50, 3, 0.7),  # M = 32: one pass of 32
    (2, 17, 4, 300, 0, 0.7),  # M = 34: two passes
    (2, 20, 4, 1000, 7, 0.7),  # two passes over 5 scan blocks a row
    (2, 33, 4, 40, 1, 1.0),  # K > 32: the walk's scratch in the workspace; three passes
    (1, 40, 3, 1, None, 0.5),  # K = 40 > V = 1
    (2, 1, 6, 70000, 5, 0.7),  # K = 1, a large vocabulary
    (2, 8, 4, 50000, 3, 0.7),  # V = 50k, K = 8: 32 scan blocks a row
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("kind", ["random", "ties", "impossible"])
def test_search_identical_to_reference(dtype, config, kind):
    B, Kb, L, V, eos, alpha = config
    rng = np.random.default_rng(zlib.crc32(repr((config, kind, np.dtype(dtype).name)).encode()))
    tables = random_tables(
        rng, L, B * Kb, V, dtype, ties=kind == "ties", impossible=0.3 * (kind == "impossible"), slack=kind == "random"
    )
    search_both(B, Kb, L, V, eos, alpha, tables)


def test_search_on_another_stream():
    """The kernels run on CuPy's current stream, and the step waits for its own work only there."""
    rng = np.random.default_rng(3)
    tables = random_tables(rng, 6, 4 * 5, 3000, np.float32, ties=True)
    with cp.cuda.Stream(non_blocking=True):
        ref, steps = search_both(4, 5, 6, 3000, 2, 0.7, tables)
    assert steps >= 2 and ref.fin_count.sum() > 0


def test_first_steps_by_hand():
    """Equal log-probs everywhere: the lower flat index (beam, then token) wins every tie."""
    Kb, V, L = 2, 3, 3
    state = device_state(1, Kb, L)
    norms = length_norms(L, 0.0)
    lp = cp.full((Kb, V), -1.0)
    rows = cp.asarray([0])
    np.testing.assert_array_equal(cp.asnumpy(K.beam_search_step(state, lp, rows, 0, eos=None, length_norm=norms)),
                                  [[0, 0]])  # fmt: skip
    np.testing.assert_array_equal(cp.asnumpy(state.scores), [[-1, -1]])
    np.testing.assert_array_equal(cp.asnumpy(state.tokens[0, :, :1]), [[0], [1]])
    np.testing.assert_array_equal(cp.asnumpy(K.beam_search_step(state, lp, rows, 1, eos=None, length_norm=norms)),
                                  [[0, 0]])  # fmt: skip
    np.testing.assert_array_equal(cp.asnumpy(state.tokens[0, :, :2]), [[0, 0], [0, 1]])
    K.beam_search_step(state, lp, rows, 2, eos=None, length_norm=norms)
    s = host(state)
    assert s.done[0] and s.fin_count[0] == 2
    np.testing.assert_array_equal(s.fin_tokens[0], [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(s.fin_lengths[0], [3, 3])
    np.testing.assert_array_equal(s.fin_log_probs[0], [-3, -3])


def test_finished_list_from_a_hand_made_state():
    """A state with finished hypotheses held (ties among them and with the new ones) steps as on the CPU."""
    Kb, L = 3, 6
    ref = K.BeamState.initial(2, Kb, L)
    ref.scores[:] = [[-1.0, -1.0, -2.0], [-0.5, NEG, NEG]]
    ref.tokens[:, :, :2] = [[[1, 2], [2, 1], [3, 3]], [[1, 1], [-1, -1], [-1, -1]]]
    # row 0 holds two (the new ones tie with the first, push the second out); row 1 one, which new ones pass
    ref.fin_scores[0, :2] = [-1.0, -2.5]
    ref.fin_log_probs[0, :2] = [-2.0, -5.0]
    ref.fin_lengths[0, :2] = [2, 2]
    ref.fin_tokens[0, 0, :2] = [1, 0]
    ref.fin_tokens[0, 1, :2] = [3, 0]
    ref.fin_scores[1, 0] = ref.fin_log_probs[1, 0] = -3.0
    ref.fin_lengths[1, 0] = 1
    ref.fin_tokens[1, 0, 0] = 0
    ref.fin_count[:] = [2, 1]
    dev = K.BeamState(*(cp.asarray(a) for a in ref))
    per_row = [np.array([[-1.0, -1.0, -3.0, -3.0]] * 3), np.array([[-0.5, -1.0, -1.0, -2.0]] * 3)]
    norms = length_norms(L, 0.0)
    rows = np.arange(2)
    for step in (2, 3, 4):
        if rows.size == 0:
            break
        lp = np.concatenate([per_row[r] for r in rows])
        with use_backend("reference"):
            want = K.beam_search_step(ref, lp, rows, step, eos=0, length_norm=norms)
        got = K.beam_search_step(dev, cp.asarray(lp), cp.asarray(rows), step, eos=0, length_norm=norms)
        np.testing.assert_array_equal(cp.asnumpy(got), want)
        assert_same_state(dev, ref, f"after step {step}")
        rows = rows[~ref.done[rows]]
    assert ref.fin_count[0] == Kb and ref.done[0]


def test_host_state_with_device_log_probs():
    """A NumPy state is stepped on the device and updated in place, like the CPU backends' in-place update."""
    B, Kb, L, V = 3, 4, 5, 500
    tables = random_tables(np.random.default_rng(4), L, B * Kb, V, np.float64, ties=True)
    ref = K.BeamState.initial(B, Kb, L)
    mine = K.BeamState.initial(B, Kb, L)
    norms = length_norms(L, 0.7)
    rows = np.arange(B)
    for step in range(L):
        if rows.size == 0:
            break
        lp = tables[step].reshape(B, Kb, V)[rows].reshape(-1, V)
        with use_backend("reference"):
            want = K.beam_search_step(ref, lp, rows, step, eos=0, length_norm=norms)
        got = cuda_beam.beam_search_step(mine, cp.asarray(lp), rows, step, 0, norms)
        np.testing.assert_array_equal(cp.asnumpy(got), want)
        for name, a, b in zip(ref._fields, mine, ref):
            assert isinstance(a, np.ndarray)
            np.testing.assert_array_equal(a, b, err_msg=name)
        rows = rows[~ref.done[rows]]


def test_no_rows():
    state = device_state(2, 3, 2)
    out = K.beam_search_step(state, cp.zeros((0, 5)), cp.zeros(0, np.int64), 1, eos=4, length_norm=np.ones(2))
    assert isinstance(out, cp.ndarray) and out.shape == (0, 3) and out.dtype == np.int64
    assert_same_state(state, K.BeamState.initial(2, 3, 2), "after a step of no rows")


# ---------------------------------------------------------------- beam_search_step: bad log-probs


def _reference_error(state, lp, rows, step, eos, norms):
    with use_backend("reference"), pytest.raises(ValueError) as err:
        K.beam_search_step(state, lp, rows, step, eos=eos, length_norm=norms)
    return str(err.value)


@pytest.mark.parametrize("value", [np.nan, 0.5, 2e-4, np.inf])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_log_probs_name_the_first_and_change_nothing(value, dtype):
    lp = random_tables(np.random.default_rng(0), 1, 6, 40, dtype)[0]
    lp[4, 33] = value
    lp[5, 2] = np.nan
    norms = length_norms(4, 0.7)
    message = _reference_error(K.BeamState.initial(2, 3, 4), lp, np.arange(2), 0, 0, norms)
    state = device_state(2, 3, 4)
    with pytest.raises(ValueError) as err:
        K.beam_search_step(state, cp.asarray(lp), cp.arange(2), 0, eos=0, length_norm=norms)
    assert str(err.value) == message
    assert "at log_probs[4, 33]" in message
    assert_same_state(state, K.BeamState.initial(2, 3, 4), "after a refused step")


@pytest.mark.parametrize("where", [(0, 700), (0, 19999), (1, 5), (2, 19990), (3, 12345)])
def test_bad_log_probs_found_in_a_large_vocabulary(where):
    """Several scan blocks a row: the first bad value in row-major order, whichever block and row holds it."""
    V = 20000
    lp = random_tables(np.random.default_rng(1), 1, 4, V, np.float32)[0]
    lp[where] = np.nan
    lp[3, V - 1] = 0.5
    ref = K.BeamState.initial(2, 2, 3)
    ref.scores[:] = [[-1.0, -2.0], [-1.5, -2.5]]
    message = _reference_error(ref, lp, np.arange(2), 1, 0, np.ones(3))
    dev = K.BeamState(*(cp.asarray(a) for a in ref))
    with pytest.raises(ValueError) as err:
        K.beam_search_step(dev, cp.asarray(lp), cp.arange(2), 1, eos=0, length_norm=np.ones(3))
    assert str(err.value) == message
    assert f"got nan at log_probs[{where[0]}, {where[1]}]" in message
    assert_same_state(dev, ref, "after a refused step")


def test_bad_log_probs_in_a_later_pass_width():
    """K = 20 (two selection passes): the bad value is still found, and nothing written."""
    lp = random_tables(np.random.default_rng(2), 1, 2 * 20, 300, np.float64)[0]
    lp[27, 150] = np.inf
    norms = length_norms(3, 0.7)
    message = _reference_error(K.BeamState.initial(2, 20, 3), lp, np.arange(2), 0, 0, norms)
    state = device_state(2, 20, 3)
    with pytest.raises(ValueError) as err:
        K.beam_search_step(state, cp.asarray(lp), cp.arange(2), 0, eos=0, length_norm=norms)
    assert str(err.value) == message
    assert_same_state(state, K.BeamState.initial(2, 20, 3), "after a refused step")


# ---------------------------------------------------------------- a whole decode on the device


def _markov_table(rng, V, dtype):
    """log P(next | token before last, last) [V+1, V+1, V] on a grid (ties), some -inf; row V is bos."""
    logits = np.round(rng.standard_normal((V + 1, V + 1, V)) * 2) / 2
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    lp = np.minimum(np.round(lp * 4) / 4, 0.0)
    mask = rng.random(lp.shape) < 0.15
    mask[..., 1] = False
    lp[mask] = NEG
    return lp.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("Kb", [1, 3, 18])
def test_whole_decode_on_the_device_matches_decode_beam_search(dtype, Kb):
    """seqcore.decode.beam_search's loop with the search state, the model state and the log-probs on the
    device (kernels.beam_search_step and kernels.gather_rows on CuPy arrays) finds the same hypotheses."""
    V, N, L, eos, alpha = 6, 4, 7, 0, 0.7
    table = _markov_table(np.random.default_rng(Kb), V, dtype)
    bos = V

    def step_host(prev, state):
        before, pair = state  # int64 [n] and float32 [n, 2]: both must have followed the beams
        assert np.array_equal(pair[:, 0], before) and np.array_equal(pair[:, 1], 2 * before)
        new_pair = np.stack([prev, 2 * prev], axis=1).astype(np.float32)
        return table[before, prev], (prev.copy(), new_pair)

    init = (np.full(N, bos, np.int64), np.tile(np.array([bos, 2 * bos], np.float32), (N, 1)))
    with use_backend("reference"):
        want = beam_search(step_host, init, beam_width=Kb, max_len=L, bos=bos, eos=eos, length_penalty=alpha,
                           n_best=Kb)  # fmt: skip

    table_d = cp.asarray(table)
    search = device_state(N, Kb, L)
    norms = length_norms(L, alpha)
    state = tuple(cp.repeat(cp.asarray(a), Kb, axis=0) for a in init)
    rows = np.arange(N)
    prev = cp.full(N * Kb, bos, np.int64)
    for step in range(L):
        if rows.size == 0:
            break
        before, pair = state
        assert bool((pair[:, 0] == before).all()) and bool((pair[:, 1] == 2 * before).all())
        log_probs = table_d[before, prev]
        state = (prev.copy(), cp.stack([prev, 2 * prev], axis=1).astype(np.float32))
        rows_d = cp.asarray(rows)
        parents = K.beam_search_step(search, log_probs, rows_d, step, eos=eos, length_norm=norms)
        going = ~cp.asnumpy(search.done[rows_d])
        if not going.all():
            parents = parents[cp.asarray(going)]
            rows = rows[going]
            if rows.size == 0:
                break
        idx = parents.reshape(-1)
        state = tuple(K.gather_rows(a, idx) for a in state)
        assert all(isinstance(a, cp.ndarray) for a in state)
        prev = search.tokens[cp.asarray(rows), :, step].reshape(-1)

    s = host(search)
    for r in range(N):
        got = [
            (s.fin_tokens[r, j, : s.fin_lengths[r, j]].tolist(), s.fin_scores[r, j], s.fin_log_probs[r, j])
            for j in range(int(s.fin_count[r]))
        ]
        expected = [(h.tokens.tolist(), h.score, h.log_prob) for h in want[r]]
        assert got == expected, r


# ---------------------------------------------------------------- gather_rows

SHAPES = [(9,), (9, 1), (9, 2), (9, 3), (9, 4), (9, 2, 5), (9, 0), (1, 7), (300, 129)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_gather_rows_matches_reference(dtype, shape):
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    x = (rng.standard_normal(shape) * 1000).astype(dtype)
    for M in (0, 1, 13, 2 * shape[0] + 1):
        idx = rng.integers(0, shape[0], size=M)
        with use_backend("reference"):
            want = K.gather_rows(x, idx)
        got = K.gather_rows(cp.asarray(x), cp.asarray(idx))
        assert isinstance(got, cp.ndarray) and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(cp.asnumpy(got), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_gather_rows_from_an_unaligned_view(dtype):
    """A view starting one element into its buffer: rows copied in words its address allows."""
    N, R = 50, 4
    flat = cp.arange(1 + N * R).astype(dtype)
    x = flat[1:].reshape(N, R)
    idx = cp.asarray(np.random.default_rng(6).integers(0, N, size=77))
    got = K.gather_rows(x, idx)
    np.testing.assert_array_equal(cp.asnumpy(got), cp.asnumpy(x)[cp.asnumpy(idx)])
    strided = cp.asarray(np.arange(N * 6, dtype=dtype).reshape(N, 6))[:, ::2]  # not contiguous: copied first
    np.testing.assert_array_equal(cp.asnumpy(K.gather_rows(strided, idx)), cp.asnumpy(strided)[cp.asnumpy(idx)])


def test_gather_rows_many():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3000, 257)).astype(np.float32)
    idx = rng.integers(0, 3000, size=5000)
    np.testing.assert_array_equal(cp.asnumpy(K.gather_rows(cp.asarray(x), cp.asarray(idx))), x[idx])


# ---------------------------------------------------------------- topk_dot

TOPK = [  # V, E, Q, k, X
    (50, 4, 3, 1, 0),
    (50, 4, 3, 5, 2),
    (300, 3, 4, 32, 0),
    (300, 3, 4, 33, 5),  # two passes
    (2000, 6, 5, 70, 3),  # three passes
    (20000, 5, 2, 10, 4),  # several scan blocks a query
    (9, 2, 3, 9, 4),  # k = V with exclusions: the places left are (-inf, -1)
    (40, 0, 2, 6, 3),  # E = 0: every score is 0
    (1, 3, 2, 1, 1),
]


def _integer_data(rng, V, E, Q, X, dtype):
    matrix = rng.integers(-3, 4, size=(V, E)).astype(dtype)
    queries = rng.integers(-3, 4, size=(Q, E)).astype(dtype)
    exclude = rng.integers(-1, V, size=(Q, X)) if X else None  # -1 padding and repeats among them
    return matrix, queries, exclude


def _topk_both(matrix, queries, k, exclude):
    with use_backend("reference"):
        want = K.topk_dot(matrix, queries, k, exclude=exclude)
    device_exclude = None if exclude is None else cp.asarray(exclude)
    got = K.topk_dot(cp.asarray(matrix), cp.asarray(queries), k, exclude=device_exclude)
    assert all(isinstance(a, cp.ndarray) for a in got)
    assert got[0].dtype == matrix.dtype and got[1].dtype == np.int64
    return want, tuple(cp.asnumpy(a) for a in got)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TOPK, ids=[str(c) for c in TOPK])
def test_topk_dot_exact_on_integer_data(dtype, case):
    V, E, Q, k, X = case
    matrix, queries, exclude = _integer_data(np.random.default_rng(V + k), V, E, Q, X, dtype)
    want, got = _topk_both(matrix, queries, k, exclude)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_nan_and_inf_scores(dtype):
    """NaN scores rank after every number (among themselves by id), +-inf as numbers."""
    matrix, queries, exclude = _integer_data(np.random.default_rng(8), 400, 4, 6, 2, dtype)
    matrix[3] = np.nan
    matrix[17, 0] = np.inf
    matrix[250, 1] = -np.inf
    queries[0, 0] = 0  # inf * 0: a NaN score for row 17
    for k in (5, 40, 400):
        want, got = _topk_both(matrix, queries, k, exclude)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_random_scores_within_rounding(dtype):
    rng = np.random.default_rng(9)
    matrix = rng.standard_normal((6000, 64)).astype(dtype)
    queries = rng.standard_normal((7, 64)).astype(dtype)
    exclude = rng.integers(-1, 6000, size=(7, 3))
    want, got = _topk_both(matrix, queries, 20, exclude)
    rtol, atol = (1e-5, 1e-4) if dtype == np.float32 else (1e-10, 1e-11)
    # Both lists are sorted, so near-equal scores that swap places still match place by place.
    np.testing.assert_allclose(got[0], want[0], rtol=rtol, atol=atol)
    exact = queries.astype(np.float64) @ matrix.astype(np.float64).T
    np.testing.assert_allclose(np.take_along_axis(exact, got[1], axis=1), got[0], rtol=rtol, atol=atol)
    for q in range(7):
        assert len(set(got[1][q].tolist())) == 20
        assert not set(got[1][q].tolist()) & set(exclude[q].tolist())


def test_topk_dot_no_queries():
    scores, ids = K.topk_dot(cp.ones((5, 3)), cp.ones((0, 3)), 2)
    assert isinstance(scores, cp.ndarray) and scores.shape == (0, 2) and ids.shape == (0, 2)


# ---------------------------------------------------------------- the binding's own checks


def test_binding_refuses_what_would_fault():
    from seqcore import _cuda

    s = device_state(2, 2, 3)
    lp = cp.full((4, 4), -1.0)
    rows = cp.arange(2)
    norm = cp.ones(3)
    parents = cp.empty((2, 2), np.int64)
    first_bad = cp.empty(1, np.int64)
    need = _cuda.beam_search_workspace_bytes(2, 2, 4, 3)
    work = cp.empty(need, np.uint8)
    stream = cp.cuda.get_current_stream().ptr

    def call(**change):
        args = dict(
            scores=s.scores.data.ptr, tokens=s.tokens.data.ptr, fin_scores=s.fin_scores.data.ptr,
            fin_log_probs=s.fin_log_probs.data.ptr, fin_tokens=s.fin_tokens.data.ptr,
            fin_lengths=s.fin_lengths.data.ptr, fin_count=s.fin_count.data.ptr, done=s.done.data.ptr, B=2, K=2, L=3,
            log_probs=lp.data.ptr, rows=rows.data.ptr, A=2, V=4, step=0, eos=0, length_norm=norm.data.ptr,
            parents=parents.data.ptr, first_bad=first_bad.data.ptr, workspace=work.data.ptr, workspace_bytes=need,
            dtype="float64", stream=stream,
        )  # fmt: skip
        args.update(change)
        return _cuda.beam_search_step(**args)

    call()  # the valid call runs
    assert int(first_bad.get()[0]) == -1
    for change, message in [
        (dict(scores=0), "state.scores must be a device pointer"),
        (dict(workspace_bytes=need - 1), "workspace must be a device buffer of at least"),
        (dict(step=3), "step must lie in [0, L)"),
        (dict(eos=-2), "eos must lie in [0, V)"),
        (dict(A=3), "A (rows searching) must be <= B"),
        (dict(K=0), "K (the beam width) must be >= 1"),
        (dict(V=-1), "V must be >= 0"),
        (dict(dtype="int32"), "dtype must be 'float32' or 'float64'"),
    ]:
        with pytest.raises((ValueError, TypeError)) as err:
            call(**change)
        assert message in str(err.value), (change, str(err.value))
    with pytest.raises(TypeError, match="dtype must be 'float32', 'float64' or 'int64'"):
        _cuda.gather_rows(lp.data.ptr, rows.data.ptr, parents.data.ptr, 4, 4, 2, "int32", stream)
    with pytest.raises(ValueError, match="idx must be a device pointer"):
        _cuda.gather_rows(lp.data.ptr, 0, parents.data.ptr, 4, 4, 2, "float64", stream)
    with pytest.raises(ValueError, match=r"k must lie in \[1, V\]"):
        _cuda.topk_dot(lp.data.ptr, lp.data.ptr, 0, 4, 4, 4, 5, 0, lp.data.ptr, parents.data.ptr, work.data.ptr,
                       need, "float64", stream)  # fmt: skip
