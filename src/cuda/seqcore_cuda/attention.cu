// Fused attention on the GPU (attention.h): tiled SIMT kernels, float32 arithmetic for float (no TF32, so the
// results match the CPU's to float rounding) and float64 for double.
//
// Thread layout, shared by every kernel here: a block is 128 threads, 16 row groups x 8 column groups; the 8
// threads of a row group are 8 consecutive lanes, so a row's maximum and sum are three shuffles.  In a score
// tile a thread owns TM rows (rg*TM ...) and the columns cg, cg+8, cg+16, ...: the 8 lanes of a row group then
// read 8 consecutive shared-memory rows, whose padded length (a multiple of 16 bytes plus 16) puts them in 8
// different bank quads.  In an output tile it owns 16-byte column chunks cg, cg+8, ...: 8 lanes read one
// contiguous 128-byte span.  Operands are read from shared memory in 16-byte vectors.
#include "attention.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace seqcore {
namespace cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kRowGroups = 16;
constexpr int kColGroups = 8;

// ---------------------------------------------------------------- small device helpers

// The CPU's seqcore::dropout_hash (src/cpp/seqcore/attention.h), the same splitmix64 step: element idx is kept iff
// dropout_hash(seed, idx) >= threshold.
__device__ __forceinline__ std::uint64_t dropout_hash(std::uint64_t seed, std::uint64_t idx) {
    std::uint64_t z = seed + (idx + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) >> 11;
}

template <typename T>
__device__ __forceinline__ T neg_inf() {
    if constexpr (std::is_same_v<T, float>)
        return __int_as_float(static_cast<int>(0xff800000u));
    else
        return __longlong_as_double(static_cast<long long>(0xfff0000000000000ull));
}

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float max_(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_(double a, double b) { return fmax(a, b); }

// Elements in 16 bytes, the widest shared-memory access.
template <typename T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));

template <typename T>
using vec16_t = std::conditional_t<std::is_same_v<T, float>, float4, double2>;

// r[0..N) = p[0..N) from shared memory in the widest aligned vectors (the caller keeps p aligned to N elements,
// up to 16 bytes).
template <int N, typename T>
__device__ __forceinline__ void lds(T* r, const T* p) {
    if constexpr (sizeof(T) == 4 && N % 4 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 4) {
            const float4 x = *reinterpret_cast<const float4*>(p + c);
            r[c] = x.x;
            r[c + 1] = x.y;
            r[c + 2] = x.z;
            r[c + 3] = x.w;
        }
    } else if constexpr (sizeof(T) == 4 && N % 2 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 2) {
            const float2 x = *reinterpret_cast<const float2*>(p + c);
            r[c] = x.x;
            r[c + 1] = x.y;
        }
    } else if constexpr (sizeof(T) == 8 && N % 2 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 2) {
            const double2 x = *reinterpret_cast<const double2*>(p + c);
            r[c] = x.x;
            r[c + 1] = x.y;
        }
    } else {
#pragma unroll
        for (int c = 0; c < N; ++c) r[c] = p[c];
    }
}

// p[0..N) = r[0..N) into shared memory, vectors as in lds.
template <int N, typename T>
__device__ __forceinline__ void sts(T* p, const T* r) {
    if constexpr (sizeof(T) == 4 && N % 4 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 4) *reinterpret_cast<float4*>(p + c) = make_float4(r[c], r[c + 1], r[c + 2], r[c + 3]);
    } else if constexpr (sizeof(T) == 4 && N % 2 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 2) *reinterpret_cast<float2*>(p + c) = make_float2(r[c], r[c + 1]);
    } else if constexpr (sizeof(T) == 8 && N % 2 == 0) {
#pragma unroll
        for (int c = 0; c < N; c += 2) *reinterpret_cast<double2*>(p + c) = make_double2(r[c], r[c + 1]);
    } else {
#pragma unroll
        for (int c = 0; c < N; ++c) p[c] = r[c];
    }
}

// dst[r*LD + c] = src[r*n + c] for r < ROWS, c < D (zero where r >= valid or c >= n): a [valid, n] block of a
// row-major global array into a zero-padded [ROWS, D] shared tile.  `vec`: n is a multiple of kVec and src is
// 16-byte aligned, so whole 16-byte chunks can be moved.
template <typename T, int ROWS, int D, int LD>
__device__ __forceinline__ void load_tile(T* dst, const T* __restrict__ src, int valid, int n, bool vec) {
    constexpr int V = kVec<T>;
    if (vec) {
        constexpr int chunks = D / V;
        for (int idx = threadIdx.x; idx < ROWS * chunks; idx += kThreads) {
            const int r = idx / chunks, c = (idx % chunks) * V;
            vec16_t<T> x{};
            if (r < valid && c < n) x = *reinterpret_cast<const vec16_t<T>*>(src + static_cast<index_t>(r) * n + c);
            *reinterpret_cast<vec16_t<T>*>(dst + r * LD + c) = x;
        }
    } else {
        for (int idx = threadIdx.x; idx < ROWS * D; idx += kThreads) {
            const int r = idx / D, c = idx % D;
            dst[r * LD + c] = (r < valid && c < n) ? src[static_cast<index_t>(r) * n + c] : T(0);
        }
    }
}

