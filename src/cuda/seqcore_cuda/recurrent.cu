#include "recurrent.h"

#include <climits>

#include "gemm.h"

namespace seqcore {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// ---------------------------------------------------------------- device helpers

// The CPU core's formulas in T's precision (expf/tanhf for float, exp/tanh for double; no fast-math
// intrinsics), so float64 agrees with the CPU backends to rounding.
__device__ inline float exp_of(float a) { return expf(a); }
__device__ inline double exp_of(double a) { return exp(a); }
__device__ inline float tanh_of(float a) { return tanhf(a); }
__device__ inline double tanh_of(double a) { return tanh(a); }

template <typename T>
__device__ inline T sigmoid(T a) {
    return T(1) / (T(1) + exp_of(-a));
}

__device__ inline index_t row_length(const index_t* lengths, index_t r, index_t T_) {
    return lengths ? lengths[r] : T_;
}

// Time index of the step before (the one whose state step s started from), valid for s > 0.
__device__ inline index_t prev_time(index_t t, bool reverse) { return reverse ? t + 1 : t - 1; }

// One thread per element of an n-element grid; no launch when n is 0 (a 0-block grid is an error).
template <typename... Params, typename... Args>
void launch(const Context& ctx, index_t n, void (*kernel)(index_t, Params...), Args... args) {
    if (n <= 0) return;
    const index_t blocks = (n + kThreads - 1) / kThreads;
    if (blocks > INT_MAX) fail("recurrent kernel launch", "grid too large", __FILE__, __LINE__);
    kernel<<<static_cast<unsigned>(blocks), kThreads, 0, ctx.stream>>>(n, args...);
    SEQCORE_CUDA_LAUNCHED();
}

template <typename T>
void zero(const Context& ctx, T* p, index_t n) {
    if (n > 0) SEQCORE_CUDA_CHECK(cudaMemsetAsync(p, 0, sizeof(T) * static_cast<size_t>(n), ctx.stream));
}

template <typename T>
void copy(const Context& ctx, const T* src, index_t n, T* dst) {
    if (n > 0 && src != dst)
        SEQCORE_CUDA_CHECK(
            cudaMemcpyAsync(dst, src, sizeof(T) * static_cast<size_t>(n), cudaMemcpyDeviceToDevice, ctx.stream));
}

// dst = src, or zeros when src is null (a gradient input that was not given).
template <typename T>
void copy_or_zero(const Context& ctx, const T* src, index_t n, T* dst) {
    if (src)
        copy(ctx, src, n, dst);
    else
        zero(ctx, dst, n);
}

// out[N,K] = x[N,D] W[D,K]: the input projection of every row at once.  cuBLAS refuses a
// leading dimension of 0, so D == 0 is a zero-fill.
template <typename T>
void project(const Context& ctx, index_t N, index_t D, index_t K, const T* x, const T* W, T* out) {
    if (N == 0 || K == 0) return;
    if (D == 0) return zero(ctx, out, N * K);
    gemm<T>(ctx, false, false, N, K, D, T(1), x, D, W, K, T(0), out, K);
}

// ---------------------------------------------------------------- forward step kernels
// Each runs one thread per (row r, unit j) over n = B*H and handles every gate of the unit,
// so consecutive threads touch consecutive units (coalesced).  A row past its length writes
// the zeros of its padding slot t = s (each padding slot is visited once, at s = t) and keeps
// its state.

// a = (projection + h U) + b (rec null: projection + b); i, f, o sigmoid, c~ tanh;
// c = f c_prev + i c~; h = o tanh(c).
template <typename T>
__global__ void lstm_step_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths, bool reverse,
                                 const T* rec, const T* bias, T* gates, T* y, T* c, T* hT, T* cT) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 4 * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) {
        const index_t at = r * T_ + s;
        T* g = gates + at * G;
        g[j] = g[H + j] = g[2 * H + j] = g[3 * H + j] = T(0);
        y[at * H + j] = T(0);
        c[at * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T* g = gates + at * G;
    T a[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const index_t col = q * H + j;
        a[q] = rec ? (g[col] + rec[r * G + col]) + bias[col] : g[col] + bias[col];
    }
    const T i = sigmoid(a[0]), f = sigmoid(a[1]), cc = tanh_of(a[2]), o = sigmoid(a[3]);
    const T c_new = f * cT[k] + i * cc;
    const T h_new = o * tanh_of(c_new);
    g[j] = i;
    g[H + j] = f;
    g[2 * H + j] = cc;
    g[3 * H + j] = o;
    c[at * H + j] = c_new;
    y[at * H + j] = h_new;
    cT[k] = c_new;
    hT[k] = h_new;
}

// GRU reset_after: rec = h U (no bias); b_in, b_rec the two bias rows.
template <typename T>
__global__ void gru_step_after_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths,
                                      bool reverse, const T* rec, const T* b_in, const T* b_rec, T* gates, T* hr,
                                      T* y, T* hT) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 3 * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) {
        const index_t at = r * T_ + s;
        T* g = gates + at * G;
        g[j] = g[H + j] = g[2 * H + j] = T(0);
        hr[at * H + j] = T(0);
        y[at * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T* g = gates + at * G;
    const T* R = rec + r * G;
    const T z = sigmoid(g[j] + ((b_in[j] + R[j]) + b_rec[j]));
    const T rg = sigmoid(g[H + j] + ((b_in[H + j] + R[H + j]) + b_rec[H + j]));
    const T rh = R[2 * H + j] + b_rec[2 * H + j];
    const T hh = tanh_of(g[2 * H + j] + (b_in[2 * H + j] + rg * rh));
    const T h_new = z * hT[k] + (T(1) - z) * hh;
    g[j] = z;
    g[H + j] = rg;
    g[2 * H + j] = hh;
    hr[at * H + j] = rh;
    y[at * H + j] = h_new;
    hT[k] = h_new;
}

// GRU reset_before, first half: z, r = sigmoid(projection + (b + h U)); rh = r * h_prev (0 for a finished row).
template <typename T>
__global__ void gru_gates_before_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths,
                                        bool reverse, const T* rec, const T* bias, const T* hT, T* gates, T* y,
                                        T* rh) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 3 * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) {
        const index_t at = r * T_ + s;
        T* g = gates + at * G;
        g[j] = g[H + j] = g[2 * H + j] = T(0);
        y[at * H + j] = T(0);
        rh[k] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    T* g = gates + (r * T_ + t) * G;
    const T* R = rec + r * G;
    const T z = sigmoid(g[j] + (bias[j] + R[j]));
    const T rg = sigmoid(g[H + j] + (bias[H + j] + R[H + j]));
    g[j] = z;
    g[H + j] = rg;
    rh[k] = rg * hT[k];
}

