#include "softmax.h"

#include <cmath>
#include <vector>

#include "activations.h"
#include "parallel.h"
#include "reduce.h"

namespace seqcore {

namespace {
// Writes the row shifted by its max to `shifted` and returns log(sum(exp(shifted))).
template <typename T>
inline T shifted_log_sum_exp(const T* x, index_t C, T* shifted) {
    thread_local std::vector<T> e;
    e.resize(static_cast<size_t>(C));
    CVec<T> xv(x, C);
    Vec<T> sv(shifted, C), ev(e.data(), C);
    sv = xv - xv.maxCoeff();
    ev = sv;
    exp_(e.data(), C);
    return std::log(fixed_sum(e.data(), C));
}
}  // namespace

template <typename T>
void softmax_forward(index_t N, index_t C, const T* x, T* y) {
    for_rows(N, 4 * C, [&](index_t r) {
        Vec<T> yv(y + r * C, C);
        CVec<T> xv(x + r * C, C);
        yv = xv - xv.maxCoeff();
        exp_(y + r * C, C);
        yv /= fixed_sum(y + r * C, C);
    });
}

template <typename T>
void softmax_backward(index_t N, index_t C, const T* y, const T* dy, T* dx) {
    for_rows(N, 2 * C, [&](index_t r) {
        CVec<T> yv(y + r * C, C), dyv(dy + r * C, C);
        Vec<T>(dx + r * C, C) = yv * (dyv - fixed_dot(dy + r * C, y + r * C, C));
    });
}

template <typename T>
void log_softmax_forward(index_t N, index_t C, const T* x, T* y) {
    for_rows(N, 4 * C, [&](index_t r) {
        const T lse = shifted_log_sum_exp(x + r * C, C, y + r * C);
        Vec<T>(y + r * C, C) -= lse;
    });
}

template <typename T>
void log_softmax_backward(index_t N, index_t C, const T* y, const T* dy, T* dx) {
    for_rows(N, 4 * C, [&](index_t r) {
        Vec<T> dxv(dx + r * C, C);
        CVec<T> dyv(dy + r * C, C);
        dxv = CVec<T>(y + r * C, C);
        exp_(dx + r * C, C);
        dxv = dyv - dxv * fixed_sum(dy + r * C, C);
    });
}

template <typename T>
void softmax_cross_entropy_forward(index_t N, index_t C, const T* logits, const index_t* labels, const T* targets,
                                   T* loss, T* probs) {
    for_rows(N, 4 * C, [&](index_t r) {
        T* p = probs + r * C;
        const T lse = shifted_log_sum_exp(logits + r * C, C, p);  // p holds x - max for now
        Vec<T>(p, C) -= lse;  // log-probabilities
        // -sum(t log p) as written: lse * sum(t) - dot(t, x - max) would turn an infinite target at
        // the max (x - max = 0) into inf * 0 = NaN where the loss is +Inf.
        loss[r] = labels ? -p[labels[r]] : -fixed_dot(targets + r * C, p, C);
        exp_(p, C);
    });
}

template <typename T>
void softmax_cross_entropy_backward(index_t N, index_t C, const T* probs, const index_t* labels, const T* targets,
                                    const T* dloss, T* dlogits) {
    for_rows(N, 2 * C, [&](index_t r) {
        CVec<T> pv(probs + r * C, C);
        Vec<T> dv(dlogits + r * C, C);
        if (labels) {  // (p - onehot) * dloss; p * dloss - dloss would make an infinite dloss inf - inf = NaN
            dv = pv * dloss[r];
            dv[labels[r]] = (pv[labels[r]] - T(1)) * dloss[r];
        } else {
            CVec<T> tv(targets + r * C, C);
            dv = (pv * fixed_sum(targets + r * C, C) - tv) * dloss[r];
        }
    });
}

template <typename T>
void clip_by_value(index_t n, const T* a, T lo, T hi, T* out) {
    for (index_t k = 0; k < n; ++k) {
        const T v = a[k];
        out[k] = v < lo ? lo : (v > hi ? hi : v);
    }
}

template <typename T>
double sum_of_squares(index_t n, const T* a) {
    double acc = 0.0;
    for (index_t k = 0; k < n; ++k) acc += static_cast<double>(a[k]) * static_cast<double>(a[k]);
    return acc;
}

template <typename T>
void scale(index_t n, const T* a, T s, T* out) {
    for (index_t k = 0; k < n; ++k) out[k] = a[k] * s;
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void softmax_forward<T>(index_t, index_t, const T*, T*);                                           \
    template void softmax_backward<T>(index_t, index_t, const T*, const T*, T*);                                \
    template void log_softmax_forward<T>(index_t, index_t, const T*, T*);                                       \
    template void log_softmax_backward<T>(index_t, index_t, const T*, const T*, T*);                            \
    template void softmax_cross_entropy_forward<T>(index_t, index_t, const T*, const index_t*, const T*, T*, T*); \
    template void softmax_cross_entropy_backward<T>(index_t, index_t, const T*, const index_t*, const T*,       \
                                                    const T*, T*);                                              \
    template void clip_by_value<T>(index_t, const T*, T, T, T*);                                                \
    template double sum_of_squares<T>(index_t, const T*);                                                       \
    template void scale<T>(index_t, const T*, T, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
