#include "gemm.h"

#include <Eigen/Core>
#include <limits>
#include <mutex>
#include <shared_mutex>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef SEQCORE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace seqcore {

namespace {
// The GEMM library's thread count is the core's one piece of mutable global state.  OpenBLAS does
// not guard a change of it against products running on other threads (kernels run with the GIL
// released), so products hold this lock shared and set_num_threads holds it exclusively.
std::shared_mutex threads_mutex;

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstView = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using View = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <typename T, typename L, typename R>
void assign(View<T>& c, const L& a, const R& b, bool accumulate) {
    if (accumulate)
        c.noalias() += a * b;
    else
        c.noalias() = a * b;
}

template <typename T>
void eigen_gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B,
                index_t ldb, bool accumulate, T* C, index_t ldc) {
    View<T> c(C, M, N, Eigen::OuterStride<>(ldc));
    const ConstView<T> a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
    const ConstView<T> b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
    if (trans_a && trans_b)
        assign<T>(c, a.transpose(), b.transpose(), accumulate);
    else if (trans_a)
        assign<T>(c, a.transpose(), b, accumulate);
    else if (trans_b)
        assign<T>(c, a, b.transpose(), accumulate);
    else
        assign<T>(c, a, b, accumulate);
}

#ifdef SEQCORE_HAVE_OPENBLAS
// Where OpenBLAS takes over from Eigen (docs/gemm.md).  OpenBLAS is faster per FLOP from
// about a million multiply-adds, but it threads those products, and its workers sleep
// after ~0.3 ms idle: waking them on a virtual machine was measured at up to 10 ms.  A
// product repeated at every step keeps them awake, so it moves to OpenBLAS from 2^20; a
// one-off product (input projection, weight gradient) only from 2^24, where the product
// itself outweighs a wake-up.  Matrix-vector shapes stay on Eigen.
constexpr double kBlasMinMacsPerStep = 1 << 20;
constexpr double kBlasMinMacsOnce = 1 << 24;

bool blas_fits(index_t M, index_t N, index_t K, index_t lda, index_t ldb, index_t ldc, bool per_step) {
    constexpr index_t kMax = std::numeric_limits<blasint>::max();
    const double macs = double(M) * double(N) * double(K);
    if (M < 2 || N < 2 || macs < (per_step ? kBlasMinMacsPerStep : kBlasMinMacsOnce)) return false;
    return M <= kMax && N <= kMax && K <= kMax && lda <= kMax && ldb <= kMax && ldc <= kMax;
}

void blas(bool ta, bool tb, index_t M, index_t N, index_t K, const float* A, index_t lda, const float* B,
          index_t ldb, float beta, float* C, index_t ldc) {
    scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(M),
                      blasint(N), blasint(K), 1.0f, A, blasint(lda), B, blasint(ldb), beta, C, blasint(ldc));
}

void blas(bool ta, bool tb, index_t M, index_t N, index_t K, const double* A, index_t lda, const double* B,
          index_t ldb, double beta, double* C, index_t ldc) {
    scipy_cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(M),
                      blasint(N), blasint(K), 1.0, A, blasint(lda), B, blasint(ldb), beta, C, blasint(ldc));
}
#endif
}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B,
          index_t ldb, bool accumulate, T* C, index_t ldc, bool per_step) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate) View<T>(C, M, N, Eigen::OuterStride<>(ldc)).setZero();
        return;
    }
#ifdef SEQCORE_HAVE_OPENBLAS
    if (blas_fits(M, N, K, lda, ldb, ldc, per_step)) {
        std::shared_lock<std::shared_mutex> lock(threads_mutex);
        return blas(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate ? T(1) : T(0), C, ldc);
    }
#else
    (void)per_step;
#endif
    eigen_gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate, C, ldc);
}

template void gemm<float>(bool, bool, index_t, index_t, index_t, const float*, index_t, const float*, index_t, bool,
                          float*, index_t, bool);
template void gemm<double>(bool, bool, index_t, index_t, index_t, const double*, index_t, const double*, index_t,
                           bool, double*, index_t, bool);

bool gemm_threads_awake(index_t M, index_t N, index_t K) {
#ifdef SEQCORE_HAVE_OPENBLAS
    return get_num_threads() > 1 && blas_fits(M, N, K, K, N, N, true);
#else
    (void)M, (void)N, (void)K;
    return false;
#endif
}

void set_num_threads(int n) {
    std::unique_lock<std::shared_mutex> lock(threads_mutex);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef SEQCORE_HAVE_OPENBLAS
    scipy_openblas_set_num_threads(n);
#endif
    Eigen::setNbThreads(n);
}

int get_num_threads() {
#ifdef SEQCORE_HAVE_OPENBLAS
    return scipy_openblas_get_num_threads();
#else
    return Eigen::nbThreads();
#endif
}

const char* gemm_library() {
#ifdef SEQCORE_HAVE_OPENBLAS
    return "OpenBLAS (scipy-openblas32, bundled) from 2^20 multiply-adds per step / 2^24 once, Eigen below";
#else
    return "Eigen";
#endif
}

}  // namespace seqcore
