#include "gemm.h"

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace seqcore {

namespace {
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
}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B,
          index_t ldb, bool accumulate, T* C, index_t ldc) {
    if (M == 0 || N == 0) return;
    View<T> c(C, M, N, Eigen::OuterStride<>(ldc));
    if (K == 0) {
        if (!accumulate) c.setZero();
        return;
    }
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

template void gemm<float>(bool, bool, index_t, index_t, index_t, const float*, index_t, const float*, index_t, bool,
                          float*, index_t);
template void gemm<double>(bool, bool, index_t, index_t, index_t, const double*, index_t, const double*, index_t,
                           bool, double*, index_t);

void set_num_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    Eigen::setNbThreads(n);
}

int get_num_threads() { return Eigen::nbThreads(); }

}  // namespace seqcore
