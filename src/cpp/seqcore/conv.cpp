// im2col: row (b, o) of `cols` [rows, K*C] holds the K input steps output step o reads, each C
// channels wide (zeros where a tap falls in the padding), so the convolution is cols @ W[K*C, F].
// Rows are processed in chunks that bound the scratch memory (kColsBudget elements); the
// backward adds each chunk's dW = cols^T dy and scatters dcols = dy W^T back onto dx (col2im),
// on one thread in row order, so the sums are the same on every call.
#include "conv.h"

#include <algorithm>

#include "bptt.h"
#include "gemm.h"
#include "parallel.h"

namespace seqcore {

namespace {

constexpr index_t kColsBudget = index_t(1) << 22;  // elements of the im2col scratch (16 MiB of float)

// Input time step tap k of output step o reads, or -1 in the padding.
inline index_t tap_time(const Conv1DShape& s, index_t o, index_t k) {
    const index_t t = o * s.stride + k * s.dilation - s.left;
    return t >= 0 && t < s.T ? t : -1;
}

// A direct product needs no im2col: one tap, every output step reads its own input step.
inline bool direct(const Conv1DShape& s) { return s.K == 1 && s.stride == 1 && s.left == 0 && s.To == s.T; }

inline index_t chunk_rows(const Conv1DShape& s) {
    return std::max<index_t>(1, kColsBudget / std::max<index_t>(1, s.K * s.C));
}

template <typename T>
void im2col(const Conv1DShape& s, const T* x, index_t r0, index_t r1, T* cols) {
    const index_t KC = s.K * s.C;
    for_rows(r1 - r0, KC, [&](index_t i) {
        const index_t r = r0 + i, b = r / s.To, o = r % s.To;
        T* row = cols + i * KC;
        for (index_t k = 0; k < s.K; ++k) {
            const index_t t = tap_time(s, o, k);
            if (t < 0)
                zero_n(row + k * s.C, s.C);
            else
                copy_n(x + (b * s.T + t) * s.C, s.C, row + k * s.C);
        }
    });
}

template <typename T>
void col2im_add(const Conv1DShape& s, const T* dcols, index_t r0, index_t r1, T* dx) {
    const index_t KC = s.K * s.C;
    for (index_t r = r0; r < r1; ++r) {
        const index_t b = r / s.To, o = r % s.To;
        const T* row = dcols + (r - r0) * KC;
        for (index_t k = 0; k < s.K; ++k) {
            const index_t t = tap_time(s, o, k);
            if (t < 0) continue;
            T* dst = dx + (b * s.T + t) * s.C;
            const T* src = row + k * s.C;
            for (index_t c = 0; c < s.C; ++c) dst[c] += src[c];
        }
    }
}

}  // namespace

template <typename T>
void conv1d_forward(const Conv1DShape& s, const T* x, const T* W, const T* bias, T* y) {
    const index_t rows = s.B * s.To, KC = s.K * s.C;
    if (rows == 0 || s.F == 0) return;  // y is empty; rows alone may be 2**40 (huge padding, F = 0)
    if (direct(s)) {
        gemm<T>(false, false, rows, s.F, KC, x, KC, W, s.F, false, y, s.F);
    } else {
        const index_t chunk = chunk_rows(s);
        auto cols = scratch<T>(std::min(rows, chunk) * KC);
        for (index_t r0 = 0; r0 < rows; r0 += chunk) {
            const index_t r1 = std::min(rows, r0 + chunk);
            im2col(s, x, r0, r1, cols.get());
            gemm<T>(false, false, r1 - r0, s.F, KC, cols.get(), KC, W, s.F, false, y + r0 * s.F, s.F);
        }
    }
    if (bias)
        for_rows(rows, s.F, [&](index_t r) {
            T* row = y + r * s.F;
            for (index_t f = 0; f < s.F; ++f) row[f] += bias[f];
        });
}

template <typename T>
void conv1d_backward(const Conv1DShape& s, const T* x, const T* W, const T* dy, T* dx, T* dW, T* db) {
    const index_t rows = s.B * s.To, KC = s.K * s.C;
    if (rows == 0 || s.F == 0) {  // no output, no gradient: zeros without walking 2**40 empty rows
        zero_n(dx, s.B * s.T * s.C);
        zero_n(dW, KC * s.F);
        if (db) zero_n(db, s.F);
        return;
    }
    if (db) column_sums(dy, rows, s.F, s.F, db);
    if (direct(s)) {  // dx = dy W^T, dW = x^T dy
        gemm<T>(false, true, rows, KC, s.F, dy, s.F, W, s.F, false, dx, KC);
        gemm<T>(true, false, KC, s.F, rows, x, KC, dy, s.F, false, dW, s.F);
        return;
    }
    zero_n(dx, s.B * s.T * s.C);
    const index_t chunk = chunk_rows(s);
    auto cols = scratch<T>(std::min(rows, chunk) * KC);
    auto dcols = scratch<T>(std::min(rows, chunk) * KC);
    for (index_t r0 = 0; r0 < rows; r0 += chunk) {
        const index_t r1 = std::min(rows, r0 + chunk), n = r1 - r0;
        im2col(s, x, r0, r1, cols.get());
        gemm<T>(true, false, KC, s.F, n, cols.get(), KC, dy + r0 * s.F, s.F, r0 > 0, dW, s.F);
        gemm<T>(false, true, n, KC, s.F, dy + r0 * s.F, s.F, W, s.F, false, dcols.get(), KC);
        col2im_add(s, dcols.get(), r0, r1, dx);
    }
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void conv1d_forward<T>(const Conv1DShape&, const T*, const T*, const T*, T*);                      \
    template void conv1d_backward<T>(const Conv1DShape&, const T*, const T*, const T*, T*, T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
