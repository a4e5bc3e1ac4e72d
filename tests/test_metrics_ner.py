"""seqcore.metrics.ner: entity-level scores on hand-made cases with known answers, zero divisions, bad input, and
equal to seqeval (when it is installed) on seeded random tag sequences: entities, precision/recall/F1 for every
average and zero_division, the default and strict modes (IOB2, IOE2, IOBES, BILOU, detected), the report."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from seqcore.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
    get_entities,
    ner_scores,
    precision_score,
    recall_score,
)
from seqcore.metrics.ner import UndefinedMetricWarning

# seqeval's own documentation example: MISC is predicted one token too early, PER is right
TRUE = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
PRED = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
# two MISC (one found), one PER (found), and one predicted MISC too long
TRUE2 = [["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"], ["B-PER", "I-PER", "O"]]
PRED2 = [["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]


# ---------------------------------------------------------------- hand-made cases


def test_get_entities_one_sentence():
    assert get_entities(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    assert get_entities(["O", "O"]) == [] and get_entities([]) == []
    # the lenient reading: an I- after O or after another type opens an entity, a type change closes one
    assert get_entities(["I-PER", "I-PER", "I-LOC", "B-LOC", "E-LOC", "S-ORG"]) == [
        ("PER", 0, 1),
        ("LOC", 2, 2),
        ("LOC", 3, 4),
        ("ORG", 5, 5),
    ]
    assert get_entities(["PER-B", "PER-I", "O"], suffix=True) == [("PER", 0, 1)]


def test_get_entities_sentences_are_joined_with_an_o():
    # positions index the stream "B-PER O | O B-LOC I-LOC O": the second sentence starts at 2 + 1
    sentences = [["B-PER", "O"], ["O", "B-LOC", "I-LOC"]]
    assert get_entities(sentences) == [("PER", 0, 0), ("LOC", 4, 5)]
    # an entity open at a sentence's end is closed there, not continued by the next sentence's I-
    assert get_entities([["B-PER"], ["I-PER"]]) == [("PER", 0, 0), ("PER", 2, 2)]
    assert get_entities([["B-PER"], ["I-PER"]], scheme="IOB2") == [("PER", 0, 0)]
    assert get_entities(sentences, scheme="iob2") == [("PER", 0, 0), ("LOC", 4, 5)]


def test_get_entities_strict():
    tags = ["I-PER", "B-PER", "I-PER", "I-LOC", "B-LOC"]
    assert get_entities(tags) == [("PER", 0, 0), ("PER", 1, 2), ("LOC", 3, 3), ("LOC", 4, 4)]
    assert get_entities(tags, scheme="IOB2") == [("PER", 1, 2), ("LOC", 4, 4)]  # a stray I- is no entity
    iobes = ["B-PER", "I-PER", "E-PER", "B-LOC", "I-LOC", "O", "S-ORG", "I-ORG", "E-ORG"]
    assert get_entities(iobes, scheme="IOBES") == [("PER", 0, 2), ("ORG", 6, 6)]  # B-LOC I-LOC never ends
    assert get_entities(["I-PER", "E-PER", "E-LOC", "O"], scheme="IOE2") == [("PER", 0, 1), ("LOC", 2, 2)]
    assert get_entities(["B-PER", "L-PER", "U-LOC", "B-ORG"], scheme="BILOU") == [("PER", 0, 1), ("LOC", 2, 2)]
    with pytest.raises(ValueError, match=r"tags\[1\] = 'S-PER' is not an IOB2 tag"):
        get_entities(["B-PER", "S-PER"], scheme="IOB2")


def test_scores_of_the_documented_examples():
    assert precision_score(TRUE, PRED) == 0.5 and recall_score(TRUE, PRED) == 0.5 and f1_score(TRUE, PRED) == 0.5
    assert f1_score(TRUE2, PRED2) == pytest.approx(2 / 3)  # 2 found of 3 true and 3 predicted
    assert precision_score(TRUE2, PRED2, average="macro") == 0.75  # MISC 1/2, PER 1/1
    assert recall_score(TRUE2, PRED2, average="weighted") == pytest.approx(2 / 3)  # (2 * 1/2 + 1 * 1) / 3
    per_type = f1_score(TRUE2, PRED2, average=None)
    assert isinstance(per_type, np.ndarray) and per_type.tolist() == [0.5, 1.0]  # MISC, PER: sorted
    assert accuracy_score(TRUE, PRED) == 0.8


def test_f1_is_the_harmonic_mean():
    true = [["B-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]]  # PER and ORG found, LOC too long: 2 of 3 each way
    assert precision_score(true, pred) == pytest.approx(2 / 3)
    pred = [["B-PER", "O", "O", "O", "O", "O"]]  # 1 of 1 predicted is right, 1 of 3 true found
    p, r = 1.0, 1 / 3
    assert f1_score(true, pred) == pytest.approx(2 * p * r / (p + r))
    assert f1_score(true, pred, average=None).tolist() == [0.0, 0.0, 1.0]  # LOC, ORG, PER


def test_strict_mode_differs_from_default():
    true = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]  # conlleval reads this as a PER entity; IOB2 says it has no B-
    assert f1_score(true, pred) == 1.0
    assert f1_score(true, pred, mode="strict", scheme="IOB2") == 0.0
    assert f1_score(true, pred, mode="strict") == 0.0  # the scheme detected from y_true: IOB2
    assert f1_score(true, pred, scheme="IOB2") == 1.0  # a scheme without mode="strict" changes nothing (seqeval)
    true = [["B-PER", "E-PER", "S-LOC"]]
    pred = [["B-PER", "I-PER", "S-LOC"]]  # the PER never ends in IOBES
    assert recall_score(true, pred, mode="strict", scheme="IOBES") == 0.5
    assert precision_score(true, pred, mode="strict", scheme="IOBES") == 1.0


def test_classification_report_text_and_dict():
    expected = (
        "              precision    recall  f1-score   support\n"
        "\n"
        "        MISC       0.00      0.00      0.00         1\n"
        "         PER       1.00      1.00      1.00         1\n"
        "\n"
        "   micro avg       0.50      0.50      0.50         2\n"
        "   macro avg       0.50      0.50      0.50         2\n"
        "weighted avg       0.50      0.50      0.50         2\n"
    )
    assert classification_report(TRUE, PRED) == expected
    report = classification_report(TRUE2, PRED2, output_dict=True, digits=4)
    assert list(report) == ["MISC", "PER", "micro avg", "macro avg", "weighted avg"]
    assert report["MISC"] == {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    assert report["macro avg"]["f1-score"] == 0.75 and report["micro avg"]["support"] == 3
    assert "0.7500" in classification_report(TRUE2, PRED2, digits=4)
    # no entities at all: just the averages (seqeval fails here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        empty = classification_report([["O"]], [["O"]], zero_division=0)
    assert empty.splitlines()[3].split() == ["micro", "avg", "0.00", "0.00", "0.00", "0"]


def test_ner_scores():
    scores = ner_scores(TRUE2, PRED2)
    assert scores["f1"] == f1_score(TRUE2, PRED2) and scores["precision"] == precision_score(TRUE2, PRED2)
    assert scores["recall"] == recall_score(TRUE2, PRED2) and scores["accuracy"] == accuracy_score(TRUE2, PRED2)
    assert scores["per_type"] == {
        "MISC": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }
    assert ner_scores(TRUE2, PRED2, mode="strict")["per_type"]["MISC"]["f1"] == 0.5


# ---------------------------------------------------------------- zero divisions


def test_nothing_predicted():
    true, pred = [["B-PER", "O"]], [["O", "O"]]
    with pytest.warns(UndefinedMetricWarning, match="Precision"):
        assert precision_score(true, pred) == 0.0
    assert precision_score(true, pred, zero_division=1) == 1.0
    assert recall_score(true, pred, zero_division=1) == 0.0
    assert f1_score(true, pred, zero_division=1) == 0.0  # precision 1, recall 0
    assert f1_score(true, pred, zero_division=0, average="weighted") == 0.0


def test_nothing_true():
    true, pred = [["O", "O"]], [["B-PER", "O"]]
    with pytest.warns(UndefinedMetricWarning, match="Recall"):
        assert recall_score(true, pred) == 0.0
    assert recall_score(true, pred, zero_division=1) == 1.0
    assert precision_score(true, pred, zero_division=1) == 0.0
    # weighted over no true entities: recall is the zero_division value, precision and F1 0 as something was predicted
    assert recall_score(true, pred, zero_division=1, average="weighted") == 1.0
    assert f1_score(true, pred, zero_division=1, average="weighted") == 0.0


def test_no_entities_anywhere():
    true = pred = [["O", "O"], []]
    with pytest.warns(UndefinedMetricWarning, match="F-score"):
        assert f1_score(true, pred) == 0.0
    assert f1_score(true, pred, zero_division=1) == 1.0
    assert f1_score(true, pred, zero_division=1, average="weighted") == 1.0
    assert math.isnan(f1_score(true, pred, zero_division=0, average="macro"))  # a mean over no types, as seqeval
    assert f1_score(true, pred, zero_division=0, average=None).shape == (0,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0 silences the warning
        assert precision_score(true, pred, zero_division=0) == 0.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: f1_score([["O"], ["O"]], [["O"]]), "same number of sentences, got 2 and 1"),
        (lambda: f1_score([["O", "O"]], [["O"]]), r"y_true\[0\] and y_pred\[0\] must have the same length"),
        (lambda: f1_score([["O", 3]], [["O", "O"]]), r"y_true\[0\]\[1\] must be a tag string"),
        (lambda: f1_score([["O"]], [[None]]), r"y_pred\[0\]\[0\] must be a tag string"),
        (lambda: f1_score([["O", ""]], [["O", "O"]]), r"y_true\[0\]\[1\] is an empty string"),
        (lambda: f1_score(["B-PER", "O"], ["B-PER", "O"]), r"y_true\[0\] is str"),
        (lambda: f1_score("B-PER", "B-PER"), "y_true must be a list of sentences"),
        (lambda: f1_score([], []), "no sentences"),
        (lambda: accuracy_score([[]], [[]]), "no tokens"),
        (lambda: f1_score(TRUE, PRED, average="samples"), "average must be one of"),
        (lambda: precision_score(TRUE, PRED, mode="lenient"), "mode must be None"),
        (lambda: recall_score(TRUE, PRED, mode="strict", scheme="IOB1"), "scheme must be one of"),
        (lambda: f1_score(TRUE, PRED, scheme="BIO"), "scheme must be one of"),
        (lambda: f1_score(TRUE, PRED, zero_division=0.5), "zero_division must be"),
        (lambda: f1_score(TRUE, PRED, zero_division=True), "zero_division must be"),
        (lambda: classification_report(TRUE, PRED, digits=-1), "digits must be"),
        (lambda: f1_score([["B-PER", "S-PER"]], [["O", "O"]], mode="strict", scheme="IOB2"), "not an IOB2 tag"),
        (lambda: f1_score([["B-PER", "O"]], [["X-PER", "O"]], mode="strict", scheme="IOB2"), r"y_pred\[0\]\[0\]"),
        (lambda: f1_score([["O", "O"]], [["O", "O"]], mode="strict"), "could not detect the scheme"),
        (lambda: f1_score([["B-PER", "S-PER"]], [["O", "O"]], mode="strict"), "could not detect the scheme"),
        (lambda: get_entities(["B-PER", ["O"]]), "mixes tag strings"),
        (lambda: get_entities(["B-PER"], scheme="bio"), "scheme must be one of 'conlleval'"),
        (lambda: get_entities(5), "tags must be a list"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_wrong_types_are_type_errors_too():
    with pytest.raises(TypeError):
        f1_score([["O", 3]], [["O", "O"]])
    with pytest.raises(TypeError):
        f1_score(["B-PER"], ["B-PER"])


def test_accepts_tuples_and_numpy_strings():
    true = (("B-PER", "I-PER"), ("O",))
    pred = [np.array(["B-PER", "I-PER"]), np.array(["O"])]
    assert f1_score(true, pred) == 1.0 and accuracy_score(true, pred) == 1.0


def test_odd_tags_warn_but_count():
    with pytest.warns(UserWarning, match="do not look like NE tags"):
        # read as seqeval reads them: the first character is the position letter, whatever it is
        assert get_entities(["X-PER", "PER", "B-PER"]) == [("PER", 0, 0), ("ER", 1, 1), ("PER", 2, 2)]


# ---------------------------------------------------------------- equal to seqeval

TYPES = ("PER", "ORG", "LOC")


def random_pairs(seed: int, prefixes: str, n: int, suffix: bool = False, odd: tuple[str, ...] = ()):
    """n pairs (y_true, y_pred): 1-4 sentences of 0-9 tags; y_pred keeps 60% of y_true's tags."""
    rng = np.random.default_rng(seed)

    def tag() -> str:
        u = rng.random()
        if u < 0.3:
            return "O"
        if odd and u < 0.36:
            return str(rng.choice(odd))
        p, t = rng.choice(list(prefixes)), rng.choice(TYPES)
        return f"{t}-{p}" if suffix else f"{p}-{t}"

    pairs = []
    while len(pairs) < n:
        true = [[tag() for _ in range(rng.integers(0, 10))] for _ in range(rng.integers(1, 5))]
        if not any(true):
            continue
        pred = [[t if rng.random() < 0.6 else tag() for t in s] for s in true]
        pairs.append((true, pred))
    return pairs


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def seqeval_scheme(name):
    scheme = pytest.importorskip("seqeval.scheme", reason="seqeval is not installed")
    return getattr(scheme, name) if name else None


