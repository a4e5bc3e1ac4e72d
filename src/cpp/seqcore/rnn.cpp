#include "activations.h"
#include "bptt.h"
#include "recurrent.h"

namespace seqcore {

template <typename T>
void rnn_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                 const T* b, const index_t* lengths, bool reverse, T* y, T* hT) {
    if (B == 0 || H == 0) return;  // every output is empty; T alone may be 2**40
    copy_n(h0, B * H, hT);
    // The input projection lands in y itself: each step turns its slot into the state.
    gemm<T>(false, false, B * T_, H, D, x, D, W, H, false, y, H);
    zero_padding(y, B, T_, H, lengths);
    auto R = scratch<T>(B * H);
    for (index_t s = 0; s < T_; ++s) {
        gemm<T>(false, false, B, H, H, hT, H, U, H, false, R.get(), H, true);
        for_rows(B, 4 * H, [&](index_t r) {
            const index_t t = step_time(s, T_, lengths, r, reverse);
            if (t < 0) return;
            Vec<T> yv(y + (r * T_ + t) * H, H);
            yv += CVec<T>(R.get() + r * H, H) + CVec<T>(b, H);
            tanh_(yv.data(), H);
            Vec<T>(hT + r * H, H) = yv;
        });
    }
}

template <typename T>
void rnn_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                  const index_t* lengths, bool reverse, const T* y, const T* dy, const T* dhT, T* dx, T* dh0, T* dW,
                  T* dU, T* db) {
    const index_t N = B * T_;
    if (B == 0 || H == 0) return no_steps_backward(B, T_, D, H, H, H, dx, dh0, static_cast<T*>(nullptr), dW, dU, db);
    T* dh = dh0;
    init_carry(dhT, B * H, dh);
    auto dG = scratch<T>(N * H);
    auto step = scratch<T>(B * H);
    auto dh_prev = scratch<T>(B * H);
    zero_padding(dG.get(), B, T_, H, lengths);
    for (index_t s = T_ - 1; s >= 0; --s) {
        for_rows(B, 4 * H, [&](index_t r) {
            const index_t t = step_time(s, T_, lengths, r, reverse);
            Vec<T> st(step.get() + r * H, H);
            if (t < 0) {  // finished row: the carry stays
                st.setZero();
                return;
            }
            const index_t at = r * T_ + t;
            Vec<T> dhv(dh + r * H, H);
            if (dy) dhv += CVec<T>(dy + at * H, H);
            st = dhv * (T(1) - CVec<T>(y + at * H, H).square());
            copy_n(step.get() + r * H, H, dG.get() + at * H);
        });
        // dh_prev = step U^T for running rows; a finished row keeps its carry (its zero step times a
        // NaN or Inf in U would be NaN).
        gemm<T>(false, true, B, H, H, step.get(), H, U, H, false, dh_prev.get(), H, true);
        for (index_t r = 0; r < B; ++r)
            if (step_time(s, T_, lengths, r, reverse) >= 0) copy_n(dh_prev.get() + r * H, H, dh + r * H);
    }
    weight_gradients(B, T_, D, H, H, x, h0, W, y, lengths, reverse, dG.get(), dx, dW, dU, db);
}

template <typename T>
void rnn_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U, const T* b,
              T* h_out) {
    if (B == 0 || H == 0) return;  // the output is empty
    gemm<T>(false, false, B, H, D, x, D, W, H, false, h_out, H, true);
    gemm<T>(false, false, B, H, H, h, H, U, H, true, h_out, H, true);
    for_rows(B, 4 * H, [&](index_t r) {
        Vec<T>(h_out + r * H, H) += CVec<T>(b, H);
        tanh_(h_out + r * H, H);
    });
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void rnn_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,    \
                                 const T*, const index_t*, bool, T*, T*);                                       \
    template void rnn_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,   \
                                  const index_t*, bool, const T*, const T*, const T*, T*, T*, T*, T*, T*);      \
    template void rnn_cell<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
