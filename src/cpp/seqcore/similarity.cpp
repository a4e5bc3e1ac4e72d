#include "similarity.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <vector>

#include "gemm.h"
#include "threads.h"

namespace seqcore {

namespace {

// Whether (sa, ia) ranks after (sb, ib): NaN last, then the lower score, then the higher id.
template <typename T>
inline bool worse(T sa, index_t ia, T sb, index_t ib) {
    if (sa != sa) return sb == sb || ia > ib;
    if (sb != sb) return false;
    return sa < sb || (sa == sb && ia > ib);
}

// A size-k heap with the worst entry at the root.
template <typename T>
struct TopK {
    T* s;
    index_t* i;
    index_t n = 0, k = 0;

    void sift_down(index_t pos, index_t size) {
        for (;;) {
            index_t c = 2 * pos + 1;
            if (c >= size) return;
            if (c + 1 < size && worse(s[c + 1], i[c + 1], s[c], i[c])) ++c;
            if (!worse(s[c], i[c], s[pos], i[pos])) return;
            std::swap(s[c], s[pos]);
            std::swap(i[c], i[pos]);
            pos = c;
        }
    }

    inline void push(T score, index_t id) {
        if (n < k) {
            index_t c = n++;
            s[c] = score;
            i[c] = id;
            while (c > 0) {
                const index_t p = (c - 1) / 2;
                if (!worse(s[c], i[c], s[p], i[p])) break;
                std::swap(s[c], s[p]);
                std::swap(i[c], i[p]);
                c = p;
            }
        } else if (worse(s[0], i[0], score, id)) {
            s[0] = score;
            i[0] = id;
            sift_down(0, n);
        }
    }

    // Writes the entries best first, padding to k with (-inf, -1); empties the heap.
    void drain(T* out_s, index_t* out_i) {
        for (index_t j = n; j < k; ++j) {
            out_s[j] = -std::numeric_limits<T>::infinity();
            out_i[j] = -1;
        }
        for (index_t m = n; m > 0;) {
            out_s[m - 1] = s[0];
            out_i[m - 1] = i[0];
            --m;
            s[0] = s[m];
            i[0] = i[m];
            sift_down(0, m);
        }
        n = 0;
    }
};

}  // namespace

template <typename T>
void topk_dot(index_t V, index_t E, index_t Q, index_t k, const T* matrix, const T* queries, const index_t* exclude,
              index_t X, int threads, T* scores, index_t* ids) {
    if (Q == 0 || k == 0) return;
    // Query block: up to 32 queries, fewer when k is large (their heaps are kept side by side);
    // V block: a [Qb,Vb] tile of about 2^22 multiply-adds (stays on Eigen, fits in L2 for small E).
    index_t Qb = std::max<index_t>(1, std::min<index_t>(32, (index_t(1) << 20) / k));
    const index_t per_thread = (Q + threads - 1) / std::max(threads, 1);
    Qb = std::min(Qb, std::max<index_t>(1, per_thread));
    const index_t Vb = std::min(V, std::max<index_t>(256, (index_t(1) << 22) / (Qb * std::max<index_t>(E, 1))));
    const index_t blocks = (Q + Qb - 1) / Qb;
    const int nt = static_cast<int>(std::max<index_t>(1, std::min<index_t>(threads, blocks)));

    // Every buffer is allocated here, on the calling thread (a bad_alloc becomes a MemoryError).
    struct Scratch {
        std::vector<T> tile, heap_s;
        std::vector<index_t> heap_i, ex;
        std::vector<index_t> ex_len;
        std::vector<TopK<T>> heaps;
    };
    std::vector<Scratch> scratch(static_cast<size_t>(nt));
    for (auto& w : scratch) {
        w.tile.resize(static_cast<size_t>(Qb * Vb));
        w.heap_s.resize(static_cast<size_t>(Qb * k));
        w.heap_i.resize(static_cast<size_t>(Qb * k));
        w.ex.resize(static_cast<size_t>(Qb * X));
        w.ex_len.resize(static_cast<size_t>(Qb));
        for (index_t r = 0; r < Qb; ++r) w.heaps.push_back(TopK<T>{w.heap_s.data() + r * k, w.heap_i.data() + r * k, 0, k});
    }

    auto work = [&](int t) {
        Scratch& w = scratch[static_cast<size_t>(t)];
        std::vector<TopK<T>>& heaps = w.heaps;
        for (index_t b = t; b < blocks; b += nt) {
            const index_t q0 = b * Qb, qn = std::min(Qb, Q - q0);
            for (index_t r = 0; r < qn; ++r) {  // this block's exclusions, sorted, padding dropped
                index_t* e = w.ex.data() + r * X;
                index_t n = 0;
                for (index_t x = 0; x < X; ++x)
                    if (exclude[(q0 + r) * X + x] >= 0) e[n++] = exclude[(q0 + r) * X + x];
                std::sort(e, e + n);
                w.ex_len[r] = n;
            }
            for (index_t v0 = 0; v0 < V; v0 += Vb) {
                const index_t vn = std::min(Vb, V - v0);
                T* tile = w.tile.data();
                if (E > 0)
                    gemm<T>(false, true, qn, vn, E, queries + q0 * E, E, matrix + v0 * E, E, false, tile, vn);
                else
                    std::fill(tile, tile + qn * vn, T(0));
                for (index_t r = 0; r < qn; ++r) {
                    TopK<T>& h = heaps[r];
                    const T* row = tile + r * vn;
                    const index_t* e = w.ex.data() + r * X;
                    const index_t ne = w.ex_len[r];
                    index_t p = std::lower_bound(e, e + ne, v0) - e;
                    index_t next_ex = p < ne ? e[p] : V;
                    for (index_t v = 0; v < vn; ++v) {
                        const index_t id = v0 + v;
                        if (id == next_ex) {
                            while (p < ne && e[p] == id) ++p;
                            next_ex = p < ne ? e[p] : V;
                            continue;
                        }
                        const T s = row[v];
                        // fast reject: a full heap whose worst is a number above s
                        if (h.n == k && s < h.s[0]) continue;
                        h.push(s, id);
                    }
                }
            }
            for (index_t r = 0; r < qn; ++r) heaps[r].drain(scores + (q0 + r) * k, ids + (q0 + r) * k);
        }
    };
    if (nt == 1) {
        work(0);
        return;
    }
    run_on_threads(nt, work);
}

#define SEQCORE_INSTANTIATE(T)                                                                                    \
    template void topk_dot<T>(index_t, index_t, index_t, index_t, const T*, const T*, const index_t*, index_t, int, \
                              T*, index_t*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
