"""Trigger-word detector inference under pytest-benchmark: one 10 s clip, batch 1, seqcore vs PyTorch.

Two workloads (``trigger_peers``): ``features`` (the network on spectrogram frames [1, 5511, 101]) and
``samples`` (end to end from 441,000 samples: spectrogram, log, network).  Before anything is timed the
peers must agree on the probabilities within ``trigger_peers.ATOL``.  ``trigger_compare.py`` prints the
side-by-side table with the ratio.

    PYTHONPATH=python pytest benchmarks/test_trigger_inference.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import trigger_peers as tp  # noqa: E402

ROUNDS = 20


@cache
def _setup() -> tuple:
    from seqcore.audio.features import features

    model = tp.seqcore_model()
    samples = tp.clip()
    return model, samples, features(samples)[None]


@cache
def _torch_peer() -> tuple:
    torch = pytest.importorskip("torch")
    from seqcore import get_num_threads

    torch.set_num_threads(get_num_threads())
    model, samples, _ = _setup()
    peer = tp.torch_model(model)
    errors = tp.validate(model, peer, samples)  # raises before timing when the peers disagree
    return peer, errors


@pytest.mark.parametrize("peer_name", ["seqcore", "torch"])
@pytest.mark.parametrize("workload", ["features", "samples"])
def test_trigger_inference(benchmark, workload, peer_name):
    model, samples, X = _setup()
    benchmark.group = f"trigger inference from {workload} (10 s clip, batch 1)"
    if peer_name == "torch":
        import torch

        peer, errors = _torch_peer()
        xs = torch.from_numpy(X if workload == "features" else samples)
        forward = tp.torch_forward if workload == "features" else tp.torch_end_to_end

        def fn():
            with torch.inference_mode():
                return forward(peer, xs)

        benchmark.extra_info["max_abs_error"] = errors[workload]
    else:
        _torch_peer_or_none()
        if workload == "features":

            def fn():
                return tp.seqcore_features(model, X)
        else:

            def fn():
                return tp.seqcore_end_to_end(model, samples)

    fn()  # warm-up
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"unit": "clips/s", "throughput": 1.0 / benchmark.stats.stats.median})


def _torch_peer_or_none() -> None:
    """Validate against torch when it is installed, so a wrong seqcore answer is never timed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    _torch_peer()
