"""``seqcore trigger detect|train|evaluate``: trigger-word detection with the course's Conv1D + GRU model."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ._args import (
    UsageError,
    check_output_path,
    fraction,
    non_negative_float,
    number,
    positive_float,
    positive_int,
    require_matplotlib,
)

DEFAULT_OUT = "trigger_word.safetensors"
DEFAULT_EPOCHS = 10
DEFAULT_DEV_CLIPS = 100
DEFAULT_EVAL_CLIPS = 100
# The shipped model's recipe (docs/trigger.md): the course's network, trained with lighter dropout, a higher
# learning rate and the output bias started at the labels' prior.
RECIPE_LR = 2e-3
RECIPE_DROPOUT = 0.3
DEV_SEED_OFFSET = 1_000_000  # train's dev clips: another seed than its training clips, whatever --seed is


_probability = number(float, "a probability in [0, 1]", lambda v: 0.0 <= v <= 1.0)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``trigger`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "trigger",
        help="detect a trigger word in WAV files (the course's Conv1D + GRU model); train and evaluate it",
        description="Trigger-word detection: `detect` finds the trigger word in a WAV file of any length, prints "
        "when each one ended and can write the audio back with a chime at each detection (--out) and draw the "
        "waveform, spectrogram and probabilities (--png); `train` trains a model on synthesised clips; "
        "`evaluate` measures one on fresh clips of voices and speeds it never heard.",
    )
    sub = p.add_subparsers(dest="trigger_command", metavar="ACTION")
    sub.required = True

    detect = sub.add_parser("detect", help="print the times at which the trigger word ends in a WAV file")
    detect.add_argument("input", metavar="IN.wav", help="a WAV file (any length, rate and channel count)")
    detect.add_argument("--out", metavar="OUT.wav", help="write the input with a chime at each detection")
    detect.add_argument("--png", metavar="FIG.png", help="draw waveform, spectrogram and probability (matplotlib)")
    detect.add_argument(
        "--threshold", type=_probability, default=0.5, help="probability a step must exceed to fire (default 0.5)"
    )
    detect.add_argument("--model", metavar="FILE", help="a model saved by `seqcore trigger train` (default: shipped)")
    detect.set_defaults(handler=run_detect)

    train = sub.add_parser("train", help="train on synthesised clips, report on dev voices and save")
    train.add_argument("--examples", type=positive_int, required=True, metavar="N", help="training clips (2.2 MB each)")
    train.add_argument(
        "--dev-clips",
        type=positive_int,
        default=DEFAULT_DEV_CLIPS,
        metavar="N",
        help=f"clips in voice/speed combinations not used for training, reported on (default {DEFAULT_DEV_CLIPS})",
    )
    train.add_argument("--epochs", type=positive_int, help=f"passes over the clips (default {DEFAULT_EPOCHS})")
    train.add_argument("--seconds", type=positive_float, help="stop training after this many seconds")
    train.add_argument("--batch-size", type=positive_int, default=16, help="clips per step (default 16)")
    train.add_argument(
        "--lr", type=positive_float, default=RECIPE_LR, help=f"Adam's learning rate (default {RECIPE_LR:g})"
    )
    train.add_argument(
        "--dropout",
        type=fraction,
        default=RECIPE_DROPOUT,
        help=f"rate of the Dropout layers (default {RECIPE_DROPOUT:g}, the shipped model's; the course's is 0.8)",
    )
    train.add_argument("--filters", type=positive_int, default=196, help="Conv1D filters (default 196)")
    train.add_argument("--units", type=positive_int, default=128, help="units of each GRU (default 128)")
    train.add_argument("--word", default="activate", help="the trigger word to synthesise (default activate)")
    train.add_argument("--seed", type=int, default=0, help="seed of the clips and the weights (default 0)")
    train.add_argument("--workers", type=positive_int, default=1, help="processes synthesising clips (default 1)")
    train.add_argument("--out", metavar="MODEL", help=f"where to save the model (default {DEFAULT_OUT})")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=run_train)

    evaluate = sub.add_parser("evaluate", help="frame and event scores on fresh dev-style and unseen-voice clips")
    evaluate.add_argument(
        "--clips",
        type=positive_int,
        default=DEFAULT_EVAL_CLIPS,
        metavar="N",
        help=f"clips per set (default {DEFAULT_EVAL_CLIPS})",
    )
    evaluate.add_argument(
        "--seed", type=int, default=7, help="seed of the clips (default 7: the shipped model trained on seeds 1 and 2)"
    )
    evaluate.add_argument("--model", metavar="FILE", help="a model saved by `seqcore trigger train` (default: shipped)")
    evaluate.add_argument("--threshold", type=_probability, default=0.5, help="firing threshold (default 0.5)")
    evaluate.add_argument(
        "--tolerance",
        type=non_negative_float,
        default=0.5,
        help="seconds after a word's end a detection still counts for it (default 0.5)",
    )
    evaluate.add_argument("--workers", type=positive_int, default=1, help="processes synthesising clips (default 1)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(handler=run_evaluate)
    return p


# ---------------------------------------------------------------- shared


def _load_model(path: str | None) -> Any:
    from .._atomic import CorruptFileError
    from ..models import TriggerWordDetector

    if path is None:
        try:
            return TriggerWordDetector.pretrained()
        except FileNotFoundError:
            raise UsageError(
                "no trigger-word model ships with this seqcore yet; train one with "
                "`seqcore trigger train --examples N --out MODEL` and pass --model MODEL"
            ) from None
    if not os.path.isfile(path):
        raise UsageError(f"--model {path!r}: no such file")
    try:
        return TriggerWordDetector.load(path)
    except (OSError, CorruptFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")


def _dataset(n: int, seed: int, styles: Any, word: str, workers: int, quiet: bool, what: str) -> Any:
    from tqdm import tqdm

    from ..audio.synthesis import make_dataset

    with tqdm(total=n, unit="clip", desc=what, disable=quiet, leave=False) as bar:
        return make_dataset(n, seed, word=word, styles=styles, workers=workers, progress=bar.update)


# ---------------------------------------------------------------- detect


def _plot(
    path: str,
    samples: np.ndarray,
    rate: int,
    times: np.ndarray,
    probs: np.ndarray,
    fired: list[float],
    threshold: float,
    title: str,
) -> None:
    from .._atomic import atomic_open
    from ..audio.constants import NFFT, NOVERLAP, SAMPLE_RATE
    from ..audio.features import features
    from ..audio.wav import load_clip

    plt = require_plot()
    duration = samples.shape[0] / rate
    feats = features(load_clip(samples, rate))  # [T, 101] standardised log10 power, 80 samples apart at 44.1 kHz
    fig, axes = plt.subplots(3, 1, figsize=(10.0, 7.0), sharex=True, constrained_layout=True)
    wave, spec, prob = axes
    t = np.arange(samples.shape[0]) / rate
    step = max(1, samples.shape[0] // 200_000)  # a few hundred thousand points draw the same picture
    wave.plot(t[::step], samples[::step], linewidth=0.5, color="tab:blue")
    wave.set_ylabel("amplitude")
    wave.set_title(title, fontsize=10)
    if feats.shape[0]:
        hop = (NFFT - NOVERLAP) / SAMPLE_RATE
        image = spec.imshow(
            feats.T,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0.0, feats.shape[0] * hop, 0.0, SAMPLE_RATE / 2000.0),
        )
        fig.colorbar(image, ax=spec, label="log10 power (standardised)", pad=0.01)
    spec.set_ylabel("frequency (kHz)")
    prob.plot(times, probs, color="tab:green", linewidth=1.0, label="P(trigger word just ended)")
    prob.axhline(threshold, color="grey", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    for k, when in enumerate(fired):  # dashed over the spectrogram, so the speech under it stays visible
        wave.axvline(when, color="tab:red", linewidth=0.8)
        spec.axvline(when, color="white", linewidth=0.8, linestyle="--", alpha=0.7)
        prob.axvline(when, color="tab:red", linewidth=0.8, label="detection" if k == 0 else None)
    prob.set_ylim(-0.02, 1.02)
    prob.set_ylabel("probability")
    prob.set_xlabel("time (s)")
    prob.set_xlim(0.0, max(duration, 1e-3))
    prob.legend(loc="upper right", fontsize=8)
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)


def require_plot() -> Any:
    return require_matplotlib("the detection figure")


def run_detect(args: argparse.Namespace) -> int:
    from .._atomic import CorruptFileError
    from ..audio.chime import overlay_chimes
    from ..audio.wav import read_wav, write_wav
    from ..models.trigger_word import fire_steps

    if args.out:
        check_output_path(args.out, "--out")
        if os.path.abspath(args.out) == os.path.abspath(args.input):
            raise UsageError("--out must not be the input file")
    if args.png:
        check_output_path(args.png, "--png")
        require_plot()  # before the work, so a missing extra fails at once
    model = _load_model(args.model)
    try:
        samples, rate = read_wav(args.input)
    except (OSError, CorruptFileError, ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    times, probs = model.probabilities(samples, rate)
    fired = [float(times[k]) for k in fire_steps(probs, threshold=args.threshold)]
    for when in fired:
        print(f"{when:.3f}")
    duration = samples.shape[0] / rate
    noun = "detection" if len(fired) == 1 else "detections"
    print(f"{len(fired)} {noun} of {model.word!r} in {args.input} ({duration:.2f} s, threshold {args.threshold:g})")
    if args.out:
        write_wav(args.out, overlay_chimes(samples, rate, fired), rate)
        print(f"wrote the audio with {len(fired)} chime{'' if len(fired) == 1 else 's'} to {args.out}")
    if args.png:
        title = f"{os.path.basename(args.input)}: {len(fired)} {noun} of {model.word!r}"
        _plot(args.png, samples, rate, times, probs, fired, args.threshold, title)
        print(f"drew waveform, spectrogram and probabilities to {args.png}")
    return 0


# ---------------------------------------------------------------- train


def run_train(args: argparse.Namespace) -> int:
    from ..audio.synthesis import style_splits
    from ..models import TriggerWordDetector

    _check_seed(args.seed)
    if not args.word.strip():
        raise UsageError("--word must not be empty")
    out = args.out or DEFAULT_OUT
    check_output_path(out, "--out")
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS
    splits = style_splits()
    print(
        f"synthesising {args.examples:,} training clips and {args.dev_clips:,} dev clips (voice/speed combinations "
        f"not in training) of {args.word!r} ..."
    )
    try:
        train = _dataset(args.examples, args.seed, splits.train, args.word, args.workers, args.quiet, "training clips")
        dev = _dataset(
            args.dev_clips, args.seed + DEV_SEED_OFFSET, splits.dev, args.word, args.workers, args.quiet, "dev clips"
        )
    except ValueError as exc:  # e.g. a --word also among the negative words
        raise UsageError(str(exc)) from None
    model = TriggerWordDetector(
        args.word, seed=args.seed, learning_rate=args.lr, dropout=args.dropout, filters=args.filters, units=args.units
    )
    bias = model.init_output_bias(train.Y)
    limits = f"{epochs} epochs" + (f" or {args.seconds:g}s" if args.seconds is not None else "")
    print(
        f"training {model.count_params():,} parameters on {len(train):,} clips for {limits} "
        f"(dropout {args.dropout:g}, Adam {args.lr:g}, output bias {bias:.2f}) ..."
    )
    history = model.fit(
        train.X,
        train.Y,
        epochs=epochs,
        batch_size=args.batch_size,
        validation_data=(dev.X, dev.Y),
        seconds=args.seconds,
        verbose=0 if args.quiet else 1,
        seed=args.seed,
    )
    losses = history.history.get("loss", [])
    if losses:
        print(f"trained {len(losses)} epoch(s); final training loss {losses[-1]:.4f}")
    report = model.evaluate_events(dev.X, dev.Y, dev.trigger_ends)
    print(f"dev set: {report.summary()}")
    model.save(out)
    print(f"saved to {out}")
    return 0


# ---------------------------------------------------------------- evaluate


def run_evaluate(args: argparse.Namespace) -> int:
    from ..audio.synthesis import style_splits

    _check_seed(args.seed)
    model = _load_model(args.model)
    splits = style_splits()
    rows = []
    for name, styles in (("dev styles", splits.dev), ("unseen voices", splits.unseen_voice)):
        try:
            data = _dataset(args.clips, args.seed, styles, model.word, args.workers, args.quiet, name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        report = model.evaluate_events(
            data.X, data.Y, data.trigger_ends, threshold=args.threshold, tolerance=args.tolerance
        )
        rows.append((name, report))
        del data
    print(f"{model.word!r} detector, threshold {args.threshold:g}, event tolerance {args.tolerance:g} s")
    header = f"{'set':15} {'clips':>6} {'frame F1':>9} {'event P':>8} {'event R':>8} {'event F1':>9}  events"
    print(header)
    for name, r in rows:
        print(
            f"{name:15} {r.clips:6d} {r.frame.f1:9.3f} {r.event.precision:8.3f} {r.event.recall:8.3f} "
            f"{r.event.f1:9.3f}  {r.event.tp} hits, {r.event.fp} false alarms, {r.event.fn} misses"
        )
    return 0
