// Embedding lookup (row gather) and its weight gradient (row scatter-add).
#pragma once

#include "dims.h"

namespace seqcore {

// weights: [V,E]; ids: [N] row ids in [0, V) (checked by the caller); y: [N,E] out = weights[ids].
template <typename T>
void embedding_forward(index_t N, index_t E, const T* weights, const index_t* ids, T* y);

// ids: [N] in [0, V); dy: [N,E]; dW: [V,E] out = zeros, then dy[n] added to row ids[n] for
// n = 0 .. N-1 in order: the same sums in the same order on every call (deterministic).
template <typename T>
void embedding_backward(index_t N, index_t V, index_t E, const index_t* ids, const T* dy, T* dW);

}  // namespace seqcore