// GRU reset_before, second half: h~ = tanh(projection + (b_h + (r h) U_h)); h = z h + (1 - z) h~.
// rhU: [B,H] with row stride ld.
template <typename T>
__global__ void gru_update_before_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths,
                                         bool reverse, const T* rhU, index_t ld, const T* bias, T* gates, T* y,
                                         T* hT) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 3 * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) return;  // the first half wrote the padding slot
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T* g = gates + at * G;
    const T hh = tanh_of(g[2 * H + j] + (bias[2 * H + j] + rhU[r * ld + j]));
    const T z = g[j];
    const T h_new = z * hT[k] + (T(1) - z) * hh;
    g[2 * H + j] = hh;
    y[at * H + j] = h_new;
    hT[k] = h_new;
}

// RNN: y holds the projection; y = tanh(y + (h U + b)) (rec null: tanh(y + b)).
template <typename T>
__global__ void rnn_step_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths, bool reverse,
                                const T* rec, const T* bias, T* y, T* hT) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) {
        y[(r * T_ + s) * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    T* yp = y + (r * T_ + t) * H + j;
    const T h_new = tanh_of(*yp + (rec ? rec[k] + bias[j] : bias[j]));
    *yp = h_new;
    hT[k] = h_new;
}

// ---------------------------------------------------------------- backward step kernels
// The carried gradient: a row that ran step s+1 takes its dh from that step's GEMM (dh_rec);
// a row that had not started yet keeps the carry it holds (dhT, or zeros).  A finished row's
// step rows are zeros (for the GEMM) and so are its padding slots of the gradient arrays.

// LSTM: writes this step's pre-activation gate gradients to step [B,4H] and dG [B,T,4H].
template <typename T>
__global__ void lstm_grad_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths, bool reverse,
                                 const T* gates, const T* c, const T* c0, const T* dy, const T* dh_rec, T* dh, T* dc,
                                 T* step, T* dG) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 4 * H;
    const index_t L = row_length(lengths, r, T_);
    T* st = step + r * G;
    if (s >= L) {
        st[j] = st[H + j] = st[2 * H + j] = st[3 * H + j] = T(0);
        T* gs = dG + (r * T_ + s) * G;
        gs[j] = gs[H + j] = gs[2 * H + j] = gs[3 * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T dhv = s + 1 < L ? dh_rec[k] : dh[k];
    if (dy) dhv += dy[at * H + j];
    const T* g = gates + at * G;
    const T i = g[j], f = g[H + j], cc = g[2 * H + j], o = g[3 * H + j];
    const T c_prev = s == 0 ? c0[k] : c[(r * T_ + prev_time(t, reverse)) * H + j];
    const T tanh_c = tanh_of(c[at * H + j]);
    const T dcv = dc[k] + dhv * o * (T(1) - tanh_c * tanh_c);
    const T gi = dcv * cc * i * (T(1) - i);
    const T gf = dcv * c_prev * f * (T(1) - f);
    const T gc = dcv * i * (T(1) - cc * cc);
    const T go = dhv * tanh_c * o * (T(1) - o);
    dc[k] = dcv * f;
    T* gs = dG + at * G;
    st[j] = gs[j] = gi;
    st[H + j] = gs[H + j] = gf;
    st[2 * H + j] = gs[2 * H + j] = gc;
    st[3 * H + j] = gs[3 * H + j] = go;
}

// After the last (s = 0) step: dh0 of each row that ran at all is its first step's dh_prev.
template <typename T>
__global__ void lstm_rnn_final_kernel(index_t n, index_t T_, index_t H, const index_t* lengths, const T* dh_rec,
                                      T* dh0) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    if (row_length(lengths, k / H, T_) > 0) dh0[k] = dh_rec[k];
}

