"""Entity-level precision, recall and F1 for named-entity recognition, equal to seqeval 1.2.2.

Tags are strings such as ``"B-PER"``: a one-letter position prefix, a ``-`` and the entity type
(with ``suffix=True`` the letter comes last: ``"PER-B"``).  ``y_true`` and ``y_pred`` are lists of
sentences, each a list of tags, the same lengths sentence by sentence.  An entity counts as found
only when a predicted entity has exactly its type, start and end.

Two ways to read entities from tags, as seqeval has them:

- the default (``mode=None``), compatible with CoNLL's ``conlleval`` script and lenient: an ``I-``
  after ``O`` or after another type opens an entity, an entity ends where the type changes, and
  IOB1, IOB2, IOE and IOBES tags all give sensible chunks.  For a list of sentences the tags are
  read as one stream with an ``"O"`` between sentences, and the positions that ``get_entities``
  returns index that stream, exactly as seqeval's ``get_entities`` does.
- ``mode="strict"`` with a ``scheme`` (``"IOB2"``, ``"IOE2"``, ``"IOBES"``, ``"BILOU"``): an entity
  must be well formed in that scheme (for IOB2 it opens with ``B-``; for IOBES a ``B-`` needs its
  ``E-``), anything else is not an entity, and a prefix the scheme does not use is an error.

The averages (``"micro"``, ``"macro"``, ``"weighted"``, or ``None`` for one score per entity type
in sorted type order), the ``zero_division`` rules and the report's layout are seqeval's, and the
divisions and averages are the same floating-point operations, so the numbers are equal, not just
close.  Where seqeval's arguments differ from ours:

- ``mode="strict"`` without a ``scheme`` detects the scheme from ``y_true`` in every function, as
  seqeval's ``classification_report`` does; seqeval's ``precision_score``/``recall_score``/
  ``f1_score`` instead fall back to the default mode silently.  Without ``mode="strict"`` a
  ``scheme`` is checked but not used, as in seqeval.
- ``scheme`` is a name (any case) or seqeval's scheme class itself (``seqeval.scheme.IOB2``).
- input seqeval crashes on is a ``ValueError`` (or a ``TypeError`` that is also a ``ValueError``)
  naming the argument: different numbers of sentences or sentence lengths, an empty tag, a tag
  that is not a string, no sentences or no tokens at all, a flat list of tags where sentences are
  expected.  An empty report (no entities anywhere) is the header and the average rows.
- ``sample_weight`` and ``beta`` are not provided (seqeval ignores ``sample_weight`` for these
  averages anyway).

As in seqeval, a macro average over no entity types at all is NaN, and ``zero_division="warn"``
scores an undefined ratio 0 and warns with :class:`UndefinedMetricWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy as np

__all__ = [
    "SCHEMES",
    "UndefinedMetricWarning",
    "accuracy_score",
    "classification_report",
    "f1_score",
    "get_entities",
    "ner_scores",
    "precision_score",
    "recall_score",
]

#: the tagging schemes strict mode reads
SCHEMES = ("IOB2", "IOE2", "IOBES", "BILOU")
AVERAGES = (None, "micro", "macro", "weighted")
ZERO_DIVISION = ("warn", 0, 1)

Entity = tuple[str, int, int]
Scores = Union[float, np.ndarray]


class UndefinedMetricWarning(UserWarning):
    """A precision or recall divided by zero (no predicted or no true entities) and was set to ``zero_division``."""


class _TagTypeError(TypeError, ValueError):
    """Wrong kind of input: a TypeError by nature, and a ValueError so that ``except ValueError`` catches every
    bad-input error of this module."""


# ---------------------------------------------------------------- input checks


def _check_tag(tag: Any, where: str) -> str:
    if not isinstance(tag, str):
        raise _TagTypeError(f"{where} must be a tag string such as 'B-PER', got {type(tag).__name__} {tag!r}")
    if not tag:
        raise ValueError(f"{where} is an empty string; a tag needs at least its prefix letter ('O', 'B-PER', ...)")
    return tag


def _sentences(value: Any, name: str) -> list[list[str]]:
    """``value`` as a list of sentences of tags, every tag checked."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _TagTypeError(
            f"{name} must be a list of sentences, each a list of tag strings, got {type(value).__name__}"
        )
    out: list[list[str]] = []
    for i, sentence in enumerate(value):
        if isinstance(sentence, (str, bytes)) or not isinstance(sentence, Iterable):
            raise _TagTypeError(
                f"{name} must be a list of sentences, each a list of tag strings; {name}[{i}] is "
                f"{type(sentence).__name__} {sentence!r} (wrap a single sentence in a list: [tags])"
            )
        tags = list(sentence)
        if not all(isinstance(tag, str) and tag for tag in tags):  # the common case in one pass, the error below
            for j, tag in enumerate(tags):
                _check_tag(tag, f"{name}[{i}][{j}]")
        out.append(tags)
    return out


