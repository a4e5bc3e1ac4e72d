#include "activations.h"
#include "bptt.h"
#include "recurrent.h"

namespace seqcore {

namespace {

// reset_after: a = x-projection (+ input bias), rec = h U + recurrent bias, both [3H].
// Leaves activated z, r, h~ in a and h U_h + b_rh in rec_h, and updates h.
template <typename T>
inline void gru_step_after(T* a, const T* b_in, const T* rec, const T* b_rec, index_t H, T* rec_h, T* h) {
    Vec<T> zr(a, 2 * H), n(a + 2 * H, H);
    zr += CVec<T>(b_in, 2 * H) + CVec<T>(rec, 2 * H) + CVec<T>(b_rec, 2 * H);
    sigmoid_(a, 2 * H);
    Vec<T> rh(rec_h, H);
    rh = CVec<T>(rec + 2 * H, H) + CVec<T>(b_rec + 2 * H, H);
    n += CVec<T>(b_in + 2 * H, H) + Vec<T>(a + H, H) * rh;
    tanh_(a + 2 * H, H);
    Vec<T> z(a, H), hv(h, H);
    hv = z * hv + (T(1) - z) * n;
}

// reset_before, first half: z, r = sigmoid(a + b + rec) in place; rh = r * h.
template <typename T>
inline void gru_gates_before(T* a, const T* b, const T* rec, const T* h, index_t H, T* rh) {
    Vec<T>(a, 2 * H) += CVec<T>(b, 2 * H) + CVec<T>(rec, 2 * H);
    sigmoid_(a, 2 * H);
    Vec<T>(rh, H) = Vec<T>(a + H, H) * CVec<T>(h, H);
}

// reset_before, second half: h~ = tanh(a_h + b_h + (r h) U_h); h = z h + (1 - z) h~.
template <typename T>
inline void gru_update_before(T* a, const T* b, const T* rhU, index_t H, T* h) {
    Vec<T> n(a + 2 * H, H), z(a, H), hv(h, H);
    n += CVec<T>(b + 2 * H, H) + CVec<T>(rhU, H);
    tanh_(a + 2 * H, H);
    hv = z * hv + (T(1) - z) * n;
}

}  // namespace

template <typename T>
void gru_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                 const T* b, bool reset_after, const index_t* lengths, bool reverse, T* y, T* hT, T* gates,
                 T* hr) {
    const index_t G = 3 * H;
    if (B == 0 || H == 0) return;  // every output is empty; T alone may be 2**40
    copy_n(h0, B * H, hT);
    zero_padding(y, B, T_, H, lengths);
    if (reset_after) zero_padding(hr, B, T_, H, lengths);
    gemm<T>(false, false, B * T_, G, D, x, D, W, G, false, gates, G);
    auto R = scratch<T>(B * G);
    auto RH = scratch<T>(B * H);  // reset_before: r * h_prev of the step
    for (index_t s = 0; s < T_; ++s) {
        if (reset_after) {
            gemm<T>(false, false, B, G, H, hT, H, U, G, false, R.get(), G, true);
            for_rows(B, 8 * G, [&](index_t r) {
                const index_t t = step_time(s, T_, lengths, r, reverse);
                if (t < 0) return;
                const index_t at = r * T_ + t;
                gru_step_after(gates + at * G, b, R.get() + r * G, b + G, H, hr + at * H, hT + r * H);
                copy_n(hT + r * H, H, y + at * H);
            });
        } else {
            gemm<T>(false, false, B, 2 * H, H, hT, H, U, G, false, R.get(), G, true);
            for_rows(B, 8 * G, [&](index_t r) {
                const index_t t = step_time(s, T_, lengths, r, reverse);
                if (t < 0) return zero_n(RH.get() + r * H, H);
                gru_gates_before(gates + (r * T_ + t) * G, b, R.get() + r * G, hT + r * H, H, RH.get() + r * H);
            });
            gemm<T>(false, false, B, H, H, RH.get(), H, U + 2 * H, G, false, R.get(), G, true);
            for_rows(B, 8 * G, [&](index_t r) {
                const index_t t = step_time(s, T_, lengths, r, reverse);
                if (t < 0) return;
                const index_t at = r * T_ + t;
                gru_update_before(gates + at * G, b, R.get() + r * G, H, hT + r * H);
                copy_n(hT + r * H, H, y + at * H);
            });
        }
    }
    zero_padding(gates, B, T_, G, lengths);
}

