#include "ops.h"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace seqcore {
namespace cuda {

namespace {

constexpr int kBlock = 256;  // threads of every block below
constexpr int kWarp = 32;
// Grids stop growing here; the kernels stride over whatever is left (gridDim.x < 2^31 either way).
constexpr index_t kMaxGrid = index_t(1) << 20;

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

inline unsigned grid_for(index_t work, index_t per_block) {
    return static_cast<unsigned>(std::min(ceil_div(work, per_block), kMaxGrid));
}

// ---------------------------------------------------------------- arithmetic rounded as written
// The _rn intrinsics are never contracted into an FMA, so these round each operation on its own,
// as the CPU files compiled with -ffp-contract=off and NumPy's separate array operations do.

__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// The accurate library functions (not the __expf-style approximations).
__device__ __forceinline__ float exp_of(float a) { return expf(a); }
__device__ __forceinline__ double exp_of(double a) { return exp(a); }
__device__ __forceinline__ float log_of(float a) { return logf(a); }
__device__ __forceinline__ double log_of(double a) { return log(a); }

template <typename T>
__device__ __forceinline__ T quiet_nan() {
    return std::numeric_limits<T>::quiet_NaN();
}

// max that keeps a NaN (either operand), like NumPy's maximum.
template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) {
    return (a > b || a != a) ? a : b;
}

struct Sum {
    template <typename A>
    __device__ __forceinline__ A operator()(A a, A b) const {
        return add_rn(a, b);
    }
};

struct Max {
    template <typename A>
    __device__ __forceinline__ A operator()(A a, A b) const {
        return nan_max(a, b);
    }
};

// ---------------------------------------------------------------- row reductions
// A row is handled by TPR threads: one warp (TPR = 32, kBlock / 32 rows a block) or the whole
// block (TPR = kBlock).  all() returns the row's reduction to every one of its threads.  The
// butterfly leaves the same value in every lane (each step adds a pair in both lanes, and IEEE
// addition commutes), and the block's warp results are combined in warp order: a fixed tree.

template <int TPR>
struct Rows;

template <>
struct Rows<kWarp> {
    static constexpr int kPerBlock = kBlock / kWarp;
    __device__ static index_t first() { return index_t(blockIdx.x) * kPerBlock + threadIdx.x / kWarp; }
    __device__ static index_t stride() { return index_t(gridDim.x) * kPerBlock; }
    __device__ static int lane() { return threadIdx.x % kWarp; }

    template <typename A, typename Op>
    __device__ static A all(A v, Op op) {
        for (int offset = kWarp / 2; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
        return v;
    }
};

template <>
struct Rows<kBlock> {
    static constexpr int kPerBlock = 1;
    __device__ static index_t first() { return blockIdx.x; }
    __device__ static index_t stride() { return gridDim.x; }
    __device__ static int lane() { return threadIdx.x; }

    // Every thread of the block must call it (the row loop is uniform across the block).
    template <typename A, typename Op>
    __device__ static A all(A v, Op op) {
        __shared__ A partial[kBlock / kWarp];
        v = Rows<kWarp>::all(v, op);
        if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = v;
        __syncthreads();
        A r = partial[0];
        for (int w = 1; w < kBlock / kWarp; ++w) r = op(r, partial[w]);
        __syncthreads();  // the next reduction reuses `partial`
        return r;
    }
};

// Queues kernel(args...) over N rows, a warp to a row of up to kWarpRowMax values, else a block.
template <typename... Params, typename... Args>
void launch_rows(const Context& ctx, index_t N, index_t len, void (*warp_kernel)(Params...),
                 void (*block_kernel)(Params...), Args... args) {
    if (N == 0) return;
    if (len <= kWarpRowMax)
        warp_kernel<<<grid_for(N, Rows<kWarp>::kPerBlock), kBlock, 0, ctx.stream>>>(args...);
    else
        block_kernel<<<grid_for(N, Rows<kBlock>::kPerBlock), kBlock, 0, ctx.stream>>>(args...);
    SEQCORE_CUDA_LAUNCHED();
}

// ---------------------------------------------------------------- softmax family

// The row's max and sum(exp(x - max)), every thread of the row holding both.
template <typename T, int TPR>
__device__ __forceinline__ void max_and_sum_exp(const T* __restrict__ xr, index_t C, T& m, T& s) {
    using R = Rows<TPR>;
    m = -std::numeric_limits<T>::infinity();
    for (index_t c = R::lane(); c < C; c += TPR) m = nan_max(m, xr[c]);
    m = R::all(m, Max{});
    s = T(0);
    for (index_t c = R::lane(); c < C; c += TPR) s = add_rn(s, exp_of(sub_rn(xr[c], m)));
    s = R::all(s, Sum{});
}

template <typename T, int TPR, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_kernel(index_t N, index_t C, const T* __restrict__ x, T* __restrict__ y) {
    using R = Rows<TPR>;
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T* xr = x + r * C;
        T* yr = y + r * C;
        T m, s;
        max_and_sum_exp<T, TPR>(xr, C, m, s);
        if (Log) {
            const T lse = log_of(s);
            for (index_t c = R::lane(); c < C; c += TPR) yr[c] = sub_rn(sub_rn(xr[c], m), lse);
        } else {
            for (index_t c = R::lane(); c < C; c += TPR) yr[c] = div_rn(exp_of(sub_rn(xr[c], m)), s);
        }
    }
}

template <typename T, int TPR, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_backward_kernel(index_t N, index_t C, const T* __restrict__ y, const T* __restrict__ dy,
                            T* __restrict__ dx) {
    using R = Rows<TPR>;
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T *yr = y + r * C, *gr = dy + r * C;
        T* out = dx + r * C;
        T acc = T(0);
        if (Log) {  // dx = dy - exp(y) * sum(dy)
            for (index_t c = R::lane(); c < C; c += TPR) acc = add_rn(acc, gr[c]);
            acc = R::all(acc, Sum{});
            for (index_t c = R::lane(); c < C; c += TPR) out[c] = sub_rn(gr[c], mul_rn(exp_of(yr[c]), acc));
        } else {  // dx = y * (dy - sum(dy * y))
            for (index_t c = R::lane(); c < C; c += TPR) acc = add_rn(acc, mul_rn(gr[c], yr[c]));
            acc = R::all(acc, Sum{});
            for (index_t c = R::lane(); c < C; c += TPR) out[c] = mul_rn(yr[c], sub_rn(gr[c], acc));
        }
    }
}

