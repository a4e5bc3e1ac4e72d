"""The training-step benchmark with every peer in its own process, alternating: the fair figure.

In one process, the peers' thread pools disturb each other: OpenBLAS's workers (seqcore),
numba's and torch's OpenMP workers keep spinning for a while after their last task, so
whoever runs next on the 2 cores loses time to them (torch's step measured 24 ms inside the
pytest-benchmark session and 8-12 ms alone).  Here each measurement is a fresh interpreter
that builds one peer and times single steps; each peer's first step is first validated against
the float64 reference in a process of its own; the peers take turns for ``--rounds`` rounds and the report
gives each peer's median over all its steps and the ratios, side by side.

    PYTHONPATH=python python benchmarks/engine_step_isolated.py            # both cases, 5 rounds
    PYTHONPATH=python python benchmarks/engine_step_isolated.py --case course --rounds 9
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _threads(peer: str, threads: int) -> None:
    """Set only the timed peer's thread count: starting other pools (numba's OpenMP) slows torch."""
    if peer == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        import seqcore

        seqcore.set_num_threads(threads)


def validate(case_name: str, peer: str, threads: int) -> None:
    """Run inside a child: the peer's first step against the float64 reference (raises on a mismatch)."""
    sys.path.insert(0, HERE)
    import engine_peers as ep

    case = next(c for c in ep.CASES if c.name == case_name)
    _threads(peer, threads)
    ep.validate(ep.make_peer(peer, case, ep.initial_weights(case)), ep.first_step_truth(case))


def measure(case_name: str, peer: str, steps: int, threads: int) -> list[float]:
    """Run inside a fresh child: build the peer from the validated initial weights, warm up, time single steps."""
    sys.path.insert(0, HERE)
    import engine_peers as ep

    case = next(c for c in ep.CASES if c.name == case_name)
    _threads(peer, threads)
    p = ep.make_peer(peer, case, ep.initial_weights(case))
    for _ in range(3):
        p.step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        p.step()
        times.append(time.perf_counter() - start)
    return times


def _child(args: list[str]) -> str:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("course", "bigger", "both"), default="both")
    parser.add_argument("--peers", default="cpp,numba,torch", help="comma-separated peers (cpp, numba, torch)")
    parser.add_argument("--rounds", type=int, default=5, help="turns per peer (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every peer (default 2)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "PEER", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--validate", nargs=2, metavar=("CASE", "PEER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.validate:
        validate(*args.validate, args.threads)
        return 0
    if args.child:
        case, peer, steps = args.child
        print(json.dumps(measure(case, peer, int(steps), args.threads)))
        return 0
    cases = ("course", "bigger") if args.case == "both" else (args.case,)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    print(
        f"one training step (forward, loss, backward, Adam), float32, threads={args.threads}, each peer in its own "
        f"process, {args.rounds} alternating rounds"
    )
    for case in cases:
        steps = 30 if case == "course" else 3
        for peer in peers:  # validate before timing, each in its own process too
            _child(["--threads", str(args.threads), "--validate", case, peer])
        times: dict[str, list[float]] = {p: [] for p in peers}
        for r in range(args.rounds):
            for peer in peers if r % 2 == 0 else list(reversed(peers)):
                out = _child(["--threads", str(args.threads), "--child", case, peer, str(steps)])
                times[peer] += json.loads(out.strip().splitlines()[-1])
        medians = {p: float(np.median(t)) for p, t in times.items()}
        base = medians.get("torch")
        for peer in peers:
            ratio = f"  torch/this {base / medians[peer]:.2f}x" if base else ""
            print(
                f"{case:<7} {peer:<6} median {medians[peer] * 1e3:8.2f} ms  min {min(times[peer]) * 1e3:8.2f} ms{ratio}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
