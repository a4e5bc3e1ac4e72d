"""Generated jazz solos for the music models (course week 1, "Improvise a jazz solo").

Nothing is downloaded: ``jazz_solos`` improvises monophonic lines over chord progressions
with a small grammar, seeded, in milliseconds.  The grammar, per two-bar phrase:

* rhythm: the phrase starts on the beat, on the swung "and" of beat 1 or on beat 2, plays
  for five to seven beats and breathes (rests) to the phrase's end.  Each beat is a swung
  eighth pair (2/3 + 1/3 of a beat), a quarter, a triplet, half of a half note, or a rest
  and an off-beat eighth; now and then an off-beat note is tied over the next beat (an
  anticipation), which makes the longer, syncopated durations.
* pitch: notes on beats 1 and 3 are chord tones of the chord sounding then; other notes
  step through the chord's scale (dorian over m7, mixolydian over 7, ...) or leap along
  the arpeggio; before a strong beat a note is often an approach tone -- a chromatic or
  scale neighbour of the chord tone that follows, which then resolves to it.  The line
  changes direction at random and at the edges of its range, and a phrase ends on a chord
  tone.

``training_windows`` cuts token-id sequences into the course's training arrays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import numpy as np

from ..music.tokens import (
    GRID,
    PITCH_NAMES,
    NoteToken,
    _parse_root,
    canonical_chord,
    chord_root,
    chord_tones,
    note_number,
)

__all__ = ["PROGRESSIONS", "JazzSolo", "jazz_solos", "realize_progression", "training_windows"]

PROGRESSIONS: dict[str, str] = {
    "ii-V-I": "| ii7 | V7 | Imaj7 | Imaj7 |",
    "turnaround": "| Imaj7 vi7 | ii7 V7 |",
    "minor-ii-V-i": "| ii7b5 | V7b9 | i7 | i7 |",
    "blues": "| I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | VI7 | ii7 | V7 | I7 VI7 | ii7 V7 |",
    "rhythm": "| Imaj7 vi7 | ii7 V7 | iii7 VI7 | ii7 V7 | I7 | IV7 | iii7 VI7 | ii7 V7 |",
}
"""Named progressions in roman numerals, one ``|`` per bar (lower case: minor; ``7b5``: half-diminished)."""

DEFAULT_KEYS = ("C", "F", "Bb", "G")

_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_ROMAN_RE = re.compile(r"(b|#)?(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(.*)")
# what a suffix means after a lower-case (minor) numeral: "ii7" is Dm7 in C, as jazz writes it
_MINOR_SUFFIX = {
    "": "m",
    "7": "m7",
    "6": "m6",
    "9": "m9",
    "maj7": "mMaj7",
    "7b5": "m7b5",
    "\u00f8": "m7b5",
    "\u00f87": "m7b5",
    "o": "dim",
    "dim": "dim",
    "o7": "dim7",
    "dim7": "dim7",
}
# the scale a line moves through over each chord quality (intervals above the root)
_SCALES: dict[str, tuple[int, ...]] = {
    "": (0, 2, 4, 5, 7, 9, 11),
    "6": (0, 2, 4, 5, 7, 9, 11),
    "maj7": (0, 2, 4, 5, 7, 9, 11),
    "maj9": (0, 2, 4, 5, 7, 9, 11),
    "m": (0, 2, 3, 5, 7, 9, 10),
    "m6": (0, 2, 3, 5, 7, 9, 10),
    "m7": (0, 2, 3, 5, 7, 9, 10),
    "m9": (0, 2, 3, 5, 7, 9, 10),
    "mMaj7": (0, 2, 3, 5, 7, 9, 11),
    "7": (0, 2, 4, 5, 7, 9, 10),
    "9": (0, 2, 4, 5, 7, 9, 10),
    "sus4": (0, 2, 4, 5, 7, 9, 10),
    "7sus4": (0, 2, 4, 5, 7, 9, 10),
    "7b9": (0, 1, 3, 4, 6, 7, 9, 10),
    "m7b5": (0, 1, 3, 5, 6, 8, 10),
    "dim": (0, 2, 3, 5, 6, 8, 9, 11),
    "dim7": (0, 2, 3, 5, 6, 8, 9, 11),
    "aug": (0, 2, 4, 6, 8, 10),
}

ChordSpans = tuple[tuple[str, Fraction], ...]
Pitch = Union[int, str]


@dataclass(frozen=True)
class JazzSolo:
    """One generated solo: its key, progression, the chord spans under it and its tokens (with chords)."""

    key: str
    progression: str
    chords: ChordSpans
    tokens: tuple[NoteToken, ...]

    @property
    def n_bars(self) -> int:
        return int(sum((d for _, d in self.chords), Fraction(0)) / 4)


# ---------------------------------------------------------------- progressions


def _key_root(key: Any) -> int:
    if not isinstance(key, str):
        raise TypeError(f"key: expected a key name such as 'C', 'Bb' or 'F#', got {type(key).__name__}: {key!r}")
    try:
        root, rest = _parse_root(key.strip(), "key")
    except ValueError:
        rest = key
    if rest:
        raise ValueError(f"key: expected a key name such as 'C', 'Bb' or 'F#' (no quality), got {key!r}")
    return root


def _chord_in_key(token: str, tonic: int) -> str:
    m = _ROMAN_RE.fullmatch(token)
    if m is None:
        return canonical_chord(token)  # an absolute chord such as "Dm7"
    accidental, numeral, suffix = m.groups()
    root = (tonic + _DEGREES[numeral.upper()] + {None: 0, "b": -1, "#": 1}[accidental]) % 12
    if numeral.islower():
        if suffix not in _MINOR_SUFFIX:
            raise ValueError(
                f"progression: unknown suffix {suffix!r} after the minor numeral in {token!r}; "
                f"known: {', '.join(repr(s) for s in _MINOR_SUFFIX)}"
            )
        suffix = _MINOR_SUFFIX[suffix]
    return canonical_chord(PITCH_NAMES[root] + suffix)


def realize_progression(
    progression: str, key: str = "C", *, n_bars: int | None = None, beats_per_bar: int = 4
) -> list[tuple[str, Fraction]]:
    """(chord symbol, duration in quarter notes) spans of ``progression`` in ``key``.

    ``progression`` is a name from :data:`PROGRESSIONS` or bars separated by ``|``, each
    holding chords that share the bar equally: roman numerals (``"| ii7 V7 | Imaj7 |"``,
    realized in ``key``) or chord symbols (``"| Dm7 G7 | Cmaj7 |"``, used as written).
    With ``n_bars`` the bars repeat (or are cut) to that many.
    """
    if not isinstance(progression, str):
        raise TypeError(f"progression: expected a name or a '| ... |' string, got {type(progression).__name__}")
    text = PROGRESSIONS.get(progression, progression)
    if "|" not in text and " " not in text.strip() and _ROMAN_RE.fullmatch(text.strip()) is None:
        try:
            canonical_chord(text)
        except ValueError:
            raise ValueError(
                f"progression: {progression!r} is neither a known name ({', '.join(PROGRESSIONS)}) nor bars of "
                "chords such as '| Dm7 G7 | Cmaj7 |'"
            ) from None
    if isinstance(beats_per_bar, bool) or not isinstance(beats_per_bar, int) or not 1 <= beats_per_bar <= 32:
        raise ValueError(f"beats_per_bar: expected an int in 1..32, got {beats_per_bar!r}")
    tonic = _key_root(key)
    bars = []
    for bar in text.split("|"):
        names = bar.split()
        if not names:
            continue
        length = Fraction(beats_per_bar, len(names))
        if (length * GRID).denominator != 1:
            raise ValueError(f"progression: {len(names)} chords cannot share a bar of {beats_per_bar} beats evenly")
        bars.append([(_chord_in_key(name, tonic), length) for name in names])
    if not bars:
        raise ValueError(f"progression: no chords in {progression!r}")
    if n_bars is not None:
        n_bars = _positive("n_bars", n_bars)
        bars = [bars[i % len(bars)] for i in range(n_bars)]
    return [span for bar in bars for span in bar]


# ---------------------------------------------------------------- the grammar

_U = Fraction(1, 3)  # the rhythm grid of the grammar: triplet eighths, swing's smallest value
_CELLS = (  # one beat each (half notes take two); negative entries are rests
    ((2, 1), 5.0),
    ((3,), 3.0),
    ((1, 1, 1), 1.0),
    ((6,), 1.0),
    ((-2, 1), 0.6),
    ((-3,), 0.2),
)


class _Line:
    """The improviser's state: where the line is, where it is heading, and its range."""

    def __init__(self, rng: np.random.Generator, low: int, high: int) -> None:
        self.rng, self.low, self.high = rng, low, high
        self.prev = int(rng.integers(low + (high - low) // 3, high - (high - low) // 3 + 1))
        self.direction = 1 if rng.random() < 0.5 else -1

    def pitches(self, pcs: set[int], lo: int | None = None, hi: int | None = None) -> list[int]:
        return [
            p for p in range(self.low if lo is None else lo, (self.high if hi is None else hi) + 1) if p % 12 in pcs
        ]

    def near(self, pcs: set[int], around: float, lo: int | None = None, hi: int | None = None) -> int:
        """A pitch of ``pcs`` near ``around``: the nearest, or now and then the second nearest."""
        cands = sorted(self.pitches(pcs, lo, hi), key=lambda p: (abs(p - around), p))
        if len(cands) > 1 and self.rng.random() < 0.3:
            return cands[1]
        return cands[0]

    def step(self, pcs: set[int], steps: int) -> int:
        """Move ``steps`` scale tones from the previous pitch in the current direction."""
        scale = self.pitches(pcs)
        here = min(range(len(scale)), key=lambda i: (abs(scale[i] - self.prev), scale[i]))
        if scale[here] != self.prev:  # off the scale (after a chromatic note): snapping is the first step
            steps -= 1
        return scale[min(max(here + self.direction * steps, 0), len(scale) - 1)]

    def turn(self) -> None:
        if self.prev >= self.high - 3:
            self.direction = -1
        elif self.prev <= self.low + 3:
            self.direction = 1
        elif self.rng.random() < 0.25:
            self.direction = -self.direction


def _chord_sets(symbol: str) -> tuple[set[int], set[int]]:
    root, intervals = chord_root(symbol), chord_tones(symbol)
    quality = canonical_chord(symbol)[len(PITCH_NAMES[root]) :]
    tones = {(root + i) % 12 for i in intervals[:4]}
    scale = {(root + i) % 12 for i in _SCALES.get(quality, intervals)}
    return tones, scale | tones


def _rhythm(rng: np.random.Generator, n_beats: int) -> list[tuple[int, int]]:
    """(onset, length) in triplet units of one solo; negative length = rest."""
    events: list[tuple[int, int]] = []
    cells, weights = zip(*_CELLS)
    probs = np.asarray(weights) / sum(weights)
    for phrase in range(0, n_beats, 8):
        length = min(8, n_beats - phrase)
        play = max(1, length - int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])))
        start = phrase * 3
        entry = rng.random()
        beat = phrase
        if entry < 0.3 and play > 1:  # pickup on the swung "and" of beat 1
            events += [(start, -2), (start + 2, 1)]
            beat += 1
        elif entry < 0.45 and play > 1:
            events.append((start, -3))
            beat += 1
        while beat < phrase + play:
            cell = cells[int(rng.choice(len(cells), p=probs))]
            if sum(abs(u) for u in cell) > 3 * (phrase + play - beat):
                cell = (3,)
            t = beat * 3
            for u in cell:
                events.append((t, u))
                t += abs(u)
            beat = t // 3
        if phrase + play < phrase + length:
            events.append((beat * 3, -3 * (phrase + length - beat)))
    # anticipations: an off-beat eighth tied over into the next note
    tied: list[tuple[int, int]] = []
    for onset, units in events:
        if (
            tied
            and units > 0
            and tied[-1][1] == 1
            and (tied[-1][0] + 1) % 3 == 0
            and onset % 6 == 0
            and rng.random() < 0.25
        ):
            tied[-1] = (tied[-1][0], 1 + units)
        else:
            tied.append((onset, units))
    merged: list[tuple[int, int]] = []  # neighbouring rests become one
    for onset, units in tied:
        if merged and units < 0 and merged[-1][1] < 0:
            merged[-1] = (merged[-1][0], merged[-1][1] + units)
        else:
            merged.append((onset, units))
    return merged


