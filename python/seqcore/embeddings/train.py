"""Training word vectors: word2vec skip-gram with negative sampling and GloVe, on seqcore's kernels.

``train_word2vec`` follows word2vec.c and gensim (sg=1, hs=0): frequent-word subsampling, a
reduced window per centre word, negatives from the unigram**0.75 table, a learning rate falling
linearly over all epochs, Hogwild threads.  ``train_glove`` counts 1/distance-weighted
co-occurrences and fits them with AdaGrad as glove.c does; its vectors are W + C, as in the paper.
A corpus is a text file (one sentence per line, whitespace-separated tokens) or an iterable of
token lists.  See docs/word_training.md.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import kernels as K

__all__ = [
    "Vocabulary",
    "build_vocabulary",
    "encode_corpus",
    "planted_corpus",
    "planted_scores",
    "train_glove",
    "train_word2vec",
]

_MASK = (1 << 64) - 1
_CHUNK_WORDS = 100_000  # words per kernel call: the progress bar moves, the threads get enough work


def _sentences(corpus: Any) -> list[list[str]]:
    if isinstance(corpus, (str, os.PathLike)):
        with open(corpus, encoding="utf-8") as f:
            return [line.split() for line in f]
    if isinstance(corpus, bytes) or not isinstance(corpus, Iterable):
        kind = type(corpus).__name__
        raise TypeError(f"corpus must be a path to a text file or an iterable of token lists, got {kind}")
    out = []
    for sentence in corpus:
        if isinstance(sentence, str):
            raise TypeError("corpus must be an iterable of token lists (not of strings); split each sentence first")
        out.append(list(sentence))
    return out


class Vocabulary:
    """Words by descending count (ties by first appearance), with their counts."""

    def __init__(self, words: list[str], counts: np.ndarray) -> None:
        self.words = words
        self.counts = counts
        self.index = {w: i for i, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)


def build_vocabulary(sentences: Sequence[Sequence[str]], min_count: int) -> Vocabulary:
    counter: Counter[str] = Counter()
    for sentence in sentences:
        counter.update(sentence)
    kept = [(w, c) for w, c in counter.items() if c >= min_count]  # Counter keeps first-appearance order
    kept.sort(key=lambda wc: -wc[1])
    return Vocabulary([w for w, _ in kept], np.array([c for _, c in kept], np.int64))


def encode_corpus(sentences: Sequence[Sequence[str]], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [N] (words outside the vocabulary dropped, as gensim does) and sentence offsets [S+1]."""
    index = vocab.index
    ids: list[int] = []
    offsets = [0]
    for sentence in sentences:
        ids.extend(index[w] for w in sentence if w in index)
        offsets.append(len(ids))
    return np.array(ids, np.int64), np.array(offsets, np.int64)


def _chunks(offsets: np.ndarray, words: int) -> list[tuple[int, int]]:
    """Sentence ranges [s0, s1) of about ``words`` words each."""
    S = offsets.size - 1
    out, s0 = [], 0
    while s0 < S:
        s1 = int(np.searchsorted(offsets, offsets[s0] + words, side="left"))
        s1 = min(max(s1, s0 + 1), S)
        out.append((s0, s1))
        s0 = s1
    return out


def _mix(*parts: int) -> int:
    h = 0
    for p in parts:
        h = ((h ^ (p & _MASK)) * 0x9E3779B97F4A7C15 + 0xBF58476D1CE4E5B9) & _MASK
    return h


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="word", unit_scale=True, disable=not enabled, leave=True)