template <typename T>
void gru_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                  bool reset_after, const index_t* lengths, bool reverse, const T* gates, const T* hr, const T* y,
                  const T* dy, const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db) {
    const index_t G = 3 * H, N = B * T_;
    if (B == 0 || H == 0) {
        const index_t nb = reset_after ? 2 * G : G;
        return no_steps_backward(B, T_, D, H, G, nb, dx, dh0, static_cast<T*>(nullptr), dW, dU, db);
    }
    T* dh = dh0;
    init_carry(dhT, B * H, dh);
    auto dGx = scratch<T>(N * G);  // gradients at the input projection (+ input bias)
    auto dGr = scratch<T>(reset_after ? N * G : 1);  // reset_after: at h U + recurrent bias
    auto step = scratch<T>(B * G);  // this step's gradient at the recurrent GEMM's output
    auto drh = scratch<T>(B * H);  // reset_before: gradient at r * h_prev
    auto dh_next = scratch<T>(B * H);
    auto dh_rec = scratch<T>(B * H);  // the recurrent GEMM's share of dh_prev, added to running rows only
    zero_padding(dGx.get(), B, T_, G, lengths);
    if (reset_after) zero_padding(dGr.get(), B, T_, G, lengths);
    auto h_prev_of = [&](index_t s, index_t r, index_t t) {
        return s == 0 ? h0 + r * H : y + (r * T_ + prev_time(t, reverse)) * H;
    };
    for (index_t s = T_ - 1; s >= 0; --s) {
        // Part 1, both variants: dz, dn (pre-activation) and the direct path dh * z.
        for_rows(B, 8 * G, [&](index_t r) {
            const index_t t = step_time(s, T_, lengths, r, reverse);
            T* st = step.get() + r * G;
            Vec<T> dhv(dh + r * H, H), next(dh_next.get() + r * H, H);
            if (t < 0) {  // finished row: carry passes through untouched
                zero_n(st, G);
                if (!reset_after) zero_n(drh.get() + r * H, H);
                next = dhv;
                return;
            }
            const index_t at = r * T_ + t;
            const T* g = gates + at * G;
            CVec<T> z(g, H), rg(g + H, H), n(g + 2 * H, H), hp(h_prev_of(s, r, t), H);
            if (dy) dhv += CVec<T>(dy + at * H, H);
            T* gx = dGx.get() + at * G;
            Vec<T> dz(gx, H), dr(gx + H, H), dn(gx + 2 * H, H);
            dz = dhv * (hp - n) * z * (T(1) - z);
            dn = dhv * (T(1) - z) * (T(1) - n.square());
            next = dhv * z;
            if (reset_after) {
                dr = dn * CVec<T>(hr + at * H, H) * rg * (T(1) - rg);
                Vec<T>(st, 2 * H) = Vec<T>(gx, 2 * H);
                Vec<T>(st + 2 * H, H) = dn * rg;
                copy_n(st, G, dGr.get() + at * G);
            } else {
                Vec<T>(st + 2 * H, H) = dn;  // only the candidate block feeds the first GEMM
            }
        });
        if (reset_after) {
            gemm<T>(false, true, B, H, G, step.get(), G, U, G, false, dh_rec.get(), H, true);
        } else {
            // Gradient at r * h_prev through U_h, then dr and the rest of dh_prev.
            gemm<T>(false, true, B, H, H, step.get() + 2 * H, G, U + 2 * H, G, false, drh.get(), H, true);
            for_rows(B, 4 * H, [&](index_t r) {
                const index_t t = step_time(s, T_, lengths, r, reverse);
                T* st = step.get() + r * G;
                if (t < 0) return;
                const index_t at = r * T_ + t;
                CVec<T> rg(gates + at * G + H, H), hp(h_prev_of(s, r, t), H), d(drh.get() + r * H, H);
                T* gx = dGx.get() + at * G;
                Vec<T>(gx + H, H) = d * hp * rg * (T(1) - rg);
                Vec<T>(st, 2 * H) = Vec<T>(gx, 2 * H);
                Vec<T>(dh_next.get() + r * H, H) += d * rg;
            });
            gemm<T>(false, true, B, H, 2 * H, step.get(), G, U, G, false, dh_rec.get(), H, true);
        }
        // A finished row's zero step times a NaN or Inf in U is NaN: its carry must not see the product.
        for (index_t r = 0; r < B; ++r)
            if (step_time(s, T_, lengths, r, reverse) >= 0)
                Vec<T>(dh_next.get() + r * H, H) += CVec<T>(dh_rec.get() + r * H, H);
        copy_n(dh_next.get(), B * H, dh);
    }
    const bool awake = gemm_threads_awake(B, H, G);  // the loop's per-step products with U^T
    std::unique_ptr<T[]> x_copy;
    input_gradients(N, D, G, x_without_padding(x, B, T_, D, lengths, x_copy), W, dGx.get(), dx, dW, awake);
    zero_padding(dx, B, T_, D, lengths);  // padding rows of dGx are zero, but 0 * a NaN in W is not
    column_sums(dGx.get(), N, G, G, db);
    auto Hprev = scratch<T>(N * H);
    previous_states(B, T_, H, h0, y, lengths, reverse, Hprev.get());
    if (reset_after) {
        recurrent_gradient(N, H, G, Hprev.get(), dGr.get(), G, dU, G, awake);
        column_sums(dGr.get(), N, G, G, db + G);
    } else {
        recurrent_gradient(N, H, 2 * H, Hprev.get(), dGx.get(), G, dU, G, awake);
        for_rows(N, 2 * H, [&](index_t row) {  // Hprev becomes r * h_prev in place
            Vec<T>(Hprev.get() + row * H, H) *= CVec<T>(gates + row * G + H, H);
        });
        recurrent_gradient(N, H, H, Hprev.get(), dGx.get() + 2 * H, G, dU + 2 * H, G, awake);
    }
}

