#include "beam.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "threads.h"

namespace seqcore {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// The scan's chunk (tested whole by one vectorized pass) and block (tested again inside a chunk that passed).
constexpr index_t kChunk = 128, kBlock = 8;

struct Cand {
    double score;
    index_t flat;  // k*V + v within the row
};

// Whether a ranks after b: the lower score, or the same score and the higher flat index.
inline bool worse(const Cand& a, const Cand& b) { return a.score < b.score || (a.score == b.score && a.flat > b.flat); }

// The best `cap` candidates seen, in a heap with the worst at the root.
struct Best {
    Cand* h = nullptr;
    index_t n = 0, cap = 0;

    void sift_down(index_t pos) {
        for (;;) {
            index_t c = 2 * pos + 1;
            if (c >= n) return;
            if (c + 1 < n && worse(h[c + 1], h[c])) ++c;
            if (!worse(h[c], h[pos])) return;
            std::swap(h[c], h[pos]);
            pos = c;
        }
    }

    void push(const Cand& x) {  // while n < cap
        index_t c = n++;
        h[c] = x;
        while (c > 0) {
            const index_t p = (c - 1) / 2;
            if (!worse(h[c], h[p])) return;
            std::swap(h[c], h[p]);
            c = p;
        }
    }

    // x beats the root: candidates arrive in rising flat index, so a score above the root's is
    // the whole test (an equal score has the higher index and ranks after).
    void replace_root(const Cand& x) {
        h[0] = x;
        sift_down(0);
    }
};

template <typename T>
inline bool bad_value(T x) {
    return !(x <= static_cast<T>(kLogProbSlack));  // also +inf and NaN
}

// A log-prob as the search adds it: the slack above 0 read as 0.
template <typename T>
inline double value(T x) {
    return x > T(0) ? 0.0 : static_cast<double>(x);
}

// min(0, the largest T <= floor - sk exactly): floor - sk rounded down, then to T rounded down, so
// x <= it makes sk + x <= floor exactly, hence in double too (rounding is monotone).
template <typename T>
inline T reject_limit(double floor, double sk) {
    const double d = std::nextafter(floor - sk, kNegInf);
    if (!(d < 0.0)) return T(0);
    if (d < static_cast<double>(std::numeric_limits<T>::lowest())) return -std::numeric_limits<T>::infinity();
    T t = static_cast<T>(d);
    if (static_cast<double>(t) > d) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
    return t;
}

// GCC/Clang vector types of 32 bytes: 8 floats or 4 doubles (lowered to narrower vectors where AVX is missing).
template <typename T>
struct Lanes {
    typedef T type __attribute__((vector_size(32)));
    static constexpr int n = 32 / sizeof(T);
};

// The largest of x[0, n) (n a multiple of the lane count), or false when one of them is bad.
template <typename T>
inline bool chunk_max(const T* x, index_t n, T& out) {
    using Vec = typename Lanes<T>::type;
    constexpr int W = Lanes<T>::n;
    Vec m, a, slack;
    for (int l = 0; l < W; ++l) slack[l] = static_cast<T>(kLogProbSlack);
    std::memcpy(&m, x, sizeof(Vec));
    auto bad = !(m <= slack);
    for (index_t i = W; i < n; i += W) {
        std::memcpy(&a, x + i, sizeof(Vec));
        m = a > m ? a : m;
        bad |= !(a <= slack);
    }
    T r = m[0];
    bool any = bad[0] != 0;
    for (int l = 1; l < W; ++l) {
        r = m[l] > r ? m[l] : r;
        any |= bad[l] != 0;
    }
    out = r;
    return !any;
}

// Beam 0 (the best live beam after the first step) first, seeding the heap: the score u of each chunk's
// largest value is an upper bound of the chunk's candidates and is itself a candidate, so with M = the
// heap's size, no candidate of a chunk whose u is below the M-th largest u can be among the best M.  Only
// the other chunks are scanned (in order, so ties still go to the lower index), and the heap starts near
// its final floor: the other beams' chunks are then rejected whole with few exceptions (a heap filled from
// beam 0's first values instead improves some 70 times a row, each time on a slow path).  Returns false,
// having done nothing, where this does not pay or cannot be done (a bad value: the scan proper finds it).
template <typename T>
bool seed_first_beam(index_t K, index_t V, const double* score, const T* lp, Best& best, double* u) {
    constexpr index_t C = kChunk;
    const index_t chunks = V / C, M = best.cap;
    if (K < 2 || chunks < 2 * M || !(score[0] > kNegInf) || best.n != 0) return false;
    for (index_t j = 0; j < chunks; ++j) {
        T m;
        if (!chunk_max(lp + j * C, C, m)) return false;
        u[j] = score[0] + value(m);
    }
    double* tmp = u + chunks;
    std::copy(u, u + chunks, tmp);
    std::nth_element(tmp, tmp + (M - 1), tmp + chunks, [](double a, double b) { return a > b; });
    const double floor = tmp[M - 1];
    if (!(floor > kNegInf)) return false;
    auto offer_candidate = [&](index_t v) {
        const double c = score[0] + value(lp[v]);
        if (best.n < best.cap)
            best.push({c, v});
        else if (c > best.h[0].score)
            best.replace_root({c, v});
    };
    for (index_t j = 0; j < chunks; ++j)
        if (u[j] >= floor)
            for (index_t v = j * C; v < (j + 1) * C; ++v) offer_candidate(v);
    for (index_t v = chunks * C; v < V; ++v) {
        if (bad_value(lp[v])) {  // undo: the scan proper starts over and reports it
            best.n = 0;
            return false;
        }
        offer_candidate(v);
    }
    return true;
}

// Scans one row's K*V candidates into `best`; returns the flat index of its first bad value, or -1.
template <typename T>
index_t scan_row(index_t K, index_t V, const double* score, const T* lp, Best& best, double* chunk_scores) {
    // Chunks are first tested whole against one limit in T (one compare per value, which the compiler
    // vectorizes): no value above min(limit, 0) can enter the heap or be bad, which is nearly every chunk
    // once the heap holds good candidates.  A chunk that passes is tested again by blocks of S, and only
    // the values above the limit of a block that passes are looked at one by one.  The limit is brought
    // up to date after a chunk that improved the heap: a stale one is lower, so it only passes more.
    constexpr index_t C = kChunk, S = kBlock;
    const index_t k0 = seed_first_beam<T>(K, V, score, lp, best, chunk_scores) ? 1 : 0;
    for (index_t k = k0; k < K; ++k) {
        const double sk = score[k];
        const T* x = lp + k * V;
        const index_t base = k * V;
        index_t v = 0;
        for (; v < V && best.n < best.cap; ++v) {
            if (bad_value(x[v])) return base + v;
            best.push({sk + value(x[v]), base + v});
        }
        if (v == V) continue;
        // sk = -inf: every candidate is -inf and loses to the full heap (its root is at least -inf and
        // has a lower index), so only bad values matter.
        const bool dead = sk == kNegInf;
        T lim = dead ? T(0) : reject_limit<T>(best.h[0].score, sk);
        bool improved = false;
        // The value at i against the heap; false when it is bad.  A block that passed holds values at or
        // below the limit too: they are skipped at once.
        auto look = [&](index_t i) -> bool {
            const T xi = x[i];
            if (xi <= lim) return true;
            if (bad_value(xi)) return false;
            const double c = sk + value(xi);
            if (!dead && c > best.h[0].score) {
                best.replace_root({c, base + i});
                improved = true;
            }
            return true;
        };
        for (; v + C <= V; v += C) {
            if (improved) {
                lim = reject_limit<T>(best.h[0].score, sk);
                improved = false;
            }
            const T l = lim;  // a local copy: x might alias `lim`, which would keep the loop scalar
            int flag = 0;
            for (index_t i = 0; i < C; ++i) flag |= !(x[v + i] <= l);
            if (!flag) continue;
            for (index_t b = v; b < v + C; b += S) {
                int hit = 0;
                for (index_t i = 0; i < S; ++i) hit |= !(x[b + i] <= l);
                if (!hit) continue;
                for (index_t i = b; i < b + S; ++i)
                    if (!look(i)) return base + i;
            }
        }
        for (; v < V; ++v)
            if (!look(v)) return base + v;
    }
    return -1;
}

// Offers a finished hypothesis to row r's best-first list: n tokens, prefix[0, n-1) then `last`.
void offer(BeamState& s, index_t r, double log_prob, index_t n, const double* length_norm, const index_t* prefix,
           index_t last) {
    const index_t K = s.K, L = s.L;
    const double objective = log_prob / length_norm[n - 1];
    const index_t count = s.fin_count[r];
    double* fs = s.fin_scores + r * K;
    index_t p = 0;
    while (p < count && fs[p] >= objective) ++p;  // ties: the one found first stays ahead
    if (p == K) return;
    double* fl = s.fin_log_probs + r * K;
    index_t* fn = s.fin_lengths + r * K;
    index_t* ft = s.fin_tokens + r * K * L;
    for (index_t q = std::min(count, K - 1); q-- > p;) {  // make room, the worst falling off a full list
        fs[q + 1] = fs[q];
        fl[q + 1] = fl[q];
        fn[q + 1] = fn[q];
        std::memcpy(ft + (q + 1) * L, ft + q * L, sizeof(index_t) * static_cast<size_t>(L));
    }
    fs[p] = objective;
    fl[p] = log_prob;
    fn[p] = n;
    index_t* row = ft + p * L;
    std::memcpy(row, prefix, sizeof(index_t) * static_cast<size_t>(n - 1));
    row[n - 1] = last;
    std::fill(row + n, row + L, index_t(-1));
    s.fin_count[r] = std::min(count + 1, K);
}

// The walk of row r (position a) over its ranked candidates `top` [M]; old: [K,L] scratch.
void advance_row(BeamState& s, index_t r, index_t a, const Cand* top, index_t M, index_t V, index_t step,
                 index_t eos, const double* length_norm, double future_norm, index_t* old, index_t* parents) {
    const index_t K = s.K, L = s.L;
    double* score = s.scores + r * K;
    index_t* tokens = s.tokens + r * K * L;
    std::memcpy(old, tokens, sizeof(index_t) * static_cast<size_t>(K * L));
    index_t live = 0;
    for (index_t i = 0; i < M && live < K; ++i) {
        const index_t k = top[i].flat / V, v = top[i].flat % V;
        if (v == eos) {
            if (top[i].score > kNegInf) offer(s, r, top[i].score, step + 1, length_norm, old + k * L, eos);
            continue;
        }
        score[live] = top[i].score;
        std::memcpy(tokens + live * L, old + k * L, sizeof(index_t) * static_cast<size_t>(L));
        tokens[live * L + step] = v;
        parents[a * K + live] = a * K + k;
        ++live;
    }
    for (index_t j = live; j < K; ++j) {  // its own old row is still in place
        score[j] = kNegInf;
        tokens[j * L + step] = -1;
        parents[a * K + j] = a * K + j;
    }
    if (step == L - 1) {
        for (index_t j = 0; j < live; ++j)
            if (score[j] > kNegInf) offer(s, r, score[j], L, length_norm, tokens + j * L, tokens[j * L + L - 1]);
        s.done[r] = 1;
        return;
    }
    double best = kNegInf;
    for (index_t j = 0; j < K; ++j) best = std::max(best, score[j]);
    if (best == kNegInf || (s.fin_count[r] == K && best / future_norm <= s.fin_scores[r * K + K - 1])) s.done[r] = 1;
}

}  // namespace

