#include "gemm.h"

#include <Eigen/Core>
#include <algorithm>
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

namespace {
// Eigen's own kernel below its product expressions, called without a GemmParallelInfo: always serial.
// The storage order of a stored [rows, cols] row-major operand read transposed is column-major.
template <typename T, int OrderA, int OrderB>
void serial_product(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc) {
    namespace ei = Eigen::internal;
    ei::gemm_blocking_space<Eigen::RowMajor, T, T, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic> blocking(M, N, K, 1,
                                                                                                          true);
    ei::general_matrix_matrix_product<index_t, T, OrderA, false, T, OrderB, false, Eigen::RowMajor, 1>::run(
        M, N, K, A, lda, B, ldb, C, 1, ldc, alpha, blocking, nullptr);
}
}  // namespace

#ifdef EIGEN_VECTORIZE
// The tiles of a fused kernel are small (attention: 64 x 256 x 64): Eigen's product packs both operands into
// blocks on every call, a quarter of the time at these sizes.  This kernel reads them where they are: C is
// computed in strips of NR = 2 packets of columns, each strip of op(B) read in place (or, transposed or at the
// right edge, copied into a [K, NR] buffer on the stack), and within a strip MR = 6 rows at a time in 12 packet
// accumulators (6 x 2), each step broadcasting one element of a row of op(A) and multiplying it into the
// strip's row k.  op(A)'s element (i, k) sits at A[i * sai + k * sak], so A transposed needs no copy either.
template <typename T>
struct SmallGemm {
    using P = typename Eigen::internal::packet_traits<T>::type;
    static constexpr index_t L = Eigen::internal::packet_traits<T>::size;
    static constexpr index_t NR = 2 * L;
    static constexpr int MR = 6;
    static constexpr index_t kMaxK = 512;  // the stack strip: 512 x NR values (32 KiB)

    // C[0:mr, 0:NR] (+)= alpha * sum_k a(i, k) b[k, 0:NR]
    template <int mr>
    static void micro(index_t K, const T* a, index_t sai, index_t sak, const T* b, index_t ldb, T alpha,
                      bool accumulate, T* c, index_t ldc) {
        namespace ei = Eigen::internal;
        P acc0[mr], acc1[mr];
        for (int r = 0; r < mr; ++r) acc0[r] = acc1[r] = ei::pset1<P>(T(0));
        for (index_t k = 0; k < K; ++k) {
            const P b0 = ei::ploadu<P>(b + k * ldb), b1 = ei::ploadu<P>(b + k * ldb + L);
            const T* ak = a + k * sak;
            for (int r = 0; r < mr; ++r) {
                const P ar = ei::pset1<P>(ak[r * sai]);
                acc0[r] = ei::pmadd(ar, b0, acc0[r]);
                acc1[r] = ei::pmadd(ar, b1, acc1[r]);
            }
        }
        const P pa = ei::pset1<P>(alpha);
        for (int r = 0; r < mr; ++r) {
            T* cr = c + r * ldc;
            if (accumulate) {
                ei::pstoreu(cr, ei::pmadd(pa, acc0[r], ei::ploadu<P>(cr)));
                ei::pstoreu(cr + L, ei::pmadd(pa, acc1[r], ei::ploadu<P>(cr + L)));
            } else {
                ei::pstoreu(cr, ei::pmul(pa, acc0[r]));
                ei::pstoreu(cr + L, ei::pmul(pa, acc1[r]));
            }
        }
    }

    static void rows(index_t mr, index_t K, const T* a, index_t sai, index_t sak, const T* b, index_t ldb, T alpha,
                     bool accumulate, T* c, index_t ldc) {
        switch (mr) {
            case 6: return micro<6>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
            case 5: return micro<5>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
            case 4: return micro<4>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
            case 3: return micro<3>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
            case 2: return micro<2>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
            default: return micro<1>(K, a, sai, sak, b, ldb, alpha, accumulate, c, ldc);
        }
    }

    static void run(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
                    const T* B, index_t ldb, bool accumulate, T* C, index_t ldc) {
        const index_t sai = ta ? 1 : lda, sak = ta ? lda : 1;
        alignas(64) T strip[kMaxK * NR];
        alignas(64) T tile[MR * NR];
        for (index_t n0 = 0; n0 < N; n0 += NR) {
            const index_t w = std::min(NR, N - n0);
            const T* bs = B + n0;
            index_t lds = ldb;
            if (tb || w < NR) {  // op(B)[0:K, n0:n0+w] into the strip, zero-padded to NR columns
                for (index_t k = 0; k < K; ++k) std::fill(strip + k * NR + w, strip + (k + 1) * NR, T(0));
                if (tb)
                    for (index_t cidx = 0; cidx < w; ++cidx) {
                        const T* src = B + (n0 + cidx) * ldb;
                        for (index_t k = 0; k < K; ++k) strip[k * NR + cidx] = src[k];
                    }
                else
                    for (index_t k = 0; k < K; ++k) std::copy(B + k * ldb + n0, B + k * ldb + n0 + w, strip + k * NR);
                bs = strip;
                lds = NR;
            }
            for (index_t i0 = 0; i0 < M; i0 += MR) {
                const index_t mr = std::min<index_t>(MR, M - i0);
                T* c = C + i0 * ldc + n0;
                if (w == NR) {
                    rows(mr, K, A + i0 * sai, sai, sak, bs, lds, alpha, accumulate, c, ldc);
                    continue;
                }
                rows(mr, K, A + i0 * sai, sai, sak, bs, lds, alpha, false, tile, NR);
                for (index_t r = 0; r < mr; ++r)
                    for (index_t cidx = 0; cidx < w; ++cidx)
                        c[r * ldc + cidx] = (accumulate ? c[r * ldc + cidx] : T(0)) + tile[r * NR + cidx];
            }
        }
    }
};
#endif

template <typename T>
void gemm_serial(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
                 const T* B, index_t ldb, bool accumulate, T* C, index_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate) View<T>(C, M, N, Eigen::OuterStride<>(ldc)).setZero();
        return;
    }
#ifdef EIGEN_VECTORIZE
    if (K <= SmallGemm<T>::kMaxK) return SmallGemm<T>::run(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, accumulate, C, ldc);
#endif
    if (!accumulate) View<T>(C, M, N, Eigen::OuterStride<>(ldc)).setZero();
    constexpr int R = Eigen::RowMajor, Cm = Eigen::ColMajor;
    if (trans_a && trans_b)
        serial_product<T, Cm, Cm>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else if (trans_a)
        serial_product<T, Cm, R>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else if (trans_b)
        serial_product<T, R, Cm>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else
        serial_product<T, R, R>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

template void gemm_serial<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t, const float*,
                                 index_t, bool, float*, index_t);
template void gemm_serial<double>(bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                                  const double*, index_t, bool, double*, index_t);

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