def _pair(y_true: Any, y_pred: Any) -> tuple[list[list[str]], list[list[str]]]:
    true = _sentences(y_true, "y_true")
    pred = _sentences(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred must hold the same number of sentences, got {len(true)} and {len(pred)}")
    if not true:
        raise ValueError("y_true and y_pred hold no sentences")
    for i, (t, p) in enumerate(zip(true, pred)):
        if len(t) != len(p):
            raise ValueError(
                f"y_true[{i}] and y_pred[{i}] must have the same length (one tag per token), got {len(t)} and {len(p)}"
            )
    return true, pred


def _check_mode(mode: Any) -> None:
    if mode is not None and mode != "strict":
        raise ValueError(f"mode must be None (conlleval-compatible) or 'strict', got {mode!r}")


def _scheme_name(scheme: Any, *, allow_default: bool = False) -> str | None:
    """The canonical scheme name, None for none given; seqeval's scheme classes are taken by their name."""
    if scheme is None:
        return None
    name = scheme if isinstance(scheme, str) else getattr(scheme, "__name__", None)
    if isinstance(name, str):
        if allow_default and name.lower() == "conlleval":
            return "conlleval"
        for known in SCHEMES:
            if name.upper() == known:
                return known
    choices = ("'conlleval', " if allow_default else "") + ", ".join(repr(s) for s in SCHEMES)
    raise ValueError(f"scheme must be one of {choices} (or None), got {scheme!r}")


def _check_average(average: Any) -> None:
    if average not in AVERAGES or isinstance(average, bool):
        raise ValueError(f"average must be one of 'micro', 'macro', 'weighted' or None, got {average!r}")


def _check_zero_division(zero_division: Any) -> None:
    # 0/1 as ints or floats, not True/False, which would slip through ``in`` by equality
    if isinstance(zero_division, bool) or zero_division not in ZERO_DIVISION:
        raise ValueError(f"zero_division must be 'warn', 0 or 1, got {zero_division!r}")


# ---------------------------------------------------------------- default (conlleval-compatible) entities


def _split_default(tag: str, suffix: bool) -> tuple[str, str]:
    """(position letter, type) as the lenient reader sees a tag: the type of 'O' and of a bare 'B' is '_'."""
    if suffix:
        return tag[-1], tag[:-1].rsplit("-", 1)[0] or "_"
    return tag[0], tag[1:].split("-", 1)[-1] or "_"


# 'O' and '.' never open an entity by a change of type, and a change of type after them closes nothing.  Any other
# letter that is not B/I/E/S (a BILOU 'U', a typo) opens and closes entities on changes of type only.
_OUTSIDE = ("O", ".")


def _ends_before(prev: str, cur: str, prev_type: str, cur_type: str) -> bool:
    """Whether an entity that reaches the previous token stops there."""
    return (
        prev in ("E", "S")
        or (prev in ("B", "I") and cur in ("B", "S", "O"))
        or (prev not in _OUTSIDE and prev_type != cur_type)
    )


def _starts_at(prev: str, cur: str, prev_type: str, cur_type: str) -> bool:
    """Whether an entity begins at the current token."""
    return (
        cur in ("B", "S")
        or (prev in ("O", "E", "S") and cur in ("I", "E"))
        or (cur not in _OUTSIDE and prev_type != cur_type)
    )


_NE_TAG = re.compile(r"^(?:[OBIES]|[BIES]-.*)$", re.DOTALL)
_NE_TAG_SUFFIX = re.compile(r"^(?:[OBIES]|.*-[BIES])$", re.DOTALL)


def _default_entities(stream: list[str], suffix: bool) -> list[Entity]:
    # a corpus has few distinct tags: read each once
    parsed = {tag: _split_default(tag, suffix) for tag in {*stream, "O"}}
    odd = sorted(t for t in parsed if not (_NE_TAG_SUFFIX if suffix else _NE_TAG).match(t))
    if odd:
        shown = ", ".join(repr(t) for t in odd[:5]) + (", ..." if len(odd) > 5 else "")
        warnings.warn(f"{shown} {'do' if len(odd) > 1 else 'does'} not look like NE tags", UserWarning, stacklevel=3)
    entities: list[Entity] = []
    prev, prev_type = "O", ""  # '' differs from every type, so a first non-outside tag always opens an entity
    begin = 0
    # one "O" past the end closes an entity still open at the last token
    for i, tag in enumerate([*stream, "O"]):
        cur, cur_type = parsed[tag]
        if _ends_before(prev, cur, prev_type, cur_type):
            entities.append((prev_type, begin, i - 1))
        if _starts_at(prev, cur, prev_type, cur_type):
            begin = i
        prev, prev_type = cur, cur_type
    return entities


def _stream(sentences: list[list[str]]) -> list[str]:
    """The sentences as one tag stream, an "O" after each, so that no entity runs from one into the next."""
    return [tag for sentence in sentences for tag in (*sentence, "O")]


# ---------------------------------------------------------------- strict entities

# A rule (previous prefixes, current prefixes, type condition) holds between two adjacent tokens when the previous
# token's prefix is among the first, the current one's among the second, and their types are the same ("same"),
# different ("diff") or either ("any").  "*" is any prefix.  An entity opens at a token that matches a `start` rule,
# takes the following tokens while each matches an `inside` rule with its predecessor, and counts only if the first
# token past it matches an `end` rule with the entity's last token.
_Rule = tuple[str, str, str]
_STRICT: dict[str, dict[str, Any]] = {
    "IOB2": {
        "allowed": "IOB",
        "start": [("*", "B", "any")],
        "inside": [("BI", "I", "same")],
        "end": [("BI", "OB", "any"), ("BI", "I", "diff")],
    },
    "IOE2": {
        "allowed": "IOE",
        "start": [("OE", "IE", "any"), ("I", "IE", "diff")],
        "inside": [("I", "IE", "same")],
        "end": [("E", "*", "any")],
    },
    "IOBES": {
        "allowed": "IOBES",
        "start": [("*", "BS", "any")],
        "inside": [("BI", "IE", "same")],
        "end": [("ES", "*", "any")],
    },
    "BILOU": {
        "allowed": "BILOU",
        "start": [("*", "BU", "any")],
        "inside": [("BI", "IL", "same")],
        "end": [("LU", "*", "any")],
    },
}
_PREFIX_LETTERS = "IOBESUL"


def _split_strict(tag: str, suffix: bool) -> tuple[str, str]:
    """(prefix, type) as strict mode sees a tag: the type is the rest with '-' stripped from both ends, or '_'."""
    if suffix:
        return tag[-1], tag[:-1].strip("-") or "_"
    return tag[0], tag[1:].strip("-") or "_"


def _holds(rules: list[_Rule], prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    for prev_prefixes, cur_prefixes, cond in rules:
        if (prev_prefixes == "*" or prev[0] in prev_prefixes) and (cur_prefixes == "*" or cur[0] in cur_prefixes):
            if cond == "any" or (cond == "same") == (prev[1] == cur[1]):
                return True
    return False


def _strict_tokens(
    sentences: list[list[str]], scheme: str, suffix: bool, name: str, flat: bool
) -> list[list[tuple[str, str]]]:
    allowed = _STRICT[scheme]["allowed"]
    parsed = {tag: _split_strict(tag, suffix) for sentence in sentences for tag in set(sentence)}
    bad = {tag for tag, (prefix, _) in parsed.items() if prefix not in allowed}
    if bad:  # name the first one
        i, j, tag = next((i, j, t) for i, sentence in enumerate(sentences) for j, t in enumerate(sentence) if t in bad)
        where = f"{name}[{j}]" if flat else f"{name}[{i}][{j}]"
        raise ValueError(f"{where} = {tag!r} is not an {scheme} tag: its prefix must be one of {', '.join(allowed)}")
    return [[parsed[tag] for tag in sentence] for sentence in sentences]


def _strict_sentence(tokens: list[tuple[str, str]], scheme: str) -> list[Entity]:
    """Entities of one sentence as (type, start, end inclusive)."""
    rules = _STRICT[scheme]
    ext = [*tokens, ("O", "_")]  # the O past the end lets `end` rules see where the last entity stops
    entities: list[Entity] = []
    prev = ("O", "_")
    i = 0
    while i < len(ext):
        if _holds(rules["start"], prev, ext[i]):
            j = i + 1
            while j < len(ext) and _holds(rules["inside"], ext[j - 1], ext[j]):
                j += 1
            if j < len(ext) and _holds(rules["end"], ext[j - 1], ext[j]):
                entities.append((ext[i][1], i, j - 1))
            i = j
        else:
            i += 1
        prev = ext[i - 1]
    return entities


def _detect_scheme(sentences: list[list[str]], suffix: bool) -> str:
    """The scheme whose prefixes ``y_true`` uses, as seqeval's auto_detect decides it."""
    used = set()
    for i, sentence in enumerate(sentences):
        for j, tag in enumerate(sentence):
            prefix = tag[-1] if suffix else tag[0]
            if prefix not in _PREFIX_LETTERS:
                raise ValueError(
                    f"y_true[{i}][{j}] = {tag!r} has no known prefix letter ({', '.join(_PREFIX_LETTERS)})"
                )
            used.add(prefix)
    if "B" in used and used <= set("IOB"):
        return "IOB2"
    if "E" in used and used <= set("IOE"):
        return "IOE2"
    if used == {"S"} or (set("BE") <= used and used <= set("IOBES")):
        return "IOBES"
    if used == {"U"} or (set("BL") <= used and used <= set("IOBLU")):
        return "BILOU"
    raise ValueError(
        f"mode='strict' could not detect the scheme of y_true from its prefixes {sorted(used)}; pass scheme= one of "
        + ", ".join(SCHEMES)
    )


def _strict_entities(
    sentences: list[list[str]], scheme: str, suffix: bool, name: str, flat: bool = False
) -> list[Entity]:
    """Strict entities of every sentence, at their positions in the joined stream (sentence offsets + separators)."""
    entities: list[Entity] = []
    offset = 0
    for sentence in _strict_tokens(sentences, scheme, suffix, name, flat):
        entities.extend((t, offset + s, offset + e) for t, s, e in _strict_sentence(sentence, scheme))
        offset += len(sentence) + 1
    return entities


# ---------------------------------------------------------------- get_entities


def get_entities(
    tags: Sequence[str] | Sequence[Sequence[str]], *, scheme: Any = "conlleval", suffix: bool = False
) -> list[Entity]:
    """The entities in ``tags`` as ``(type, start, end)`` with ``end`` inclusive, in order of position.

    tags: one sentence (a list of tag strings) or a list of sentences; sentences are read as one stream
    with an "O" between them, and the positions index that stream (seqeval's ``get_entities``).
    scheme: "conlleval" (or None) for seqeval's default lenient reading, or "IOB2", "IOE2", "IOBES",
    "BILOU" for strict entities in that scheme (a tag with another prefix is a ValueError).
    suffix: the prefix letter is the tag's last character ("PER-B").
    """
    name = _scheme_name(scheme, allow_default=True) or "conlleval"
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        raise _TagTypeError(f"tags must be a list of tag strings or a list of sentences, got {type(tags).__name__}")
    items = list(tags)
    flat = [isinstance(t, str) for t in items]
    if all(flat):
        sentences = [[_check_tag(t, f"tags[{j}]") for j, t in enumerate(items)]]
    elif not any(flat):
        sentences = _sentences(items, "tags")
    else:
        k = flat.index(True)
        raise _TagTypeError(f"tags mixes tag strings (tags[{k}] = {items[k]!r}) with sentences; pass one or the other")
    if name == "conlleval":
        return _default_entities(sentences[0] if all(flat) else _stream(sentences), suffix)
    return _strict_entities(sentences, name, suffix, "tags", all(flat))


# ---------------------------------------------------------------- counting and scoring


def _counts(
    true: list[list[str]], pred: list[list[str]], mode: Any, scheme: Any, suffix: bool
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Entity types in sorted order and, per type, true positives, predicted and true entity counts."""
    _check_mode(mode)
    name = _scheme_name(scheme)
    if mode == "strict":
        name = name or _detect_scheme(true, suffix)
        ents_true = _strict_entities(true, name, suffix, "y_true")
        ents_pred = _strict_entities(pred, name, suffix, "y_pred")
    else:
        ents_true = _default_entities(_stream(true), suffix)
        ents_pred = _default_entities(_stream(pred), suffix)
    by_type_true: dict[str, set[tuple[int, int]]] = {}
    by_type_pred: dict[str, set[tuple[int, int]]] = {}
    for ents, by_type in ((ents_true, by_type_true), (ents_pred, by_type_pred)):
        for t, s, e in ents:
            by_type.setdefault(t, set()).add((s, e))
    types = sorted(by_type_true.keys() | by_type_pred.keys())
    empty: set[tuple[int, int]] = set()
    tp = np.array([len(by_type_true.get(t, empty) & by_type_pred.get(t, empty)) for t in types], dtype=np.int64)
    n_pred = np.array([len(by_type_pred.get(t, empty)) for t in types], dtype=np.int64)
    n_true = np.array([len(by_type_true.get(t, empty)) for t in types], dtype=np.int64)
    return types, tp, n_pred, n_true


def _ratio(num: np.ndarray, den: np.ndarray, zero_division: Any, what: str, warn: bool) -> np.ndarray:
    out = num / np.where(den == 0, 1, den)
    zero = den == 0
    if zero.any():
        out[zero] = 1.0 if zero_division == 1 else 0.0
        if warn and zero_division == "warn":
            who = "predicted" if what == "Precision" else "true"
            where = "there are" if len(out) == 1 else "some entity types have"
            warnings.warn(
                f"{what} is undefined where {where} no {who} entities and is set to 0.0; pass zero_division=0 or 1 "
                "to choose the value without this warning",
                UndefinedMetricWarning,
                stacklevel=5,
            )
    return out


def _prf(
    tp: np.ndarray,
    n_pred: np.ndarray,
    n_true: np.ndarray,
    average: Any,
    zero_division: Any,
    warn_for: tuple[str, ...],
) -> tuple[Scores, Scores, Scores, Any]:
    """Precision, recall, F1 and support, averaged as asked; the same operations as seqeval, so the same floats."""
    if average == "micro":
        tp, n_pred, n_true = (np.array([a.sum()]) for a in (tp, n_pred, n_true))
    p = _ratio(tp, n_pred, zero_division, "Precision", "precision" in warn_for)
    r = _ratio(tp, n_true, zero_division, "Recall", "recall" in warn_for)
    if zero_division == "warn" and warn_for == ("f1",) and (n_pred[n_true == 0] == 0).any():
        warnings.warn(
            "F-score is undefined where there are neither true nor predicted entities and is set to 0.0; pass "
            "zero_division=0 or 1 to choose the value without this warning",
            UndefinedMetricWarning,
            stacklevel=4,
        )
    den = p + r
    f = 2 * p * r / np.where(den == 0, 1, den)
    if average is None:
        return p, r, f, n_true
    if average == "weighted":
        if n_true.sum() == 0:
            undefined = 1.0 if zero_division == 1 else 0.0
            nothing_predicted = n_pred.sum() == 0
            pf = undefined if nothing_predicted else 0.0
            return pf, undefined, pf, 0
        weights: np.ndarray | None = n_true
    else:
        weights = None
    if len(p) == 0:  # macro over no entity types: NaN as seqeval, without numpy's empty-mean warning
        return float("nan"), float("nan"), float("nan"), 0
    return (
        float(np.average(p, weights=weights)),
        float(np.average(r, weights=weights)),
        float(np.average(f, weights=weights)),
        int(n_true.sum()),
    )


def _score(
    y_true: Any,
    y_pred: Any,
    average: Any,
    mode: Any,
    scheme: Any,
    zero_division: Any,
    suffix: bool,
    which: int,
    warn_for: tuple[str, ...],
) -> Scores:
    _check_average(average)
    _check_zero_division(zero_division)
    true, pred = _pair(y_true, y_pred)
    _, tp, n_pred, n_true = _counts(true, pred, mode, scheme, suffix)
    return _prf(tp, n_pred, n_true, average, zero_division, warn_for)[which]


def precision_score(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    average: str | None = "micro",
    mode: str | None = None,
    scheme: Any = None,
    zero_division: str | int = "warn",
    suffix: bool = False,
) -> Scores:
    """Entity precision: found entities / predicted entities; a float, or per type (sorted) when average is None."""
    return _score(y_true, y_pred, average, mode, scheme, zero_division, suffix, 0, ("precision",))


def recall_score(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    average: str | None = "micro",
    mode: str | None = None,
    scheme: Any = None,
    zero_division: str | int = "warn",
    suffix: bool = False,
) -> Scores:
    """Entity recall: found entities / true entities; a float, or per type (sorted) when average is None."""
    return _score(y_true, y_pred, average, mode, scheme, zero_division, suffix, 1, ("recall",))


def f1_score(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    average: str | None = "micro",
    mode: str | None = None,
    scheme: Any = None,
    zero_division: str | int = "warn",
    suffix: bool = False,
) -> Scores:
    """Entity F1, the harmonic mean of precision and recall (0 where both are 0); per type when average is None.

    average: "micro" pools the counts of all types, "macro" is the plain mean over types, "weighted" weighs each
    type by its number of true entities, None gives a float64 array in sorted type order.
    mode, scheme: see the module docstring.  zero_division: what an undefined precision or recall counts ("warn":
    0 with an UndefinedMetricWarning).  suffix: prefix letters come last ("PER-B").
    """
    return _score(y_true, y_pred, average, mode, scheme, zero_division, suffix, 2, ("f1",))


def accuracy_score(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> float:
    """Token accuracy: the fraction of tokens whose predicted tag equals the true one ('O' tokens included)."""
    return _accuracy(*_pair(y_true, y_pred))


def _accuracy(true: list[list[str]], pred: list[list[str]]) -> float:
    n = sum(len(s) for s in true)
    if n == 0:
        raise ValueError("y_true and y_pred hold no tokens")
    correct = sum(t == p for st, sp in zip(true, pred) for t, p in zip(st, sp))
    return correct / n


def _report(
    true: list[list[str]], pred: list[list[str]], mode: Any, scheme: Any, zero_division: Any, suffix: bool
) -> tuple[list[str], list[tuple[str, Any, Any, Any, Any]]]:
    """Entity types (sorted) and the report's rows: (name, precision, recall, F1, support) per type, then averages."""
    _check_zero_division(zero_division)
    types, tp, n_pred, n_true = _counts(true, pred, mode, scheme, suffix)
    rows: list[tuple[str, Any, Any, Any, Any]] = []
    p, r, f, s = _prf(tp, n_pred, n_true, None, zero_division, ("precision", "recall", "f1"))
    rows.extend((t, float(p[k]), float(r[k]), float(f[k]), int(s[k])) for k, t in enumerate(types))
    for average in ("micro", "macro", "weighted"):
        rows.append(
            (f"{average} avg", *_prf(tp, n_pred, n_true, average, zero_division, ("precision", "recall", "f1")))
        )
    return types, rows


def classification_report(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    digits: int = 2,
    output_dict: bool = False,
    mode: str | None = None,
    scheme: Any = None,
    zero_division: str | int = "warn",
    suffix: bool = False,
) -> str | dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support per entity type and their micro, macro and weighted averages.

    The text has seqeval's layout (so it reads like scikit-learn's report); with output_dict=True the same
    numbers come as {type or "micro avg"/"macro avg"/"weighted avg": {"precision", "recall", "f1-score",
    "support"}}.  digits: decimals shown in the text.
    """
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    types, rows = _report(*_pair(y_true, y_pred), mode, scheme, zero_division, suffix)
    if output_dict:
        return {name: {"precision": p, "recall": r, "f1-score": f, "support": s} for name, p, r, f, s in rows}
    width = max([len("weighted avg"), digits, *map(len, types)])
    lines = [f"{'':>{width}} " + "".join(f" {h:>9}" for h in ("precision", "recall", "f1-score", "support")), ""]
    for k, (name, p, r, f, s) in enumerate(rows):
        if k == len(types):
            lines.append("")  # a blank line between the types and the averages
        lines.append(f"{name:>{width}} " + "".join(f" {v:>9.{digits}f}" for v in (p, r, f)) + f" {s:>9}")
    return "\n".join([*lines, ""])


def ner_scores(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    mode: str | None = None,
    scheme: Any = None,
    zero_division: str | int = "warn",
    suffix: bool = False,
) -> dict[str, Any]:
    """Micro precision/recall/F1, token accuracy and per-type scores in one pass.

    Returns {"precision", "recall", "f1", "accuracy", "per_type": {type: {"precision", "recall", "f1",
    "support"}}}, the numbers of f1_score(average="micro"), accuracy_score and classification_report.
    """
    true, pred = _pair(y_true, y_pred)
    types, rows = _report(true, pred, mode, scheme, zero_division, suffix)
    micro = rows[len(types)]
    return {
        "precision": micro[1],
        "recall": micro[2],
        "f1": micro[3],
        "accuracy": _accuracy(true, pred),
        "per_type": {
            name: {"precision": p, "recall": r, "f1": f, "support": s} for name, p, r, f, s in rows[: len(types)]
        },
    }
