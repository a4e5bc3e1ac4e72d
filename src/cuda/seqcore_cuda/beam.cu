#include "beam.h"

#include <math_constants.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "gemm.h"

namespace seqcore {
namespace cuda {

namespace {

constexpr index_t kNone = std::numeric_limits<index_t>::max();  // no id / no bad value (loses every min)
constexpr unsigned kNoId = 0xFFFFFFFFu;                          // an empty place of a thread's list
constexpr unsigned kFull = 0xFFFFFFFFu;
constexpr int kScanThreads = 256;
constexpr int kMaxC = 32;       // the most places a thread's list holds (registers: 3 words a place)
constexpr int kMaxParts = 32;   // blocks per row: one warp merges their lists, a lane each
constexpr int kMergeWarps = 4;  // rows merged per block of the merge kernel
constexpr int kAdvanceThreads = 256;
constexpr index_t kMinChunk = 4096;      // candidates a scan block gets at least (16 a thread)
constexpr index_t kTargetBlocks = 512;   // some 4 blocks per SM of an H100 before rows are split further
constexpr index_t kMaxChunk = index_t(1) << 31;  // a chunk's offsets are 32-bit
constexpr index_t kSmallK = 32;          // up to this beam width the walk's scratch is in shared memory
constexpr std::size_t kTileBytes = std::size_t(64) << 20;  // topk_dot's score tile (and mask) per query block

// ---------------------------------------------------------------- orders

// Beam candidates: the higher score first, ties by the lower id.  Scores are never NaN (a NaN
// log-prob makes the step fail, and NaN never enters a list: every comparison with it is false).
struct ScoreOrder {
    __device__ __forceinline__ static double worst() { return -CUDART_INF; }
    template <typename I>
    __device__ __forceinline__ static bool better(double a, I ia, double b, I ib) {
        return a > b || (a == b && ia < ib);
    }
};

// topk_dot's order: NaN after every number (the NaNs among themselves by id), then as above.
struct NanLastOrder {
    __device__ __forceinline__ static double worst() { return CUDART_NAN; }
    template <typename I>
    __device__ __forceinline__ static bool better(double a, I ia, double b, I ib) {
        const bool na = a != a, nb = b != b;
        if (na || nb) return na ? (nb && ia < ib) : true;
        return a > b || (a == b && ia < ib);
    }
};

// An empty place (worst(), the largest id) loses to every real candidate, -inf and NaN included.

// ---------------------------------------------------------------- selection core

// The best C candidates a thread has seen, best first, in registers (fully unrolled: no local memory).
template <int C, class Ord>
struct ThreadList {
    double s[C];
    unsigned id[C];

    __device__ __forceinline__ void init() {
#pragma unroll
        for (int j = 0; j < C; ++j) {
            s[j] = Ord::worst();
            id[j] = kNoId;
        }
    }

    __device__ __forceinline__ void offer(double x, unsigned i) {
        if (!Ord::better(x, i, s[C - 1], id[C - 1])) return;
        s[C - 1] = x;
        id[C - 1] = i;
#pragma unroll
        for (int j = C - 1; j > 0; --j) {
            if (Ord::better(s[j], id[j], s[j - 1], id[j - 1])) {
                const double ts = s[j];
                s[j] = s[j - 1];
                s[j - 1] = ts;
                const unsigned ti = id[j];
                id[j] = id[j - 1];
                id[j - 1] = ti;
            }
        }
    }

    __device__ __forceinline__ void pop() {
#pragma unroll
        for (int j = 0; j + 1 < C; ++j) {
            s[j] = s[j + 1];
            id[j] = id[j + 1];
        }
        s[C - 1] = Ord::worst();
        id[C - 1] = kNoId;
    }
};

// Every lane ends with the best of the warp's (s, id), and the lane it came from: equal entries
// (only empty places are equal) go to the lower lane, so exactly one lane is named.
template <class Ord, typename I>
__device__ __forceinline__ void warp_best(double& s, I& id, int& lane) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        const double os = __shfl_xor_sync(kFull, s, off);
        const I oi = __shfl_xor_sync(kFull, id, off);
        const int ol = __shfl_xor_sync(kFull, lane, off);
        if (Ord::better(os, oi, s, id) || (!Ord::better(s, id, os, oi) && ol < lane)) {
            s = os;
            id = oi;
            lane = ol;
        }
    }
}

__device__ __forceinline__ long long warp_min(long long v) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v = min(v, __shfl_xor_sync(kFull, v, off));
    return v;
}

