"""word2vec throughput and quality under pytest-benchmark: seqcore vs gensim (sg=1, hs=0, negative=5, 2 workers)
on planted_corpus; GloVe throughput.  ``word2vec_peers.py`` prints the side-by-side table.

    pytest benchmarks/test_word2vec.py --benchmark-only -s
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import word2vec_peers as wp  # noqa: E402
from seqcore.embeddings.train import planted_corpus  # noqa: E402

WORDS, EPOCHS, WORKERS = 1_000_000, 2, 2


@cache
def _corpus():
    return planted_corpus(WORDS, seed=0)


def test_word2vec_seqcore(benchmark):
    result = benchmark.pedantic(lambda: wp.run_seqcore(_corpus(), EPOCHS, WORKERS), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["neighbour"] >= 0.9 and result["analogy"] >= 0.9


def test_word2vec_gensim(benchmark):
    pytest.importorskip("gensim", reason="gensim is not installed (the peer)")
    result = benchmark.pedantic(lambda: wp.run_gensim(_corpus(), EPOCHS, WORKERS), rounds=1, iterations=1)
    benchmark.extra_info.update(result)


def test_glove_seqcore(benchmark):
    result = benchmark.pedantic(lambda: wp.run_glove(_corpus(), 10, WORKERS), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["analogy"] >= 0.9


def test_topk_dot_vs_numpy(benchmark):
    result = benchmark.pedantic(wp.topk_vs_numpy, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
