"""Side-by-side table: one training step of the date-translation attention model, seqcore vs PyTorch.

Validates the peers (same weights in, same loss and updated weights out), then times rounds of
``--steps`` Adam steps on batches of 100 generated dates, seqcore and torch alternating (the median
round of each counts; a pause before each round lets an idle thread pool go quiet).  Both use
``seqcore.get_num_threads()`` threads.

    PYTHONPATH=python python benchmarks/dates_compare.py [--rounds 7] [--steps 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import dates_peers as dp  # noqa: E402

SETTLE_S = 0.15


def _time(fn) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    import torch

    from seqcore import get_num_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    torch.set_num_threads(get_num_threads())
    dp.check_step()
    data = dp.batches(args.steps)
    model = dp.seqcore_model()
    peer = dp.torch_model(model)

    def ours() -> None:
        for batch in data:
            dp.seqcore_step(model, batch)

    def theirs() -> None:
        for batch in data:
            dp.torch_step(peer, batch)

    ours()  # warm-up
    theirs()
    t_ours, t_theirs = [], []
    for _ in range(args.rounds):
        t_ours.append(_time(ours))
        t_theirs.append(_time(theirs))
    n = args.steps * dp.BATCH
    a, b = n / statistics.median(t_ours), n / statistics.median(t_theirs)
    print(f"threads: {get_num_threads()}; torch {torch.__version__}; rounds: {args.rounds} (median), "
          f"{args.steps} steps of {dp.BATCH} per round")  # fmt: skip
    print(f"{'workload':40} {'seqcore':>10} {'torch':>10} {'unit':11} {'ratio':>6}")
    print(f"{'train step (batch 100, Adam), validated':40} {a:10,.0f} {b:10,.0f} {'examples/s':11} {a / b:5.2f}x")
    spread = [statistics.quantiles(t, n=4) for t in (t_ours, t_theirs)] if args.rounds >= 4 else None
    if spread:
        for name, (q1, _, q3), t in zip(("seqcore", "torch"), spread, (t_ours, t_theirs)):
            median = statistics.median(t)
            print(f"  {name}: median round {median:.3f}s, spread (IQR/median) {(q3 - q1) / median:.0%}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seqcore": a, "torch": b, "ratio": a / b, "unit": "examples/s"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