// dst[c] = x[c] for the kVec columns c0.. of a global row of n (n a multiple of kVec and dst aligned when vec).
template <typename T>
__device__ __forceinline__ void store_chunk(T* dst, const T* x, int c0, int n, bool vec) {
    constexpr int V = kVec<T>;
    if (c0 >= n) return;
    if (vec) {
        vec16_t<T> y;
        if constexpr (V == 4)
            y = make_float4(x[0], x[1], x[2], x[3]);
        else
            y = make_double2(x[0], x[1]);
        *reinterpret_cast<vec16_t<T>*>(dst + c0) = y;
    } else {
#pragma unroll
        for (int e = 0; e < V; ++e)
            if (c0 + e < n) dst[c0 + e] = x[e];
    }
}

// dst[c] += x[c] for the kVec columns c0.. of a global row of n, atomically (blocks of other key tiles add to the
// same dq rows).  One 16-byte atomic where Hopper has it.
template <typename T>
__device__ __forceinline__ void atomic_add_chunk(T* dst, const T* x, int c0, int n, bool vec) {
    constexpr int V = kVec<T>;
    if (c0 >= n) return;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if constexpr (V == 4) {
        if (vec) {
            atomicAdd(reinterpret_cast<float4*>(dst + c0), make_float4(x[0], x[1], x[2], x[3]));
            return;
        }
    }
#endif
    (void)vec;
#pragma unroll
    for (int e = 0; e < V; ++e)
        if (c0 + e < n) atomicAdd(dst + c0 + e, x[e]);
}

// ---------------------------------------------------------------- arguments

template <typename T>
struct Args {
    index_t h, Lq, Lk;
    int Dh, Dv;
    index_t tiles;  // query tiles (forward) or key tiles (backward) of one (b, hh)
    const T* q;
    const T* k;
    const T* v;
    const T* out;   // backward
    const T* lse;   // backward
    const T* dout;  // backward
    const T* delta; // backward
    T* o;           // forward: out
    T* l;           // forward: lse
    T* dq;
    T* dk;
    T* dv;
    const std::uint8_t* mask;
    index_t ms[4];
    bool causal;
    T scale;
    bool drop;
    std::uint64_t seed, threshold;
    T keep;             // 1/(1-p), rounded to T as the CPU rounds it
    bool vq, vk, vv;    // q/k/v (and dout: vv) rows may be read in 16-byte chunks
    bool vo, vdq, vdkv; // out, dq, dk/dv rows may be written in 16-byte chunks
};

// Whether query i of head (b, hh) may attend key j: inside the sizes, the causal rule, the mask.
template <typename T>
__device__ __forceinline__ bool allowed(const Args<T>& a, index_t mbase, index_t i, index_t j) {
    if (i >= a.Lq || j >= a.Lk) return false;
    if (a.causal && j > i) return false;
    if (a.mask && !a.mask[mbase + i * a.ms[2] + j * a.ms[3]]) return false;
    return true;
}

// The dropout factor of element (i, j) of head bh: 0 or 1/(1-p).
template <typename T>
__device__ __forceinline__ T drop_factor(const Args<T>& a, index_t bh, index_t i, index_t j) {
    const std::uint64_t idx = static_cast<std::uint64_t>((bh * a.Lq + i) * a.Lk + j);
    return dropout_hash(a.seed, idx) >= a.threshold ? a.keep : T(0);
}

// ---------------------------------------------------------------- tile shapes

// Per dtype and head-size bucket D (the larger of Dh and Dv, rounded up to 32, 64, 128 or 256):
//   forward: TM query rows per thread (BM = 16 TM query rows per block), BN keys per tile;
//   backward: TMK keys per thread (BN = 16 TMK keys per block), TNQ queries per thread (BM = 8 TNQ per step).
// Chosen to keep the register tiles (TM x D/8 output, TMK x D/8 for each of dk and dv) near 32-64 registers,
// the shared tiles within 2 blocks per SM where that is possible, and float64 within the 227 KB limit at D = 256.
template <typename T, int D>
struct Tiles;
template <> struct Tiles<float, 32> { static constexpr int TM = 4, BN = 64, TMK = 4, TNQ = 4; };
template <> struct Tiles<float, 64> { static constexpr int TM = 4, BN = 64, TMK = 4, TNQ = 4; };
template <> struct Tiles<float, 128> { static constexpr int TM = 4, BN = 32, TMK = 2, TNQ = 4; };
template <> struct Tiles<float, 256> { static constexpr int TM = 2, BN = 32, TMK = 1, TNQ = 2; };
template <> struct Tiles<double, 32> { static constexpr int TM = 2, BN = 32, TMK = 2, TNQ = 4; };
template <> struct Tiles<double, 64> { static constexpr int TM = 2, BN = 32, TMK = 2, TNQ = 4; };
template <> struct Tiles<double, 128> { static constexpr int TM = 2, BN = 32, TMK = 1, TNQ = 4; };
template <> struct Tiles<double, 256> { static constexpr int TM = 1, BN = 32, TMK = 1, TNQ = 2; };

