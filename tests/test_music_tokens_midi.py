"""seqcore.music: note tokens, chord symbols, the vocabulary, MIDI files and piano rolls."""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest

from seqcore.music import (
    GRID,
    NoteToken,
    Vocabulary,
    canonical_chord,
    chord_pitches,
    chord_symbol,
    draw_piano_roll,
    note_name,
    note_number,
    quantize_duration,
    read_midi,
    take_beats,
    total_beats,
    write_midi,
)

F = Fraction


def solo_with_everything() -> list[NoteToken]:
    """Rests (leading, inner, trailing), tied and triplet/sixteenth durations, and several chords."""
    return [
        NoteToken(None, F(1, 2), "Dm7"),
        NoteToken(62, 1, "Dm7"),
        NoteToken(65, F(2, 3), "Dm7"),
        NoteToken(69, F(1, 3), "Dm7"),
        NoteToken(72, F(3, 2), "Dm7"),  # tied over the bar line into G7's bar below
        NoteToken(71, F(7, 3), "G7"),
        NoteToken(None, F(1, 3), "G7"),
        NoteToken(67, F(1, 12), "Cmaj7"),
        NoteToken(67, F(11, 12), "Cmaj7"),  # the same pitch again: a new note, not a longer one
        NoteToken(64, F(1, 4), "Cmaj7"),
        NoteToken(60, F(3, 4), "Bm7b5"),
        NoteToken(None, 2, None),  # nothing sounding underneath
        NoteToken(76, F(5, 2), "G7b9"),
        NoteToken(None, 1, "C|E|Gb"),  # a pitch set no quality names
    ]


# ---------------------------------------------------------------- tokens


def test_token_strings_round_trip_and_durations_are_exact_fractions() -> None:
    toks = solo_with_everything()
    for tok in toks:
        assert NoteToken.parse(str(tok)) == tok
    assert str(NoteToken(70, F(2, 3), "A#-7")) == "Bb4:2/3@Bbm7"
    assert str(NoteToken(None, 1)) == "R:1"
    assert NoteToken(60, 0.5).duration == F(1, 2)
    assert NoteToken(60, "4/12").duration == F(1, 3)
    assert NoteToken(60, 2 / 3).duration == F(2, 3)  # a float within 1e-6 of a grid step snaps to it
    assert NoteToken(60, 1).steps == GRID
    assert total_beats(toks) == sum(t.duration for t in toks)
    assert NoteToken(60, 1, "Dm7") != NoteToken(60, 1)
    assert NoteToken(60, 1, "Dm7").without_chord() == NoteToken(60, 1)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((128, 1), ValueError, "pitch: expected a MIDI note number in 0..127"),
        ((-1, 1), ValueError, "pitch"),
        ((60.0, 1), TypeError, "pitch"),
        ((True, 1), TypeError, "pitch"),
        ((60, 0), ValueError, "duration: expected a positive"),
        ((60, -1), ValueError, "duration"),
        ((60, 0.3), ValueError, "multiple of 1/12"),
        ((60, F(1, 5)), ValueError, "multiple of 1/12"),
        ((60, float("nan")), ValueError, "finite"),
        ((60, "x"), ValueError, "duration"),
        ((60, None), TypeError, "duration"),
        ((60, 1, "Hm7"), ValueError, "chord symbol"),
        ((60, 1, "Cxyz"), ValueError, "unknown chord quality 'xyz'"),
    ],
)
def test_bad_tokens_are_refused_naming_the_argument(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        NoteToken(*args)


@pytest.mark.parametrize("text", ["C4", "C4:", ":1", "X4:1", "C4:1/0", "C4:0", ""])
def test_bad_token_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="text|duration|name"):
        NoteToken.parse(text)


def test_note_names_and_quantization() -> None:
    assert [note_name(p) for p in (0, 60, 61, 70, 127)] == ["C-1", "C4", "Db4", "Bb4", "G9"]
    assert note_number("F#5") == note_number("Gb5") == 78
    assert note_number("Cb4") == 59 and note_number("B#3") == 60
    with pytest.raises(ValueError, match="outside 0..127"):
        note_number("A9")
    with pytest.raises(ValueError, match="pitch name"):
        note_number("H2")
    assert quantize_duration(0.34) == F(1, 3)
    assert quantize_duration(0.01) == F(1, 12)  # never zero: at least one grid step
    assert quantize_duration(0.74, grid=4) == F(3, 4)
    with pytest.raises(ValueError, match="grid"):
        quantize_duration(1, grid=5)


def test_take_beats_cuts_the_last_token() -> None:
    toks = [NoteToken(60, 1), NoteToken(None, F(2, 3)), NoteToken(62, 2)]
    assert take_beats(toks, 2) == [NoteToken(60, 1), NoteToken(None, F(2, 3)), NoteToken(62, F(1, 3))]
    assert take_beats(toks, 1) == [NoteToken(60, 1)]
    with pytest.raises(ValueError, match="fewer than"):
        take_beats(toks, 4)


