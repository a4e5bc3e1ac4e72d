"""word2vec and GloVe: the kernels against the reference (same random stream), brute-force co-occurrence counts,
planted structure recovered, repeatability, the Python API and the CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from helpers import ALL_BACKENDS, FAST_BACKENDS, Case, Tolerance, check_against_reference
from seqcore import kernels as K
from seqcore import use_backend
from seqcore.embeddings.train import (
    _glove_run,
    _word2vec_run,
    keep_probabilities,
    negative_table,
    planted_corpus,
    planted_scores,
    train_glove,
    train_word2vec,
)

TOL = {np.float64: Tolerance(1e-10, 1e-10), np.float32: Tolerance(2e-4, 2e-4)}


def small_corpus(seed=0, V=30, N=600):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, N)
    cuts = np.sort(rng.integers(0, N, 8))
    return ids, np.concatenate([[0], cuts, [N]]).astype(np.int64)


# ---------------------------------------------------------------- word2vec kernel


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("negative", [0, 5])
def test_word2vec_kernel_matches_reference(backend, dtype, negative):
    V, E = 30, 12
    ids, off = small_corpus()
    rng = np.random.default_rng(1)
    W0 = ((rng.random((V, E)) - 0.5) / E * 8).astype(dtype)
    Wo0 = ((rng.random((V, E)) - 0.5) / E).astype(dtype)
    table, keep = rng.integers(0, V, 500), rng.uniform(0.2, 1.5, V)

    def forward(W_in, W_out):
        loss, terms, words = K.word2vec_sgns_train(
            ids, off, W_in, W_out, table, keep, window=4, negative=negative, alpha=0.05, min_alpha=1e-3,
            words_done=50, total_words=2000, seed=11, threads=1,
        )  # fmt: skip
        return {"W_in": W_in, "W_out": W_out, "loss": np.array([loss]), "counts": np.array([terms, words])}, None

    case = Case("word2vec", lambda: {"W_in": W0.copy(), "W_out": Wo0.copy()}, forward, mutates_inputs=True,
                tol=TOL[dtype])  # fmt: skip
    out, _ = check_against_reference(case, backend)
    assert out["counts"][1] == ids.size and out["counts"][0] > 0


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_word2vec_kernel_is_repeatable_and_learns(backend):
    V, E = 30, 10
    ids, off = small_corpus(2)
    keep, table = np.ones(V), np.arange(V)

    def run(epochs):
        W, Wo = np.random.default_rng(0).random((V, E)) - 0.5, np.zeros((V, E))
        losses = []
        with use_backend(backend):
            for e in range(epochs):
                done, total = e * ids.size, epochs * ids.size
                loss, terms, _ = K.word2vec_sgns_train(
                    ids, off, W, Wo, table, keep, window=2, negative=3, seed=e, words_done=done, total_words=total
                )
                losses.append(loss / terms)
        return W, losses

    a, losses = run(4)
    b, _ = run(4)
    np.testing.assert_array_equal(a, b)
    assert losses[-1] < losses[0]


def test_word2vec_threads_run_hogwild():
    """Several native threads: finite results close in loss to one thread's (not bit-identical: Hogwild)."""
    V, E = 200, 16
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, 60_000)
    off = np.arange(0, 60_001, 20)
    keep, table = np.ones(V), np.arange(V)
    out = []
    for threads in (1, 2):
        W, Wo = (rng.random((V, E)) - 0.5) / E, np.zeros((V, E))
        with use_backend("cpp"):
            loss, terms, words = K.word2vec_sgns_train(ids, off, W, Wo, table, keep, threads=threads, seed=3)
        assert np.isfinite(W).all() and words == ids.size
        out.append(loss / terms)
    assert abs(out[0] - out[1]) < 0.05


# ---------------------------------------------------------------- GloVe kernels