template <typename T>
BadLogProb beam_search_step(BeamState& s, index_t A, index_t V, const T* log_probs, const index_t* rows,
                            index_t step, index_t eos, const double* length_norm, int threads, index_t* parents) {
    BadLogProb bad;
    const index_t K = s.K;
    if (A == 0) return bad;
    const index_t M = std::min(2 * K, K * V);
    // Scratch is allocated here, on the calling thread (a bad_alloc becomes a MemoryError).
    std::vector<Cand> top(static_cast<size_t>(A * M));
    std::vector<index_t> first_bad(static_cast<size_t>(A), -1);
    const size_t chunk_room = static_cast<size_t>(2 * (V / kChunk));  // seed_first_beam's chunk scores
    // A thread costs tens of microseconds to start, and the scan is bound by memory: each thread gets
    // at least 2**21 candidates (some 0.4 ms of scanning), and a step of the usual size stays on one
    // (on a busy machine a second thread waiting for a core made steps slower, not faster).
    const index_t work = A * K * V;
    const int nt = static_cast<int>(std::max<index_t>(1, std::min<index_t>({threads, A, work >> 21})));
    std::vector<double> chunk_scores(chunk_room * static_cast<size_t>(nt));
    auto scan = [&](int t) {
        for (index_t a = t; a < A; a += nt) {
            Best best{top.data() + a * M, 0, M};
            first_bad[a] = scan_row(K, V, s.scores + rows[a] * K, log_probs + a * K * V, best,
                                    chunk_scores.data() + chunk_room * static_cast<size_t>(t));
            if (first_bad[a] < 0)  // best first; flat indices are unique, so the order is total
                std::sort(best.h, best.h + M, [](const Cand& x, const Cand& y) { return worse(y, x); });
        }
    };
    if (nt == 1)
        scan(0);
    else
        run_on_threads(nt, scan);
    for (index_t a = 0; a < A; ++a)
        if (first_bad[a] >= 0) {
            bad.row = a * K + first_bad[a] / V;
            bad.col = first_bad[a] % V;
            bad.value = static_cast<double>(log_probs[bad.row * V + bad.col]);
            return bad;
        }
    double future_norm = 0.0;  // the largest divisor a live beam may still finish under
    for (index_t n = step + 1; n < s.L; ++n) future_norm = std::max(future_norm, length_norm[n]);
    std::vector<index_t> old(static_cast<size_t>(K * s.L));
    for (index_t a = 0; a < A; ++a)
        advance_row(s, rows[a], a, top.data() + a * M, M, V, step, eos, length_norm, future_norm, old.data(), parents);
    return bad;
}

