#include "norm.h"

#include <cmath>
#include <vector>

#include "parallel.h"

// No fused multiply-add contraction below: the backward subtracts mean(dy * gamma) from each
// dy * gamma, and a product fused into the sum but rounded where it is used again leaves
// ulp(dy * gamma) * rstd where NumPy gives exactly 0 (one feature a row, or one row a batch).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace seqcore {

namespace {

// sum(a[0..n)) in double, four interleaved partial sums (independent chains, no reordering within each).
template <typename T>
inline double sum_double(const T* a, index_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    index_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += static_cast<double>(a[k]);
        s1 += static_cast<double>(a[k + 1]);
        s2 += static_cast<double>(a[k + 2]);
        s3 += static_cast<double>(a[k + 3]);
    }
    for (; k < n; ++k) s0 += static_cast<double>(a[k]);
    return (s0 + s1) + (s2 + s3);
}

// sum((a - mean)^2) in double.
template <typename T>
inline double sum_sq_dev(const T* a, index_t n, double mean) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    index_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const double d0 = a[k] - mean, d1 = a[k + 1] - mean, d2 = a[k + 2] - mean, d3 = a[k + 3] - mean;
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; k < n; ++k) {
        const double d = a[k] - mean;
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

// dgamma[f] = sum_n T(dy * xhat), dbeta[f] = sum_n dy, accumulated in double over the rows in order.
template <typename T>
inline void scale_shift_gradients(index_t N, index_t F, const T* xhat, const T* dy, T* dgamma, T* dbeta) {
    std::vector<double> g(static_cast<size_t>(F), 0.0), b(static_cast<size_t>(F), 0.0);
    for (index_t n = 0; n < N; ++n) {
        const T *xr = xhat + n * F, *dr = dy + n * F;
        for (index_t f = 0; f < F; ++f) {
            g[f] += static_cast<double>(dr[f] * xr[f]);
            b[f] += static_cast<double>(dr[f]);
        }
    }
    for (index_t f = 0; f < F; ++f) {
        dgamma[f] = static_cast<T>(g[f]);
        dbeta[f] = static_cast<T>(b[f]);
    }
}

}  // namespace

template <typename T>
void layer_norm_forward(index_t N, index_t F, const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat,
                        T* mean, T* rstd) {
    for_rows(N, 4 * F, [&](index_t n) {
        const T* xr = x + n * F;
        T *yr = y + n * F, *hr = xhat + n * F;
        const double m = sum_double(xr, F) / static_cast<double>(F);
        const double r = 1.0 / std::sqrt(sum_sq_dev(xr, F, m) / static_cast<double>(F) + eps);
        for (index_t f = 0; f < F; ++f) {
            const T h = static_cast<T>((xr[f] - m) * r);
            hr[f] = h;
            yr[f] = h * gamma[f] + beta[f];
        }
        mean[n] = static_cast<T>(m);
        rstd[n] = static_cast<T>(r);
    });
}

template <typename T>
void layer_norm_backward(index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta) {
    for_rows(N, 4 * F, [&](index_t n) {
        const T *hr = xhat + n * F, *dr = dy + n * F;
        T* out = dx + n * F;
        double a = 0, b = 0;
        for (index_t f = 0; f < F; ++f) {
            const double d = static_cast<double>(dr[f] * gamma[f]);
            a += d;
            b += d * static_cast<double>(hr[f]);
        }
        a /= static_cast<double>(F);
        b /= static_cast<double>(F);
        const double r = static_cast<double>(rstd[n]);
        for (index_t f = 0; f < F; ++f) {
            const double d = static_cast<double>(dr[f] * gamma[f]);
            out[f] = static_cast<T>(r * (d - a - static_cast<double>(hr[f]) * b));
        }
    });
    scale_shift_gradients(N, F, xhat, dy, dgamma, dbeta);
}

template <typename T>
void batch_norm_forward(index_t N, index_t F, const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat,
                        T* mean, T* var, T* rstd) {
    std::vector<double> m(static_cast<size_t>(F), 0.0), v(static_cast<size_t>(F), 0.0), r(static_cast<size_t>(F));
    for (index_t n = 0; n < N; ++n)
        for (index_t f = 0; f < F; ++f) m[f] += static_cast<double>(x[n * F + f]);
    for (index_t f = 0; f < F; ++f) m[f] /= static_cast<double>(N);
    for (index_t n = 0; n < N; ++n)
        for (index_t f = 0; f < F; ++f) {
            const double d = x[n * F + f] - m[f];
            v[f] += d * d;
        }
    for (index_t f = 0; f < F; ++f) {
        v[f] /= static_cast<double>(N);
        r[f] = 1.0 / std::sqrt(v[f] + eps);
        mean[f] = static_cast<T>(m[f]);
        var[f] = static_cast<T>(v[f]);
        rstd[f] = static_cast<T>(r[f]);
    }
    for_rows(N, 4 * F, [&](index_t n) {
        const T* xr = x + n * F;
        T *yr = y + n * F, *hr = xhat + n * F;
        for (index_t f = 0; f < F; ++f) {
            const T h = static_cast<T>((xr[f] - m[f]) * r[f]);
            hr[f] = h;
            yr[f] = h * gamma[f] + beta[f];
        }
    });
}

template <typename T>
void batch_norm_backward(index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta) {
    std::vector<double> a(static_cast<size_t>(F), 0.0), b(static_cast<size_t>(F), 0.0);
    for (index_t n = 0; n < N; ++n) {
        const T *hr = xhat + n * F, *dr = dy + n * F;
        for (index_t f = 0; f < F; ++f) {
            const double d = static_cast<double>(dr[f] * gamma[f]);
            a[f] += d;
            b[f] += d * static_cast<double>(hr[f]);
        }
    }
    for (index_t f = 0; f < F; ++f) {
        a[f] /= static_cast<double>(N);
        b[f] /= static_cast<double>(N);
    }
    for_rows(N, 4 * F, [&](index_t n) {
        const T *hr = xhat + n * F, *dr = dy + n * F;
        T* out = dx + n * F;
        for (index_t f = 0; f < F; ++f) {
            const double d = static_cast<double>(dr[f] * gamma[f]);
            out[f] = static_cast<T>(static_cast<double>(rstd[f]) * (d - a[f] - static_cast<double>(hr[f]) * b[f]));
        }
    });
    scale_shift_gradients(N, F, xhat, dy, dgamma, dbeta);
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void layer_norm_forward<T>(index_t, index_t, const T*, const T*, const T*, double, T*, T*, T*, T*); \
    template void layer_norm_backward<T>(index_t, index_t, const T*, const T*, const T*, const T*, T*, T*, T*);  \
    template void batch_norm_forward<T>(index_t, index_t, const T*, const T*, const T*, double, T*, T*, T*, T*,  \
                                        T*);                                                                    \
    template void batch_norm_backward<T>(index_t, index_t, const T*, const T*, const T*, const T*, T*, T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
