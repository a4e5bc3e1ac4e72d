#include "attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include "activations.h"
#include "gemm.h"
#include "threads.h"

namespace seqcore {

std::uint64_t dropout_threshold(double p) {
    // p * 2^53 is exact (a power-of-two scaling); u = hash * 2^-53 >= p  <=>  hash >= ceil(p * 2^53).
    return static_cast<std::uint64_t>(std::ceil(p * 9007199254740992.0));
}

namespace {

// Tile sizes, chosen by measurement on the 2-core AVX2 build machine (docs/attention.md): 96 query rows are 16
// blocks of the small GEMM's 6 rows (64 left a 4-row block), and a [96,256] float score tile (96 KiB) with the
// K/V tiles it reads stays in L2 while the online softmax passes over it.
constexpr index_t kFwdQ = 96, kFwdK = 256;
constexpr index_t kBwdQ = 96, kBwdK = 128;

#ifdef EIGEN_VECTORIZE
constexpr index_t kPad = detail::kLanes;
#else
constexpr index_t kPad = 1;
#endif

static_assert(kFwdK % (2 * kPad) == 0, "key tiles must start on a strip of the packed k");

inline index_t round_up(index_t n, index_t m) { return (n + m - 1) / m * m; }

// Starting a thread costs 30-170 us here (more on a loaded machine); below about 4 MFLOP of score and value products
// per thread (~60 us) the extra threads cost more than they save.  A BERT layer at batch 1 x 32 tokens is 1.6 MFLOP.
constexpr double kMinFlopsPerThread = 4e6;

inline int useful_threads(int threads, index_t items, double flops) {
    const double by_work = std::max(1.0, flops / kMinFlopsPerThread);
    return static_cast<int>(std::max<index_t>(1, std::min<index_t>({static_cast<index_t>(threads), items,
                                                                     static_cast<index_t>(by_work)})));
}

template <typename T>
constexpr T neg_inf() {
    return -std::numeric_limits<T>::infinity();
}

// Largest value of a row of n entries (n a multiple of kPad for float); NaN if any entry is NaN.
template <typename T>
inline T row_max(const T* s, index_t n) {
#ifdef EIGEN_VECTORIZE
    if constexpr (std::is_same_v<T, float>) {
        namespace ei = Eigen::internal;
        detail::PacketF acc = ei::pset1<detail::PacketF>(neg_inf<float>());
        for (index_t c = 0; c < n; c += kPad)
            acc = ei::pmax<Eigen::PropagateNaN>(acc, ei::ploadu<detail::PacketF>(s + c));
        return ei::predux_max<Eigen::PropagateNaN>(acc);
    }
#endif
    T m = neg_inf<T>();
    for (index_t c = 0; c < n; ++c) m = (s[c] != s[c] || m != m) ? s[c] + m : std::max(m, s[c]);
    return m;
}

// s = exp(s - m) over a row of n entries (n a multiple of kPad for float); returns the sum when `sum` is set.
template <typename T, bool sum>
inline T exp_shifted(T* s, index_t n, T m) {
#ifdef EIGEN_VECTORIZE
    if constexpr (std::is_same_v<T, float>) {
        namespace ei = Eigen::internal;
        const detail::PacketF pm = ei::pset1<detail::PacketF>(m);
        detail::PacketF acc = ei::pzero(pm);
        for (index_t c = 0; c < n; c += kPad) {
            const detail::PacketF e = detail::exp_packet(ei::psub(ei::ploadu<detail::PacketF>(s + c), pm));
            ei::pstoreu(s + c, e);
            if constexpr (sum) acc = ei::padd(acc, e);
        }
        return sum ? ei::predux(acc) : 0.0f;
    }
#endif
    T acc = 0;
    for (index_t c = 0; c < n; ++c) {
        s[c] = std::exp(s[c] - m);
        if constexpr (sum) acc += s[c];
    }
    return acc;
}

// Sets the disallowed scores of a [qn, kn] tile (row stride ld), queries from i0 and keys from j0 of head (b, hh),
// to -inf.
template <typename T>
inline void apply_mask(T* S, index_t ld, index_t qn, index_t kn, index_t i0, index_t j0, index_t b, index_t hh,
                       const AttentionMask& am) {
    for (index_t r = 0; r < qn; ++r) {
        T* row = S + r * ld;
        const index_t i = i0 + r;
        index_t end = kn;
        if (am.causal) {  // keys j > i
            end = std::clamp<index_t>(i + 1 - j0, 0, kn);
            std::fill(row + end, row + kn, neg_inf<T>());
        }
        if (am.mask) {
            const index_t* st = am.strides;
            const std::uint8_t* m = am.mask + b * st[0] + hh * st[1] + i * st[2];
            if (st[3] == 0) {
                if (!m[0]) std::fill(row, row + end, neg_inf<T>());
            } else {
                m += j0;
                for (index_t c = 0; c < end; ++c)
                    if (!m[c]) row[c] = neg_inf<T>();
            }
        }
    }
}

// Whether any score of the tile may be disallowed (when not, apply_mask is skipped).
inline bool tile_masked(index_t kn, index_t i0, index_t j0, const AttentionMask& am) {
    return am.mask || (am.causal && j0 + kn - 1 > i0);
}

// dst[c, j] = src[j, c] for a [rows, cols] src (row stride cols) into dst with row stride ldd: the key tiles'
// products then read keys along a row (the small GEMM's fast form) instead of transposing per query tile.
template <typename T>
inline void transpose(const T* src, index_t rows, index_t cols, T* dst, index_t ldd) {
    constexpr index_t kBlock = 16;
    for (index_t j0 = 0; j0 < rows; j0 += kBlock) {
        const index_t jn = std::min(kBlock, rows - j0);
        for (index_t c = 0; c < cols; ++c) {
            T* d = dst + c * ldd + j0;
            const T* s = src + j0 * cols + c;
            for (index_t j = 0; j < jn; ++j) d[j] = s[j * cols];
        }
    }
}

struct Dropout {
    bool on;
    std::uint64_t threshold, seed;
    double inv_keep;
};

// Multiplies a row's kn entries by the dropout factor (0 or 1/(1-p)) of elements base + c.
template <typename T>
inline void drop_row(T* row, index_t kn, std::uint64_t base, const Dropout& dr) {
    const T keep = static_cast<T>(dr.inv_keep);
    for (index_t c = 0; c < kn; ++c)
        row[c] *= dropout_hash(dr.seed, base + static_cast<std::uint64_t>(c)) >= dr.threshold ? keep : T(0);
}

// Runs work(t) on n threads (inline for one); a std::bad_alloc in a worker (Eigen's packing buffers) is passed on
// to the caller once all have stopped.
template <typename F>
void run_workers(int n, F&& work) {
    std::atomic<bool> failed{false};
    auto guarded = [&](int t) {
        try {
            work(t);
        } catch (...) {
            failed = true;
        }
    };
    if (n <= 1)
        guarded(0);
    else
        run_on_threads(n, guarded);
    if (failed) throw std::bad_alloc();
}

}  // namespace

template <typename T>
void attention_forward(index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, const T* q, const T* k,
                       const T* v, const std::uint8_t* mask, const index_t* mask_strides, bool causal, double scale,
                       double dropout, std::uint64_t seed, int threads, T* out, T* lse) {
    const index_t BH = B * h;
    if (BH == 0 || Lq == 0) return;
    const AttentionMask am{mask, mask_strides, causal};
    const Dropout dr{dropout > 0.0, dropout_threshold(dropout), seed, 1.0 / (1.0 - dropout)};
    const index_t Bq = std::min(kFwdQ, Lq), Bk = std::max<index_t>(1, std::min(kFwdK, Lk));
    const index_t ldS = round_up(Bk, kPad);
    const index_t qtiles = (Lq + Bq - 1) / Bq, items = BH * qtiles;
    const int nt = useful_threads(threads, items, 2.0 * static_cast<double>(BH * Lq * Lk) * static_cast<double>(Dh + Dv));

    struct Scratch {
        std::vector<T> S, acc, m, l, Kt;  // Kt: k of head `head`, packed in strips
        index_t head = -1;
    };
    std::vector<Scratch> scratch(static_cast<size_t>(nt));
    // k of the head in hand, packed as the score product reads it: strips of NS keys, each [Dh, NS] contiguous
    // (NS = the small GEMM's strip width for float).  Read in place from a [Dh, Lk] transpose, a strip's rows would
    // be Lk apart, on as many pages (5% slower at Lk = 2048); k itself would need a transposition per query tile.
    constexpr index_t NS = 2 * kPad;
    const index_t ldKt = round_up(Lk, NS);
    for (auto& w : scratch) {
        w.Kt.resize(static_cast<size_t>(Dh * ldKt));
        w.S.resize(static_cast<size_t>(Bq * ldS));
        w.acc.resize(static_cast<size_t>(Bq * Dv));
        w.m.resize(static_cast<size_t>(Bq));
        w.l.resize(static_cast<size_t>(Bq));
    }
    std::atomic<index_t> next{0};
    const T alpha_s = static_cast<T>(scale);

    auto work = [&](int t) {
        Scratch& w = scratch[static_cast<size_t>(t)];
        T* S = w.S.data();
        T* acc = w.acc.data();
        T* m = w.m.data();
        T* l = w.l.data();
        for (index_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const index_t bh = item / qtiles, i0 = (item % qtiles) * Bq, qn = std::min(Bq, Lq - i0);
            const index_t b = bh / h, hh = bh % h;
            const T* Q = q + (bh * Lq + i0) * Dh;
            const T* V = v + bh * Lk * Dv;
            if (w.head != bh) {  // items come head by head: a thread packs each head's k about once
                const T* K = k + bh * Lk * Dh;
                T* Kp = w.Kt.data();
                for (index_t s0 = 0; s0 < Lk; s0 += NS) {
                    const index_t sn = std::min(NS, Lk - s0);
                    T* dst = Kp + s0 * Dh;
                    for (index_t c = 0; c < Dh; ++c) {
                        for (index_t j = 0; j < sn; ++j) dst[c * NS + j] = K[(s0 + j) * Dh + c];
                        for (index_t j = sn; j < NS; ++j) dst[c * NS + j] = T(0);
                    }
                }
                w.head = bh;
            }
            std::fill(m, m + qn, neg_inf<T>());
            std::fill(l, l + qn, T(0));
            std::fill(acc, acc + qn * Dv, T(0));
            const index_t jend = causal ? std::min(Lk, i0 + qn) : Lk;
            for (index_t j0 = 0; j0 < jend; j0 += Bk) {
                const index_t kn = std::min(Bk, jend - j0), kp = round_up(kn, kPad);
                for (index_t s0 = 0; s0 < kn; s0 += NS)
                    gemm_serial<T>(false, false, qn, std::min(NS, kn - s0), Dh, alpha_s, Q, Dh,
                                   w.Kt.data() + (j0 + s0) * Dh, NS, false, S + s0, ldS);
                if (kp > kn)
                    for (index_t r = 0; r < qn; ++r) std::fill(S + r * ldS + kn, S + r * ldS + kp, neg_inf<T>());
                if (tile_masked(kn, i0, j0, am)) apply_mask(S, ldS, qn, kn, i0, j0, b, hh, am);
                for (index_t r = 0; r < qn; ++r) {
                    T* row = S + r * ldS;
                    // NaN propagates (a NaN score makes the row NaN; std::max alone would drop it).
                    const T tile_max = row_max(row, kp);
                    const T m_new = tile_max != tile_max ? tile_max : std::max(m[r], tile_max);
                    if (m_new == neg_inf<T>()) {  // nothing to attend so far: P = 0, nothing to rescale
                        std::fill(row, row + kn, T(0));
                        continue;
                    }
                    const T sum = exp_shifted<T, true>(row, kp, m_new);
                    if (m_new != m[r]) {
                        const T alpha = std::exp(m[r] - m_new);  // 0 when m was -inf
                        l[r] *= alpha;
                        T* a = acc + r * Dv;
                        for (index_t c = 0; c < Dv; ++c) a[c] *= alpha;
                        m[r] = m_new;
                    }
                    l[r] += sum;
                    if (dr.on)
                        drop_row(row, kn, static_cast<std::uint64_t>((bh * Lq + i0 + r) * Lk + j0), dr);
                }
                gemm_serial<T>(false, false, qn, Dv, kn, T(1), S, ldS, V + j0 * Dv, Dv, true, acc, Dv);
            }
            for (index_t r = 0; r < qn; ++r) {
                T* o = out + (bh * Lq + i0 + r) * Dv;
                const T* a = acc + r * Dv;
                if (l[r] != T(0)) {  // NaN included: a NaN row stays NaN, lse too
                    const T inv = T(1) / l[r];
                    for (index_t c = 0; c < Dv; ++c) o[c] = a[c] * inv;
                    lse[bh * Lq + i0 + r] = m[r] + std::log(l[r]);
                } else {
                    std::fill(o, o + Dv, T(0));
                    lse[bh * Lq + i0 + r] = neg_inf<T>();
                }
            }
        }
    };
    run_workers(nt, work);
}

template <typename T>
void attention_backward(index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, const T* q, const T* k,
                        const T* v, const T* out, const T* lse, const T* dout, const std::uint8_t* mask,
                        const index_t* mask_strides, bool causal, double scale, double dropout, std::uint64_t seed,
                        int threads, T* dq, T* dk, T* dv) {
    const index_t BH = B * h;
    if (BH == 0) return;
    std::fill(dq, dq + BH * Lq * Dh, T(0));
    std::fill(dk, dk + BH * Lk * Dh, T(0));
    std::fill(dv, dv + BH * Lk * Dv, T(0));
    if (Lq == 0 || Lk == 0) return;
    const AttentionMask am{mask, mask_strides, causal};
    const Dropout dr{dropout > 0.0, dropout_threshold(dropout), seed, 1.0 / (1.0 - dropout)};
    const index_t Bq = std::min(kBwdQ, Lq), Bk = std::min(kBwdK, Lk);
    const index_t ldS = round_up(Bk, kPad);
    const index_t ktiles = (Lk + Bk - 1) / Bk;
    // Fewer (b, hh) pairs than threads: each pair's key tiles are shared out, every share with its own dq.
    const double flops = 4.0 * static_cast<double>(BH * Lq * Lk) * static_cast<double>(Dh + Dv);
    threads = useful_threads(threads, BH * ktiles, flops);
    const index_t shares = BH >= threads ? 1 : std::min<index_t>(ktiles, (threads + BH - 1) / BH);
    const index_t items = BH * shares;
    const int nt = static_cast<int>(std::max<index_t>(1, std::min<index_t>(threads, items)));

    struct Scratch {
        std::vector<T> P, Pd, dP, D, Kt, Vt;  // Kt [Dh, Bk], Vt [Dv, Bk]: the key tile's k and v transposed
    };
    std::vector<Scratch> scratch(static_cast<size_t>(nt));
    for (auto& w : scratch) {
        w.Kt.resize(static_cast<size_t>(Dh * Bk));
        w.Vt.resize(static_cast<size_t>(Dv * Bk));
        w.P.resize(static_cast<size_t>(Bq * ldS));
        if (dr.on) w.Pd.resize(static_cast<size_t>(Bq * ldS));
        w.dP.resize(static_cast<size_t>(Bq * ldS));
        w.D.resize(static_cast<size_t>(Lq));
    }
    std::vector<T> dq_shares(shares > 1 ? static_cast<size_t>(items * Lq * Dh) : 0);
    std::atomic<index_t> next{0};
    const T sc = static_cast<T>(scale);
    const T keep = static_cast<T>(dr.inv_keep);

    auto work = [&](int t) {
        Scratch& w = scratch[static_cast<size_t>(t)];
        T* P = w.P.data();
        T* dP = w.dP.data();
        T* Pd = dr.on ? w.Pd.data() : P;
        T* D = w.D.data();
        for (index_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const index_t bh = item / shares, share = item % shares;
            const index_t b = bh / h, hh = bh % h;
            const T* Q = q + bh * Lq * Dh;
            const T* K = k + bh * Lk * Dh;
            const T* V = v + bh * Lk * Dv;
            const T* dO = dout + bh * Lq * Dv;
            const T* L = lse + bh * Lq;
            T* dQ = shares > 1 ? dq_shares.data() + item * Lq * Dh : dq + bh * Lq * Dh;
            for (index_t i = 0; i < Lq; ++i) {
                const T* o = out + (bh * Lq + i) * Dv;
                const T* g = dO + i * Dv;
                T s = 0;
                for (index_t c = 0; c < Dv; ++c) s += o[c] * g[c];
                D[i] = s;
            }
            // This share's key tiles: an even split of the tile range.
            const index_t kt0 = ktiles * share / shares, kt1 = ktiles * (share + 1) / shares;
            for (index_t kt = kt0; kt < kt1; ++kt) {
                const index_t j0 = kt * Bk, kn = std::min(Bk, Lk - j0), kp = round_up(kn, kPad);
                const T* Kj = K + j0 * Dh;
                const T* Vj = V + j0 * Dv;
                T* dKj = dk + (bh * Lk + j0) * Dh;
                T* dVj = dv + (bh * Lk + j0) * Dv;
                transpose(Kj, kn, Dh, w.Kt.data(), kn);
                transpose(Vj, kn, Dv, w.Vt.data(), kn);
                // Causal: query tiles wholly before key j0 see none of this tile.
                const index_t istart = causal ? (std::min(j0, Lq) / Bq) * Bq : 0;
                for (index_t i0 = istart; i0 < Lq; i0 += Bq) {
                    const index_t qn = std::min(Bq, Lq - i0);
                    gemm_serial<T>(false, false, qn, kn, Dh, sc, Q + i0 * Dh, Dh, w.Kt.data(), kn, false, P, ldS);
                    if (tile_masked(kn, i0, j0, am)) apply_mask(P, ldS, qn, kn, i0, j0, b, hh, am);
                    for (index_t r = 0; r < qn; ++r) {
                        T* row = P + r * ldS;
                        const T m = L[i0 + r];
                        if (m == neg_inf<T>()) {  // a query with nothing to attend: no gradient
                            std::fill(row, row + kp, T(0));
                            if (dr.on) std::fill(Pd + r * ldS, Pd + r * ldS + kn, T(0));
                            continue;
                        }
                        if (kp > kn) std::fill(row + kn, row + kp, neg_inf<T>());
                        exp_shifted<T, false>(row, kp, m);
                        if (dr.on) {
                            std::copy(row, row + kn, Pd + r * ldS);
                            drop_row(Pd + r * ldS, kn, static_cast<std::uint64_t>((bh * Lq + i0 + r) * Lk + j0), dr);
                        }
                    }
                    gemm_serial<T>(true, false, kn, Dv, qn, T(1), Pd, ldS, dO + i0 * Dv, Dv, true, dVj, Dv);
                    gemm_serial<T>(false, false, qn, kn, Dv, T(1), dO + i0 * Dv, Dv, w.Vt.data(), kn, false, dP, ldS);
                    for (index_t r = 0; r < qn; ++r) {
                        const T* p = P + r * ldS;
                        T* g = dP + r * ldS;
                        const T Di = D[i0 + r];
                        if (dr.on) {
                            const std::uint64_t base = static_cast<std::uint64_t>((bh * Lq + i0 + r) * Lk + j0);
                            for (index_t c = 0; c < kn; ++c) {
                                const T z = dropout_hash(dr.seed, base + static_cast<std::uint64_t>(c)) >= dr.threshold
                                                ? keep
                                                : T(0);
                                g[c] = sc * p[c] * (g[c] * z - Di);
                            }
                        } else {
                            for (index_t c = 0; c < kn; ++c) g[c] = sc * p[c] * (g[c] - Di);
                        }
                    }
                    gemm_serial<T>(false, false, qn, Dh, kn, T(1), dP, ldS, Kj, Dh, true, dQ + i0 * Dh, Dh);
                    gemm_serial<T>(true, false, kn, Dh, qn, T(1), dP, ldS, Q + i0 * Dh, Dh, true, dKj, Dh);
                }
            }
        }
    };
    if (shares > 1) std::fill(dq_shares.begin(), dq_shares.end(), T(0));
    run_workers(nt, work);
    if (shares > 1)
        for (index_t bh = 0; bh < BH; ++bh) {
            T* dst = dq + bh * Lq * Dh;
            for (index_t s = 0; s < shares; ++s) {
                const T* src = dq_shares.data() + (bh * shares + s) * Lq * Dh;
                for (index_t c = 0; c < Lq * Dh; ++c) dst[c] += src[c];
            }
        }
}

#define SEQCORE_INSTANTIATE(T)                                                                                        \
    template void attention_forward<T>(index_t, index_t, index_t, index_t, index_t, index_t, const T*, const T*,     \
                                       const T*, const std::uint8_t*, const index_t*, bool, double, double, std::uint64_t,  \
                                       int, T*, T*);                                                                  \
    template void attention_backward<T>(index_t, index_t, index_t, index_t, index_t, index_t, const T*, const T*,    \
                                        const T*, const T*, const T*, const T*, const std::uint8_t*, const index_t*, bool,  \
                                        double, double, std::uint64_t, int, T*, T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
