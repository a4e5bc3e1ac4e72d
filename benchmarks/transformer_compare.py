"""Side-by-side table: one training step of the course's Transformer, seqcore vs PyTorch, at 1 and 2 threads.

2 encoder + 2 decoder layers, d_model 128, 4 heads, dff 512, dropout 0.1, batch 64, source length 30 -> target
length 10, vocabularies 40 and 12, Adam (see ``transformer_peers``).  Validates the peers first (same weights in,
dropout 0: same loss and updated weights out), then times rounds of ``--steps`` steps, seqcore and torch alternating
(the median round of each counts; a pause before each round lets an idle thread pool go quiet).  Each thread count
runs in its own process with ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` set, so NumPy's BLAS, seqcore's kernels
and torch all use that many threads.

    PYTHONPATH=python python benchmarks/transformer_compare.py [--threads 1,2] [--rounds 7] [--steps 3] [--key-dim 32]
        [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

SETTLE_S = 0.15


def _time(fn) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_one(threads: int, rounds: int, steps: int, key_dim: int | None = None) -> dict:
    """Validate and time in this process (its environment already fixes the BLAS threads)."""
    import torch

    import seqcore
    import transformer_peers as tp

    if key_dim is not None:
        tp.KEY_DIM = key_dim
    seqcore.set_num_threads(threads)
    torch.set_num_threads(threads)
    tp.check_step()
    data = tp.batches(steps)
    ours = tp.seqcore_model()
    theirs = tp.torch_model(ours)

    def run_ours() -> None:
        for batch in data:
            tp.seqcore_step(ours, batch)

    def run_theirs() -> None:
        for batch in data:
            tp.torch_step(theirs, batch)

    run_ours()  # warm-up
    run_theirs()
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        t_ours.append(_time(run_ours))
        t_theirs.append(_time(run_theirs))
    result = {
        "threads": threads,
        "torch_version": torch.__version__,
        "steps": steps,
        "rounds": rounds,
        "key_dim": tp.KEY_DIM,
    }
    for name, t in (("seqcore", t_ours), ("torch", t_theirs)):
        median = statistics.median(t)
        q = statistics.quantiles(t, n=4) if rounds >= 4 else None
        result[name] = {"ms_per_step": 1e3 * median / steps, "spread": (q[2] - q[0]) / median if q else None}
    result["speedup"] = result["torch"]["ms_per_step"] / result["seqcore"]["ms_per_step"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed round")
    parser.add_argument("--key-dim", type=int, help="per-head size (default d_model = 128, the course's)")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one thread count, print JSON
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.rounds, args.steps, args.key_dim)))
        return 0
    results = []
    for n in (int(t) for t in args.threads.split(",")):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(n), "OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)}
        cmd = [sys.executable, __file__, "--one", str(n), "--rounds", str(args.rounds), "--steps", str(args.steps)]
        if args.key_dim is not None:
            cmd += ["--key-dim", str(args.key_dim)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    first = results[0]
    print(f"Transformer training step (batch 64, 30 -> 10 tokens, Adam, dropout 0.1), validated; torch "
          f"{first['torch_version']}; key_dim {first['key_dim']}")  # fmt: skip
    print(f"median of {first['rounds']} interleaved rounds of {first['steps']} steps")
    print(f"{'threads':>7} {'seqcore ms':>11} {'torch ms':>9} {'speed-up':>9}   spread (IQR/median) seqcore, torch")
    for r in results:
        spreads = ", ".join("-" if r[p]["spread"] is None else f"{r[p]['spread']:.0%}" for p in ("seqcore", "torch"))
        print(f"{r['threads']:>7} {r['seqcore']['ms_per_step']:>11.1f} {r['torch']['ms_per_step']:>9.1f} "
              f"{r['speedup']:>8.2f}x   {spreads}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