# ---------------------------------------------------------------- chords


def test_chord_symbols_name_voicings_and_voicings_name_back() -> None:
    assert chord_symbol([57, 60, 64, 67]) == "Am7"  # the bass is tried as the root first
    assert chord_symbol([60, 64, 67, 69]) == "C6"
    assert chord_symbol([64, 67, 72]) == "C"  # an inversion is still named by its root
    assert chord_symbol([]) is None
    assert chord_symbol([60, 61, 62]) == "C|Db|D"
    assert canonical_chord("F#-7") == "Gbm7"
    assert canonical_chord("Bø") == "Bm7b5"
    assert canonical_chord("C|E|F#") == "C|E|Gb"
    assert chord_pitches("G7b9") == [55, 59, 62, 65, 68]
    assert chord_pitches("C|E|Gb") == [48, 52, 54]
    assert chord_pitches("Cmaj7", octave=4) == [60, 64, 67, 71]
    for symbol in ("Dm7", "G7", "Cmaj7", "Bm7b5", "Ebdim7", "Ab7b9", "F6", "Bbm6", "Dbmaj9", "E7sus4", "Gbaug"):
        assert chord_symbol(chord_pitches(symbol)) == canonical_chord(symbol)
    with pytest.raises(ValueError, match="octave"):
        chord_pitches("C", octave=10)


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_builds_encodes_decodes_and_serializes() -> None:
    toks = solo_with_everything()
    vocab = Vocabulary.build([toks, toks[:3]])
    plain = {t.without_chord() for t in toks}
    assert len(vocab) == len(plain)
    assert vocab.tokens[0].is_rest  # rests sort first, then by pitch and duration
    ids = vocab.encode(toks)
    assert ids.dtype.kind == "i" and ids.shape == (len(toks),)
    assert vocab.decode(ids) == [t.without_chord() for t in toks]
    config = json.loads(json.dumps(vocab.to_config()))
    assert Vocabulary.from_config(config) == vocab
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    with_chords = Vocabulary.build([toks], with_chords=True)
    assert len(with_chords) == len(set(toks)) and with_chords.decode(with_chords.encode(toks)) == toks
    assert Vocabulary.from_config(with_chords.to_config()) == with_chords