template <typename T>
void gru_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U, const T* b,
              bool reset_after, T* h_out) {
    const index_t G = 3 * H;
    if (B == 0 || H == 0) return;  // the output is empty
    auto a = scratch<T>(B * G);
    auto R = scratch<T>(B * G);
    auto RH = scratch<T>(B * H);
    gemm<T>(false, false, B, G, D, x, D, W, G, false, a.get(), G, true);
    copy_n(h, B * H, h_out);
    if (reset_after) {
        gemm<T>(false, false, B, G, H, h, H, U, G, false, R.get(), G, true);
        for_rows(B, 8 * G, [&](index_t r) {
            gru_step_after(a.get() + r * G, b, R.get() + r * G, b + G, H, RH.get() + r * H, h_out + r * H);
        });
        return;
    }
    gemm<T>(false, false, B, 2 * H, H, h, H, U, G, false, R.get(), G, true);
    for_rows(B, 8 * G, [&](index_t r) {
        gru_gates_before(a.get() + r * G, b, R.get() + r * G, h + r * H, H, RH.get() + r * H);
    });
    gemm<T>(false, false, B, H, H, RH.get(), H, U + 2 * H, G, false, R.get(), G, true);
    for_rows(B, 8 * G, [&](index_t r) { gru_update_before(a.get() + r * G, b, R.get() + r * G, H, h_out + r * H); });
}

#define SEQCORE_INSTANTIATE(T)                                                                                    \
    template void gru_forward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,     \
                                 const T*, bool, const index_t*, bool, T*, T*, T*, T*);                          \
    template void gru_backward<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, const T*,    \
                                  bool, const index_t*, bool, const T*, const T*, const T*, const T*, const T*,   \
                                  T*, T*, T*, T*, T*);                                                          \
    template void gru_cell<T>(index_t, index_t, index_t, const T*, const T*, const T*, const T*, const T*, bool, \
                              T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
