"""Word-vector training compiled with numba: the reference's loops, the same random stream (see
``backends/reference/words.py``), run serially on the calling thread (nogil, so other Python threads
keep running).  ``threads`` is accepted and ignored: a lock-free Hogwild team is what the cpp backend
is for, and a serial run is what makes the results repeatable."""

from __future__ import annotations

import math

import numpy as np

from numba import types
from numba.typed import Dict

from ._kernels import _kernel

_MUL = np.uint64(25214903917)
_ADD = np.uint64(11)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
_SIXTEEN = np.uint64(16)
_LOW16 = np.uint64(0xFFFF)


@_kernel
def _lcg(r):
    return r * _MUL + _ADD


@_kernel
def _stream_start(seed, index):
    return _lcg(seed ^ ((np.uint64(index) + _ONE) * _GOLDEN))


@_kernel
def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@_kernel
def _sgns(ids, offsets, W_in, W_out, neg_table, keep_prob, window, negative, alpha, min_alpha, words_done,
          total_words, seed):  # fmt: skip
    E = W_in.shape[1]
    T = np.uint64(neg_table.size)
    win = np.uint64(window)
    neu1e = np.empty(E, W_in.dtype)
    kept = np.empty(max(1, ids.size), np.int64)
    loss = 0.0
    terms = 0
    for s in range(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        r = _stream_start(seed, s)
        seen = np.float64(words_done) + np.float64(a - offsets[0])  # in double: no int64 overflow
        lr = max(min_alpha, alpha - (alpha - min_alpha) * seen / total_words)
        n = 0
        for p in range(a, b):
            r = _lcg(r)
            w = ids[p]
            if keep_prob[w] >= float((r >> _SIXTEEN) & _LOW16) / 65536.0:
                kept[n] = w
                n += 1
        for c in range(n):
            centre = kept[c]
            r = _lcg(r)
            reach = window - np.int64((r >> _SIXTEEN) % win)
            for j in range(max(0, c - reach), min(n, c + reach + 1)):
                if j == c:
                    continue
                l1 = W_in[kept[j]]
                neu1e[:] = 0
                for d in range(negative + 1):
                    if d == 0:
                        target = centre
                        label = 1.0
                    else:
                        r = _lcg(r)
                        target = neg_table[np.int64((r >> _SIXTEEN) % T)]
                        label = 0.0
                        if target == centre:
                            continue
                    row = W_out[target]
                    f = 0.0
                    acc = row.dtype.type(0)
                    for e in range(E):
                        acc += l1[e] * row[e]
                    f = float(acc)
                    if f > 6.0:
                        sig = 1.0
                    elif f < -6.0:
                        sig = 0.0
                    else:
                        sig = 1.0 / (1.0 + math.exp(-f))
                    loss += _softplus(-f) if label > 0 else _softplus(f)
                    terms += 1
                    g = row.dtype.type((label - sig) * lr)
                    for e in range(E):
                        neu1e[e] += g * row[e]
                        row[e] += g * l1[e]
                for e in range(E):
                    l1[e] += neu1e[e]
    return loss, terms


def word2vec_sgns_train(ids, offsets, W_in, W_out, neg_table, keep_prob, window, negative, alpha, min_alpha,
                        words_done, total_words, seed, threads):  # fmt: skip
    loss, terms = _sgns(ids, offsets, W_in, W_out, neg_table, keep_prob, window, negative, alpha, min_alpha,
                        words_done, total_words, np.uint64(seed))  # fmt: skip
    return float(loss), int(terms), int(offsets[-1] - offsets[0])


@_kernel
def _cooccur(ids, offsets, V, window, symmetric):
    counts = Dict.empty(key_type=types.int64, value_type=types.float64)
    for s in range(offsets.size - 1):
        a, b = offsets[s], offsets[s + 1]
        for i in range(a, b):
            for d in range(1, window + 1):
                if i - d < a:
                    break
                w = 1.0 / d
                key = ids[i] * V + ids[i - d]
                counts[key] = counts.get(key, 0.0) + w
                if symmetric:
                    key = ids[i - d] * V + ids[i]
                    counts[key] = counts.get(key, 0.0) + w
    keys = np.empty(len(counts), np.int64)
    vals = np.empty(len(counts), np.float64)
    n = 0
    for key, v in counts.items():
        keys[n] = key
        vals[n] = v
        n += 1
    order = np.argsort(keys)
    keys = keys[order]
    return keys // max(V, 1), keys % max(V, 1), vals[order]


def glove_cooccurrence(ids, offsets, V, window, symmetric=True):
    return _cooccur(ids, offsets, V, window, symmetric)


@_kernel
def _glove(rows, cols, values, W, C, bw, bc, gW, gC, gbw, gbc, x_max, alpha, lr, epochs, seed):
    E = W.shape[1]
    n_all = rows.size
    costs = np.zeros(epochs)
    order = np.empty(n_all, np.int64)
    t = W.dtype.type
    for ep in range(epochs):
        r = _stream_start(seed, ep)
        for i in range(n_all):
            order[i] = i
        for i in range(n_all - 1, 0, -1):
            r = _lcg(r)
            j = np.int64((r >> _SIXTEEN) % np.uint64(i + 1))
            order[i], order[j] = order[j], order[i]
        total = 0.0
        for m in range(n_all):
            n = order[m]
            i, j, x = rows[n], cols[n], values[n]
            wi, cj = W[i], C[j]
            acc = t(0)
            for e in range(E):
                acc += wi[e] * cj[e]
            diff = float(acc) + float(bw[i]) + float(bc[j]) - math.log(x)
            fdiff = diff if x > x_max else (x / x_max) ** alpha * diff
            total += 0.5 * fdiff * diff
            fdiff *= lr
            g = t(fdiff)
            gwi, gcj = gW[i], gC[j]
            for e in range(E):
                t1 = g * cj[e]
                t2 = g * wi[e]
                wi[e] -= t1 / np.sqrt(gwi[e])
                cj[e] -= t2 / np.sqrt(gcj[e])
                gwi[e] += t1 * t1
                gcj[e] += t2 * t2
            bw[i] -= t(fdiff / math.sqrt(gbw[i]))
            bc[j] -= t(fdiff / math.sqrt(gbc[j]))
            gbw[i] += t(fdiff * fdiff)
            gbc[j] += t(fdiff * fdiff)
        costs[ep] = total / max(n_all, 1)
    return costs


def glove_train(rows, cols, values, W, C, bw, bc, gradsq_W, gradsq_C, gradsq_bw, gradsq_bc, x_max, alpha, lr, epochs,
                seed, threads):  # fmt: skip
    return _glove(rows, cols, values, W, C, bw, bc, gradsq_W, gradsq_C, gradsq_bw, gradsq_bc, x_max, alpha, lr,
                  epochs, np.uint64(seed))  # fmt: skip