// The block's minimum, returned to every thread (every thread must call it).
__device__ long long block_min(long long v) {
    __shared__ long long part[32];
    __shared__ long long result;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_min(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_min(lane < nw ? part[lane] : kNone);
        if (lane == 0) result = v;
    }
    __syncthreads();
    return result;
}

// The block's best C from its threads' lists (each best first) into out_s/out_i [C], best first, the
// ids made global (base + local); empty places come out with id kNone.  Every warp merges its 32 lists
// (C rounds of a warp argmax, the winner popping its head), then warp 0 merges the warps' lists.
template <int C, class Ord>
__device__ void block_top(ThreadList<C, Ord>& list, double* out_s, index_t* out_i, index_t base) {
    __shared__ double wl_s[kScanThreads / 32 * C];
    __shared__ unsigned wl_i[kScanThreads / 32 * C];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int r = 0; r < C; ++r) {
        double bs = list.s[0];
        unsigned bi = list.id[0];
        int bl = lane;
        warp_best<Ord>(bs, bi, bl);
        if (lane == 0) {
            wl_s[warp * C + r] = bs;
            wl_i[warp * C + r] = bi;
        }
        if (lane == bl) list.pop();
    }
    __syncthreads();
    if (warp != 0) return;
    int ptr = 0;
    for (int r = 0; r < C; ++r) {
        double bs = Ord::worst();
        unsigned bi = kNoId;
        if (lane < nw && ptr < C) {
            bs = wl_s[lane * C + ptr];
            bi = wl_i[lane * C + ptr];
        }
        int bl = lane;
        warp_best<Ord>(bs, bi, bl);
        if (lane == 0) {
            out_s[r] = bs;
            out_i[r] = bi == kNoId ? kNone : base + static_cast<index_t>(bi);
        }
        if (lane == bl) ++ptr;
    }
}

// Where the merge puts a row's next `take` best: the beam step's ranked list [segs, M] ...
struct TopOut {
    double* s;
    index_t* i;
    index_t M, offset;
    __device__ __forceinline__ void write(index_t seg, index_t r, double bs, index_t bi) const {
        s[seg * M + offset + r] = bs;
        i[seg * M + offset + r] = bi;
    }
};

// ... or topk_dot's outputs [Q, k], an empty place as (-inf, -1).
template <typename T>
struct TopkOut {
    T* s;
    index_t* i;
    index_t k, offset;
    __device__ __forceinline__ void write(index_t seg, index_t r, double bs, index_t bi) const {
        const index_t at = seg * k + offset + r;
        if (bi == kNone) {
            s[at] = -std::numeric_limits<T>::infinity();
            i[at] = -1;
        } else {
            s[at] = static_cast<T>(bs);
            i[at] = bi;
        }
    }
};

// One warp per segment (a beam row, a query) merges the P sorted lists of C the scan left in
// part_s/part_i [segs, P, C] into the segment's next `take` (<= C) best, and remembers the last
// one taken as the bound of the next pass.  With part_bad [segs, P] (the scan's first bad offset per
// chunk), seg_bad [segs] gets seg * seg_len + the segment's first bad offset, or kNone.
template <class Ord, class Out>
__global__ void __launch_bounds__(kMergeWarps * 32)
    merge_kernel(index_t segs, int P, int C, const double* __restrict__ part_s, const index_t* __restrict__ part_i,
                 index_t take, Out out, double* __restrict__ bound_s, index_t* __restrict__ bound_i,
                 const index_t* __restrict__ part_bad, index_t* __restrict__ seg_bad, index_t seg_len) {
    const int lane = threadIdx.x & 31;
    const index_t seg = static_cast<index_t>(blockIdx.x) * kMergeWarps + (threadIdx.x >> 5);
    if (seg >= segs) return;  // the whole warp
    const index_t list = (seg * P + lane) * C;
    int ptr = 0;
    double hs = Ord::worst();
    long long hi = kNone;
    if (lane < P) {
        hs = part_s[list];
        hi = part_i[list];
    }
    double bs = hs;
    long long bi = hi;
    for (index_t r = 0; r < take; ++r) {
        bs = hs;
        bi = hi;
        int bl = lane;
        warp_best<Ord>(bs, bi, bl);
        if (lane == 0) out.write(seg, r, bs, static_cast<index_t>(bi));
        if (lane == bl) {
            ++ptr;
            if (lane < P && ptr < C) {
                hs = part_s[list + ptr];
                hi = part_i[list + ptr];
            } else {
                hs = Ord::worst();
                hi = kNone;
            }
        }
    }
    if (lane == 0) {
        bound_s[seg] = bs;
        bound_i[seg] = static_cast<index_t>(bi);
    }
    if (part_bad) {
        const long long m = warp_min(lane < P ? static_cast<long long>(part_bad[seg * P + lane]) : kNone);
        if (lane == 0) seg_bad[seg] = m == kNone ? kNone : seg * seg_len + static_cast<index_t>(m);
    }
}