def brute_cooccurrence(ids, off, V, window, symmetric):
    counts = {}
    for s in range(off.size - 1):
        sent = ids[off[s] : off[s + 1]]
        for i in range(len(sent)):
            for d in range(1, window + 1):
                if i - d < 0:
                    break
                for key in [(sent[i], sent[i - d])] + ([(sent[i - d], sent[i])] if symmetric else []):
                    counts[key] = counts.get(key, 0.0) + 1.0 / d
    keys = sorted(counts)
    return (np.array([k[0] for k in keys], np.int64).reshape(-1), np.array([k[1] for k in keys], np.int64).reshape(-1),
            np.array([counts[k] for k in keys], np.float64))  # fmt: skip


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("window", [1, 3, 10])
def test_cooccurrence_equals_brute_force(backend, symmetric, window):
    ids, off = small_corpus(3, V=12, N=300)
    with use_backend(backend):
        got = K.glove_cooccurrence(ids, off, 12, window, symmetric=symmetric)
    for g, w, name in zip(got, brute_cooccurrence(ids, off, 12, window, symmetric), ("rows", "cols", "values")):
        assert g.dtype == w.dtype, name
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_cooccurrence_empty(backend):
    with use_backend(backend):
        r, c, v = K.glove_cooccurrence(np.zeros(0, np.int64), np.array([0]), 5, 3)
    assert r.shape == c.shape == v.shape == (0,) and r.dtype == np.int64 and v.dtype == np.float64


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_glove_kernel_matches_reference(backend, dtype):
    V, E = 12, 6
    ids, off = small_corpus(4, V=V, N=200)
    rows, cols, values = K.glove_cooccurrence(ids, off, V, 4)
    rng = np.random.default_rng(5)
    init = [((rng.random(s) - 0.5) / E).astype(dtype) for s in ((V, E), (V, E), (V,), (V,))]

    def make():
        return dict(zip(("W", "C", "bw", "bc"), (a.copy() for a in init))) | {
            "gradsq_W": np.ones((V, E), dtype), "gradsq_C": np.ones((V, E), dtype),
            "gradsq_bw": np.ones(V, dtype), "gradsq_bc": np.ones(V, dtype),
        }  # fmt: skip

    def forward(**a):
        costs = K.glove_train(rows, cols, values, **a, x_max=3.0, epochs=3, seed=9, threads=1)
        return {"costs": costs, **a}, None

    case = Case("glove", make, forward, mutates_inputs=True, tol=TOL[dtype])
    out, _ = check_against_reference(case, backend)
    assert out["costs"][-1] < out["costs"][0]


# ---------------------------------------------------------------- bad input names the argument


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_word_kernels_bad_input(backend):
    ids, off = small_corpus(V=5, N=20)
    W, Wo = np.zeros((5, 3)), np.zeros((5, 3))
    keep, table = np.ones(5), np.arange(5)
    w2v = dict(ids=ids, sentence_offsets=off, W_in=W, W_out=Wo, neg_table=table, keep_prob=keep)
    cases = [
        ({"ids": ids + 5}, ValueError, r"^ids must lie in \[0, V\)"),
        ({"sentence_offsets": off[::-1]}, ValueError, "^sentence_offsets must rise from 0"),
        ({"W_out": np.zeros((5, 3), np.float32)}, TypeError, "^W_out must have dtype float64"),
        ({"W_out": W}, ValueError, "^W_out must not share memory with W_in"),
        ({"W_in": W.T.copy().T}, ValueError, "^W_in must be C-contiguous"),
        ({"neg_table": np.zeros(0, np.int64)}, ValueError, "^neg_table must be a non-empty"),
        ({"keep_prob": np.ones(4)}, ValueError, r"^keep_prob must have shape \(V,\)"),
        ({"window": 0}, ValueError, "^window must be >= 1"),
        ({"seed": -1}, ValueError, r"^seed must lie in \[0, "),
        ({"alpha": float("inf")}, ValueError, "^alpha must be finite"),
    ]
    with use_backend(backend):
        for change, exc, msg in cases:
            with pytest.raises(exc, match=msg):
                K.word2vec_sgns_train(**{**w2v, **change})
        with pytest.raises(ValueError, match="^window must be >= 1"):
            K.glove_cooccurrence(ids, off, 5, 0)
        glove = dict(rows=np.array([0]), cols=np.array([1]), values=np.array([1.0]), W=W, C=Wo, bw=np.zeros(5),
                     bc=np.zeros(5), gradsq_W=np.ones((5, 3)), gradsq_C=np.ones((5, 3)), gradsq_bw=np.ones(5),
                     gradsq_bc=np.ones(5))  # fmt: skip
        for change, exc, msg in [
            ({"values": np.array([0.0])}, ValueError, "^values must be positive"),
            ({"cols": np.array([7])}, ValueError, r"^cols must lie in \[0, V\)"),
            ({"bc": np.zeros(4)}, ValueError, r"^bc must have shape \(V,\)"),
            ({"gradsq_C": Wo}, ValueError, "^gradsq_C must not share memory with C"),
            ({"x_max": 0}, ValueError, "^x_max must be > 0"),
        ]:
            with pytest.raises(exc, match=msg):
                K.glove_train(**{**glove, **change})


