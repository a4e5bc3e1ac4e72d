"""One full training step (forward, loss, backward, Adam update) under pytest-benchmark: case x peer.

Model: Embedding(10000, 50) -> LSTM(units, return_sequences=True) -> LSTM(units) -> Dense(5, softmax),
sparse categorical cross-entropy, Adam.  Cases: ``course`` (units 128, batch 32, T=10) and ``bigger``
(units 256, batch 64, T=100).  Peers: seqcore ``cpp`` and ``numba`` (``model.train_on_batch``) and
the same model in PyTorch (see ``engine_peers`` for the two settings that make it the same math).

Each benchmark first validates: its peer starts from the same initial weights as seqcore's
reference backend run in float64 and takes one step on the same batch; the loss and every updated
weight must agree within rtol 1e-4, or the test fails untimed.  Then it pauses (idle thread pools
of the previous peer go quiet), warms up and times.  The seqcore peers also measure the engine's
own Python overhead per step (``extra_info["overhead_fraction"]``; the issue's target is < 15% at
the bigger size).  A plain-text summary with torch/seqcore ratios follows pytest's report.

    pytest benchmarks/test_engine_step.py --benchmark-only
"""

from __future__ import annotations

import os
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).parent) not in sys.path:  # engine_peers sits next to this file (any --import-mode)
    sys.path.insert(0, str(Path(__file__).parent))

try:
    import engine_peers as ep
except ImportError as exc:  # e.g. an older installed seqcore without the engine shadows the checkout
    import seqcore

    raise ImportError(
        f"{exc}; the seqcore imported from {seqcore.__file__} lacks the training engine: run from a checkout "
        "with PYTHONPATH=python, or reinstall seqcore"
    ) from exc

SETTLE_S = 0.15  # as seqcore.bench's settle_s: let the previous peer's spinning thread pool go idle
ROUNDS = {"course": 50, "bigger": 4}  # timed steps per peer (each round is one step)
WARMUP = {"course": 3, "bigger": 1}
OVERHEAD_STEPS = {"course": 30, "bigger": 3}  # steps timed with the kernels measured separately
PROFILE_STEPS = {"course": 20, "bigger": 2}  # steps under cProfile (cpp only)
OVERHEAD_TARGET = 0.15

_results: dict[tuple[str, str], dict[str, Any]] = {}


@lru_cache(maxsize=4)
def _truth(case: ep.StepCase) -> ep.Truth:
    return ep.first_step_truth(case)


