"""``seqcore transformer dates|charlm``: the course's Transformer on date translation, and a causal character model.

``dates`` trains ``DateTransformer`` with the default recipe on generated dates and reports its exact-match
accuracy on held-out dates next to the LSTM-attention ``DateTranslator.pretrained()`` on the same dates;
``charlm`` trains ``TransformerCharLM`` and the LSTM ``CharLM`` on the same split for the same time and
reports both held-out losses (nats per character) and samples.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

from ._args import UsageError, check_output_path, fraction, non_negative_float, positive_float, positive_int

HELD_OUT = 1_000
VALIDATION = 500  # generated dates beside the training ones that choose the best epoch (at most a tenth)
BLOCK_CHOICES = ("cross", "self")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``transformer`` on the ``seqcore`` subparsers."""
    from ..models.transformer_dates import DEFAULT_RECIPE as R

    p = subparsers.add_parser(
        "transformer",
        help="the course's Transformer: date translation (vs the LSTM attention model) and a character model",
        description="Transformer demonstrations: 'dates' trains the course's encoder-decoder Transformer to "
        "translate human-readable dates to ISO dates; 'charlm' trains a causal (GPT-style) character model on a "
        "one-item-per-line text next to the LSTM character model.",
    )
    sub = p.add_subparsers(dest="transformer_command", metavar="DEMO")
    sub.required = True

    d = sub.add_parser(
        "dates",
        help="train the Transformer on generated dates; report held-out accuracy next to the LSTM attention model",
        description="Train the encoder-decoder Transformer on generated (human date, ISO date) pairs with the "
        "default recipe, report its exact-match accuracy on held-out dates next to the shipped LSTM-attention "
        "DateTranslator on the same dates, translate any DATEs given, and optionally draw an attention map.",
    )
    d.add_argument("dates", nargs="*", metavar="DATE", help="dates to translate after training (quote each one)")
    d.add_argument("--model", metavar="FILE", help="use a model saved with --save instead of training one")
    d.add_argument(
        "--train-size",
        type=positive_int,
        default=R["examples"],
        help=f"generated training dates (default {R['examples']:,})",
    )
    d.add_argument(
        "--held-out",
        type=positive_int,
        default=HELD_OUT,
        help=f"generated dates, never seen in training, to measure accuracy on (default {HELD_OUT:,})",
    )
    d.add_argument("--epochs", type=positive_int, help=f"passes over the training dates (default {R['epochs']})")
    d.add_argument("--steps", type=positive_int, help="stop after this many updates")
    d.add_argument("--seconds", type=positive_float, help="stop after this many seconds of training")
    d.add_argument("--seed", type=int, default=0, help="seed of the data, the weights and the batches (default 0)")
    d.add_argument(
        "--beam-width", type=positive_int, default=1, help="decode with beam search of this width (default 1: greedy)"
    )
    d.add_argument("--save", metavar="PATH", help="save the trained model there")
    d.add_argument("--no-compare", action="store_true", help="do not evaluate the LSTM attention model")
    d.add_argument("--attention", metavar="TEXT", help="draw the attention map of TEXT's translation to --png")
    d.add_argument("--png", metavar="PATH", help="with --attention: where to draw the heat map (needs matplotlib)")
    d.add_argument("--layer", type=positive_int, help="with --attention: decoder layer, 1..layers (default the last)")
    d.add_argument(
        "--head", type=positive_int, default=1, help="with --attention: attention head, 1..heads (default 1)"
    )
    d.add_argument(
        "--block",
        choices=BLOCK_CHOICES,
        default="cross",
        help="with --attention: 'cross' (over the input characters, default) or 'self' (over the output so far)",
    )
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(handler=run_dates)

    c = sub.add_parser(
        "charlm",
        help="train a causal Transformer character model and the LSTM one on FILE; compare held-out losses",
        description="Train a decoder-only (causal) Transformer character model on FILE (one item per line) and, "
        "for the same time on the same split, the LSTM character model; report both held-out losses in nats per "
        "character and print samples.",
    )
    c.add_argument("file", metavar="FILE", help="UTF-8 text, one item per line (e.g. the dinosaur names)")
    c.add_argument("--seconds", type=positive_float, default=60.0, help="training time of each model (default 60)")
    c.add_argument("--steps", type=positive_int, help="also stop each model after this many updates")
    c.add_argument("--holdout", type=fraction, default=0.1, help="fraction of items held out (default 0.1)")
    c.add_argument("--layers", type=positive_int, default=2, help="Transformer blocks (default 2)")
    c.add_argument("--d-model", type=positive_int, default=64, help="Transformer width (default 64)")
    c.add_argument("--heads", type=positive_int, default=4, help="attention heads (default 4)")
    c.add_argument("--dff", type=positive_int, default=256, help="feed-forward width (default 256)")
    c.add_argument("--dropout", type=fraction, default=0.1, help="Transformer dropout (default 0.1)")
    c.add_argument("--warmup", type=positive_int, default=200, help="warm-up steps of the schedule (default 200)")
    c.add_argument("--lstm-units", type=positive_int, default=128, help="units of the LSTM compared (default 128)")
    c.add_argument("--no-compare", action="store_true", help="do not train the LSTM model")
    c.add_argument("--batch-size", type=positive_int, default=32, help="items per step (default 32)")
    c.add_argument("--samples", type=int, default=10, help="items to sample from the Transformer (default 10)")
    c.add_argument("--temperature", type=non_negative_float, default=1.0, help="sampling temperature (default 1)")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--save", metavar="PATH", help="save the Transformer model there")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(handler=run_charlm)
    return p


