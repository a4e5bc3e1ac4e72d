// Softmax family over the last axis of an [N,C] view, and gradient clipping.
// The forward keeps what the backward consumes: the output y (softmax, log-softmax)
// or the probabilities (cross-entropy).
#pragma once

#include "dims.h"

namespace seqcore {

// x: [N,C] logits; y: [N,C] out.
template <typename T>
void softmax_forward(index_t N, index_t C, const T* x, T* y);
// y: [N,C] softmax output; dy: [N,C] gradient at y; dx: [N,C] out.
template <typename T>
void softmax_backward(index_t N, index_t C, const T* y, const T* dy, T* dx);

template <typename T>
void log_softmax_forward(index_t N, index_t C, const T* x, T* y);
template <typename T>
void log_softmax_backward(index_t N, index_t C, const T* y, const T* dy, T* dx);

// Loss -sum(target log softmax(logits)) per row.
// logits: [N,C]; exactly one of labels: [N] class ids in [0, C), targets: [N,C] distribution.
// loss: [N] out; probs: [N,C] out (the backward's input).
template <typename T>
void softmax_cross_entropy_forward(index_t N, index_t C, const T* logits, const index_t* labels, const T* targets,
                                   T* loss, T* probs);
// dloss: [N] weight of each row; dlogits: [N,C] out = (probs * sum(target) - target) * dloss.
template <typename T>
void softmax_cross_entropy_backward(index_t N, index_t C, const T* probs, const index_t* labels, const T* targets,
                                    const T* dloss, T* dlogits);

// out[n] = a[n] clipped to [lo, hi]; NaN stays NaN.  out may equal a.
template <typename T>
void clip_by_value(index_t n, const T* a, T lo, T hi, T* out);
// Sum of squares of a[n], accumulated in double.
template <typename T>
double sum_of_squares(index_t n, const T* a);
// out[n] = a[n] * scale; out may equal a.
template <typename T>
void scale(index_t n, const T* a, T s, T* out);

}  // namespace seqcore