// ---------------------------------------------------------------- plans and workspaces

// How a selection of `want` of n candidates per segment is split: C places a list, `passes` scans
// (each taking the next C below the last taken), P blocks per segment over chunks of `chunk`.
struct Plan {
    int C = 2, P = 1;
    index_t chunk = 0, passes = 0;
};

Plan make_plan(index_t segs, index_t n, index_t want) {
    Plan p;
    while (p.C < want && p.C < kMaxC) p.C *= 2;
    p.passes = (want + p.C - 1) / p.C;
    const index_t by_size = (n + kMinChunk - 1) / kMinChunk;
    const index_t by_grid = (kTargetBlocks + std::max<index_t>(segs, 1) - 1) / std::max<index_t>(segs, 1);
    index_t P = std::max<index_t>(1, std::min<index_t>({index_t(kMaxParts), by_size, by_grid}));
    P = std::max(P, (n + kMaxChunk - 1) / kMaxChunk);
    if (P > kMaxParts) throw std::invalid_argument("seqcore cuda: a row of more than 2**36 candidates");
    p.P = static_cast<int>(P);
    p.chunk = std::max<index_t>(1, (n + P - 1) / P);
    return p;
}

// Carves a workspace into 256-byte aligned arrays; with a null base it only counts the bytes.
class Carve {
   public:
    explicit Carve(void* base) : base_(static_cast<char*>(base)) {}
    template <typename X>
    X* take(index_t n) {
        off_ = (off_ + 255) / 256 * 256;
        X* p = base_ ? reinterpret_cast<X*>(base_ + off_) : nullptr;
        off_ += sizeof(X) * static_cast<std::size_t>(n);
        return p;
    }
    std::size_t bytes() const { return off_; }

   private:
    char* base_;
    std::size_t off_ = 0;
};

struct BeamWork {
    Plan plan;
    index_t M = 0;
    double *part_s = nullptr, *top_s = nullptr, *bound_s = nullptr, *walk_d = nullptr;
    index_t *part_i = nullptr, *part_bad = nullptr, *top_i = nullptr, *bound_i = nullptr, *row_bad = nullptr;
    index_t *old_tokens = nullptr, *old_fin = nullptr, *walk_i = nullptr;
    std::size_t bytes = 0;
};

BeamWork beam_work(index_t A, index_t K, index_t V, index_t L, void* base) {
    BeamWork w;
    if (A == 0) return w;
    w.M = std::min(2 * K, K * V);
    w.plan = make_plan(A, K * V, w.M);
    const index_t parts = A * w.plan.P;
    Carve c(base);
    w.part_s = c.take<double>(parts * w.plan.C);
    w.part_i = c.take<index_t>(parts * w.plan.C);
    w.part_bad = c.take<index_t>(parts);
    w.top_s = c.take<double>(A * w.M);
    w.top_i = c.take<index_t>(A * w.M);
    w.bound_s = c.take<double>(A);
    w.bound_i = c.take<index_t>(A);
    w.row_bad = c.take<index_t>(A);
    w.old_tokens = c.take<index_t>(A * K * L);
    w.old_fin = c.take<index_t>(A * K * L);
    if (K > kSmallK) {
        w.walk_i = c.take<index_t>(A * 8 * K);
        w.walk_d = c.take<double>(A * 4 * K);
    }
    w.bytes = c.bytes();
    return w;
}

void check_workspace(const char* what, std::size_t need, std::size_t have, const void* p) {
    if (have < need || (need > 0 && !p))
        throw std::invalid_argument(std::string("seqcore cuda ") + what + ": the workspace holds " +
                                    std::to_string(have) + " bytes, " + std::to_string(need) + " are needed");
}

unsigned grid_of(index_t blocks) {
    if (blocks > std::numeric_limits<int>::max()) throw std::invalid_argument("seqcore cuda: grid too large");
    return static_cast<unsigned>(blocks);
}

// ---------------------------------------------------------------- beam search

