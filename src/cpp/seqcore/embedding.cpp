#include "embedding.h"

#include "activations.h"
#include "parallel.h"

namespace seqcore {

template <typename T>
void embedding_forward(index_t N, index_t E, const T* weights, const index_t* ids, T* y) {
    for_rows(N, E, [&](index_t n) { copy_n(weights + ids[n] * E, E, y + n * E); });
}

template <typename T>
void embedding_backward(index_t N, index_t V, index_t E, const index_t* ids, const T* dy, T* dW) {
    zero_n(dW, V * E);
    // One thread, positions in order: rows that repeat an id add up in a fixed order.
    for (index_t n = 0; n < N; ++n) Vec<T>(dW + ids[n] * E, E) += CVec<T>(dy + n * E, E);
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void embedding_forward<T>(index_t, index_t, const T*, const index_t*, T*);                         \
    template void embedding_backward<T>(index_t, index_t, index_t, const index_t*, const T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
