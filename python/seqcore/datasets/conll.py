"""Named-entity data in the CoNLL-2003 text format, and the ``NERExample`` type.

The format: one token a line, columns separated by white space, the token in the first column and
its entity tag in another (the last by default, as in CoNLL-2003's ``token POS chunk tag``); a blank
line ends a sentence; ``-DOCSTART-`` lines mark document starts and are skipped with the blank line
that follows them.  Sentences are returned as :class:`NERExample` with IOB2 tags:

- ``O`` outside any entity, ``B-X`` the first token of an entity of type ``X``, ``I-X`` a later token
  of that entity (it must follow ``B-X`` or ``I-X``).

CoNLL-2003 itself ships IOB1 tags, where ``I-X`` also starts an entity and ``B-X`` appears only where
an entity directly follows another of the same type.  :func:`read_conll` converts IOB1 to IOB2
(``scheme="IOB1"``, or ``"auto"``, the default, which detects it: an ``I-X`` after ``O``, after another
type or at a sentence's start occurs in IOB1 and never in IOB2).  The conversion leaves IOB2 tags as
they are, so ``"auto"`` reads either kind; ``scheme="IOB2"`` refuses IOB1 input instead, naming the
line, for files that are meant to be IOB2 already.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

from .._atomic import atomic_open

__all__ = ["DOCSTART", "NERExample", "iob1_to_iob2", "read_conll", "validate_tags", "write_conll"]

PathLike = Union[str, "os.PathLike[str]"]

DOCSTART = "-DOCSTART-"
_SCHEMES = ("IOB2", "IOB1", "auto")
# O, or B-/I- and a type name without white space (CoNLL types are PER, ORG, LOC, MISC; OntoNotes adds more)
_TAG = re.compile(r"O|[BI]-\S+")


def _tag_problem(tag: object) -> str | None:
    """Why ``tag`` is not an IOB tag (None when it is one)."""
    if not isinstance(tag, str):
        return f"must be a str, got {type(tag).__name__}"
    if _TAG.fullmatch(tag) is None:
        return f"{tag!r} is not a tag: expected 'O', 'B-TYPE' or 'I-TYPE'"
    return None


def _iob2_problem(tag: str, previous: str) -> str | None:
    """Why ``tag`` cannot follow ``previous`` in IOB2 (None when it can); both are valid tags."""
    if tag.startswith("I-") and previous[2:] != tag[2:]:
        after = "the sentence's start" if previous == "" else repr(previous)
        return f"{tag!r} after {after}: in IOB2 an entity starts with 'B-{tag[2:]}'"
    return None


def validate_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags`` as a tuple once checked to be IOB2; otherwise a ValueError naming the first bad position.

    Every tag is ``O``, ``B-X`` or ``I-X``, and every ``I-X`` follows ``B-X`` or ``I-X`` of the same type.
    """
    if isinstance(tags, str):
        raise TypeError(f"tags must be a sequence of str, got a single str {tags!r}")
    out = tuple(tags)
    previous = ""
    for k, tag in enumerate(out):
        problem = _tag_problem(tag) or _iob2_problem(tag, previous)
        if problem:
            raise ValueError(f"tags[{k}]: {problem}")
        previous = tag
    return out


def iob1_to_iob2(tags: Iterable[str]) -> tuple[str, ...]:
    """IOB1 tags converted to IOB2: an ``I-X`` that starts an entity (at the start, after ``O`` or after
    another type) becomes ``B-X``; everything else is kept, so IOB2 input comes back unchanged."""
    if isinstance(tags, str):
        raise TypeError(f"tags must be a sequence of str, got a single str {tags!r}")
    out: list[str] = []
    previous = "O"
    for k, tag in enumerate(tags):
        problem = _tag_problem(tag)
        if problem:
            raise ValueError(f"tags[{k}]: {problem}")
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return tuple(out)


