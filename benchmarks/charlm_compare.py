"""Side-by-side table: the character-level language model, seqcore vs PyTorch, in one process.

For each cell (rnn, lstm, gru; 50 units, one-hot input, the course's size) and workload (see
``charlm_peers``), validate, then time seqcore and torch in alternating rounds (the median round of
each counts; a pause between peers lets an idle thread pool go quiet) and print throughput and the
seqcore / torch ratio.  Both use the same number of threads (``seqcore.get_num_threads()``).

    PYTHONPATH=python python benchmarks/charlm_compare.py [--rounds 7] [--cells lstm] [--json out.json]
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

import charlm_peers as cp  # noqa: E402

SETTLE_S = 0.15
COURSE_ITEMS = 200  # names per timed round of the course loop
BATCHES = 10  # batches of 32 per timed round
SAMPLE_ONE = 100  # names per round, one at a time
SAMPLE_MANY = 1024  # names per round, 256 side by side
PRETRAIN = 2000  # course steps before sampling, so names end the way trained names do


def _time(fn) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def workloads(setup: cp.Setup) -> list[tuple[str, str, float, object, object]]:
    """(workload, unit, amount per round, seqcore fn, torch fn), each validated first."""
    cp.check_training(setup, "course")
    cp.check_training(setup, "batched")
    cp.check_sampling(setup)
    out = []
    model = cp.seqcore_model(setup)
    peer = cp.torch_model(model)
    items = cp.course_items(COURSE_ITEMS)
    out.append(
        (
            "course (1 name/step, SGD)",
            "chars/s",
            cp.characters(items),
            cp.seqcore_course(model, items),
            cp.torch_course(peer, model, items),
        )
    )
    model = cp.seqcore_model(setup)
    peer = cp.torch_model(model)
    batches = cp.batched_items(BATCHES)
    chars = sum(cp.characters(b) for b in batches)
    out.append(
        (
            "batched (32 names/step, Adam)",
            "chars/s",
            chars,
            cp.seqcore_batched(model, batches),
            cp.torch_batched(peer, model, batches),
        )
    )
    model = cp.seqcore_model(setup)
    model.fit_course(cp.names(), PRETRAIN, n_samples=0)
    peer = cp.torch_model(model)
    out.append(
        (
            "sample 1 name at a time",
            "names/s",
            SAMPLE_ONE,
            cp.seqcore_sample(model, SAMPLE_ONE, 1),
            cp.torch_sample(peer, model, SAMPLE_ONE, 1),
        )
    )
    out.append(
        (
            "sample 256 names side by side",
            "names/s",
            SAMPLE_MANY,
            cp.seqcore_sample(model, SAMPLE_MANY, cp.SAMPLE_BATCH),
            cp.torch_sample(peer, model, SAMPLE_MANY, cp.SAMPLE_BATCH),
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cells", default=",".join(cp.CELLS))
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    torch.set_num_threads(cp.threads())
    rows = []
    print(f"threads: {cp.threads()}; torch {torch.__version__}; rounds: {args.rounds} (median)")
    print(f"{'cell':5} {'workload':32} {'seqcore':>12} {'torch':>12} {'unit':8} {'ratio':>6}")
    for cell in args.cells.split(","):
        for name, unit, amount, ours, theirs in workloads(cp.Setup(cell)):
            ours()  # warm-up: first calls allocate and load
            theirs()
            t_ours, t_theirs = [], []
            for _ in range(args.rounds):
                t_ours.append(_time(ours))
                t_theirs.append(_time(theirs))
            a = amount / statistics.median(t_ours)
            b = amount / statistics.median(t_theirs)
            rows.append({"cell": cell, "workload": name, "unit": unit, "seqcore": a, "torch": b, "ratio": a / b})
            print(f"{cell:5} {name:32} {a:12,.0f} {b:12,.0f} {unit:8} {a / b:5.2f}x", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
