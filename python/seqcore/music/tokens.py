"""Note tokens, chord symbols and the token vocabulary of the music models.

A :class:`NoteToken` is one event of a monophonic melody: a pitch (a MIDI note number
0..127, or ``None`` for a rest), a duration in quarter notes and, optionally, the chord
sounding underneath.  Durations live on a grid of ``GRID = 12`` steps per quarter note, so
both swing/triplet values (1/3, 2/3 of a beat) and straight ones (1/4, 1/2, 3/4) are exact;
they are held as :class:`fractions.Fraction` so that sums of durations never drift.

Tokens print and parse as short strings, which is also how a :class:`Vocabulary` stores
them in JSON::

    C4:1        middle C for one beat
    Bb4:2/3     B-flat above it, the long half of a swung eighth pair
    R:1/3       a rest of a third of a beat
    E5:1@Cmaj7  E5 for a beat over a C major seventh chord

Chords are chord symbols with a root (C, Db, ..., B; sharps are accepted and spelled as
flats) and a quality from :data:`CHORD_QUALITIES` (``Dm7``, ``G7``, ``Cmaj7``, ``Bm7b5``,
``G7b9``, ...).  A pitch set that no quality names is written as its note names joined by
``|`` from the bass up (``C|E|F#`` becomes ``C|E|Gb``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import numpy as np

__all__ = [
    "CHORD_QUALITIES",
    "GRID",
    "NoteToken",
    "Vocabulary",
    "canonical_chord",
    "chord_pitches",
    "chord_root",
    "chord_symbol",
    "chord_tones",
    "note_name",
    "note_number",
    "quantize_duration",
    "take_beats",
    "total_beats",
]

GRID = 12
"""Grid steps per quarter note: 12 holds triplets (4 steps) and sixteenths (3 steps) exactly."""

Duration = Union[int, float, Fraction, str]

PITCH_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "b": -1, "##": 2, "bb": -2, "\u266f": 1, "\u266d": -1}
_NOTE_RE = re.compile(r"([A-Ga-g])(##|bb|#|b|\u266f|\u266d)?(-?\d+)")
_ROOT_RE = re.compile(r"([A-G])(##|bb|#|b|\u266f|\u266d)?")

CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "mMaj7": (0, 3, 7, 11),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "7sus4": (0, 5, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "7b9": (0, 4, 7, 10, 13),
}
"""Chord qualities (the part of a symbol after the root) and their intervals above the root."""

_QUALITY_ALIASES = {
    "M": "",
    "maj": "",
    "min": "m",
    "-": "m",
    "o": "dim",
    "\u00b0": "dim",
    "+": "aug",
    "sus": "sus4",
    "M7": "maj7",
    "\u0394": "maj7",
    "\u03947": "maj7",
    "Maj7": "maj7",
    "min7": "m7",
    "-7": "m7",
    "mM7": "mMaj7",
    "-maj7": "mMaj7",
    "\u00f8": "m7b5",
    "\u00f87": "m7b5",
    "-7b5": "m7b5",
    "min7b5": "m7b5",
    "o7": "dim7",
    "\u00b07": "dim7",
    "min6": "m6",
    "-6": "m6",
    "min9": "m9",
    "-9": "m9",
    "M9": "maj9",
}

# a pitch set is named by trying qualities in this order, so the plainer name wins a tie
_NAMING_ORDER = sorted(CHORD_QUALITIES, key=lambda q: (len(CHORD_QUALITIES[q]), list(CHORD_QUALITIES).index(q)))


# ---------------------------------------------------------------- notes


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI note number: 60 -> ``"C4"``, 70 -> ``"Bb4"``."""
    _check_pitch("pitch", pitch)
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def note_number(name: str) -> int:
    """MIDI note number of a pitch name: ``"C4"`` -> 60, ``"F#5"`` and ``"Gb5"`` -> 78."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a pitch name such as 'C4' or 'Bb3', got {type(name).__name__}")
    m = _NOTE_RE.fullmatch(name.strip())
    if m is None:
        raise ValueError(f"name: expected a pitch name such as 'C4', 'F#5' or 'Bb3', got {name!r}")
    letter, accidental, octave = m.groups()
    pitch = (int(octave) + 1) * 12 + _LETTERS[letter.upper()] + _ACCIDENTALS[accidental or ""]
    if not 0 <= pitch <= 127:
        raise ValueError(f"name: {name!r} is MIDI note {pitch}, outside 0..127")
    return pitch


def _check_pitch(what: str, pitch: Any) -> int:
    if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)):
        raise TypeError(f"{what}: expected a MIDI note number (int 0..127), got {type(pitch).__name__}: {pitch!r}")
    if not 0 <= pitch <= 127:
        raise ValueError(f"{what}: expected a MIDI note number in 0..127, got {pitch}")
    return int(pitch)


def quantize_duration(value: Duration, grid: int = GRID) -> Fraction:
    """``value`` quarter notes rounded to the nearest step of ``grid`` per quarter (at least one step)."""
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid <= 0 or GRID % int(grid):
        raise ValueError(f"grid: expected a positive divisor of {GRID} (1, 2, 3, 4, 6 or 12), got {grid!r}")
    steps = round(_as_fraction("value", value) * int(grid))
    return Fraction(max(1, steps), int(grid))


def _as_fraction(what: str, value: Any) -> Fraction:
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a number of quarter notes, got a bool")
    if isinstance(value, Fraction):
        frac = value
    elif isinstance(value, (int, np.integer)):
        frac = Fraction(int(value))
    elif isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ValueError(f"{what}: expected a finite number of quarter notes, got {value}")
        frac = Fraction(float(value))
    elif isinstance(value, str):
        try:
            frac = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"{what}: expected a number of quarter notes such as '1', '2/3' or '0.5', got {value!r}"
            ) from None
    else:
        raise TypeError(f"{what}: expected a number of quarter notes, got {type(value).__name__}: {value!r}")
    return frac


def _grid_duration(what: str, value: Any) -> Fraction:
    """A positive duration on the grid; floats within 1e-6 of a grid step are snapped to it (2/3 as 0.6667 is not)."""
    frac = _as_fraction(what, value)
    steps = frac * GRID
    if steps.denominator != 1:
        nearest = round(steps)
        if isinstance(value, (float, np.floating)) and abs(float(steps) - nearest) < 1e-6:
            steps = Fraction(nearest)
        else:
            raise ValueError(
                f"{what}: expected a multiple of 1/{GRID} quarter note, got {value!r}; "
                "round it first with seqcore.music.quantize_duration"
            )
    if steps <= 0:
        raise ValueError(f"{what}: expected a positive number of quarter notes, got {value!r}")
    return Fraction(int(steps), GRID)


# ---------------------------------------------------------------- chords


def _parse_root(text: str, what: str) -> tuple[int, str]:
    m = _ROOT_RE.match(text)
    if m is None:
        raise ValueError(f"{what}: expected a chord symbol such as 'Dm7', 'G7' or 'Cmaj7', got {text!r}")
    letter, accidental = m.groups()
    return (_LETTERS[letter] + _ACCIDENTALS[accidental or ""]) % 12, text[m.end() :]


def _parse_chord(symbol: str, what: str = "chord") -> tuple[int, str] | tuple[int, ...]:
    """(root pitch class, canonical quality) for a symbol, or the tuple of pitch classes of a ``|`` set."""
    if not isinstance(symbol, str):
        raise TypeError(f"{what}: expected a chord symbol string such as 'Dm7', got {type(symbol).__name__}")
    text = symbol.strip()
    if "|" in text:
        pcs = []
        for part in text.split("|"):
            pc, rest = _parse_root(part.strip(), what)
            if rest:
                raise ValueError(f"{what}: expected note names joined by '|' (e.g. 'C|E|G'), got {symbol!r}")
            pcs.append(pc)
        return tuple(pcs)
    root, quality = _parse_root(text, what)
    quality = _QUALITY_ALIASES.get(quality, quality)
    if quality not in CHORD_QUALITIES:
        known = ", ".join(repr(q) for q in CHORD_QUALITIES)
        raise ValueError(f"{what}: unknown chord quality {quality!r} in {symbol!r}; known qualities: {known}")
    return root, quality


def canonical_chord(symbol: str) -> str:
    """The spelling seqcore uses for a chord symbol: ``"A#-7"`` -> ``"Bbm7"``, ``"C|E|F#"`` -> ``"C|E|Gb"``."""
    parsed = _parse_chord(symbol)
    if len(parsed) == 2 and isinstance(parsed[1], str):
        return PITCH_NAMES[parsed[0]] + parsed[1]
    return "|".join(PITCH_NAMES[pc] for pc in parsed)


def chord_root(symbol: str) -> int:
    """The root's pitch class (0 = C .. 11 = B); for a ``|`` set, its bass."""
    return int(_parse_chord(symbol)[0])


