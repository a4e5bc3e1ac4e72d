"""Beam search under pytest-benchmark: seqcore.decode.beam_search (cpp, numba) against a vectorised NumPy
implementation of the same algorithm (``beam_compare.numpy_beam_search``).

The issue's case: width 5, V = 10,000, batch 32, 50 steps, step_fn handing back precomputed log_softmax rows of
random logits; with and without an end token.  Every peer's n-best lists must equal those of seqcore's
reference backend before it is timed.  ``extra_info`` holds steps/s; ``beam_compare.py`` prints the side-by-side
table with the ratios (step_fn's own time left out).

    pytest benchmarks/test_beam_search.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import beam_compare as bc  # noqa: E402
from seqcore import _backend  # noqa: E402

BATCH, BEAM, VOCAB, STEPS, ALPHA = 32, 5, 10000, 50, 0.7
PEERS = ["numpy", "seqcore-cpp", "seqcore-numba"]


@cache
def _problem(eos: int | None) -> bc.Problem:
    return bc.Problem(BATCH, BEAM, VOCAB, STEPS, eos=eos)


@cache
def _expected(eos: int | None):
    return bc.run_peer("seqcore-reference", _problem(eos), ALPHA, BEAM)


@pytest.mark.parametrize("eos", [None, 0], ids=["no_eos", "eos"])
@pytest.mark.parametrize("peer", PEERS)
def test_beam_search(benchmark, peer, eos):
    if peer != "numpy" and not _backend.available(peer.split("-")[1]):
        pytest.skip(f"backend {peer} is unavailable")
    problem = _problem(eos)
    want, steps, _ = _expected(eos)
    got, calls, _ = bc.run_peer(peer, problem, ALPHA, BEAM)  # validated (and warmed up) before timing
    assert calls == steps and bc.same_lists(got, want), f"{peer} returned other hypotheses than the reference"
    ending = "no EOS" if eos is None else "EOS"
    benchmark.group = f"beam search width {BEAM}, V {VOCAB}, batch {BATCH}, {STEPS} steps, {ending}"
    benchmark.pedantic(lambda: bc.run_peer(peer, problem, ALPHA, BEAM), rounds=5, iterations=1)
    benchmark.extra_info.update({"steps": steps, "steps_per_s": steps / benchmark.stats.stats.median})