template <typename T, int D, int TM, int BN>
struct FwdShape {
    static constexpr int V = kVec<T>;
    static constexpr int BM = kRowGroups * TM;
    static constexpr int TN = BN / kColGroups;  // keys per thread in a score tile
    static constexpr int TV = D / kColGroups;   // output columns per thread
    static constexpr int LDQ = D + V;           // padded rows: see the bank note at the top
    static constexpr int LDV = D;               // v is read along its rows only
    static constexpr int LDP = BM + V;
    static constexpr int elems = BM * LDQ + BN * LDQ + BN * LDV + BN * LDP;
    static constexpr std::size_t bytes = static_cast<std::size_t>(elems) * sizeof(T);
    static_assert(TV % V == 0 && BN % kColGroups == 0, "tile shape");
    static_assert(TM * TN <= 32, "the allowed flags of a thread's scores fit one 32-bit word");
    static_assert((BM * sizeof(T)) % 32 == 0 && (D * sizeof(T)) % 32 == 0, "padded rows are 16 bytes past a 32-byte multiple");
};

template <typename T, int D, int TMK, int TNQ>
struct BwdShape {
    static constexpr int V = kVec<T>;
    static constexpr int BN = kRowGroups * TMK;  // keys of the block
    static constexpr int BM = kColGroups * TNQ;  // queries of a step
    static constexpr int RQ = BM / kRowGroups;   // dq rows per thread
    static constexpr int TV = D / kColGroups;
    static constexpr int LDD = D + V;
    static constexpr int LDK = BN + V;  // Ps, dSs: [BM][BN] (query-major)
    static constexpr int LDQ = BM + V;  // dSt: [BN][BM] (key-major)
    static constexpr int elems = 2 * BN * LDD + 2 * BM * LDD + 2 * BM * LDK + BN * LDQ + 2 * BM;
    static constexpr std::size_t bytes = static_cast<std::size_t>(elems) * sizeof(T);
    static_assert(TV % V == 0 && RQ >= 1 && BM % kRowGroups == 0, "tile shape");
    static_assert(TMK * TNQ <= 32, "the allowed flags of a thread's scores fit one 32-bit word");
    static_assert((BN * sizeof(T)) % 32 == 0 && (BM * sizeof(T)) % 32 == 0, "padded rows");
};

// ---------------------------------------------------------------- forward

template <typename T, int D, int TM, int BN>
__global__ void __launch_bounds__(kThreads) attention_forward_kernel(const Args<T> a) {
    using S = FwdShape<T, D, TM, BN>;
    constexpr int V = S::V, BM = S::BM, TN = S::TN, TV = S::TV;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* Qs = reinterpret_cast<T*>(smem_raw);
    T* Ks = Qs + BM * S::LDQ;
    T* Vs = Ks + BN * S::LDQ;
    T* Ps = Vs + BN * S::LDV;  // [BN][BM]: the probabilities, key-major, for the P v product

    const int tid = threadIdx.x, cg = tid % kColGroups, rg = tid / kColGroups;
    const index_t blk = blockIdx.x;
    const index_t bh = blk / a.tiles;
    const index_t i0 = (a.tiles - 1 - blk % a.tiles) * BM;  // the longest causal rows first
    const index_t b = bh / a.h, hh = bh % a.h;
    const index_t mbase = a.mask ? b * a.ms[0] + hh * a.ms[1] : 0;
    const int qn = static_cast<int>(min(static_cast<index_t>(BM), a.Lq - i0));

    load_tile<T, BM, D, S::LDQ>(Qs, a.q + (bh * a.Lq + i0) * a.Dh, qn, a.Dh, a.vq);

    T m[TM], l[TM], acc[TM][TV];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        m[i] = neg_inf<T>();
        l[i] = T(0);
#pragma unroll
        for (int c = 0; c < TV; ++c) acc[i][c] = T(0);
    }

    // Keys past the last query of the tile are causally out of reach: those tiles are never visited.
    const index_t jend = a.causal ? min(a.Lk, i0 + qn) : a.Lk;
    for (index_t j0 = 0; j0 < jend; j0 += BN) {
        __syncthreads();  // the previous tile's readers of Ks, Vs and Ps are done
        const int kn = static_cast<int>(min(static_cast<index_t>(BN), a.Lk - j0));
        load_tile<T, BN, D, S::LDQ>(Ks, a.k + (bh * a.Lk + j0) * a.Dh, kn, a.Dh, a.vk);
        load_tile<T, BN, D, S::LDV>(Vs, a.v + (bh * a.Lk + j0) * a.Dv, kn, a.Dv, a.vv);

        // Bit i*TN + t: score (row i, key t) of this thread may count.  Only tiles at an edge, on the causal
        // diagonal or under a mask look at each element.
        std::uint32_t ok = 0xffffffffu;
        if (a.mask || (a.causal && j0 + BN - 1 > i0) || j0 + BN > a.Lk || i0 + BM > a.Lq) {
            ok = 0;
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int t = 0; t < TN; ++t)
                    if (allowed(a, mbase, i0 + rg * TM + i, j0 + cg + kColGroups * t)) ok |= 1u << (i * TN + t);
        }
        // The barrier that makes the tiles visible also tells whether any score of the tile counts: a tile the
        // mask rules out entirely changes nothing (P = 0) and is skipped.
        if (!__syncthreads_or(ok != 0)) continue;

        T s[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int t = 0; t < TN; ++t) s[i][t] = T(0);
