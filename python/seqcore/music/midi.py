"""Standard MIDI files <-> note tokens, through mido.

``read_midi`` extracts one monophonic melody: the track named "Melody" if there is one,
else the highest-sounding part; at each onset the highest note wins and a lower note that
starts under a held higher one is ignored (the "skyline" rule).  Times are quantized to the
token grid (12 steps per quarter note, see ``seqcore.music.tokens``), gaps become rests,
and with ``with_chords=True`` every token is labelled with the chord the other parts sound
at its onset.

``write_midi`` writes a type-1 file: a conductor track (tempo, 4/4), the melody track and,
when there are chords, a chord track; the file is written atomically.  Written tokens read
back as the same tokens, except that consecutive rests come back merged into one.
"""

from __future__ import annotations

import heapq
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from .._atomic import atomic_open
from .tokens import GRID, NoteToken, _grid_duration, canonical_chord, chord_pitches, chord_symbol

__all__ = ["read_midi", "write_midi"]

TICKS_PER_BEAT = 480  # a multiple of GRID, so every token boundary falls on a whole tick
DRUM_CHANNEL = 9  # General MIDI channel 10: percussion, never a melody or a chord

PathLike = Union[str, "os.PathLike[str]"]
ChordSpan = tuple[Optional[str], Any]


# ---------------------------------------------------------------- reading


class _Part:
    """The notes of one (track, channel): (start tick, end tick, pitch)."""

    def __init__(self, track: int, channel: int, name: str) -> None:
        self.track, self.channel, self.name = track, channel, name
        self.notes: list[tuple[int, int, int]] = []
        self.end = 0

    def mean_pitch(self) -> float:
        return sum(p for _, _, p in self.notes) / len(self.notes)


def _open_midi(path: PathLike) -> Any:
    import mido

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or os.PathLike), got {type(path).__name__}: {path!r}")
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_midi: no such file {name!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"read_midi: {name!r} is a folder, not a MIDI file") from None
    except PermissionError:
        raise PermissionError(f"read_midi: {name!r} is not readable (permission denied)") from None
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError... for damaged data
        detail = str(exc) or type(exc).__name__
        raise ValueError(f"read_midi: {name!r} is not a standard MIDI file ({detail})") from None
    if not isinstance(mid.ticks_per_beat, int) or mid.ticks_per_beat <= 0:
        raise ValueError(f"read_midi: {name!r} counts time in SMPTE frames, not beats; read_midi needs beat-based time")
    return mid


def _parts(mid: Any) -> list[_Part]:
    parts: dict[tuple[int, int], _Part] = {}
    for ti, track in enumerate(mid.tracks):
        tick = 0
        name = ""
        sounding: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
        found: list[tuple[int, int, int, int]] = []
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = str(msg.name)
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding[(msg.channel, msg.note)].append(tick)
            elif msg.type in ("note_on", "note_off"):
                starts = sounding.get((msg.channel, msg.note))
                if starts:  # first on, first off: a retriggered note closes the older one
                    found.append((msg.channel, starts.pop(0), tick, msg.note))
        for (channel, note), starts in sounding.items():  # never released: held to the track's end
            found.extend((channel, start, tick, note) for start in starts)
        for channel, start, end, note in found:
            if channel == DRUM_CHANNEL:
                continue
            part = parts.get((ti, channel))
            if part is None:
                part = parts[(ti, channel)] = _Part(ti, channel, name)
            part.notes.append((start, end, note))
        for part in parts.values():
            if part.track == ti:
                part.end = tick
    return [p for p in parts.values() if p.notes]


def _quantize(tick: int, tpb: int) -> int:
    return (2 * tick * GRID + tpb) // (2 * tpb)  # nearest grid step, halves rounded up


def _track_name(track: Any) -> str:
    return next((str(m.name) for m in track if m.type == "track_name"), "")


def _pick_melody(parts: list[_Part], track: int | None, tracks: Any, name: str) -> list[_Part]:
    n_tracks = len(tracks)
    if track is not None:
        if isinstance(track, bool) or not isinstance(track, (int, np.integer)):
            raise TypeError(f"track: expected a track index (int) or None, got {type(track).__name__}: {track!r}")
        if not 0 <= track < n_tracks:
            raise ValueError(f"track: {name!r} has tracks 0..{n_tracks - 1}, got {track}")
        track = int(track)
        chosen = [p for p in parts if p.track == track]
        if not chosen:
            with_notes = sorted({p.track for p in parts})
            raise ValueError(
                f"track: track {track} of {name!r} has no (non-drum) notes; tracks with notes: {with_notes}"
            )
        return chosen
    named = [p for p in parts if "melody" in p.name.lower()]
    if named:
        return named
    if any(_track_name(t).lower().find("melody") >= 0 for t in tracks):
        raise ValueError(f"read_midi: the melody track of {name!r} has no notes (pass track= to read another track)")
    # the highest part, among parts busy enough to carry a tune (not a few high accents)
    busiest = max(len(p.notes) for p in parts)
    candidates = [p for p in parts if 4 * len(p.notes) >= busiest]
    return [max(candidates, key=lambda p: (p.mean_pitch(), len(p.notes)))]