// Row a's candidates (beam k, token v) at flat f = k*V + v score scores[rows[a], k] + log_probs[a*K+k, v]
// (in double, the slack above 0 read as 0); block p of the row scans flat [p*chunk, (p+1)*chunk), which
// is contiguous in log_probs, a beam at a time.  With `bounded`, only candidates ranking after the
// row's bound (the last taken by the previous pass) count.  part_bad (pass 0): the chunk's first bad flat.
template <typename T, int C>
__global__ void __launch_bounds__(kScanThreads)
    beam_scan_kernel(index_t K, index_t V, int P, index_t chunk, const T* __restrict__ lp,
                     const index_t* __restrict__ rows, const double* __restrict__ scores,
                     const double* __restrict__ bound_s, const index_t* __restrict__ bound_i, bool bounded,
                     double* __restrict__ part_s, index_t* __restrict__ part_i, index_t* __restrict__ part_bad) {
    const index_t block = blockIdx.x;
    const index_t a = block / P, p = block - a * P;
    const index_t N = K * V;
    const index_t c0 = std::min(N, p * chunk), c1 = std::min(N, c0 + chunk);
    const T* x = lp + a * N;
    const double* sc = scores + rows[a] * K;
    double bs = 0.0;
    index_t bi = 0;
    if (bounded) {
        bs = bound_s[a];
        bi = bound_i[a];
    }
    const T slack = static_cast<T>(kLogProbSlack);
    ThreadList<C, ScoreOrder> list;
    list.init();
    index_t bad = kNone;  // the thread's first: it walks its offsets upwards
    if (c0 < c1) {
        for (index_t k = c0 / V; k * V < c1; ++k) {
            const double sk = sc[k];
            const index_t hi = std::min(c1, (k + 1) * V);
            for (index_t f = std::max(c0, k * V) + threadIdx.x; f < hi; f += kScanThreads) {
                const T xv = x[f];
                if (!(xv <= slack) && bad == kNone) bad = f;  // above the slack, +inf or NaN
                const double c = sk + (xv > T(0) ? 0.0 : static_cast<double>(xv));
                if (bounded && !ScoreOrder::better(bs, bi, c, f)) continue;
                list.offer(c, static_cast<unsigned>(f - c0));
            }
        }
    }
    if (part_bad) {
        const long long m = block_min(bad);
        if (threadIdx.x == 0) part_bad[block] = m;
    }
    block_top<C, ScoreOrder>(list, part_s + block * C, part_i + block * C, c0);
}

