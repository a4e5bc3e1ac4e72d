"""Beam search bookkeeping, compiled: the cpp kernel's recipe (a bounded heap of the best 2K candidates
per row, then the walk), serial over rows.  Same ranking, ties and arithmetic as the reference, so the
results are identical."""

from __future__ import annotations

import numpy as np

from .._types import LOG_PROB_SLACK
from ..reference.beam import check_log_probs
from ._kernels import _kernel


@_kernel
def _worse(s_a, f_a, s_b, f_b):
    """Whether (s_a, f_a) ranks after (s_b, f_b): the lower score, or the same score and a higher flat index."""
    return s_a < s_b or (s_a == s_b and f_a > f_b)


@_kernel
def _sift_down(hs, hf, n, pos):
    while True:
        c = 2 * pos + 1
        if c >= n:
            return
        if c + 1 < n and _worse(hs[c + 1], hf[c + 1], hs[c], hf[c]):
            c += 1
        if not _worse(hs[c], hf[c], hs[pos], hf[pos]):
            return
        hs[c], hs[pos] = hs[pos], hs[c]
        hf[c], hf[pos] = hf[pos], hf[c]
        pos = c


@_kernel
def _rank(scores, rows, log_probs, slack, K, M, top_s, top_f):
    """top_s/top_f[a]: row a's best M candidates, best first.  Returns the first bad value's flat index
    into log_probs (row-major), or -1 (then every row was ranked)."""
    V = log_probs.shape[1]
    hs = np.empty(M, np.float64)
    hf = np.empty(M, np.int64)
    for a in range(rows.size):
        r = rows[a]
        n = 0
        for k in range(K):
            sk = scores[r, k]
            x = log_probs[a * K + k]
            for v in range(V):
                xv = x[v]
                if not (xv <= slack):  # slack has log_probs' dtype: the comparison the other backends make
                    return (a * K + k) * V + v
                c = sk + (0.0 if xv > 0 else np.float64(xv))
                f = k * V + v
                if n < M:  # fill, sifting the new entry up
                    hs[n] = c
                    hf[n] = f
                    j = n
                    n += 1
                    while j > 0:
                        p = (j - 1) // 2
                        if not _worse(hs[j], hf[j], hs[p], hf[p]):
                            break
                        hs[j], hs[p] = hs[p], hs[j]
                        hf[j], hf[p] = hf[p], hf[j]
                        j = p
                elif c > hs[0]:  # candidates come in rising flat index: a higher score is the whole test
                    hs[0] = c
                    hf[0] = f
                    _sift_down(hs, hf, n, 0)
        m = n  # pop the worst to the back: best first
        while m > 0:
            top_s[a, m - 1] = hs[0]
            top_f[a, m - 1] = hf[0]
            m -= 1
            hs[0] = hs[m]
            hf[0] = hf[m]
            _sift_down(hs, hf, m, 0)
    return -1


@_kernel
def _offer(fs, fl, fn, ft, count, r, log_prob, n, length_norm, prefix, last):
    """Row r's best-first list of finished hypotheses takes (log_prob, n tokens: prefix[:n-1] then last)
    if it holds fewer than K or this one beats the worst."""
    K, L = fs.shape[1], ft.shape[2]
    objective = log_prob / length_norm[n - 1]
    c = count[r]
    p = 0
    while p < c and fs[r, p] >= objective:
        p += 1
    if p == K:
        return
    q = min(c, K - 1)
    while q > p:
        fs[r, q] = fs[r, q - 1]
        fl[r, q] = fl[r, q - 1]
        fn[r, q] = fn[r, q - 1]
        for t in range(L):
            ft[r, q, t] = ft[r, q - 1, t]
        q -= 1
    fs[r, p] = objective
    fl[r, p] = log_prob
    fn[r, p] = n
    for t in range(n - 1):
        ft[r, p, t] = prefix[t]
    ft[r, p, n - 1] = last
    for t in range(n, L):
        ft[r, p, t] = -1
    count[r] = min(c + 1, K)


@_kernel
def _advance(scores, tokens, fs, fl, ft, fn, count, done, rows, top_s, top_f, V, step, eos, length_norm, parents):
    K, L = scores.shape[1], tokens.shape[2]
    M = top_s.shape[1]
    future = 0.0
    for n in range(step + 1, L):
        future = max(future, length_norm[n])
    old = np.empty((K, L), np.int64)
    for a in range(rows.size):
        r = rows[a]
        old[:, :] = tokens[r]
        live = 0
        i = 0
        while i < M and live < K:
            k, v = top_f[a, i] // V, top_f[a, i] % V
            c = top_s[a, i]
            i += 1
            if v == eos:
                if c > -np.inf:
                    _offer(fs, fl, fn, ft, count, r, c, step + 1, length_norm, old[k], eos)
                continue
            scores[r, live] = c
            tokens[r, live, :] = old[k]
            tokens[r, live, step] = v
            parents[a, live] = a * K + k
            live += 1
        for j in range(live, K):
            scores[r, j] = -np.inf
            tokens[r, j, step] = -1
            parents[a, j] = a * K + j
        if step == L - 1:
            for j in range(live):
                if scores[r, j] > -np.inf:
                    _offer(fs, fl, fn, ft, count, r, scores[r, j], L, length_norm, tokens[r, j], tokens[r, j, L - 1])
            done[r] = True
            continue
        best = -np.inf
        for j in range(K):
            best = max(best, scores[r, j])
        if best == -np.inf or (count[r] == K and best / future <= fs[r, K - 1]):
            done[r] = True


@_kernel
def _gather(x, idx, out):
    for m in range(idx.size):
        src, dst = x[idx[m]], out[m]
        for e in range(src.size):
            dst[e] = src[e]


def beam_search_step(state, log_probs, rows, step, eos, length_norm):
    K = state.scores.shape[1]
    A, V = rows.size, log_probs.shape[1]
    parents = np.empty((A, K), np.int64)
    if A == 0:
        return parents
    M = min(2 * K, K * V)
    top_s = np.empty((A, M), np.float64)
    top_f = np.empty((A, M), np.int64)
    slack = log_probs.dtype.type(LOG_PROB_SLACK)
    if _rank(state.scores, rows, log_probs, slack, K, M, top_s, top_f) >= 0:
        check_log_probs(log_probs)  # the reference's message, for the value the scan stopped at
    s = state
    _advance(s.scores, s.tokens, s.fin_scores, s.fin_log_probs, s.fin_tokens, s.fin_lengths, s.fin_count, s.done,
             rows, top_s, top_f, V, step, eos, length_norm, parents)  # fmt: skip
    return parents


def gather_rows(x, idx):
    N, M = x.shape[0], idx.size
    R = int(np.prod(x.shape[1:], dtype=np.int64)) if x.ndim > 1 else 1
    out = np.empty((M, *x.shape[1:]), x.dtype)
    if M and R:
        _gather(x.reshape(N, R), idx, out.reshape(M, R))
    return out