def _check(name: str, value: Any, low: float, kind: type = int) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise TypeError(f"{name} must be {'a number' if kind is float else 'an int'}, got {type(value).__name__}")
    if not value >= low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def negative_table(counts: np.ndarray, size: int | None = None, power: float = 0.75) -> np.ndarray:
    """Word ids laid out in proportion to count**power (word2vec.c's table): a uniform draw is a negative."""
    V = counts.size
    size = size or int(min(10_000_000, max(65_536, 100 * V)))  # small enough to stay in cache for small V
    cum = np.cumsum(counts.astype(np.float64) ** power)
    return np.searchsorted(cum, (np.arange(size) + 0.5) / size * cum[-1], side="right").astype(np.int64)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c / gensim subsampling: keep a word of count c with p = (sqrt(c / t) + 1) * t / c, t = sample * N."""
    if sample <= 0:
        return np.ones(counts.size)
    t = sample * float(counts.sum())
    c = counts.astype(np.float64)
    return np.minimum(1.0, (np.sqrt(c / t) + 1.0) * t / c)


def _word2vec_run(
    corpus: Any,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    epochs: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    workers: int = 2,
    seed: int = 1,
    progress: bool = True,
    dtype: Any = np.float32,
) -> tuple[Any, list[float], dict[str, float]]:
    """train_word2vec, also returning the mean loss of each epoch and the throughput."""
    from .vectors import WordVectors

    for name, value, low in (("dim", dim, 1), ("window", window, 1), ("negative", negative, 0), ("epochs", epochs, 0),
                             ("min_count", min_count, 1), ("workers", workers, 1), ("seed", seed, 0)):  # fmt: skip
        _check(name, value, low)
    for name, value in (("sample", sample), ("alpha", alpha), ("min_alpha", min_alpha)):
        _check(name, value, 0.0, float)
    sentences = _sentences(corpus)
    vocab = build_vocabulary(sentences, min_count)
    if not len(vocab):
        raise ValueError(f"no word occurs min_count = {min_count} times in the corpus")
    ids, offsets = encode_corpus(sentences, vocab)
    del sentences
    V, N = len(vocab), ids.size
    rng = np.random.default_rng(seed)
    W_in = ((rng.random((V, dim)) - 0.5) / dim).astype(dtype)
    W_out = np.zeros((V, dim), dtype)
    table = negative_table(vocab.counts)
    keep = keep_probabilities(vocab.counts, sample)
    chunks = _chunks(offsets, _CHUNK_WORDS)
    losses = []
    start = time.perf_counter()
    with _progress(epochs * N, "word2vec", progress) as bar:
        for epoch in range(epochs):
            loss_sum, terms = 0.0, 0
            for c, (s0, s1) in enumerate(chunks):
                a, b = int(offsets[s0]), int(offsets[s1])
                l_, t_, w_ = K.word2vec_sgns_train(
                    ids[a:b], offsets[s0 : s1 + 1] - a, W_in, W_out, table, keep,
                    window=window, negative=negative, alpha=alpha, min_alpha=min_alpha,
                    words_done=epoch * N + a, total_words=max(epochs * N, 1),
                    seed=_mix(seed, epoch, c), threads=workers,
                )  # fmt: skip
                loss_sum += l_
                terms += t_
                bar.update(w_)
                bar.set_postfix(loss=f"{loss_sum / max(terms, 1):.4f}", refresh=False)
            losses.append(loss_sum / max(terms, 1))
    seconds = time.perf_counter() - start
    stats = {"seconds": seconds, "words": float(epochs * N), "words_per_second": epochs * N / max(seconds, 1e-9)}
    return WordVectors(vocab.words, W_in.astype(np.float32, copy=False), vocab.counts), losses, stats


def train_word2vec(
    corpus: Any,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    epochs: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    workers: int = 2,
    seed: int = 1,
    progress: bool = True,
):
    """Skip-gram word2vec with negative sampling (Mikolov et al. 2013; word2vec.c, gensim sg=1 hs=0).

    corpus: a text file path (one sentence per line, whitespace tokens) or an iterable of token lists.
    Words seen fewer than min_count times are dropped.  sample: subsampling threshold (0 = off).
    alpha falls linearly to min_alpha over all epochs.  workers: Hogwild threads (results repeat bit
    for bit only with workers=1 and the same seed).  Returns WordVectors (the input vectors, float32,
    words by descending count, counts attached).
    """
    return _word2vec_run(corpus, dim, window, negative, epochs, min_count, sample, alpha, min_alpha, workers, seed,
                         progress)[0]  # fmt: skip


def _glove_run(
    corpus: Any,
    dim: int = 50,
    window: int = 10,
    epochs: int = 25,
    min_count: int = 5,
    x_max: float = 100.0,
    alpha: float = 0.75,
    lr: float = 0.05,
    workers: int = 2,
    seed: int = 1,
    progress: bool = True,
    dtype: Any = np.float32,
) -> tuple[Any, list[float], dict[str, float]]:
    """train_glove, also returning the mean cost of each epoch and the throughput."""
    from .vectors import WordVectors

    for name, value, low in (("dim", dim, 1), ("window", window, 1), ("epochs", epochs, 0), ("min_count", min_count, 1),
                             ("workers", workers, 1), ("seed", seed, 0)):  # fmt: skip
        _check(name, value, low)
    for name, value in (("x_max", x_max), ("alpha", alpha), ("lr", lr)):
        _check(name, value, 0.0, float)
    sentences = _sentences(corpus)
    vocab = build_vocabulary(sentences, min_count)
    if not len(vocab):
        raise ValueError(f"no word occurs min_count = {min_count} times in the corpus")
    ids, offsets = encode_corpus(sentences, vocab)
    del sentences
    V = len(vocab)
    start = time.perf_counter()
    rows, cols, values = K.glove_cooccurrence(ids, offsets, V, window, symmetric=True)
    rng = np.random.default_rng(seed)
    W, C = (((rng.random((V, dim)) - 0.5) / dim).astype(dtype) for _ in range(2))
    bw, bc = (((rng.random(V) - 0.5) / dim).astype(dtype) for _ in range(2))
    sq = [np.ones((V, dim), dtype), np.ones((V, dim), dtype), np.ones(V, dtype), np.ones(V, dtype)]
    costs: list[float] = []
    with _progress(epochs * ids.size, "glove", progress) as bar:
        for epoch in range(epochs):
            cost = K.glove_train(rows, cols, values, W, C, bw, bc, *sq, x_max=x_max, alpha=alpha, lr=lr, epochs=1,
                                 seed=_mix(seed, epoch), threads=workers)  # fmt: skip
            costs.append(float(cost[0]))
            bar.update(ids.size)
            bar.set_postfix(cost=f"{costs[-1]:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    stats = {
        "seconds": seconds,
        "words": float(epochs * ids.size),
        "words_per_second": epochs * ids.size / max(seconds, 1e-9),
        "pairs": float(rows.size),
    }
    return WordVectors(vocab.words, (W + C).astype(np.float32), vocab.counts), costs, stats


def train_glove(
    corpus: Any,
    dim: int = 50,
    window: int = 10,
    epochs: int = 25,
    min_count: int = 5,
    x_max: float = 100.0,
    alpha: float = 0.75,
    lr: float = 0.05,
    workers: int = 2,
    seed: int = 1,
    progress: bool = True,
):
    """GloVe (Pennington et al. 2014; glove.c): symmetric 1/distance co-occurrences within ``window``,
    weighted least squares f(x) = min(1, (x/x_max)**alpha) fitted with AdaGrad (learning rate lr) over
    Hogwild threads.  corpus as for train_word2vec.  Returns WordVectors of W + C (float32)."""
    return _glove_run(corpus, dim, window, epochs, min_count, x_max, alpha, lr, workers, seed, progress)[0]


def planted_corpus(n_words: int, topics: int = 40, seed: int = 0) -> list[list[str]]:
    """A synthetic corpus with known structure, for tests and benchmarks.

    Topic t has two forms, ``a{t}`` and ``b{t}``; a sentence about (t, form) mixes its key word with
    words drawn from topic t's 12 context words, from the form's 12 context words and from 300
    Zipf-distributed filler words.  So ``a{t}`` and ``b{t}`` share contexts (nearest neighbours), and
    ``b{t} - a{t}`` is one direction for every t (analogies ``a{i} : b{i} :: a{j} : b{j}``).
    """
    rng = np.random.default_rng(seed)
    filler = np.array([f"w{k}" for k in range(300)])
    zipf = 1.0 / np.arange(1, 301)
    zipf /= zipf.sum()
    topic_ctx = np.array([[f"t{t}c{k}" for k in range(12)] for t in range(topics)])
    form_ctx = {"a": np.array([f"fa{k}" for k in range(12)]), "b": np.array([f"fb{k}" for k in range(12)])}
    out: list[list[str]] = []
    total = 0
    while total < n_words:
        t, form, L = int(rng.integers(topics)), "ab"[int(rng.integers(2))], int(rng.integers(8, 16))
        kinds = rng.choice(4, size=L, p=[0.2, 0.35, 0.2, 0.25])  # key word, topic, form, filler
        toks = np.where(kinds == 0, f"{form}{t}", "")
        toks = np.where(kinds == 1, topic_ctx[t][rng.integers(12, size=L)], toks)
        toks = np.where(kinds == 2, form_ctx[form][rng.integers(12, size=L)], toks)
        toks = np.where(kinds == 3, filler[rng.choice(300, size=L, p=zipf)], toks)
        out.append(toks.tolist())
        total += L
    return out


def planted_scores(vectors: Any, topics: int = 40) -> dict[str, float]:
    """How well vectors recover planted_corpus's structure, among the 2*topics key words.

    neighbour: fraction of a{t} whose nearest key word is b{t} (and b{t} -> a{t});
    analogy: fraction of (i, j), i != j, with b{j} nearest to b{i} - a{i} + a{j} (3CosAdd, the three
    inputs excluded)."""
    keys = [f"{f}{t}" for f in "ab" for t in range(topics)]
    present = [k for k in keys if k in vectors.words]
    if len(present) < len(keys):
        return {"neighbour": 0.0, "analogy": 0.0}
    index = {w: i for i, w in enumerate(vectors.words)}
    M = np.asarray(vectors.matrix if hasattr(vectors, "matrix") else vectors._matrix, np.float64)
    M = M[[index[k] for k in keys]]
    M /= np.linalg.norm(M, axis=1, keepdims=True) + 1e-12
    T = topics
    self_ex = np.arange(2 * T)[:, None]
    _, nn = K.topk_dot(M, M, 1, exclude=self_ex)
    partner = np.concatenate([np.arange(T, 2 * T), np.arange(T)])
    neighbour = float(np.mean(nn[:, 0] == partner))
    i, j = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    i, j = i[i != j], j[i != j]
    q = M[T + i] - M[i] + M[j]
    q /= np.linalg.norm(q, axis=1, keepdims=True) + 1e-12
    _, best = K.topk_dot(M, q, 1, exclude=np.stack([T + i, i, j], axis=1))
    analogy = float(np.mean(best[:, 0] == T + j))
    return {"neighbour": neighbour, "analogy": analogy}
