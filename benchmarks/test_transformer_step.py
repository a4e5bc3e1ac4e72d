"""The course's Transformer under pytest-benchmark: one training step, seqcore vs torch.

Each benchmark first validates the peers (``transformer_peers.check_step``: same weights in, dropout 0, the same
loss and the same updated weights out), then times rounds of ``STEPS`` Adam steps on batches of 64 sentences
(30 source -> 10 target tokens, dropout 0.1).  ``transformer_compare.py`` prints the side-by-side ratio at 1 and 2
threads.

    pytest benchmarks/test_transformer_step.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import transformer_peers as tp  # noqa: E402

STEPS = 2


@cache
def _validated() -> None:
    tp.check_step()


@pytest.mark.parametrize("peer_name", ["seqcore", "torch"])
def test_transformer_training_step(benchmark, peer_name):
    torch = pytest.importorskip("torch")
    from seqcore import get_num_threads

    torch.set_num_threads(get_num_threads())
    _validated()
    data = tp.batches(STEPS)
    model = tp.seqcore_model()
    if peer_name == "torch":
        peer = tp.torch_model(model)

        def fn() -> None:
            for batch in data:
                tp.torch_step(peer, batch)
    else:

        def fn() -> None:
            for batch in data:
                tp.seqcore_step(model, batch)

    fn()  # warm-up
    benchmark.pedantic(fn, rounds=5, iterations=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        throughput = STEPS * tp.BATCH / benchmark.stats.stats.median
        benchmark.extra_info.update({"unit": "examples/s", "throughput": throughput})