#pragma unroll(D <= 128 ? D / V : 8)
        for (int d = 0; d < D; d += V) {
            T qv[TM][V], kv[TN][V];
#pragma unroll
            for (int i = 0; i < TM; ++i) lds<V>(qv[i], Qs + (rg * TM + i) * S::LDQ + d);
#pragma unroll
            for (int t = 0; t < TN; ++t) lds<V>(kv[t], Ks + (cg + kColGroups * t) * S::LDQ + d);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int t = 0; t < TN; ++t)
#pragma unroll
                    for (int e = 0; e < V; ++e) s[i][t] = fma(qv[i][e], kv[t][e], s[i][t]);
        }

        // Online softmax: the row maximum over the 8 lanes of the row group, the accumulator rescaled to it.
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            T mx = neg_inf<T>();
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                s[i][t] = (ok >> (i * TN + t)) & 1u ? s[i][t] * a.scale : neg_inf<T>();
                mx = max_(mx, s[i][t]);
            }
#pragma unroll
            for (int off = 1; off < kColGroups; off <<= 1) mx = max_(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            const T m_new = max_(m[i], mx);
            const T m_use = m_new == neg_inf<T>() ? T(0) : m_new;  // nothing allowed yet: every exp is 0, not NaN
            const T alpha = exp_(m[i] - m_use);
            m[i] = m_new;
            l[i] *= alpha;
#pragma unroll
            for (int c = 0; c < TV; ++c) acc[i][c] *= alpha;
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                T p = exp_(s[i][t] - m_use);
                l[i] += p;  // this lane's share of the row sum, reduced once at the end
                if (a.drop) p *= drop_factor(a, bh, i0 + rg * TM + i, j0 + cg + kColGroups * t);
                s[i][t] = p;
            }
        }
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            T col[TM];
#pragma unroll
            for (int i = 0; i < TM; ++i) col[i] = s[i][t];
            sts<TM>(Ps + (cg + kColGroups * t) * S::LDP + rg * TM, col);
        }
        __syncthreads();

#pragma unroll 8
        for (int j = 0; j < BN; ++j) {
            T pv[TM];
            lds<TM>(pv, Ps + j * S::LDP + rg * TM);
#pragma unroll
            for (int u = 0; u < TV / V; ++u) {
                T vv[V];
                lds<V>(vv, Vs + j * S::LDV + (u * kColGroups + cg) * V);
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int e = 0; e < V; ++e) acc[i][u * V + e] = fma(pv[i], vv[e], acc[i][u * V + e]);
            }
        }
    }

#pragma unroll
    for (int i = 0; i < TM; ++i) {
        T sum = l[i];
#pragma unroll
        for (int off = 1; off < kColGroups; off <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
        const int r = rg * TM + i;
        if (r >= qn) continue;
        const index_t row = bh * a.Lq + i0 + r;
        T* o = a.o + row * a.Dv;
        // sum == 0: no allowed key (out 0, lse -inf, as the CPU); NaN goes the other way and stays NaN.
        const bool none = sum == T(0);
        const T inv = none ? T(0) : T(1) / sum;
#pragma unroll
        for (int u = 0; u < TV / V; ++u) {
            T x[V];
#pragma unroll
            for (int e = 0; e < V; ++e) x[e] = none ? T(0) : acc[i][u * V + e] * inv;
            store_chunk(o, x, (u * kColGroups + cg) * V, a.Dv, a.vo);
        }
        if (cg == 0) a.l[row] = none ? neg_inf<T>() : m[i] + log_(sum);
    }
}

