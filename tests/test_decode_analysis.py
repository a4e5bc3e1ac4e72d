"""seqcore.decode.error_analysis: whose fault is a wrong output, the beam search's or the model's?"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqcore import decode
from test_decode import EOS, V, enumerate_outputs, markov, markov_step


class TableScorer:
    """A hand-made model over strings: P(y | x) from a table, and a 'beam search' that returns what it is told."""

    def __init__(self, probs: dict[str, dict[str, float]], beam_output: dict[str, str], eos: bool = False):
        self.probs, self.beam_output, self.eos = probs, beam_output, eos
        self.calls: list[tuple[int, float]] = []

    def log_prob(self, x, y):
        return np.array([math.log(self.probs[a][b]) for a, b in zip(x, y)])

    def beam_search(self, x, *, beam_width, length_penalty):
        self.calls.append((beam_width, length_penalty))
        return [self.beam_output[a] for a in x]


class MarkovScorer:
    """Row x of a batch of Markov models; outputs are token tuples, EOS included (so Ty = len(y))."""

    def __init__(self, tables: np.ndarray, max_len: int = 6):
        self.tables, self.max_len = tables, max_len

    def log_prob(self, x, y):
        out = []
        for row, seq in zip(x, y):
            lp, prev = 0.0, V
            for t, tok in enumerate(seq):
                lp, prev = lp + self.tables[row, t, prev, tok], tok
            out.append(lp)
        return np.array(out)

    def beam_search(self, x, *, beam_width, length_penalty):
        rows = np.asarray(x)
        res = decode.beam_search(markov_step(self.tables), (rows, np.zeros(len(rows), np.int64)),
                                 beam_width=beam_width, max_len=self.max_len, bos=V, eos=EOS,
                                 length_penalty=length_penalty)  # fmt: skip
        return [tuple(r[0].tokens.tolist()) for r in res]


def test_model_at_fault():
    model = TableScorer({"x": {"right": 0.3, "wrong": 0.6}}, {"x": "wrong"})
    result = decode.error_analysis(model, "x", "right", beam_width=4, length_penalty=0.0)
    assert result.verdict == decode.MODEL
    (r,) = result.records
    assert (r.x, r.y_star, r.y_hat) == ("x", "right", "wrong")
    assert r.log_p_star == pytest.approx(math.log(0.3)) and r.log_p_hat == pytest.approx(math.log(0.6))
    assert model.calls == [(4, 0.0)]
    assert result.counts == {"correct": 0, "beam search": 0, "model": 1}


def test_beam_at_fault_and_correct():
    model = TableScorer({"x": {"right": 0.5, "wrong": 0.2}, "y": {"ok": 0.9}}, {"x": "wrong", "y": "ok"})
    assert decode.error_analysis(model, "x", "right").verdict == decode.BEAM_SEARCH
    assert decode.error_analysis(model, "y", "ok").verdict == decode.CORRECT


def test_the_objective_is_length_normalised():
    """P(y*) = .1 over 4 tokens against P(y^) = .2 over 1: y^ wins on log P, y* per token (alpha = 1)."""
    model = TableScorer({"x": {"abcd": 0.1, "e": 0.2}}, {"x": "e"})
    assert decode.error_analysis(model, "x", "abcd", length_penalty=0.0).verdict == decode.MODEL
    r = decode.error_analysis(model, "x", "abcd", length_penalty=1.0).records[0]
    assert r.verdict == decode.BEAM_SEARCH
    assert r.objective_star == pytest.approx(math.log(0.1) / 4) and r.objective_hat == pytest.approx(math.log(0.2))

    class WithEos(TableScorer):
        def output_length(self, y):  # the model appends an EOS the strings do not show
            return len(y) + 1

    r = decode.error_analysis(WithEos(model.probs, model.beam_output), "x", "abcd", length_penalty=1.0).records[0]
    assert r.objective_star == pytest.approx(math.log(0.1) / 5) and r.objective_hat == pytest.approx(math.log(0.2) / 2)


def test_greedy_beam_on_a_markov_model_is_at_fault():
    """Beam width 1 misses the best output of some Markov models; a beam wide enough finds it."""
    found = False
    for seed in range(40):
        tables = markov(seed=seed, concentration=0.3)
        best = enumerate_outputs(tables[0], 6, EOS, 0.7)[0][1]
        model = MarkovScorer(tables)
        narrow = decode.error_analysis(model, 0, best, beam_width=1, length_penalty=0.7)
        if narrow.verdict == decode.CORRECT:
            continue
        assert narrow.verdict == decode.BEAM_SEARCH  # the model ranks y* first: only the search can be at fault
        r = narrow.records[0]
        assert r.objective_star > r.objective_hat and r.y_hat != best
        wide = decode.error_analysis(model, 0, best, beam_width=4**5, length_penalty=0.7)
        assert wide.verdict == decode.CORRECT
        found = True
        break
    assert found


def test_counts_over_a_data_set():
    tables = markov(seed=11, rows=30, concentration=0.3)
    model = MarkovScorer(tables)
    xs = list(range(30))
    # for the first 20 rows the right answer is the model's best; for the last 10, a poor output the model dislikes
    y_star = [enumerate_outputs(tables[r], 6, EOS, 0.7)[0][1] for r in xs[:20]]
    y_star += [enumerate_outputs(tables[r], 6, EOS, 0.7)[-1][1] for r in xs[20:]]
    result = decode.error_analysis(model, xs, y_star, beam_width=1, length_penalty=0.7)
    c = result.counts
    assert sum(c.values()) == 30 and len(result.records) == 30
    assert all(r.verdict == decode.MODEL for r in result.records[20:])
    assert c["model"] >= 10 and c["beam search"] >= 1 and c["correct"] >= 1
    assert result.beam_errors == [r for r in result.records if r.verdict == "beam search"]
    assert len(result.model_errors) == c["model"]
    text = result.summary()
    assert "error analysis of 30 examples (beam width 1, length penalty 0.7)" in text
    for verdict, n in c.items():
        assert f"{verdict:<12} {n:>6}" in text
    assert "errors" in text and str(result) == text
    with pytest.raises(ValueError, match="verdict is the verdict of one example"):
        _ = result.verdict
    wide = decode.error_analysis(model, xs, y_star, beam_width=64, length_penalty=0.7)
    assert wide.counts["beam search"] < c["beam search"]


def test_one_example_given_as_a_list():
    model = TableScorer({("a", "b"): {"ab": 0.5}}, {})
    model.log_prob = lambda x, y: np.array([math.log(0.5)] * len(x))
    model.beam_search = lambda x, beam_width, length_penalty: ["ab"] * len(x)
    assert decode.error_analysis(model, ["a", "b"], "ab", batch=False).verdict == decode.CORRECT
    assert decode.error_analysis(model, [], []).counts == {"correct": 0, "beam search": 0, "model": 0}
    assert "error analysis of 0 examples" in decode.error_analysis(model, [], []).summary()


def test_bad_input():
    model = TableScorer({"x": {"r": 0.5, "w": 0.4}}, {"x": "w"})
    with pytest.raises(TypeError, match="model must have a log_prob method"):
        decode.error_analysis(object(), "x", "r")
    with pytest.raises(ValueError, match="x and y_star must hold as many examples"):
        decode.error_analysis(model, ["x"], ["r", "w"])
    with pytest.raises(TypeError, match="x and y_star must be lists or tuples"):
        decode.error_analysis(model, ["x"], "r", batch=True)
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        decode.error_analysis(model, "x", "r", beam_width=0)
    with pytest.raises(ValueError, match="length_penalty must be >= 0"):
        decode.error_analysis(model, "x", "r", length_penalty=-1)
    broken = TableScorer(model.probs, model.beam_output)
    broken.log_prob = lambda x, y: np.zeros(3)
    with pytest.raises(ValueError, match=r"model.log_prob must return one log-prob per example, shape \(1,\)"):
        decode.error_analysis(broken, "x", "r")
    broken.log_prob = lambda x, y: np.array([0.5])
    with pytest.raises(ValueError, match="model.log_prob must return log-probabilities"):
        decode.error_analysis(broken, "x", "r")
    broken = TableScorer(model.probs, model.beam_output)
    broken.beam_search = lambda x, beam_width, length_penalty: []
    with pytest.raises(ValueError, match="model.beam_search must return one output per input"):
        decode.error_analysis(broken, "x", "r")
    assert isinstance(model, decode.Scorer)