template <typename T>
__global__ void rnn_grad_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths, bool reverse,
                                const T* y, const T* dy, const T* dh_rec, const T* dh, T* step, T* dG) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) {
        step[k] = T(0);
        dG[(r * T_ + s) * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T dhv = s + 1 < L ? dh_rec[k] : dh[k];
    if (dy) dhv += dy[at * H + j];
    const T yv = y[at * H + j];
    const T g = dhv * (T(1) - yv * yv);
    step[k] = g;
    dG[at * H + j] = g;
}

// GRU, both variants: dz, dn (pre-activation) and the direct path dh * z, kept in dh until the
// recurrent products are added.  reset_after also writes dr and the gradient at h U + b_rec
// (step = dGr row); reset_before writes the candidate block of step (what U_h^T sees first).
template <typename T, bool kResetAfter>
__global__ void gru_grad_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths, bool reverse,
                                const T* gates, const T* hr, const T* y, const T* h0, const T* dy, const T* dh_rec,
                                T* dh, T* step, T* dGx, T* dGr) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 3 * H;
    const index_t L = row_length(lengths, r, T_);
    T* st = step + r * G;
    if (s >= L) {
        st[j] = st[H + j] = st[2 * H + j] = T(0);
        const index_t pad = (r * T_ + s) * G;
        dGx[pad + j] = dGx[pad + H + j] = dGx[pad + 2 * H + j] = T(0);
        if (kResetAfter) dGr[pad + j] = dGr[pad + H + j] = dGr[pad + 2 * H + j] = T(0);
        return;
    }
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    T dhv = s + 1 < L ? dh[k] + dh_rec[k] : dh[k];
    if (dy) dhv += dy[at * H + j];
    const T* g = gates + at * G;
    const T z = g[j], rg = g[H + j], hh = g[2 * H + j];
    const T hp = s == 0 ? h0[k] : y[(r * T_ + prev_time(t, reverse)) * H + j];
    const T dz = dhv * (hp - hh) * z * (T(1) - z);
    const T dn = dhv * (T(1) - z) * (T(1) - hh * hh);
    dh[k] = dhv * z;
    T* gx = dGx + at * G;
    gx[j] = dz;
    gx[2 * H + j] = dn;
    if (kResetAfter) {
        const T dr = dn * hr[at * H + j] * rg * (T(1) - rg);
        gx[H + j] = dr;
        T* gr = dGr + at * G;
        st[j] = gr[j] = dz;
        st[H + j] = gr[H + j] = dr;
        st[2 * H + j] = gr[2 * H + j] = dn * rg;
    } else {
        st[2 * H + j] = dn;
    }
}