// ---------------------------------------------------------------- backward

// delta[r] = sum_c dout[r, c] * out[r, c], one warp a row.
template <typename T>
__global__ void __launch_bounds__(256) attention_delta_kernel(index_t rows, int Dv, const T* __restrict__ out,
                                                               const T* __restrict__ dout, T* __restrict__ delta) {
    const int lane = threadIdx.x % 32;
    const index_t warps = static_cast<index_t>(gridDim.x) * (blockDim.x / 32);
    for (index_t r = static_cast<index_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
        const T* o = out + r * Dv;
        const T* g = dout + r * Dv;
        T s = T(0);
        for (int c = lane; c < Dv; c += 32) s = fma(o[c], g[c], s);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) delta[r] = s;
    }
}

template <typename T, int D, int TMK, int TNQ>
__global__ void __launch_bounds__(kThreads) attention_backward_kernel(const Args<T> a) {
    using S = BwdShape<T, D, TMK, TNQ>;
    constexpr int V = S::V, BN = S::BN, BM = S::BM, RQ = S::RQ, TV = S::TV;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* Ks = reinterpret_cast<T*>(smem_raw);
    T* Vs = Ks + BN * S::LDD;
    T* Qs = Vs + BN * S::LDD;
    T* dOs = Qs + BM * S::LDD;
    T* Ps = dOs + BM * S::LDD;   // [BM][BN] dropped probabilities, for dv
    T* dSs = Ps + BM * S::LDK;   // [BM][BN] dS, for dk
    T* dSt = dSs + BM * S::LDK;  // [BN][BM] dS, for dq
    T* Ls = dSt + BN * S::LDQ;   // [BM] lse
    T* Ds = Ls + BM;             // [BM] delta

    const int tid = threadIdx.x, cg = tid % kColGroups, rg = tid / kColGroups;
    const index_t blk = blockIdx.x;
    const index_t bh = blk / a.tiles;
    const index_t j0 = (blk % a.tiles) * BN;  // causal: the low key tiles, seen by the most queries, first
    const index_t b = bh / a.h, hh = bh % a.h;
    const index_t mbase = a.mask ? b * a.ms[0] + hh * a.ms[1] : 0;
    const int kn = static_cast<int>(min(static_cast<index_t>(BN), a.Lk - j0));

    load_tile<T, BN, D, S::LDD>(Ks, a.k + (bh * a.Lk + j0) * a.Dh, kn, a.Dh, a.vk);
    load_tile<T, BN, D, S::LDD>(Vs, a.v + (bh * a.Lk + j0) * a.Dv, kn, a.Dv, a.vv);

    T dk[TMK][TV], dv[TMK][TV];
#pragma unroll
    for (int r = 0; r < TMK; ++r)
#pragma unroll
        for (int c = 0; c < TV; ++c) dk[r][c] = dv[r][c] = T(0);

    // Causal: query steps wholly before key j0 see none of the block's keys.
    const index_t istart = a.causal ? (min(j0, a.Lq) / BM) * BM : 0;
    for (index_t i0 = istart; i0 < a.Lq; i0 += BM) {
        __syncthreads();  // the previous step's readers are done
        const int qn = static_cast<int>(min(static_cast<index_t>(BM), a.Lq - i0));
        load_tile<T, BM, D, S::LDD>(Qs, a.q + (bh * a.Lq + i0) * a.Dh, qn, a.Dh, a.vq);
        load_tile<T, BM, D, S::LDD>(dOs, a.dout + (bh * a.Lq + i0) * a.Dv, qn, a.Dv, a.vv);
        for (int r = tid; r < BM; r += kThreads) {
            Ls[r] = r < qn ? a.lse[bh * a.Lq + i0 + r] : neg_inf<T>();
            Ds[r] = r < qn ? a.delta[bh * a.Lq + i0 + r] : T(0);
        }
        // Bit r*TNQ + t: score (key r, query t) of this thread may count (see the forward).
        std::uint32_t ok = 0xffffffffu;
        if (a.mask || (a.causal && j0 + BN - 1 > i0) || j0 + BN > a.Lk || i0 + BM > a.Lq) {
            ok = 0;
#pragma unroll
            for (int r = 0; r < TMK; ++r)
#pragma unroll
                for (int t = 0; t < TNQ; ++t)
                    if (allowed(a, mbase, i0 + cg + kColGroups * t, j0 + rg * TMK + r)) ok |= 1u << (r * TNQ + t);
        }
        if (!__syncthreads_or(ok != 0)) continue;

        // S^T = k q^T and dP^T = v dout^T for this thread's keys and queries.
        T s[TMK][TNQ], g[TMK][TNQ];
#pragma unroll
        for (int r = 0; r < TMK; ++r)
#pragma unroll
            for (int t = 0; t < TNQ; ++t) s[r][t] = g[r][t] = T(0);
#pragma unroll(D <= 128 ? D / V : 8)
        for (int d = 0; d < D; d += V) {
            T kv[TMK][V], qv[TNQ][V];
#pragma unroll
            for (int r = 0; r < TMK; ++r) lds<V>(kv[r], Ks + (rg * TMK + r) * S::LDD + d);
#pragma unroll
            for (int t = 0; t < TNQ; ++t) lds<V>(qv[t], Qs + (cg + kColGroups * t) * S::LDD + d);
#pragma unroll
            for (int r = 0; r < TMK; ++r)
#pragma unroll
                for (int t = 0; t < TNQ; ++t)
#pragma unroll
                    for (int e = 0; e < V; ++e) s[r][t] = fma(kv[r][e], qv[t][e], s[r][t]);
        }
#pragma unroll(D <= 128 ? D / V : 8)
        for (int d = 0; d < D; d += V) {
            T vv[TMK][V], gv[TNQ][V];
#pragma unroll
            for (int r = 0; r < TMK; ++r) lds<V>(vv[r], Vs + (rg * TMK + r) * S::LDD + d);
#pragma unroll
            for (int t = 0; t < TNQ; ++t) lds<V>(gv[t], dOs + (cg + kColGroups * t) * S::LDD + d);
#pragma unroll
            for (int r = 0; r < TMK; ++r)
#pragma unroll
                for (int t = 0; t < TNQ; ++t)
#pragma unroll
                    for (int e = 0; e < V; ++e) g[r][t] = fma(vv[r][e], gv[t][e], g[r][t]);
        }

        // P = exp(S - lse) rebuilt; dS = scale P (dP z - delta), z the dropout factor; Pz for dv.
#pragma unroll
        for (int t = 0; t < TNQ; ++t) {
            const int qi = cg + kColGroups * t;
            const T L = Ls[qi], Di = Ds[qi];
            T pz[TMK], ds[TMK];
#pragma unroll
            for (int r = 0; r < TMK; ++r) {
                // lse = -inf: a query with nothing to attend, no gradient (as the CPU, whatever the flags say).
                const bool on = ((ok >> (r * TNQ + t)) & 1u) && L != neg_inf<T>();
                const T p = on ? exp_(s[r][t] * a.scale - L) : T(0);
                T z = T(1);
                if (a.drop) z = drop_factor(a, bh, i0 + qi, j0 + rg * TMK + r);
                pz[r] = p * z;
                ds[r] = a.scale * p * (g[r][t] * z - Di);
                dSt[(rg * TMK + r) * S::LDQ + qi] = ds[r];
            }
            sts<TMK>(Ps + qi * S::LDK + rg * TMK, pz);
            sts<TMK>(dSs + qi * S::LDK + rg * TMK, ds);
        }
        __syncthreads();

        // dv += Pz^T dout and dk += dS^T q over the step's queries (at D = 256 the two accumulators fill the
        // registers: no unrolling there, or they spill).
#pragma unroll(D <= 128 ? 4 : 1)
        for (int i = 0; i < BM; ++i) {
            T pv[TMK], sv[TMK];
            lds<TMK>(pv, Ps + i * S::LDK + rg * TMK);
            lds<TMK>(sv, dSs + i * S::LDK + rg * TMK);
#pragma unroll
            for (int u = 0; u < TV / V; ++u) {
                T gv[V], qv[V];
                lds<V>(gv, dOs + i * S::LDD + (u * kColGroups + cg) * V);
                lds<V>(qv, Qs + i * S::LDD + (u * kColGroups + cg) * V);
#pragma unroll
                for (int r = 0; r < TMK; ++r)
#pragma unroll
                    for (int e = 0; e < V; ++e) {
                        dv[r][u * V + e] = fma(pv[r], gv[e], dv[r][u * V + e]);
                        dk[r][u * V + e] = fma(sv[r], qv[e], dk[r][u * V + e]);
                    }
            }
        }

        // dq[i0 + rows] += dS k over the block's keys, added to the global dq.
        T dqa[RQ][TV];
#pragma unroll
        for (int r = 0; r < RQ; ++r)
#pragma unroll
            for (int c = 0; c < TV; ++c) dqa[r][c] = T(0);
#pragma unroll 4
        for (int j = 0; j < BN; ++j) {
            T sv[RQ];
            lds<RQ>(sv, dSt + j * S::LDQ + rg * RQ);
#pragma unroll
            for (int u = 0; u < TV / V; ++u) {
                T kv[V];
                lds<V>(kv, Ks + j * S::LDD + (u * kColGroups + cg) * V);
#pragma unroll
                for (int r = 0; r < RQ; ++r)
#pragma unroll
                    for (int e = 0; e < V; ++e) dqa[r][u * V + e] = fma(sv[r], kv[e], dqa[r][u * V + e]);
            }
        }
#pragma unroll
        for (int r = 0; r < RQ; ++r) {
            const int qi = rg * RQ + r;
            if (qi >= qn) continue;
            T* dst = a.dq + (bh * a.Lq + i0 + qi) * a.Dh;
#pragma unroll
            for (int u = 0; u < TV / V; ++u) atomic_add_chunk(dst, &dqa[r][u * V], (u * kColGroups + cg) * V, a.Dh, a.vdq);
        }
    }

    // Every key row of the block is written, zeros included (keys no query sees).
#pragma unroll
    for (int r = 0; r < TMK; ++r) {
        const int kr = rg * TMK + r;
        if (kr >= kn) continue;
        const index_t row = bh * a.Lk + j0 + kr;
#pragma unroll
        for (int u = 0; u < TV / V; ++u) {
            store_chunk(a.dk + row * a.Dh, &dk[r][u * V], (u * kColGroups + cg) * V, a.Dh, a.vdkv);
            store_chunk(a.dv + row * a.Dv, &dv[r][u * V], (u * kColGroups + cg) * V, a.Dv, a.vdkv);
        }
    }
}

