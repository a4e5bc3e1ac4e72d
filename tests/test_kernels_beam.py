"""The beam search kernels, beam_search_step and gather_rows, on every backend against the NumPy reference.

Every backend ranks, breaks ties, finishes hypotheses and stops rows the same way, so whole searches are
compared step by step for exact equality (parents and every state array), with -inf log-probs and ties
among the inputs; the rules themselves are checked on hand-made steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import ALL_BACKENDS, DTYPES, FAST_BACKENDS, Case, check_against_reference, require_backend
from seqcore import kernels as K
from seqcore import use_backend
from seqcore.decode import length_norms

NEG = -np.inf


def random_tables(rng, steps, rows, V, dtype, *, ties=False, impossible=0.0):
    """[steps, rows, V] log-probs; ties: values on a grid of 1/4 (equal scores everywhere); impossible: a share
    of -inf (never a whole row)."""
    logits = rng.standard_normal((steps, rows, V))
    if ties:
        logits = np.round(logits * 2) / 4
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    if ties:
        lp = np.round(lp * 4) / 4 - 0.25
        lp = np.minimum(lp, 0.0)
    if impossible:
        mask = rng.random(lp.shape) < impossible
        mask[..., 0] = False
        lp[mask] = NEG
    return lp.astype(dtype)


def run_search(B, Kb, L, V, eos, alpha, tables):
    """A whole search through seqcore.kernels on the active backend: the state after it and every step's parents."""
    state = K.BeamState.initial(B, Kb, L)
    norms = length_norms(L, alpha)
    rows = np.arange(B)
    parents = np.full((L, B, Kb), -7, np.int64)
    for step in range(L):
        if rows.size == 0:
            break
        lp = tables[step].reshape(B, Kb, V)[rows].reshape(-1, V)
        parents[step, rows] = K.beam_search_step(state, lp, rows, step, eos=eos, length_norm=norms)
        rows = rows[~state.done[rows]]
    return state, parents


