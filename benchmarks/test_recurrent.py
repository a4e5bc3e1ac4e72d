"""Recurrent kernels under pytest-benchmark: cell x mode x case x peer, grouped by (cell, mode, case).

Each benchmark first checks its peer's outputs (and gradients, in train mode)
against the reference backend run in float64 (``seqcore.bench.validate_peer``,
rtol 1e-4; on large cases the first few time steps), and fails instead of
timing a wrong answer.  Unavailable peers are skipped with the reason; the slow
reference backend is timed on the two small cases only.

    pytest benchmarks --benchmark-only
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from seqcore import bench

PEERS = ("cpp", "numba", "reference", "torch")


@lru_cache(maxsize=16)
def _problem(cell: str, case: bench.Case) -> bench.Problem:
    return bench.make_problem(cell, case)


@lru_cache(maxsize=16)
def _truth(cell: str, case: bench.Case) -> tuple[bench.Problem, dict]:
    """The validation problem (maybe fewer time steps) and its float64 reference outputs."""
    problem = _problem(cell, case).truncated(bench.validation_T(case, cell))
    return problem, bench.expected_outputs(problem)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("case", bench.CASES, ids=lambda c: "B{}_T{}_D{}_H{}".format(*c))
@pytest.mark.parametrize("mode", bench.MODES)
@pytest.mark.parametrize("cell", bench.CELLS)
def test_recurrent(benchmark, cell: str, mode: str, case: bench.Case, peer: str) -> None:
    if peer == "reference" and case not in bench.SMALL_CASES:
        pytest.skip("the reference backend is timed on the two small cases only")
    reason = bench.peer_unavailable_reason(peer)
    if reason is not None:
        pytest.skip(reason)
    vproblem, expected = _truth(cell, case)
    error = bench.validate_peer(peer, vproblem, mode, expected)  # raises ValidationError: the test fails
    flop = bench.gemm_flops(cell, mode, case)
    benchmark.group = f"{cell} {mode} B,T,D,H={case.label}"
    benchmark.extra_info.update(
        cell=cell,
        mode=mode,
        case=case.label,
        peer=peer,
        gflop=flop / 1e9,
        validation_error=error,
        validation_T=vproblem.case.T,
    )
    benchmark(bench.make_runner(peer, _problem(cell, case), mode))
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.median > 0:
        benchmark.extra_info["gflops_median"] = flop / stats.stats.median / 1e9
