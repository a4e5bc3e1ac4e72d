"""Generated news-like sentences tagged with named entities (PER, ORG, LOC, DATE, MONEY), IOB2.

Each sentence is one of the templates in ``TRAIN_TEMPLATES`` or ``TEST_TEMPLATES`` (1 to 4 entities
each) with its slots filled by ``faker``-drawn values:

- ``{PER}`` a person's name of two or three words ("Laura Diaz", "Mary Ann Holt", "John A. Reyes"),
  ``{SURNAME}`` a surname alone ("Reyes said ...") -- both PER;
- ``{ORG}`` a company ("Hartman Inc.", "Lopez and Sons", "Baker-Cole", "Reid, Shaw and Moss",
  "Vance Energy Corp.") -- ORG;
- ``{CITY}``, ``{STATE}`` (a US state; a British county in en_GB), ``{COUNTRY}`` -- LOC;
- ``{DATE}`` a date in one of several forms ("March 3, 2021", "3 March 2021", "2021-03-03",
  "Mar. 3, 2021", "March 2021", "3rd March 2021"), ``{YEAR}`` a year alone -- DATE;
- ``{MONEY}`` an amount ("$1,250", "$4.5 million", "4.5 million dollars", "EUR 300", "£2.3 billion") -- MONEY;
- ``{NUM}``, ``{PCT}``, ``{AGE}`` numbers that are not entities ("300", "4.5 percent"), tagged ``O`` so a
  model cannot take every number for money.

Text is split into tokens the way CoNLL data is: words, and every punctuation mark a token of its own
("Hartman" "Inc" "."; "Paris" ","; "$" "1,250"), numbers with their inner commas and points kept whole
("1,250", "4.5", "2021-03-03"), initialisms kept whole ("U.S."), "'s" a token.

The two splits share no template, so a score on "test" measures generalisation to unseen sentence
structures; their filler values come from differently seeded fakers, "train" with the ``en_US`` locale,
"test" with ``en_GB`` and ``en_US`` mixed (British surnames and counties), so names recur only by chance.
Values are drawn from faker's own word lists with the seeded faker's random generator, which is
many times faster than calling its providers one value at a time (10,000 sentences in about a second).
"""

from __future__ import annotations

import datetime as _dt
import random as _random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from .conll import NERExample

__all__ = [
    "ENTITY_TYPES",
    "NER_LABELS",
    "SLOT_TYPES",
    "TEST_TEMPLATES",
    "TRAIN_TEMPLATES",
    "ner_sentences",
    "tokenize",
]

ENTITY_TYPES: tuple[str, ...] = ("PER", "ORG", "LOC", "DATE", "MONEY")

#: The label set of models trained on these sentences, in a fixed order (index = class id).
NER_LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))

#: What each template slot holds: an entity type, or ``None`` for numbers tagged ``O``.
SLOT_TYPES: dict[str, str | None] = {
    "PER": "PER",
    "SURNAME": "PER",
    "ORG": "ORG",
    "CITY": "LOC",
    "STATE": "LOC",
    "COUNTRY": "LOC",
    "DATE": "DATE",
    "YEAR": "DATE",
    "MONEY": "MONEY",
    "NUM": None,
    "PCT": None,
    "AGE": None,
}

