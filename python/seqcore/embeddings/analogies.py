"""Analogy test files (the Google ``questions-words.txt`` layout) and their results.

A file is split into sections by ``: SECTION NAME`` lines; every other line is one question ``a b c expected``
("a is to b as c is to expected").  The reading rules are gensim's
(``KeyedVectors.evaluate_word_analogies``), so that counts agree with it exactly:

- a line starting with ``": "`` opens a section named ``line.lstrip(": ").strip()``;
- any other line before the first section header is an error;
- a line that does not split (on whitespace) into exactly 4 words is skipped silently and counted nowhere;
- with ``case_insensitive`` the four words are upper-cased (``str.upper``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Union

__all__ = ["AnalogyResult", "AnalogySection", "read_analogy_file"]

PathLike = Union[str, "os.PathLike[str]"]
Question = tuple[str, str, str, str]


@dataclass(frozen=True)
class AnalogySection:
    """Counts for one section: ``correct + incorrect`` questions answered, ``skipped`` had a word out of vocabulary."""

    name: str
    correct: int
    incorrect: int
    skipped: int = 0

    @property
    def total(self) -> int:
        """Questions answered (correct + incorrect); skipped ones are not counted, as in gensim."""
        return self.correct + self.incorrect

    @property
    def accuracy(self) -> float:
        """correct / total, 0.0 for a section with no answered question (gensim's convention)."""
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class AnalogyResult:
    """The outcome of :meth:`WordVectors.evaluate_analogies`: per-section counts and the overall total.

    ``sections`` are in file order; ``total`` is the sum (named "Total accuracy", as gensim names its last
    section).  ``accuracy`` equals the score gensim returns; ``questions`` counts every well-formed question
    read, answered or skipped.
    """

    sections: list[AnalogySection]
    total: AnalogySection
    method: str = "3cosadd"
    restrict_vocab: int = 0
    case_insensitive: bool = True
    seconds: float = field(default=0.0, compare=False)

    @property
    def accuracy(self) -> float:
        return self.total.accuracy

    @property
    def skipped(self) -> int:
        return self.total.skipped

    @property
    def questions(self) -> int:
        return self.total.total + self.total.skipped

    @property
    def oov_ratio(self) -> float:
        """Share of questions skipped for an out-of-vocabulary word (gensim logs it as a percentage)."""
        return self.skipped / self.questions if self.questions else 0.0

    def section(self, name: str) -> AnalogySection:
        for sec in self.sections:
            if sec.name == name:
                return sec
        raise KeyError(f"no section named {name!r}; sections: {[s.name for s in self.sections]}")

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{section name: {"correct", "incorrect", "skipped", "accuracy"}}``, the total last."""
        return {
            s.name: {"correct": s.correct, "incorrect": s.incorrect, "skipped": s.skipped, "accuracy": s.accuracy}
            for s in [*self.sections, self.total]
        }

    def __str__(self) -> str:
        rows = [f"{'section':<28} {'correct':>8} {'total':>8} {'skipped':>8} {'accuracy':>9}"]
        for s in [*self.sections, self.total]:
            rows.append(f"{s.name:<28} {s.correct:>8} {s.total:>8} {s.skipped:>8} {s.accuracy:>9.2%}")
        return "\n".join(rows)


def read_analogy_file(path: PathLike, case_insensitive: bool = True) -> list[tuple[str, list[Question]]]:
    """``[(section name, [(a, b, c, expected), ...]), ...]`` from an analogy file, read by gensim's rules."""
    path = os.fspath(path)
    sections: list[tuple[str, list[Question]]] = []
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}: line {line_no + 1} is not UTF-8 ({exc.reason})") from None
            if line.startswith(": "):
                sections.append((line.lstrip(": ").strip(), []))
                continue
            if not sections:
                raise ValueError(
                    f"{path}: line {line_no + 1} comes before the first ': SECTION NAME' header; "
                    "expected an analogy file like questions-words.txt"
                )
            words = line.split()
            if len(words) != 4:
                continue  # gensim: "Skipping invalid line"
            if case_insensitive:
                words = [w.upper() for w in words]
            sections[-1][1].append((words[0], words[1], words[2], words[3]))
    if not sections:
        raise ValueError(f"{path}: no ': SECTION NAME' header found; expected an analogy file like questions-words.txt")
    return sections