# ---------------------------------------------------------------- the Python API on planted structure


@pytest.fixture(scope="module")
def corpus():
    return planted_corpus(150_000, seed=0)


def test_word2vec_recovers_planted_structure(corpus):
    vectors, losses, _ = _word2vec_run(corpus, dim=32, epochs=3, min_count=2, workers=2, progress=False)
    scores = planted_scores(vectors)
    assert scores["neighbour"] >= 0.9 and scores["analogy"] >= 0.8, scores
    assert losses[-1] < losses[0]
    assert vectors.matrix.dtype == np.float32 and vectors.counts is not None


def test_glove_recovers_planted_analogies(corpus):
    vectors, costs, _ = _glove_run(corpus, dim=32, epochs=10, min_count=2, workers=2, progress=False)
    assert planted_scores(vectors)["analogy"] >= 0.8
    assert costs[-1] < costs[0]


def test_same_seed_one_worker_is_repeatable():
    corpus = planted_corpus(20_000, seed=1)
    for train in (train_word2vec, train_glove):
        a = train(corpus, dim=8, epochs=2, min_count=2, workers=1, seed=4, progress=False)
        b = train(corpus, dim=8, epochs=2, min_count=2, workers=1, seed=4, progress=False)
        c = train(corpus, dim=8, epochs=2, min_count=2, workers=1, seed=5, progress=False)
        assert a.words == b.words
        np.testing.assert_array_equal(a.matrix, b.matrix)
        assert not np.array_equal(a.matrix, c.matrix)


def test_api_reads_text_files_and_checks_arguments(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_corpus(5_000, seed=2)), encoding="utf-8")
    vectors = train_word2vec(str(path), dim=8, epochs=1, min_count=1, progress=False)
    assert vectors.matrix.shape == (len(vectors.words), 8)
    with pytest.raises(ValueError, match="^dim must be >= 1"):
        train_word2vec(str(path), dim=0)
    with pytest.raises(TypeError, match="token lists"):
        train_glove(["a b c"])
    with pytest.raises(ValueError, match="min_count"):
        train_glove([["a"]], min_count=2)


def test_helpers():
    counts = np.array([100, 10, 1])
    table = negative_table(counts, size=10_000)
    freq = np.bincount(table, minlength=3) / 10_000
    np.testing.assert_allclose(freq, counts**0.75 / (counts**0.75).sum(), atol=1e-3)
    keep = keep_probabilities(np.array([1_000_000, 10]), 1e-3)
    assert keep[1] == 1.0 and 0 < keep[0] < 0.1


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("command", ["word2vec", "glove"])
def test_cli(command, tmp_path, capsys):
    import importlib

    from seqcore.embeddings.vectors import WordVectors

    module = importlib.import_module(f"seqcore.cli.{command}")
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_corpus(5_000, seed=2)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    out = tmp_path / "vecs"
    args = parser.parse_args([command, str(path), "--out", str(out), "--dim", "8", "--epochs", "2", "--min-count",
                              "1", "--workers", "1", "--quiet"])  # fmt: skip
    assert args.handler(args) == 0
    assert "saved to" in capsys.readouterr().out
    assert WordVectors.load(str(out)).matrix.shape[1] == 8
    bad = parser.parse_args([command, str(tmp_path / "missing.txt"), "--out", str(out)])
    from seqcore.cli._args import UsageError

    with pytest.raises(UsageError, match="not a file"):
        bad.handler(bad)
