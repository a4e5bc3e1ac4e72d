"""``seqcore dinos``: the course's Dinosaur Island — a character-level model that names dinosaurs."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import check_output_path, positive_float, positive_int
from .charlm import add_model_options, build_model, read_training_items


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``dinos`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "dinos",
        help="train the course's dinosaur-name model (SGD, one name per step), printing loss and sampled names",
        description="Dinosaur Island: train a character-level language model on the embedded list of real "
        "dinosaur genus names the course's way (SGD, one name per step, every gradient clipped to [-5, 5], "
        "smoothed loss), printing the smoothed loss and sampled names every --print-every iterations.",
    )
    add_model_options(p, cell="rnn", units="50", embedding=0, dropout=0.0)
    p.add_argument("--iterations", type=positive_int, default=22000, help="training steps (default 22000)")
    p.add_argument("--lr", type=positive_float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--clip", type=positive_float, default=5.0, help="clip each gradient to [-clip, clip] (default 5)")
    p.add_argument("--print-every", type=positive_int, default=2000, help="iterations between reports (default 2000)")
    p.add_argument("--samples", type=positive_int, default=7, help="names sampled per report (default 7)")
    p.add_argument("--data", metavar="FILE", help="another one-item-per-line file instead of the dinosaur names")
    p.add_argument("--save", metavar="PATH", help="save the trained model (load it with `seqcore charlm sample`)")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..datasets import dinos_path

    items = read_training_items(args.data or str(dinos_path()))
    if args.save:
        check_output_path(args.save, "--save")
    model = build_model(args, items)

    def report(step: int, loss: float, names: list[str]) -> None:
        print(f"Iteration: {step}, Loss: {loss:.6f}\n")
        for name in names:
            print(name.capitalize() if args.data is None else name)
        print()

    history = model.fit_course(
        items,
        args.iterations,
        learning_rate=args.lr,
        clip=args.clip,
        print_every=args.print_every,
        n_samples=args.samples,
        seed=args.seed,
        callback=report,
    )
    rate = history.characters / max(history.seconds, 1e-9)
    print(f"{history.steps} iterations in {history.seconds:.1f}s ({rate:,.0f} characters/s)")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return 0