// GRU reset_before, second half: from drh (the gradient at r * h_prev through U_h), dr and the
// reset path of dh_prev; fills the z, r blocks of step for the product with U_zr^T.
template <typename T>
__global__ void gru_reset_grad_kernel(index_t n, index_t T_, index_t H, index_t s, const index_t* lengths,
                                      bool reverse, const T* gates, const T* y, const T* h0, const T* drh, T* dh,
                                      T* step, T* dGx) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t r = k / H, j = k - r * H, G = 3 * H;
    const index_t L = row_length(lengths, r, T_);
    if (s >= L) return;  // the first half zeroed its step row
    const index_t t = reverse ? L - 1 - s : s;
    const index_t at = r * T_ + t;
    const T rg = gates[at * G + H + j];
    const T hp = s == 0 ? h0[k] : y[(r * T_ + prev_time(t, reverse)) * H + j];
    const T d = drh[k];
    const T dr = d * hp * rg * (T(1) - rg);
    T* gx = dGx + at * G;
    gx[H + j] = dr;
    T* st = step + r * G;
    st[j] = gx[j];
    st[H + j] = dr;
    dh[k] += d * rg;
}

template <typename T>
__global__ void gru_final_kernel(index_t n, index_t T_, index_t H, const index_t* lengths, const T* dh_rec, T* dh0) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    if (row_length(lengths, k / H, T_) > 0) dh0[k] += dh_rec[k];
}

// ---------------------------------------------------------------- after the loop

// Hprev[b,t] = the state step t started from: h0[b] for a row's first step, else y at the
// previous time index; padding slots are zero.  n = B*T*H.
template <typename T>
__global__ void previous_states_kernel(index_t n, index_t T_, index_t H, const index_t* lengths, bool reverse,
                                       const T* h0, const T* y, T* Hprev) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t row = k / H, j = k - row * H;  // row = b*T + t
    const index_t b = row / T_, t = row - b * T_;
    const index_t L = row_length(lengths, b, T_);
    T v = T(0);
    if (t < L) {
        const index_t s = reverse ? L - 1 - t : t;
        v = s == 0 ? h0[b * H + j] : y[(b * T_ + prev_time(t, reverse)) * H + j];
    }
    Hprev[k] = v;
}

// dst = src at t < lengths[b], zeros at padding; [B,T,K] arrays, n = B*T*K (dst may be src).
template <typename T>
__global__ void unpadded_kernel(index_t n, index_t T_, index_t K, const index_t* lengths, const T* src, T* dst) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t row = k / K, b = row / T_, t = row - b * T_;
    dst[k] = t < lengths[b] ? src[k] : T(0);
}

// a[row, j] *= gates[row, H + j] (h_prev becomes r * h_prev); n = N*H.
template <typename T>
__global__ void times_reset_kernel(index_t n, index_t H, const T* gates, T* a) {
    const index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x;
    if (k >= n) return;
    const index_t row = k / H, j = k - row * H;
    a[k] *= gates[row * 3 * H + H + j];
}

// out[k] = sum over N rows of a[n, k] (row stride lda), summed in double like the CPU core so a
// float32 bias gradient over B*T rows keeps float32 accuracy.  A block owns 32 columns; its 32
// thread rows stride over the rows (a warp reads 32 consecutive columns), then fold in shared memory.
constexpr int kSumCols = 32, kSumRows = 32;

template <typename T>
__global__ void column_sums_kernel(const T* a, index_t N, index_t K, index_t lda, T* out) {
    __shared__ double part[kSumRows][kSumCols + 1];
    const index_t col = blockIdx.x * static_cast<index_t>(kSumCols) + threadIdx.x;
    double acc = 0.0;
    if (col < K)
        for (index_t row = threadIdx.y; row < N; row += kSumRows) acc += static_cast<double>(a[row * lda + col]);
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < K) {
        double sum = 0.0;
        for (int q = 0; q < kSumRows; ++q) sum += part[q][threadIdx.x];
        out[col] = static_cast<T>(sum);
    }
}

template <typename T>
void column_sums(const Context& ctx, const T* a, index_t N, index_t K, index_t lda, T* out) {
    if (K == 0) return;
    const index_t blocks = (K + kSumCols - 1) / kSumCols;
    if (blocks > INT_MAX) fail("column_sums", "grid too large", __FILE__, __LINE__);
    column_sums_kernel<T><<<static_cast<unsigned>(blocks), dim3(kSumCols, kSumRows), 0, ctx.stream>>>(a, N, K, lda,
                                                                                                      out);
    SEQCORE_CUDA_LAUNCHED();
}

