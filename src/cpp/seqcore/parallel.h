// Row-parallel loops for the fused element-wise kernels.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "dims.h"
#include "gemm.h"

namespace seqcore {

// Calls f(b) for b in [0, B), on the OpenMP team when rows * row_cost is worth it.
template <typename F>
inline void for_rows(index_t B, index_t row_cost, F&& f) {
#ifdef _OPENMP
    const int threads = get_num_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && B > 1 && B * row_cost >= kParallelGrain)
#else
    (void)row_cost;
#endif
    for (index_t b = 0; b < B; ++b) f(b);
}

template <typename T>
inline void copy_n(const T* src, index_t n, T* dst) {
    if (n > 0) std::memcpy(dst, src, sizeof(T) * static_cast<size_t>(n));
}

template <typename T>
inline void zero_n(T* dst, index_t n) {
    if (n > 0) std::fill(dst, dst + n, T(0));
}

// Zeroes positions t >= lengths[b] of a [B,T,K] array (nothing when lengths is null).
template <typename T>
inline void zero_padding(T* a, index_t B, index_t T_, index_t K, const index_t* lengths) {
    if (!lengths) return;
    for (index_t b = 0; b < B; ++b) zero_n(a + (b * T_ + lengths[b]) * K, (T_ - lengths[b]) * K);
}

// Hprev[b,t] = the state step t started from: h0[b] for a row's first step, else y at the
// previous time index.  Padding rows are zero.  Hprev, y: [B,T,H]; h0: [B,H].
template <typename T>
inline void previous_states(index_t B, index_t T_, index_t H, const T* h0, const T* y, const index_t* lengths,
                            bool reverse, T* Hprev) {
    for_rows(B, T_ * H, [&](index_t b) {
        const index_t L = lengths ? lengths[b] : T_;
        for (index_t s = 0; s < L; ++s) {
            const index_t t = reverse ? L - 1 - s : s;
            const T* src = s == 0 ? h0 + b * H : y + (b * T_ + prev_time(t, reverse)) * H;
            copy_n(src, H, Hprev + (b * T_ + t) * H);
        }
        zero_n(Hprev + (b * T_ + L) * H, (T_ - L) * H);
    });
}

// out[k] = sum over rows of a[N,K] with row stride lda (the bias gradient), summed in
// double so a float32 sum over T*B rows keeps float32 accuracy.
template <typename T>
inline void column_sums(const T* a, index_t N, index_t K, index_t lda, T* out) {
    std::vector<double> acc(static_cast<size_t>(K), 0.0);
    for (index_t n = 0; n < N; ++n) {
        const T* row = a + n * lda;
        for (index_t k = 0; k < K; ++k) acc[k] += row[k];
    }
    for (index_t k = 0; k < K; ++k) out[k] = static_cast<T>(acc[k]);
}

}  // namespace seqcore