TRAIN_TEMPLATES: tuple[str, ...] = (
    "{PER}, chief executive of {ORG}, said on {DATE} that the company would cut {NUM} jobs.",
    "{ORG} agreed to buy {ORG} for {MONEY}, the companies said on {DATE}.",
    "Shares of {ORG} rose {PCT} in early trading in {CITY}.",
    "{PER} was born in {CITY}, {STATE}, in {YEAR}.",
    "The government of {COUNTRY} announced new tariffs on {DATE}.",
    "{SURNAME} told reporters in {CITY} that talks with {ORG} had stalled.",
    "{ORG} reported a quarterly profit of {MONEY}, up from {MONEY} a year earlier.",
    "Police in {CITY} said {PER}, {AGE}, was arrested on {DATE}.",
    "{PER} will travel to {COUNTRY} next week to meet officials from {ORG}.",
    "Officials in {STATE} approved a budget of {MONEY} for the coming year.",
    "{ORG} named {PER} as its new chief financial officer.",
    "The deal, worth about {MONEY}, is expected to close by {DATE}.",
    "Flooding in {COUNTRY} has forced {NUM} people from their homes, aid workers said.",
    "{ORG} opened a new factory in {CITY} on {DATE}.",
    '"We are very pleased with the result," {SURNAME} said.',
    "{PER} joined {ORG} in {YEAR} after a decade at {ORG}.",
    "The central bank of {COUNTRY} left interest rates unchanged on {DATE}.",
    "{ORG} said it would invest {MONEY} in its plant near {CITY}.",
    "A spokesman for {ORG} declined to comment.",
    "{PER} resigned from the board of {ORG} on {DATE}, citing personal reasons.",
    "Temperatures in {CITY} reached record highs on {DATE}.",
    "The company, based in {CITY}, {STATE}, employs about {NUM} people.",
    "{PER} and {PER} signed the agreement in {CITY}.",
    "Revenue at {ORG} fell {PCT} to {MONEY} in the third quarter.",
    "{COUNTRY} and {COUNTRY} agreed to resume trade talks on {DATE}.",
    "According to {PER}, the project will cost {MONEY}.",
    "{ORG} was fined {MONEY} by regulators in {COUNTRY}.",
    "Voters in {STATE} go to the polls on {DATE}.",
    "{PER}, a former adviser to {PER}, joined {ORG} last month.",
    "The festival in {CITY} drew {NUM} visitors this year.",
    "{ORG} shares closed at {MONEY} on {DATE}.",
    "{SURNAME}, who founded {ORG} in {YEAR}, still owns a majority stake.",
    "Talks between {ORG} and unions in {CITY} broke down on {DATE}.",
    "{PER} won the election in {STATE} with {PCT} of the vote.",
    "Exports from {COUNTRY} rose to {MONEY} in {YEAR}.",
    "{ORG} will move its headquarters from {CITY} to {CITY} by {YEAR}.",
    "An earthquake struck northern {COUNTRY} early on {DATE}.",
    "{PER} has been appointed ambassador to {COUNTRY}.",
    "The museum in {CITY} received a gift of {MONEY} from {PER}.",
    "{ORG} and {ORG} announced a joint venture on {DATE}.",
    "Analysts expect {ORG} to report earnings of {MONEY} per share.",
    "{SURNAME} said the company had no plans to leave {STATE}.",
    "The trial of {PER} began in {CITY} on {DATE}.",
    "Prices in {COUNTRY} rose {PCT} in the year to {DATE}.",
    "{PER} was elected mayor of {CITY} in {YEAR}.",
    "{ORG} recalled {NUM} vehicles sold in {COUNTRY} and {COUNTRY}.",
    "The contract with {ORG} is valued at {MONEY}.",
    "{PER} died in {CITY} on {DATE} at the age of {AGE}.",
    "Thousands marched through {CITY} on {DATE} to protest the new law.",
    "{ORG} hired {PER} from {ORG} to run its operations in {COUNTRY}.",
)

TEST_TEMPLATES: tuple[str, ...] = (
    "In a statement on {DATE}, {ORG} said profits had doubled.",
    "{PER}, the mayor of {CITY}, criticised the plan.",
    "Investors in {COUNTRY} lost an estimated {MONEY} when the fund collapsed.",
    "Speaking in {CITY}, {SURNAME} urged calm.",
    "{ORG} paid {MONEY} to settle the lawsuit brought by {PER}.",
    "The storm hit the coast of {STATE} late on {DATE}.",
    "{PER} left {COUNTRY} for {COUNTRY} in {YEAR}.",
    "A court in {CITY} ordered {ORG} to pay damages.",
    "{ORG}, which employs {NUM} workers, plans to build a plant in {STATE}.",
    "Born in {CITY} in {YEAR}, {PER} studied law before entering politics.",
    "The minister met {PER} and representatives of {ORG} on {DATE}.",
    "Sales of the drug reached {MONEY} last year, {ORG} said.",
    "{SURNAME} is expected to visit {COUNTRY} before {DATE}.",
    "Fans in {CITY} celebrated until dawn.",
    "{ORG} lost {MONEY} in the quarter ending {DATE}.",
    "Negotiators from {COUNTRY} walked out of the meeting in {CITY}.",
    "The award, worth {MONEY}, went to {PER}.",
    "{PER} took over as head of {ORG} on {DATE}.",
    "Residents of {STATE} will vote on the measure in {YEAR}.",
    "On {DATE}, troops crossed the border into {COUNTRY}.",
    "Critics say {ORG} underpaid its staff in {CITY} by {MONEY}.",
    "{PER} thanked supporters in {CITY} after the vote, aged {AGE}.",
    "Since {YEAR}, {ORG} has shipped more than {NUM} units.",
    "The bridge linking {CITY} and {CITY} reopened on {DATE}.",
    "Both {ORG} and {ORG} denied any wrongdoing.",
    "A report by {ORG} put the cost of the damage at {MONEY}, or {PCT} of output.",
)