// x for the weight-gradient GEMM: padding rows may hold anything (NaN included, and 0 * NaN is
// NaN), so with lengths a copy with padding zeroed (the CPU core does the same).
template <typename T>
const T* x_without_padding(const Context& ctx, index_t B, index_t T_, index_t D, const T* x, const index_t* lengths,
                           T* work_x) {
    if (!lengths) return x;
    if (!work_x) fail("recurrent backward", "work_x is required when lengths is given", __FILE__, __LINE__);
    launch(ctx, B * T_ * D, unpadded_kernel<T>, T_, D, lengths, x, work_x);
    return work_x;
}

// dx[N,D] = dG W^T and dW[D,K] = x^T dG over all N = B*T rows; dx's padding rows zeroed
// (dG's are zero, but 0 * a NaN in W is not).
template <typename T>
void input_gradients(const Context& ctx, index_t B, index_t T_, index_t D, index_t K, const T* x, const T* W,
                     const index_t* lengths, const T* dG, T* dx, T* dW, T* work_x) {
    const index_t N = B * T_;
    if (D == 0) return;  // dx and dW are empty
    gemm<T>(ctx, false, true, N, D, K, T(1), dG, K, W, K, T(0), dx, D);
    if (lengths) launch(ctx, N * D, unpadded_kernel<T>, T_, D, lengths, static_cast<const T*>(dx), dx);
    const T* xs = x_without_padding(ctx, B, T_, D, x, lengths, work_x);
    gemm<T>(ctx, true, false, D, K, N, T(1), xs, D, dG, K, T(0), dW, K);
}

template <typename T>
void previous_states(const Context& ctx, index_t B, index_t T_, index_t H, const T* h0, const T* y,
                     const index_t* lengths, bool reverse, T* Hprev) {
    launch(ctx, B * T_ * H, previous_states_kernel<T>, T_, H, lengths, reverse, h0, y, Hprev);
}

// The weights' gradients of a backward whose input and recurrent weights see the same gate
// gradients dG [B*T,K] (LSTM, RNN).  Needs T > 0.
template <typename T>
void weight_gradients(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, index_t K, const T* x,
                      const T* h0, const T* W, const T* y, const index_t* lengths, bool reverse, const T* dG, T* dx,
                      T* dW, T* dU, T* db, T* work_hprev, T* work_x) {
    const index_t N = B * T_;
    input_gradients(ctx, B, T_, D, K, x, W, lengths, dG, dx, dW, work_x);
    column_sums(ctx, dG, N, K, K, db);
    previous_states(ctx, B, T_, H, h0, y, lengths, reverse, work_hprev);
    gemm<T>(ctx, true, false, H, K, N, T(1), work_hprev, H, dG, K, T(0), dU, K);
}

// No rows or no units (B == 0 or H == 0): every gradient is zero, and returning before the
// time loop keeps a T of 2**40 from spinning through empty steps.
template <typename T>
void no_steps_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, index_t G, index_t nb, T* dx,
                       T* dh0, T* dc0, T* dW, T* dU, T* db) {
    zero(ctx, dx, B * T_ * D);  // empty when B == 0; a real array when only H == 0
    zero(ctx, dh0, B * H);
    if (dc0) zero(ctx, dc0, B * H);
    zero(ctx, dW, D * G);
    zero(ctx, dU, H * G);
    zero(ctx, db, nb);
}

// ---------------------------------------------------------------- forward loops
// Shared by the sequence forwards and the cells (T = 1, no lengths, caches in workspaces).

template <typename T>
void lstm_run(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* c0,
              const T* W, const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* cT, T* gates,
              T* c, T* rec) {
    const index_t G = 4 * H;
    if (B == 0 || H == 0) return;  // every output is empty; T alone may be 2**40
    copy(ctx, h0, B * H, hT);     // hT, cT carry the running state
    copy(ctx, c0, B * H, cT);
    project(ctx, B * T_, D, G, x, W, gates);  // gates holds the projection until each step activates it
    for (index_t s = 0; s < T_; ++s) {
        gemm<T>(ctx, false, false, B, G, H, T(1), hT, H, U, G, T(0), rec, G);
        launch(ctx, B * H, lstm_step_kernel<T>, T_, H, s, lengths, reverse, static_cast<const T*>(rec), b, gates, y,
               c, hT, cT);
    }
}