// ---------------------------------------------------------------- launchers

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

int head_bucket(index_t Dh, index_t Dv) {
    const index_t d = Dh > Dv ? Dh : Dv;
    if (Dh < 1 || Dv < 1 || d > kAttentionMaxHead)
        throw std::invalid_argument("attention on CUDA takes head sizes Dh and Dv in [1, " +
                                    std::to_string(kAttentionMaxHead) + "], got Dh=" + std::to_string(Dh) +
                                    ", Dv=" + std::to_string(Dv));
    return d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : 256;
}

unsigned grid_size(index_t blocks) {
    if (blocks > 0x7fffffff)
        throw std::invalid_argument("attention on CUDA: B*h times the tiles of a head (" + std::to_string(blocks) +
                                    ") exceeds the grid limit 2^31-1");
    return static_cast<unsigned>(blocks);
}

// Raises the kernel's dynamic shared-memory limit past the default 48 KB, after checking the device has that much.
void allow_shared(const void* kernel, std::size_t bytes) {
    int dev = 0, optin = 0;
    SEQCORE_CUDA_CHECK(cudaGetDevice(&dev));
    SEQCORE_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if (bytes > static_cast<std::size_t>(optin))
        throw std::invalid_argument("attention on CUDA: this head size needs " + std::to_string(bytes) +
                                    " bytes of shared memory per block, the device allows " + std::to_string(optin));
    if (bytes > 48 * 1024)
        SEQCORE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <typename T, int D>
void launch_forward(const Context& ctx, const Args<T>& a, index_t BH) {
    using C = Tiles<T, D>;
    using S = FwdShape<T, D, C::TM, C::BN>;
    Args<T> args = a;
    args.tiles = (a.Lq + S::BM - 1) / S::BM;
    const unsigned blocks = grid_size(BH * args.tiles);
    const void* kernel = reinterpret_cast<const void*>(&attention_forward_kernel<T, D, C::TM, C::BN>);
    allow_shared(kernel, S::bytes);
    attention_forward_kernel<T, D, C::TM, C::BN><<<blocks, kThreads, S::bytes, ctx.stream>>>(args);
    SEQCORE_CUDA_LAUNCHED();
}

template <typename T, int D>
void launch_backward(const Context& ctx, const Args<T>& a, index_t BH) {
    using C = Tiles<T, D>;
    using S = BwdShape<T, D, C::TMK, C::TNQ>;
    Args<T> args = a;
    args.tiles = (a.Lk + S::BN - 1) / S::BN;
    const unsigned blocks = grid_size(BH * args.tiles);
    const void* kernel = reinterpret_cast<const void*>(&attention_backward_kernel<T, D, C::TMK, C::TNQ>);
    allow_shared(kernel, S::bytes);
    attention_backward_kernel<T, D, C::TMK, C::TNQ><<<blocks, kThreads, S::bytes, ctx.stream>>>(args);
    SEQCORE_CUDA_LAUNCHED();
}

template <typename T>
Args<T> common_args(index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, const T* q, const T* k, const T* v,
                    const DeviceAttentionMask& mask, double scale, double dropout, std::uint64_t seed) {
    Args<T> a{};
    a.h = h;
    a.Lq = Lq;
    a.Lk = Lk;
    a.Dh = static_cast<int>(Dh);
    a.Dv = static_cast<int>(Dv);
    a.q = q;
    a.k = k;
    a.v = v;
    a.mask = mask.mask;
    for (int c = 0; c < 4; ++c) a.ms[c] = mask.mask ? mask.strides[c] : 0;
    a.causal = mask.causal;
    a.scale = static_cast<T>(scale);
    a.drop = dropout > 0.0;
    a.seed = seed;
    // The CPU's dropout_threshold: u = hash * 2^-53 >= p  <=>  hash >= ceil(p * 2^53) (p * 2^53 is exact).
    a.threshold = static_cast<std::uint64_t>(std::ceil(dropout * 9007199254740992.0));
    a.keep = static_cast<T>(1.0 / (1.0 - dropout));
    constexpr index_t V = kVec<T>;
    a.vq = Dh % V == 0 && aligned16(q);
    a.vk = Dh % V == 0 && aligned16(k);
    return a;
}

}  // namespace

