// Element-wise math for the fused kernels: sigmoid, tanh and exp over a span, in place.
//
// float32 runs Eigen's SIMD packet functions (pexp: about 2e-7 relative; ptanh: 2.7e-7)
// on every element, the last partial packet included (through a padded copy): Eigen's
// array expressions would send the unaligned head and the tail of a span to the scalar
// std:: functions instead, so a result would depend on where the array sits in memory.
// This way equal inputs give bit-equal outputs wherever they live.  sigmoid is
// 1 / (1 + exp(-x)): Eigen's logistic() loses relative accuracy on small outputs (8e-4
// measured), too much for gates that multiply states.
// float64 uses the std:: functions element by element: exact to NumPy, and exp(-inf) is
// exactly 0 (Eigen's vector double exp gives denormals far below -708).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "dims.h"

namespace seqcore {

template <typename T>
using Vec = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using CVec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

namespace detail {

using PacketF = Eigen::internal::packet_traits<float>::type;
constexpr index_t kLanes = Eigen::internal::packet_traits<float>::size;

// a[k] = op(a[k]) for float spans, always through whole packets.
template <typename Op>
inline void packets(float* a, index_t n, Op op) {
    namespace ei = Eigen::internal;
    index_t k = 0;
    for (; k + kLanes <= n; k += kLanes) ei::pstoreu(a + k, op(ei::ploadu<PacketF>(a + k)));
    if (k < n) {
        alignas(64) float tail[kLanes] = {};
        std::copy(a + k, a + n, tail);
        ei::pstore(tail, op(ei::pload<PacketF>(tail)));
        std::copy(tail, tail + (n - k), a + k);
    }
}

inline PacketF sigmoid_packet(const PacketF& x) {
    namespace ei = Eigen::internal;
    const PacketF one = ei::pset1<PacketF>(1.0f);
    return ei::pdiv(one, ei::padd(one, ei::pexp(ei::pnegate(x))));
}

// Eigen's pexp clamps its argument at about -88.4, so exp(-inf) would come out as 2.9e-39 and a masked
// logit would keep probability and gradient.  Below log(FLT_MIN) IEEE exp is subnormal or zero; it is
// zero here (off by under 1.2e-38 absolute for subnormal results).  NaN fails the comparison and stays NaN.
inline PacketF exp_packet(const PacketF& x) {
    namespace ei = Eigen::internal;
    const PacketF log_min_normal = ei::pset1<PacketF>(-87.33654475f);
    return ei::pselect(ei::pcmp_lt(x, log_min_normal), ei::pzero(x), ei::pexp(x));
}

}  // namespace detail

template <typename T>
inline void sigmoid_(T* a, index_t n) {
    if constexpr (std::is_same_v<T, float>)
        detail::packets(a, n, detail::sigmoid_packet);
    else
        for (index_t k = 0; k < n; ++k) a[k] = T(1) / (T(1) + std::exp(-a[k]));
}

template <typename T>
inline void tanh_(T* a, index_t n) {
    if constexpr (std::is_same_v<T, float>)
        detail::packets(a, n, [](const detail::PacketF& x) { return Eigen::internal::ptanh(x); });
    else
        for (index_t k = 0; k < n; ++k) a[k] = std::tanh(a[k]);
}

template <typename T>
inline void exp_(T* a, index_t n) {
    if constexpr (std::is_same_v<T, float>)
        detail::packets(a, n, detail::exp_packet);
    else
        for (index_t k = 0; k < n; ++k) a[k] = std::exp(a[k]);
}

}  // namespace seqcore
