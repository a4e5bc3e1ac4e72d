// One loop per optimizer and configuration, with restrict pointers (the binding checked that
// no two arrays overlap) so that the compiler vectorizes it; sqrt vectorizes too because this
// file is compiled with -fno-math-errno (CMakeLists.txt).  The loops run in blocks that
// for_rows may spread over the OpenMP team in an OpenMP build; the updates are memory-bound,
// so a single-threaded build runs them on the calling thread.
#include "optim.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"

namespace seqcore {

namespace {

constexpr index_t kBlock = 1 << 14;

// f(begin, end) over [0, n) in blocks.
template <typename F>
inline void blocks(index_t n, F&& f) {
    const index_t nblocks = (n + kBlock - 1) / kBlock;
    for_rows(nblocks, kBlock, [&](index_t k) { f(k * kBlock, std::min(n, (k + 1) * kBlock)); });
}

}  // namespace

namespace {

// Mode 0: plain SGD; 1: momentum; 2: Nesterov momentum.
template <int Mode, typename T>
inline void sgd_block(index_t lo, index_t hi, T* __restrict param, const T* __restrict grad, T* __restrict velocity,
                      T lr, T momentum) {
    for (index_t i = lo; i < hi; ++i) {
        if constexpr (Mode == 0) {
            param[i] -= lr * grad[i];
        } else {
            const T v = momentum * velocity[i] - lr * grad[i];
            velocity[i] = v;
            if constexpr (Mode == 2)
                param[i] += momentum * v - lr * grad[i];
            else
                param[i] += v;
        }
    }
}

}  // namespace

template <typename T>
void sgd_update(index_t n, T* param, const T* grad, T* velocity, T lr, T momentum, bool use_momentum,
                bool nesterov) {
    blocks(n, [&](index_t lo, index_t hi) {
        if (!use_momentum)
            sgd_block<0>(lo, hi, param, grad, velocity, lr, momentum);
        else if (nesterov)
            sgd_block<2>(lo, hi, param, grad, velocity, lr, momentum);
        else
            sgd_block<1>(lo, hi, param, grad, velocity, lr, momentum);
    });
}

namespace {

template <bool Decoupled, bool Amsgrad, typename T>
inline void adam_block(index_t lo, index_t hi, T* __restrict param, const T* __restrict grad, T* __restrict m,
                       T* __restrict v, T* __restrict vhat, T alpha, T beta1, T c1, T beta2, T c2, T eps, T decay) {
    for (index_t i = lo; i < hi; ++i) {
        T p = param[i];
        if constexpr (Decoupled) p -= p * decay;
        const T g = grad[i];
        const T mi = beta1 * m[i] + c1 * g;
        T vi = beta2 * v[i] + c2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        if constexpr (Amsgrad) {  // max(vhat, v), NaN when either is NaN (np.maximum)
            const T h = vhat[i];
            vi = (h > vi || h != h) ? h : vi;
            vhat[i] = vi;
        }
        param[i] = p - alpha * mi / (std::sqrt(vi) + eps);
    }
}

}  // namespace

template <typename T>
void adam_update(index_t n, T* param, const T* grad, T* m, T* v, T* vhat, T alpha, T beta1, T c1, T beta2, T c2,
                 T eps, T decay, bool decoupled) {
    blocks(n, [&](index_t lo, index_t hi) {
        if (decoupled && vhat)
            adam_block<true, true>(lo, hi, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps, decay);
        else if (decoupled)
            adam_block<true, false>(lo, hi, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps, decay);
        else if (vhat)
            adam_block<false, true>(lo, hi, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps, decay);
        else
            adam_block<false, false>(lo, hi, param, grad, m, v, vhat, alpha, beta1, c1, beta2, c2, eps, decay);
    });
}

namespace {

template <bool Centered, bool Momentum, typename T>
inline void rmsprop_block(index_t lo, index_t hi, T* __restrict param, const T* __restrict grad,
                          T* __restrict velocity, T* __restrict buf, T* __restrict mg, T lr, T rho, T c, T momentum,
                          T eps) {
    for (index_t i = lo; i < hi; ++i) {
        const T g = grad[i];
        const T vi = rho * velocity[i] + c * (g * g);
        velocity[i] = vi;
        T denom = vi;
        if constexpr (Centered) {
            const T a = rho * mg[i] + c * g;
            mg[i] = a;
            denom = vi - a * a;
        }
        const T inc = lr * g / std::sqrt(denom + eps);
        if constexpr (Momentum) {
            const T b = momentum * buf[i] + inc;
            buf[i] = b;
            param[i] -= b;
        } else {
            param[i] -= inc;
        }
    }
}

}  // namespace

template <typename T>
void rmsprop_update(index_t n, T* param, const T* grad, T* velocity, T* momentum_buf, T* mg, T lr, T rho, T c,
                    T momentum, T eps) {
    blocks(n, [&](index_t lo, index_t hi) {
        if (mg && momentum_buf)
            rmsprop_block<true, true>(lo, hi, param, grad, velocity, momentum_buf, mg, lr, rho, c, momentum, eps);
        else if (mg)
            rmsprop_block<true, false>(lo, hi, param, grad, velocity, momentum_buf, mg, lr, rho, c, momentum, eps);
        else if (momentum_buf)
            rmsprop_block<false, true>(lo, hi, param, grad, velocity, momentum_buf, mg, lr, rho, c, momentum, eps);
        else
            rmsprop_block<false, false>(lo, hi, param, grad, velocity, momentum_buf, mg, lr, rho, c, momentum, eps);
    });
}

namespace {

template <typename T>
inline void adagrad_block(index_t lo, index_t hi, T* __restrict param, const T* __restrict grad,
                          T* __restrict accumulator, T lr, T eps) {
    for (index_t i = lo; i < hi; ++i) {
        const T g = grad[i];
        const T a = accumulator[i] + g * g;
        accumulator[i] = a;
        param[i] -= lr * g / std::sqrt(a + eps);
    }
}

}  // namespace

template <typename T>
void adagrad_update(index_t n, T* param, const T* grad, T* accumulator, T lr, T eps) {
    blocks(n, [&](index_t lo, index_t hi) { adagrad_block(lo, hi, param, grad, accumulator, lr, eps); });
}

#define SEQCORE_INSTANTIATE(T)                                                                                   \
    template void sgd_update<T>(index_t, T*, const T*, T*, T, T, bool, bool);                                   \
    template void adam_update<T>(index_t, T*, const T*, T*, T*, T*, T, T, T, T, T, T, T, bool);                 \
    template void rmsprop_update<T>(index_t, T*, const T*, T*, T*, T*, T, T, T, T, T);                          \
    template void adagrad_update<T>(index_t, T*, const T*, T*, T, T);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