def _improvise(rng: np.random.Generator, chords: list[tuple[str, Fraction]], low: int, high: int) -> list[NoteToken]:
    starts, t = [], Fraction(0)
    for _, d in chords:
        starts.append(t)
        t += d
    n_beats = int(t)

    def chord_at(onset: int) -> str:
        beat = onset * _U
        i = max(j for j, s in enumerate(starts) if s <= beat)
        return chords[i][0]

    events = _rhythm(rng, n_beats)
    line = _Line(rng, low, high)
    tokens: list[NoteToken] = []
    pending: int | None = None
    for i, (onset, units) in enumerate(events):
        symbol = chord_at(onset)
        if units < 0:
            tokens.append(NoteToken(None, -units * _U, symbol))
            pending = None
            continue
        tones, scale = _chord_sets(symbol)
        following = events[i + 1] if i + 1 < len(events) else None
        strong = onset % 6 == 0
        phrase_end = following is None or following[1] < 0
        if pending is not None:
            pitch = pending
            pending = None
        elif strong or phrase_end:
            pitch = line.near(tones, line.prev + line.direction * float(rng.integers(1, 4)))
        elif following is not None and following[0] % 6 == 0 and rng.random() < 0.4:
            target_tones, target_scale = _chord_sets(chord_at(following[0]))
            target = line.near(target_tones, line.prev + 2 * line.direction, line.low + 2, line.high - 2)
            kind = rng.random()
            if kind < 0.5:  # chromatic approach, from below more often than from above
                pitch = target - 1 if kind < 0.32 else target + 1
            else:
                above = [p for p in line.pitches(target_scale, target + 1, target + 2)]
                below = [p for p in line.pitches(target_scale, target - 2, target - 1)]
                pitch = (above if kind < 0.75 and above else below or above or [target + 1])[0]
            pending = target
        elif rng.random() < 0.15:
            jump = [p for p in line.pitches(tones) if (p - line.prev) * line.direction >= 3]
            pitch = (jump[0] if line.direction > 0 else jump[-1]) if jump else line.step(scale, 1)
        else:
            pitch = line.step(scale, 1 if rng.random() < 0.75 else 2)
        pitch = min(max(pitch, line.low), line.high)
        tokens.append(NoteToken(pitch, units * _U, symbol))
        line.prev = pitch
        line.turn()
    return tokens


