// Vectorised element-wise math for the gate kernels.
//
// Eigen's array expressions compile to one SIMD loop per assignment.  sigmoid is
// 1 / (1 + exp(-x)) on Eigen's exp (about 2e-7 relative in float): Eigen's own
// logistic() approximation loses relative accuracy on small outputs (8e-4 measured),
// too much for gates that multiply states.  tanh is Eigen's (2.7e-7 relative in float;
// float64 falls back to std::tanh), so both precisions match NumPy to test tolerance.
#pragma once

#include <Eigen/Core>

#include "dims.h"

namespace seqcore {

template <typename T>
using Vec = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using CVec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

template <typename E>
inline auto sigmoid(const E& a) {
    using S = typename E::Scalar;
    return (S(1) + (-a).exp()).inverse();
}

}  // namespace seqcore