template <typename T>
void gru_run(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
             const T* U, const T* b, bool reset_after, const index_t* lengths, bool reverse, T* y, T* hT, T* gates,
             T* hr, T* rec, T* rh) {
    const index_t G = 3 * H;
    if (B == 0 || H == 0) return;
    copy(ctx, h0, B * H, hT);
    project(ctx, B * T_, D, G, x, W, gates);
    for (index_t s = 0; s < T_; ++s) {
        if (reset_after) {
            gemm<T>(ctx, false, false, B, G, H, T(1), hT, H, U, G, T(0), rec, G);
            launch(ctx, B * H, gru_step_after_kernel<T>, T_, H, s, lengths, reverse, static_cast<const T*>(rec), b,
                   b + G, gates, hr, y, hT);
        } else {
            // z, r first; then (r * h_prev) U_h into the candidate block of rec, which the first product left free.
            gemm<T>(ctx, false, false, B, 2 * H, H, T(1), hT, H, U, G, T(0), rec, G);
            launch(ctx, B * H, gru_gates_before_kernel<T>, T_, H, s, lengths, reverse, static_cast<const T*>(rec), b,
                   static_cast<const T*>(hT), gates, y, rh);
            gemm<T>(ctx, false, false, B, H, H, T(1), rh, H, U + 2 * H, G, T(0), rec + 2 * H, G);
            launch(ctx, B * H, gru_update_before_kernel<T>, T_, H, s, lengths, reverse,
                   static_cast<const T*>(rec + 2 * H), G, b, gates, y, hT);
        }
    }
}

template <typename T>
void rnn_run(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
             const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* rec) {
    if (B == 0 || H == 0) return;
    copy(ctx, h0, B * H, hT);
    project(ctx, B * T_, D, H, x, W, y);  // each step turns its slot of the projection into the state
    for (index_t s = 0; s < T_; ++s) {
        gemm<T>(ctx, false, false, B, H, H, T(1), hT, H, U, H, T(0), rec, H);
        launch(ctx, B * H, rnn_step_kernel<T>, T_, H, s, lengths, reverse, static_cast<const T*>(rec), b, y, hT);
    }
}

}  // namespace

// ---------------------------------------------------------------- LSTM

template <typename T>
void lstm_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* c0, const T* W, const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT,
                  T* cT, T* gates, T* c, T* work_rec) {
    lstm_run(ctx, B, T_, D, H, x, h0, c0, W, U, b, lengths, reverse, y, hT, cT, gates, c, work_rec);
}

template <typename T>
void lstm_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                   const T* c0, const T* W, const T* U, const index_t* lengths, bool reverse, const T* gates,
                   const T* c, const T* y, const T* dy, const T* dhT, const T* dcT, T* dx, T* dh0, T* dc0, T* dW,
                   T* dU, T* db, T* work_dgates, T* work_step, T* work_dh, T* work_hprev, T* work_x) {
    const index_t G = 4 * H;
    if (B == 0 || H == 0) return no_steps_backward(ctx, B, T_, D, H, G, G, dx, dh0, dc0, dW, dU, db);
    copy_or_zero(ctx, dhT, B * H, dh0);  // dh0, dc0 carry the running gradient back through time
    copy_or_zero(ctx, dcT, B * H, dc0);
    if (T_ == 0) {  // no step: the carry is the answer, the weights see nothing (dx is empty)
        zero(ctx, dW, D * G);
        zero(ctx, dU, H * G);
        return zero(ctx, db, G);
    }
    for (index_t s = T_ - 1; s >= 0; --s) {
        launch(ctx, B * H, lstm_grad_kernel<T>, T_, H, s, lengths, reverse, gates, c, c0, dy,
               static_cast<const T*>(work_dh), dh0, dc0, work_step, work_dgates);
        // dh_prev of every row; the next kernel takes it for the rows that ran this step.
        gemm<T>(ctx, false, true, B, H, G, T(1), work_step, G, U, G, T(0), work_dh, H);
    }
    launch(ctx, B * H, lstm_rnn_final_kernel<T>, T_, H, lengths, static_cast<const T*>(work_dh), dh0);
    weight_gradients(ctx, B, T_, D, H, G, x, h0, W, y, lengths, reverse, static_cast<const T*>(work_dgates), dx, dW,
                     dU, db, work_hprev, work_x);
}