# (our mode, scheme name, prefixes used by the random tags, odd tags mixed in)
CASES = [
    (None, None, "BIES", ("B", "I", ".", "X-PER", "U-LOC", "O-PER", "PER", "B-PER-X", "I--")),
    ("strict", "IOB2", "BI", ()),
    ("strict", "IOBES", "BIES", ()),
    ("strict", "IOE2", "IE", ()),
    ("strict", "BILOU", "BILU", ()),
]


@pytest.mark.parametrize(("mode", "scheme", "prefixes", "odd"), CASES)
def test_scores_equal_seqeval(mode, scheme, prefixes, odd):
    S = pytest.importorskip("seqeval.metrics.sequence_labeling", reason="seqeval is not installed")
    theirs_scheme = seqeval_scheme(scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning and odd-tag warnings from both sides
        for k, (true, pred) in enumerate(random_pairs(len(prefixes) + len(odd), prefixes, 25, odd=odd)):
            for zd in ("warn", 1):  # 0 scores as "warn" does, silently
                for avg in (None, "micro", "macro", "weighted"):
                    for name in ("precision_score", "recall_score", "f1_score"):
                        kw = dict(average=avg, mode=mode, zero_division=zd)
                        theirs = getattr(S, name)(true, pred, scheme=theirs_scheme, **kw)
                        ours = globals()[name](true, pred, scheme=scheme, **kw)
                        assert same(ours, theirs), (k, name, kw, true, pred, ours, theirs)
                        assert isinstance(ours, np.ndarray if avg is None else float)
            assert accuracy_score(true, pred) == S.accuracy_score(true, pred)
            if mode is None:
                assert get_entities(true) == S.get_entities(true), true
                assert get_entities(pred[0]) == S.get_entities(pred[0]), pred[0]


@pytest.mark.parametrize(("mode", "scheme", "prefixes", "odd"), CASES)
@pytest.mark.parametrize("suffix", [False, True])
def test_report_equals_seqeval(mode, scheme, prefixes, odd, suffix):
    S = pytest.importorskip("seqeval.metrics.sequence_labeling", reason="seqeval is not installed")
    theirs_scheme = seqeval_scheme(scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for true, pred in random_pairs(7 + suffix, prefixes, 20, suffix=suffix, odd=() if suffix else odd):
            for zd in ("warn", 1):
                kw = dict(mode=mode, zero_division=zd, suffix=suffix)
                theirs = S.classification_report(true, pred, output_dict=True, scheme=theirs_scheme, **kw)
                ours = classification_report(true, pred, output_dict=True, scheme=scheme, **kw)
                assert list(ours) == list(theirs)
                for row, values in theirs.items():
                    assert list(ours[row]) == list(values)
                    assert same(list(ours[row].values()), list(values.values())), (row, true, pred)
                if len(theirs) > 3:  # seqeval cannot lay out a report without entity types
                    text = S.classification_report(true, pred, digits=3, scheme=theirs_scheme, **kw)
                    assert classification_report(true, pred, digits=3, scheme=scheme, **kw) == text
            if mode is None:
                assert get_entities(true, suffix=suffix) == S.get_entities(true, suffix=suffix)


@pytest.mark.parametrize("prefixes", ["BI", "BIES", "IE", "BILU"])
def test_detected_scheme_equals_seqeval(prefixes):
    """mode='strict' without a scheme: both detect it from y_true (seqeval in its report) or both refuse."""
    S = pytest.importorskip("seqeval.metrics.sequence_labeling", reason="seqeval is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for true, pred in random_pairs(11, prefixes, 40):
            try:
                theirs = S.classification_report(true, pred, output_dict=True, mode="strict")
            except ValueError:
                with pytest.raises(ValueError):
                    classification_report(true, pred, output_dict=True, mode="strict")
                continue
            ours = classification_report(true, pred, output_dict=True, mode="strict")
            assert list(ours) == list(theirs)
            assert all(same(list(ours[r].values()), list(theirs[r].values())) for r in theirs)


def test_strict_entities_equal_seqeval():
    """Strict get_entities against seqeval's entity reader, shifted to the joined-stream positions."""
    scheme_module = pytest.importorskip("seqeval.scheme", reason="seqeval is not installed")
    for name, prefixes in (("IOB2", "BI"), ("IOBES", "BIES"), ("IOE2", "IE"), ("BILOU", "BILU")):
        for true, _ in random_pairs(3, prefixes, 50):
            theirs, offset = [], 0
            for sent_id, entities in enumerate(scheme_module.Entities(true, getattr(scheme_module, name)).entities):
                theirs += [(e.tag, offset + e.start, offset + e.end - 1) for e in entities]
                offset += len(true[sent_id]) + 1
            assert get_entities(true, scheme=name) == theirs, (name, true)
