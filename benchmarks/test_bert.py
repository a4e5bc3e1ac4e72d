"""BERT encoder inference under pytest-benchmark: all-MiniLM-L6-v2 hidden states, seqcore vs transformers (torch).

The cases and inputs are ``bert_compare``'s ((B, L) = (1, 32) and (32, 128); [CLS] ids... [SEP], mask of ones).
Before anything is timed seqcore's hidden states must equal Hugging Face's within ``bert_compare.RTOL`` (with and
without padded rows); without torch and transformers, the fast path is checked against seqcore's own layers path
instead and only seqcore is timed.  The side-by-side table with ratios is ``bert_compare.py``.

    PYTHONPATH=python pytest benchmarks/test_bert.py --benchmark-only
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import bert_compare as bc  # noqa: E402

ROUNDS = {(1, 32): 30, (32, 128): 5}
HAS_PEER = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


@cache
def _models() -> tuple:
    """(seqcore model, transformers model or None)."""
    from seqcore.pretrained import DEFAULT_MODEL, load_bert, model_dir

    try:
        model_dir(DEFAULT_MODEL)
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")
    if HAS_PEER:
        return bc.load_peers()
    return load_bert(DEFAULT_MODEL), None


@cache
def _validated(case: tuple[int, int]) -> float:
    """The max relative error of seqcore's hidden states (against torch's, else the layers path's); fails above RTOL."""
    ours, theirs = _models()
    if theirs is not None:
        error = bc.validate(ours, theirs, case)
    else:
        inputs = bc.make_inputs(*case, ours.config.vocab_size, padded=True)
        error = bc.relative_error(
            bc.seqcore_call(ours, inputs), bc.seqcore_call(ours, inputs, fast=False), inputs["attention_mask"]
        )
    if not error <= bc.RTOL:
        pytest.fail(f"seqcore's hidden states differ by {error:.1e} (relative): not timed", pytrace=False)
    return error


@pytest.mark.parametrize("case", bc.CASES, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("peer", ["seqcore", "torch"])
def test_bert_hidden_states(benchmark, case, peer):
    if peer == "torch" and not HAS_PEER:
        pytest.skip("torch or transformers is not installed (the peer)")
    ours, theirs = _models()
    error = _validated(case)
    inputs = bc.make_inputs(*case, ours.config.vocab_size)
    if peer == "torch":
        tensors = bc.torch_inputs(inputs)

        def fn():
            return bc.torch_call(theirs, tensors)
    else:

        def fn():
            return bc.seqcore_call(ours, inputs)

    benchmark.group = f"all-MiniLM-L6-v2 hidden states, {case[0]} x {case[1]} tokens"
    fn()  # warm-up
    benchmark.pedantic(fn, rounds=ROUNDS[case], iterations=1, warmup_rounds=1)
    benchmark.extra_info["max_rel_error"] = error
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info.update(
            {"unit": "tokens/s", "throughput": int(np.prod(case)) / benchmark.stats.stats.median}
        )