def _positive(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what}: expected a positive int, got {value!r}")
    return int(value)


def _pitch(what: str, value: Pitch) -> int:
    if isinstance(value, str):
        return note_number(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 127:
        raise ValueError(f"{what}: expected a MIDI note number 0..127 or a name such as 'C4', got {value!r}")
    return int(value)


def jazz_solos(
    n_solos: int = 8,
    *,
    n_bars: int = 8,
    progression: str = "ii-V-I",
    keys: Sequence[str] = DEFAULT_KEYS,
    pitch_range: tuple[Pitch, Pitch] = ("C4", "C6"),
    seed: int = 0,
) -> list[JazzSolo]:
    """``n_solos`` improvised solos of ``n_bars`` bars of 4/4 over ``progression``, in ``keys`` in turn.

    ``progression`` is a name from :data:`PROGRESSIONS` or a ``"| ii7 V7 | Imaj7 |"`` string
    (see :func:`realize_progression`); roman numerals are realized in each key, chord
    symbols are used as written.  Pitches stay within ``pitch_range`` (inclusive, MIDI
    numbers or names).  The same arguments give the same solos on every machine.
    """
    n_solos = _positive("n_solos", n_solos)
    n_bars = _positive("n_bars", n_bars)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
        raise ValueError(f"keys: expected a non-empty list of key names such as ['C', 'F'], got {keys!r}")
    if not isinstance(pitch_range, (tuple, list)) or len(pitch_range) != 2:
        raise ValueError(f"pitch_range: expected a (lowest, highest) pair, got {pitch_range!r}")
    low, high = _pitch("pitch_range[0]", pitch_range[0]), _pitch("pitch_range[1]", pitch_range[1])
    if high - low < 12:
        raise ValueError(f"pitch_range: expected at least an octave between lowest and highest, got {low}..{high}")
    realized = [(str(k), realize_progression(progression, k, n_bars=n_bars)) for k in keys]
    rng = np.random.default_rng(int(seed))
    solos = []
    for i in range(n_solos):
        key, chords = realized[i % len(realized)]
        tokens = _improvise(rng, chords, low, high)
        solos.append(JazzSolo(key.strip(), progression, tuple(chords), tuple(tokens)))
    return solos


# ---------------------------------------------------------------- training arrays


def _sequences(token_ids: Any) -> list[np.ndarray]:
    if isinstance(token_ids, np.ndarray):
        if token_ids.ndim == 1:
            seqs = [token_ids]
        elif token_ids.ndim == 2:
            seqs = list(token_ids)
        else:
            raise ValueError(f"token_ids: expected one id sequence or a list of them, got shape {token_ids.shape}")
    elif isinstance(token_ids, (list, tuple)):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in token_ids):
            seqs = [np.asarray(token_ids, dtype=np.int64)]
        else:
            seqs = [np.asarray(s) for s in token_ids]
    else:
        raise TypeError(f"token_ids: expected a sequence of int ids or a list of them, got {type(token_ids).__name__}")
    out = []
    for i, s in enumerate(seqs):
        if s.ndim != 1 or (s.size and s.dtype.kind not in "iu"):
            raise ValueError(f"token_ids[{i}]: expected a 1-D sequence of int ids, got shape {s.shape} dtype {s.dtype}")
        if s.size and s.min() < 0:
            raise ValueError(f"token_ids[{i}]: ids must be non-negative, got {int(s.min())}")
        out.append(s.astype(np.int64))
    return out