def _skyline(notes: list[tuple[int, int, int]]) -> list[list[int]]:
    """[start, end, pitch] steps of one monophonic line: the highest note at each onset, cut by the next."""
    top: dict[int, tuple[int, int]] = {}
    for start, end, pitch in notes:
        if end <= start:
            continue  # shorter than half a grid step: an ornament the grid cannot hold
        best = top.get(start)
        if best is None or (pitch, end) > (best[0], best[1]):
            top[start] = (pitch, end)
    line: list[list[int]] = []
    for start in sorted(top):
        pitch, end = top[start]
        if line and line[-1][1] > start:
            if line[-1][2] > pitch:
                continue  # a lower voice entering under a held melody note
            line[-1][1] = start
        line.append([start, end, pitch])
    return line


def _chords_at(onsets: list[int], notes: list[tuple[int, int, int]]) -> list[str | None]:
    """The chord sounding at each onset (in increasing order), from quantized accompaniment notes."""
    pending = sorted((s, e, p) for s, e, p in notes if e > s)
    out: list[str | None] = []
    active: list[tuple[int, int]] = []  # heap of (end, pitch)
    i = 0
    for onset in onsets:
        while i < len(pending) and pending[i][0] <= onset:
            heapq.heappush(active, (pending[i][1], pending[i][2]))
            i += 1
        while active and active[0][0] <= onset:
            heapq.heappop(active)
        out.append(chord_symbol(p for _, p in active))
    return out


def read_midi(path: PathLike, *, track: int | None = None, with_chords: bool = False) -> list[NoteToken]:
    """The melody of a standard MIDI file as note tokens (rests included).

    ``track`` picks the melody's track by index (all its non-drum channels); by default the
    track named "Melody" is used, else the highest-sounding busy part.  With ``with_chords``
    each token carries the chord the other (non-drum) parts sound at its onset, or None.

    Raises FileNotFoundError for a missing file, ValueError (naming the file) for one that is
    not a standard MIDI file or has no notes.
    """
    if not isinstance(with_chords, bool):
        raise TypeError(f"with_chords: expected a bool, got {type(with_chords).__name__}")
    mid = _open_midi(path)
    name = os.fspath(path)
    parts = _parts(mid)
    if not parts:
        raise ValueError(f"read_midi: {name!r} has no notes (outside the drum channel)")
    melody_parts = _pick_melody(parts, track, mid.tracks, name)
    tpb = mid.ticks_per_beat
    notes = [(_quantize(s, tpb), _quantize(e, tpb), p) for part in melody_parts for s, e, p in part.notes]
    line = _skyline(notes)
    if not line:
        raise ValueError(f"read_midi: the melody of {name!r} has no note longer than half a 1/{GRID} beat")
    end = max(line[-1][1], max(_quantize(part.end, tpb) for part in melody_parts))
    events: list[tuple[int, int, int | None]] = []  # start, steps, pitch
    pos = 0
    for start, stop, pitch in line:
        if start > pos:
            events.append((pos, start - pos, None))
        events.append((start, stop - start, pitch))
        pos = stop
    if end > pos:
        events.append((pos, end - pos, None))
    chords: list[str | None] = [None] * len(events)
    if with_chords:
        accompaniment = [part for part in parts if part not in melody_parts]
        others = [(_quantize(s, tpb), _quantize(e, tpb), p) for part in accompaniment for s, e, p in part.notes]
        chords = _chords_at([start for start, _, _ in events], others)
    return [NoteToken(pitch, Fraction(steps, GRID), chord) for (_, steps, pitch), chord in zip(events, chords)]


# ---------------------------------------------------------------- writing


