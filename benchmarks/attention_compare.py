"""Side-by-side table: scaled dot-product attention, seqcore's native kernel vs torch's scaled_dot_product_attention.

Cases (B, h, L, d), self-attention (Lq = Lk = L, dv = d), float32: (8,8,128,64), (1,12,512,64), (32,4,64,32),
(1,8,2048,64); each non-causal and causal; two modes: ``forward`` (the output alone: seqcore's forward kernel,
torch under ``no_grad``) and ``forward+backward`` (the output, then dq, dk, dv of a fixed random dout: seqcore's
forward and backward kernels, torch's autograd ``out.backward(dout)`` on leaf tensors whose grads are reset to None
between calls); at 1 and 2 threads (``torch.set_num_threads`` and ``seqcore.set_num_threads`` alike).

Validation first: for every case, seqcore's out, dq, dk, dv must equal torch's within 1e-4 (relative to each array's
largest magnitude), or that case is not timed.  Then the two peers alternate, call for call (the order swapped each
round), every call timed whole on the wall clock, and the table gives the medians and their ratio
(torch / seqcore: above 1 means seqcore is faster).

``--memory`` adds the peak extra memory of one forward at L = 2048 and 8192 (B=1, h=8, d=64), each peer in a fresh
subprocess (started before any timing, from a small parent): the rise of the peak resident set over a baseline taken
after allocating the inputs and running a small warm-up (L = 256), so it counts the kernel's own scratch and its
output, against the 8 L^2 x 4 B an [h, L, L] float32 score matrix would take.  On Linux the peak is VmHWM, reset
(/proc/self/clear_refs) at the baseline; ru_maxrss elsewhere (Linux keeps a parent's peak in it across fork+exec).

    PYTHONPATH=python python benchmarks/attention_compare.py [--rounds 15] [--threads 1,2] [--memory]
                                                          [--cases "8,8,128,64;1,8,2048,64"] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

CASES = [(8, 8, 128, 64), (1, 12, 512, 64), (32, 4, 64, 32), (1, 8, 2048, 64)]
MODES = ("forward", "forward+backward")
RTOL = 1e-4


def _sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool):
    """seqcore's attention forward through the public kernels (the cpp backend, the default): (out, cache)."""
    from seqcore import kernels

    return kernels.attention_forward(q, k, v, causal=causal)


def _sdpa_backward(cache, dout):
    from seqcore import kernels

    return kernels.attention_backward(cache, dout)


def make_inputs(case: tuple[int, int, int, int], seed: int = 0):
    B, h, L, d = case
    rng = np.random.default_rng([seed, *case])
    q, k, v, dout = (rng.standard_normal((B, h, L, d)).astype(np.float32) for _ in range(4))
    return q, k, v, dout


def seqcore_call(q, k, v, dout, causal: bool, mode: str):
    out, cache = _sdpa(q, k, v, causal)
    if mode == "forward":
        return (out,)
    return (out, *_sdpa_backward(cache, dout))


def torch_call(tensors, dout_t, causal: bool, mode: str):
    import torch

    F = torch.nn.functional
    q, k, v = tensors
    if mode == "forward":
        with torch.no_grad():
            return (F.scaled_dot_product_attention(q, k, v, is_causal=causal),)
    for t in tensors:
        t.grad = None
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out.backward(dout_t)
    return (out, q.grad, k.grad, v.grad)


def _error(a, b) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b.detach().numpy() if hasattr(b, "detach") else b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _peers(q, k, v, dout, tensors, dout_t, causal: bool, mode: str) -> dict[str, Any]:
    return {
        "seqcore": lambda: seqcore_call(q, k, v, dout, causal, mode),
        "torch": lambda: torch_call(tensors, dout_t, causal, mode),
    }


def compare(cases, threads_list, rounds: int, seed: int = 0) -> dict[str, Any]:
    import torch

    import seqcore

    rows = []
    saved = (seqcore.get_num_threads(), torch.get_num_threads())
    try:
        for case in cases:
            q, k, v, dout = make_inputs(case, seed)
            tensors = tuple(torch.from_numpy(a.copy()).requires_grad_() for a in (q, k, v))
            dout_t = torch.from_numpy(dout)
            for causal in (False, True):
                ours = seqcore_call(q, k, v, dout, causal, "forward+backward")
                theirs = torch_call(tensors, dout_t, causal, "forward+backward")
                error = max(_error(a, b) for a, b in zip(ours, theirs))
                for mode in MODES:
                    for threads in threads_list:
                        row: dict[str, Any] = {
                            "case": case,
                            "causal": causal,
                            "mode": mode,
                            "threads": threads,
                            "max_error": error,
                        }
                        rows.append(row)
                        if not error <= RTOL:
                            continue
                        seqcore.set_num_threads(threads)
                        torch.set_num_threads(threads)
                        peers = _peers(q, k, v, dout, tensors, dout_t, causal, mode)
                        for fn in peers.values():  # warm-up
                            fn()
                        times: dict[str, list[float]] = {p: [] for p in peers}
                        for r in range(rounds):
                            order = list(peers) if r % 2 == 0 else list(peers)[::-1]
                            for p in order:
                                gc.collect()
                                start = time.perf_counter()
                                result = peers[p]()
                                times[p].append(time.perf_counter() - start)
                                del result
                        row["times_s"] = times
                        row["median_s"] = {p: statistics.median(t) for p, t in times.items()}
                        row["ratio"] = row["median_s"]["torch"] / row["median_s"]["seqcore"]
    finally:
        seqcore.set_num_threads(saved[0])
        torch.set_num_threads(saved[1])
    return {
        "rows": rows,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "valid": all(r["max_error"] <= RTOL for r in rows),
    }


