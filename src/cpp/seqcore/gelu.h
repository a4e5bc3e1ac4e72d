// GELU, torch's two forms, element-wise over R values.
#pragma once

#include "dims.h"

namespace seqcore {

// x: [R]; y: [R] out.  approximate false: y = x/2 (1 + erf(x/sqrt(2))) (exact);
// true: y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// float32 runs Eigen's packet erf and exp (tanh through exp: accurate where tanh rounds to +-1) on every element (the tail through a padded copy, so equal inputs
// give equal outputs wherever they sit); float64 the std:: functions.
template <typename T>
void gelu_forward(index_t R, const T* x, bool approximate, T* y);

// dx: [R] out, dy * dGELU/dx at x.  Exact: Phi(x) + x phi(x); tanh: (1 + t)/2 + x/2 (1 - t^2) c (1 + 3a x^2).
template <typename T>
void gelu_backward(index_t R, const T* x, const T* dy, bool approximate, T* dx);

}  // namespace seqcore