def training_windows(
    token_ids: Any,
    Tx: int = 30,
    *,
    n_values: int | None = None,
    stride: int = 1,
    max_windows: int | None = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """The course's training arrays from id sequences: ``X`` [m, Tx, n_values] and ``Y`` [Ty=Tx, m, n_values].

    Each window is ``Tx`` consecutive ids w of one sequence (windows never cross sequences;
    one starts every ``stride`` ids).  As in the course, ``X[:, 0]`` is all zeros (the start
    of a solo, what generation begins from) and ``X[:, t] = one_hot(w[t-1])``; the target
    ``Y[t] = one_hot(w[t])``, i.e. Y is X shifted by one step, so every step predicts the
    next id.  ``max_windows`` keeps that many windows, evenly spread.  ``n_values`` defaults
    to the largest id + 1.
    """
    seqs = _sequences(token_ids)
    Tx = _positive("Tx", Tx)
    stride = _positive("stride", stride)
    top = max((int(s.max()) for s in seqs if s.size), default=-1)
    if n_values is None:
        n_values = top + 1
    n_values = _positive("n_values", n_values)
    if top >= n_values:
        raise ValueError(f"n_values: the ids go up to {top}, so n_values must be at least {top + 1}, got {n_values}")
    starts = [(i, j) for i, s in enumerate(seqs) for j in range(0, len(s) - Tx + 1, stride)]
    if not starts:
        longest = max((len(s) for s in seqs), default=0)
        raise ValueError(f"Tx: every sequence is shorter than Tx={Tx} ids (the longest has {longest})")
    if max_windows is not None:
        max_windows = _positive("max_windows", max_windows)
        if max_windows < len(starts):
            keep = np.unique(np.linspace(0, len(starts) - 1, max_windows).round().astype(np.int64))
            starts = [starts[k] for k in keep]
    windows = np.stack([seqs[i][j : j + Tx] for i, j in starts])
    m = len(windows)
    eye = np.eye(n_values, dtype=dtype)
    X = np.zeros((m, Tx, n_values), dtype=dtype)
    X[:, 1:] = eye[windows[:, :-1]]
    Y = np.ascontiguousarray(eye[windows].transpose(1, 0, 2))
    return X, Y