template <typename T>
void lstm_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* c, const T* W,
               const T* U, const T* b, T* h_out, T* c_out, T* work_gates, T* work_rec) {
    // One step of the forward: y and its cache c land in h_out / c_out beside the final states (same values).
    lstm_run(ctx, B, 1, D, H, x, h, c, W, U, b, static_cast<const index_t*>(nullptr), false, h_out, h_out, c_out,
             work_gates, c_out, work_rec);
}

// ---------------------------------------------------------------- GRU

template <typename T>
void gru_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
                 const T* U, const T* b, bool reset_after, const index_t* lengths, bool reverse, T* y, T* hT,
                 T* gates, T* hr, T* work_rec, T* work_rh) {
    gru_run(ctx, B, T_, D, H, x, h0, W, U, b, reset_after, lengths, reverse, y, hT, gates, hr, work_rec, work_rh);
}

template <typename T>
void gru_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* W, const T* U, bool reset_after, const index_t* lengths, bool reverse, const T* gates,
                  const T* hr, const T* y, const T* dy, const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db,
                  T* work_dgx, T* work_dgr, T* work_step, T* work_drh, T* work_dh, T* work_hprev, T* work_x) {
    const index_t G = 3 * H, N = B * T_, nb = reset_after ? 2 * G : G;
    if (B == 0 || H == 0) return no_steps_backward(ctx, B, T_, D, H, G, nb, dx, dh0, static_cast<T*>(nullptr), dW, dU, db);
    copy_or_zero(ctx, dhT, B * H, dh0);  // dh0 carries the running gradient
    if (T_ == 0) {
        zero(ctx, dW, D * G);
        zero(ctx, dU, H * G);
        return zero(ctx, db, nb);
    }
    const T* dh_rec = work_dh;
    for (index_t s = T_ - 1; s >= 0; --s) {
        if (reset_after) {
            launch(ctx, B * H, gru_grad_kernel<T, true>, T_, H, s, lengths, reverse, gates, hr, y, h0, dy, dh_rec,
                   dh0, work_step, work_dgx, work_dgr);
            gemm<T>(ctx, false, true, B, H, G, T(1), work_step, G, U, G, T(0), work_dh, H);
        } else {
            launch(ctx, B * H, gru_grad_kernel<T, false>, T_, H, s, lengths, reverse, gates, hr, y, h0, dy, dh_rec,
                   dh0, work_step, work_dgx, work_dgr);
            // Gradient at r * h_prev through U_h, then dr and the reset path, then the z, r blocks through U_zr.
            gemm<T>(ctx, false, true, B, H, H, T(1), work_step + 2 * H, G, U + 2 * H, G, T(0), work_drh, H);
            launch(ctx, B * H, gru_reset_grad_kernel<T>, T_, H, s, lengths, reverse, gates, y, h0,
                   static_cast<const T*>(work_drh), dh0, work_step, work_dgx);
            gemm<T>(ctx, false, true, B, H, 2 * H, T(1), work_step, G, U, G, T(0), work_dh, H);
        }
    }
    launch(ctx, B * H, gru_final_kernel<T>, T_, H, lengths, dh_rec, dh0);
    input_gradients(ctx, B, T_, D, G, x, W, lengths, static_cast<const T*>(work_dgx), dx, dW, work_x);
    column_sums(ctx, static_cast<const T*>(work_dgx), N, G, G, db);
    previous_states(ctx, B, T_, H, h0, y, lengths, reverse, work_hprev);
    if (reset_after) {
        gemm<T>(ctx, true, false, H, G, N, T(1), work_hprev, H, work_dgr, G, T(0), dU, G);
        column_sums(ctx, static_cast<const T*>(work_dgr), N, G, G, db + G);
    } else {
        gemm<T>(ctx, true, false, H, 2 * H, N, T(1), work_hprev, H, work_dgx, G, T(0), dU, G);
        launch(ctx, N * H, times_reset_kernel<T>, H, gates, work_hprev);  // h_prev becomes r * h_prev
        gemm<T>(ctx, true, false, H, H, N, T(1), work_hprev, H, work_dgx + 2 * H, G, T(0), dU + 2 * H, G);
    }
}