def chord_tones(symbol: str) -> tuple[int, ...]:
    """The chord's intervals above its root (for a ``|`` set, above its bass, within an octave)."""
    parsed = _parse_chord(symbol)
    if len(parsed) == 2 and isinstance(parsed[1], str):
        return CHORD_QUALITIES[parsed[1]]
    bass = parsed[0]
    return tuple(sorted({(pc - bass) % 12 for pc in parsed}))


def chord_pitches(symbol: str, *, octave: int = 3) -> list[int]:
    """MIDI pitches of a root-position voicing of ``symbol``, the root in ``octave`` (3: C3 = 48).

    A ``|`` set is voiced upwards from its first note, each note above the one before.
    """
    if isinstance(octave, bool) or not isinstance(octave, (int, np.integer)) or not -1 <= octave <= 8:
        raise ValueError(f"octave: expected an int in -1..8, got {octave!r}")
    parsed = _parse_chord(symbol)
    base = (int(octave) + 1) * 12
    if len(parsed) == 2 and isinstance(parsed[1], str):
        pitches = [base + parsed[0] + i for i in CHORD_QUALITIES[parsed[1]]]
    else:
        pitches = []
        for pc in parsed:
            if not pitches:
                pitches.append(base + pc)
            else:  # each note above the previous one, a unison an octave up
                pitches.append(pitches[-1] + ((pc - pitches[-1]) % 12 or 12))
    if pitches[-1] > 127:
        raise ValueError(f"octave: voicing {symbol!r} in octave {octave} goes above MIDI note 127")
    return pitches


