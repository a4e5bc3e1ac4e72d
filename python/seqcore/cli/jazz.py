"""``seqcore jazz``: train the course's jazz LSTM (or load one) and improvise a solo to a MIDI file."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from fractions import Fraction
from typing import Any

from ._args import UsageError
from ._args import check_output_path as _check_output_path

DEFAULT_EPOCHS = 100  # the course's 100 epochs over ~60 windows: a few seconds on two cores
DEFAULT_WINDOWS = 60
DEFAULT_SOLOS = 16  # 16 eight-bar solos: ~90 distinct tokens, the course's n_values
DEFAULT_TX = 30
MAX_BARS = 256


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``jazz`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "jazz",
        help="improvise a jazz solo with the course's LSTM and write it as a MIDI file",
        description="Train the course's jazz-improvisation LSTM (one shared LSTM cell unrolled over 30 one-hot "
        "steps) on generated jazz solos over a chord progression -- or on your own MIDI files (--midi), or load a "
        "saved model (--model) -- then improvise a solo, sampling each note from the model and feeding it back, "
        "and write it as a standard MIDI file with the chords underneath (and optionally a piano-roll PNG).",
    )
    p.add_argument("--out", required=True, metavar="PATH", help="the MIDI file to write (e.g. solo.mid)")
    p.add_argument("--png", metavar="PATH", help="also draw a piano roll to this PNG (needs matplotlib)")
    p.add_argument("--bars", type=int, default=8, help="length of the solo in 4/4 bars (default 8)")
    p.add_argument("--model", metavar="PATH", help="load a model saved with --save instead of training one")
    p.add_argument("--save", metavar="PATH", help="save the trained model (safetensors) to PATH")
    p.add_argument("--epochs", type=int, help=f"training epochs (default {DEFAULT_EPOCHS})")
    p.add_argument(
        "--windows",
        type=int,
        help=f"training windows of {DEFAULT_TX} tokens, spread evenly over the data (default {DEFAULT_WINDOWS})",
    )
    p.add_argument("--midi", nargs="+", metavar="FILE", help="train on the melodies of these MIDI files instead")
    p.add_argument(
        "--progression",
        help="chord progression of the generated training data and the accompaniment: ii-V-I (default), "
        "turnaround, minor-ii-V-i, blues, rhythm, or bars such as '| ii7 V7 | Imaj7 |'",
    )
    p.add_argument("--key", help="key of the accompaniment (and of the first training solo), e.g. C (default), Bb")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature: 0 = always the likeliest note (the course's argmax), 1 = as learnt (default)",
    )
    p.add_argument("--tempo", type=float, default=120.0, help="tempo of the MIDI file in beats per minute (120)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, the weights and the sampling (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)
    return p


# ---------------------------------------------------------------- checks


def _check_args(args: argparse.Namespace) -> None:
    if not 1 <= args.bars <= MAX_BARS:
        raise UsageError(f"--bars must be in 1..{MAX_BARS}, got {args.bars}")
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if args.windows is not None and args.windows < 1:
        raise UsageError(f"--windows must be at least 1, got {args.windows}")
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UsageError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if not (math.isfinite(args.tempo) and 10 <= args.tempo <= 1000):
        raise UsageError(f"--tempo must be in 10..1000 beats per minute, got {args.tempo}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.model is not None:
        given = [f"--{name}" for name in ("midi", "epochs", "windows", "progression", "key") if getattr(args, name)]
        if given:
            verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
            raise UsageError(f"{', '.join(given)} {verb} to training a new model; leave {them} out with --model")
    if args.midi is not None and (args.progression is not None or args.key is not None):
        raise UsageError("--progression and --key choose the generated training data; they cannot go with --midi")
    _check_output_path(args.out, "--out")
    for option, path in (("--png", args.png), ("--save", args.save)):
        if path is not None:
            _check_output_path(path, option)
    if args.png is not None:
        from ..music.pianoroll import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as exc:
            raise UsageError(f"--png: {exc}") from None


# ---------------------------------------------------------------- data and model


def _first_bar(tokens: list[Any], limit: int) -> list[Any]:
    """The leading tokens up to the end of the first bar (at most ``limit``): the motif a solo continues from.

    Every training solo's opening is a training window's opening too, so after this primer the model knows
    where it is (key, place in the form); primed elsewhere, or not at all, it wanders between the data's keys.
    """
    out: list[Any] = []
    beats = Fraction(0)
    for tok in tokens[:limit]:
        out.append(tok)
        beats += tok.duration
        if beats >= 4:
            break
    return out


def _generated_data(args: argparse.Namespace) -> tuple[list[list[Any]], dict[str, Any]]:
    from ..datasets.jazz import DEFAULT_KEYS, jazz_solos, realize_progression

    progression = args.progression or "ii-V-I"
    key = args.key or "C"
    try:
        form = int(sum(d for _, d in realize_progression(progression, key))) // 4
    except (TypeError, ValueError) as exc:
        option = "--key" if str(exc).startswith("key") else "--progression"
        raise UsageError(f"{option}: {exc}") from None
    keys = [key, *(k for k in DEFAULT_KEYS if k != key)]  # the first solo, which primes the improvisation, in key
    n_bars = form * math.ceil(8 / form)  # whole choruses of at least 8 bars
    solos = jazz_solos(DEFAULT_SOLOS, n_bars=n_bars, progression=progression, keys=keys, seed=args.seed)
    sequences = [[t.without_chord() for t in s.tokens] for s in solos]
    info = {"source": "seqcore.datasets.jazz_solos", "progression": progression, "key": key}
    return sequences, info


def _midi_data(paths: list[str]) -> tuple[list[list[Any]], dict[str, Any]]:
    from ..music import read_midi

    sequences = []
    for path in paths:
        try:
            sequences.append(read_midi(path))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--midi: {exc}") from None
    return sequences, {"source": "midi", "files": [os.path.basename(p) for p in paths]}


def _train(args: argparse.Namespace) -> tuple[Any, str]:
    from ..datasets.jazz import training_windows
    from ..models.music_lstm import MusicLSTM
    from ..music import Vocabulary

    sequences, info = _midi_data(args.midi) if args.midi else _generated_data(args)
    longest = max(len(s) for s in sequences)
    if longest < 2:
        raise UsageError(f"--midi: the melodies hold at most {longest} note/rest token(s); at least 2 are needed")
    Tx = min(DEFAULT_TX, longest)
    vocab = Vocabulary.build(sequences)
    ids = [vocab.encode(s) for s in sequences]
    X, Y = training_windows(ids, Tx, n_values=len(vocab), max_windows=args.windows or DEFAULT_WINDOWS)
    info["primer"] = [str(t) for t in _first_bar(sequences[0], Tx - 1)]
    model = MusicLSTM(len(vocab), Tx=Tx, vocab=vocab, info=info, seed=args.seed)
    epochs = args.epochs or DEFAULT_EPOCHS
    start = time.perf_counter()
    history = model.fit(X, Y, epochs=epochs, verbose=0 if args.quiet else 1)
    seconds = time.perf_counter() - start
    loss = history.history["loss"][-1]
    what = f"trained on {len(X)} windows x {epochs} epochs in {seconds:.1f}s (loss {loss:.3f}, vocabulary {len(vocab)})"
    return model, what


def _load(path: str) -> tuple[Any, str]:
    from ..models.music_lstm import MusicLSTM

    try:
        model = MusicLSTM.load(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--model: {exc}") from None
    if model.vocab is None:
        raise UsageError(f"--model: {path!r} holds no token vocabulary, so its ids cannot be turned into notes")
    return model, f"loaded {path}"


def _accompaniment(info: dict[str, Any], offset: Fraction, beats: int) -> list[tuple[str, Fraction]] | None:
    """The chord spans under the solo: the progression from ``offset`` beats (where the primer ends), ``beats`` long."""
    from ..datasets.jazz import realize_progression

    if "progression" not in info:
        return None
    bars = math.ceil((offset + beats) / 4) + 1
    spans = realize_progression(str(info["progression"]), str(info.get("key", "C")), n_bars=bars)
    out: list[tuple[str, Fraction]] = []
    t = Fraction(0)
    for symbol, length in spans:
        lo, hi = max(t, offset), min(t + length, offset + beats)
        if hi > lo:
            out.append((symbol, hi - lo))
        t += length
    return out


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    from ..music import NoteToken, note_name, take_beats, write_midi

    model, how = _load(args.model) if args.model else _train(args)
    if args.save:
        try:
            model.save(args.save)
        except OSError as exc:
            raise UsageError(f"--save: could not write {args.save!r}: {exc}") from None
    info = model.info
    try:
        primer = [NoteToken.parse(s) for s in info.get("primer", [])]
        primer = [t for t in primer if t in model.vocab]
    except (TypeError, ValueError):
        primer = []  # a hand-edited info record: improvise from scratch rather than fail
    beats = 4 * args.bars
    shortest = min(t.duration for t in model.vocab)
    tokens = model.generate_tokens(
        math.ceil(beats / shortest) + 1, seed_tokens=primer or None, temperature=args.temperature, seed=args.seed
    )
    tokens = take_beats(tokens, beats)
    offset = sum((t.duration for t in primer), Fraction(0))
    try:
        chords = _accompaniment(info, offset, beats)
    except (TypeError, ValueError):
        chords = None
    try:
        write_midi(tokens, args.out, tempo_bpm=args.tempo, chords=chords, accompaniment=chords is not None)
    except OSError as exc:
        raise UsageError(f"--out: could not write {args.out!r}: {exc}") from None
    extras = []
    if args.png:
        from ..music import draw_piano_roll

        title = f"seqcore jazz: {args.bars} bars" + (
            f" over {info['progression']} in {info.get('key', 'C')}" if chords else ""
        )
        try:
            draw_piano_roll(tokens, args.png, chords=chords, title=title)
        except OSError as exc:
            raise UsageError(f"--png: could not write {args.png!r}: {exc}") from None
        extras.append(f"piano roll {args.png}")
    if args.save:
        extras.append(f"model saved to {args.save}")
    notes = [t.pitch for t in tokens if t.pitch is not None]
    span = f"pitches {note_name(min(notes))}-{note_name(max(notes))}" if notes else "no notes"
    over = f" over {info['progression']} in {info.get('key', 'C')} from bar {int(offset // 4) + 1}" if chords else ""
    print(
        f"wrote {args.out}: {args.bars} bars at {args.tempo:g} bpm, {len(notes)} notes and "
        f"{len(tokens) - len(notes)} rests, {span}{over}; {how}" + "".join(f"; {e}" for e in extras),
        file=sys.stdout,
    )
    return 0