// The walk of row a (one block a row), the CPU's advance_row: thread 0 walks the ranked candidates
// (the state's scalars, the finished list's order), then every thread writes the token rows.  Nothing
// is written when any row holds a bad value; block 0 reports the first in first_bad.
__global__ void __launch_bounds__(kAdvanceThreads)
    beam_advance_kernel(BeamState s, index_t A, index_t V, const index_t* __restrict__ rows, index_t step,
                        index_t eos, const double* __restrict__ norm, const double* top_s_g,
                        const index_t* top_i_g, index_t M, const index_t* __restrict__ row_bad,
                        index_t* __restrict__ first_bad, index_t* __restrict__ parents, index_t* old_tokens,
                        index_t* old_fin, index_t* walk_i, double* walk_d) {
    __shared__ double sm_top_s[2 * kSmallK];
    __shared__ index_t sm_top_i[2 * kSmallK];
    __shared__ index_t sm_i[8 * kSmallK];
    __shared__ double sm_d[4 * kSmallK];
    __shared__ index_t sh_n;

    long long m = kNone;
    for (index_t i = threadIdx.x; i < A; i += blockDim.x) m = min(m, static_cast<long long>(row_bad[i]));
    m = block_min(m);
    if (blockIdx.x == 0 && threadIdx.x == 0) *first_bad = m == kNone ? -1 : static_cast<index_t>(m);
    if (m != kNone) return;  // the same in every thread and block

    const index_t K = s.K, L = s.L, a = blockIdx.x, r = rows[a];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const bool small = K <= kSmallK;
    index_t* wi = small ? sm_i : walk_i + a * 8 * K;
    double* wd = small ? sm_d : walk_d + a * 4 * K;
    index_t* slot_k = wi;          // [K] the new live beam j's parent beam
    index_t* slot_v = wi + K;      // [K] its token (-1: an empty slot)
    index_t* off_k = wi + 2 * K;   // [2K] the offers (finished hypotheses) in the order made: parent beam
    index_t* off_tok = wi + 4 * K; // [2K] last token
    index_t* m_len = wi + 6 * K;   // [K] the new finished list: lengths
    index_t* m_src = wi + 7 * K;   // [K] where slot p comes from: q >= 0 held slot q, -(o+1) offer o
    double* off_lp = wd;           // [2K] the offers' log-probs
    double* m_obj = wd + 2 * K;    // [K] the new finished list: objectives
    double* m_lp = wd + 3 * K;     // [K] log-probs
    const double* ts = top_s_g + a * M;
    const index_t* ti = top_i_g + a * M;
    if (small) {  // M <= 2K
        for (index_t i = threadIdx.x; i < M; i += blockDim.x) {
            sm_top_s[i] = ts[i];
            sm_top_i[i] = ti[i];
        }
        ts = sm_top_s;
        ti = sm_top_i;
    }
    index_t* tok = s.tokens + r * K * L;
    index_t* ftok = s.fin_tokens + r * K * L;
    index_t* old = old_tokens + a * K * L;
    index_t* oldf = old_fin + a * K * L;
    const index_t count = s.fin_count[r];
    for (index_t i = threadIdx.x; i < K * L; i += blockDim.x) old[i] = tok[i];
    for (index_t i = threadIdx.x; i < count * L; i += blockDim.x) oldf[i] = ftok[i];
    __syncthreads();

    if (threadIdx.x == 0) {
        const double neg = -CUDART_INF;
        double* sc = s.scores + r * K;
        index_t live = 0, noff = 0;
        double best = neg;
        for (index_t i = 0; i < M && live < K; ++i) {
            const index_t f = ti[i], k = f / V, v = f - k * V;
            const double c = ts[i];
            if (v == eos) {
                if (c > neg) {
                    off_k[noff] = k;
                    off_tok[noff] = eos;
                    off_lp[noff] = c;
                    ++noff;
                }
                continue;
            }
            slot_k[live] = k;
            slot_v[live] = v;
            sc[live] = c;
            parents[a * K + live] = a * K + k;
            if (c > best) best = c;
            ++live;
        }
        for (index_t j = live; j < K; ++j) {  // empty: keeps its own row, -1 at this step
            slot_k[j] = j;
            slot_v[j] = -1;
            sc[j] = neg;
            parents[a * K + j] = a * K + j;
        }
        const bool last = step == L - 1;
        if (last)  // the live beams finish as they are, after the EOS offers, by slot
            for (index_t j = 0; j < live; ++j)
                if (sc[j] > neg) {
                    off_k[noff] = slot_k[j];
                    off_tok[noff] = slot_v[j];
                    off_lp[noff] = sc[j];
                    ++noff;
                }
        // Every offer has step + 1 tokens.  Insertion as the CPU inserts: after every kept entry at
        // least as good (ties: found first), the worst falling off a full list.
        double* fs = s.fin_scores + r * K;
        double* fl = s.fin_log_probs + r * K;
        index_t* fn = s.fin_lengths + r * K;
        index_t n = count;
        for (index_t q = 0; q < count; ++q) {
            m_obj[q] = fs[q];
            m_lp[q] = fl[q];
            m_len[q] = fn[q];
            m_src[q] = q;
        }
        const double div = norm[step];
        for (index_t o = 0; o < noff; ++o) {
            const double obj = off_lp[o] / div;
            index_t p = 0;
            while (p < n && m_obj[p] >= obj) ++p;
            if (p == K) continue;
            for (index_t q = std::min(n, K - 1); q-- > p;) {
                m_obj[q + 1] = m_obj[q];
                m_lp[q + 1] = m_lp[q];
                m_len[q + 1] = m_len[q];
                m_src[q + 1] = m_src[q];
            }
            m_obj[p] = obj;
            m_lp[p] = off_lp[o];
            m_len[p] = step + 1;
            m_src[p] = -(o + 1);
            n = std::min(n + 1, K);
        }
        for (index_t p = 0; p < n; ++p) {  // slots past the count keep what they held
            fs[p] = m_obj[p];
            fl[p] = m_lp[p];
            fn[p] = m_len[p];
        }
        s.fin_count[r] = n;
        if (last) {
            s.done[r] = 1;
        } else {
            double future = 0.0;  // the largest divisor a live beam may still finish under
            for (index_t t = step + 1; t < L; ++t) future = std::max(future, norm[t]);
            if (best == neg || (n == K && best / future <= m_obj[K - 1])) s.done[r] = 1;
        }
        sh_n = n;
    }
    __syncthreads();

    for (index_t j = warp; j < K; j += nw) {
        const index_t* src = old + slot_k[j] * L;
        const index_t v = slot_v[j];
        index_t* dst = tok + j * L;
        for (index_t t = lane; t < L; t += 32) dst[t] = t == step ? v : src[t];
    }
    const index_t n = sh_n;
    for (index_t p = warp; p < n; p += nw) {
        const index_t src = m_src[p];
        index_t* dst = ftok + p * L;
        if (src >= 0) {
            if (src != p)
                for (index_t t = lane; t < L; t += 32) dst[t] = oldf[src * L + t];
        } else {
            const index_t o = -src - 1;
            const index_t* prefix = old + off_k[o] * L;
            const index_t last_token = off_tok[o];
            for (index_t t = lane; t < L; t += 32) dst[t] = t < step ? prefix[t] : (t == step ? last_token : -1);
        }
    }
}

