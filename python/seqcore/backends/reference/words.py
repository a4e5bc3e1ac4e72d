"""Word-vector training in plain Python/NumPy: word2vec skip-gram with negative sampling and GloVe.

Slow (a Python loop per training pair), written to be read next to the papers and to be the
ground truth in tests: every backend consumes the same random stream (below), so a 1-thread
run of any backend makes the same updates in the same order.

The random stream (word2vec.c's linear congruential generator, 64-bit wrap-around):
    next(r) = r * 25214903917 + 11 (mod 2**64);   a draw uses the bits r >> 16
    sentence s of a call starts from  r = next(seed XOR ((s + 1) * 0x9E3779B97F4A7C15))
    GloVe epoch e starts from        r = next(seed XOR ((e + 1) * 0x9E3779B97F4A7C15))
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MAX_EXP = 6.0  # sigmoid(x) is taken as 0 / 1 beyond |x| > 6, as word2vec.c and gensim do


def lcg(r: int) -> int:
    return (r * 25214903917 + 11) & MASK


def stream_start(seed: int, index: int) -> int:
    return lcg(seed ^ (((index + 1) * GOLDEN) & MASK))


def softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def word2vec_sgns_train(
    ids, offsets, W_in, W_out, neg_table, keep_prob, window, negative, alpha, min_alpha, words_done, total_words, seed,
    threads,
):  # fmt: skip
    """Skip-gram with negative sampling over sentences ids[offsets[s]:offsets[s+1]], updating W_in/W_out.

    For each sentence: subsample (keep token w when keep_prob[w] >= u, u = ((r >> 16) & 0xFFFF) / 65536),
    then for each kept centre word draw a reduced window b = window - (r >> 16) % window and train every
    (context, centre) pair within b kept positions: the context's W_in row predicts the centre (label 1)
    and `negative` words drawn from neg_table[(r >> 16) % len(neg_table)] (label 0; a draw equal to the
    centre is skipped).  lr decays linearly with the words seen: alpha - (alpha - min_alpha) * seen /
    total_words, at least min_alpha, fixed per sentence.  Returns (loss_sum, terms, words).
    threads is ignored here (serial).
    """
    dt = W_in.dtype.type
    T = neg_table.size
    loss, terms = 0.0, 0
    for s in range(offsets.size - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        r = stream_start(seed, s)
        seen = float(words_done) + float(a - int(offsets[0]))  # in double, as the native kernel (no overflow)
        lr = max(min_alpha, alpha - (alpha - min_alpha) * seen / total_words)
        kept = []
        for w in ids[a:b]:
            r = lcg(r)
            if keep_prob[w] >= ((r >> 16) & 0xFFFF) / 65536.0:
                kept.append(int(w))
        for c, centre in enumerate(kept):
            r = lcg(r)
            reach = window - (r >> 16) % window
            for j in range(max(0, c - reach), min(len(kept), c + reach + 1)):
                if j == c:
                    continue
                l1 = W_in[kept[j]]
                neu1e = np.zeros_like(l1)
                for d in range(negative + 1):
                    if d == 0:
                        target, label = centre, 1.0
                    else:
                        r = lcg(r)
                        target, label = int(neg_table[(r >> 16) % T]), 0.0
                        if target == centre:
                            continue
                    f = float(np.dot(l1, W_out[target]))
                    sig = 1.0 if f > MAX_EXP else 0.0 if f < -MAX_EXP else 1.0 / (1.0 + math.exp(-f))
                    loss += softplus(-f) if label else softplus(f)
                    terms += 1
                    g = dt((label - sig) * lr)
                    neu1e += g * W_out[target]
                    W_out[target] += g * l1
                l1 += neu1e
    return loss, terms, int(offsets[-1] - offsets[0])


def glove_cooccurrence(ids, offsets, V, window, symmetric=True):
    """Co-occurrence counts weighted 1/distance, as sparse (rows, cols, values) sorted by (row, col).

    Scan order: for each position i of each sentence, for d = 1..window with i - d in the sentence,
    X[w_i, w_(i-d)] += 1/d, then (symmetric) X[w_(i-d), w_i] += 1/d.  Each entry is the sum of its
    terms in that order.
    """
    rows, cols, weights = [], [], []
    for s in range(offsets.size - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        for i in range(a, b):
            for d in range(1, window + 1):
                if i - d < a:
                    break
                rows.append(ids[i])
                cols.append(ids[i - d])
                weights.append(1.0 / d)
                if symmetric:
                    rows.append(ids[i - d])
                    cols.append(ids[i])
                    weights.append(1.0 / d)
    keys = np.asarray(rows, np.int64) * V + np.asarray(cols, np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    values = np.bincount(inverse.reshape(-1), weights=np.asarray(weights, np.float64), minlength=uniq.size)
    return uniq // max(V, 1), uniq % max(V, 1), values.astype(np.float64)


def glove_permutation(n: int, r: int) -> np.ndarray:
    """Fisher-Yates from the back: for i = n-1 .. 1, swap i with (next(r) >> 16) % (i + 1)."""
    order = np.arange(n, dtype=np.int64)
    for i in range(n - 1, 0, -1):
        r = lcg(r)
        j = (r >> 16) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def glove_train(
    rows, cols, values, W, C, bw, bc, gradsq_W, gradsq_C, gradsq_bw, gradsq_bc, x_max, alpha, lr, epochs, seed,
    threads,
):  # fmt: skip
    """GloVe's weighted least squares with AdaGrad (glove.c), every array updated in place.

    Each epoch visits the triplets in a permutation (glove_permutation) and for x = values[n]
    minimises f(x) (w_i . c_j + b_i + b_j - log x)**2 / 2, f(x) = min(1, (x / x_max)**alpha).
    Returns the mean cost of each epoch, float64 [epochs].  threads is ignored here (serial).
    """
    dt = W.dtype.type
    costs = np.zeros(epochs)
    for e in range(epochs):
        total = 0.0
        for n in glove_permutation(rows.size, stream_start(seed, e)):
            i, j, x = rows[n], cols[n], float(values[n])
            diff = float(np.dot(W[i], C[j])) + float(bw[i]) + float(bc[j]) - math.log(x)
            fdiff = diff if x > x_max else (x / x_max) ** alpha * diff
            total += 0.5 * fdiff * diff
            fdiff *= lr
            g = dt(fdiff)
            t1, t2 = g * C[j], g * W[i]
            W[i] -= t1 / np.sqrt(gradsq_W[i])
            C[j] -= t2 / np.sqrt(gradsq_C[j])
            gradsq_W[i] += t1 * t1
            gradsq_C[j] += t2 * t2
            bw[i] -= dt(fdiff / np.sqrt(np.float64(gradsq_bw[i])))
            bc[j] -= dt(fdiff / np.sqrt(np.float64(gradsq_bc[j])))
            gradsq_bw[i] += dt(fdiff * fdiff)
            gradsq_bc[j] += dt(fdiff * fdiff)
        costs[e] = total / max(rows.size, 1)
    return costs
