#include "gemm.h"

#include <climits>

namespace seqcore {
namespace cuda {

const char* cublas_status_name(cublasStatus_t status) {
    // cublasGetStatusString exists since CUDA 11.4; the name alone is enough for an error message.
    return cublasGetStatusString(status);
}

namespace {

int as_int(index_t v, const char* what) {
    // cuBLAS's classic API takes int sizes; the 64-bit (_64) API is newer than some toolkits we build on.
    if (v < 0 || v > INT_MAX) fail("gemm", (std::string(what) + " does not fit cuBLAS's int").c_str(), __FILE__, __LINE__);
    return static_cast<int>(v);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                         const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                         float* C, int ldc) {
    return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                         const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta,
                         double* C, int ldc) {
    return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
cublasStatus_t batched_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float* alpha, const float* A, int lda, long long sa, const float* B, int ldb,
                            long long sb, const float* beta, float* C, int ldc, long long sc, int count) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, count);
}
cublasStatus_t batched_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const double* alpha, const double* A, int lda, long long sa, const double* B, int ldb,
                            long long sb, const double* beta, double* C, int ldc, long long sc, int count) {
    return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, count);
}

}  // namespace

template <typename T>
void gemm(const Context& ctx, bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0 && beta == T(1)) return;
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap operands, keep flags.
    SEQCORE_CUBLAS_CHECK(gemm_call(ctx.blas, op(trans_b), op(trans_a), as_int(N, "N"), as_int(M, "M"), as_int(K, "K"),
                                   &alpha, B, as_int(ldb, "ldb"), A, as_int(lda, "lda"), &beta, C, as_int(ldc, "ldc")));
}

template <typename T>
void gemm_strided_batched(const Context& ctx, bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
                          const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb, index_t stride_b, T beta,
                          T* C, index_t ldc, index_t stride_c, index_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    SEQCORE_CUBLAS_CHECK(batched_call(ctx.blas, op(trans_b), op(trans_a), as_int(N, "N"), as_int(M, "M"),
                                      as_int(K, "K"), &alpha, B, as_int(ldb, "ldb"), stride_b, A, as_int(lda, "lda"),
                                      stride_a, &beta, C, as_int(ldc, "ldc"), stride_c, as_int(batch, "batch")));
}

template void gemm<float>(const Context&, bool, bool, index_t, index_t, index_t, float, const float*, index_t,
                          const float*, index_t, float, float*, index_t);
template void gemm<double>(const Context&, bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                           const double*, index_t, double, double*, index_t);
template void gemm_strided_batched<float>(const Context&, bool, bool, index_t, index_t, index_t, float, const float*,
                                          index_t, index_t, const float*, index_t, index_t, float, float*, index_t,
                                          index_t, index_t);
template void gemm_strided_batched<double>(const Context&, bool, bool, index_t, index_t, index_t, double,
                                           const double*, index_t, index_t, const double*, index_t, index_t, double,
                                           double*, index_t, index_t, index_t);

}  // namespace cuda
}  // namespace seqcore