template <typename T, int C>
void beam_scan(const Context& ctx, const BeamState& s, index_t A, index_t V, const T* lp, const index_t* rows,
               const BeamWork& w, index_t pass) {
    const Plan& p = w.plan;
    beam_scan_kernel<T, C><<<grid_of(A * p.P), kScanThreads, 0, ctx.stream>>>(
        s.K, V, p.P, p.chunk, lp, rows, s.scores, w.bound_s, w.bound_i, pass > 0, w.part_s, w.part_i,
        pass == 0 ? w.part_bad : nullptr);
    SEQCORE_CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- gather

template <typename W, typename I>
__global__ void gather_kernel(I M, I Rw, index_t N, const W* __restrict__ x, const index_t* __restrict__ idx,
                              W* __restrict__ out) {
    const I total = M * Rw;
    for (I e = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
         e += static_cast<I>(gridDim.x) * blockDim.x) {
        const I m = e / Rw, c = e - m * Rw;
        const index_t src = idx[m];
        out[e] = (src >= 0 && src < N) ? x[static_cast<I>(src) * Rw + c] : W{};
    }
}

template <typename W>
void gather_words(const Context& ctx, index_t N, index_t Rw, index_t M, const void* x, const index_t* idx, void* out) {
    const index_t total = M * Rw;
    const index_t blocks = std::min<index_t>((total + 255) / 256, 8192);
    const W* px = static_cast<const W*>(x);
    W* po = static_cast<W*>(out);
    // 32-bit indices (a faster division) where no index, nor the grid-stride step past the end, can overflow.
    if (N * Rw <= (index_t(1) << 31) && total <= (index_t(1) << 31))
        gather_kernel<W, unsigned><<<grid_of(blocks), 256, 0, ctx.stream>>>(
            static_cast<unsigned>(M), static_cast<unsigned>(Rw), N, px, idx, po);
    else
        gather_kernel<W, unsigned long long><<<grid_of(blocks), 256, 0, ctx.stream>>>(
            static_cast<unsigned long long>(M), static_cast<unsigned long long>(Rw), N, px, idx, po);
    SEQCORE_CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- topk_dot

template <typename T, int C>
__global__ void __launch_bounds__(kScanThreads)
    topk_scan_kernel(index_t V, int P, index_t chunk, const T* __restrict__ S, const unsigned char* __restrict__ mask,
                     const double* __restrict__ bound_s, const index_t* __restrict__ bound_i, bool bounded,
                     double* __restrict__ part_s, index_t* __restrict__ part_i) {
    const index_t block = blockIdx.x;
    const index_t q = block / P, p = block - q * P;
    const index_t c0 = std::min(V, p * chunk), c1 = std::min(V, c0 + chunk);
    const T* row = S + q * V;
    const unsigned char* skip = mask ? mask + q * V : nullptr;
    double bs = 0.0;
    index_t bi = 0;
    if (bounded) {
        bs = bound_s[q];
        bi = bound_i[q];
    }
    ThreadList<C, NanLastOrder> list;
    list.init();
    for (index_t f = c0 + threadIdx.x; f < c1; f += kScanThreads) {
        if (skip && skip[f]) continue;
        const double c = static_cast<double>(row[f]);
        if (bounded && !NanLastOrder::better(bs, bi, c, f)) continue;
        list.offer(c, static_cast<unsigned>(f - c0));
    }
    block_top<C, NanLastOrder>(list, part_s + block * C, part_i + block * C, c0);
}

__global__ void topk_mask_kernel(index_t qn, index_t X, index_t V, const index_t* __restrict__ exclude,
                                 unsigned char* __restrict__ mask) {
    const index_t total = qn * X;
    for (index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
         e += static_cast<index_t>(gridDim.x) * blockDim.x) {
        const index_t q = e / X, id = exclude[e];
        if (id >= 0 && id < V) mask[q * V + id] = 1;
    }
}

struct TopkWork {
    Plan plan;
    index_t Qb = 0;
    void* S = nullptr;
    unsigned char* mask = nullptr;
    double *part_s = nullptr, *bound_s = nullptr;
    index_t *part_i = nullptr, *bound_i = nullptr;
    std::size_t bytes = 0;
};

TopkWork topk_work(index_t V, index_t Q, index_t k, index_t X, std::size_t itemsize, void* base) {
    TopkWork w;
    if (Q == 0 || k == 0 || V == 0) return w;
    const std::size_t per_query = static_cast<std::size_t>(V) * (itemsize + (X > 0 ? 1 : 0));
    w.Qb = std::max<index_t>(1, std::min<index_t>(Q, static_cast<index_t>(kTileBytes / per_query)));
    w.plan = make_plan(w.Qb, V, k);
    Carve c(base);
    w.S = c.take<char>(w.Qb * V * static_cast<index_t>(itemsize));
    if (X > 0) w.mask = c.take<unsigned char>(w.Qb * V);
    w.part_s = c.take<double>(w.Qb * w.plan.P * w.plan.C);
    w.part_i = c.take<index_t>(w.Qb * w.plan.P * w.plan.C);
    w.bound_s = c.take<double>(w.Qb);
    w.bound_i = c.take<index_t>(w.Qb);
    w.bytes = c.bytes();
    return w;
}

template <typename T, int C>
void topk_scan(const Context& ctx, index_t qn, index_t V, const TopkWork& w, index_t pass) {
    const Plan& p = w.plan;
    topk_scan_kernel<T, C><<<grid_of(qn * p.P), kScanThreads, 0, ctx.stream>>>(
        V, p.P, p.chunk, static_cast<const T*>(w.S), w.mask, w.bound_s, w.bound_i, pass > 0, w.part_s, w.part_i);
    SEQCORE_CUDA_LAUNCHED();
}

}  // namespace

// ---------------------------------------------------------------- launchers

std::size_t beam_search_workspace_bytes(index_t A, index_t K, index_t V, index_t L) {
    return beam_work(A, K, V, L, nullptr).bytes;
}

template <typename T>
void beam_search_step(const Context& ctx, const BeamState& s, index_t A, index_t V, const T* log_probs,
                      const index_t* rows, index_t step, index_t eos, const double* length_norm, index_t* parents,
                      index_t* first_bad, void* workspace, std::size_t workspace_bytes) {
    if (A == 0) {
        if (first_bad) SEQCORE_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, sizeof(index_t), ctx.stream));  // -1
        return;
    }
    const BeamWork w = beam_work(A, s.K, V, s.L, workspace);
    check_workspace("beam_search_step", w.bytes, workspace_bytes, workspace);
    const Plan& p = w.plan;
    for (index_t pass = 0; pass < p.passes; ++pass) {
        switch (p.C) {
            case 2: beam_scan<T, 2>(ctx, s, A, V, log_probs, rows, w, pass); break;
            case 4: beam_scan<T, 4>(ctx, s, A, V, log_probs, rows, w, pass); break;
            case 8: beam_scan<T, 8>(ctx, s, A, V, log_probs, rows, w, pass); break;
            case 16: beam_scan<T, 16>(ctx, s, A, V, log_probs, rows, w, pass); break;
            default: beam_scan<T, 32>(ctx, s, A, V, log_probs, rows, w, pass); break;
        }
        const index_t taken = pass * p.C, take = std::min<index_t>(p.C, w.M - taken);
        merge_kernel<ScoreOrder, TopOut><<<grid_of((A + kMergeWarps - 1) / kMergeWarps), kMergeWarps * 32, 0,
                                           ctx.stream>>>(
            A, p.P, p.C, w.part_s, w.part_i, take, TopOut{w.top_s, w.top_i, w.M, taken}, w.bound_s, w.bound_i,
            pass == 0 ? w.part_bad : nullptr, w.row_bad, s.K * V);
        SEQCORE_CUDA_LAUNCHED();
    }
    beam_advance_kernel<<<grid_of(A), kAdvanceThreads, 0, ctx.stream>>>(
        s, A, V, rows, step, eos, length_norm, w.top_s, w.top_i, w.M, w.row_bad, first_bad, parents, w.old_tokens,
        w.old_fin, w.walk_i, w.walk_d);
    SEQCORE_CUDA_LAUNCHED();
}