# ---------------------------------------------------------------- memory

_MEMORY_CHILD = r"""
import resource, sys
import numpy as np
peer, L = sys.argv[1], int(sys.argv[2])
B, h, d = 1, 8, 64
rng = np.random.default_rng(0)
def inputs(n):  # float32 drawn directly: no float64 temporaries raising the high-water mark first
    return [rng.standard_normal((B, h, n, d), dtype=np.float32) for _ in range(3)]
if peer == "seqcore":
    import seqcore
    from seqcore import kernels
    seqcore.set_num_threads(1)
    def run(q, k, v):
        return kernels.attention_forward(q, k, v)[0]
else:
    import torch
    torch.set_num_threads(1)
    def run(q, k, v):
        with torch.no_grad():
            return torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)))
def high_water_kib():
    try:  # Linux: the peak RSS, reset below (ru_maxrss would carry the parent's peak over from fork and exec)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run(*inputs(256))
q, k, v = inputs(L)
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = high_water_kib()
out = run(q, k, v)
peak = high_water_kib()
print((peak - base) / 1024.0)
"""


def peak_memory(lengths=(2048, 8192)) -> list[dict[str, Any]]:
    """Peak extra MiB of one forward (B=1, h=8, d=64, float32) per peer and L, each in a fresh interpreter."""
    rows = []
    env = dict(os.environ)
    for L in lengths:
        row: dict[str, Any] = {"L": L, "scores_mib": 8 * L * L * 4 / 2**20, "output_mib": 8 * L * 64 * 4 / 2**20}
        for peer in ("seqcore", "torch"):
            done = subprocess.run(
                [sys.executable, "-c", _MEMORY_CHILD, peer, str(L)], capture_output=True, text=True, env=env
            )
            row[peer] = float(done.stdout.strip()) if done.returncode == 0 else None
        rows.append(row)
    return rows


# ---------------------------------------------------------------- report


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"attention, float32, self-attention (Lq = Lk = L, dv = d); torch {r['torch_version']} "
        f"scaled_dot_product_attention vs seqcore cpp; wall-clock medians of interleaved calls",
        "",
        f"{'B,h,L,d':<14} {'causal':<6} {'mode':<17} {'thr':>3} {'seqcore ms':>11} {'torch ms':>10} "
        f"{'torch/seqcore':>13}  max rel. error",
    ]
    for row in r["rows"]:
        case = ",".join(map(str, row["case"]))
        head = f"{case:<14} {'yes' if row['causal'] else 'no':<6} {row['mode']:<17} {row['threads']:>3}"
        if "median_s" not in row:
            lines.append(f"{head}  NOT TIMED: error {row['max_error']:.1e} over {RTOL:g}")
            continue
        med = row["median_s"]
        lines.append(
            f"{head} {med['seqcore'] * 1e3:>11.2f} {med['torch'] * 1e3:>10.2f} {row['ratio']:>12.2f}x  "
            f"{row['max_error']:.1e}"
        )
    timed = [row["ratio"] for row in r["rows"] if "ratio" in row]
    if timed:
        geo = float(np.exp(np.mean(np.log(timed))))
        lines.append(f"ratio torch/seqcore: min {min(timed):.2f}x, geometric mean {geo:.2f}x, max {max(timed):.2f}x")
    if r.get("load_average"):
        lines.append(f"load average at the end: {', '.join(f'{v:.2f}' for v in r['load_average'])}")
    if r.get("memory"):
        lines += ["", "peak extra memory of one forward, B=1 h=8 d=64 float32 (ru_maxrss rise, fresh process, MiB):"]
        lines.append(f"{'L':>6} {'seqcore':>9} {'torch':>9} {'output':>8} {'[h,L,L] scores':>15}")
        for m in r["memory"]:
            s = "failed" if m["seqcore"] is None else f"{m['seqcore']:.1f}"
            t = "failed" if m["torch"] is None else f"{m['torch']:.1f}"
            lines.append(f"{m['L']:>6} {s:>9} {t:>9} {m['output_mib']:>8.1f} {m['scores_mib']:>15.0f}")
    return "\n".join(lines)


def _parse_cases(text: str) -> list[tuple[int, int, int, int]]:
    cases = []
    for part in text.split(";"):
        values = tuple(int(x) for x in part.split(","))
        if len(values) != 4 or min(values) < 1:
            raise ValueError(f"a case is B,h,L,d with positive sizes, got {part!r}")
        cases.append(values)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="B,h,L,d;... (default: the four of the issue)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=15, help="timed calls per peer and row (default 15)")
    parser.add_argument("--memory", action="store_true", help="also measure the forward's peak extra memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures to this file (atomically)")
    args = parser.parse_args(argv)
    try:
        cases = _parse_cases(args.cases) if args.cases else CASES
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError as exc:
        parser.error(str(exc))
    if args.rounds < 1 or min(threads) < 1:
        parser.error("--rounds and every --threads entry must be >= 1")
    memory = peak_memory() if args.memory else None  # first: the children must not inherit a large parent's peak
    result = compare(cases, threads, args.rounds, args.seed)
    if memory is not None:
        result["memory"] = memory
    print(f"{result['usable_cpus']} usable CPUs")
    print(format_report(result))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