def chord_symbol(pitches: Iterable[int]) -> str | None:
    """Name the chord formed by MIDI ``pitches`` (None for no pitches).

    The bass (lowest pitch) is tried as the root first, so C E G A is ``C6`` and A C E G is
    ``Am7``; a set no quality names in any inversion is spelled as a ``|`` set from the bass.
    """
    ps = sorted({_check_pitch("pitches", p) for p in pitches})
    if not ps:
        return None
    bass = ps[0] % 12
    pcs = {p % 12 for p in ps}
    others = [pc for pc in sorted(pcs, key=lambda pc: (pc - bass) % 12) if pc != bass]
    for root in [bass, *others]:
        rel = frozenset((pc - root) % 12 for pc in pcs)
        for quality in _NAMING_ORDER:
            if frozenset(i % 12 for i in CHORD_QUALITIES[quality]) == rel:
                return PITCH_NAMES[root] + quality
    return "|".join(PITCH_NAMES[pc] for pc in [bass, *others])


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True, init=False)
class NoteToken:
    """One melody event: ``pitch`` (MIDI 0..127, None for a rest), ``duration`` in quarter notes, ``chord``.

    ``duration`` may be given as an int, a Fraction, a string (``"2/3"``) or a float within
    1e-6 of a multiple of 1/12; it is stored as a Fraction.  ``chord`` is stored in its
    canonical spelling (see :func:`canonical_chord`), so equal chords compare equal.
    """

    pitch: int | None
    duration: Fraction
    chord: str | None = None

    def __init__(self, pitch: int | None, duration: Duration, chord: str | None = None) -> None:
        object.__setattr__(self, "pitch", None if pitch is None else _check_pitch("pitch", pitch))
        object.__setattr__(self, "duration", _grid_duration("duration", duration))
        object.__setattr__(self, "chord", None if chord is None else canonical_chord(chord))

    @property
    def is_rest(self) -> bool:
        return self.pitch is None

    @property
    def steps(self) -> int:
        """The duration in grid steps (1/12 of a quarter note)."""
        return int(self.duration * GRID)

    def without_chord(self) -> NoteToken:
        return self if self.chord is None else NoteToken(self.pitch, self.duration)

    def with_chord(self, chord: str | None) -> NoteToken:
        return NoteToken(self.pitch, self.duration, chord)

    def __str__(self) -> str:
        head = "R" if self.pitch is None else note_name(self.pitch)
        return f"{head}:{self.duration}" + ("" if self.chord is None else f"@{self.chord}")

    @classmethod
    def parse(cls, text: str) -> NoteToken:
        """The token written by ``str(token)``: ``"Bb4:2/3"``, ``"R:1"``, ``"E5:1@Cmaj7"``."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a token string such as 'C4:1' or 'R:1/3', got {type(text).__name__}")
        body, _, chord = text.strip().partition("@")
        head, sep, duration = body.partition(":")
        if not sep or not head or not duration:
            raise ValueError(f"text: expected 'PITCH:DURATION[@CHORD]' such as 'C4:1', 'R:1/3', got {text!r}")
        pitch = None if head in ("R", "r", "rest") else note_number(head)
        return cls(pitch, _as_fraction("duration", duration), chord or None)


def total_beats(tokens: Iterable[NoteToken]) -> Fraction:
    """The summed duration of ``tokens`` in quarter notes."""
    return sum((t.duration for t in tokens), Fraction(0))


def take_beats(tokens: Iterable[NoteToken], beats: Duration) -> list[NoteToken]:
    """The leading tokens that fill ``beats`` quarter notes, the last one shortened to end exactly there.

    Raises ValueError when the tokens are shorter than ``beats``.
    """
    target = _grid_duration("beats", beats)
    out: list[NoteToken] = []
    used = Fraction(0)
    for tok in tokens:
        if used >= target:
            break
        room = target - used
        out.append(tok if tok.duration <= room else NoteToken(tok.pitch, room, tok.chord))
        used += out[-1].duration
    if used < target:
        raise ValueError(f"beats: the tokens last {used} quarter notes, fewer than the {target} asked for")
    return out


class Vocabulary:
    """A fixed mapping between note tokens and ids 0..n-1 (the one-hot positions of the music models).

    With ``with_chords=False`` (the default) a token's chord is not part of its identity:
    tokens are stored, encoded and decoded without chords.  Build one from data with
    :meth:`build`; save it with :meth:`to_config` (JSON-serializable) and :meth:`from_config`.
    """

    def __init__(self, tokens: Iterable[NoteToken], *, with_chords: bool = False) -> None:
        if not isinstance(with_chords, (bool, np.bool_)):
            raise TypeError(f"with_chords: expected a bool, got {type(with_chords).__name__}")
        self.with_chords = bool(with_chords)
        self._tokens: list[NoteToken] = []
        self._ids: dict[NoteToken, int] = {}
        for tok in tokens:
            if not isinstance(tok, NoteToken):
                raise TypeError(f"tokens: expected NoteToken objects, got {type(tok).__name__}: {tok!r}")
            key = self._key(tok)
            if key in self._ids:
                raise ValueError(f"tokens: {key} appears twice; a vocabulary holds each token once")
            self._ids[key] = len(self._tokens)
            self._tokens.append(key)
        if not self._tokens:
            raise ValueError("tokens: a vocabulary needs at least one token")

    def _key(self, tok: NoteToken) -> NoteToken:
        return tok if self.with_chords else tok.without_chord()

    @classmethod
    def build(cls, sequences: Iterable[Iterable[NoteToken]], *, with_chords: bool = False) -> Vocabulary:
        """Every distinct token of ``sequences`` (lists of tokens), in a stable sorted order."""
        seen: set[NoteToken] = set()
        for i, seq in enumerate(sequences):
            if isinstance(seq, NoteToken):
                raise TypeError(
                    "sequences: expected a list of token lists, got a flat list of tokens; wrap it: [tokens]"
                )
            for tok in seq:
                if not isinstance(tok, NoteToken):
                    raise TypeError(f"sequences[{i}]: expected NoteToken objects, got {type(tok).__name__}: {tok!r}")
                seen.add(tok if with_chords else tok.without_chord())

        def order(t: NoteToken) -> tuple[Any, ...]:
            return (t.chord or "", t.pitch is not None, t.pitch or 0, t.duration)

        return cls(sorted(seen, key=order), with_chords=with_chords)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, tok: object) -> bool:
        return isinstance(tok, NoteToken) and self._key(tok) in self._ids

    def __iter__(self) -> Iterator[NoteToken]:
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._tokens == other._tokens and self.with_chords == other.with_chords

    def __hash__(self) -> int:
        return hash((tuple(self._tokens), self.with_chords))

    def __repr__(self) -> str:
        return f"<Vocabulary {len(self)} tokens{' with chords' if self.with_chords else ''}>"

    @property
    def tokens(self) -> list[NoteToken]:
        return list(self._tokens)

    def id(self, tok: NoteToken) -> int:
        """The id of one token; ValueError naming it when it is not in the vocabulary."""
        if not isinstance(tok, NoteToken):
            raise TypeError(f"token: expected a NoteToken, got {type(tok).__name__}: {tok!r}")
        try:
            return self._ids[self._key(tok)]
        except KeyError:
            raise ValueError(f"token {self._key(tok)} is not in the vocabulary ({len(self)} tokens)") from None

    def token(self, index: int) -> NoteToken:
        """The token of one id."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index: expected an int id, got {type(index).__name__}: {index!r}")
        if not 0 <= index < len(self._tokens):
            raise ValueError(f"index: expected an id in 0..{len(self._tokens) - 1}, got {index}")
        return self._tokens[int(index)]

    def encode(self, tokens: Iterable[NoteToken], *, skip_unknown: bool = False) -> np.ndarray:
        """Ids (int64) of ``tokens``; unknown tokens raise ValueError, or are dropped with ``skip_unknown``."""
        ids = []
        for tok in tokens:
            if skip_unknown and tok not in self:
                continue
            ids.append(self.id(tok))
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[NoteToken]:
        """Tokens of ``ids``."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"ids: expected a 1-D sequence of int ids, got shape {arr.shape} dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self._tokens)):
            raise ValueError(f"ids: expected ids in 0..{len(self._tokens) - 1}, got {int(arr.min())}..{int(arr.max())}")
        return [self._tokens[int(i)] for i in arr]

    def to_config(self) -> dict[str, Any]:
        """A JSON-serializable description: the tokens as strings, in id order."""
        return {"grid": GRID, "with_chords": self.with_chords, "tokens": [str(t) for t in self._tokens]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        """The vocabulary ``to_config`` described."""
        if not isinstance(config, dict) or not isinstance(config.get("tokens"), list):
            raise ValueError("config: expected a dict with a 'tokens' list (from Vocabulary.to_config)")
        if config.get("grid", GRID) != GRID:
            raise ValueError(
                f"config: tokens on a grid of {config.get('grid')} steps per beat; this seqcore uses {GRID}"
            )
        return cls([NoteToken.parse(s) for s in config["tokens"]], with_chords=bool(config.get("with_chords", False)))

    def to_json(self) -> str:
        return json.dumps(self.to_config())

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"text: not a JSON vocabulary ({exc})") from None
        return cls.from_config(config)