template <typename T, int TPR>
__global__ void __launch_bounds__(kBlock)
    cross_entropy_kernel(index_t N, index_t C, const T* __restrict__ logits, const index_t* __restrict__ labels,
                         const T* __restrict__ targets, T* __restrict__ loss, T* __restrict__ probs) {
    using R = Rows<TPR>;
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T* xr = logits + r * C;
        T* pr = probs + r * C;
        T m, s;
        max_and_sum_exp<T, TPR>(xr, C, m, s);
        const T lse = log_of(s);
        T dot = T(0);
        for (index_t c = R::lane(); c < C; c += TPR) {
            const T logp = sub_rn(sub_rn(xr[c], m), lse);
            // -sum(t log p) term by term: lse * sum(t) - dot(t, x - max) would make an infinite target
            // at the max inf * 0 = NaN where the CPU's loss is +Inf.
            if (targets) dot = add_rn(dot, mul_rn(targets[r * C + c], logp));
            pr[c] = exp_of(logp);
        }
        if (targets) {
            dot = R::all(dot, Sum{});
            if (R::lane() == 0) loss[r] = -dot;
        } else if (R::lane() == 0) {
            const index_t label = labels[r];
            loss[r] = (label >= 0 && label < C) ? -sub_rn(sub_rn(xr[label], m), lse) : quiet_nan<T>();
        }
    }
}

template <typename T, int TPR>
__global__ void __launch_bounds__(kBlock)
    cross_entropy_backward_kernel(index_t N, index_t C, const T* __restrict__ probs,
                                  const index_t* __restrict__ labels, const T* __restrict__ targets,
                                  const T* __restrict__ dloss, T* __restrict__ dlogits) {
    using R = Rows<TPR>;
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T* pr = probs + r * C;
        T* out = dlogits + r * C;
        const T d = dloss[r];
        if (targets) {  // (p * sum(t) - t) * dloss
            const T* tr = targets + r * C;
            T st = T(0);
            for (index_t c = R::lane(); c < C; c += TPR) st = add_rn(st, tr[c]);
            st = R::all(st, Sum{});
            for (index_t c = R::lane(); c < C; c += TPR) out[c] = mul_rn(sub_rn(mul_rn(pr[c], st), tr[c]), d);
        } else {  // (p - onehot) * dloss; p * dloss - dloss would make an infinite dloss inf - inf = NaN
            const index_t label = labels[r];
            for (index_t c = R::lane(); c < C; c += TPR)
                out[c] = c == label ? mul_rn(sub_rn(pr[c], T(1)), d) : mul_rn(pr[c], d);
        }
    }
}

// ---------------------------------------------------------------- layer norm