template <typename T>
void attention_forward(const Context& ctx, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv,
                       const T* q, const T* k, const T* v, const DeviceAttentionMask& mask, double scale,
                       double dropout, std::uint64_t seed, T* out, T* lse) {
    const int bucket = head_bucket(Dh, Dv);
    const index_t BH = B * h;
    if (BH == 0 || Lq == 0) return;
    Args<T> a = common_args(h, Lq, Lk, Dh, Dv, q, k, v, mask, scale, dropout, seed);
    constexpr index_t V = kVec<T>;
    a.vv = Dv % V == 0 && aligned16(v);
    a.vo = Dv % V == 0 && aligned16(out);
    a.o = out;
    a.l = lse;
    switch (bucket) {
        case 32: launch_forward<T, 32>(ctx, a, BH); break;
        case 64: launch_forward<T, 64>(ctx, a, BH); break;
        case 128: launch_forward<T, 128>(ctx, a, BH); break;
        default: launch_forward<T, 256>(ctx, a, BH); break;
    }
}

template <typename T>
void attention_backward(const Context& ctx, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv,
                        const T* q, const T* k, const T* v, const T* out, const T* lse, const T* dout,
                        const DeviceAttentionMask& mask, double scale, double dropout, std::uint64_t seed, T* delta,
                        T* dq, T* dk, T* dv) {
    const int bucket = head_bucket(Dh, Dv);
    const index_t BH = B * h;
    if (BH == 0) return;
    if (Lq > 0) SEQCORE_CUDA_CHECK(cudaMemsetAsync(dq, 0, static_cast<std::size_t>(BH * Lq * Dh) * sizeof(T), ctx.stream));
    if (Lk == 0) return;
    if (Lq > 0) {
        const index_t rows = BH * Lq;
        const index_t want = (rows + 7) / 8;
        const unsigned blocks = static_cast<unsigned>(want < 65536 ? want : 65536);
        attention_delta_kernel<T><<<blocks, 256, 0, ctx.stream>>>(rows, static_cast<int>(Dv), out, dout, delta);
        SEQCORE_CUDA_LAUNCHED();
    }
    Args<T> a = common_args(h, Lq, Lk, Dh, Dv, q, k, v, mask, scale, dropout, seed);
    constexpr index_t V = kVec<T>;
    // dout shares v's flag: both are rows of Dv.
    a.vv = Dv % V == 0 && aligned16(v) && aligned16(dout);
    a.vdq = Dh % V == 0 && aligned16(dq);
    a.vdkv = Dh % V == 0 && Dv % V == 0 && aligned16(dk) && aligned16(dv);
    a.out = out;
    a.lse = lse;
    a.dout = dout;
    a.delta = delta;
    a.dq = dq;
    a.dk = dk;
    a.dv = dv;
    switch (bucket) {
        case 32: launch_backward<T, 32>(ctx, a, BH); break;
        case 64: launch_backward<T, 64>(ctx, a, BH); break;
        case 128: launch_backward<T, 128>(ctx, a, BH); break;
        default: launch_backward<T, 256>(ctx, a, BH); break;
    }
}

#define SEQCORE_INSTANTIATE(T)                                                                                      \
    template void attention_forward<T>(const Context&, index_t, index_t, index_t, index_t, index_t, index_t,      \
                                       const T*, const T*, const T*, const DeviceAttentionMask&, double, double,  \
                                       std::uint64_t, T*, T*);                                                    \
    template void attention_backward<T>(const Context&, index_t, index_t, index_t, index_t, index_t, index_t,     \
                                        const T*, const T*, const T*, const T*, const T*, const T*,               \
                                        const DeviceAttentionMask&, double, double, std::uint64_t, T*, T*, T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace cuda
}  // namespace seqcore
