"""Character-level language model under pytest-benchmark: cell x workload x peer (seqcore, torch).

Each benchmark validates its workload first (``charlm_peers.check_*``: same weights in, same updated
weights or the same greedy names out), then times one round.  Throughput lands in ``extra_info``
(chars/s for training, names/s for sampling); ``charlm_compare.py`` prints the side-by-side ratios.

    pytest benchmarks/test_charlm.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import charlm_peers as cp  # noqa: E402

COURSE_ITEMS, BATCHES, SAMPLE_ONE, SAMPLE_MANY, PRETRAIN = 100, 5, 50, 512, 2000


@cache
def _validated(cell: str, workload: str) -> None:
    if workload in ("course", "batched"):
        cp.check_training(cp.Setup(cell), workload)
    else:
        cp.check_sampling(cp.Setup(cell))


def _workload(cell: str, workload: str, peer_name: str):
    """(fn, amount, unit) for one benchmark."""
    model = cp.seqcore_model(cp.Setup(cell))
    if workload.startswith("sample"):
        model.fit_course(cp.names(), PRETRAIN, n_samples=0)
    peer = cp.torch_model(model) if peer_name == "torch" else None
    if workload == "course":
        items = cp.course_items(COURSE_ITEMS)
        fn = cp.seqcore_course(model, items) if peer is None else cp.torch_course(peer, model, items)
        return fn, cp.characters(items), "chars/s"
    if workload == "batched":
        batches = cp.batched_items(BATCHES)
        fn = cp.seqcore_batched(model, batches) if peer is None else cp.torch_batched(peer, model, batches)
        return fn, sum(cp.characters(b) for b in batches), "chars/s"
    n, batch = (SAMPLE_ONE, 1) if workload == "sample" else (SAMPLE_MANY, cp.SAMPLE_BATCH)
    fn = cp.seqcore_sample(model, n, batch) if peer is None else cp.torch_sample(peer, model, n, batch)
    return fn, n, "names/s"


@pytest.mark.parametrize("peer_name", ["seqcore", "torch"])
@pytest.mark.parametrize("workload", ["course", "batched", "sample", "sample_batch"])
@pytest.mark.parametrize("cell", cp.CELLS)
def test_charlm(benchmark, cell, workload, peer_name):
    if peer_name == "torch":
        torch = pytest.importorskip("torch")
        torch.set_num_threads(cp.threads())
    _validated(cell, workload)
    fn, amount, unit = _workload(cell, workload, peer_name)
    fn()  # warm-up
    benchmark.pedantic(fn, rounds=5, iterations=1)
    benchmark.extra_info.update({"unit": unit, "throughput": amount / benchmark.stats.stats.median})
