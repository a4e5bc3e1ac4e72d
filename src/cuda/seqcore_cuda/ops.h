// Element-wise and row kernels on the GPU: the softmax family, layer norm, GELU, the optimizer
// updates, the embedding lookup and its gradient, and the clipping helpers.  Same semantics as
// the CPU kernels (src/cpp/seqcore/{softmax,norm,gelu,optim,embedding}.h), same cache layouts.
//
// Every launcher only queues work on ctx.stream (no allocation, no synchronization); a size of 0
// queues nothing (or only the zero fill an output needs), and a pointer to an empty array may be
// null.  Row kernels give one warp to a row of up to kWarpRowMax elements and a block to a longer
// one; every reduction runs in a fixed tree, so results are the same from run to run, and no
// kernel here uses floating-point atomics.
//
// Rounding: where the CPU kernel is compiled without FMA contraction (optim.cpp, norm.cpp) or
// the formula cancels (a - b * c with b * c close to a), the arithmetic is spelled with the
// round-to-nearest intrinsics (__dmul_rn, __fadd_rn, ...), which nvcc never fuses, so float64
// agrees with the CPU to the last bits and NaN/Inf come out where the CPU's come out.
#pragma once

#include <cstddef>

#include "common.h"

namespace seqcore {
namespace cuda {

// Row length up to which one warp handles a row of the softmax family and layer norm.
constexpr index_t kWarpRowMax = 1024;

// ---------------------------------------------------------------- softmax family ([N,C] views)

// x: [N,C] logits; y: [N,C] out, softmax over each row (exp(x - max) / sum).  A row holding NaN,
// +Inf, or only -Inf gives NaN throughout, as on the CPU.
template <typename T>
void softmax_forward(const Context& ctx, index_t N, index_t C, const T* x, T* y);
// y: [N,C] softmax output; dy: [N,C] gradient at y; dx: [N,C] out = y * (dy - sum(dy * y)).
template <typename T>
void softmax_backward(const Context& ctx, index_t N, index_t C, const T* y, const T* dy, T* dx);

// x: [N,C]; y: [N,C] out = (x - max) - log(sum(exp(x - max))).
template <typename T>
void log_softmax_forward(const Context& ctx, index_t N, index_t C, const T* x, T* y);
// y: [N,C] log_softmax output; dy: [N,C]; dx: [N,C] out = dy - exp(y) * sum(dy).
template <typename T>
void log_softmax_backward(const Context& ctx, index_t N, index_t C, const T* y, const T* dy, T* dx);

// Loss -sum(target log softmax(logits)) per row (no reduction over rows).
// logits: [N,C]; exactly one of labels: [N] int64 class ids in [0, C) (sparse), targets: [N,C] a
// distribution (dense; need not sum to 1), the other null.  loss: [N] out; probs: [N,C] out,
// exp(log_softmax(logits)) (the backward's input).  A label outside [0, C), which the Python
// layer rejects before any launch, gives a NaN loss rather than a read out of bounds.
template <typename T>
void softmax_cross_entropy_forward(const Context& ctx, index_t N, index_t C, const T* logits,
                                   const index_t* labels, const T* targets, T* loss, T* probs);
// probs: [N,C] the forward's; labels / targets as in the forward; dloss: [N] weight of each row;
// dlogits: [N,C] out = (probs - onehot(label)) * dloss, or (probs * sum(target) - target) * dloss.
template <typename T>
void softmax_cross_entropy_backward(const Context& ctx, index_t N, index_t C, const T* probs,
                                    const index_t* labels, const T* targets, const T* dloss, T* dlogits);

// ---------------------------------------------------------------- layer norm ([N,F] views)

// Statistics per row in double whatever T is, two-pass (mean, then the mean squared deviation).
// x: [N,F]; gamma, beta: [F]; y: [N,F] out = xhat * gamma + beta (in T); xhat: [N,F] out,
// T((x - mean) * rstd); mean: [N] out; rstd: [N] out = 1 / sqrt(var + eps), var biased.
template <typename T>
void layer_norm_forward(const Context& ctx, index_t N, index_t F, const T* x, const T* gamma, const T* beta,
                        double eps, T* y, T* xhat, T* mean, T* rstd);

// Doubles of workspace layer_norm_backward needs for N rows of F features (at least 1, so a
// caller can always allocate it): the per-chunk partial sums of dgamma and dbeta.
index_t layer_norm_backward_workspace(index_t N, index_t F);

// xhat: [N,F]; rstd: [N]; gamma: [F]; dy: [N,F]; dx: [N,F] out; dgamma, dbeta: [F] out;
// workspace: [layer_norm_backward_workspace(N, F)] doubles, scratch.
//   dxhat = T(dy * gamma);  dx = rstd * (dxhat - mean_f(dxhat) - xhat * mean_f(dxhat * xhat)) in double;
//   dgamma = sum_n T(dy * xhat), dbeta = sum_n dy, summed in double: each of a fixed set of row
//   chunks (a function of N only) sums its rows into the workspace, then one pass adds the chunks
//   in order, so the column sums are the same on every run and every GPU.  N = 0 gives zeros.
template <typename T>
void layer_norm_backward(const Context& ctx, index_t N, index_t F, const T* xhat, const T* rstd, const T* gamma,
                         const T* dy, T* dx, T* dgamma, T* dbeta, double* workspace);

// ---------------------------------------------------------------- GELU (element-wise over R values)

// x: [R]; y: [R] out.  approximate false: y = x/2 (1 + erf(x/sqrt(2))); true: the tanh form
// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  Computed in double for float too (the NumPy
// reference's precision), rounded once to T.
template <typename T>
void gelu_forward(const Context& ctx, index_t R, const T* x, bool approximate, T* y);
// x, dy: [R]; dx: [R] out = dy * dGELU/dx(x): exact Phi(x) + x phi(x); tanh
// (1 + t)/2 + x/2 (1 - t^2) c (1 + 3a x^2) with x clamped to +-20 in the polynomial (limits 1 and 0).
template <typename T>
void gelu_backward(const Context& ctx, index_t R, const T* x, const T* dy, bool approximate, T* dx);

// ---------------------------------------------------------------- optimizer updates (in place)
// Every array is an [n] flat view of arrays of param's shape; the arrays written must not overlap
// one another or grad.  Scalars come in T, rounded once by the caller; arithmetic as optim.h
// spells it, each operation rounded on its own (the CPU file is compiled with -ffp-contract=off).

// param, velocity: [n] in/out; grad: [n]; velocity unused (may be null) unless use_momentum.
//   !use_momentum: param -= lr g.  Else velocity = momentum velocity - lr g; param += velocity,
//   or with nesterov param += momentum velocity - lr g (the new velocity).
template <typename T>
void sgd_update(const Context& ctx, index_t n, T* param, const T* grad, T* velocity, T lr, T momentum,
                bool use_momentum, bool nesterov);

// param, m, v: [n] in/out; grad: [n]; vhat: [n] in/out, or null (AMSGrad off).
//   decoupled: param -= param decay (decay = lr weight_decay, AdamW).
//   m = beta1 m + c1 g;  v = beta2 v + c2 g^2  (c1 = 1 - beta1, c2 = 1 - beta2);
//   vhat = max(vhat, v) (NaN if either is) replaces v below;  param -= alpha m / (sqrt(v) + eps).
template <typename T>
void adam_update(const Context& ctx, index_t n, T* param, const T* grad, T* m, T* v, T* vhat, T alpha, T beta1,
                 T c1, T beta2, T c2, T eps, T decay, bool decoupled);

// param, velocity: [n] in/out; grad: [n]; momentum_buf: [n] in/out or null (momentum off);
// mg: [n] in/out (centered) or null.
//   velocity = rho velocity + c g^2 (c = 1 - rho);  centered: mg = rho mg + c g, denom = velocity - mg^2,
//   else denom = velocity;  inc = lr g / sqrt(denom + eps);
//   momentum_buf: momentum_buf = momentum momentum_buf + inc, param -= momentum_buf;  else param -= inc.
template <typename T>
void rmsprop_update(const Context& ctx, index_t n, T* param, const T* grad, T* velocity, T* momentum_buf, T* mg,
                    T lr, T rho, T c, T momentum, T eps);

// param, accumulator: [n] in/out; grad: [n].  accumulator += g^2;  param -= lr g / sqrt(accumulator + eps).
template <typename T>
void adagrad_update(const Context& ctx, index_t n, T* param, const T* grad, T* accumulator, T lr, T eps);

// ---------------------------------------------------------------- embedding

// weights: [V,E]; ids: [N] int64 in [0, V); y: [N,E] out = weights[ids].  An id outside [0, V)
// (rejected by the Python layer before any launch) gives a NaN row, never a read out of bounds.
template <typename T>
void embedding_forward(const Context& ctx, index_t N, index_t V, index_t E, const T* weights, const index_t* ids,
                       T* y);

// Bytes of workspace embedding_backward needs for N ids below V: four [N] int64 buffers (keys and
// positions, twice) and the radix sort's scratch, each 256-byte aligned.
std::size_t embedding_backward_workspace(index_t N, index_t V);

// ids: [N] int64 in [0, V); dy: [N,E]; dW: [V,E] out = zeros, then dy[n] added to row ids[n] for
// n = 0 .. N-1 in order; workspace: [embedding_backward_workspace(N, V)] bytes, scratch.
// Deterministic without atomics: a stable radix sort of (id, position) pairs groups each id's
// positions in their original order, then one thread per (run of equal ids, column) adds that
// run's dy rows from 0 in order, the CPU's additions exactly (float64 agrees bitwise).  A row
// repeated m times costs m sequential adds of one thread per column.  Ids outside [0, V) are
// skipped.
template <typename T>
void embedding_backward(const Context& ctx, index_t N, index_t V, index_t E, const index_t* ids, const T* dy,
                        T* dW, void* workspace, std::size_t workspace_bytes);

// ---------------------------------------------------------------- clipping helpers (flat [n] views)

// a: [n]; out: [n] out = a clipped to [lo, hi] (NaN stays NaN); out may equal a.
template <typename T>
void clip_by_value(const Context& ctx, index_t n, const T* a, T lo, T hi, T* out);

// Doubles of workspace sum_of_squares needs for n values (at least 1).
index_t sum_of_squares_workspace(index_t n);

// a: [n]; workspace: [sum_of_squares_workspace(n)] doubles, scratch; out: [1] double out =
// sum(double(a)^2), per-block partial sums then one fixed-order pass (deterministic).  n = 0 gives 0.
template <typename T>
void sum_of_squares(const Context& ctx, index_t n, const T* a, double* workspace, double* out);

// a: [n]; out: [n] out = a * s; out may equal a.
template <typename T>
void scale(const Context& ctx, index_t n, const T* a, T s, T* out);

}  // namespace cuda
}  // namespace seqcore
