"""``seqcore dates``: translate human-readable dates to ISO dates with the course's attention model."""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numpy as np

from ._args import UsageError, check_output_path, positive_float, positive_int, require_matplotlib

DEFAULT_EXAMPLES = 20_000
DEFAULT_EPOCHS = 8
DEFAULT_OUT = "date_translator.safetensors"
HELD_OUT = 1_000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``dates`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "dates",
        help="translate human-readable dates to ISO dates (the course's attention model); draw its attention",
        description="Date translation: print the ISO date (YYYY-MM-DD) of each DATE, one per line, with the "
        "attention model that ships with seqcore (a bidirectional LSTM read by a one-step attention block and a "
        "post-attention LSTM).  --attention TEXT --png PATH draws where each output character looked; --train "
        "retrains on freshly generated dates and saves the model.",
    )
    p.add_argument("dates", nargs="*", metavar="DATE", help='dates to translate (quote each one: "3rd of march 2001")')
    p.add_argument("--model", metavar="FILE", help="use a model saved by --train instead of the shipped one")
    p.add_argument("--attention", metavar="TEXT", help="draw the attention map of TEXT to --png")
    p.add_argument("--png", metavar="PATH", help="with --attention: where to draw the heat map (needs matplotlib)")
    p.add_argument(
        "--n-best",
        type=positive_int,
        metavar="K",
        help="print the K most likely ISO strings of each DATE with their log-probabilities (beam search of width K)",
    )
    p.add_argument(
        "--error-analysis",
        type=positive_int,
        metavar="N",
        help="the course's error analysis on N freshly generated dates (with --seed): how many wrong answers are "
        "the beam search's fault and how many the model's, with the wrong ones listed",
    )
    p.add_argument("--beam-width", type=positive_int, default=3, help="with --error-analysis: beam width (default 3)")
    p.add_argument("--train", action="store_true", help="retrain on generated dates, report and save (see --out)")
    p.add_argument(
        "--examples",
        type=positive_int,
        default=DEFAULT_EXAMPLES,
        help=f"with --train: generated training dates (default {DEFAULT_EXAMPLES:,}; {HELD_OUT:,} more are held out)",
    )
    p.add_argument("--epochs", type=positive_int, help=f"with --train: passes over the data (default {DEFAULT_EPOCHS})")
    p.add_argument("--seconds", type=positive_float, help="with --train: stop after this many seconds of training")
    p.add_argument("--out", metavar="MODEL", help=f"with --train: where to save the model (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, help="with --train: seed of the data and the weights (default 0)")
    p.add_argument("--quiet", action="store_true", help="with --train: no progress bar")
    p.set_defaults(handler=run)
    return p


def _check(args: argparse.Namespace) -> None:
    if not (args.dates or args.attention is not None or args.train or args.error_analysis):
        raise UsageError(
            'give one or more dates to translate (e.g. "Saturday May 9 2018"), --attention, --error-analysis, '
            "or --train"
        )
    if args.n_best and not args.dates:
        raise UsageError("--n-best lists alternatives for the DATEs given: add one or more dates")
    if args.attention is not None and not args.png:
        raise UsageError("--attention draws a heat map: add --png PATH")
    if args.png and args.attention is None:
        raise UsageError('--png draws the attention map of --attention TEXT; add --attention "..."')
    if not args.train:
        for option, value in (("--epochs", args.epochs), ("--seconds", args.seconds), ("--out", args.out)):
            if value is not None:
                raise UsageError(f"{option} applies to --train only")
        if args.examples != DEFAULT_EXAMPLES:
            raise UsageError("--examples applies to --train only")
    if args.train and args.model:
        raise UsageError("--train and --model exclude each other (--train starts from fresh weights; see --out)")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.train:
        check_output_path(args.out or DEFAULT_OUT, "--out")
    if args.png:
        check_output_path(args.png, "--png")
        _require_matplotlib()  # before the work, so a missing extra fails at once


def _require_matplotlib() -> Any:
    return require_matplotlib("the attention map")


def _load(path: str) -> Any:
    from .._atomic import CorruptFileError
    from ..models import DateTranslator

    if not os.path.isfile(path):
        raise UsageError(f"--model {path!r}: no such file")
    try:
        return DateTranslator.load(path)
    except (OSError, CorruptFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _train(args: argparse.Namespace) -> Any:
    from tqdm import tqdm

    from ..datasets.dates import date_splits
    from ..models import DateTranslator

    out = args.out or DEFAULT_OUT
    epochs = args.epochs if args.epochs is not None else (None if args.seconds is not None else DEFAULT_EPOCHS)
    train, held = date_splits(args.examples, HELD_OUT, seed=args.seed)
    model = DateTranslator(seed=args.seed)
    steps_per_epoch = math.ceil(len(train) / 100)
    limits = [f"{epochs} epochs"] if epochs is not None else []
    limits += [f"{args.seconds:g}s"] if args.seconds is not None else []
    print(f"training on {len(train):,} generated dates ({HELD_OUT:,} others held out) for {' or '.join(limits)} ...")
    by_time = epochs is None
    bar = tqdm(
        total=round(args.seconds) if by_time else epochs * steps_per_epoch,
        unit="s" if by_time else "step",
        disable=args.quiet,
        bar_format="{l_bar}{bar}| {n}/{total}" + ("s" if by_time else "") + "{postfix}",
    )
    state = {"shown": 0}
    start = time.perf_counter()

    def progress(step: int, loss: float) -> None:
        done = min(round(time.perf_counter() - start), bar.total) if by_time else step
        if done > state["shown"]:
            bar.update(done - state["shown"])
            state["shown"] = done
        bar.set_postfix_str(f"epoch {(step - 1) // steps_per_epoch + 1}, loss {loss:.4f}", refresh=False)

    history = model.fit(train, epochs=epochs, seconds=args.seconds, validation=held, seed=args.seed, callback=progress)
    bar.close()
    accuracy = model.evaluate(held)
    correct = round(accuracy * len(held))
    print(
        f"trained {history.steps:,} steps ({history.examples:,} examples) in {history.seconds:.1f}s; "
        f"final loss {history.final_loss:.4f}"
    )
    print(f"held-out exact-match accuracy: {accuracy:.1%} ({correct}/{len(held)} dates never seen in training)")
    model.save(out)
    print(f"saved to {out}")
    return model


def _plot_attention(path: str, text: str, iso: str, weights: np.ndarray, tx: int) -> None:
    from .._atomic import atomic_open
    from ..datasets.dates import normalize_human

    plt = _require_matplotlib()
    read = normalize_human(text)[:tx]
    columns = list(read) + ["·"] * (tx - len(read))  # padding positions take attention too: show them
    columns = ["␣" if c == " " else c for c in columns]
    fig, ax = plt.subplots(figsize=(9.0, 4.2), constrained_layout=True)
    image = ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=max(float(weights.max()), 1e-9))
    ax.set_xticks(np.arange(tx))
    ax.set_xticklabels(columns, fontsize=9)
    ax.set_yticks(np.arange(len(iso)))
    ax.set_yticklabels(list(iso), fontsize=9)
    ax.set_xlabel("input characters (as the model reads them: lower-case, no commas; · is padding, ␣ a space)")
    ax.set_ylabel("output characters")
    shown = text if len(text) <= 40 else text[:37] + "..."
    ax.set_title(f"attention: {shown!r} -> {iso}", fontsize=10)
    fig.colorbar(image, ax=ax, label="attention weight")
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)


def _error_analysis(model: Any, n: int, seed: int, beam_width: int) -> None:
    from ..datasets.dates import date_pairs
    from ..decode import error_analysis

    pairs = date_pairs(n, seed=seed)
    report = error_analysis(model, [h for h, _ in pairs], [iso for _, iso in pairs], beam_width=beam_width)
    print(report.summary())
    for r in [*report.beam_errors, *report.model_errors][:20]:
        print(f"  {r.x!r}: y* = {r.y_star} (log P {r.log_p_star:.3f}), y^ = {r.y_hat} (log P {r.log_p_hat:.3f}) "
              f"-> {r.verdict}")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    _check(args)
    if args.train:
        model = _train(args)
    elif args.model:
        model = _load(args.model)
    else:
        from ..models import DateTranslator

        try:
            model = DateTranslator.pretrained()
        except FileNotFoundError as exc:
            raise UsageError(f"{exc}; retrain with seqcore dates --train") from None
    if args.n_best:
        for text, alternatives in zip(args.dates, model.n_best(list(args.dates), args.n_best)):
            print(text)
            for iso, log_prob in alternatives:
                print(f"  {iso}  log P = {log_prob:.4f}")
    else:
        for iso in model.translate(list(args.dates)):
            print(iso)
    if args.error_analysis:
        _error_analysis(model, args.error_analysis, args.seed, args.beam_width)
    if args.attention is not None:
        iso = model.translate([args.attention])[0]
        weights = model.attention([args.attention])[0]
        _plot_attention(args.png, args.attention, iso, weights, model.tx)
        print(f"{args.attention} -> {iso}: attention map drawn to {args.png}")
    return 0