CONFIGS = [  # B, K, L, V, eos, alpha
    (3, 1, 5, 4, 0, 0.0),
    (4, 2, 6, 5, 0, 0.7),
    (2, 3, 4, 7, 6, 1.0),
    (3, 4, 5, 3, None, 0.7),
    (2, 3, 3, 1, None, 0.5),
    (2, 3, 3, 1, 0, 0.5),  # every candidate is EOS: no live beam after step 0
    (5, 5, 7, 40, 2, 0.7),
    (1, 8, 4, 2, 1, 2.0),  # K*V < 2K
    (3, 3, 4, 300, 0, 0.7),  # the native scan's chunks of 128 and blocks of 8, and a partial chunk
    (2, 4, 5, 1030, 1029, 1.0),
    (2, 2, 4, 1100, 0, 0.7),  # beam 0's chunk maxima seed the native scan (V >= 2 * 2K chunks of 128)
    (3, 3, 3, 2000, 5, 1.0),
]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("kind", ["random", "ties", "impossible"])
def test_search_identical_to_reference(backend, dtype, config, kind):
    B, Kb, L, V, eos, alpha = config
    rng = np.random.default_rng(abs(hash((config, kind))) % 2**32)
    tables = random_tables(rng, L, B * Kb, V, dtype, ties=kind == "ties", impossible=0.3 * (kind == "impossible"))

    def forward(tables):
        state, parents = run_search(B, Kb, L, V, eos, alpha, tables)
        return {**state._asdict(), "parents": parents}, None

    out, _ = check_against_reference(Case(f"beam search {config}", lambda: {"tables": tables.copy()}, forward), backend)
    with use_backend("reference"):
        want, _ = forward(tables)
    for name in want:  # exact, not within a tolerance: the same additions, divisions and comparisons
        np.testing.assert_array_equal(out[name], want[name], err_msg=name)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_first_steps_by_hand(backend):
    """Equal log-probs everywhere: the lower flat index (beam, then token) wins every tie."""
    Kb, V, L = 2, 3, 3
    state = K.BeamState.initial(1, Kb, L)
    norms = length_norms(L, 0.0)
    lp = np.full((Kb, V), -1.0)
    with use_backend(backend):
        # step 0: only beam 0 is alive (the others start at -inf), its tokens 0 and 1 win
        np.testing.assert_array_equal(K.beam_search_step(state, lp, [0], 0, eos=None, length_norm=norms), [[0, 0]])
        np.testing.assert_array_equal(state.scores, [[-1, -1]])
        np.testing.assert_array_equal(state.tokens[0, :, :1], [[0], [1]])
        # step 1: all six candidates score -2; beam 0's tokens 0 and 1 win again
        np.testing.assert_array_equal(K.beam_search_step(state, lp, [0], 1, eos=None, length_norm=norms), [[0, 0]])
        np.testing.assert_array_equal(state.tokens[0, :, :2], [[0, 0], [0, 1]])
        assert not state.done[0] and state.fin_count[0] == 0
        # last step: the live beams finish as they are, no EOS, length L
        K.beam_search_step(state, lp, [0], 2, eos=None, length_norm=norms)
    assert state.done[0] and state.fin_count[0] == 2
    np.testing.assert_array_equal(state.fin_tokens[0], [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(state.fin_lengths[0], [3, 3])
    np.testing.assert_array_equal(state.fin_log_probs[0], [-3, -3])


def one_step(backend, lp, *, Kb, L, alpha, eos, state=None, step=0):
    state = state or K.BeamState.initial(1, Kb, L)
    with use_backend(backend):
        parents = K.beam_search_step(
            state, np.asarray(lp, float), [0], step, eos=eos, length_norm=length_norms(L, alpha)
        )
    return state, parents


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_row_stops_when_no_live_beam_can_beat_the_worst_kept(backend):
    # K = 1, alpha = 0: EOS (log .6) finishes, the live beam (log .4) can only fall below it
    state, _ = one_step(backend, [[np.log(0.6), np.log(0.4)]], Kb=1, L=10, alpha=0.0, eos=0)
    assert state.fin_count[0] == 1 and state.done[0]
    np.testing.assert_array_equal(state.fin_tokens[0, 0, :2], [0, -1])
    assert state.fin_lengths[0, 0] == 1 and state.fin_scores[0, 0] == np.log(0.6)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_row_goes_on_while_a_live_beam_can_still_win(backend):
    # alpha = 1: the live beam's best is log .4 / 10 (finishing at max_len), above the finished log .6 / 1
    state, _ = one_step(backend, [[np.log(0.6), np.log(0.4)]], Kb=1, L=10, alpha=1.0, eos=0)
    assert state.fin_count[0] == 1 and not state.done[0]
    # ... but not when max_len leaves no room for it: L = 2 gives log .4 / 2 = -0.46 < log .6 = -0.51? no: above,
    # so make the live beam poorer
    state, _ = one_step(backend, [[np.log(0.9), np.log(0.1)]], Kb=1, L=2, alpha=1.0, eos=0)
    assert state.done[0]  # log .1 / 2 = -1.15 <= log .9 = -0.105


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_row_needs_k_finished_before_it_stops(backend):
    state, _ = one_step(backend, [[np.log(0.6), np.log(0.3), np.log(0.1)], [NEG] * 3], Kb=2, L=10, alpha=0.0, eos=0)
    assert state.fin_count[0] == 1 and not state.done[0]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_impossible_candidates_never_finish(backend):
    # EOS impossible: no hypothesis; a row whose every continuation is impossible is done with none
    state, _ = one_step(backend, [[NEG, np.log(0.5), np.log(0.5)]], Kb=1, L=5, alpha=0.0, eos=0)
    assert state.fin_count[0] == 0 and not state.done[0]
    state, parents = one_step(backend, [[NEG, NEG]], Kb=1, L=5, alpha=0.0, eos=0)
    assert state.fin_count[0] == 0 and state.done[0] and state.scores[0, 0] == NEG
    np.testing.assert_array_equal(parents, [[0]])
    # at the last step an impossible live beam is not finished either
    state, _ = one_step(backend, [[NEG, NEG]], Kb=1, L=1, alpha=0.0, eos=None)
    assert state.fin_count[0] == 0 and state.done[0]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_finished_list_keeps_the_best_k_ties_to_the_first(backend):
    Kb, L = 2, 6
    state = K.BeamState.initial(1, Kb, L)
    state.scores[0] = [-1.0, -1.0]
    # both beams' EOS score -2: the first (beam 0) is found first; then a later, better one pushes ahead
    state, _ = one_step(backend, [[-1.0, -3.0, -3.0], [-1.0, -3.0, -3.0]], Kb=Kb, L=L, alpha=0.0, eos=0, state=state,
                        step=1)  # fmt: skip
    np.testing.assert_array_equal(state.fin_log_probs[0], [-2, -2])
    np.testing.assert_array_equal(state.fin_tokens[0, :, :2], [[-1, 0], [-1, 0]])  # step 0's token was never set
    assert state.fin_count[0] == 2 and state.done[0]  # no live beam (-4) can beat -2
    state.scores[0] = [-0.5, -9.0]
    state.done[0] = False
    state, _ = one_step(backend, [[-1.0, -3.0, -3.0], [-1.0, -3.0, -3.0]], Kb=Kb, L=L, alpha=0.0, eos=0, state=state,
                        step=2)  # fmt: skip
    np.testing.assert_array_equal(state.fin_log_probs[0], [-1.5, -2])


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("value", [np.nan, 0.5, 2e-4, np.inf])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_log_probs_name_the_first_and_change_nothing(backend, value, dtype):
    rng = np.random.default_rng(0)
    lp = random_tables(rng, 1, 6, 40, dtype)[0]
    lp[4, 33] = value
    lp[5, 2] = np.nan
    state = K.BeamState.initial(2, 3, 4)
    before = [a.copy() for a in state]
    with use_backend(backend), pytest.raises(ValueError) as err:
        K.beam_search_step(state, lp, [0, 1], 0, eos=0, length_norm=length_norms(4, 0.7))
    assert str(err.value) == (
        "log_probs must hold log-probabilities (<= 0, not NaN; up to 0.0001 above 0 is read as 0), got "
        f"{float(lp[4, 33])!r} at log_probs[4, 33]"
    )
    for a, b in zip(state, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("where", [(0, 700), (0, 2999), (1, 5), (3, 2990)])  # a chunk or the tail, beam 0 or not
def test_bad_log_probs_found_in_a_large_vocabulary(backend, where):
    lp = random_tables(np.random.default_rng(1), 1, 4, 3000, np.float32)[0]
    lp[where] = np.nan
    lp[3, 2999] = 0.5
    state = K.BeamState.initial(2, 2, 3)
    state.scores[:] = [[-1.0, -2.0], [-1.5, -2.5]]
    with use_backend(backend), pytest.raises(ValueError, match=rf"got nan at log_probs\[{where[0]}, {where[1]}\]"):
        K.beam_search_step(state, lp, [0, 1], 1, eos=0, length_norm=np.ones(3))
    assert state.fin_count.sum() == 0


def test_rows_scanned_in_parallel_match_one_thread():
    require_backend("cpp")
    import seqcore

    rng = np.random.default_rng(2)
    B, Kb, L, V = 16, 4, 2, 140000  # 9 million candidates a step: the native scan uses 4 threads
    tables = random_tables(rng, L, B * Kb, V, np.float32)
    threads = seqcore.get_num_threads()
    try:
        seqcore.set_num_threads(1)
        with use_backend("cpp"):
            one = run_search(B, Kb, L, V, 0, 0.7, tables)
        seqcore.set_num_threads(4)
        with use_backend("cpp"):
            many = run_search(B, Kb, L, V, 0, 0.7, tables)
    finally:
        seqcore.set_num_threads(threads)
    for a, b in zip([*one[0], one[1]], [*many[0], many[1]]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- bad arguments


def _valid(B=2, Kb=2, L=3, V=4):
    return K.BeamState.initial(B, Kb, L), np.full((B * Kb, V), -1.0), np.arange(B), length_norms(L, 0.7)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_bad_arguments(backend):
    def call(state=None, lp=None, rows=None, step=0, eos=0, norm=None):
        s, l0, r0, n0 = _valid()
        state = s if state is None else state
        return K.beam_search_step(state, l0 if lp is None else lp, r0 if rows is None else rows, step, eos=eos,
                                  length_norm=n0 if norm is None else norm)  # fmt: skip

    s, lp, rows, norm = _valid()
    cases = [
        (TypeError, "state must be a BeamState", dict(state=tuple(s))),
        (TypeError, "state.scores must have dtype float64", dict(state=s._replace(scores=s.scores.astype(np.float32)))),
        (TypeError, "state.tokens must be a NumPy or CuPy array", dict(state=s._replace(tokens=s.tokens.tolist()))),
        (TypeError, "state.done must have dtype bool", dict(state=s._replace(done=s.done.astype(np.int64)))),
        (ValueError, "state.fin_tokens must have shape", dict(state=s._replace(fin_tokens=s.fin_tokens[:, :, :2]))),
        (
            ValueError,
            "state.scores must be C-contiguous",
            dict(state=s._replace(scores=np.asfortranarray(np.zeros((2, 2)))[:, ::1].T.copy().T)),
        ),  # fmt: skip
        (ValueError, "state.fin_count must lie in [0, K]", dict(state=s._replace(fin_count=np.array([0, 3])))),
        (ValueError, "state.scores must be <= 0", dict(state=s._replace(scores=np.ones((2, 2))))),
        (ValueError, "state.fin_scores must not be NaN", dict(state=s._replace(fin_scores=np.full((2, 2), np.nan)))),
        (
            ValueError,
            "state.fin_scores must not be NaN and must be best first",
            dict(state=s._replace(fin_scores=np.array([[-2.0, -1.0], [0, 0]]), fin_count=np.array([2, 0]))),
        ),  # fmt: skip
        (ValueError, "must not share memory with state.scores", dict(state=s._replace(fin_scores=s.scores))),
        (ValueError, "log_probs must have shape (A*K, V) = (4, 4)", dict(lp=lp[:3])),
        (TypeError, "log_probs must have dtype float32 or float64", dict(lp=lp.astype(np.int64))),
        (ValueError, "log_probs must have V >= 1", dict(lp=np.zeros((4, 0)))),
        (ValueError, "rows must be strictly increasing", dict(rows=[1, 0], lp=lp)),
        (ValueError, "rows must lie in [0, B) = [0, 2), got 2", dict(rows=[2], lp=lp[:2])),
        (TypeError, "rows must be an integer array", dict(rows=[0.0, 1.0])),
        (ValueError, "step must lie in [0, L) = [0, 3), got 3", dict(step=3)),
        (ValueError, "step must be >= 0", dict(step=-1)),
        (ValueError, "eos must lie in [0, V) = [0, 4), got 4", dict(eos=4)),
        (TypeError, "eos must be an int", dict(eos=1.0)),
        (ValueError, "length_norm must have shape (L,) = (3,)", dict(norm=np.ones(2))),
        (ValueError, "length_norm must be finite and > 0", dict(norm=np.array([1.0, 0.0, 1.0]))),
        (ValueError, "length_norm must be finite and > 0", dict(norm=np.array([1.0, np.inf, 1.0]))),
    ]
    with use_backend(backend):
        for exc, message, kwargs in cases:
            with pytest.raises(exc) as err:
                call(**kwargs)
            assert message in str(err.value), (kwargs.keys(), str(err.value))
        done = K.BeamState.initial(2, 2, 3)
        done.done[1] = True
        with pytest.raises(ValueError, match="rows must not name a finished row, got 1"):
            K.beam_search_step(done, lp, [0, 1], 0, eos=0, length_norm=norm)
        frozen = K.BeamState.initial(2, 2, 3)
        frozen.tokens.flags.writeable = False
        with pytest.raises(ValueError, match="state.tokens is read-only"):
            K.beam_search_step(frozen, lp, [0, 1], 0, eos=0, length_norm=norm)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_empty_and_huge(backend):
    s = K.BeamState.initial(0, 3, 2)
    with use_backend(backend):
        out = K.beam_search_step(s, np.zeros((0, 2**40)), np.zeros(0, np.int64), 0, eos=None,
                                 length_norm=np.ones(2))  # fmt: skip
        assert out.shape == (0, 3) and out.dtype == np.int64
        s = K.BeamState.initial(2, 3, 2)
        out = K.beam_search_step(s, np.zeros((0, 5)), np.zeros(0, np.int64), 1, eos=4, length_norm=np.ones(2))
        assert out.shape == (0, 3)
        assert not s.done.any()


def test_native_binding_checks():
    require_backend("cpp")
    from seqcore import _core

    s, lp, rows, norm = _valid()
    bad = {
        "rows out of range": lambda: _core.beam_search_step(*s, lp, np.array([0, 2]), 0, 0, norm),
        "rows repeated": lambda: _core.beam_search_step(*s, lp, np.array([1, 1]), 0, 0, norm),
        "count > K": lambda: _core.beam_search_step(*s._replace(fin_count=np.array([3, 0])), lp, rows, 0, 0, norm),
        "eos < -1": lambda: _core.beam_search_step(*s, lp, rows, 0, -2, norm),
        "step = L": lambda: _core.beam_search_step(*s, lp, rows, 3, 0, norm),
        "aliased state": lambda: _core.beam_search_step(s.scores, s.tokens, s.scores, *s[3:], lp, rows, 0, 0, norm),
        "int32 rows": lambda: _core.beam_search_step(*s, lp, rows.astype(np.int32), 0, 0, norm),
        "norm zero": lambda: _core.beam_search_step(*s, lp, rows, 0, 0, np.zeros(3)),
        "lp rows": lambda: _core.beam_search_step(*s, lp[:3], rows, 0, 0, norm),
        "gather idx": lambda: _core.gather_rows(np.ones((3, 2)), np.array([3])),
        "gather int32": lambda: _core.gather_rows(np.ones((3, 2), np.int32), np.array([0])),
        "gather 0-d": lambda: _core.gather_rows(np.float64(1.0), np.array([0])),
    }
    for name, call in bad.items():
        with pytest.raises((ValueError, TypeError)):
            call()
        assert not s.done.any(), name


# ---------------------------------------------------------------- gather_rows


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 2, 0), (5, 2, 3), (0, 4)])
def test_gather_rows(backend, dtype, shape):
    x = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    idx = np.array([4, 0, 0, 2], np.int64) if shape[0] else np.zeros(0, np.int64)
    with use_backend(backend):
        got = K.gather_rows(x, idx)
        strided = K.gather_rows(np.repeat(x, 2, axis=0)[::2], idx.astype(np.int32))
    for y in (got, strided):
        assert y.dtype == dtype and y.flags.c_contiguous
        np.testing.assert_array_equal(y, x[idx])


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_gather_rows_large_matches_reference(backend):
    x = np.random.default_rng(0).standard_normal((300, 64, 80)).astype(np.float32)  # big enough for threads
    idx = np.random.default_rng(1).integers(0, 300, 1000)
    case = Case("gather_rows", lambda: {"x": x.copy(), "idx": idx.copy()},
                lambda x, idx: ({"y": K.gather_rows(x, idx)}, None))  # fmt: skip
    check_against_reference(case, backend)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_gather_rows_bad_input(backend):
    with use_backend(backend):
        with pytest.raises(TypeError, match="x must have dtype float32, float64 or int64, got int32"):
            K.gather_rows(np.ones(3, np.int32), [0])
        with pytest.raises(ValueError, match=r"idx must lie in \[0, N\) = \[0, 3\), got 3"):
            K.gather_rows(np.ones(3), [3])
        with pytest.raises(ValueError, match=r"idx must lie in \[0, N\) = \[0, 3\), got -1"):
            K.gather_rows(np.ones(3), [-1])
        with pytest.raises(ValueError, match="x must have at least 1 dimension"):
            K.gather_rows(np.float64(2.0), [0])
        with pytest.raises(ValueError, match="idx must have 1 dimension"):
            K.gather_rows(np.ones(3), [[0]])
        with pytest.raises(TypeError, match="idx must be an integer array"):
            K.gather_rows(np.ones(3), [0.5])
        with pytest.raises(TypeError, match="x must be an array, got None"):
            K.gather_rows(None, [0])
