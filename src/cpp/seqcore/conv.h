// 1-D convolution, channels last (the Keras layout), by im2col and one GEMM per chunk of rows.
//
//   y[b,o,f] = bias[f] + sum_{k,c} x[b, o*stride + k*dilation - left, c] W[k,c,f]
//
// with x read as zero outside [0, T) (the padding).  Extra letters: K kernel taps, C input
// channels, F filters, To output steps = (T + left + right - dilation*(K-1) - 1) / stride + 1.
#pragma once

#include "dims.h"

namespace seqcore {

struct Conv1DShape {
    index_t B, T, C, K, F, To, stride, left, dilation;
};

// x: [B,T,C]; W: [K,C,F]; bias: [F] or null; y: [B,To,F] out.
template <typename T>
void conv1d_forward(const Conv1DShape& s, const T* x, const T* W, const T* bias, T* y);

// x, W as in the forward; dy: [B,To,F].  dx: [B,T,C] out; dW: [K,C,F] out; db: [F] out, or null.
template <typename T>
void conv1d_backward(const Conv1DShape& s, const T* x, const T* W, const T* dy, T* dx, T* dW, T* db);

}  // namespace seqcore
