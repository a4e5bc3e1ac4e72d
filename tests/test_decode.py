"""seqcore.decode: greedy decoding and beam search against brute force, their rules, and bad input.

The ground truth is a small random Markov model (V = 5 tokens, outputs of at most 6): enumerating every
output and scoring it with the objective log P / Ty**alpha gives the exact n-best lists, which a wide
enough beam must return.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import pytest

from helpers import ALL_BACKENDS
from seqcore import decode, use_backend

V, EOS = 5, 0


def markov(seed: int, rows: int = 1, *, V: int = V, concentration: float = 0.5, steps: int = 6) -> np.ndarray:
    """[rows, steps, V+1, V] log P(next | previous) per batch row and position; previous V is the start (bos).
    A table per position: no two outputs share a log-prob by reordering the same transitions."""
    rng = np.random.default_rng(seed)
    return np.log(rng.dirichlet(np.full(V, concentration), size=(rows, steps, V + 1)))


def markov_step(tables: np.ndarray):
    """A step_fn whose state is (batch row id, position) of each beam: it follows the beams."""

    def step(prev, state):
        row, t = state
        return tables[row, t, prev], (row, t + 1)

    return step


def start(rows: int):
    return (np.arange(rows), np.zeros(rows, np.int64))


def enumerate_outputs(table: np.ndarray, max_len: int, eos: int | None, alpha: float):
    """Every output of one row's model, best first by the objective: (score, tokens, log_prob)."""
    Vt = table.shape[-1]
    out = []
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(Vt), repeat=n):
            if eos is not None and (eos in seq[:-1] or (n < max_len and seq[-1] != eos)):
                continue
            if eos is None and n < max_len:
                continue
            lp, prev = 0.0, Vt
            for t, tok in enumerate(seq):
                lp, prev = lp + table[t, prev, tok], tok
            if lp > -np.inf:
                out.append((lp / n**alpha, seq, lp))
    out.sort(key=lambda o: -o[0])
    return out


def search(tables, **kw):
    kw.setdefault("bos", tables.shape[2] - 1)
    return decode.beam_search(markov_step(tables), start(tables.shape[0]), **kw)


def one_table(rows: int, table: np.ndarray, steps: int = 6) -> np.ndarray:
    """A hand-made [prev, next] table for every row and position."""
    return np.broadcast_to(table, (rows, steps, *table.shape[-2:])).copy()


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("eos", [EOS, None])
def test_wide_beam_finds_the_exact_n_best(alpha, eos):
    max_len = 6 if eos is not None else 5
    # wide enough to hold every prefix: 4**5 with EOS (prefixes never hold it), 5**4 without
    width = 4**5 if eos is not None else 5**4
    tables = markov(seed=int(alpha * 10) + (eos is None), rows=3)
    res = search(tables, beam_width=width, max_len=max_len, eos=eos, length_penalty=alpha, n_best=10)
    for r in range(3):
        want = enumerate_outputs(tables[r], max_len, eos, alpha)[:10]
        got = res[r]
        assert [w[1] for w in want] == [tuple(h.tokens.tolist()) for h in got]
        np.testing.assert_allclose([h.score for h in got], [w[0] for w in want], rtol=1e-12)
        np.testing.assert_allclose([h.log_prob for h in got], [w[2] for w in want], rtol=1e-12)
        for h in got:
            assert h.ended == (eos is not None and h.tokens[-1] == eos)
            assert h.tokens.flags.writeable is False


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("seed", range(4))
def test_every_backend_finds_the_same(backend, seed):
    tables = markov(seed=100 + seed, rows=4, concentration=0.3)
    kw = dict(beam_width=3, max_len=6, eos=EOS, length_penalty=0.7, n_best=3)
    with use_backend("reference"):
        want = search(tables, **kw)
    with use_backend(backend):
        got = search(tables, **kw)
    assert got == want


