// Row-major GEMMs on cuBLAS (which is column-major) for float and double.
//
// C[M,N] = alpha * op(A) op(B) + beta * C, every matrix row-major with its leading
// dimension (row stride) given: op(A) is [M,K] (A is [K,M] when trans_a), op(B) is [K,N]
// (B is [N,K] when trans_b).  The row-major product is the column-major product of the
// transposes, C^T = op(B)^T op(A)^T, so the call swaps the operands and keeps the flags.
// Math mode is the handle's: seqcore leaves cuBLAS's default (full float32, no TF32), so
// results match the CPU reference to float32 rounding.
#pragma once

#include "common.h"

namespace seqcore {
namespace cuda {

template <typename T>
void gemm(const Context& ctx, bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

// The same product for `batch` matrices at fixed strides (elements) apart.
template <typename T>
void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
                          const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb, index_t stride_b, T beta,
                          T* C, index_t ldc, index_t stride_c, index_t batch);

}  // namespace cuda
}  // namespace seqcore
