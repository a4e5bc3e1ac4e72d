#include "activations.h"
#include "bptt.h"
#include "recurrent.h"

namespace seqcore {

namespace {

// a = preact + bias, activated in place: i, f, o through sigmoid, c~ through tanh.
template <typename T>
inline void lstm_activate(T* a, const T* bias, index_t H) {
    Vec<T>(a, 4 * H) += CVec<T>(bias, 4 * H);
    sigmoid_(a, 2 * H);
    tanh_(a + 2 * H, H);
    sigmoid_(a + 3 * H, H);
}

// c = f c + i c~; h = o tanh(c), from activated gates g.
template <typename T>
inline void lstm_update(const T* g, index_t H, T* c, T* h) {
    CVec<T> i(g, H), f(g + H, H), cc(g + 2 * H, H), o(g + 3 * H, H);
    Vec<T> cv(c, H), hv(h, H);
    cv = f * cv + i * cc;
    hv = cv;
    tanh_(h, H);
    hv *= o;
}

}  // namespace

template <typename T>
void lstm_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* c0, const T* W,
                  const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* cT, T* gates, T* c) {
    const index_t G = 4 * H;
    if (B == 0 || H == 0) return;  // every output is empty; T alone may be 2**40
    copy_n(h0, B * H, hT);  // hT, cT carry the running state
    copy_n(c0, B * H, cT);
    zero_padding(y, B, T_, H, lengths);
    zero_padding(c, B, T_, H, lengths);
    gemm<T>(false, false, B * T_, G, D, x, D, W, G, false, gates, G);
    auto R = scratch<T>(B * G);
    for (index_t s = 0; s < T_; ++s) {
        gemm<T>(false, false, B, G, H, hT, H, U, G, false, R.get(), G, true);
        for_rows(B, 8 * G, [&](index_t r) {
            const index_t t = step_time(s, T_, lengths, r, reverse);
            if (t < 0) return;
            T* g = gates + (r * T_ + t) * G;
            Vec<T>(g, G) += CVec<T>(R.get() + r * G, G);
            lstm_activate(g, b, H);
            lstm_update(g, H, cT + r * H, hT + r * H);
            copy_n(hT + r * H, H, y + (r * T_ + t) * H);
            copy_n(cT + r * H, H, c + (r * T_ + t) * H);
        });
    }
    zero_padding(gates, B, T_, G, lengths);
}

template <typename T>
void lstm_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* c0, const T* W,
                   const T* U, const index_t* lengths, bool reverse, const T* gates, const T* c, const T* y,
                   const T* dy, const T* dhT, const T* dcT, T* dx, T* dh0, T* dc0, T* dW, T* dU, T* db) {
    const index_t G = 4 * H, N = B * T_;
    if (B == 0 || H == 0) return no_steps_backward(B, T_, D, H, G, G, dx, dh0, dc0, dW, dU, db);
    T* dh = dh0;  // dh0, dc0 carry the running gradient back through time
    T* dc = dc0;
    init_carry(dhT, B * H, dh);
    init_carry(dcT, B * H, dc);
    auto dG = scratch<T>(N * G);  // pre-activation gate gradients of every step
    auto dG_step = scratch<T>(B * G);
    auto dh_next = scratch<T>(B * H);
    zero_padding(dG.get(), B, T_, G, lengths);
    for (index_t s = T_ - 1; s >= 0; --s) {
        for_rows(B, 8 * G, [&](index_t r) {
            const index_t t = step_time(s, T_, lengths, r, reverse);
            T* gs = dG_step.get() + r * G;
            if (t < 0) {  // finished row: no gradient enters, the carry passes through
                zero_n(gs, G);
                return;
            }
            const index_t at = r * T_ + t;
            const T* g = gates + at * G;
            const T* c_prev = s == 0 ? c0 + r * H : c + (r * T_ + prev_time(t, reverse)) * H;
            CVec<T> i(g, H), f(g + H, H), cc(g + 2 * H, H), o(g + 3 * H, H), cp(c_prev, H);
            Vec<T> dhv(dh + r * H, H), dcv(dc + r * H, H);
            if (dy) dhv += CVec<T>(dy + at * H, H);
            Vec<T> tanh_c(gs + 3 * H, H);  // the o block holds tanh(c) until its own gradient
            tanh_c = CVec<T>(c + at * H, H);
            tanh_(gs + 3 * H, H);
            dcv += dhv * o * (T(1) - tanh_c.square());
            Vec<T>(gs, H) = dcv * cc * i * (T(1) - i);
            Vec<T>(gs + H, H) = dcv * cp * f * (T(1) - f);
            Vec<T>(gs + 2 * H, H) = dcv * i * (T(1) - cc.square());
            tanh_c = dhv * tanh_c * o * (T(1) - o);
            dcv *= f;
            copy_n(gs, G, dG.get() + at * G);
        });
        // dh_prev = dG_step U^T for running rows; finished rows keep their carry.
        gemm<T>(false, true, B, H, G, dG_step.get(), G, U, G, false, dh_next.get(), H, true);
        for (index_t r = 0; r < B; ++r)
            if (step_time(s, T_, lengths, r, reverse) >= 0) copy_n(dh_next.get() + r * H, H, dh + r * H);
    }
    weight_gradients(B, T_, D, H, G, x, h0, W, y, lengths, reverse, dG.get(), dx, dW, dU, db);
}

template <typename T>
void lstm_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* c, const T* W, const T* U,
               const T* b, T* h_out, T* c_out) {
    const index_t G = 4 * H;
    if (B == 0 || H == 0) return;  // both outputs are empty
    auto a = scratch<T>(B * G);
    gemm<T>(false, false, B, G, D, x, D, W, G, false, a.get(), G, true);
    gemm<T>(false, false, B, G, H, h, H, U, G, true, a.get(), G, true);
    copy_n(c, B * H, c_out);
    for_rows(B, 8 * G, [&](index_t r) {
        lstm_activate(a.get() + r * G, b, H);
        lstm_update(a.get() + r * G, H, c_out + r * H, h_out + r * H);
    });
}

#define SEQCORE_INSTANTIATE(T)                                                                                     \
    template void lstm_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,     \
                                  const T*, const T*, const index_t*, bool, T*, T*, T*, T*, T*);                 \
    template void lstm_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,    \
                                   const T*, const index_t*, bool, const T*, const T*, const T*, const T*,        \
                                   const T*, const T*, T*, T*, T*, T*, T*, T*);                                  \
    template void lstm_cell<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*,       \
                               const T*, T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