def test_narrow_beam_can_miss_what_a_wide_one_finds():
    missed = 0
    for seed in range(20):
        tables = markov(seed=seed, concentration=0.3)
        best = enumerate_outputs(tables[0], 6, EOS, 0.7)[0][1]
        narrow = search(tables, beam_width=1, max_len=6, eos=EOS, length_penalty=0.7)[0][0]
        wide = search(tables, beam_width=4**5, max_len=6, eos=EOS, length_penalty=0.7)[0][0]
        assert tuple(wide.tokens.tolist()) == best
        missed += tuple(narrow.tokens.tolist()) != best
    assert missed > 0


# ---------------------------------------------------------------- greedy, width 1


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("eos", [EOS, None])
def test_width_one_equals_greedy(backend, eos):
    tables = markov(seed=7, rows=16, concentration=0.3)
    step = markov_step(tables)
    with use_backend(backend):
        g = decode.greedy(step, start(16), max_len=6, bos=V, eos=eos)
        b = decode.beam_search(step, start(16), beam_width=1, max_len=6, bos=V, eos=eos, length_penalty=0.0)
    ended = 0
    for r in range(16):
        (h,) = b[r]
        np.testing.assert_array_equal(g.sequences()[r], h.tokens)
        assert g.log_probs[r] == pytest.approx(h.log_prob, rel=1e-12)
        assert g.lengths[r] == h.length
        ended += h.ended
    assert eos is None or 0 < ended < 16  # both kinds of ending are covered


def test_width_one_with_length_penalty_never_scores_below_greedy():
    """With alpha > 0 a width-1 beam may go on past greedy's EOS (a longer output can still score higher under
    the normalised objective), so it can differ from greedy, but its objective is never lower."""
    alpha, differ = 1.0, 0
    for seed in range(30):
        tables = markov(seed=seed, concentration=0.3)
        g = decode.greedy(markov_step(tables), start(1), max_len=6, bos=V, eos=EOS)
        (h,) = search(tables, beam_width=1, max_len=6, eos=EOS, length_penalty=alpha)[0]
        greedy_objective = g.log_probs[0] / g.lengths[0] ** alpha
        assert h.score >= greedy_objective - 1e-12
        differ += not np.array_equal(h.tokens, g.sequences()[0])
    assert differ > 0


def test_greedy_result():
    # token 1 then EOS for row 0; row 1 never ends (no EOS in its model), so it runs max_len
    table = np.full((2, 1, 4, 3), np.log(0.1))
    table[0, :, 3, 1] = table[0, :, 1, 0] = np.log(0.8)
    table[1, :, :, 2] = np.log(0.8)
    table[1, :, :, 0] = -np.inf
    g = decode.greedy(markov_step(one_table(2, table)), start(2), max_len=4, bos=3, eos=0)
    np.testing.assert_array_equal(g.tokens, [[1, 0, -1, -1], [2, 2, 2, 2]])
    np.testing.assert_array_equal(g.lengths, [2, 4])
    np.testing.assert_allclose(g.log_probs, [2 * np.log(0.8), 4 * np.log(0.8)])
    assert g.PAD == -1
    assert [s.tolist() for s in g.sequences()] == [[1, 0], [2, 2, 2, 2]]


# ---------------------------------------------------------------- the objective and the stopping rule


def test_length_penalty_changes_the_winner_where_it_should():
    """[EOS] has log P = log .5; [1, EOS] has log .45 + log .9 (lower), but per token it is better."""
    t = np.full((4, 3), -np.inf)
    t[3] = np.log([0.5, 0.45, 0.05])  # from bos
    t[1] = np.log([0.9, 0.05, 0.05])
    t[2] = np.log([0.9, 0.05, 0.05])
    t = one_table(1, t)
    short, long_ = (0,), (1, 0)
    lp_short, lp_long = np.log(0.5), np.log(0.45) + np.log(0.9)
    assert lp_short > lp_long and lp_short < lp_long / 2
    for alpha, want in [(0.0, short), (0.3, short), (1.0, long_), (0.7, long_)]:
        # the crossing point: log .5 = lp_long / 2**alpha at alpha = log2(lp_long / lp_short) ~ 0.40
        (h,) = search(t, beam_width=3, max_len=4, eos=0, length_penalty=alpha)[0]
        assert tuple(h.tokens.tolist()) == want, alpha
        assert h.score == pytest.approx(h.log_prob / h.length**alpha)


