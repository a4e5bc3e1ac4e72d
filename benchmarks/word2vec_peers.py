"""word2vec / GloVe throughput and quality, seqcore vs gensim, on planted_corpus (~1M words).

    python benchmarks/word2vec_peers.py [--words 1000000] [--workers 2] [--epochs 3]

Both train skip-gram with negative sampling on the same sentences with the same hyper-parameters
(sg=1, hs=0, negative=5, window=5, sample=1e-3, min_count=5, alpha 0.025 -> 1e-4, dim 100).  Quality is
planted_scores: nearest key word = its partner, and the planted analogy direction (3CosAdd).  Also
times topk_dot against NumPy's argpartition on 400k x 50 float32.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seqcore import kernels as K
from seqcore.embeddings.train import _glove_run, _word2vec_run, planted_corpus, planted_scores

HYPER = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3, "alpha": 0.025, "min_alpha": 1e-4}


class _Vectors:  # the two fields planted_scores reads
    def __init__(self, words, matrix):
        self.words, self.matrix = list(words), np.asarray(matrix)


def run_seqcore(corpus, epochs: int, workers: int) -> dict:
    vectors, _, stats = _word2vec_run(corpus, epochs=epochs, workers=workers, seed=1, progress=False, **HYPER)
    return {"words_per_second": stats["words_per_second"], "seconds": stats["seconds"], **planted_scores(vectors)}


def run_gensim(corpus, epochs: int, workers: int) -> dict:
    from gensim.models import Word2Vec

    h = HYPER
    model = Word2Vec(vector_size=h["dim"], window=h["window"], negative=h["negative"], min_count=h["min_count"],
                     sample=h["sample"], alpha=h["alpha"], min_alpha=h["min_alpha"], sg=1, hs=0, workers=workers,
                     seed=1)  # fmt: skip
    model.build_vocab(corpus)
    start = time.perf_counter()
    model.train(corpus, total_examples=len(corpus), epochs=epochs)
    seconds = time.perf_counter() - start
    words = sum(len(s) for s in corpus) * epochs
    kv = model.wv
    return {"words_per_second": words / seconds, "seconds": seconds,
            **planted_scores(_Vectors(kv.index_to_key, kv.vectors))}  # fmt: skip


def run_glove(corpus, epochs: int, workers: int) -> dict:
    vectors, _, stats = _glove_run(corpus, dim=50, window=10, epochs=epochs, min_count=5, workers=workers,
                                   progress=False)  # fmt: skip
    return {"words_per_second": stats["words_per_second"], "seconds": stats["seconds"], **planted_scores(vectors)}


def topk_vs_numpy(V=400_000, E=50, Q=1000, k=10) -> dict:
    rng = np.random.default_rng(0)
    M = rng.standard_normal((V, E)).astype(np.float32)
    M /= np.linalg.norm(M, axis=1, keepdims=True)
    q = M[:Q].copy()
    K.topk_dot(M, q[:4], k)
    start = time.perf_counter()
    _, ids = K.topk_dot(M, q, k)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for q0 in range(0, Q, 100):  # NumPy in blocks of 100 queries ([100, V] scores at a time)
        s = q[q0 : q0 + 100] @ M.T
        part = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, 1), axis=1, kind="stable")
        top = np.take_along_axis(part, order, 1)
        assert np.array_equal(top[:, 0], ids[q0 : q0 + 100, 0])
    theirs = time.perf_counter() - start
    return {"seqcore_s": ours, "numpy_s": theirs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--words", type=int, default=1_000_000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--glove-epochs", type=int, default=15)
    args = p.parse_args()
    corpus = planted_corpus(args.words, seed=0)
    rows = [("seqcore word2vec", run_seqcore(corpus, args.epochs, args.workers)),
            ("gensim Word2Vec", run_gensim(corpus, args.epochs, args.workers)),
            ("seqcore GloVe", run_glove(corpus, args.glove_epochs, args.workers))]  # fmt: skip
    print(f"{sum(map(len, corpus)):,} words, {args.epochs} epochs (GloVe {args.glove_epochs}), {args.workers} workers")
    print(f"{'':18} {'words/s':>12} {'seconds':>8} {'neighbour':>10} {'analogy':>8}")
    for name, r in rows:
        wps, sec, nb, an = r["words_per_second"], r["seconds"], r["neighbour"], r["analogy"]
        print(f"{name:18} {wps:12,.0f} {sec:8.2f} {nb:10.3f} {an:8.3f}")
    t = topk_vs_numpy()
    print(f"topk_dot 400k x 50 float32, 1000 queries, k=10: seqcore {t['seqcore_s']:.3f}s, "
          f"NumPy matmul+argpartition {t['numpy_s']:.3f}s")  # fmt: skip


if __name__ == "__main__":
    main()
