// Top-k dot-product search (nearest neighbours by cosine similarity over L2-normalised rows).
#pragma once

#include "dims.h"

namespace seqcore {

// matrix: [V,E]; queries: [Q,E]; 1 <= k <= V (checked by the caller).
// exclude: [Q,X] ids to skip per query, -1 = padding, else in [0, V) (null when X = 0).
// scores: [Q,k] out, ids: [Q,k] out: the k best of queries @ matrix.T per query, best first
//   (higher score first, NaN after every number, ties by the lower id); places left when fewer
//   than k ids remain get id -1 and score -inf.
// Scores come from [Qb,E] x [E,Vb] GEMM tiles, each query keeps a size-k heap (no full sort),
// and `threads` std::threads share the query blocks (the tiles stay on Eigen, below the size
// that would go to OpenBLAS's pool).
template <typename T>
void topk_dot(index_t V, index_t E, index_t Q, index_t k, const T* matrix, const T* queries, const index_t* exclude,
              index_t X, int threads, T* scores, index_t* ids);

}  // namespace seqcore