class Spy:
    """A step_fn recording how many rows each call gets."""

    def __init__(self, step):
        self.step, self.sizes = step, []

    def __call__(self, prev, state):
        self.sizes.append(len(prev))
        return self.step(prev, state)


def test_rows_that_are_done_leave_the_step():
    """Row 0 is sure of its answer at once (EOS at probability .9, width 1, alpha 0); row 1 never ends."""
    t = np.full((2, 1, 4, 3), np.log(0.05))
    t[0, ..., 0] = np.log(0.9)
    t[1, ..., 1] = np.log(0.9)
    t[1, ..., 0] = -np.inf
    spy = Spy(markov_step(one_table(2, t)))
    res = decode.beam_search(spy, start(2), beam_width=2, max_len=5, bos=3, eos=0, length_penalty=0.0, n_best=2)
    # row 0: EOS (-0.1) finishes; its live beams (-3.0) cannot catch up; the second finished one (EOS after
    # a token) arrives at step 1, and then the row is done
    assert spy.sizes == [4, 4, 2, 2, 2]
    assert [h.tokens.tolist() for h in res[0]] == [[0], [1, 0]]
    assert [len(h.tokens) for h in res[1]] == [5, 5] and not res[1][0].ended


def test_a_row_goes_on_while_a_live_beam_can_still_win():
    """Same model, alpha = 1: after [EOS] (-0.105) the live beam (-3.0) could still reach -3.0 / 5 = -0.6 <
    -0.105: no; with max_len 40 it could (-3/40 = -0.075), so the row keeps searching."""
    t = np.full((4, 3), np.log(0.05))
    t[:, 0] = np.log(0.9)
    t = one_table(1, t, steps=40)
    for max_len, steps in [(5, 1), (40, 2)]:
        spy = Spy(markov_step(t))
        decode.beam_search(spy, start(1), beam_width=1, max_len=max_len, bos=3, eos=0, length_penalty=1.0)
        assert len(spy.sizes) == steps, max_len


def test_no_eos_runs_every_hypothesis_to_max_len():
    tables = markov(seed=3, rows=2)
    res = search(tables, beam_width=4, max_len=3, eos=None, n_best=4)
    for row in res:
        assert len(row) == 4 and all(h.length == 3 and not h.ended for h in row)
        assert all(np.array_equal(h.without_eos(), h.tokens) for h in row)


def test_impossible_paths_are_never_returned():
    chain = np.full((4, 3), -np.inf)  # bos -> 1 -> 2 -> EOS, nothing else possible
    chain[3, 1] = chain[1, 2] = chain[2, 0] = 0.0
    (row,) = search(one_table(1, chain), beam_width=3, max_len=5, eos=0, n_best=3)
    assert [h.tokens.tolist() for h in row] == [[1, 2, 0]] and row[0].log_prob == 0.0
    assert row[0].without_eos().tolist() == [1, 2]
    dead = one_table(1, np.full((4, 3), -np.inf))
    assert search(dead, beam_width=2, max_len=5, eos=0, n_best=2) == [[]]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_ties_go_to_the_lower_token(backend):
    flat = one_table(1, np.full((4, 3), np.log(1 / 3)))
    with use_backend(backend):
        (row,) = search(flat, beam_width=2, max_len=3, eos=None, n_best=2)
    assert [h.tokens.tolist() for h in row] == [[0, 0, 0], [0, 0, 1]]