# ---------------------------------------------------------------- dates


def _check_dates(args: argparse.Namespace) -> None:
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.model:
        for option, value in (("--epochs", args.epochs), ("--steps", args.steps), ("--seconds", args.seconds)):
            if value is not None:
                raise UsageError(f"{option} trains a model; --model uses a saved one (drop one of them)")
        if not os.path.isfile(args.model):
            raise UsageError(f"--model {args.model!r}: no such file")
    if args.attention is not None and not args.png:
        raise UsageError("--attention draws a heat map: add --png PATH")
    if args.png and args.attention is None:
        raise UsageError('--png draws the attention map of --attention TEXT; add --attention "..."')
    if args.attention is None and (args.layer is not None or args.head != 1 or args.block != "cross"):
        raise UsageError("--layer, --head and --block choose the attention map: add --attention TEXT --png PATH")
    if args.save:
        check_output_path(args.save, "--save")
    if args.png:
        check_output_path(args.png, "--png")
        from ._args import require_matplotlib

        require_matplotlib("the attention map")  # before the work, so a missing extra fails at once


def _load_dates(path: str) -> Any:
    from .._atomic import CorruptFileError
    from ..models import DateTransformer

    try:
        return DateTransformer.load(path)
    except (OSError, CorruptFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _check_layer_head(args: argparse.Namespace, model: Any) -> None:
    if args.layer is not None and args.layer > model.num_layers:
        raise UsageError(f"--layer must lie in 1..{model.num_layers} (the decoder's layers), got {args.layer}")
    if args.head > model.num_heads:
        raise UsageError(f"--head must lie in 1..{model.num_heads}, got {args.head}")


def _progress_bar(args: argparse.Namespace, total: int, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=args.quiet, bar_format="{l_bar}{bar}| {n}/{total}{postfix}")


def run_dates(args: argparse.Namespace) -> int:
    from ..datasets.dates import date_splits
    from ..models import DateTransformer
    from ..models.transformer_dates import DEFAULT_RECIPE as R

    _check_dates(args)
    if args.model:
        model = _load_dates(args.model)
        held = date_splits(0, args.held_out, seed=args.seed)[1]
    else:
        # a few more generated dates pick the best epoch's weights; the held-out dates stay for the report only
        n_val = min(VALIDATION, args.train_size // 10)
        train, held = date_splits(args.train_size + n_val, args.held_out, seed=args.seed)
        train, val = train[: args.train_size], train[args.train_size :]
        model = DateTransformer(seed=args.seed)
        _check_layer_head(args, model)
        epochs = args.epochs if args.epochs is not None else (None if args.steps or args.seconds else R["epochs"])
        per_epoch = math.ceil(len(train) / R["batch_size"])
        total = (
            min(x for x in (args.steps, None if epochs is None else epochs * per_epoch) if x is not None)
            if (args.steps or epochs)
            else None
        )
        limits = [f"{epochs} epochs"] if epochs is not None else []
        limits += [f"{args.steps} steps"] if args.steps else []
        limits += [f"{args.seconds:g}s"] if args.seconds else []
        print(
            f"training the Transformer ({model.count_params():,} parameters) on {len(train):,} generated dates "
            f"({len(held):,} others held out, {len(val):,} more to keep the best epoch) for {' or '.join(limits)} ..."
        )
        bar = _progress_bar(args, total, "step")

        def progress(step: int, loss: float) -> None:
            bar.update(1)
            bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

        history = model.fit(
            train,
            epochs=epochs,
            steps=args.steps,
            seconds=args.seconds,
            validation=val or None,
            seed=args.seed,
            callback=progress,
        )
        bar.close()
        rate = history.examples / max(history.seconds, 1e-9)
        print(
            f"trained {history.steps:,} steps ({history.examples:,} examples, {rate:,.0f}/s) in "
            f"{history.seconds:.1f}s; final loss {history.final_loss:.4f}"
        )
        if history.val_accuracy:
            step, acc = max(reversed(history.val_accuracy), key=lambda sa: sa[1])
            print(f"kept the weights of step {step:,} ({acc:.1%} on the {len(val):,} validation dates)")
    _check_layer_head(args, model)
    start = time.perf_counter()
    accuracy = model.evaluate(held, beam_width=args.beam_width)
    seconds = time.perf_counter() - start
    how = "greedy" if args.beam_width == 1 else f"beam width {args.beam_width}"
    print(
        f"held-out exact-match accuracy ({len(held):,} dates never seen in training, {how}): "
        f"Transformer {accuracy:.1%} ({round(accuracy * len(held))}/{len(held)}, {seconds:.1f}s)"
    )
    if not args.no_compare:
        from ..models import DateTranslator

        try:
            lstm = DateTranslator.pretrained()
        except FileNotFoundError as exc:
            print(f"(the LSTM attention model is not available: {exc})")
        else:
            other = lstm.evaluate(held)
            print(f"LSTM attention model (DateTranslator.pretrained()) on the same dates: {other:.1%}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    for text, iso in zip(args.dates, model.translate(list(args.dates), beam_width=args.beam_width)):
        print(f"{text} -> {iso}")
    if args.attention is not None:
        weights = model.attention_map(args.attention, layer=args.layer, head=args.head, block=args.block, png=args.png)
        iso = model.translate([args.attention])[0]
        print(
            f"{args.attention} -> {iso}: {args.block}-attention of decoder layer {args.layer or model.num_layers}, "
            f"head {args.head} ({weights.shape[0]}x{weights.shape[1]}) drawn to {args.png}"
        )
    return 0


# ---------------------------------------------------------------- charlm


def run_charlm(args: argparse.Namespace) -> int:
    import numpy as np

    from ..models import CharLM, TransformerCharLM
    from ..text import CharVocab
    from .charlm import read_training_items

    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.samples < 0:
        raise UsageError(f"--samples must be >= 0, got {args.samples}")
    if args.d_model % args.heads:
        raise UsageError(f"--d-model ({args.d_model}) must be a multiple of --heads ({args.heads})")
    items = read_training_items(args.file)
    if args.save:
        check_output_path(args.save, "--save")
    order = np.random.default_rng(args.seed).permutation(len(items))
    cut = int(round(len(items) * args.holdout))
    if args.holdout and (cut == 0 or cut == len(items)):
        raise UsageError(f"--holdout {args.holdout} leaves no items on one side of {len(items)}")
    held, train = [items[k] for k in order[:cut]], [items[k] for k in order[cut:]]
    vocab = CharVocab.from_text(items)  # the alphabet of everything, so held-out text encodes
    longest = max(len(item) for item in items)
    model = TransformerCharLM(
        vocab,
        num_layers=args.layers,
        d_model=args.d_model,
        num_heads=args.heads,
        dff=args.dff,
        max_positions=longest + 1,
        dropout=args.dropout,
        seed=args.seed,
    )
    print(
        f"{len(train):,} training items, {len(held):,} held out; each model trains for {args.seconds:g}s"
        + (f" or {args.steps} steps" if args.steps else "")
    )

    def train_one(name: str, fit: Any) -> Any:
        bar = _progress_bar(args, round(args.seconds), "s")
        start, shown = time.perf_counter(), [0]

        def progress(step: int, loss: float) -> None:
            done = min(round(time.perf_counter() - start), bar.total)
            if done > shown[0]:
                bar.update(done - shown[0])
                shown[0] = done
            bar.set_postfix_str(f"{name} step {step}, loss {loss:.3f}", refresh=False)

        history = fit(progress)
        bar.close()
        return history

    common = {"batch_size": args.batch_size, "seconds": args.seconds, "steps": args.steps, "seed": args.seed}
    history = train_one(
        "transformer",
        lambda cb: model.fit(train, warmup_steps=args.warmup, validation=held or None, callback=cb, **common),
    )
    print(
        f"Transformer ({model.count_params():,} parameters): {history.steps:,} steps in {history.seconds:.1f}s, "
        f"smoothed training loss {history.final_loss:.4f} nats/char"
    )
    lstm = None
    if not args.no_compare:
        lstm = CharLM(vocab, cell="lstm", units=args.lstm_units, embedding_dim=32, dropout=0.3, seed=args.seed)
        lstm_common = dict(common)
        steps = lstm_common.pop("steps")
        lstm_history = train_one(
            "lstm",
            lambda cb: lstm.fit(
                train,
                validation=held or None,
                callback=(lambda s, loss: cb(s, loss) or (steps is not None and s >= steps)),
                **lstm_common,
            ),
        )
        print(
            f"LSTM ({lstm.model.count_params():,} parameters): {lstm_history.steps:,} steps in "
            f"{lstm_history.seconds:.1f}s, smoothed training loss {lstm_history.final_loss:.4f} nats/char"
        )
    if held:
        line = f"held-out loss ({len(held):,} items): Transformer {model.evaluate(held):.4f} nats/char"
        if lstm is not None:
            line += f", LSTM {lstm.evaluate(held):.4f} nats/char"
        print(line + " (the best weights of each run, kept)")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    if args.samples:
        print("samples: " + " | ".join(model.sample(args.samples, temperature=args.temperature, seed=args.seed)))
    return 0