def _midi_int(what: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: expected an int in {lo}..{hi}, got {type(value).__name__}: {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{what}: expected an int in {lo}..{hi}, got {value}")
    return int(value)


def _check_tokens(tokens: Iterable[NoteToken]) -> list[NoteToken]:
    if isinstance(tokens, NoteToken) or not isinstance(tokens, Iterable):
        raise TypeError(f"tokens: expected a list of NoteToken, got {type(tokens).__name__}")
    out = list(tokens)
    for i, tok in enumerate(out):
        if not isinstance(tok, NoteToken):
            raise TypeError(f"tokens[{i}]: expected a NoteToken, got {type(tok).__name__}: {tok!r}")
    if not out:
        raise ValueError("tokens: nothing to write (an empty list)")
    return out


def _check_chords(chords: Sequence[ChordSpan]) -> list[tuple[str | None, int]]:
    if isinstance(chords, (str, bytes)) or not isinstance(chords, Iterable):
        raise TypeError(
            f"chords: expected a list of (chord symbol, duration in quarter notes) pairs, got {type(chords).__name__}"
        )
    spans = []
    for i, span in enumerate(chords):
        if not isinstance(span, (tuple, list)) or len(span) != 2:
            raise ValueError(f"chords[{i}]: expected a (chord symbol or None, duration) pair, got {span!r}")
        symbol, duration = span
        symbol = None if symbol is None else canonical_chord(symbol)
        steps = int(_grid_duration(f"chords[{i}] duration", duration) * GRID)
        spans.append((symbol, steps))
    return spans


def _spans_from_tokens(tokens: list[NoteToken]) -> list[tuple[str | None, int]]:
    spans: list[tuple[str | None, int]] = []
    for tok in tokens:
        if spans and spans[-1][0] == tok.chord:
            spans[-1] = (tok.chord, spans[-1][1] + tok.steps)
        else:
            spans.append((tok.chord, tok.steps))
    return spans


def write_midi(
    tokens: Iterable[NoteToken],
    path: PathLike,
    *,
    tempo_bpm: float = 120.0,
    chords: Sequence[ChordSpan] | None = None,
    accompaniment: bool = True,
    melody_program: int = 66,
    chord_program: int = 4,
    velocity: int = 100,
    chord_velocity: int = 64,
    title: str | None = None,
) -> None:
    """Write ``tokens`` as a standard MIDI file (type 1, 480 ticks per quarter note), atomically.

    The melody goes on channel 1 with General MIDI program ``melody_program`` (0-based: 66
    tenor sax, 65 alto sax, 0 piano); with ``accompaniment`` a chord track on channel 2
    (``chord_program``, default 4 electric piano) plays ``chords`` -- (symbol or None,
    duration in quarter notes) pairs from the start -- or, when ``chords`` is None, the
    chords the tokens carry, each held while it stays the same.  Chords are voiced in root
    position from octave 3.
    """
    import mido

    toks = _check_tokens(tokens)
    if isinstance(tempo_bpm, bool) or not isinstance(tempo_bpm, (int, float, np.integer, np.floating)):
        raise TypeError(f"tempo_bpm: expected a number of beats per minute, got {type(tempo_bpm).__name__}")
    if not 10 <= tempo_bpm <= 1000:  # NaN fails this too
        raise ValueError(f"tempo_bpm: expected a number of beats per minute in 10..1000, got {tempo_bpm!r}")
    if not isinstance(accompaniment, bool):
        raise TypeError(f"accompaniment: expected a bool, got {type(accompaniment).__name__}")
    melody_program = _midi_int("melody_program", melody_program, 0, 127)
    chord_program = _midi_int("chord_program", chord_program, 0, 127)
    velocity = _midi_int("velocity", velocity, 1, 127)
    chord_velocity = _midi_int("chord_velocity", chord_velocity, 1, 127)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title: expected a string or None, got {type(title).__name__}")
    spans = _check_chords(chords) if chords is not None else _spans_from_tokens(toks)
    voicings = {sym: chord_pitches(sym) for sym, _ in spans if sym is not None}
    step = TICKS_PER_BEAT // GRID

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title or "seqcore", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(conductor)

    melody = mido.MidiTrack()
    melody.append(mido.MetaMessage("track_name", name="Melody", time=0))
    melody.append(mido.Message("program_change", channel=0, program=melody_program, time=0))
    wait = 0
    for tok in toks:
        ticks = tok.steps * step
        if tok.pitch is None:
            wait += ticks
            continue
        melody.append(mido.Message("note_on", channel=0, note=tok.pitch, velocity=velocity, time=wait))
        melody.append(mido.Message("note_off", channel=0, note=tok.pitch, velocity=0, time=ticks))
        wait = 0
    melody.append(mido.MetaMessage("end_of_track", time=wait))  # keeps a trailing rest
    mid.tracks.append(melody)

    if accompaniment and voicings:
        comp = mido.MidiTrack()
        comp.append(mido.MetaMessage("track_name", name="Chords", time=0))
        comp.append(mido.Message("program_change", channel=1, program=chord_program, time=0))
        wait = 0
        for symbol, steps in spans:
            ticks = steps * step
            if symbol is None:
                wait += ticks
                continue
            pitches = voicings[symbol]
            for p in pitches:
                comp.append(mido.Message("note_on", channel=1, note=p, velocity=chord_velocity, time=wait))
                wait = 0
            for i, p in enumerate(pitches):
                comp.append(mido.Message("note_off", channel=1, note=p, velocity=0, time=ticks if i == 0 else 0))
        comp.append(mido.MetaMessage("end_of_track", time=wait))
        mid.tracks.append(comp)

    with atomic_open(path, "wb") as fh:
        mid.save(file=fh)