template <typename T, int TPR>
__global__ void __launch_bounds__(kBlock)
    layer_norm_kernel(index_t N, index_t F, const T* __restrict__ x, const T* __restrict__ gamma,
                      const T* __restrict__ beta, double eps, T* __restrict__ y, T* __restrict__ xhat,
                      T* __restrict__ mean, T* __restrict__ rstd) {
    using R = Rows<TPR>;
    const double count = double(F);
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T* xr = x + r * F;
        double s = 0.0;
        for (index_t f = R::lane(); f < F; f += TPR) s = add_rn(s, double(xr[f]));
        const double m = div_rn(R::all(s, Sum{}), count);
        double q = 0.0;
        for (index_t f = R::lane(); f < F; f += TPR) {
            const double d = sub_rn(double(xr[f]), m);
            q = add_rn(q, mul_rn(d, d));
        }
        const double var = div_rn(R::all(q, Sum{}), count);
        const double rs = div_rn(1.0, sqrt_rn(add_rn(var, eps)));
        T *yr = y + r * F, *hr = xhat + r * F;
        for (index_t f = R::lane(); f < F; f += TPR) {
            const T h = T(mul_rn(sub_rn(double(xr[f]), m), rs));
            hr[f] = h;
            yr[f] = add_rn(mul_rn(h, gamma[f]), beta[f]);
        }
        if (R::lane() == 0) {
            mean[r] = T(m);
            rstd[r] = T(rs);
        }
    }
}

// dx of each row: rstd * (d - mean(d) - xhat * mean(d * xhat)), d = T(dy * gamma), sums in double.
template <typename T, int TPR>
__global__ void __launch_bounds__(kBlock)
    layer_norm_dx_kernel(index_t N, index_t F, const T* __restrict__ xhat, const T* __restrict__ rstd,
                         const T* __restrict__ gamma, const T* __restrict__ dy, T* __restrict__ dx) {
    using R = Rows<TPR>;
    const double count = double(F);
    for (index_t r = R::first(); r < N; r += R::stride()) {
        const T *hr = xhat + r * F, *gr = dy + r * F;
        double a = 0.0, b = 0.0;
        for (index_t f = R::lane(); f < F; f += TPR) {
            const double d = double(mul_rn(gr[f], gamma[f]));
            a = add_rn(a, d);
            b = add_rn(b, mul_rn(d, double(hr[f])));
        }
        a = div_rn(R::all(a, Sum{}), count);
        b = div_rn(R::all(b, Sum{}), count);
        const double rs = double(rstd[r]);
        T* out = dx + r * F;
        for (index_t f = R::lane(); f < F; f += TPR) {
            const double d = double(mul_rn(gr[f], gamma[f]));
            out[f] = T(mul_rn(rs, sub_rn(sub_rn(d, a), mul_rn(double(hr[f]), b))));
        }
    }
}

// dgamma / dbeta: the rows fall into a fixed number of chunks (a function of N only); block
// (column tile, chunk) sums its chunk's rows for 32 columns, kRowLanes threads a column each
// taking every kRowLanes-th row, then those lanes are added in lane order.  The chunk sums go
// to the workspace; layer_norm_column_total_kernel adds them up in chunk order.
constexpr int kColTile = 32;
constexpr int kRowLanes = kBlock / kColTile;
constexpr index_t kChunkMinRows = 32;
constexpr index_t kMaxChunks = 256;

inline index_t layer_norm_chunks(index_t N) { return N == 0 ? 0 : std::min(kMaxChunks, ceil_div(N, kChunkMinRows)); }

template <typename T>
__global__ void __launch_bounds__(kBlock)
    layer_norm_column_chunk_kernel(index_t N, index_t F, index_t rows_per_chunk, const T* __restrict__ xhat,
                                   const T* __restrict__ dy, double* __restrict__ part_gamma,
                                   double* __restrict__ part_beta) {
    __shared__ double sg[kRowLanes][kColTile + 1], sb[kRowLanes][kColTile + 1];
    const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
    const index_t f = index_t(blockIdx.x) * kColTile + tx;
    const index_t chunk = blockIdx.y;
    const index_t lo = chunk * rows_per_chunk, hi = std::min(N, lo + rows_per_chunk);
    double g = 0.0, b = 0.0;
    if (f < F) {
        const index_t step = kRowLanes * F;
        const T *pd = dy + (lo + ty) * F + f, *ph = xhat + (lo + ty) * F + f;
        for (index_t n = lo + ty; n < hi; n += kRowLanes, pd += step, ph += step) {
            const T d = *pd;
            g = add_rn(g, double(mul_rn(d, *ph)));
            b = add_rn(b, double(d));
        }
    }
    sg[ty][tx] = g;
    sb[ty][tx] = b;
    __syncthreads();
    if (ty == 0 && f < F) {
        for (int k = 1; k < kRowLanes; ++k) {
            g = add_rn(g, sg[k][tx]);
            b = add_rn(b, sb[k][tx]);
        }
        part_gamma[chunk * F + f] = g;
        part_beta[chunk * F + f] = b;
    }
}

