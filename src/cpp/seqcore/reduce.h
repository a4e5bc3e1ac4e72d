// Sums and dot products over a span whose result does not depend on where the span sits.
//
// Eigen's reductions over a Map peel an unaligned head before their packet loop, so the
// order of additions (and the float result) changes with the address: the same row gave
// different softmax values in two allocations.  These loops always start at element 0,
// use unaligned loads, keep two packet accumulators and add the tail in scalar order.
#pragma once

#include <Eigen/Core>

#include "dims.h"

namespace seqcore {

// sum_k a[k]
template <typename T>
inline T fixed_sum(const T* a, index_t n) {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    constexpr index_t L = ei::packet_traits<T>::size;
    P acc0 = ei::pset1<P>(T(0)), acc1 = ei::pset1<P>(T(0));
    index_t k = 0;
    for (; k + 2 * L <= n; k += 2 * L) {
        acc0 = ei::padd(acc0, ei::ploadu<P>(a + k));
        acc1 = ei::padd(acc1, ei::ploadu<P>(a + k + L));
    }
    T s = ei::predux(ei::padd(acc0, acc1));
    for (; k < n; ++k) s += a[k];
    return s;
}

// sum_k a[k] * b[k]
template <typename T>
inline T fixed_dot(const T* a, const T* b, index_t n) {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    constexpr index_t L = ei::packet_traits<T>::size;
    P acc0 = ei::pset1<P>(T(0)), acc1 = ei::pset1<P>(T(0));
    index_t k = 0;
    for (; k + 2 * L <= n; k += 2 * L) {
        acc0 = ei::pmadd(ei::ploadu<P>(a + k), ei::ploadu<P>(b + k), acc0);
        acc1 = ei::pmadd(ei::ploadu<P>(a + k + L), ei::ploadu<P>(b + k + L), acc1);
    }
    T s = ei::predux(ei::padd(acc0, acc1));
    for (; k < n; ++k) s += a[k] * b[k];
    return s;
}

}  // namespace seqcore