def test_slightly_positive_log_probs_count_as_zero():
    t = np.zeros((3, 2))
    t[:, 1] = -np.inf
    t[2, 0] = 1e-16  # a log_softmax's rounding
    t = one_table(1, t)
    (h,) = search(t, beam_width=2, max_len=2, eos=None)[0]
    assert h.log_prob == 0.0 and h.tokens.tolist() == [0, 0]
    g = decode.greedy(markov_step(t), start(1), max_len=2, bos=2)
    assert g.log_probs[0] == 0.0


# ---------------------------------------------------------------- the state follows the beams


class Carry(NamedTuple):
    history: np.ndarray  # [n, t] int32: the tokens before prev (not a kernel dtype: NumPy gathers it)
    steps: np.ndarray  # [n] int64
    hidden: np.ndarray  # [n, 3] float32


def history_log_probs(history: np.ndarray, row: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A non-Markov model: log P(next | every token so far, the batch row), [n, 7]."""
    feats = np.stack([history.sum(1) % 3, (history == 2).sum(1), history.shape[1] + 0 * row, row % 2,
                      np.ones_like(row)], 1).astype(float)  # fmt: skip
    z = 0.7 * feats @ weights
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def test_state_follows_the_beams():
    """A nested state of several dtypes through a non-Markov model: each hypothesis's log-prob, recomputed
    from its tokens, must be what the search reports, and per-row data must stay with its row."""
    weights = np.random.default_rng(4).standard_normal((5, 7))
    seen = []

    def step(prev, state):
        carry, (flags, rows10, nothing) = state["carry"], state["extra"]
        assert nothing is None and flags.dtype == bool and carry.hidden.dtype == np.float32
        first = carry.steps[0] == 0
        assert np.all(carry.steps == carry.steps[0]) and (np.all(prev == 7) if first else not np.any(prev == 7))
        history = carry.history if first else np.concatenate([carry.history, prev[:, None].astype(np.int32)], 1)
        seen.append(len(prev))
        new = Carry(history, carry.steps + 1, carry.hidden + 1)
        return history_log_probs(history, rows10 // 10, weights), {"carry": new, "extra": (flags, rows10, None)}

    N = 4
    init = {"carry": Carry(np.zeros((N, 0), np.int32), np.zeros(N, np.int64), np.zeros((N, 3), np.float32)),
            "extra": (np.ones((N, 2), bool), np.arange(N) * 10, None)}  # fmt: skip
    res = decode.beam_search(step, init, beam_width=3, max_len=5, bos=7, eos=0, length_penalty=0.5, n_best=3)
    for r, row in enumerate(res):
        assert row
        for h in row:
            total = 0.0
            for t in range(h.length):
                total += history_log_probs(h.tokens[None, :t], np.array([r]), weights)[0, h.tokens[t]]
            assert h.log_prob == pytest.approx(total, rel=1e-12, abs=1e-12)
    assert seen[0] == N * 3 and all(n % 3 == 0 for n in seen)


def test_bos_per_row_and_batch_size():
    tables = markov(seed=5, rows=1)[0, 0]
    step = lambda prev, state: (tables[prev], state)  # noqa: E731
    both = decode.beam_search(step, None, beam_width=2, max_len=4, bos=[5, 2], eos=0)
    alone = [decode.beam_search(step, None, beam_width=2, max_len=4, bos=b, eos=0, batch_size=1)[0] for b in (5, 2)]
    assert both == alone
    assert decode.beam_search(step, None, beam_width=2, max_len=4, bos=0, batch_size=0) == []
    g = decode.greedy(step, None, max_len=3, bos=np.array([5, 1, 2]))
    assert g.tokens.shape == (3, 3)


# ---------------------------------------------------------------- bad input


def _ok_step(prev, state):
    return np.log(np.full((len(prev), 3), 1 / 3)), state


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        (dict(beam_width=0), ValueError, "beam_width must be >= 1"),
        (dict(beam_width=2.0), TypeError, "beam_width must be an int"),
        (dict(n_best=3), ValueError, "n_best must lie in [1, beam_width] = [1, 2], got 3"),
        (dict(n_best=0), ValueError, "n_best must be >= 1"),
        (dict(max_len=0), ValueError, "max_len must be >= 1"),
        (dict(eos=3), ValueError, "eos must lie in [0, V) = [0, 3)"),
        (dict(eos=-1), ValueError, "eos must be >= 0"),
        (dict(length_penalty=-0.5), ValueError, "length_penalty must be >= 0.0"),
        (dict(length_penalty=float("nan")), ValueError, "length_penalty must not be NaN"),
        (dict(length_penalty=float("inf")), ValueError, "length_penalty must be finite"),
        (dict(bos=[[0]]), ValueError, "bos must be an int or an integer array of shape (N,)"),
        (dict(bos=0.5), TypeError, "bos must be an int or an integer array"),
        (dict(bos=[0, 1, 2]), ValueError, "init_state, bos and batch_size disagree on the batch size"),
        (dict(batch_size=3), ValueError, "init_state, bos and batch_size disagree on the batch size"),
        (dict(init_state=None), ValueError, "batch_size is needed"),
        (dict(init_state=[np.zeros(2), np.zeros(3)]), ValueError, "must share their first dimension"),
        (dict(init_state={"a": 3}), TypeError, "init_state['a'] must be a NumPy array (or CuPy), None, or"),
        (dict(init_state=np.array(1.0)), ValueError, "init_state must have a first dimension"),
    ],
)
@pytest.mark.parametrize("which", ["beam", "greedy"])
def test_bad_arguments(kwargs, exc, message, which):
    args = dict(init_state=np.zeros(2), beam_width=2, max_len=3, bos=0, eos=0, n_best=1)
    args.update(kwargs)
    if which == "greedy":
        if {"beam_width", "n_best", "length_penalty"} & set(kwargs):
            return
        for k in ("beam_width", "n_best"):
            args.pop(k)
    fn = decode.beam_search if which == "beam" else decode.greedy
    init = args.pop("init_state")
    with pytest.raises(exc) as err:
        fn(_ok_step, init, **args)
    assert message in str(err.value)


BAD_STEPS = {
    "not a pair": (lambda p, s: np.zeros((len(p), 3)), TypeError, "step_fn must return a pair (log_probs, state)"),
    "int log_probs": (lambda p, s: (np.zeros((len(p), 3), int), s), TypeError, "log_probs of dtype float32 or float64"),
    "rows": (lambda p, s: (np.zeros((len(p) + 1, 3)), s), ValueError, "step_fn must return log_probs of shape (N, V)"),
    "1-d": (lambda p, s: (np.zeros(len(p)), s), ValueError, "step_fn must return log_probs of shape (N, V)"),
    "no V": (lambda p, s: (np.zeros((len(p), 0)), s), ValueError, "step_fn must return log_probs of shape (N, V)"),
    "NaN": (lambda p, s: (np.full((len(p), 3), np.nan), s), ValueError, "step_fn's log_probs at step 0"),
    "positive": (lambda p, s: (np.full((len(p), 3), 0.5), s), ValueError, "got 0.5 at log_probs[0, 0]"),
    "state rows": (lambda p, s: (np.zeros((len(p), 3)), np.zeros(1)), ValueError, "state of shape (1,) at step 0"),
}


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("case", sorted(BAD_STEPS))
def test_bad_step_fn(backend, case):
    step, exc, message = BAD_STEPS[case]
    with use_backend(backend):
        for fn, kw in ((decode.beam_search, dict(beam_width=2)), (decode.greedy, {})):
            with pytest.raises(exc) as err:
                fn(step, np.zeros(2), max_len=3, bos=0, eos=0, **kw)
            assert message in str(err.value), (fn.__name__, str(err.value))


def test_v_must_not_change():
    calls = []

    def step(prev, state):
        calls.append(1)
        return np.log(np.full((len(prev), 3 + len(calls)), 0.1)), state

    with pytest.raises(ValueError, match=r"log_probs of shape \(N, V\) = \(4, 4\)"):
        decode.beam_search(step, np.zeros(2), beam_width=2, max_len=3, bos=0)
