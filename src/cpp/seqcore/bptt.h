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
template <typename T>
inline void input_gradients(index_t N, index_t D, index_t K, const T* x, const T* W, const T* dG, T* dx, T* dW) {
    gemm<T>(false, true, N, D, K, dG, K, W, K, false, dx, D);
    gemm<T>(true, false, D, K, N, x, D, dG, K, false, dW, K);
}

// dU[H,K] = Hprev^T dG over N rows; dG has row stride ldg, dU row stride ldu.
template <typename T>
inline void recurrent_gradient(index_t N, index_t H, index_t K, const T* Hprev, const T* dG, index_t ldg, T* dU,
                               index_t ldu) {
    gemm<T>(true, false, H, K, N, Hprev, H, dG, ldg, false, dU, ldu);
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