template <typename T>
void gather_rows(index_t N, index_t R, index_t M, const T* x, const index_t* idx, int threads, T* out) {
    (void)N;
    if (M == 0 || R == 0) return;
    const size_t row_bytes = sizeof(T) * static_cast<size_t>(R);
    // Threads only for copies of several megabytes: below that, starting them costs more.
    const index_t bytes = M * R * static_cast<index_t>(sizeof(T));
    const int nt = static_cast<int>(std::max<index_t>(1, std::min<index_t>({threads, M, bytes >> 22})));
    auto copy = [&](int t) {
        const index_t lo = M * t / nt, hi = M * (t + 1) / nt;
        for (index_t m = lo; m < hi; ++m) std::memcpy(out + m * R, x + idx[m] * R, row_bytes);
    };
    if (nt == 1)
        copy(0);
    else
        run_on_threads(nt, copy);
}

#define SEQCORE_INSTANTIATE(T)                                                                                     \
    template BadLogProb beam_search_step<T>(BeamState&, index_t, index_t, const T*, const index_t*, index_t, index_t, \
                                            const double*, int, index_t*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

template void gather_rows<float>(index_t, index_t, index_t, const float*, const index_t*, int, float*);
template void gather_rows<double>(index_t, index_t, index_t, const double*, const index_t*, int, double*);
template void gather_rows<index_t>(index_t, index_t, index_t, const index_t*, const index_t*, int, index_t*);

}  // namespace seqcore