_SPLITS = ("train", "test")
_LOCALES = {"train": ("en_US",), "test": ("en_GB", "en_US")}

# "'s" first; then initialisms ("U.S."), so their points stay; then words and numbers with inner
# hyphens, apostrophes, points, commas and slashes ("O'Neill", "Baker-Cole", "1,250", "4.5", "2021-03-03")
# but not a possessive "'s" ("Smith" "'s"); then any other single character
_TOKEN = re.compile(r"'s\b|(?:[A-Za-z]\.){2,}|\w+(?:[-.,/]\w+|'(?!s\b)\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """``text`` split into CoNLL-style tokens (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text)


# --- filler values ---------------------------------------------------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_COMPANY_SUFFIXES = ("Inc.", "Corp.", "LLC", "Ltd.", "Group", "Holdings", "PLC", "& Co.", "and Sons", "Partners")
_SECTORS = (
    "Energy",
    "Capital",
    "Logistics",
    "Foods",
    "Pharmaceuticals",
    "Media",
    "Motors",
    "Systems",
    "Airlines",
    "Mining",
    "Software",
    "Insurance",
    "Steel",
    "Telecom",
)
DATE_RANGE = (_dt.date(1950, 1, 1), _dt.date(2035, 12, 31))
_FULL_DATE_FORMS = (0, 1, 2, 3, 5)  # the forms of ``Filler.date`` with day, month and year


def _weighted(values: Any) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """faker keeps some word lists as {word: weight} (drawn by weight) and others as plain sequences."""
    if isinstance(values, dict):
        return tuple(values), tuple(accumulate(float(w) for w in values.values()))
    return tuple(values), None


@dataclass(frozen=True)
class _Words:
    """One faker locale's word lists (weighted where faker weights them)."""

    male: tuple[tuple[str, ...], tuple[float, ...] | None]
    female: tuple[tuple[str, ...], tuple[float, ...] | None]
    last: tuple[tuple[str, ...], tuple[float, ...] | None]
    city_prefixes: tuple[str, ...]
    city_suffixes: tuple[str, ...]
    countries: tuple[str, ...]
    regions: tuple[str, ...]  # US states, British counties
    region_kind: str  # "state" or "county"
    jobs: tuple[str, ...]
    company_suffixes: tuple[str, ...]


@cache
def _words(locale: str) -> _Words:
    from faker import Faker  # noqa: PLC0415  (faker's import is slow; load it when data is made)

    fake = Faker(locale)
    person = fake.provider("faker.providers.person")
    address = fake.provider("faker.providers.address")
    job = fake.provider("faker.providers.job")
    company = fake.provider("faker.providers.company")
    states = tuple(getattr(address, "states", ()))
    regions = states or tuple(getattr(address, "counties", ()))
    return _Words(
        male=_weighted(person.first_names_male),
        female=_weighted(person.first_names_female),
        last=_weighted(person.last_names),
        city_prefixes=tuple(address.city_prefixes),
        city_suffixes=tuple(address.city_suffixes),
        # "Cocos (Keeling) Islands" and the like read badly in a sentence
        countries=tuple(c for c in address.countries if "(" not in c and "," not in c),
        regions=regions,
        region_kind="state" if states else "county",
        # "Exhibitions officer, museum/gallery": jobs with commas, slashes or brackets read badly too
        jobs=tuple(j for j in job.jobs if not any(c in j for c in ",/()")),
        company_suffixes=tuple(company.company_suffixes),
    )


def _faker_rng(locale: str, key: str) -> _random.Random:
    """The random generator of a ``faker`` seeded with ``key`` (a string: seeding with one is stable
    across processes and Python versions)."""
    from faker import Faker  # noqa: PLC0415

    fake = Faker(locale)
    fake.seed_instance(key)
    return fake.random


class Filler:
    """Draws entity values for generated data from a seeded faker; ``locales`` are mixed evenly.

    Shared by :mod:`seqcore.datasets.qa`.  Every value is a plain string; ``rng`` is the generator used
    for everything, so one seeded ``Filler`` gives one reproducible stream.
    """

    def __init__(self, locales: Sequence[str], key: str) -> None:
        self.locales = tuple(locales)
        self.rng = _faker_rng(self.locales[0], key)
        self._words = [_words(loc) for loc in self.locales]
        self._day0 = DATE_RANGE[0].toordinal()
        self._days = DATE_RANGE[1].toordinal() - self._day0

    def words(self) -> _Words:
        return self._words[0] if len(self._words) == 1 else self.rng.choice(self._words)

    def _pick(self, weighted: tuple[tuple[str, ...], tuple[float, ...] | None]) -> str:
        values, cum = weighted
        if cum is None:
            return self.rng.choice(values)
        return self.rng.choices(values, cum_weights=cum)[0]

    def first_name(self, female: bool | None = None) -> str:
        words = self.words()
        if female is None:
            female = self.rng.random() < 0.5
        return self._pick(words.female if female else words.male)

    def surname(self) -> str:
        return self._pick(self.words().last)

    def person(self, female: bool | None = None) -> str:
        """Two words mostly; three ("Mary Ann Holt") or with an initial ("John A. Reyes") at times."""
        words = self.words()
        if female is None:
            female = self.rng.random() < 0.5
        first = self._pick(words.female if female else words.male)
        last = self._pick(words.last)
        r = self.rng.random()
        if r < 0.65:
            return f"{first} {last}"
        if r < 0.88:
            middle = self._pick(words.female if female else words.male)
            return f"{first} {middle} {last}" if middle != first else f"{first} {last} {self._pick(words.last)}"
        return f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"

    def company(self) -> str:
        words = self.words()
        last = self._pick(words.last)
        r = self.rng.random()
        if r < 0.4:
            return f"{last} {self.rng.choice(_COMPANY_SUFFIXES + words.company_suffixes)}"
        if r < 0.6:
            return f"{last} {self.rng.choice(_SECTORS)} {self.rng.choice(_COMPANY_SUFFIXES)}"
        if r < 0.75:
            return f"{last} {self.rng.choice(_SECTORS)}"
        if r < 0.9:
            return f"{last}-{self._pick(words.last)}"
        return f"{last}, {self._pick(words.last)} and {self._pick(words.last)}"

    def city(self) -> str:
        # faker's city formats, drawn here with its own word lists
        words = self.words()
        form = self.rng.randrange(4)
        if form == 3:
            return self._pick(words.last) + self.rng.choice(words.city_suffixes)
        first = self.first_name()
        if form == 0:
            return f"{self.rng.choice(words.city_prefixes)} {first}{self.rng.choice(words.city_suffixes)}"
        if form == 1:
            return f"{self.rng.choice(words.city_prefixes)} {first}"
        return first + self.rng.choice(words.city_suffixes)

    def country(self) -> str:
        return self.rng.choice(self.words().countries)

    def region(self) -> str:
        return self.rng.choice(self.words().regions)

    def region_and_kind(self) -> tuple[str, str]:
        """A region and what it is ("state" or "county"), from one locale."""
        words = self.words()
        return self.rng.choice(words.regions), words.region_kind

    def job(self) -> str:
        return self.rng.choice(self.words().jobs)

    def day(self, first_year: int | None = None, last_year: int | None = None) -> _dt.date:
        """A day drawn uniformly from ``DATE_RANGE``, or from the years ``first_year``..``last_year``."""
        lo = self._day0 if first_year is None else _dt.date(first_year, 1, 1).toordinal()
        hi = self._day0 + self._days if last_year is None else _dt.date(last_year, 12, 31).toordinal()
        return _dt.date.fromordinal(lo + self.rng.randrange(hi - lo + 1))

    def year(self, lo: int = 1950, hi: int = 2030) -> str:
        return str(self.rng.randint(lo, hi))

    def date(self, day: _dt.date | None = None, *, full: bool = False) -> str:
        """``day`` (drawn if not given) written in one of several forms; ``full``: only forms with the
        day, month and year ("March 3, 2021", not "March 2021" or "March 3")."""
        d = day or self.day()
        month = _MONTHS[d.month - 1]
        form = self.rng.choice(_FULL_DATE_FORMS) if full else self.rng.randrange(7)
        if form == 0:
            return f"{month} {d.day}, {d.year}"
        if form == 1:
            return f"{d.day} {month} {d.year}"
        if form == 2:
            return d.isoformat()
        if form == 3:
            short = month if len(month) <= 4 else month[:3] + "."
            return f"{short} {d.day}, {d.year}"
        if form == 4:
            return f"{month} {d.year}"
        if form == 5:
            return f"{_ordinal(d.day)} {month} {d.year}"
        return f"{month} {d.day}"

    def amount(self) -> str:
        """A number as written in money: "1,250", "4.5 million", "300 billion"."""
        r = self.rng.random()
        if r < 0.45:
            return f"{self.rng.choice((self.rng.randint(1, 999), self.rng.randint(1_000, 99_999) // 10 * 10)):,}"
        scale = "million" if r < 0.85 else "billion"
        whole = self.rng.randint(1, 950)
        return f"{whole} {scale}" if self.rng.random() < 0.5 or whole % 10 == 0 else f"{whole / 10:.1f} {scale}"

    def money(self, *, large: bool = False) -> str:
        """An amount of money; ``large``: millions or billions."""
        amount = self.amount()
        while large and not amount.endswith("illion"):
            amount = self.amount()
        form = self.rng.randrange(6)
        if form <= 1:
            return f"${amount}"
        if form == 2:
            return f"{amount} dollars"
        if form == 3:
            return f"{self.rng.choice(('EUR', 'GBP', 'USD'))} {amount}"
        if form == 4:
            return f"{amount} euros"
        return f"£{amount}"

    def number(self) -> str:
        value = self.rng.choice((self.rng.randint(2, 99), self.rng.randint(100, 999), self.rng.randint(1, 90) * 1000))
        return f"{value:,}"

    def percent(self) -> str:
        tenths = self.rng.choice((self.rng.randint(1, 60) * 10, self.rng.randint(1, 199)))
        value = f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths / 10:.1f}"
        return f"{value} percent" if self.rng.random() < 0.7 else f"{value}%"

    def age(self) -> str:
        return str(self.rng.randint(18, 97))


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