template <typename T>
__global__ void __launch_bounds__(kBlock)
    layer_norm_column_total_kernel(index_t F, index_t chunks, const double* __restrict__ part_gamma,
                                   const double* __restrict__ part_beta, T* __restrict__ dgamma,
                                   T* __restrict__ dbeta) {
    for (index_t f = index_t(blockIdx.x) * kBlock + threadIdx.x; f < F; f += index_t(gridDim.x) * kBlock) {
        double g = 0.0, b = 0.0;
        for (index_t c = 0; c < chunks; ++c) {
            g = add_rn(g, part_gamma[c * F + f]);
            b = add_rn(b, part_beta[c * F + f]);
        }
        dgamma[f] = T(g);
        dbeta[f] = T(b);
    }
}

// ---------------------------------------------------------------- GELU (double inside)

constexpr double kRsqrt2 = 0.70710678118654752440;    // 1/sqrt(2)
constexpr double kRsqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
constexpr double kTanhC = 0.79788456080286535588;     // sqrt(2/pi)
constexpr double kTanhA = 0.044715;
constexpr double kSech2Zero = 20.0;  // |x| past which the tanh form's 1 - tanh(u)^2 is negligible (exp(-600))

__device__ __forceinline__ double gelu_value(double x, bool approximate) {
    if (approximate) return 0.5 * x * (1.0 + tanh(kTanhC * (x + kTanhA * x * x * x)));
    return 0.5 * x * (1.0 + erf(x * kRsqrt2));
}

__device__ __forceinline__ double gelu_slope(double x, bool approximate) {
    if (approximate) {
        const double t = tanh(kTanhC * (x + kTanhA * x * x * x));
        // Past |x| = 20 the factor 1 - t^2 is below 1e-260: clamping x in the polynomial keeps x * x finite
        // (0 * inf would be NaN), so the limits at +-inf are 1 and 0, as on the CPU.  NaN stays NaN.
        const double xs = x < -kSech2Zero ? -kSech2Zero : (x > kSech2Zero ? kSech2Zero : x);
        return 0.5 * (1.0 + t) + 0.5 * xs * (1.0 - t * t) * kTanhC * (1.0 + 3.0 * kTanhA * xs * xs);
    }
    return 0.5 * (1.0 + erf(x * kRsqrt2)) + x * kRsqrt2Pi * exp(-0.5 * x * x);
}

template <typename T>
__global__ void __launch_bounds__(kBlock)
    gelu_kernel(index_t R, const T* __restrict__ x, bool approximate, T* __restrict__ y) {
    for (index_t i = index_t(blockIdx.x) * kBlock + threadIdx.x; i < R; i += index_t(gridDim.x) * kBlock)
        y[i] = T(gelu_value(double(x[i]), approximate));
}

template <typename T>
__global__ void __launch_bounds__(kBlock)
    gelu_backward_kernel(index_t R, const T* __restrict__ x, const T* __restrict__ dy, bool approximate,
                         T* __restrict__ dx) {
    for (index_t i = index_t(blockIdx.x) * kBlock + threadIdx.x; i < R; i += index_t(gridDim.x) * kBlock)
        dx[i] = T(double(dy[i]) * gelu_slope(double(x[i]), approximate));
}

// ---------------------------------------------------------------- optimizer updates

#define SEQCORE_GRID_STRIDE(i, n) \
    for (index_t i = index_t(blockIdx.x) * kBlock + threadIdx.x; i < (n); i += index_t(gridDim.x) * kBlock)

// Mode 0: plain SGD; 1: momentum; 2: Nesterov momentum.
template <int Mode, typename T>
__global__ void __launch_bounds__(kBlock)
    sgd_kernel(index_t n, T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ velocity, T lr,
               T momentum) {
    SEQCORE_GRID_STRIDE(i, n) {
        const T g = grad[i];
        if (Mode == 0) {
            param[i] = sub_rn(param[i], mul_rn(lr, g));
        } else {
            const T v = sub_rn(mul_rn(momentum, velocity[i]), mul_rn(lr, g));
            velocity[i] = v;
            param[i] = add_rn(param[i], Mode == 2 ? sub_rn(mul_rn(momentum, v), mul_rn(lr, g)) : v);
        }
    }
}

template <bool Decoupled, bool Amsgrad, typename T>
__global__ void __launch_bounds__(kBlock)
    adam_kernel(index_t n, T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ m, T* __restrict__ v,
                T* __restrict__ vhat, T alpha, T beta1, T c1, T beta2, T c2, T eps, T decay) {
    SEQCORE_GRID_STRIDE(i, n) {
        T p = param[i];
        if (Decoupled) p = sub_rn(p, mul_rn(p, decay));
        const T g = grad[i];
        const T mi = add_rn(mul_rn(beta1, m[i]), mul_rn(c1, g));
        T vi = add_rn(mul_rn(beta2, v[i]), mul_rn(c2, mul_rn(g, g)));
        m[i] = mi;
        v[i] = vi;
        if (Amsgrad) {  // max(vhat, v), NaN when either is NaN (np.maximum)
            const T h = vhat[i];
            vi = (h > vi || h != h) ? h : vi;
            vhat[i] = vi;
        }
        param[i] = sub_rn(p, div_rn(mul_rn(alpha, mi), add_rn(sqrt_rn(vi), eps)));
    }
}

