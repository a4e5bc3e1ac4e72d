"""seqcore.metrics.squad: SQuAD v1.1 answer normalisation, exact match and token F1 on hand-worked examples, the
best of several references, squad_evaluate on both input forms, missing predictions, and bad input."""

from __future__ import annotations

import warnings

import pytest

from seqcore.metrics.squad import exact_match, f1, normalize_answer, squad_evaluate


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The  Cat!", "cat"),
        ("an apple", "apple"),
        ("A", ""),
        ("the", ""),
        ("Theory of the atom", "theory of atom"),  # articles only as whole words
        ("anand a banana", "anand banana"),
        ("U.S.A.", "usa"),  # punctuation inside words goes, joining the pieces
        ("state-of-the-art", "stateoftheart"),  # punctuation goes before the articles, so 'the' is no word here
        ("rock & roll", "rock roll"),
        ("  \t1,000\n  dollars ", "1000 dollars"),
        ("the-cat", "thecat"),
        ("«Élan» — Über", "«élan» — über"),  # only ASCII punctuation is removed
        ("", ""),
    ],
)
def test_normalize_answer(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match():
    assert exact_match("The Cat.", "cat") == 1.0
    assert exact_match("the big cat", "a cat") == 0.0
    assert exact_match("Denver Broncos", ["Carolina Panthers", "denver broncos!"]) == 1.0
    assert exact_match("", ["the"]) == 1.0  # both normalise to nothing
    assert isinstance(exact_match("x", "x"), float)


def test_f1_by_hand():
    # "big cat" vs "cat": 1 shared token, precision 1/2, recall 1
    assert f1("the big cat", "a cat") == pytest.approx(2 * (1 / 2 * 1) / (1 / 2 + 1))
    assert f1("the big cat", "a cat") == pytest.approx(2 / 3)
    assert f1("cat", "cat") == 1.0
    assert f1("dog", "cat") == 0.0
    # tokens count with multiplicity: pred "x x y" vs truth "x y y" share one x and one y, precision 2/3, recall 2/3
    assert f1("x x y", "x y y") == pytest.approx(2 / 3)
    # pred "x x" vs truth "x": shared 1, precision 1/2, recall 1
    assert f1("x x", "x") == pytest.approx(2 / 3)
    # v1.1: an answer that normalises to nothing scores 0 even against an empty reference
    assert f1("the", "a") == 0.0 and f1("", "") == 0.0


def test_best_of_several_references():
    refs = ["Saint Bernadette Soubirous", "a copper statue of Christ", "the Main Building"]
    assert f1("copper statue", refs) == pytest.approx(2 * (1 * 0.5) / 1.5)  # 2 of 2 predicted, 2 of 4 true
    assert f1("Bernadette", refs) == pytest.approx(2 * (1 * 1 / 3) / (1 + 1 / 3))
    assert f1("main building", refs) == 1.0 and exact_match("main building", refs) == 1.0
    assert f1("x", ["y", "x z", "x"]) == 1.0  # the best, not the first or the mean


DATASET = {
    "version": "1.1",
    "data": [
        {
            "title": "Cats",
            "paragraphs": [
                {
                    "context": "The big cat sat on a mat.",
                    "qas": [
                        {"id": "q1", "question": "Who sat?", "answers": [{"text": "a cat", "answer_start": 4}]},
                        {
                            "id": "q2",
                            "question": "Where?",
                            "answers": [{"text": "on a mat", "answer_start": 16}, {"text": "mat", "answer_start": 21}],
                        },
                    ],
                }
            ],
        },
        {
            "title": "Dogs",
            "paragraphs": [{"context": "Dogs bark.", "qas": [{"id": "q3", "answers": [{"text": "bark"}]}]}],
        },
    ],
}
REFERENCES = {"q1": ["a cat"], "q2": ["on a mat", "mat"], "q3": ["bark"]}


def test_squad_evaluate_both_forms():
    predictions = {"q1": "the big cat", "q2": "the mat", "q3": "barking"}
    # q1: EM 0, F1 2/3; q2: "the mat" -> "mat" equals the second reference: EM 1, F1 1; q3: EM 0, F1 0
    expected_em = 100.0 * 1 / 3
    expected_f1 = 100.0 * (2 / 3 + 1.0 + 0.0) / 3
    for source in (DATASET, REFERENCES):
        scores = squad_evaluate(source, predictions)
        assert set(scores) == {"exact_match", "f1"}
        assert scores["exact_match"] == pytest.approx(expected_em)
        assert scores["f1"] == pytest.approx(expected_f1)
    assert squad_evaluate(DATASET, predictions) == squad_evaluate(REFERENCES, predictions)
    perfect = {"q1": "A cat", "q2": "mat.", "q3": "Bark"}
    assert squad_evaluate(DATASET, perfect) == {"exact_match": 100.0, "f1": 100.0}
    # references given as one string, and predictions for unknown ids, are fine
    assert squad_evaluate({"q": "Paris"}, {"q": "paris", "other": "x"}) == {"exact_match": 100.0, "f1": 100.0}


def test_missing_predictions_count_zero():
    with pytest.warns(UserWarning, match="2 of 3 questions have no prediction"):
        scores = squad_evaluate(DATASET, {"q2": "mat"})
    assert scores == pytest.approx({"exact_match": 100 / 3, "f1": 100 / 3})
    with pytest.warns(UserWarning, match="3 of 3"):
        assert squad_evaluate(REFERENCES, {}) == {"exact_match": 0.0, "f1": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing missing: no warning
        squad_evaluate(REFERENCES, {"q1": "", "q2": "", "q3": ""})


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: exact_match("cat", []), ValueError, "ground_truths is empty"),
        (lambda: f1("cat", [None]), TypeError, r"ground_truths\[0\] must be an answer string"),
        (lambda: f1(None, ["cat"]), TypeError, "prediction must be an answer string"),
        (lambda: normalize_answer(3), TypeError, "s must be a string"),
        (lambda: squad_evaluate({}, {}), ValueError, "no questions"),
        (lambda: squad_evaluate({"data": []}, {}), ValueError, "no questions"),
        (lambda: squad_evaluate({"q": []}, {"q": "x"}), ValueError, "question 'q'"),
        (lambda: squad_evaluate({"q": ["x"]}, {"q": 5}), TypeError, r"predictions\['q'\]"),
        (lambda: squad_evaluate({"q": ["x"]}, [("q", "x")]), TypeError, "predictions must be a mapping"),
        (lambda: squad_evaluate([1, 2], {}), TypeError, "dataset_or_references must be"),
        (lambda: squad_evaluate({"data": [{"paragraphs": [{"qas": [{"id": "q"}]}]}]}, {}), ValueError, "'answers'"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