_SLOT = re.compile(r"\{([A-Z]+)\}")


@cache
def _parsed(template: str) -> tuple[tuple[bool, Any], ...]:
    """A template as parts: (False, literal tokens) or (True, slot name)."""
    parts: list[tuple[bool, Any]] = []
    pos = 0
    for match in _SLOT.finditer(template):
        if match.start() > pos:
            parts.append((False, tuple(tokenize(template[pos : match.start()]))))
        if match.group(1) not in SLOT_TYPES:
            raise ValueError(f"template {template!r}: unknown slot {match.group(0)}")
        parts.append((True, match.group(1)))
        pos = match.end()
    if pos < len(template):
        parts.append((False, tuple(tokenize(template[pos:]))))
    return tuple(parts)


def _value(fill: Filler, slot: str) -> str:
    if slot == "PER":
        return fill.person()
    if slot == "SURNAME":
        return fill.surname()
    if slot == "ORG":
        return fill.company()
    if slot == "CITY":
        return fill.city()
    if slot == "STATE":
        return fill.region()
    if slot == "COUNTRY":
        return fill.country()
    if slot == "DATE":
        return fill.date()
    if slot == "YEAR":
        return fill.year()
    if slot == "MONEY":
        return fill.money()
    if slot == "NUM":
        return fill.number()
    if slot == "PCT":
        return fill.percent()
    return fill.age()


