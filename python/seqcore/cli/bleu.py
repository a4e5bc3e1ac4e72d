"""``seqcore bleu``: BLEU of a hypothesis file against one or more reference files, as sacrebleu computes it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any

from ._args import UsageError, non_negative_float, number

# the metric's settings, repeated here so that building the parser imports no metric code
TOKENIZERS = ("13a", "none")
SMOOTH_METHODS = ("exp", "floor", "add-k", "none")
MAX_ORDER = 1024

order = number(int, "an n-gram order in [1, 1024]", lambda v: 1 <= v <= MAX_ORDER)
width = number(int, "a number of decimals in [0, 16]", lambda v: 0 <= v <= 16)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bleu`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "bleu",
        help="BLEU of a hypothesis file against reference files (equal to sacrebleu)",
        description="Corpus BLEU of HYP.txt against REF.txt (and more reference files for more references per "
        "segment): UTF-8 text, one segment per line, every file with as many lines as HYP.txt.  Scores, "
        "tokenisation ('13a', sacrebleu's default) and smoothing are sacrebleu's; prints "
        "'BLEU = 32.15 62.3/39.2/26.4/17.9 (BP = ... ratio = ... hyp_len = ... ref_len = ...)'.",
    )
    p.add_argument("hypotheses", metavar="HYP.txt", help="system output, one segment per line")
    p.add_argument("references", metavar="REF.txt", nargs="+", help="reference translations, one segment per line")
    p.add_argument("--lowercase", "-lc", action="store_true", help="compare lower-cased text")
    p.add_argument("--tokenize", "-tok", choices=TOKENIZERS, default="13a", help="tokenizer (default 13a)")
    p.add_argument(
        "--smooth-method", "-s", choices=SMOOTH_METHODS, default="exp", help="smoothing method (default exp)"
    )
    p.add_argument(
        "--smooth-value",
        type=non_negative_float,
        metavar="V",
        help="the value of floor (default 0.1) or add-k (default 1) smoothing",
    )
    p.add_argument("--max-ngram-order", type=order, default=4, metavar="N", help="largest n-gram order (default 4)")
    p.add_argument(
        "--effective-order",
        action="store_true",
        help="average over the n-gram orders that occur only (always on with --sentence-level)",
    )
    p.add_argument("--force", action="store_true", help="no warning for hypotheses that look tokenized")
    p.add_argument(
        "--sentence-level", "-sl", action="store_true", help="one score per segment (sentence BLEU), no corpus score"
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--width", "-w", type=width, default=2, metavar="D", help="decimals of the score (default 2)")
    p.add_argument("--score-only", "-b", action="store_true", help="print the score alone")
    p.set_defaults(handler=run)
    return p


def read_segments(path: str) -> list[str]:
    """The lines of a UTF-8 file, as sacrebleu reads them (split at "\\n" only; a final newline ends the last
    line rather than starting an empty one).  UsageError for a missing, unreadable or non-UTF-8 file."""
    if not os.path.exists(path):
        raise UsageError(f"{path!r}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path!r} is a folder; give a text file with one segment per line")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UsageError(f"{path!r} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise UsageError(f"{path!r} is not UTF-8 text: invalid byte 0x{bad} at byte offset {exc.start}") from None
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def run(args: argparse.Namespace) -> int:
    from ..metrics.bleu_score import bleu, sentence_bleu_scores

    hypotheses = read_segments(args.hypotheses)
    if not hypotheses:
        raise UsageError(f"{args.hypotheses!r} has no lines: there is nothing to score")
    references = []
    for path in args.references:
        segments = read_segments(path)
        if len(segments) != len(hypotheses):
            raise UsageError(
                f"{path!r} has {len(segments)} lines but {args.hypotheses!r} has {len(hypotheses)}: every "
                "reference file needs one line per hypothesis"
            )
        references.append(segments)
    options = dict(
        smooth_method=args.smooth_method,
        smooth_value=args.smooth_value,
        lowercase=args.lowercase,
        tokenize=args.tokenize,
        max_ngram_order=args.max_ngram_order,
    )
    if args.sentence_level:
        scores = sentence_bleu_scores(hypotheses, references, use_effective_order=True, **options)
    else:
        with warnings.catch_warnings(record=True) as caught:  # the tokenized-input warning, as one line
            warnings.simplefilter("always", UserWarning)
            scores = [
                bleu(hypotheses, references, force=args.force, use_effective_order=args.effective_order, **options)
            ]
        for warning in caught:
            print(f"seqcore bleu: warning: {warning.message}", file=sys.stderr)
    for score in scores:
        if args.format == "json":
            doc = json.loads(score.format(args.width, signature=score.signature, is_json=True))
            # a corpus score as an indented object; sentence scores one object per line (JSON lines)
            print(json.dumps(doc, indent=None if args.sentence_level else 1, ensure_ascii=False))
        else:
            print(score.format(args.width, score_only=args.score_only))
    return 0
