"""Generated (human-readable date, ISO date) pairs for the course's date-translation model.

Dates are drawn with ``faker`` (seeded, so a call with the same seed gives the same pairs) and written
out with ``babel.dates.format_date`` (locale ``en_US``) in the course's formats, plus ordinal forms
("21st of august 2016", "march 3rd 2001", sometimes with a careless "th": "21th") and upper/lower/title
case variants.  As in the course, the human text is then lower-cased and its commas removed.

Deliberate deviation from the course: its patterns use babel's ``YYY``/``YY``, which is the *week-based*
year, so dates around New Year get the wrong year (2018-12-31 renders as "31 dec 2019" while its label
says 2018).  The patterns here use the calendar year (``y``/``yy``), so every text shows its own year.

Dates lie in ``DATE_RANGE`` (1970-01-01 .. 2039-12-31): the two-digit years of "dd.mm.yy" and "m/d/yy"
are then unambiguous (70-99 -> 19xx, 00-39 -> 20xx).  Days are drawn as a uniform offset from the range's
start with faker's seeded ``random_int`` rather than ``date_between_dates``, which goes through the local
time zone and so could give another date on a machine set to another zone.

Vocabularies are fixed (not built from a sample, unlike the course) so that saved weights keep their
meaning: ``HUMAN_VOCAB`` is the course's 37 symbols (space, '.', '/', digits, the 22 letters of English
month and weekday names and ordinal suffixes, ``<unk>``, ``<pad>``); ``MACHINE_VOCAB`` is '-' and the
digits.  ``encode_human`` lower-cases, drops commas, collapses white space, maps any other character
to ``<unk>``, cuts text longer than ``TX`` characters (as the course does: the end, often the year, is
lost) and pads with ``<pad>`` after the text.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DATE_RANGE",
    "FORMATS",
    "HUMAN_VOCAB",
    "MACHINE_VOCAB",
    "ORDINAL_FORMATS",
    "TX",
    "TY",
    "date_pairs",
    "date_splits",
    "decode_machine",
    "encode_human",
    "encode_machine",
    "normalize_human",
    "one_hot",
    "ordinal",
    "render_date",
]

TX = 30  # input length in characters (the course's Tx)
TY = 10  # output length: "YYYY-MM-DD"
LOCALE = "en_US"
DATE_RANGE = (_dt.date(1970, 1, 1), _dt.date(2039, 12, 31))

#: babel patterns: the course's list with the calendar year ``y`` in place of the week year ``YYY``, and
#: two the course's own examples use but its list lacks ("Tue 10 Jul 2007", "5 April 09")
FORMATS: tuple[str, ...] = (
    "short",
    "medium",
    "long",
    "full",
    "d MMM y",
    "d MMMM y",
    "dd MMM y",
    "d MMM, y",
    "d MMMM, y",
    "dd, MMM y",
    "d MM yy",
    "MMMM d y",
    "MMMM d, y",
    "dd.MM.yy",
    "EEE d MMM y",
    "d MMMM yy",
)

#: ordinal forms: ``{o}`` the ordinal day ("3rd"), the rest babel pattern letters for names and year
ORDINAL_FORMATS: tuple[str, ...] = (
    "{o} of MMMM y",
    "the {o} of MMMM y",
    "{o} MMMM y",
    "{o} MMM y",
    "MMMM {o} y",
    "MMMM {o}, y",
    "MMM {o} y",
    "EEEE MMMM {o} y",
)

# How often each form is drawn: the course repeats "full" ten times in its list of 24, so that the
# weekday names are well represented; here "full" counts 4 of 27 and the ordinal forms 8.
_WEIGHTED_FORMS: tuple[str, ...] = FORMATS + ("full",) * 3 + ORDINAL_FORMATS

_SPECIAL = ("<unk>", "<pad>")
HUMAN_VOCAB: tuple[str, ...] = (
    tuple(" ./")
    + tuple("0123456789")
    + tuple("abcdefghijlmnoprstuvwy")  # the letters of English month and weekday names, "of", "st", "nd", ...
    + _SPECIAL
)
MACHINE_VOCAB: tuple[str, ...] = tuple("-0123456789")
HUMAN_INDEX: dict[str, int] = {c: k for k, c in enumerate(HUMAN_VOCAB)}
MACHINE_INDEX: dict[str, int] = {c: k for k, c in enumerate(MACHINE_VOCAB)}
UNK, PAD = HUMAN_INDEX["<unk>"], HUMAN_INDEX["<pad>"]

_CASES = ("as-is", "lower", "upper", "title")
_CASE_WEIGHTS = (4, 3, 2, 1)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return int(value)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return int(seed)


def ordinal(day: int, *, careless: bool = False) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``...; ``careless`` writes "th" always ("21th")."""
    if careless or 10 <= day % 100 <= 20:
        return f"{day}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def render_date(date: _dt.date, form: str, *, careless: bool = False) -> str:
    """``date`` written in ``form`` (one of ``FORMATS`` or ``ORDINAL_FORMATS``), before case and comma
    normalisation: ``render_date(date(2018, 12, 31), "d MMM y") == "31 Dec 2018"``."""
    from babel.dates import format_date  # noqa: PLC0415  (babel's import is slow-ish; load it when needed)

    if not isinstance(date, _dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    if form in FORMATS:
        return str(format_date(date, format=form, locale=LOCALE))
    if form not in ORDINAL_FORMATS:
        raise ValueError(f"form must be one of FORMATS or ORDINAL_FORMATS, got {form!r}")
    words = []
    for word in form.split(" "):  # "{o}" the ordinal day, "the"/"of" literals, anything else babel letters
        comma = "," if word.endswith(",") else ""
        word = word.rstrip(",")
        if word == "{o}":
            words.append(ordinal(date.day, careless=careless) + comma)
        elif word in ("the", "of"):
            words.append(word + comma)
        else:
            words.append(str(format_date(date, format=word, locale=LOCALE)) + comma)
    return " ".join(words)


def normalize_human(text: str) -> str:
    """What the model reads of ``text``: lower-cased, commas removed (the course's preprocessing), and
    -- beyond the course, which never meets them in its generated data -- runs of white space made one
    space and the ends stripped, so "  May 9,  2018 " reads as "may 9 2018"."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return " ".join(text.lower().replace(",", "").split())


def _case(text: str, style: str) -> str:
    if style == "lower":
        return text.lower()
    if style == "upper":
        return text.upper()
    if style == "title":
        return text.title()
    return text


def _render_days(days: Sequence[int], rng: Any, lowercase: bool) -> list[tuple[str, str]]:
    start = DATE_RANGE[0]
    out = []
    for offset in days:
        date = start + _dt.timedelta(days=int(offset))
        form = rng.choice(_WEIGHTED_FORMS)
        text = render_date(date, form, careless=rng.random() < 0.2)
        text = _case(text, rng.choices(_CASES, weights=_CASE_WEIGHTS)[0])
        if lowercase:
            text = normalize_human(text)
        out.append((text, date.isoformat()))
    return out


def _faker_random(seed: int) -> Any:
    from faker import Faker  # noqa: PLC0415

    fake = Faker(LOCALE)
    fake.seed_instance(seed)
    return fake


_N_DAYS = (DATE_RANGE[1] - DATE_RANGE[0]).days + 1


def date_pairs(n: int, seed: int = 0, *, lowercase: bool = True) -> list[tuple[str, str]]:
    """``n`` pairs (human-readable date, ISO date) with dates drawn uniformly from ``DATE_RANGE``.

    lowercase: the course's preprocessing (lower-case, no commas); False keeps the case variants and
    commas as rendered (the model's ``encode_human`` normalises them the same way)."""
    n = _count("n", n)
    fake = _faker_random(_seed(seed))
    days = [fake.random_int(0, _N_DAYS - 1) for _ in range(n)]
    return _render_days(days, fake.random, lowercase)


def date_splits(
    n_train: int, n_test: int, seed: int = 0, *, lowercase: bool = True
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, test) pairs whose dates never overlap: ``n_test`` distinct test dates are drawn first, then
    ``n_train`` training dates (repeats allowed, each in a freshly drawn form) from the remaining days."""
    n_train, n_test = _count("n_train", n_train), _count("n_test", n_test)
    if n_test >= _N_DAYS:
        raise ValueError(f"n_test must be below {_N_DAYS} (the number of days in DATE_RANGE), got {n_test}")
    fake = _faker_random(_seed(seed))
    test_days = fake.random.sample(range(_N_DAYS), n_test)
    held = set(test_days)
    train_days: list[int] = []
    while len(train_days) < n_train:
        day = fake.random_int(0, _N_DAYS - 1)
        if day not in held:
            train_days.append(day)
    return _render_days(train_days, fake.random, lowercase), _render_days(test_days, fake.random, lowercase)


def _strings(strings: Any, what: str) -> list[str]:
    if isinstance(strings, str):
        raise TypeError(f"{what} must be a list of str, got a single str (wrap it: [{strings!r}])")
    try:
        out = list(strings)
    except TypeError:
        raise TypeError(f"{what} must be a list of str, got {type(strings).__name__}") from None
    for k, s in enumerate(out):
        if not isinstance(s, str):
            raise TypeError(f"{what}[{k}] must be a str, got {type(s).__name__}")
    return out


def encode_human(strings: Iterable[str], tx: int = TX) -> np.ndarray:
    """Ids [N, tx] (int64) into ``HUMAN_VOCAB`` of ``normalize_human(s)``: unknown characters -> ``<unk>``,
    text longer than ``tx`` cut to its first ``tx`` characters, shorter text padded with ``<pad>``."""
    texts = _strings(strings, "strings")
    if isinstance(tx, bool) or not isinstance(tx, (int, np.integer)) or tx <= 0:
        raise ValueError(f"tx must be a positive int, got {tx!r}")
    out = np.full((len(texts), int(tx)), PAD, dtype=np.int64)
    for row, text in enumerate(texts):
        ids = [HUMAN_INDEX.get(c, UNK) for c in normalize_human(text)[:tx]]
        out[row, : len(ids)] = ids
    return out


def one_hot(ids: Any, depth: int, dtype: Any = np.float32) -> np.ndarray:
    """One-hot rows [..., depth] of integer ids [...] (the course's ``to_categorical``)."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= depth):
        raise ValueError(f"ids must lie in [0, {depth}), got values from {arr.min()} to {arr.max()}")
    return np.eye(depth, dtype=dtype)[arr]


def encode_machine(isos: Iterable[str]) -> np.ndarray:
    """Ids [N, TY] (int64) into ``MACHINE_VOCAB`` of ISO dates "YYYY-MM-DD"."""
    texts = _strings(isos, "isos")
    out = np.zeros((len(texts), TY), dtype=np.int64)
    for row, text in enumerate(texts):
        if len(text) != TY or any(c not in MACHINE_INDEX for c in text):
            raise ValueError(f"isos[{row}] must be an ISO date of {TY} characters '0'-'9' and '-', got {text!r}")
        out[row] = [MACHINE_INDEX[c] for c in text]
    return out


def decode_machine(ids: Any) -> list[str]:
    """ISO strings of machine ids [N, TY]."""
    arr = np.asarray(ids)
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise ValueError(f"ids must be a 2-d integer array [N, T], got shape {arr.shape} dtype {arr.dtype}")
    return ["".join(MACHINE_VOCAB[int(i)] for i in row) for row in arr]