template <bool Centered, bool Momentum, typename T>
__global__ void __launch_bounds__(kBlock)
    rmsprop_kernel(index_t n, T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ velocity,
                   T* __restrict__ buf, T* __restrict__ mg, T lr, T rho, T c, T momentum, T eps) {
    SEQCORE_GRID_STRIDE(i, n) {
        const T g = grad[i];
        const T vi = add_rn(mul_rn(rho, velocity[i]), mul_rn(c, mul_rn(g, g)));
        velocity[i] = vi;
        T denom = vi;
        if (Centered) {
            const T a = add_rn(mul_rn(rho, mg[i]), mul_rn(c, g));
            mg[i] = a;
            denom = sub_rn(vi, mul_rn(a, a));
        }
        const T inc = div_rn(mul_rn(lr, g), sqrt_rn(add_rn(denom, eps)));
        if (Momentum) {
            const T b = add_rn(mul_rn(momentum, buf[i]), inc);
            buf[i] = b;
            param[i] = sub_rn(param[i], b);
        } else {
            param[i] = sub_rn(param[i], inc);
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(kBlock)
    adagrad_kernel(index_t n, T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ accumulator, T lr,
                   T eps) {
    SEQCORE_GRID_STRIDE(i, n) {
        const T g = grad[i];
        const T a = add_rn(accumulator[i], mul_rn(g, g));
        accumulator[i] = a;
        param[i] = sub_rn(param[i], div_rn(mul_rn(lr, g), sqrt_rn(add_rn(a, eps))));
    }
}

// ---------------------------------------------------------------- embedding

template <typename T>
__global__ void __launch_bounds__(kBlock)
    embedding_kernel(index_t N, index_t V, index_t E, const T* __restrict__ weights, const index_t* __restrict__ ids,
                     T* __restrict__ y) {
    SEQCORE_GRID_STRIDE(i, N * E) {
        const index_t n = i / E, e = i - n * E;
        const index_t id = ids[n];
        y[i] = (id >= 0 && id < V) ? weights[id * E + e] : quiet_nan<T>();
    }
}

using SortKey = unsigned long long;  // ids as unsigned keys: the radix sort then reads only the low bits

// Sort input: each position's id (V for one out of range, sorted last and skipped) and the position.
__global__ void __launch_bounds__(kBlock)
    embedding_sort_input_kernel(index_t N, index_t V, const index_t* __restrict__ ids, SortKey* __restrict__ keys,
                                index_t* __restrict__ positions) {
    SEQCORE_GRID_STRIDE(n, N) {
        const index_t id = ids[n];
        keys[n] = static_cast<SortKey>((id >= 0 && id < V) ? id : V);
        positions[n] = n;
    }
}

// Thread (k, e): when sorted slot k starts a run of equal ids, the run's dy rows summed in position order.
template <typename T>
__global__ void __launch_bounds__(kBlock)
    embedding_run_sum_kernel(index_t N, index_t V, index_t E, const SortKey* __restrict__ keys,
                             const index_t* __restrict__ positions, const T* __restrict__ dy, T* __restrict__ dW) {
    SEQCORE_GRID_STRIDE(i, N * E) {
        const index_t k = i / E, e = i - k * E;
        const SortKey key = keys[k];
        if (key >= static_cast<SortKey>(V) || (k > 0 && keys[k - 1] == key)) continue;
        T acc = T(0);
        for (index_t j = k; j < N && keys[j] == key; ++j) acc = add_rn(acc, dy[positions[j] * E + e]);
        dW[static_cast<index_t>(key) * E + e] = acc;
    }
}

// Bits the sort keys need: they run from 0 to V.
int key_bits(index_t V) {
    int bits = 1;
    while (bits < 63 && (index_t(1) << bits) <= V) ++bits;
    return bits;
}

std::size_t align_up(std::size_t bytes) { return (bytes + 255) & ~std::size_t(255); }

std::size_t sort_scratch_bytes(index_t N, int bits) {
    cub::DoubleBuffer<SortKey> keys(nullptr, nullptr);
    cub::DoubleBuffer<index_t> values(nullptr, nullptr);
    std::size_t bytes = 0;
    SEQCORE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, values, N, 0, bits));
    return bytes;
}

// ---------------------------------------------------------------- clipping helpers

template <typename T>
__global__ void __launch_bounds__(kBlock)
    clip_kernel(index_t n, const T* a, T lo, T hi, T* out) {  // not __restrict__: out may be a
    SEQCORE_GRID_STRIDE(i, n) {
        const T v = a[i];
        out[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

template <typename T>
__global__ void __launch_bounds__(kBlock) scale_kernel(index_t n, const T* a, T s, T* out) {
    SEQCORE_GRID_STRIDE(i, n) out[i] = mul_rn(a[i], s);
}

constexpr index_t kSquaresPerThread = 8;
constexpr index_t kMaxSquareBlocks = 1024;

inline index_t square_blocks(index_t n) {
    return n == 0 ? 0 : std::min(kMaxSquareBlocks, ceil_div(n, kBlock * kSquaresPerThread));
}

template <typename T>
__global__ void __launch_bounds__(kBlock)
    sum_of_squares_kernel(index_t n, const T* __restrict__ a, double* __restrict__ partial) {
    double acc = 0.0;
    SEQCORE_GRID_STRIDE(i, n) {
        const double v = double(a[i]);
        acc = add_rn(acc, mul_rn(v, v));
    }
    acc = Rows<kBlock>::all(acc, Sum{});
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void __launch_bounds__(kBlock)
    sum_partials_kernel(index_t count, const double* __restrict__ partial, double* __restrict__ out) {
    double acc = 0.0;
    for (index_t k = threadIdx.x; k < count; k += kBlock) acc = add_rn(acc, partial[k]);
    acc = Rows<kBlock>::all(acc, Sum{});
    if (threadIdx.x == 0) *out = acc;
}

template <typename Kernel, typename... Args>
void launch_flat(const Context& ctx, index_t n, Kernel kernel, Args... args) {
    if (n == 0) return;
    kernel<<<grid_for(n, kBlock), kBlock, 0, ctx.stream>>>(args...);
    SEQCORE_CUDA_LAUNCHED();
}

}  // namespace

// ---------------------------------------------------------------- launchers

template <typename T>
void softmax_forward(const Context& ctx, index_t N, index_t C, const T* x, T* y) {
    launch_rows(ctx, N, C, softmax_kernel<T, kWarp, false>, softmax_kernel<T, kBlock, false>, N, C, x, y);
}

template <typename T>
void softmax_backward(const Context& ctx, index_t N, index_t C, const T* y, const T* dy, T* dx) {
    launch_rows(ctx, N, C, softmax_backward_kernel<T, kWarp, false>, softmax_backward_kernel<T, kBlock, false>, N, C,
                y, dy, dx);
}

template <typename T>
void log_softmax_forward(const Context& ctx, index_t N, index_t C, const T* x, T* y) {
    launch_rows(ctx, N, C, softmax_kernel<T, kWarp, true>, softmax_kernel<T, kBlock, true>, N, C, x, y);
}

template <typename T>
void log_softmax_backward(const Context& ctx, index_t N, index_t C, const T* y, const T* dy, T* dx) {
    launch_rows(ctx, N, C, softmax_backward_kernel<T, kWarp, true>, softmax_backward_kernel<T, kBlock, true>, N, C, y,
                dy, dx);
}

template <typename T>
void softmax_cross_entropy_forward(const Context& ctx, index_t N, index_t C, const T* logits, const index_t* labels,
                                   const T* targets, T* loss, T* probs) {
    launch_rows(ctx, N, C, cross_entropy_kernel<T, kWarp>, cross_entropy_kernel<T, kBlock>, N, C, logits, labels,
                targets, loss, probs);
}

template <typename T>
void softmax_cross_entropy_backward(const Context& ctx, index_t N, index_t C, const T* probs, const index_t* labels,
                                    const T* targets, const T* dloss, T* dlogits) {
    launch_rows(ctx, N, C, cross_entropy_backward_kernel<T, kWarp>, cross_entropy_backward_kernel<T, kBlock>, N, C,
                probs, labels, targets, dloss, dlogits);
}

template <typename T>
void layer_norm_forward(const Context& ctx, index_t N, index_t F, const T* x, const T* gamma, const T* beta,
                        double eps, T* y, T* xhat, T* mean, T* rstd) {
    launch_rows(ctx, N, F, layer_norm_kernel<T, kWarp>, layer_norm_kernel<T, kBlock>, N, F, x, gamma, beta, eps, y,
                xhat, mean, rstd);
}

index_t layer_norm_backward_workspace(index_t N, index_t F) {
    return std::max<index_t>(1, 2 * layer_norm_chunks(N) * F);
}

template <typename T>
void layer_norm_backward(const Context& ctx, index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma,
                         const T* dy, T* dx, T* dgamma, T* dbeta, double* workspace) {
    if (F == 0) return;
    launch_rows(ctx, N, F, layer_norm_dx_kernel<T, kWarp>, layer_norm_dx_kernel<T, kBlock>, N, F, xhat, rstd, gamma,
                dy, dx);
    const index_t chunks = layer_norm_chunks(N);
    double* part_gamma = workspace;
    double* part_beta = workspace + chunks * F;
    if (chunks > 0) {
        const dim3 grid(static_cast<unsigned>(ceil_div(F, kColTile)), static_cast<unsigned>(chunks));
        layer_norm_column_chunk_kernel<T>
            <<<grid, kBlock, 0, ctx.stream>>>(N, F, ceil_div(N, chunks), xhat, dy, part_gamma, part_beta);
        SEQCORE_CUDA_LAUNCHED();
    }
    launch_flat(ctx, F, layer_norm_column_total_kernel<T>, F, chunks, part_gamma, part_beta, dgamma, dbeta);
}

template <typename T>
void gelu_forward(const Context& ctx, index_t R, const T* x, bool approximate, T* y) {
    launch_flat(ctx, R, gelu_kernel<T>, R, x, approximate, y);
}

template <typename T>
void gelu_backward(const Context& ctx, index_t R, const T* x, const T* dy, bool approximate, T* dx) {
    launch_flat(ctx, R, gelu_backward_kernel<T>, R, x, dy, approximate, dx);
}

template <typename T>
void sgd_update(const Context& ctx, index_t n, T* param, const T* grad, T* velocity, T lr, T momentum,
                bool use_momentum, bool nesterov) {
    if (!use_momentum)
        launch_flat(ctx, n, sgd_kernel<0, T>, n, param, grad, velocity, lr, momentum);
    else if (nesterov)
        launch_flat(ctx, n, sgd_kernel<2, T>, n, param, grad, velocity, lr, momentum);
    else
        launch_flat(ctx, n, sgd_kernel<1, T>, n, param, grad, velocity, lr, momentum);
}

template <typename T>
void adam_update(const Context& ctx, index_t n, T* param, const T* grad, T* m, T* v, T* vhat, T alpha, T beta1, T c1,
                 T beta2, T c2, T eps, T decay, bool decoupled) {
    if (decoupled && vhat)
        launch_flat(ctx, n, adam_kernel<true, true, T>, n, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps,
                    decay);
    else if (decoupled)
        launch_flat(ctx, n, adam_kernel<true, false, T>, n, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps,
                    decay);
    else if (vhat)
        launch_flat(ctx, n, adam_kernel<false, true, T>, n, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps,
                    decay);
    else
        launch_flat(ctx, n, adam_kernel<false, false, T>, n, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2,
                    eps, decay);
}

template <typename T>
void rmsprop_update(const Context& ctx, index_t n, T* param, const T* grad, T* velocity, T* momentum_buf, T* mg,
                    T lr, T rho, T c, T momentum, T eps) {
    if (mg && momentum_buf)
        launch_flat(ctx, n, rmsprop_kernel<true, true, T>, n, param, grad, velocity, momentum_buf, mg, lr, rho, c,
                    momentum, eps);
    else if (mg)
        launch_flat(ctx, n, rmsprop_kernel<true, false, T>, n, param, grad, velocity, momentum_buf, mg, lr, rho, c,
                    momentum, eps);
    else if (momentum_buf)
        launch_flat(ctx, n, rmsprop_kernel<false, true, T>, n, param, grad, velocity, momentum_buf, mg, lr, rho, c,
                    momentum, eps);
    else
        launch_flat(ctx, n, rmsprop_kernel<false, false, T>, n, param, grad, velocity, momentum_buf, mg, lr, rho, c,
                    momentum, eps);
}

template <typename T>
void adagrad_update(const Context& ctx, index_t n, T* param, const T* grad, T* accumulator, T lr, T eps) {
    launch_flat(ctx, n, adagrad_kernel<T>, n, param, grad, accumulator, lr, eps);
}

template <typename T>
void embedding_forward(const Context& ctx, index_t N, index_t V, index_t E, const T* weights, const index_t* ids,
                       T* y) {
    launch_flat(ctx, N * E, embedding_kernel<T>, N, V, E, weights, ids, y);
}

std::size_t embedding_backward_workspace(index_t N, index_t V) {
    if (N == 0) return 0;
    const std::size_t buffer = align_up(static_cast<std::size_t>(N) * sizeof(index_t));
    return 4 * buffer + align_up(sort_scratch_bytes(N, key_bits(V)));
}

template <typename T>
void embedding_backward(const Context& ctx, index_t N, index_t V, index_t E, const index_t* ids, const T* dy, T* dW,
                        void* workspace, std::size_t workspace_bytes) {
    if (V > 0 && E > 0)
        SEQCORE_CUDA_CHECK(cudaMemsetAsync(dW, 0, static_cast<std::size_t>(V * E) * sizeof(T), ctx.stream));
    if (N == 0 || E == 0 || V == 0) return;  // V == 0 with N > 0: every id out of range, nothing to add
    const std::size_t needed = embedding_backward_workspace(N, V);
    if (workspace_bytes < needed)
        throw std::runtime_error("embedding_backward: workspace of " + std::to_string(workspace_bytes) +
                                 " bytes, needs " + std::to_string(needed));
    const std::size_t buffer = align_up(static_cast<std::size_t>(N) * sizeof(index_t));
    char* base = static_cast<char*>(workspace);
    auto* keys0 = reinterpret_cast<SortKey*>(base);
    auto* keys1 = reinterpret_cast<SortKey*>(base + buffer);
    auto* pos0 = reinterpret_cast<index_t*>(base + 2 * buffer);
    auto* pos1 = reinterpret_cast<index_t*>(base + 3 * buffer);
    void* scratch = base + 4 * buffer;
    std::size_t scratch_bytes = workspace_bytes - 4 * buffer;

    launch_flat(ctx, N, embedding_sort_input_kernel, N, V, ids, keys0, pos0);
    cub::DoubleBuffer<SortKey> keys(keys0, keys1);
    cub::DoubleBuffer<index_t> positions(pos0, pos1);
    // Radix sort is stable: equal ids keep their positions in rising order, the CPU's order of additions.
    SEQCORE_CUDA_CHECK(
        cub::DeviceRadixSort::SortPairs(scratch, scratch_bytes, keys, positions, N, 0, key_bits(V), ctx.stream));
    launch_flat(ctx, N * E, embedding_run_sum_kernel<T>, N, V, E, keys.Current(), positions.Current(), dy, dW);
}

template <typename T>
void clip_by_value(const Context& ctx, index_t n, const T* a, T lo, T hi, T* out) {
    launch_flat(ctx, n, clip_kernel<T>, n, a, lo, hi, out);
}

index_t sum_of_squares_workspace(index_t n) { return std::max<index_t>(1, square_blocks(n)); }

template <typename T>
void sum_of_squares(const Context& ctx, index_t n, const T* a, double* workspace, double* out) {
    const index_t blocks = square_blocks(n);
    if (blocks > 0) {
        sum_of_squares_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, ctx.stream>>>(n, a, workspace);
        SEQCORE_CUDA_LAUNCHED();
    }
    sum_partials_kernel<<<1, kBlock, 0, ctx.stream>>>(blocks, workspace, out);
    SEQCORE_CUDA_LAUNCHED();
}

template <typename T>
void scale(const Context& ctx, index_t n, const T* a, T s, T* out) {
    launch_flat(ctx, n, scale_kernel<T>, n, a, s, out);
}

#define SEQCORE_INSTANTIATE(T)                                                                                    \
    template void softmax_forward<T>(const Context&, index_t, index_t, const T*, T*);                             \
    template void softmax_backward<T>(const Context&, index_t, index_t, const T*, const T*, T*);                  \
    template void log_softmax_forward<T>(const Context&, index_t, index_t, const T*, T*);                         \
    template void log_softmax_backward<T>(const Context&, index_t, index_t, const T*, const T*, T*);              \
    template void softmax_cross_entropy_forward<T>(const Context&, index_t, index_t, const T*, const index_t*,    \
                                                   const T*, T*, T*);                                             \
    template void softmax_cross_entropy_backward<T>(const Context&, index_t, index_t, const T*, const index_t*,   \
                                                    const T*, const T*, T*);                                      \
    template void layer_norm_forward<T>(const Context&, index_t, index_t, const T*, const T*, const T*, double,    \
                                        T*, T*, T*, T*);                                                          \
    template void layer_norm_backward<T>(const Context&, index_t, index_t, const T*, const T*, const T*,          \
                                         const T*, T*, T*, T*, double*);                                          \
    template void gelu_forward<T>(const Context&, index_t, const T*, bool, T*);                                   \
    template void gelu_backward<T>(const Context&, index_t, const T*, const T*, bool, T*);                        \
    template void sgd_update<T>(const Context&, index_t, T*, const T*, T*, T, T, bool, bool);                     \
    template void adam_update<T>(const Context&, index_t, T*, const T*, T*, T*, T*, T, T, T, T, T, T, T, bool);   \
    template void rmsprop_update<T>(const Context&, index_t, T*, const T*, T*, T*, T*, T, T, T, T, T);            \
    template void adagrad_update<T>(const Context&, index_t, T*, const T*, T*, T, T);                             \
    template void embedding_forward<T>(const Context&, index_t, index_t, index_t, const T*, const index_t*, T*);  \
    template void embedding_backward<T>(const Context&, index_t, index_t, index_t, const index_t*, const T*, T*,  \
                                        void*, std::size_t);                                                      \
    template void clip_by_value<T>(const Context&, index_t, const T*, T, T, T*);                                  \
    template void sum_of_squares<T>(const Context&, index_t, const T*, double*, double*);                         \
    template void scale<T>(const Context&, index_t, const T*, T, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace cuda
}  // namespace seqcore
