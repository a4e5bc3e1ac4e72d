#include "gelu.h"

#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "activations.h"
#include "parallel.h"

namespace seqcore {

namespace {

constexpr double kRsqrt2 = 0.70710678118654752440;     // 1/sqrt(2)
constexpr double kRsqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2 pi)
constexpr double kTanhC = 0.79788456080286535588;      // sqrt(2/pi)
constexpr double kTanhA = 0.044715;
constexpr double kSech2Zero = 20.0;  // |x| past which the tanh form's 1 - tanh(u)^2 is negligible (exp(-600))

template <typename T>
struct Scalar {
    static T fwd(T x, bool approx) {
        if (approx) return T(0.5) * x * (T(1) + std::tanh(T(kTanhC) * (x + T(kTanhA) * x * x * x)));
        return T(0.5) * x * (T(1) + std::erf(x * T(kRsqrt2)));
    }
    static T bwd(T x, T g, bool approx) {
        if (approx) {
            const T t = std::tanh(T(kTanhC) * (x + T(kTanhA) * x * x * x));
            // Past |x| = kSech2Zero the factor 1 - t^2 is 0 in float and below 1e-260 in double: clamping x in the
            // slope's polynomial keeps x * x finite (0 * inf would be NaN), so the limits at +-inf are 1 and 0.
            // The reference and numba clamp the same way.
            const T xs = std::clamp(x, T(-kSech2Zero), T(kSech2Zero));
            return g * (T(0.5) * (T(1) + t) +
                        T(0.5) * xs * (T(1) - t * t) * T(kTanhC) * (T(1) + T(3 * kTanhA) * xs * xs));
        }
        return g * (T(0.5) * (T(1) + std::erf(x * T(kRsqrt2))) + x * T(kRsqrt2Pi) * std::exp(T(-0.5) * x * x));
    }
};

#ifdef EIGEN_VECTORIZE
using P = detail::PacketF;
namespace ei = Eigen::internal;

inline P c(float v) { return ei::pset1<P>(v); }

// The tanh form through e = exp(-2|u|): 1 + tanh(u) = 2/(1+e) for u >= 0 and 2e/(1+e) below, and
// 1 - tanh(u)^2 = 4e/(1+e)^2, free of the cancellation of 1 + t and 1 - t^2 once tanh rounds to +-1
// (the gradient for |x| > 4 would come out as 0 where it is 1e-6 relative to dy).
struct TanhParts {
    P one_plus_t, sech2;
};

inline TanhParts tanh_parts(const P& x, const P& x2) {
    const P u = ei::pmul(c(float(kTanhC)), ei::pmadd(ei::pmul(c(float(kTanhA)), x), x2, x));
    const P e = detail::exp_packet(ei::pmul(c(-2.0f), ei::pabs(u)));
    const P inv = ei::pdiv(c(1.0f), ei::padd(c(1.0f), e));
    const P two_inv = ei::pmul(c(2.0f), inv);
    return {ei::pselect(ei::pcmp_lt(u, ei::pzero(u)), ei::pmul(e, two_inv), two_inv),
            ei::pmul(ei::pmul(c(4.0f), e), ei::pmul(inv, inv))};
}

inline P fwd_packet(const P& x, bool approx) {
    const P half_x = ei::pmul(c(0.5f), x);
    if (approx) return ei::pmul(half_x, tanh_parts(x, ei::pmul(x, x)).one_plus_t);
    return ei::pmadd(half_x, ei::perf(ei::pmul(x, c(float(kRsqrt2)))), half_x);
}

inline P bwd_packet(const P& x, const P& g, bool approx) {
    const P x2 = ei::pmul(x, x);
    if (approx) {
        const TanhParts t = tanh_parts(x, x2);
        // sech2 is exactly 0 past |x| = kSech2Zero; the clamp keeps x^2 finite there (0 * inf would be NaN).
        // A NaN x still gives NaN through one_plus_t.
        const P xs = ei::pmax(ei::pmin(x, c(float(kSech2Zero))), c(float(-kSech2Zero)));
        const P slope =
            ei::pmul(c(float(kTanhC)), ei::pmadd(c(float(3 * kTanhA)), ei::pmul(xs, xs), c(1.0f)));
        const P right = ei::pmul(ei::pmul(c(0.5f), xs), ei::pmul(t.sech2, slope));
        return ei::pmul(g, ei::pmadd(c(0.5f), t.one_plus_t, right));
    }
    const P cdf = ei::pmul(c(0.5f), ei::padd(c(1.0f), ei::perf(ei::pmul(x, c(float(kRsqrt2))))));
    const P pdf = ei::pmul(c(float(kRsqrt2Pi)), detail::exp_packet(ei::pmul(c(-0.5f), x2)));
    return ei::pmul(g, ei::pmadd(x, pdf, cdf));
}
#endif

// Runs f(begin, end) over [0, R) in chunks, chunks in parallel where the loop is worth a team.
template <typename F>
void chunks(index_t R, index_t cost, F&& f) {
    constexpr index_t kChunk = 1 << 12;
    const index_t n = (R + kChunk - 1) / kChunk;
    for_rows(n, kChunk * cost, [&](index_t b) { f(b * kChunk, std::min(R, (b + 1) * kChunk)); });
}

}  // namespace

template <typename T>
void gelu_forward(index_t R, const T* x, bool approximate, T* y) {
    chunks(R, 8, [&](index_t lo, index_t hi) {
#ifdef EIGEN_VECTORIZE
        if constexpr (std::is_same_v<T, float>) {
            constexpr index_t W = detail::kLanes;
            index_t i = lo;
            for (; i + W <= hi; i += W) ei::pstoreu(y + i, fwd_packet(ei::ploadu<P>(x + i), approximate));
            if (i < hi) {
                alignas(64) float tail[W] = {};
                std::copy(x + i, x + hi, tail);
                ei::pstore(tail, fwd_packet(ei::pload<P>(tail), approximate));
                std::copy(tail, tail + (hi - i), y + i);
            }
            return;
        }
#endif
        for (index_t i = lo; i < hi; ++i) y[i] = Scalar<T>::fwd(x[i], approximate);
    });
}

template <typename T>
void gelu_backward(index_t R, const T* x, const T* dy, bool approximate, T* dx) {
    chunks(R, 12, [&](index_t lo, index_t hi) {
#ifdef EIGEN_VECTORIZE
        if constexpr (std::is_same_v<T, float>) {
            constexpr index_t W = detail::kLanes;
            index_t i = lo;
            for (; i + W <= hi; i += W)
                ei::pstoreu(dx + i, bwd_packet(ei::ploadu<P>(x + i), ei::ploadu<P>(dy + i), approximate));
            if (i < hi) {
                alignas(64) float tx[W] = {}, tg[W] = {};
                std::copy(x + i, x + hi, tx);
                std::copy(dy + i, dy + hi, tg);
                ei::pstore(tx, bwd_packet(ei::pload<P>(tx), ei::pload<P>(tg), approximate));
                std::copy(tx, tx + (hi - i), dx + i);
            }
            return;
        }
#endif
        for (index_t i = lo; i < hi; ++i) dx[i] = Scalar<T>::bwd(x[i], dy[i], approximate);
    });
}

template void gelu_forward<float>(index_t, const float*, bool, float*);
template void gelu_forward<double>(index_t, const double*, bool, double*);
template void gelu_backward<float>(index_t, const float*, const float*, bool, float*);
template void gelu_backward<double>(index_t, const double*, const double*, bool, double*);

}  // namespace seqcore
