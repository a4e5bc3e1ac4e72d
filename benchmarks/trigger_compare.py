"""Side-by-side table: trigger-word detector inference on one 10 s clip (batch 1), seqcore vs PyTorch.

Validates the peers first (``trigger_peers.validate``: the same weights give the same probabilities from
features and from samples, within 1e-4), then times rounds of ``--calls`` calls of each workload, seqcore and
torch alternating (a pause before each round lets an idle thread pool go quiet); the median round counts.
Both use ``seqcore.get_num_threads()`` threads (``--threads N`` sets it for both).  ``--profile`` adds where
seqcore's time goes (cProfile over each workload, by own time).

    PYTHONPATH=python python benchmarks/trigger_compare.py [--rounds 9] [--calls 5] [--threads N] [--profile]
                                                           [--json out.json]
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

import trigger_peers as tp  # noqa: E402

SETTLE_S = 0.15


def _time(fn, calls: int) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _profile(name: str, fn, calls: int, top: int = 10) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # own time of every function
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    print(f"\nseqcore, {name}: own time per call by function (cProfile, {calls} calls)")
    for (filename, line, name), (_, ncalls, own, _cum, _) in rows:
        where = name if filename == "~" else f"{Path(filename).name}:{line}({name})"
        print(f"  {own / calls * 1e3:8.3f} ms  {own / total:6.1%}  {ncalls // calls:5d} calls  {where}")


def main(argv: list[str] | None = None) -> int:
    import torch

    from seqcore import get_num_threads
    from seqcore.audio.features import features

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=5, help="calls per round (default 5)")
    parser.add_argument("--threads", type=int, help="threads of both peers (default: seqcore's default)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if args.threads is not None:
        from seqcore import set_num_threads

        set_num_threads(args.threads)
    torch.set_num_threads(get_num_threads())
    model = tp.seqcore_model()
    peer = tp.torch_model(model)
    samples = tp.clip()
    X = features(samples)[None]
    errors = tp.validate(model, peer, samples)
    xs_t, samples_t = torch.from_numpy(X), torch.from_numpy(samples)

    def torch_features() -> None:
        with torch.inference_mode():
            tp.torch_forward(peer, xs_t)

    def torch_samples() -> None:
        with torch.inference_mode():
            tp.torch_end_to_end(peer, samples_t)

    workloads = {
        "features [1,5511,101] -> [1,1375]": (lambda: tp.seqcore_features(model, X), torch_features, "features"),
        "samples [441000] -> [1375] (end to end)": (
            lambda: tp.seqcore_end_to_end(model, samples),
            torch_samples,
            "samples",
        ),
    }
    results = {}
    for name, (ours, theirs, key) in workloads.items():
        ours(), theirs()  # warm-up
        t_ours, t_theirs = [], []
        for _ in range(args.rounds):
            t_ours.append(_time(ours, args.calls))
            t_theirs.append(_time(theirs, args.calls))
        results[name] = (t_ours, t_theirs, errors[key])
    print(
        f"threads: {get_num_threads()}; torch {torch.__version__}; rounds: {args.rounds} (median) of {args.calls} "
        "calls; one 10 s clip, batch 1, float32"
    )
    print(f"{'workload':42} {'seqcore ms':>11} {'torch ms':>9} {'torch/seqcore':>14} {'spread s/t':>11} {'max err':>8}")
    out = {}
    for name, (t_ours, t_theirs, err) in results.items():
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        spread = ""
        if args.rounds >= 4:
            s = [
                (q[2] - q[0]) / statistics.median(t) for t in (t_ours, t_theirs) for q in [statistics.quantiles(t, n=4)]
            ]
            spread = f"{s[0]:.0%}/{s[1]:.0%}"
        print(f"{name:42} {a * 1e3:11.2f} {b * 1e3:9.2f} {b / a:13.2f}x {spread:>11} {err:8.1e}")
        out[name] = {"seqcore_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": b / a, "max_abs_error": err}
    if args.profile:
        for name, (ours, _, _) in workloads.items():
            _profile(name, ours, 10)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
