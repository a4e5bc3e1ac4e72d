// GEMM entry point of the kernel core.  Every matrix product of seqcore goes through
// here, so the library behind it (Eigen 3.4, see docs/gemm.md for the measurements that
// chose it) can be swapped in one place.
#pragma once

#include "dims.h"

namespace seqcore {

// C[M,N] (+)= op(A) op(B), all row-major.
//   op(A): [M,K], stored [M,K] with row stride lda, or [K,M] when trans_a.
//   op(B): [K,N], stored [K,N] with row stride ldb, or [N,K] when trans_b.
//   accumulate: false overwrites C, true adds to it.
//   per_step: the product repeats at every step of a time loop, so the GEMM library's
//     threads stay awake between calls and may be used for smaller products.
template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B,
          index_t ldb, bool accumulate, T* C, index_t ldc, bool per_step = false);

// C[M,N] = beta C + alpha op(A) op(B) on the calling thread only, whatever the size and the thread settings
// (beta is 0 or 1, `accumulate`; other arguments as for gemm).  For kernels that run their own workers
// (attention's tiles): there a product must not start a team of its own, neither OpenBLAS's (its threads would
// nest in ours) nor Eigen's OpenMP one.  With SIMD and K <= 512 a small register-blocked kernel that reads
// A and B in place (no packing, docs/gemm.md); otherwise Eigen's product kernel, whose packing buffers go to
// the heap past 128 KiB: it may throw std::bad_alloc, so workers catch it and the calling thread rethrows.
template <typename T>
void gemm_serial(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
                 const T* B, index_t ldb, bool accumulate, T* C, index_t ldc);

// Whether a product of this shape repeated at every step (per_step) runs on the GEMM
// library's threads, which are then awake right after such a time loop: the one-off
// products that follow may use them from the per-step size on.
bool gemm_threads_awake(index_t M, index_t N, index_t K);

// Threads used by GEMMs and by the element-wise kernels (OpenMP when built with it).
void set_num_threads(int n);
int get_num_threads();

// Which library runs the GEMMs, for `seqcore info`.
const char* gemm_library();

// Element-wise loops smaller than this run on the calling thread: below it, waking the
// OpenMP team costs more than the work (measured on the 2-core build machine).
constexpr index_t kParallelGrain = 1 << 15;

}  // namespace seqcore
