// Pieces every recurrent backward shares.
#pragma once

#include <memory>

#include "dims.h"
#include "gemm.h"
#include "parallel.h"

namespace seqcore {

// Uninitialised scratch memory (the kernels write before they read).
template <typename T>
inline std::unique_ptr<T[]> scratch(index_t n) {
    return std::unique_ptr<T[]>(new T[static_cast<size_t>(n > 0 ? n : 1)]);
}

// The GEMMs after the time loop, over all N = B*T rows at once:
//   dx[N,D] = dG[N,K] W^T,   dW[D,K] = x^T dG   (W: [D,K], K = G*H).
// awake: the loop's per-step products kept the GEMM library's threads busy (gemm_threads_awake),
// so these products use them from the per-step size on instead of paying for a wake-up.
template <typename T>
inline void input_gradients(index_t N, index_t D, index_t K, const T* x, const T* W, const T* dG, T* dx, T* dW,
                            bool awake) {
    gemm<T>(false, true, N, D, K, dG, K, W, K, false, dx, D, awake);
    gemm<T>(true, false, D, K, N, x, D, dG, K, false, dW, K, awake);
}

// dU[H,K] = Hprev^T dG over N rows; dG has row stride ldg, dU row stride ldu.
template <typename T>
inline void recurrent_gradient(index_t N, index_t H, index_t K, const T* Hprev, const T* dG, index_t ldg, T* dU,
                               index_t ldu, bool awake) {
    gemm<T>(true, false, H, K, N, Hprev, H, dG, ldg, false, dU, ldu, awake);
}

// x for the weight-gradient GEMM: padding rows hold whatever the caller left there (NaN
// included) and 0 * NaN is NaN, so when any row is short, a copy with padding zeroed.
template <typename T>
inline const T* x_without_padding(const T* x, index_t B, index_t T_, index_t D, const index_t* lengths,
                                  std::unique_ptr<T[]>& keep) {
    if (!lengths) return x;
    bool padded = false;
    for (index_t b = 0; b < B; ++b) padded |= lengths[b] < T_;
    if (!padded) return x;
    keep = scratch<T>(B * T_ * D);
    copy_n(x, B * T_ * D, keep.get());
    zero_padding(keep.get(), B, T_, D, lengths);
    return keep.get();
}

// The GEMMs after the loop of a backward whose input and recurrent weights see the same
// gate gradients dG [B*T,K] (LSTM, RNN): dx, dW, db, and dU over the states each step
// started from.
template <typename T>
inline void weight_gradients(index_t B, index_t T_, index_t D, index_t H, index_t K, const T* x, const T* h0,
                             const T* W, const T* y, const index_t* lengths, bool reverse, const T* dG, T* dx, T* dW,
                             T* dU, T* db) {
    const index_t N = B * T_;
    const bool awake = gemm_threads_awake(B, K, H);  // the loop's per-step product dG U^T
    std::unique_ptr<T[]> x_copy;
    input_gradients(N, D, K, x_without_padding(x, B, T_, D, lengths, x_copy), W, dG, dx, dW, awake);
    zero_padding(dx, B, T_, D, lengths);  // padding rows of dG are zero, but 0 * a NaN in W is not
    column_sums(dG, N, K, K, db);
    auto Hprev = scratch<T>(N * H);
    previous_states(B, T_, H, h0, y, lengths, reverse, Hprev.get());
    recurrent_gradient(N, H, K, Hprev.get(), dG, K, dU, K, awake);
}

// The backward of a call without rows or without units (B == 0 or H == 0): no step computes
// anything, so every gradient is zero, and returning before the time loop keeps a T of 2**40
// from spinning through empty steps.  dx [B,T,D]; dh0, dc0 (may be null) [B,H]; dW [D,G];
// dU [H,G]; db [nb].
template <typename T>
inline void no_steps_backward(index_t B, index_t T_, index_t D, index_t H, index_t G, index_t nb, T* dx, T* dh0,
                              T* dc0, T* dW, T* dU, T* db) {
    zero_n(dx, B * T_ * D);  // empty when B == 0; a real array when only H == 0
    zero_n(dh0, B * H);
    if (dc0) zero_n(dc0, B * H);
    zero_n(dW, D * G);
    zero_n(dU, H * G);
    zero_n(db, nb);
}

// Starts the carried gradient: a copy of the given final-state gradient, or zeros.
template <typename T>
inline void init_carry(const T* given, index_t n, T* carry) {
    if (given)
        copy_n(given, n, carry);
    else
        zero_n(carry, n);
}

}  // namespace seqcore