class _Summary:
    """Registered as a pytest plugin: prints the summary table after pytest's own report."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not _results:
            return
        terminalreporter.write_sep("-", "seqcore engine training step: summary")
        for line in summary_lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _summary_plugin(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if manager.get_plugin("seqcore-engine-step-summary") is None:
        manager.register(_Summary(), "seqcore-engine-step-summary")


@pytest.mark.parametrize("peer", ep.PEERS)
@pytest.mark.parametrize("case", ep.CASES, ids=lambda c: c.name)
def test_engine_step(benchmark, bench_threads: int, case: ep.StepCase, peer: str) -> None:
    if peer == "torch":
        pytest.importorskip("torch")
    reason = ep.peer_unavailable_reason(peer)
    if reason is not None:
        pytest.skip(reason)
    truth = _truth(case)
    runner = ep.make_peer(peer, case, truth.weights)
    check = ep.validate(runner, truth)  # raises ValidationError: the test fails, nothing is timed
    benchmark.group = f"engine step {case.name} {case.label}"
    info: dict[str, Any] = {
        "case": case.name,
        "B": case.B,
        "T": case.T,
        "units": case.units,
        "peer": peer,
        "threads": bench_threads,
        "validation_loss_error": check["loss_error"],
        "validation_weight_error": check["weight_error"],
    }
    if peer == "torch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
    benchmark.extra_info.update(info)

    time.sleep(SETTLE_S)
    for _ in range(WARMUP[case.name]):
        runner.step()
    benchmark.pedantic(runner.step, rounds=ROUNDS[case.name], iterations=1)

    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    row: dict[str, Any] = dict(info)
    if stats is not None:
        row.update(median_ms=stats.median * 1e3, min_ms=stats.min * 1e3, rounds=stats.rounds)
    try:
        row["load_1m"] = os.getloadavg()[0]
    except (AttributeError, OSError):
        row["load_1m"] = None

    if peer in ep.SEQCORE_PEERS:
        split = ep.kernel_split(runner, OVERHEAD_STEPS[case.name])
        extra = {
            "overhead_fraction": split["overhead_fraction"],
            "overhead_ms_per_step": split["overhead_ms"],
            "kernel_ms_per_step": split["kernel_ms"],
            "overhead_step_ms": split["step_ms"],
        }
        if peer == "cpp":  # cProfile charges numba's dispatcher calls to Python: cpp only
            prof = ep.profile_split(runner, PROFILE_STEPS[case.name])
            extra["overhead_fraction_cprofile"] = prof["fraction"]
            extra["overhead_top_cprofile"] = prof.get("top", prof.get("error"))
        benchmark.extra_info.update(extra)
        row.update(extra)
        print(
            f"\n{peer} {case.name}: step {split['step_ms']:.2f} ms, kernels {split['kernel_ms']:.2f} ms, "
            f"engine overhead {split['overhead_ms']:.3f} ms = {100 * split['overhead_fraction']:.1f}% "
            f"(target < {100 * OVERHEAD_TARGET:.0f}% at the bigger size)"
        )
    _results[(case.name, peer)] = row


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def summary_lines() -> list[str]:
    """The summary table of what this session timed."""
    headers = [
        "case",
        "B,T,units",
        "peer",
        "median ms",
        "min ms",
        "rounds",
        "torch/this",
        "overhead",
        "(cProfile)",
        "max err",
    ]
    table = []
    for case in ep.CASES:
        torch_ms = _results.get((case.name, "torch"), {}).get("median_ms")
        for peer in ep.PEERS:
            r = _results.get((case.name, peer))
            if r is None or r.get("median_ms") is None:
                continue
            ratio = f"{torch_ms / r['median_ms']:.2f}x" if torch_ms else "-"
            overhead = "-"
            if r.get("overhead_fraction") is not None:
                overhead = f"{_pct(r['overhead_fraction'])} ({r['overhead_ms_per_step']:.2f} ms)"
            err = max(r["validation_loss_error"], r["validation_weight_error"])
            table.append(
                [
                    case.name,
                    f"{r['B']},{r['T']},{r['units']}",
                    peer,
                    f"{r['median_ms']:.2f}",
                    f"{r['min_ms']:.2f}",
                    str(r["rounds"]),
                    ratio,
                    overhead,
                    _pct(r.get("overhead_fraction_cprofile")),
                    f"{err:.1e}",
                ]
            )
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(headers)]

    def render(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    threads = sorted({r["threads"] for r in _results.values()})
    lines = [
        f"one step = forward, loss, backward, Adam update; float32; threads={','.join(map(str, threads))}; "
        "torch/this = torch median / this median (>1: faster than torch)",
        render(headers),
        render(["-" * w for w in widths]),
        *(render(row) for row in table),
    ]
    big = _results.get(("bigger", "cpp"), {})
    if big.get("overhead_fraction") is not None:
        verdict = "met" if big["overhead_fraction"] < OVERHEAD_TARGET else "NOT met"
        lines.append(
            f"engine overhead at the bigger size (cpp): {_pct(big['overhead_fraction'])} of the step "
            f"(target < {100 * OVERHEAD_TARGET:.0f}%: {verdict}); cProfile upper bound "
            f"{_pct(big.get('overhead_fraction_cprofile'))}"
        )
    for case in ep.CASES:
        top = _results.get((case.name, "cpp"), {}).get("overhead_top_cprofile")
        if isinstance(top, list) and top:
            lines.append(f"largest Python tottime per step, cpp {case.name}: " + "; ".join(top[:3]))
    loads = [r["load_1m"] for r in _results.values() if r.get("load_1m") is not None]
    cpus = os.cpu_count() or 1
    if loads and max(loads) > 1.5 * cpus:
        lines.append(
            f"warning: the 1-minute load average reached {max(loads):.1f} on {cpus} CPUs while timing: other "
            "processes competed for the CPUs, so times are noisy; compare ratios, or rerun on a quiet machine"
        )
    return lines
