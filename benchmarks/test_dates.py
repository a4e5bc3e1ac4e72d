"""Date translation (the course's attention model) under pytest-benchmark: one training step, seqcore vs torch.

Each benchmark first validates the peers (``dates_peers.check_step``: same weights in, same loss and the
same updated weights out), then times rounds of ``STEPS`` Adam steps on batches of 100 generated dates.
Throughput (examples/s) lands in ``extra_info``; ``dates_compare.py`` prints the side-by-side ratio.

    pytest benchmarks/test_dates.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import dates_peers as dp  # noqa: E402

STEPS = 10


@cache
def _validated() -> None:
    dp.check_step()


@pytest.mark.parametrize("peer_name", ["seqcore", "torch"])
def test_dates_training_step(benchmark, peer_name):
    if peer_name == "torch":
        torch = pytest.importorskip("torch")
        from seqcore import get_num_threads

        torch.set_num_threads(get_num_threads())
        _validated()
    data = dp.batches(STEPS)
    model = dp.seqcore_model()
    if peer_name == "torch":
        peer = dp.torch_model(model)

        def fn() -> None:
            for batch in data:
                dp.torch_step(peer, batch)
    else:

        def fn() -> None:
            for batch in data:
                dp.seqcore_step(model, batch)

    fn()  # warm-up
    benchmark.pedantic(fn, rounds=5, iterations=1)
    benchmark.extra_info.update({"unit": "examples/s", "throughput": STEPS * dp.BATCH / benchmark.stats.stats.median})
