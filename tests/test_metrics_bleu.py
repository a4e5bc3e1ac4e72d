"""seqcore.metrics.bleu / sentence_bleu against sacrebleu.corpus_bleu / sentence_bleu: equal scores and statistics
on seeded random corpora (every smoothing, case, tokenizer, 1-4 reference streams, effective order), hand-made
edge cases, variable reference counts, and the argument errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import seqcore
from bleu_helpers import make_corpus
from helpers import ALL_BACKENDS
from seqcore import use_backend
from seqcore.metrics import BLEUScore, bleu, score_from_stats, sentence_bleu, sentence_bleu_scores

sacrebleu = pytest.importorskip("sacrebleu")


def assert_same_score(ours: BLEUScore, theirs, what: str = "") -> None:
    """Equal in every field sacrebleu reports, exactly (the arithmetic is the same operations)."""
    assert ours.score == theirs.score, f"{what}: score {ours.score!r} != {theirs.score!r}"
    assert ours.counts == theirs.counts, what
    assert ours.totals == theirs.totals, what
    assert ours.precisions == theirs.precisions, what
    assert ours.bp == theirs.bp, what
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len), what
    assert ours.ratio == theirs.ratio, what
    assert str(ours) == theirs.format(), what
    assert abs(ours.score - theirs.score) <= 1e-9


# ---------------------------------------------------------------- corpus BLEU


SMOOTHING = [("exp", None), ("floor", None), ("floor", 0.3), ("add-k", None), ("add-k", 2), ("add-k", 0.5),
             ("none", None)]  # fmt: skip


@pytest.mark.parametrize("tokenize", ["13a", "none"])
@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("effective", [False, True])
@pytest.mark.parametrize(("smooth_method", "smooth_value"), SMOOTHING)
@pytest.mark.parametrize("R", [1, 2, 3, 4])
def test_corpus_bleu_equals_sacrebleu(R, smooth_method, smooth_value, effective, lowercase, tokenize):
    hyps, refs = make_corpus(seed=R * 7 + len(smooth_method), S=40, R=R)
    options = dict(smooth_method=smooth_method, smooth_value=smooth_value, lowercase=lowercase, tokenize=tokenize,
                   use_effective_order=effective)  # fmt: skip
    ours = bleu(hyps, refs, **options)
    theirs = sacrebleu.corpus_bleu(hyps, refs, **options)
    assert_same_score(ours, theirs, f"R={R} {options}")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("seed", range(3))
def test_corpus_bleu_on_every_backend(backend, seed):
    hyps, refs = make_corpus(seed=100 + seed, S=60, R=2)
    with use_backend(backend):
        for lowercase in (False, True):
            ours = bleu(hyps, refs, lowercase=lowercase)
            assert_same_score(ours, sacrebleu.corpus_bleu(hyps, refs, lowercase=lowercase), backend)


@pytest.mark.parametrize("R", [2, 3])
def test_variable_number_of_references(R):
    hyps, refs = make_corpus(seed=11, S=50, R=R, none_rate=0.4)
    ours = bleu(hyps, refs)
    assert_same_score(ours, sacrebleu.corpus_bleu(hyps, refs))
    assert "nrefs:var" in ours.signature


@pytest.mark.parametrize("order", [1, 2, 3, 5, 6])
def test_max_ngram_order(order):
    hyps, refs = make_corpus(seed=5, S=30, R=2)
    metric = sacrebleu.metrics.BLEU(max_ngram_order=order)
    theirs = metric.corpus_score(hyps, refs)
    assert_same_score(bleu(hyps, refs, max_ngram_order=order), theirs, f"order {order}")


def test_a_large_corpus_threads_and_matches(monkeypatch):
    """Enough text for the native kernel to start threads: the same statistics with 1 and 2 threads."""
    hyps, refs = make_corpus(seed=3, S=3000, R=2)
    threads = seqcore.get_num_threads()
    try:
        seqcore.set_num_threads(1)
        one = bleu(hyps, refs)
        seqcore.set_num_threads(2)
        two = bleu(hyps, refs)
    finally:
        seqcore.set_num_threads(threads)
    assert_same_score(one, sacrebleu.corpus_bleu(hyps, refs))
    assert str(one) == str(two) and one.counts == two.counts


# ---------------------------------------------------------------- hand-made edge cases

EDGE_CASES = {
    "empty hypotheses": (["", "", ""], [["a b c", "d", ""]]),
    "all empty": (["", ""], [["", ""]]),
    "empty reference": (["a b c d e"], [[""]]),
    "shorter than 4 tokens": (["a b", "c"], [["a b", "c"]]),
    "zero matches": (["x y z w v"], [["a b c d e"]]),
    "only unigram matches": (["a x b y c"], [["a b c d e"]]),
    "hypothesis longer than reference": (["the cat sat on the mat and then some more"], [["the cat sat"]]),
    "hypothesis shorter than reference": (["the cat"], [["the cat sat on the mat today"]]),
    "identical": (["The cat, it sat (on the mat)."], [["The cat, it sat (on the mat)."]]),
    "repeated words are clipped": (["the the the the the the the"], [["the cat is on the mat"]]),
    "tie between reference lengths": (["a b c d"], [["a b c"], ["a b c d e"]]),
    "multi-reference max counts": (["a a a b b"], [["a b b x"], ["a a y"]]),
    "whitespace only": (["   \t ", "\u3000"], [["\u00a0", " "]]),
    "entities and skipped": (["&amp;lt;b&amp;gt; <skipped> 3.14-x 1,000.5"], [["<b> 3.14 - x 1,000.5"]]),
    "tokenized period": (["the cat sat ."], [["the cat sat."]]),
}


@pytest.mark.parametrize("effective", [False, True])
@pytest.mark.parametrize("smooth_method", ["exp", "floor", "add-k", "none"])
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases(name, smooth_method, effective):
    hyps, refs = EDGE_CASES[name]
    for tokenize in ("13a", "none"):
        options = dict(smooth_method=smooth_method, use_effective_order=effective, tokenize=tokenize)
        assert_same_score(bleu(hyps, refs, **options), sacrebleu.corpus_bleu(hyps, refs, **options), name)
        for k, hyp in enumerate(hyps):
            sentence_refs = [stream[k] for stream in refs]
            ours = sentence_bleu(hyp, sentence_refs, smooth_method=smooth_method, tokenize=tokenize)
            theirs = sacrebleu.sentence_bleu(hyp, sentence_refs, smooth_method=smooth_method, tokenize=tokenize)
            assert_same_score(ours, theirs, f"{name} sentence {k}")


def test_the_readme_example():
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]  # fmt: skip
    ours = bleu(hyps, refs)
    assert str(ours) == "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
    assert_same_score(ours, sacrebleu.corpus_bleu(hyps, refs))


def test_empty_corpus_scores_zero():
    """sacrebleu raises IndexError on an empty corpus; seqcore scores it 0 with empty statistics."""
    for refs in ([], [[]], [[], []]):
        score = bleu([], refs)
        assert score.score == 0.0 and score.sys_len == score.ref_len == 0 and score.counts == [0, 0, 0, 0]
        assert str(score) == "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 0.000 hyp_len = 0 ref_len = 0)"


def test_lone_surrogates_and_odd_strings():
    hyps = ["a \ud800 b", "x\x00y z", "\U0001f600 \U0001f600"]
    refs = [["a \ud800 b", "x\x00y", "\U0001f600"]]
    assert_same_score(bleu(hyps, refs), sacrebleu.corpus_bleu(hyps, refs))


def test_inputs_may_be_tuples_and_numpy_strings():
    hyps, refs = make_corpus(seed=2, S=10, R=1)
    ours = bleu(tuple(np.array(hyps, dtype=object).astype(str)), (tuple(refs[0]),))
    assert_same_score(ours, sacrebleu.corpus_bleu(hyps, refs))


def test_tokenized_hypotheses_warn_unless_forced():
    hyps = ["the cat sat ."] * 100
    refs = [["the cat sat."] * 100]
    with pytest.warns(UserWarning, match="tokenized period"):
        bleu(hyps, refs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bleu(hyps, refs, force=True)
        bleu(hyps[:99], refs[0][:99] and [refs[0][:99]])


# ---------------------------------------------------------------- sentence BLEU


@pytest.mark.parametrize(("smooth_method", "smooth_value"), SMOOTHING)
@pytest.mark.parametrize("effective", [True, False])
def test_sentence_bleu_equals_sacrebleu(smooth_method, smooth_value, effective):
    hyps, refs = make_corpus(seed=21, S=40, R=3, none_rate=0.3)
    options = dict(smooth_method=smooth_method, smooth_value=smooth_value, use_effective_order=effective)
    batch = sentence_bleu_scores(hyps, refs, **options)
    for k, hyp in enumerate(hyps):
        sentence_refs = [stream[k] for stream in refs]
        theirs = sacrebleu.sentence_bleu(hyp, sentence_refs, **options)
        assert_same_score(sentence_bleu(hyp, sentence_refs, **options), theirs, f"sentence {k}")
        assert_same_score(batch[k], theirs, f"batch sentence {k}")


def test_sentence_bleu_defaults_are_sacrebleus():
    ours = sentence_bleu("a short one", ["a short reference"])
    theirs = sacrebleu.sentence_bleu("a short one", ["a short reference"])
    assert_same_score(ours, theirs)
    assert "eff:yes" in ours.signature and ours.score > 0  # effective order: no 4-grams does not mean 0


def test_format_and_signature():
    score = bleu(["The cat sat on the mat."], [["The cat is on the mat."]], smooth_method="floor", lowercase=True)
    assert score.signature.startswith("nrefs:1|case:lc|eff:no|tok:13a|smooth:floor[0.10]|version:seqcore-")
    assert score.format(score_only=True) == f"{score.score:.2f}"
    assert score.format(width=4).startswith(f"BLEU = {score.score:.4f} ")
    assert score.format(signature=score.signature).startswith(f"BLEU|{score.signature} = ")
    doc = json.loads(score.format(signature=score.signature, is_json=True))
    assert doc["name"] == "BLEU" and doc["score"] == round(score.score, 2) and doc["tok"] == "13a"
    assert doc["smooth"] == "floor[0.10]" and doc["verbose_score"] == score.verbose


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bleu(["a", "b"], [["a"]]), ValueError, r"references\[0\] has 1 segments but there are 2 hypotheses"),
        (lambda: bleu(["a"], [["a"], ["a", "b"]]), ValueError, r"references\[1\] has 2 segments"),
        (lambda: bleu(["a"], ["a"]), TypeError, r"got a list of str; with one reference per hypothesis, pass \["),
        (lambda: bleu("a b", [["a b"]]), TypeError, "hypotheses must be a list of str"),
        (lambda: bleu(["a", 3], [["a", "b"]]), TypeError, r"hypotheses\[1\] must be a str, got int"),
        (lambda: bleu(["a", None], [["a", "b"]]), TypeError, r"hypotheses\[1\] must be a str, got NoneType"),
        (lambda: bleu(["a", "b"], [["a", b"b"]]), TypeError, r"references\[0\]\[1\] must be a str or None, got bytes"),
        (lambda: bleu(["a"], [[None]]), ValueError, r"hypothesis 0 has no reference"),
        (lambda: bleu(["a"], []), ValueError, "at least one reference stream"),
        (lambda: bleu(["a"], None), TypeError, "references must be a list of reference streams"),
        (lambda: bleu(["a"], [["a"]], smooth_method="exp2"), ValueError, "smooth_method must be one of 'none', "),
        (lambda: bleu(["a"], [["a"]], smooth_value="1"), TypeError, "smooth_value must be a number or None, got str"),
        (lambda: bleu(["a"], [["a"]], smooth_value=-1), ValueError, "smooth_value must be a finite number >= 0"),
        (lambda: bleu(["a"], [["a"]], tokenize="intl"), ValueError, "tokenize must be one of '13a', 'none' .*'intl'"),
        (lambda: bleu(["a"], [["a"]], tokenize=13), ValueError, "tokenize must be one of"),
        (lambda: bleu(["a"], [["a"]], max_ngram_order=0), ValueError, r"max_ngram_order must lie in \[1, 1024\]"),
        (lambda: bleu(["a"], [["a"]], max_ngram_order=2.0), TypeError, "max_ngram_order must be an int"),
        (lambda: sentence_bleu(["a"], ["a"]), TypeError, "hypothesis must be a str, got list"),
        (lambda: sentence_bleu("a", "a"), TypeError, "references must be a list of str"),
        (lambda: sentence_bleu("a", [None]), ValueError, "references must hold at least one str"),
        (lambda: sentence_bleu("a", []), ValueError, "references must hold at least one str"),
        (lambda: sentence_bleu("a", ["a", 1]), TypeError, r"references\[1\] must be a str or None, got int"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_tokenize_none_default_and_sacrebleu_spelling():
    hyps, refs = make_corpus(seed=9, S=10, R=1)
    assert_same_score(bleu(hyps, refs, tokenize=None), sacrebleu.corpus_bleu(hyps, refs, tokenize=None))


@pytest.mark.parametrize(("smooth_method", "smooth_value"), SMOOTHING)
@pytest.mark.parametrize("effective", [False, True])
def test_score_from_stats_is_compute_bleu(smooth_method, smooth_value, effective):
    """Random statistics (zeros included) through both formulas: every field equal."""
    rng = np.random.default_rng(len(smooth_method) + effective)
    for _ in range(200):
        N = int(rng.integers(1, 6))
        sys_len, ref_len = (int(x) for x in rng.integers(0, 40, 2))
        totals = [max(0, sys_len - n) for n in range(N)]
        matches = [int(rng.integers(0, t + 1)) if rng.random() < 0.8 else 0 for t in totals]
        stats = [sys_len, ref_len, *matches, *totals]
        ours = score_from_stats(stats, smooth_method=smooth_method, smooth_value=smooth_value,
                                use_effective_order=effective, max_ngram_order=N)  # fmt: skip
        theirs = sacrebleu.metrics.BLEU.compute_bleu(list(matches), list(totals), sys_len, ref_len, smooth_method,
                                                     smooth_value, effective, N)  # fmt: skip
        assert_same_score(ours, theirs, f"{stats}")
