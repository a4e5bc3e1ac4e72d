"""``seqcore jazz`` end to end on a tiny budget, and its usage errors (exit code 2, one line)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import mido
import pytest

from seqcore.cli import jazz
from seqcore.models.music_lstm import MusicLSTM
from seqcore.music import NoteToken, read_midi, write_midi

cli_main = importlib.import_module("seqcore.cli.main")


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``seqcore jazz ...`` through the real entry point (its error mapping), registering jazz if main does not yet."""
    original = cli_main.build_parser

    def build() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "jazz" not in sub.choices:
            jazz.add_parser(sub)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)
    return cli_main.main(["jazz", *argv])


def melody_and_chords(path: Path) -> tuple[list[int], list[int]]:
    mid = mido.MidiFile(path)
    tracks = {next((m.name for m in t if m.type == "track_name"), ""): t for t in mid.tracks}
    pitches = {name: [m.note for m in t if m.type == "note_on" and m.velocity > 0] for name, t in tracks.items()}
    return pitches.get("Melody", []), pitches.get("Chords", [])


def test_default_run_trains_improvises_and_writes_midi_png_and_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png, saved = tmp_path / "solo.mid", tmp_path / "solo.png", tmp_path / "jazz.safetensors"
    args = ["--out", str(out), "--epochs", "2", "--bars", "4", "--save", str(saved), "--quiet"]
    if importlib.util.find_spec("matplotlib") is not None:
        args += ["--png", str(png)]
    assert run_cli(args, monkeypatch) == 0
    summary = capsys.readouterr().out.strip()
    assert summary.startswith(f"wrote {out}: 4 bars") and "over ii-V-I in C" in summary and "\n" not in summary
    melody, chords = melody_and_chords(out)  # mido reads it
    model = MusicLSTM.load(saved)
    assert model.vocab is not None
    vocab_pitches = {t.pitch for t in model.vocab if t.pitch is not None}
    assert melody and all(0 <= p <= 127 and p in vocab_pitches for p in melody)
    assert chords and all(36 <= p <= 84 for p in chords)
    tokens = read_midi(out, with_chords=True)
    assert sum(t.duration for t in tokens) == 16  # exactly the bars asked for
    assert {t.chord for t in tokens if t.pitch is not None} <= {"Dm7", "G7", "Cmaj7"}
    if "--png" in args:
        assert png.read_bytes().startswith(b"\x89PNG")
    # the saved model generates again without training, and the same seed gives the same solo
    again = tmp_path / "again.mid"
    assert run_cli(["--out", str(again), "--model", str(saved), "--bars", "4"], monkeypatch) == 0
    assert again.read_bytes() == out.read_bytes()
    assert "loaded" in capsys.readouterr().out


def test_same_seed_same_solo_and_temperature_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--epochs", "1", "--bars", "2", "--quiet", "--progression", "blues", "--key", "F"]
    a, b, c = tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid"
    assert run_cli(["--out", str(a), *common], monkeypatch) == 0
    assert run_cli(["--out", str(b), *common], monkeypatch) == 0
    assert a.read_bytes() == b.read_bytes()
    assert run_cli(["--out", str(c), *common, "--temperature", "0", "--tempo", "90"], monkeypatch) == 0
    assert "over blues in F" in capsys.readouterr().out
    mid = mido.MidiFile(c)
    assert round(mido.tempo2bpm(next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo"))) == 90
    assert melody_and_chords(c)[1][:8] == [58, 62, 65, 68, 53, 57, 60, 63]  # Bb7 | F7 |: from the blues' bar 2


def test_training_on_the_users_midi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = [NoteToken(p, d) for p, d in [(67, 1), (69, 0.5), (71, 0.5), (72, 2), (None, 1), (74, 1)] * 6]
    write_midi(tune, tmp_path / "tune.mid")
    write_midi(tune[::-1], tmp_path / "other.mid")
    out = tmp_path / "mine.mid"
    argv = ["--out", str(out), "--midi", str(tmp_path / "tune.mid"), str(tmp_path / "other.mid")]
    assert run_cli([*argv, "--epochs", "3", "--quiet"], monkeypatch) == 0
    assert "over" not in capsys.readouterr().out  # no chord progression under the user's melodies
    melody, chords = melody_and_chords(out)
    assert melody and set(melody) <= {67, 69, 71, 72, 74} and not chords


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{tmp}/no/such/dir/x.mid"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/x.mid", "--midi", "{tmp}/missing.mid"], "--midi: read_midi: no such file"),
        (["--out", "{tmp}/x.mid", "--midi", "{tmp}/notes.txt"], "not a standard MIDI file"),
        (["--out", "{tmp}/x.mid", "--model", "{tmp}/missing.safetensors"], "--model: load: no such file"),
        (["--out", "{tmp}/x.mid", "--model", "{tmp}/notes.txt"], "--model: "),
        (["--out", "{tmp}/x.mid", "--model", "{tmp}/m.st", "--epochs", "3"], "--epochs applies to training"),
        (["--out", "{tmp}/x.mid", "--midi", "{tmp}/a.mid", "--key", "F"], "cannot go with --midi"),
        (["--out", "{tmp}/x.mid", "--bars", "0"], "--bars must be in"),
        (["--out", "{tmp}/x.mid", "--epochs", "0"], "--epochs must be at least 1"),
        (["--out", "{tmp}/x.mid", "--temperature", "-0.5"], "--temperature"),
        (["--out", "{tmp}/x.mid", "--tempo", "0"], "--tempo"),
        (["--out", "{tmp}/x.mid", "--progression", "bebop"], "--progression: progression: 'bebop'"),
        (["--out", "{tmp}/x.mid", "--key", "H"], "--key: key:"),
        (["--out", "{tmp}/x.mid", "--png", "{tmp}/nope/x.png"], "--png"),
        (["--out", "{tmp}/x.mid", "--save", "{tmp}"], "--save"),
        (["--bars", "2"], "required: --out"),
        (["--out", "{tmp}/x.mid", "--bars", "two"], "invalid int value"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "notes.txt").write_text("not a MIDI file, not a model\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert run_cli(argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.mid").exists()


def test_png_without_matplotlib_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["--out", str(tmp_path / "x.mid"), "--png", str(tmp_path / "x.png")]
    assert run_cli(argv, monkeypatch) == 2
    assert 'pip install "seqcore[plot]"' in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()  # checked before any training
