"""``seqcore glove``: train GloVe vectors on a text corpus and save them."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import positive_float
from .word2vec import add_common, check_common


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``glove`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "glove",
        help="train GloVe vectors on a text corpus",
        description="GloVe (as glove.c): 1/distance-weighted co-occurrences, AdaGrad on the weighted least "
        "squares; the saved vectors are W + C, in seqcore's vector format.",
    )
    add_common(p, dim=50, window=10, epochs=25)
    p.add_argument("--x-max", type=positive_float, default=100.0, help="weighting cutoff x_max (default 100)")
    p.add_argument("--alpha", type=positive_float, default=0.75, help="weighting exponent (default 0.75)")
    p.add_argument("--lr", type=positive_float, default=0.05, help="AdaGrad learning rate (default 0.05)")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..embeddings.train import _glove_run

    check_common(args)
    vectors, costs, stats = _glove_run(
        args.corpus, dim=args.dim, window=args.window, epochs=args.epochs, min_count=args.min_count,
        x_max=args.x_max, alpha=args.alpha, lr=args.lr, workers=args.workers, seed=args.seed, progress=not args.quiet,
    )  # fmt: skip
    vectors.save(args.out)
    print(f"{len(vectors.words)} words x {args.dim}: {stats['pairs']:,.0f} co-occurring pairs, {stats['seconds']:.1f}s "
          f"({stats['words_per_second']:,.0f} words/s), final cost {costs[-1]:.4f}; saved to {args.out}")  # fmt: skip
    return 0
