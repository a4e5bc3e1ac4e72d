"""Corpus BLEU under pytest-benchmark: seqcore.metrics.bleu (cpp backend) vs sacrebleu.corpus_bleu.

The corpus is ``bleu_compare.make_corpus`` (100,000 generated sentence pairs of 20-30 words by default;
SEQCORE_BLEU_SEGMENTS=N changes it).  Before anything is timed, the two scores and every statistic behind
them must be identical.  sacrebleu's tokenizer caches are cleared before each of its rounds (``setup``).
The side-by-side table with ratios is ``bleu_compare.py``; here the ratio goes to ``extra_info``.

    pytest benchmarks/test_bleu.py --benchmark-only
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("sacrebleu", reason="sacrebleu is not installed (the peer): pip install sacrebleu")

import bleu_compare as bc  # noqa: E402

SEGMENTS = int(os.environ.get("SEQCORE_BLEU_SEGMENTS", "100000"))


@cache
def _corpus() -> tuple[list[str], list[list[str]]]:
    return bc.make_corpus(SEGMENTS, refs=1, seed=0)


@cache
def _validation() -> dict:
    return bc.validate(*_corpus())


def test_scores_identical_to_sacrebleu():
    result = _validation()
    print(f"\nseqcore:   {result['seqcore']}\nsacrebleu: {result['sacrebleu']}")
    assert result["identical"]


@pytest.mark.parametrize("peer", ["seqcore", "sacrebleu"])
def test_corpus_bleu(benchmark, peer):
    if not _validation()["identical"]:
        pytest.fail("seqcore's BLEU differs from sacrebleu's: not timed", pytrace=False)
    hyps, refs = _corpus()
    benchmark.group = f"corpus BLEU, {SEGMENTS} segments"
    if peer == "seqcore":
        bc.run_seqcore(hyps, refs)  # warm-up
        benchmark.pedantic(lambda: bc.run_seqcore(hyps, refs), rounds=5, iterations=1)
    else:  # seconds per run: few rounds, caches cleared before each
        benchmark.pedantic(lambda: bc.run_sacrebleu(hyps, refs), setup=bc.clear_sacrebleu_caches, rounds=2)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({"segments": SEGMENTS, "segments_per_s": SEGMENTS / median})
    benchmark.extra_info["score"] = _validation()["score"]
