"""``seqcore word2vec``: train skip-gram word2vec vectors on a text corpus and save them."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._args import UsageError, check_output_path, non_negative_float, positive_float, positive_int


def add_common(p: argparse.ArgumentParser, dim: int, window: int, epochs: int) -> None:
    p.add_argument("corpus", metavar="CORPUS.txt", help="text file, one sentence per line, whitespace-separated tokens")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to save the vectors to (seqcore's format)")
    p.add_argument("--dim", type=positive_int, default=dim, help=f"vector size (default {dim})")
    p.add_argument("--window", type=positive_int, default=window, help=f"context window (default {window})")
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"passes over the corpus (default {epochs})")
    p.add_argument("--min-count", type=positive_int, default=5, help="drop words seen fewer times (default 5)")
    p.add_argument("--workers", type=positive_int, default=2, help="training threads (default 2)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1; repeatable with --workers 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_common(args: argparse.Namespace) -> None:
    if not os.path.isfile(args.corpus):
        raise UsageError(f"CORPUS {args.corpus!r} is not a file")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a file; give a folder name")
    check_output_path(os.path.join(args.out, "vectors.npy") if os.path.isdir(args.out) else args.out + "_", "--out")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``word2vec`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "word2vec",
        help="train skip-gram word2vec vectors (negative sampling) on a text corpus",
        description="Skip-gram word2vec with negative sampling (as word2vec.c and gensim sg=1), saved in "
        "seqcore's vector format (load with WordVectors.load).",
    )
    add_common(p, dim=100, window=5, epochs=5)
    p.add_argument("--negative", type=positive_int, default=5, help="negative samples per pair (default 5)")
    p.add_argument("--sample", type=non_negative_float, default=1e-3, help="subsampling threshold (default 1e-3)")
    p.add_argument("--alpha", type=positive_float, default=0.025, help="starting learning rate (default 0.025)")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..embeddings.train import _word2vec_run

    check_common(args)
    vectors, losses, stats = _word2vec_run(
        args.corpus, dim=args.dim, window=args.window, negative=args.negative, epochs=args.epochs,
        min_count=args.min_count, sample=args.sample, alpha=args.alpha, workers=args.workers, seed=args.seed,
        progress=not args.quiet,
    )  # fmt: skip
    vectors.save(args.out)
    print(f"{len(vectors.words)} words x {args.dim}: {stats['words']:,.0f} words in {stats['seconds']:.1f}s "
          f"({stats['words_per_second']:,.0f} words/s), final loss {losses[-1]:.4f}; saved to {args.out}")  # fmt: skip
    return 0