def fill_template(template: str, fill: Filler) -> NERExample:
    """One sentence from ``template`` (its slots drawn with ``fill``), tokenised and tagged IOB2."""
    tokens: list[str] = []
    tags: list[str] = []
    for is_slot, part in _parsed(template):
        if not is_slot:
            # "Hartman Inc." ends a sentence with a single point, not "Inc" "." "."
            skip = 1 if part[:1] == (".",) and tokens[-1:] == ["."] else 0
            tokens.extend(part[skip:])
            tags.extend(["O"] * (len(part) - skip))
            continue
        words = tokenize(_value(fill, part))
        kind = SLOT_TYPES[part]
        tokens.extend(words)
        if kind is None:
            tags.extend(["O"] * len(words))
        else:
            tags.extend([f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1))
    return NERExample(tuple(tokens), tuple(tags))


def _check_args(n: Any, seed: Any, split: Any) -> tuple[int, int, str]:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return n, seed, split


def ner_sentences(n: int, seed: int = 0, *, split: str = "train") -> list[NERExample]:
    """``n`` generated sentences of ``split`` ("train" or "test"), tagged IOB2 with ``NER_LABELS``.

    Templates are drawn uniformly from the split's list, slot values from a faker seeded by
    ``(split, seed)``: the same arguments give the same sentences, and the first ``k`` sentences of a
    longer run are the ``k`` of a shorter one.
    """
    n, seed, split = _check_args(n, seed, split)
    fill = Filler(_LOCALES[split], f"seqcore.ner/{split}/{seed}")
    templates = TRAIN_TEMPLATES if split == "train" else TEST_TEMPLATES
    return [fill_template(fill.rng.choice(templates), fill) for _ in range(n)]