template <typename T>
void gather_rows(const Context& ctx, index_t N, index_t R, index_t M, const T* x, const index_t* idx, T* out) {
    if (M == 0 || R == 0) return;
    const std::size_t row_bytes = sizeof(T) * static_cast<std::size_t>(R);
    auto fits = [&](std::size_t word) {
        return row_bytes % word == 0 && reinterpret_cast<std::uintptr_t>(x) % word == 0 &&
               reinterpret_cast<std::uintptr_t>(out) % word == 0;
    };
    if (fits(16))
        gather_words<uint4>(ctx, N, static_cast<index_t>(row_bytes / 16), M, x, idx, out);
    else if (fits(8))
        gather_words<uint2>(ctx, N, static_cast<index_t>(row_bytes / 8), M, x, idx, out);
    else
        gather_words<unsigned>(ctx, N, static_cast<index_t>(row_bytes / 4), M, x, idx, out);
}

std::size_t topk_dot_workspace_bytes(index_t V, index_t E, index_t Q, index_t k, index_t X, std::size_t itemsize) {
    (void)E;
    return topk_work(V, Q, k, X, itemsize, nullptr).bytes;
}

template <typename T>
void topk_dot(const Context& ctx, index_t V, index_t E, index_t Q, index_t k, const T* matrix, const T* queries,
              const index_t* exclude, index_t X, T* scores, index_t* ids, void* workspace, std::size_t workspace_bytes) {
    if (Q == 0 || k == 0) return;
    const TopkWork w = topk_work(V, Q, k, X, sizeof(T), workspace);
    check_workspace("topk_dot", w.bytes, workspace_bytes, workspace);
    const Plan& p = w.plan;
    T* S = static_cast<T*>(w.S);
    for (index_t q0 = 0; q0 < Q; q0 += w.Qb) {
        const index_t qn = std::min(w.Qb, Q - q0);
        if (E > 0)
            gemm<T>(ctx, false, true, qn, V, E, T(1), queries + q0 * E, E, matrix, E, T(0), S, V);
        else  // no features: every score is 0, as on the CPU
            SEQCORE_CUDA_CHECK(cudaMemsetAsync(S, 0, sizeof(T) * static_cast<std::size_t>(qn * V), ctx.stream));
        if (X > 0) {
            SEQCORE_CUDA_CHECK(cudaMemsetAsync(w.mask, 0, static_cast<std::size_t>(qn * V), ctx.stream));
            const index_t blocks = std::min<index_t>((qn * X + 255) / 256, 4096);
            topk_mask_kernel<<<grid_of(blocks), 256, 0, ctx.stream>>>(qn, X, V, exclude + q0 * X, w.mask);
            SEQCORE_CUDA_LAUNCHED();
        }
        for (index_t pass = 0; pass < p.passes; ++pass) {
            switch (p.C) {
                case 2: topk_scan<T, 2>(ctx, qn, V, w, pass); break;
                case 4: topk_scan<T, 4>(ctx, qn, V, w, pass); break;
                case 8: topk_scan<T, 8>(ctx, qn, V, w, pass); break;
                case 16: topk_scan<T, 16>(ctx, qn, V, w, pass); break;
                default: topk_scan<T, 32>(ctx, qn, V, w, pass); break;
            }
            const index_t taken = pass * p.C, take = std::min<index_t>(p.C, k - taken);
            merge_kernel<NanLastOrder, TopkOut<T>>
                <<<grid_of((qn + kMergeWarps - 1) / kMergeWarps), kMergeWarps * 32, 0, ctx.stream>>>(
                    qn, p.P, p.C, w.part_s, w.part_i, take, TopkOut<T>{scores + q0 * k, ids + q0 * k, k, taken},
                    w.bound_s, w.bound_i, nullptr, nullptr, 0);
            SEQCORE_CUDA_LAUNCHED();
        }
    }
}

#define SEQCORE_INSTANTIATE(T)                                                                                     \
    template void beam_search_step<T>(const Context&, const BeamState&, index_t, index_t, const T*, const index_t*, \
                                      index_t, index_t, const double*, index_t*, index_t*, void*, std::size_t);    \
    template void topk_dot<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*,              \
                              const index_t*, index_t, T*, index_t*, void*, std::size_t);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

template void gather_rows<float>(const Context&, index_t, index_t, index_t, const float*, const index_t*, float*);
template void gather_rows<double>(const Context&, index_t, index_t, index_t, const double*, const index_t*, double*);
template void gather_rows<index_t>(const Context&, index_t, index_t, index_t, const index_t*, const index_t*,
                                   index_t*);

}  // namespace cuda
}  // namespace seqcore
