// Layer and batch normalization over an [N,F] view (F the last axis, the features).
// Statistics are taken in double whatever T is, two-pass: mean, then the mean squared
// deviation (the biased variance).  xhat = (x - mean) * rstd is rounded to T and kept for the
// backward; y = xhat * gamma + beta in T.  The backward's sums accumulate in double.
#pragma once

#include "dims.h"

namespace seqcore {

// Layer norm: statistics per row.
// x: [N,F]; gamma, beta: [F]; y, xhat: [N,F] out; mean, rstd: [N] out (rstd = 1 / sqrt(var + eps)).
template <typename T>
void layer_norm_forward(index_t N, index_t F, const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat,
                        T* mean, T* rstd);
// xhat: [N,F]; rstd: [N]; gamma: [F]; dy: [N,F]; dx: [N,F] out; dgamma, dbeta: [F] out.
//   dxhat = dy * gamma;  dx = rstd * (dxhat - mean_f(dxhat) - xhat * mean_f(dxhat * xhat)).
template <typename T>
void layer_norm_backward(index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta);

// Batch norm (training mode): statistics per feature over the N rows (N >= 1).
// x: [N,F]; gamma, beta: [F]; y, xhat: [N,F] out; mean, var, rstd: [F] out.
template <typename T>
void batch_norm_forward(index_t N, index_t F, const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat,
                        T* mean, T* var, T* rstd);
// xhat: [N,F]; rstd: [F]; gamma: [F]; dy: [N,F]; dx: [N,F] out; dgamma, dbeta: [F] out.
//   dx = rstd * (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)),  dxhat = dy * gamma.
template <typename T>
void batch_norm_backward(index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta);

}  // namespace seqcore