def test_vocabulary_errors_name_the_problem() -> None:
    vocab = Vocabulary([NoteToken(60, 1), NoteToken(None, 1)])
    with pytest.raises(ValueError, match="D4:1 is not in the vocabulary"):
        vocab.encode([NoteToken(62, 1)])
    assert list(vocab.encode([NoteToken(62, 1), NoteToken(60, 1)], skip_unknown=True)) == [0]
    with pytest.raises(ValueError, match=r"ids in 0\.\.1"):
        vocab.decode([0, 2])
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode([[0]])
    with pytest.raises(ValueError, match="appears twice"):
        Vocabulary([NoteToken(60, 1), NoteToken(60, 1, "C")])
    with pytest.raises(ValueError, match="at least one"):
        Vocabulary([])
    with pytest.raises(TypeError, match="flat list"):
        Vocabulary.build([NoteToken(60, 1)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="tokens"):
        Vocabulary.from_config({"nope": 1})
    with pytest.raises(ValueError, match="JSON"):
        Vocabulary.from_json("{")


# ---------------------------------------------------------------- MIDI


def test_midi_round_trip_gives_the_same_tokens_with_rests_ties_and_chords(tmp_path: Path) -> None:
    toks = solo_with_everything()
    path = tmp_path / "solo.mid"
    write_midi(toks, path, tempo_bpm=140, title="round trip")
    assert read_midi(path, with_chords=True) == toks
    assert read_midi(path) == [t.without_chord() for t in toks]
    mid = mido.MidiFile(path)
    assert mid.type == 1 and mid.ticks_per_beat % GRID == 0
    names = [next(m.name for m in t if m.type == "track_name") for t in mid.tracks]
    assert names == ["round trip", "Melody", "Chords"]
    tempo = next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo")
    assert round(mido.tempo2bpm(tempo)) == 140
    programs = [m.program for t in mid.tracks for m in t if m.type == "program_change"]
    assert programs == [66, 4]
    assert not [n for n in os.listdir(tmp_path) if n != "solo.mid"]  # the atomic writer left no temporary file


def test_midi_round_trip_of_generated_solos(tmp_path: Path) -> None:
    from seqcore.datasets.jazz import jazz_solos

    for solo in jazz_solos(4, n_bars=4, progression="rhythm", seed=3):
        write_midi(solo.tokens, tmp_path / "s.mid")
        assert read_midi(tmp_path / "s.mid", with_chords=True) == list(solo.tokens)
        # an explicit progression writes the same accompaniment as the tokens' own chords
        write_midi([t.without_chord() for t in solo.tokens], tmp_path / "p.mid", chords=solo.chords)
        assert read_midi(tmp_path / "p.mid", with_chords=True) == list(solo.tokens)


def test_random_melodies_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    symbols = [None, "Dm7", "G7", "Cmaj7", "Bbm7b5", "Eb7b9", "Ab6", "C|Db|D"]
    for case in range(40):
        toks: list[NoteToken] = []
        for _ in range(int(rng.integers(1, 30))):
            rest = rng.random() < 0.25 and not (toks and toks[-1].is_rest)
            pitch = None if rest else int(rng.integers(21, 109))
            chord = symbols[int(rng.integers(len(symbols)))]
            toks.append(NoteToken(pitch, F(int(rng.integers(1, 97)), GRID), chord))
        path = tmp_path / f"r{case}.mid"
        write_midi(toks, path, tempo_bpm=float(rng.uniform(40, 300)))
        assert read_midi(path, with_chords=True) == toks, case


def test_consecutive_rests_come_back_merged_and_no_accompaniment_without_chords(tmp_path: Path) -> None:
    toks = [NoteToken(60, 1), NoteToken(None, 1), NoteToken(None, F(1, 3)), NoteToken(62, 1, "D")]
    write_midi(toks, tmp_path / "a.mid", accompaniment=False)
    assert read_midi(tmp_path / "a.mid") == [NoteToken(60, 1), NoteToken(None, F(4, 3)), NoteToken(62, 1)]
    assert len(mido.MidiFile(tmp_path / "a.mid").tracks) == 2


def _file(tmp_path: Path, tracks: list[list[mido.Message]], name: str = "in.mid", mtype: int = 1) -> Path:
    mid = mido.MidiFile(type=mtype, ticks_per_beat=96)
    for msgs in tracks:
        mid.tracks.append(mido.MidiTrack(msgs))
    mid.save(tmp_path / name)
    return tmp_path / name


def _note(pitch: int, start: int, length: int, channel: int = 0) -> list[tuple[int, mido.Message]]:
    return [
        (start, mido.Message("note_on", note=pitch, velocity=80, channel=channel)),
        (start + length, mido.Message("note_on", note=pitch, velocity=0, channel=channel)),  # velocity 0 = off
    ]


def _track(*notes: list[tuple[int, mido.Message]], name: str | None = None) -> list[mido.Message]:
    events = sorted((e for n in notes for e in n), key=lambda e: (e[0], e[1].velocity > 0))
    out = [mido.MetaMessage("track_name", name=name, time=0)] if name else []
    now = 0
    for tick, msg in events:
        out.append(msg.copy(time=tick - now))
        now = tick
    return out


def test_read_midi_takes_the_top_line_quantizes_and_fills_gaps_with_rests(tmp_path: Path) -> None:
    # 96 ticks per beat; a chord under the tune in the same track, a late start and an off-grid note
    melody = _track(
        _note(72, 48, 48),  # C5 from beat 1/2 for half a beat (a leading rest before it)
        _note(60, 48, 96),  # a lower note at the same onset: not the melody
        _note(74, 96, 31),  # D5 for 31 ticks ~ 1/3 beat (quantized)
        _note(65, 110, 40),  # starts under the held D5 but lower: ignored
        _note(76, 160, 96),  # E5 after a rest
        _note(79, 200, 20),  # a higher note cuts E5 short at 200 ticks
    )
    path = _file(tmp_path, [melody])
    got = read_midi(path)
    # 8 ticks a grid step: D5 ends at 127 -> step 16; E5 at 160..200 -> steps 20..25; G5 at 200..220 -> 25..28
    # (27.5 rounds up); the track ends when E5 is released, at 256 -> step 32: a trailing rest
    assert got == [
        NoteToken(None, F(1, 2)),
        NoteToken(72, F(1, 2)),
        NoteToken(74, F(1, 3)),
        NoteToken(None, F(1, 3)),
        NoteToken(76, F(5, 12)),
        NoteToken(79, F(1, 4)),
        NoteToken(None, F(1, 3)),
    ]


def test_read_midi_picks_the_melody_part_and_labels_chords(tmp_path: Path) -> None:
    bass_and_chords = _track(*(_note(p, 0, 384, channel=1) for p in (48, 52, 55, 58)), name="Piano")
    drums = _track(*(_note(90, i * 48, 24, channel=9) for i in range(8)), name="Drums")  # high but percussion
    tune = _track(_note(67, 0, 96), _note(69, 96, 96), _note(70, 192, 192), name="Lead")
    path = _file(tmp_path, [[mido.MetaMessage("set_tempo", tempo=600000)], bass_and_chords, drums, tune])
    got = read_midi(path, with_chords=True)
    assert got == [NoteToken(67, 1, "C7"), NoteToken(69, 1, "C7"), NoteToken(70, 2, "C7")]
    assert read_midi(path, track=1) == [NoteToken(58, 4)]  # the top of the piano's chord
    # a type-0 file: one track, the parts on channels
    merged = _track(*(_note(p, 0, 384, channel=1) for p in (48, 52, 55)), _note(79, 0, 192), _note(77, 192, 192))
    got0 = read_midi(_file(tmp_path, [merged], "zero.mid", mtype=0), with_chords=True)
    assert got0 == [NoteToken(79, 2, "C"), NoteToken(77, 2, "C")]


def test_read_midi_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_midi(tmp_path / "missing.mid")
    with pytest.raises(IsADirectoryError, match="folder"):
        read_midi(tmp_path)
    (tmp_path / "text.mid").write_text("not midi at all")
    with pytest.raises(ValueError, match="not a standard MIDI file"):
        read_midi(tmp_path / "text.mid")
    good = tmp_path / "good.mid"
    write_midi([NoteToken(60, 1), NoteToken(62, 1)], good)
    (tmp_path / "cut.mid").write_bytes(good.read_bytes()[:30])
    with pytest.raises(ValueError, match="not a standard MIDI file"):
        read_midi(tmp_path / "cut.mid")
    empty = _file(tmp_path, [[mido.MetaMessage("set_tempo", tempo=500000)]], "empty.mid")
    with pytest.raises(ValueError, match="has no notes"):
        read_midi(empty)
    drums_only = _file(tmp_path, [_track(_note(40, 0, 10, channel=9))], "drums.mid")
    with pytest.raises(ValueError, match="has no notes"):
        read_midi(drums_only)
    only_rests = tmp_path / "rests.mid"
    write_midi([NoteToken(None, 2, "C")], only_rests)  # a silent melody over a chord
    with pytest.raises(ValueError, match="melody track .* has no notes"):
        read_midi(only_rests)
    assert read_midi(only_rests, track=2) == [NoteToken(55, 2)]  # the top of the C chord, G3
    with pytest.raises(ValueError, match=r"track: .* has tracks 0\.\.1, got 5"):
        read_midi(good, track=5)
    with pytest.raises(ValueError, match="track 0 .* has no"):
        read_midi(good, track=0)
    with pytest.raises(TypeError, match="track"):
        read_midi(good, track="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        read_midi(123)  # type: ignore[arg-type]


def test_write_midi_refuses_bad_arguments_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.mid"
    path.write_bytes(b"old")
    toks = [NoteToken(60, 1)]
    bad: list[tuple[dict, type, str]] = [
        ({"tempo_bpm": 0}, ValueError, "tempo_bpm"),
        ({"melody_program": 128}, ValueError, "melody_program"),
        ({"velocity": 0}, ValueError, "velocity"),
        ({"chords": [("Dm7", 0.3)]}, ValueError, r"chords\[0\] duration"),
        ({"chords": [("Hm7", 1)]}, ValueError, "chord"),
        ({"chords": "Dm7"}, TypeError, "chords"),
        ({"chords": [("Dm7",)]}, ValueError, r"chords\[0\]"),
        ({"accompaniment": "yes"}, TypeError, "accompaniment"),
    ]
    for kwargs, error, match in bad:
        with pytest.raises(error, match=match):
            write_midi(toks, path, **kwargs)
    with pytest.raises(ValueError, match="nothing to write"):
        write_midi([], path)
    with pytest.raises(TypeError, match=r"tokens\[1\]"):
        write_midi([NoteToken(60, 1), "C4:1"], path)  # type: ignore[list-item]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_midi(toks, tmp_path / "no" / "x.mid")
    assert path.read_bytes() == b"old"


# ---------------------------------------------------------------- piano roll


def test_piano_roll_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    toks = solo_with_everything()
    draw_piano_roll(toks, tmp_path / "roll.png", title="solo")
    data = (tmp_path / "roll.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    draw_piano_roll([t.without_chord() for t in toks], tmp_path / "plain.png", chords=[("Dm7", 4), ("G7", 4)])
    assert (tmp_path / "plain.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="dpi"):
        draw_piano_roll(toks, tmp_path / "x.png", dpi=5)
    with pytest.raises(ValueError, match="nothing to write"):
        draw_piano_roll([], tmp_path / "x.png")
    assert sorted(os.listdir(tmp_path)) == ["plain.png", "roll.png"]


def test_piano_roll_without_matplotlib_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "seqcore\[plot\]"'):
        draw_piano_roll([NoteToken(60, 1)], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
