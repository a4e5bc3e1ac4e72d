"""Exact match and token F1 of extractive question answering, as the official SQuAD v1.1 evaluation scores them.

An answer is compared after normalisation (:func:`normalize_answer`): lower case, punctuation removed,
the articles "a", "an" and "the" removed as whole words, runs of white space made one space.  Exact
match asks for equal normalised strings; F1 is the harmonic mean of precision and recall of the
normalised answer's white-space tokens, counted with multiplicity, and 0 when no token is shared (so
also when either side normalises to nothing, as v1.1 has it; v2.0 would score two empty answers 1).
A question with several reference answers scores the best of them.  :func:`squad_evaluate` averages
over all questions in percent; a question with no prediction scores 0 on both.

Differences from the official script, all on input it crashes on: no questions or a question without
reference answers is a ValueError, a prediction or reference that is not a string a TypeError, each
naming the question.
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["exact_match", "f1", "normalize_answer", "squad_evaluate"]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalize_answer(s: str) -> str:
    """``s`` lower-cased, without ASCII punctuation, without the words a/an/the, its white space collapsed.

    The steps run in the official order; it matters: "the-cat" loses its hyphen first and then its article.
    """
    if not isinstance(s, str):
        raise TypeError(f"s must be a string, got {type(s).__name__}")
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _ground_truths(ground_truths: str | Iterable[str], name: str = "ground_truths") -> list[str]:
    items = [ground_truths] if isinstance(ground_truths, str) else list(ground_truths)
    if not items:
        raise ValueError(f"{name} is empty: a question needs at least one reference answer")
    for k, g in enumerate(items):
        if not isinstance(g, str):
            raise TypeError(f"{name}[{k}] must be an answer string, got {type(g).__name__}")
    return items


def _em(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def _f1(prediction: str, truth: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(truth).split()
    shared = sum((Counter(pred) & Counter(ref)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(pred)
    recall = shared / len(ref)
    return (2 * precision * recall) / (precision + recall)


def _check_prediction(prediction: Any, name: str = "prediction") -> str:
    if not isinstance(prediction, str):
        raise TypeError(f"{name} must be an answer string, got {type(prediction).__name__}")
    return prediction


def exact_match(prediction: str, ground_truths: str | Iterable[str]) -> float:
    """1.0 if ``prediction`` equals one of ``ground_truths`` after normalisation, else 0.0.

    ground_truths: the reference answers (one string is taken as a single reference).
    """
    prediction = _check_prediction(prediction)
    return max(_em(prediction, g) for g in _ground_truths(ground_truths))


def f1(prediction: str, ground_truths: str | Iterable[str]) -> float:
    """The best token F1 (0-1) of ``prediction`` against any of ``ground_truths``."""
    prediction = _check_prediction(prediction)
    return max(_f1(prediction, g) for g in _ground_truths(ground_truths))


def _is_dataset(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("data"), list)


def _references(dataset_or_references: Any) -> list[tuple[str, list[str]]]:
    """(question id, reference answers) in the dataset's order; ids may repeat, as in the official loop."""
    if _is_dataset(dataset_or_references):
        out = []
        for a, article in enumerate(dataset_or_references["data"]):
            try:
                for paragraph in article["paragraphs"]:
                    for qa in paragraph["qas"]:
                        out.append((qa["id"], [answer["text"] for answer in qa["answers"]]))
            except (KeyError, TypeError) as exc:
                raise ValueError(
                    f"dataset_or_references['data'][{a}] is not a SQuAD v1.1 article "
                    f"({{'paragraphs': [{{'qas': [{{'id', 'answers': [{{'text'}}]}}]}}]}}): missing or bad {exc}"
                ) from None
        return out
    if isinstance(dataset_or_references, Mapping):
        return [(qid, answers) for qid, answers in dataset_or_references.items()]
    raise TypeError(
        "dataset_or_references must be a SQuAD v1.1 dataset ({'data': [...]}) or a mapping from question id to "
        f"reference answers, got {type(dataset_or_references).__name__}"
    )


def squad_evaluate(dataset_or_references: Mapping[str, Any], predictions: Mapping[str, str]) -> dict[str, float]:
    """{"exact_match": %, "f1": %} over every question of the references, as the official v1.1 script reports.

    dataset_or_references: a SQuAD v1.1 JSON object ({"data": [{"paragraphs": [{"qas": [{"id", "answers":
    [{"text"}]}]}]}]}) or a mapping from question id to its reference answer texts.
    predictions: question id -> predicted answer text.  Questions without a prediction score 0 (with a
    warning saying how many); predictions for unknown ids are ignored.
    """
    if not isinstance(predictions, Mapping):
        raise TypeError(
            f"predictions must be a mapping from question id to answer text, got {type(predictions).__name__}"
        )
    references = _references(dataset_or_references)
    if not references:
        raise ValueError("dataset_or_references holds no questions")
    em_sum = f1_sum = 0.0
    missing = 0
    for qid, answers in references:
        truths = _ground_truths(answers, f"the reference answers of question {qid!r}")
        if qid not in predictions:
            missing += 1
            continue
        prediction = _check_prediction(predictions[qid], f"predictions[{qid!r}]")
        em_sum += max(_em(prediction, g) for g in truths)
        f1_sum += max(_f1(prediction, g) for g in truths)
    if missing:
        warnings.warn(
            f"{missing} of {len(references)} questions have no prediction and score 0", UserWarning, stacklevel=2
        )
    total = len(references)
    return {"exact_match": 100.0 * em_sum / total, "f1": 100.0 * f1_sum / total}
