"""Extractive question answering data in the SQuAD v1.1 JSON format, and the ``QAExample`` type.

The format::

    {"version": "1.1",
     "data": [{"title": "...",
               "paragraphs": [{"context": "...",
                               "qas": [{"id": "...", "question": "...",
                                        "answers": [{"text": "...", "answer_start": 17}, ...]}]}]}]}

Each question becomes a :class:`QAExample` holding its paragraph's context.  An answer is a span of
the context: ``context[start:start + len(text)] == text`` is checked for every answer, on loading and
whenever a ``QAExample`` is made, and a mismatch is a ValueError naming the example's id.  Offsets
count Python ``str`` characters (code points), as SQuAD's do.  Questions without answers (SQuAD 2.0's
unanswerable ones) are refused: extractive training and the SQuAD v1.1 metrics need an answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from .._atomic import atomic_open

__all__ = ["Answer", "QAExample", "read_squad", "squad_dict", "write_squad"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Answer:
    """An answer span: its ``text`` and the character offset ``start`` where it begins in the context."""

    text: str
    start: int

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"Answer.text must be a non-empty str, got {self.text!r}")
        if isinstance(self.start, bool) or not isinstance(self.start, int) or self.start < 0:
            raise ValueError(f"Answer.start must be an int >= 0, got {self.start!r}")

    @property
    def end(self) -> int:
        """The offset just past the answer: ``context[start:end] == text``."""
        return self.start + len(self.text)


@dataclass(frozen=True)
class QAExample:
    """A question about ``context`` with one or more answer spans (each checked against the context)."""

    id: str
    context: str
    question: str
    answers: tuple[Answer, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"QAExample.id must be a non-empty str, got {self.id!r}")
        for name in ("context", "question"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"QAExample {self.id!r}: {name} must be a str, got {type(value).__name__}")
        answers = self.answers
        if isinstance(answers, Answer) or not isinstance(answers, (tuple, list)):
            raise TypeError(f"QAExample {self.id!r}: answers must be a tuple of Answer, got {type(answers).__name__}")
        answers = tuple(answers)
        if not answers:
            raise ValueError(f"QAExample {self.id!r}: needs at least one answer")
        for k, answer in enumerate(answers):
            if not isinstance(answer, Answer):
                raise TypeError(f"QAExample {self.id!r}: answers[{k}] must be an Answer, got {type(answer).__name__}")
            found = self.context[answer.start : answer.end]
            if found != answer.text:
                raise ValueError(
                    f"QAExample {self.id!r}: answers[{k}] {answer.text!r} at {answer.start} does not match the "
                    f"context there ({found!r})"
                )
        object.__setattr__(self, "answers", answers)


def _get(node: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(node, Mapping):
        raise ValueError(f"SQuAD {where}: expected a JSON object, got {type(node).__name__}")
    if key not in node:
        raise ValueError(f"SQuAD {where}: missing key {key!r}")
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
        raise ValueError(f"SQuAD {where}: {key!r} must be {names}, got {type(value).__name__}")
    return value


def read_squad(path_or_dict: PathLike | Mapping[str, Any]) -> list[QAExample]:
    """The questions of a SQuAD v1.1 file (a path) or of its already parsed JSON (a dict), in file order.

    A missing or mistyped key is a ValueError naming it and where it is (article, paragraph and question
    index, e.g. ``data[0].paragraphs[3].qas[1]``); so is an answer that does not match its context.
    """
    if isinstance(path_or_dict, Mapping):
        doc: Any = path_or_dict
        source = "<dict>"
    elif isinstance(path_or_dict, (str, os.PathLike)):
        source = os.fspath(path_or_dict)  # type: ignore[assignment]
        with open(source, encoding="utf-8") as fh:
            try:
                doc = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"read_squad: {source!r} is not valid JSON ({exc})") from None
    else:
        raise TypeError(f"read_squad: expected a path or a dict, got {type(path_or_dict).__name__}")

    examples: list[QAExample] = []
    seen: set[str] = set()
    articles = _get(doc, "data", list, source)
    for a, article in enumerate(articles):
        paragraphs = _get(article, "paragraphs", list, f"{source} data[{a}]")
        for p, paragraph in enumerate(paragraphs):
            where_p = f"{source} data[{a}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, where_p)
            for q, qa in enumerate(_get(paragraph, "qas", list, where_p)):
                where_q = f"{where_p}.qas[{q}]"
                qid = _get(qa, "id", (str, int), where_q)
                qid = str(qid)
                question = _get(qa, "question", str, where_q)
                answers = []
                for k, ans in enumerate(_get(qa, "answers", list, where_q)):
                    where_a = f"{where_q}.answers[{k}] (id {qid!r})"
                    text = _get(ans, "text", str, where_a)
                    start = _get(ans, "answer_start", int, where_a)
                    if start < 0 or not text:
                        raise ValueError(f"SQuAD {where_a}: needs a non-empty text and answer_start >= 0")
                    answers.append(Answer(text, start))
                if not answers:
                    raise ValueError(
                        f"SQuAD {where_q} (id {qid!r}): no answers (SQuAD 2.0 unanswerable questions are not supported)"
                    )
                if qid in seen:
                    raise ValueError(f"SQuAD {where_q}: id {qid!r} occurs twice")
                seen.add(qid)
                try:
                    examples.append(QAExample(qid, context, question, tuple(answers)))
                except ValueError as exc:
                    raise ValueError(f"SQuAD {where_q}: {exc}") from None
    return examples


def squad_dict(examples: Sequence[QAExample], title: str = "seqcore") -> dict[str, Any]:
    """``examples`` as SQuAD v1.1 JSON data: one article named ``title``; examples that share a context
    share a paragraph, paragraphs in the order their contexts first occur."""
    if isinstance(examples, QAExample):
        raise TypeError("examples must be a sequence of QAExample, got a single QAExample")
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    paragraphs: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for k, example in enumerate(examples):
        if not isinstance(example, QAExample):
            raise TypeError(f"examples[{k}] must be a QAExample, got {type(example).__name__}")
        if example.id in seen:
            raise ValueError(f"examples[{k}]: id {example.id!r} occurs twice")
        seen.add(example.id)
        paragraphs.setdefault(example.context, []).append(
            {
                "id": example.id,
                "question": example.question,
                "answers": [{"text": a.text, "answer_start": a.start} for a in example.answers],
            }
        )
    return {
        "version": "1.1",
        "data": [
            {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()]},
        ],
    }


def write_squad(path: PathLike, examples: Sequence[QAExample], title: str = "seqcore") -> None:
    """Write ``examples`` as a SQuAD v1.1 JSON file (atomically), laid out as :func:`squad_dict` says.

    Reading the file back gives the same examples, grouped by context: in the same order when examples
    with the same context are next to each other, as :func:`~seqcore.datasets.qa.qa_examples` makes them.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"write_squad: path must be a str or os.PathLike, got {type(path).__name__}")
    doc = squad_dict(examples, title)
    with atomic_open(path, "w") as fh:
        json.dump(doc, fh, ensure_ascii=False)
        fh.write("\n")
