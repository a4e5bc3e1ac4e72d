"""``seqcore bench``: validate, then time seqcore's recurrent kernels against each other and torch."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from .. import bench as engine
from ._args import check_output_path as _check_output_path
from ._args import positive_float as _positive_float
from ._args import positive_int as _positive_int

UsageError = engine.BenchError

EXAMPLES = """\
examples:
  seqcore bench --quick
  seqcore bench --cells lstm --modes train --cases all --json bench.json --png speedups.png
  seqcore bench --cases "32,100,128,256;64,50,256,512" --backends cpp,torch --threads 8
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark the recurrent kernels (all backends and torch)",
        description=(
            "Validate every backend against the float64 reference, then time it, interleaving the peers "
            "round-robin and reporting medians.  Speed-ups are X's median time / this peer's (>1: faster "
            "than X); GFLOP/s counts GEMM FLOPs only (forward 2*B*T*(D+H)*G*H, train 3x that)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cells", default=None, metavar="LIST", help="comma list of lstm,gru,rnn (default: all)")
    p.add_argument("--modes", default=None, metavar="LIST", help="comma list of forward,train (default: both)")
    p.add_argument(
        "--cases",
        default=None,
        metavar="SPEC",
        help="'small' (the first two), 'all', or 'B,T,D,H;B,T,D,H' (default: all; small with --quick). "
        f"Built-in: {'; '.join(c.label for c in engine.CASES)}",
    )
    p.add_argument(
        "--backends",
        default=None,
        metavar="LIST",
        help="comma list of cpp,numba,reference,torch (default: all; unavailable ones are skipped)",
    )
    p.add_argument("--threads", type=_positive_int, default=None, help="threads for every peer (default: all CPUs)")
    p.add_argument("--repeats", type=_positive_int, default=None, help="fixed timed rounds (default: fit to --budget)")
    p.add_argument(
        "--budget", type=_positive_float, default=None, metavar="SEC", help="timing budget per cell/mode/case (2; 0.3)"
    )
    p.add_argument("--warmup", type=int, default=None, metavar="N", help="untimed calls per peer first (2; 1 quick)")
    p.add_argument(
        "--reference-repeats",
        type=_positive_int,
        default=3,
        metavar="N",
        help="at most N rounds for the slow reference backend on cases above 1 GFLOP per call (default 3)",
    )
    p.add_argument(
        "--skip-reference-above",
        type=_positive_float,
        default=None,
        metavar="GFLOP",
        help="do not time the reference backend on calls of more than GFLOP GEMM work (default: time it everywhere)",
    )
    p.add_argument(
        "--validate-T",
        type=_positive_int,
        default=None,
        metavar="N",
        help="validate on the first N time steps (default: all of T, but 8 on cases above 1 GFLOP per train call)",
    )
    p.add_argument("--rtol", type=_positive_float, default=engine.DEFAULT_RTOL, help="validation tolerance (1e-4)")
    p.add_argument(
        "--peak",
        type=_positive_float,
        default=engine.DEFAULT_PEAK_GFLOPS,
        metavar="GFLOPS",
        help=f"peak GFLOP/s for the %%peak column (default {engine.DEFAULT_PEAK_GFLOPS:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the rows (and environment) as JSON")
    p.add_argument("--png", default=None, metavar="PATH", help="also draw speed-ups vs torch as a PNG (matplotlib)")
    p.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="SEC",
        help="pause before each peer's turn so other peers' idle thread pools stop spinning (0.15; 0 = off)",
    )
    p.add_argument("--quick", action="store_true", help="small cases, short budget: a smoke run of a few seconds")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=run)
    return p


def config_from_args(args: argparse.Namespace) -> engine.BenchConfig:
    """The BenchConfig an argument namespace asks for (raises UsageError on bad values)."""
    common: dict[str, Any] = {
        "cells": args.cells,
        "modes": args.modes,
        "cases": args.cases,
        "peers": args.backends,
        "threads": args.threads,
        "repeats": args.repeats,
        "reference_repeats": args.reference_repeats,
        "skip_reference_above": args.skip_reference_above,
        "validate_T": args.validate_T,
        "rtol": args.rtol,
        "peak_gflops": args.peak,
        "seed": args.seed,
    }
    if args.budget is not None:
        common["budget_s"] = args.budget
    if args.settle is not None:
        if not args.settle >= 0:
            raise UsageError(f"--settle must be >= 0 seconds, got {args.settle}")
        common["settle_s"] = args.settle
    if args.warmup is not None:
        if args.warmup < 0:
            raise UsageError(f"--warmup must be >= 0, got {args.warmup}")
        common["warmup"] = args.warmup
    config = engine.BenchConfig.quick(**common) if args.quick else engine.BenchConfig(**common)
    return config.resolved()


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table; 0 ok, 1 when a peer failed validation or raised."""
    config = config_from_args(args)
    if args.json:
        _check_output_path(args.json, "--json")
    if args.png:
        _check_output_path(args.png, "--png")
        engine.require_matplotlib()
        if "torch" not in config.peers or engine.peer_unavailable_reason("torch"):  # type: ignore[operator]
            raise UsageError("--png plots speed-ups vs torch, but torch is not among the runnable peers")

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[seqcore bench] {message}", file=sys.stderr, flush=True)

    rows = engine.run(config, progress=progress)
    print(engine.format_table(rows, peak_gflops=config.peak_gflops))
    status = 1 if any(r["status"] in ("invalid", "error") for r in rows) else 0
    if args.json:
        meta = {
            "args": {k: v for k, v in vars(args).items() if k not in ("handler", "command")},
            "config": {
                "cells": list(config.cells or []),
                "modes": list(config.modes or []),
                "cases": [c.label for c in config.cases or []],  # type: ignore[union-attr]
                "peers": list(config.peers or []),
                "threads": config.threads,
                "repeats": config.repeats,
                "budget_s": config.budget_s,
                "reference_repeats": config.reference_repeats,
                "skip_reference_above": config.skip_reference_above,
                "validate_T": config.validate_T,
                "rtol": config.rtol,
                "peak_gflops": config.peak_gflops,
                "seed": config.seed,
            },
            "environment": engine.environment(),
            "node": platform.node(),
        }
        try:
            engine.save_json(rows, args.json, meta)
        except OSError as exc:
            print(f"seqcore bench: error: could not write {args.json!r}: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"wrote {args.json}", file=sys.stderr)
    if args.png:
        try:
            engine.plot_speedups(rows, args.png)
        except (OSError, UsageError) as exc:
            print(f"seqcore bench: error: could not draw {args.png!r}: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"wrote {args.png}", file=sys.stderr)
    return status