@dataclass(frozen=True)
class NERExample:
    """One sentence: its tokens and their IOB2 entity tags (checked on construction).

    ``tokens`` and ``tags`` are tuples of the same, non-zero length (lists are accepted and stored
    as tuples); tokens are non-empty strings.
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("tokens", "tags"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                raise TypeError(f"NERExample.{name} must be a tuple of str, got {type(value).__name__}")
            object.__setattr__(self, name, tuple(value))
        if not self.tokens:
            raise ValueError("NERExample needs at least one token")
        if len(self.tokens) != len(self.tags):
            raise ValueError(
                f"NERExample: {len(self.tokens)} tokens but {len(self.tags)} tags (one tag per token expected)"
            )
        for k, token in enumerate(self.tokens):
            if not isinstance(token, str) or not token:
                raise ValueError(f"NERExample.tokens[{k}] must be a non-empty str, got {token!r}")
        try:
            validate_tags(self.tags)
        except ValueError as exc:
            raise ValueError(f"NERExample {' '.join(self.tokens[:8])!r}...: {exc}") from None

    def entities(self) -> list[tuple[str, int, int]]:
        """The entities as ``(type, start, end)`` token ranges, ``end`` exclusive, in order."""
        spans: list[tuple[str, int, int]] = []
        for k, tag in enumerate(self.tags):
            if tag.startswith("B-"):
                spans.append((tag[2:], k, k + 1))
            elif tag.startswith("I-"):
                kind, start, _ = spans[-1]
                spans[-1] = (kind, start, k + 1)
        return spans


def _check_path(path: object, what: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what}: path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)  # type: ignore[return-value]


def read_conll(
    path: PathLike, *, tag_column: int = -1, scheme: str = "auto", encoding: str = "utf-8"
) -> list[NERExample]:
    """The sentences of a CoNLL-format file as IOB2 :class:`NERExample` (see the module docstring).

    tag_column: the column holding the tag (0-based; negative counts from the end, -1 the last);
    column 0 is the token.  scheme: ``"auto"`` (IOB1 or IOB2 input), ``"IOB1"`` (converted) or
    ``"IOB2"`` (an entity starting with ``I-`` is an error).  A line with too few columns, or whose
    tag is not ``O``/``B-X``/``I-X``, is a ValueError naming the file and line number.
    """
    name = _check_path(path, "read_conll")
    if isinstance(tag_column, bool) or not isinstance(tag_column, int):
        raise TypeError(f"read_conll: tag_column must be an int, got {type(tag_column).__name__}")
    if tag_column == 0:
        raise ValueError("read_conll: tag_column must not be 0, the token column")
    if scheme not in _SCHEMES:
        raise ValueError(f"read_conll: scheme must be one of {_SCHEMES}, got {scheme!r}")
    # a column index -k needs k columns, and one beyond the token at least; k needs k + 1
    need = max(2, -tag_column if tag_column < 0 else tag_column + 1)

    examples: list[NERExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []  # line number of each tag, for IOB2 errors

    def finish() -> None:
        if not tokens:
            return
        if scheme == "IOB2":
            previous = ""
            for tag, line in zip(tags, lines):
                problem = _iob2_problem(tag, previous)
                if problem:
                    raise ValueError(f"{name!r} line {line}: {problem} (scheme='IOB2'; use 'IOB1' or 'auto' for IOB1)")
                previous = tag
            fixed = tuple(tags)
        else:
            fixed = iob1_to_iob2(tags)
        examples.append(NERExample(tuple(tokens), fixed))
        tokens.clear()
        tags.clear()
        lines.clear()

    with open(name, encoding=encoding) as fh:
        for number, raw in enumerate(fh, start=1):
            columns = raw.split()
            # a blank line ends a sentence; so does -DOCSTART-, and the blank after it then ends nothing
            if not columns or columns[0] == DOCSTART:
                finish()
                continue
            if len(columns) < need:
                raise ValueError(
                    f"{name!r} line {number}: {len(columns)} column(s) {raw.rstrip()!r}; expected the token "
                    f"and a tag in column {tag_column} ({need} columns at least)"
                )
            tag = columns[tag_column]
            problem = _tag_problem(tag)
            if problem:
                raise ValueError(f"{name!r} line {number}: {problem}")
            tokens.append(columns[0])
            tags.append(tag)
            lines.append(number)
    finish()
    return examples


def write_conll(path: PathLike, examples: Sequence[NERExample]) -> None:
    """Write ``examples`` as ``token tag`` lines, a blank line after each sentence (atomically: the file
    is complete or left as it was).  Tokens must hold no white space, which the format cannot store."""
    name = _check_path(path, "write_conll")
    if isinstance(examples, NERExample):
        raise TypeError("write_conll: examples must be a sequence of NERExample, got a single NERExample")
    items = list(examples)
    for k, example in enumerate(items):
        if not isinstance(example, NERExample):
            raise TypeError(f"write_conll: examples[{k}] must be a NERExample, got {type(example).__name__}")
        for j, token in enumerate(example.tokens):
            if token == DOCSTART or any(c.isspace() for c in token):
                raise ValueError(
                    f"write_conll: examples[{k}].tokens[{j}] = {token!r} cannot be written in CoNLL format "
                    "(white space, or -DOCSTART-, would be read back differently)"
                )
    with atomic_open(name, "w") as fh:
        for example in items:
            fh.writelines(f"{token} {tag}\n" for token, tag in zip(example.tokens, example.tags))
            fh.write("\n")
