// Optimizer updates in place, Keras's formulas, one fused pass over the elements.
//
// Every array is an [n] flat view of arrays of one shape (param's); the arrays written
// must not overlap one another or grad (the binding checks).  Scalars come in the
// arrays' type T, rounded once by the caller, so float32 updates run in float32.
#pragma once

#include "dims.h"

namespace seqcore {

// param, velocity: [n] in/out; grad: [n].  velocity is unused (may be null) when !use_momentum:
//   param -= lr g.  Else velocity = momentum velocity - lr g; param += velocity, or with
//   nesterov param += momentum velocity - lr g (the new velocity).
template <typename T>
void sgd_update(index_t n, T* param, const T* grad, T* velocity, T lr, T momentum, bool use_momentum,
                bool nesterov);

// param, m, v: [n] in/out; grad: [n]; vhat: [n] in/out or null (AMSGrad off).
//   decoupled: param -= param decay (decay = lr weight_decay, AdamW).
//   m = beta1 m + c1 g;  v = beta2 v + c2 g^2  (c1 = 1 - beta1, c2 = 1 - beta2);
//   vhat = max(vhat, v) replaces v below;  param -= alpha m / (sqrt(v) + eps).
template <typename T>
void adam_update(index_t n, T* param, const T* grad, T* m, T* v, T* vhat, T alpha, T beta1, T c1, T beta2, T c2,
                 T eps, T decay, bool decoupled);

// param, velocity: [n] in/out; grad: [n]; momentum_buf: [n] in/out, or null when momentum is off;
// mg: [n] in/out (centered) or null.
//   velocity = rho velocity + c g^2 (c = 1 - rho);  centered: mg = rho mg + c g, denom = velocity - mg^2,
//   else denom = velocity;  inc = lr g / sqrt(denom + eps);
//   momentum_buf: momentum_buf = momentum momentum_buf + inc, param -= momentum_buf;  else param -= inc.
template <typename T>
void rmsprop_update(index_t n, T* param, const T* grad, T* velocity, T* momentum_buf, T* mg, T lr, T rho, T c,
                    T momentum, T eps);

// param, accumulator: [n] in/out; grad: [n].  accumulator += g^2;  param -= lr g / sqrt(accumulator + eps).
template <typename T>
void adagrad_update(index_t n, T* param, const T* grad, T* accumulator, T lr, T eps);

}  // namespace seqcore
