"""``seqcore charlm train|eval|sample``: a character-level language model for any one-item-per-line text."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ._args import (
    UsageError,
    check_output_path,
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
    positive_int_list,
)

CELL_CHOICES = ("rnn", "lstm", "gru")


def add_model_options(p: argparse.ArgumentParser, *, cell: str, units: str, embedding: int, dropout: float) -> None:
    """The architecture options shared by ``charlm train`` and ``dinos``."""
    p.add_argument("--cell", choices=CELL_CHOICES, default=cell, help=f"recurrent cell (default {cell})")
    p.add_argument(
        "--units",
        type=positive_int_list,
        default=positive_int_list(units),
        help=f"hidden units, comma-separated to stack (default {units})",
    )
    p.add_argument(
        "--embedding",
        type=int,
        default=embedding,
        metavar="E",
        help=f"embedding width; 0 feeds one-hot characters as the course does (default {embedding})",
    )
    p.add_argument(
        "--dropout", type=fraction, default=dropout, help=f"dropout rate while training (default {dropout:g})"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``charlm`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "charlm",
        help="train, evaluate and sample a character-level language model on any one-item-per-line text file",
        description="A character-level language model (RNN, LSTM or GRU) for any text with one item per line: "
        "names, words, lines of a poem.",
    )
    sub = p.add_subparsers(dest="charlm_command", metavar="ACTION")
    sub.required = True

    train = sub.add_parser("train", help="train on FILE for at most --seconds and save the model to --out")
    train.add_argument("file", metavar="FILE", help="UTF-8 text, one item per line")
    train.add_argument("--out", required=True, metavar="MODEL", help="where to save the trained model")
    add_model_options(train, cell="lstm", units="128", embedding=32, dropout=0.3)
    train.add_argument("--seconds", type=positive_float, default=60.0, help="training time budget (default 60)")
    train.add_argument("--epochs", type=positive_int, help="stop after this many passes (default: only --seconds)")
    train.add_argument("--batch-size", type=positive_int, default=32, help="items per step (default 32)")
    train.add_argument("--lr", type=positive_float, default=0.005, help="Adam learning rate (default 0.005)")
    train.add_argument(
        "--holdout",
        type=fraction,
        default=0.0,
        help="fraction of items held out: evaluated after every epoch, and the best weights are kept (default 0)",
    )
    train.add_argument(
        "--sample-every", type=positive_float, default=10.0, help="seconds between printed samples (default 10)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)

    evaluate = sub.add_parser("eval", help="mean cross-entropy of MODEL on FILE, in nats per character")
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("file", metavar="FILE")
    evaluate.set_defaults(handler=run_eval)

    sample = sub.add_parser("sample", help="draw items from MODEL, optionally continuing --prefix")
    sample.add_argument("model", metavar="MODEL")
    sample.add_argument("--n", type=positive_int, default=10, help="how many items (default 10)")
    sample.add_argument("--prefix", default="", help="text every item starts with (a line to continue)")
    sample.add_argument("--temperature", type=non_negative_float, default=1.0, help="0 is greedy (default 1)")
    sample.add_argument("--top-k", type=positive_int, help="sample among the k likeliest characters only")
    sample.add_argument("--max-length", type=positive_int, help="stop an item after this many characters")
    sample.add_argument("--seed", type=int, help="random seed (default: fresh randomness)")
    sample.set_defaults(handler=run_sample)
    return p


def read_training_items(path: str) -> list[str]:
    """Items of ``path`` as a UsageError-friendly call: a missing or unreadable file is a usage error."""
    from ..text import read_items

    try:
        return read_items(path)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def load_model(path: str) -> Any:
    from .._atomic import CorruptFileError
    from ..models import CharLM

    try:
        return CharLM.load(path)
    except (OSError, CorruptFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def build_model(args: argparse.Namespace, items: list[str]) -> Any:
    from ..models import CharLM
    from ..text import CharVocab

    if args.embedding < 0:
        raise UsageError(f"--embedding must be >= 0 (0 = one-hot), got {args.embedding}")
    return CharLM(
        CharVocab.from_text(items),
        cell=args.cell,
        units=args.units,
        embedding_dim=args.embedding or None,
        dropout=args.dropout,
        seed=args.seed,
    )


def run_train(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from .. import optim

    items = read_training_items(args.file)
    check_output_path(args.out, "--out")
    held: list[str] = []
    if args.holdout:
        order = np.random.default_rng(args.seed).permutation(len(items))
        cut = int(round(len(items) * args.holdout))
        if cut == 0 or cut == len(items):
            raise UsageError(f"--holdout {args.holdout} leaves no items on one side of {len(items)}")
        held, items = [items[k] for k in order[:cut]], [items[k] for k in order[cut:]]
    model = build_model(args, items + held)  # the alphabet of everything, so held-out text encodes
    bar = tqdm(
        total=round(args.seconds), unit="s", disable=args.quiet, bar_format="{l_bar}{bar}| {n}/{total}s{postfix}"
    )
    state = {"last_sample": time.perf_counter(), "shown": 0}

    def progress(step: int, loss: float) -> None:
        now = time.perf_counter()
        elapsed = min(round(now - start), bar.total)
        if elapsed > state["shown"]:
            bar.update(elapsed - state["shown"])
            state["shown"] = elapsed
        bar.set_postfix_str(f"step {step}, loss {loss:.3f} nats/char", refresh=False)
        if now - state["last_sample"] >= args.sample_every:
            state["last_sample"] = now
            names = model.sample(3, seed=step)
            (bar.write if not args.quiet else print)(f"step {step}: " + " | ".join(names))

    start = time.perf_counter()
    history = model.fit(
        items,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seconds=args.seconds,
        optimizer=optim.Adam(learning_rate=args.lr, clipnorm=5.0),
        validation=held or None,
        seed=args.seed,
        callback=progress,
    )
    bar.close()
    model.save(args.out)
    rate = history.characters / max(history.seconds, 1e-9)
    print(
        f"trained {history.steps} steps ({history.characters:,} characters, {rate:,.0f} chars/s) in "
        f"{history.seconds:.1f}s; smoothed training loss {history.final_loss:.4f} nats/char; saved to {args.out}"
    )
    if held:
        step = min(history.val_losses, key=lambda sv: sv[1])[0]
        print(f"held-out ({len(held)} items): {model.evaluate(held):.4f} nats/char (the weights of step {step}, kept)")
    print("samples: " + " | ".join(model.sample(5, seed=args.seed)))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import math

    model = load_model(args.model)
    items = read_training_items(args.file)
    try:
        nats = model.evaluate(items)
    except ValueError as exc:  # a character the model's alphabet lacks
        raise UsageError(f"{args.file}: {exc}") from None
    chars = sum(len(item) + 1 for item in items)
    print(
        f"{nats:.4f} nats per character ({nats / math.log(2):.4f} bits, perplexity {math.exp(nats):.3f}) "
        f"over {chars:,} characters in {len(items):,} items"
    )
    return 0


def run_sample(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    try:
        items = model.sample(
            args.n,
            prefix=args.prefix,
            temperature=args.temperature,
            top_k=args.top_k,
            max_length=args.max_length,
            seed=args.seed,
        )
    except ValueError as exc:  # e.g. a prefix character the model never saw
        raise UsageError(str(exc)) from None
    for item in items:
        print(item)
    return 0