template <typename T>
void gru_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U,
              const T* b, bool reset_after, T* h_out, T* work_gates, T* work_rec, T* work_h) {
    // reset_after uses work_h as the hr cache, reset_before as r * h_prev: one of the two, never both.
    gru_run(ctx, B, 1, D, H, x, h, W, U, b, reset_after, static_cast<const index_t*>(nullptr), false, h_out, h_out,
            work_gates, work_h, work_rec, work_h);
}

// ---------------------------------------------------------------- RNN

template <typename T>
void rnn_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
                 const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* work_rec) {
    rnn_run(ctx, B, T_, D, H, x, h0, W, U, b, lengths, reverse, y, hT, work_rec);
}

template <typename T>
void rnn_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* W, const T* U, const index_t* lengths, bool reverse, const T* y, const T* dy,
                  const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db, T* work_dgates, T* work_step, T* work_dh,
                  T* work_hprev, T* work_x) {
    if (B == 0 || H == 0) return no_steps_backward(ctx, B, T_, D, H, H, H, dx, dh0, static_cast<T*>(nullptr), dW, dU, db);
    copy_or_zero(ctx, dhT, B * H, dh0);
    if (T_ == 0) {
        zero(ctx, dW, D * H);
        zero(ctx, dU, H * H);
        return zero(ctx, db, H);
    }
    for (index_t s = T_ - 1; s >= 0; --s) {
        launch(ctx, B * H, rnn_grad_kernel<T>, T_, H, s, lengths, reverse, y, dy, static_cast<const T*>(work_dh),
               static_cast<const T*>(dh0), work_step, work_dgates);
        gemm<T>(ctx, false, true, B, H, H, T(1), work_step, H, U, H, T(0), work_dh, H);
    }
    launch(ctx, B * H, lstm_rnn_final_kernel<T>, T_, H, lengths, static_cast<const T*>(work_dh), dh0);
    weight_gradients(ctx, B, T_, D, H, H, x, h0, W, y, lengths, reverse, static_cast<const T*>(work_dgates), dx, dW,
                     dU, db, work_hprev, work_x);
}

template <typename T>
void rnn_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U,
              const T* b, T* h_out, T* work_proj, T* work_rec) {
    // The projection (the forward's y) needs its own buffer: h_out holds h, which the step's GEMM reads.
    rnn_run(ctx, B, 1, D, H, x, h, W, U, b, static_cast<const index_t*>(nullptr), false, work_proj, h_out, work_rec);
}

#define SEQCORE_CUDA_INSTANTIATE(T)                                                                                  \
    template void lstm_forward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*, const T*,  \
                                  const T*, const T*, const T*, const index_t*, bool, T*, T*, T*, T*, T*, T*);       \
    template void lstm_backward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*,           \
                                   const T*, const T*, const T*, const index_t*, bool, const T*, const T*, const T*, \
                                   const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, T*, T*, T*, T*, T*);        \
    template void lstm_cell<T>(const Context&, index_t, index_t, index_t, const T*, const T*, const T*, const T*,    \
                               const T*, const T*, T*, T*, T*, T*);                                                 \
    template void gru_forward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*, const T*,   \
                                 const T*, const T*, bool, const index_t*, bool, T*, T*, T*, T*, T*, T*);            \
    template void gru_backward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*, const T*,  \
                                  const T*, bool, const index_t*, bool, const T*, const T*, const T*, const T*,      \
                                  const T*, T*, T*, T*, T*, T*, T*, T*, T*, T*, T*, T*, T*);                         \
    template void gru_cell<T>(const Context&, index_t, index_t, index_t, const T*, const T*, const T*, const T*,     \
                              const T*, bool, T*, T*, T*, T*);                                                      \
    template void rnn_forward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*, const T*,   \
                                 const T*, const T*, const index_t*, bool, T*, T*, T*);                              \
    template void rnn_backward<T>(const Context&, index_t, index_t, index_t, index_t, const T*, const T*, const T*,  \
                                  const T*, const index_t*, bool, const T*, const T*, const T*, T*, T*, T*, T*, T*,  \
                                  T*, T*, T*, T*, T*);                                                              \
    template void rnn_cell<T>(const Context&, index_t, index_t, index_t, const T*, const T*, const T*, const T*,     \
                              const T*, T*, T*, T*);
SEQCORE_CUDA_INSTANTIATE(float)
SEQCORE_CUDA_INSTANTIATE(double)
#undef SEQCORE_CUDA_INSTANTIATE

}  // namespace cuda
}  // namespace seqcore
