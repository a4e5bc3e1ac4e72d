// seqcore._cuda: the element-wise and row kernels (softmax family, layer norm, GELU, optimizer
// updates, embedding, clipping helpers).  Pointers arrive as integers with the sizes the Python
// adapter read off the arrays' shapes; a pointer may be 0 only where its array is empty.
#include <string>

#include "binding.h"
#include "seqcore_cuda/ops.h"

namespace seqcore_bind {

namespace {

namespace sc = seqcore::cuda;

// A device pointer to `count` elements: null only when there are none.
template <typename T>
T* array(ptr_t p, index_t count, const char* name) {
    return device<T>(p, name, count == 0);
}

// rows x last axis, as the kernels layer guarantees it: a non-empty last axis.
void check_rows(index_t N, index_t C, const char* rows, const char* last) {
    size(N, rows);
    if (C < 1) throw py::value_error(std::string(last) + " must be >= 1, got " + std::to_string(C));
}

void check_eps(double eps) {
    if (!(eps >= 0.0)) throw py::value_error("eps must be >= 0, got " + std::to_string(eps));
}

// The softmax family's four launchers share one shape: (N, C, a, b, out).
template <template <typename> class Launcher>
void bind_rows2(py::module_& m, const char* name, const char* doc) {
    m.def(
        name,
        [](index_t N, index_t C, ptr_t a, ptr_t out, const std::string& dtype, ptr_t stream) {
            check_rows(N, C, "N", "C");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pa = array<const T>(a, N * C, "x");
                T* po = array<T>(out, N * C, "y");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                Launcher<T>::run(ctx, N, C, pa, po);
            });
        },
        py::arg("N"), py::arg("C"), py::arg("x"), py::arg("y"), py::arg("dtype"), py::arg("stream"), doc);
}

template <template <typename> class Launcher>
void bind_rows3(py::module_& m, const char* name, const char* doc) {
    m.def(
        name,
        [](index_t N, index_t C, ptr_t y, ptr_t dy, ptr_t dx, const std::string& dtype, ptr_t stream) {
            check_rows(N, C, "N", "C");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T *py_ = array<const T>(y, N * C, "y"), *pdy = array<const T>(dy, N * C, "dy");
                T* pdx = array<T>(dx, N * C, "dx");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                Launcher<T>::run(ctx, N, C, py_, pdy, pdx);
            });
        },
        py::arg("N"), py::arg("C"), py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("dtype"), py::arg("stream"),
        doc);
}

template <typename T>
struct SoftmaxFwd {
    static void run(const sc::Context& c, index_t N, index_t C, const T* x, T* y) {
        sc::softmax_forward<T>(c, N, C, x, y);
    }
};
template <typename T>
struct LogSoftmaxFwd {
    static void run(const sc::Context& c, index_t N, index_t C, const T* x, T* y) {
        sc::log_softmax_forward<T>(c, N, C, x, y);
    }
};
template <typename T>
struct SoftmaxBwd {
    static void run(const sc::Context& c, index_t N, index_t C, const T* y, const T* dy, T* dx) {
        sc::softmax_backward<T>(c, N, C, y, dy, dx);
    }
};
template <typename T>
struct LogSoftmaxBwd {
    static void run(const sc::Context& c, index_t N, index_t C, const T* y, const T* dy, T* dx) {
        sc::log_softmax_backward<T>(c, N, C, y, dy, dx);
    }
};

// Exactly one of labels (int64 ids) and targets (a float distribution) is given.
void check_labels(ptr_t labels, ptr_t targets, index_t N) {
    if (N > 0 && (labels == 0) == (targets == 0))
        throw py::value_error("exactly one of labels (class ids) and targets (a distribution) must be given");
}

}  // namespace

void bind_ops(py::module_& m) {
    // ---------------------------------------------------------------- softmax family
    bind_rows2<SoftmaxFwd>(m, "softmax_forward", "y[N,C] = softmax of each row of x[N,C]");
    bind_rows2<LogSoftmaxFwd>(m, "log_softmax_forward", "y[N,C] = log_softmax of each row of x[N,C]");
    bind_rows3<SoftmaxBwd>(m, "softmax_backward", "dx[N,C] from the softmax output y and dy");
    bind_rows3<LogSoftmaxBwd>(m, "log_softmax_backward", "dx[N,C] from the log_softmax output y and dy");

    m.def(
        "softmax_cross_entropy_forward",
        [](index_t N, index_t C, ptr_t logits, ptr_t labels, ptr_t targets, ptr_t loss, ptr_t probs,
           const std::string& dtype, ptr_t stream) {
            check_rows(N, C, "N", "C");
            check_labels(labels, targets, N);
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* px = array<const T>(logits, N * C, "logits");
                const index_t* pl = device<const index_t>(labels, "labels", true);
                const T* pt = device<const T>(targets, "targets", true);
                T *ploss = array<T>(loss, N, "loss"), *pp = array<T>(probs, N * C, "probs");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::softmax_cross_entropy_forward<T>(ctx, N, C, px, pl, pt, ploss, pp);
            });
        },
        py::arg("N"), py::arg("C"), py::arg("logits"), py::arg("labels"), py::arg("targets"), py::arg("loss"),
        py::arg("probs"), py::arg("dtype"), py::arg("stream"),
        "loss[N], probs[N,C] from logits[N,C] and labels[N] int64 or targets[N,C] (the other 0)");
    m.def(
        "softmax_cross_entropy_backward",
        [](index_t N, index_t C, ptr_t probs, ptr_t labels, ptr_t targets, ptr_t dloss, ptr_t dlogits,
           const std::string& dtype, ptr_t stream) {
            check_rows(N, C, "N", "C");
            check_labels(labels, targets, N);
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pp = array<const T>(probs, N * C, "probs");
                const index_t* pl = device<const index_t>(labels, "labels", true);
                const T* pt = device<const T>(targets, "targets", true);
                const T* pd = array<const T>(dloss, N, "dloss");
                T* pg = array<T>(dlogits, N * C, "dlogits");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::softmax_cross_entropy_backward<T>(ctx, N, C, pp, pl, pt, pd, pg);
            });
        },
        py::arg("N"), py::arg("C"), py::arg("probs"), py::arg("labels"), py::arg("targets"), py::arg("dloss"),
        py::arg("dlogits"), py::arg("dtype"), py::arg("stream"), "dlogits[N,C] of softmax_cross_entropy");

    // ---------------------------------------------------------------- layer norm
    m.def(
        "layer_norm_forward",
        [](index_t N, index_t F, ptr_t x, ptr_t gamma, ptr_t beta, double eps, ptr_t y, ptr_t xhat, ptr_t mean,
           ptr_t rstd, const std::string& dtype, ptr_t stream) {
            check_rows(N, F, "N", "F");
            check_eps(eps);
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* px = array<const T>(x, N * F, "x");
                const T *pg = array<const T>(gamma, F, "gamma"), *pb = array<const T>(beta, F, "beta");
                T *py_ = array<T>(y, N * F, "y"), *ph = array<T>(xhat, N * F, "xhat");
                T *pm = array<T>(mean, N, "mean"), *pr = array<T>(rstd, N, "rstd");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::layer_norm_forward<T>(ctx, N, F, px, pg, pb, eps, py_, ph, pm, pr);
            });
        },
        py::arg("N"), py::arg("F"), py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("eps"), py::arg("y"),
        py::arg("xhat"), py::arg("mean"), py::arg("rstd"), py::arg("dtype"), py::arg("stream"),
        "y, xhat [N,F] and mean, rstd [N] of layer norm over x[N,F]");
    m.def(
        "layer_norm_backward_workspace",
        [](index_t N, index_t F) { return sc::layer_norm_backward_workspace(size(N, "N"), size(F, "F")); },
        py::arg("N"), py::arg("F"), "doubles of scratch layer_norm_backward needs");
    m.def(
        "layer_norm_backward",
        [](index_t N, index_t F, ptr_t xhat, ptr_t rstd, ptr_t gamma, ptr_t dy, ptr_t dx, ptr_t dgamma, ptr_t dbeta,
           ptr_t workspace, index_t workspace_size, const std::string& dtype, ptr_t stream) {
            check_rows(N, F, "N", "F");
            const index_t needed = sc::layer_norm_backward_workspace(N, F);
            if (workspace_size < needed)
                throw py::value_error("workspace must hold layer_norm_backward_workspace(N, F) = " +
                                      std::to_string(needed) + " doubles, got " + std::to_string(workspace_size));
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T *ph = array<const T>(xhat, N * F, "xhat"), *pr = array<const T>(rstd, N, "rstd");
                const T *pg = array<const T>(gamma, F, "gamma"), *pdy = array<const T>(dy, N * F, "dy");
                T* pdx = array<T>(dx, N * F, "dx");
                T *pdg = array<T>(dgamma, F, "dgamma"), *pdb = array<T>(dbeta, F, "dbeta");
                double* pw = array<double>(workspace, needed, "workspace");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::layer_norm_backward<T>(ctx, N, F, ph, pr, pg, pdy, pdx, pdg, pdb, pw);
            });
        },
        py::arg("N"), py::arg("F"), py::arg("xhat"), py::arg("rstd"), py::arg("gamma"), py::arg("dy"), py::arg("dx"),
        py::arg("dgamma"), py::arg("dbeta"), py::arg("workspace"), py::arg("workspace_size"), py::arg("dtype"),
        py::arg("stream"), "dx[N,F], dgamma[F], dbeta[F] of layer norm; workspace: float64 scratch");

    // ---------------------------------------------------------------- GELU
    m.def(
        "gelu_forward",
        [](index_t R, ptr_t x, bool approximate, ptr_t y, const std::string& dtype, ptr_t stream) {
            size(R, "R");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* px = array<const T>(x, R, "x");
                T* py_ = array<T>(y, R, "y");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::gelu_forward<T>(ctx, R, px, approximate, py_);
            });
        },
        py::arg("R"), py::arg("x"), py::arg("approximate"), py::arg("y"), py::arg("dtype"), py::arg("stream"),
        "y[R] = GELU(x[R]), the tanh form when approximate");
    m.def(
        "gelu_backward",
        [](index_t R, ptr_t x, ptr_t dy, bool approximate, ptr_t dx, const std::string& dtype, ptr_t stream) {
            size(R, "R");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T *px = array<const T>(x, R, "x"), *pdy = array<const T>(dy, R, "dy");
                T* pdx = array<T>(dx, R, "dx");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::gelu_backward<T>(ctx, R, px, pdy, approximate, pdx);
            });
        },
        py::arg("R"), py::arg("x"), py::arg("dy"), py::arg("approximate"), py::arg("dx"), py::arg("dtype"),
        py::arg("stream"), "dx[R] = dy * GELU'(x)");

    // ---------------------------------------------------------------- optimizer updates (in place)
    // Scalars arrive as Python floats and are rounded to T here, once, as the CPU binding does.
    m.def(
        "sgd_update",
        [](index_t n, ptr_t param, ptr_t grad, ptr_t velocity, double lr, double momentum, bool nesterov,
           const std::string& dtype, ptr_t stream) {
            size(n, "n");
            const bool use_momentum = momentum != 0.0;
            if (use_momentum && n > 0 && !velocity)
                throw py::type_error("velocity must be an array when momentum != 0, got None");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                T* p = array<T>(param, n, "param");
                const T* g = array<const T>(grad, n, "grad");
                T* vel = use_momentum ? array<T>(velocity, n, "velocity") : nullptr;
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::sgd_update<T>(ctx, n, p, g, vel, static_cast<T>(lr), static_cast<T>(momentum), use_momentum,
                                  nesterov);
            });
        },
        py::arg("n"), py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("lr"), py::arg("momentum"),
        py::arg("nesterov"), py::arg("dtype"), py::arg("stream"),
        "SGD (momentum, Nesterov) in place; velocity 0 = None");
    m.def(
        "adam_update",
        [](index_t n, ptr_t param, ptr_t grad, ptr_t m_, ptr_t v, ptr_t vhat, double alpha, double beta1,
           double beta2, double eps, double decay, const std::string& dtype, ptr_t stream) {
            size(n, "n");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                T* p = array<T>(param, n, "param");
                const T* g = array<const T>(grad, n, "grad");
                T *pm = array<T>(m_, n, "m"), *pv = array<T>(v, n, "v");
                T* ph = device<T>(vhat, "vhat", true);
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::adam_update<T>(ctx, n, p, g, pm, pv, ph, static_cast<T>(alpha), static_cast<T>(beta1),
                                   static_cast<T>(1.0 - beta1), static_cast<T>(beta2), static_cast<T>(1.0 - beta2),
                                   static_cast<T>(eps), static_cast<T>(decay), decay != 0.0);
            });
        },
        py::arg("n"), py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("vhat"),
        py::arg("alpha"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("decay"), py::arg("dtype"),
        py::arg("stream"), "Adam / AdamW (decay = lr weight_decay) / AMSGrad (vhat not 0) in place");
    m.def(
        "rmsprop_update",
        [](index_t n, ptr_t param, ptr_t grad, ptr_t velocity, ptr_t momentum_buf, ptr_t mg, double lr, double rho,
           double momentum, double eps, const std::string& dtype, ptr_t stream) {
            size(n, "n");
            const bool use_momentum = momentum > 0.0;
            if (use_momentum && n > 0 && !momentum_buf)
                throw py::type_error("momentum_buf must be an array when momentum > 0, got None");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                T* p = array<T>(param, n, "param");
                const T* g = array<const T>(grad, n, "grad");
                T* vel = array<T>(velocity, n, "velocity");
                T* buf = use_momentum ? array<T>(momentum_buf, n, "momentum_buf") : nullptr;
                T* pmg = device<T>(mg, "mg", true);
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::rmsprop_update<T>(ctx, n, p, g, vel, buf, pmg, static_cast<T>(lr), static_cast<T>(rho),
                                      static_cast<T>(1.0 - rho), static_cast<T>(momentum), static_cast<T>(eps));
            });
        },
        py::arg("n"), py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("momentum_buf"), py::arg("mg"),
        py::arg("lr"), py::arg("rho"), py::arg("momentum"), py::arg("eps"), py::arg("dtype"), py::arg("stream"),
        "RMSprop (momentum, centered when mg is not 0) in place");
    m.def(
        "adagrad_update",
        [](index_t n, ptr_t param, ptr_t grad, ptr_t accumulator, double lr, double eps, const std::string& dtype,
           ptr_t stream) {
            size(n, "n");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                T* p = array<T>(param, n, "param");
                const T* g = array<const T>(grad, n, "grad");
                T* acc = array<T>(accumulator, n, "accumulator");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::adagrad_update<T>(ctx, n, p, g, acc, static_cast<T>(lr), static_cast<T>(eps));
            });
        },
        py::arg("n"), py::arg("param"), py::arg("grad"), py::arg("accumulator"), py::arg("lr"), py::arg("eps"),
        py::arg("dtype"), py::arg("stream"), "Adagrad in place");

    // ---------------------------------------------------------------- embedding
    m.def(
        "embedding_forward",
        [](index_t N, index_t V, index_t E, ptr_t weights, ptr_t ids, ptr_t y, const std::string& dtype,
           ptr_t stream) {
            size(N, "N");
            size(V, "V");
            size(E, "E");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pw = array<const T>(weights, V * E, "weights");
                const index_t* pi = array<const index_t>(ids, N, "ids");
                T* py_ = array<T>(y, N * E, "y");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::embedding_forward<T>(ctx, N, V, E, pw, pi, py_);
            });
        },
        py::arg("N"), py::arg("V"), py::arg("E"), py::arg("weights"), py::arg("ids"), py::arg("y"), py::arg("dtype"),
        py::arg("stream"), "y[N,E] = weights[V,E][ids[N]]");
    m.def(
        "embedding_backward_workspace",
        [](index_t N, index_t V) {
            size(N, "N");
            size(V, "V");
            return sc::embedding_backward_workspace(N, V);
        },
        py::arg("N"), py::arg("V"), "bytes of scratch embedding_backward needs");
    m.def(
        "embedding_backward",
        [](index_t N, index_t V, index_t E, ptr_t ids, ptr_t dy, ptr_t dW, ptr_t workspace,
           std::size_t workspace_bytes, const std::string& dtype, ptr_t stream) {
            size(N, "N");
            size(V, "V");
            size(E, "E");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const index_t* pi = array<const index_t>(ids, N, "ids");
                const T* pdy = array<const T>(dy, N * E, "dy");
                T* pdW = array<T>(dW, V * E, "dW");
                void* pw = device<void>(workspace, "workspace", workspace_bytes == 0);
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::embedding_backward<T>(ctx, N, V, E, pi, pdy, pdW, pw, workspace_bytes);
            });
        },
        py::arg("N"), py::arg("V"), py::arg("E"), py::arg("ids"), py::arg("dy"), py::arg("dW"), py::arg("workspace"),
        py::arg("workspace_bytes"), py::arg("dtype"), py::arg("stream"),
        "dW[V,E] = scatter-add of dy[N,E] at ids[N], deterministic; workspace: embedding_backward_workspace bytes");

    // ---------------------------------------------------------------- clipping helpers
    m.def(
        "clip_by_value",
        [](index_t n, ptr_t a, double lo, double hi, ptr_t out, const std::string& dtype, ptr_t stream) {
            size(n, "n");
            if (lo != lo || hi != hi) throw py::value_error("lo and hi must not be NaN");
            if (lo > hi)
                throw py::value_error("lo must be <= hi, got " + std::to_string(lo) + " > " + std::to_string(hi));
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pa = array<const T>(a, n, "a");
                T* po = array<T>(out, n, "out");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::clip_by_value<T>(ctx, n, pa, static_cast<T>(lo), static_cast<T>(hi), po);
            });
        },
        py::arg("n"), py::arg("a"), py::arg("lo"), py::arg("hi"), py::arg("out"), py::arg("dtype"), py::arg("stream"),
        "out[n] = a[n] clipped to [lo, hi] (out may be a)");
    m.def(
        "sum_of_squares_workspace", [](index_t n) { return sc::sum_of_squares_workspace(size(n, "n")); },
        py::arg("n"), "doubles of scratch sum_of_squares needs");
    m.def(
        "sum_of_squares",
        [](index_t n, ptr_t a, ptr_t workspace, index_t workspace_size, ptr_t out, const std::string& dtype,
           ptr_t stream) {
            size(n, "n");
            const index_t needed = sc::sum_of_squares_workspace(n);
            if (workspace_size < needed)
                throw py::value_error("workspace must hold sum_of_squares_workspace(n) = " + std::to_string(needed) +
                                      " doubles, got " + std::to_string(workspace_size));
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pa = array<const T>(a, n, "a");
                double* pw = array<double>(workspace, needed, "workspace");
                double* po = device<double>(out, "out");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::sum_of_squares<T>(ctx, n, pa, pw, po);
            });
        },
        py::arg("n"), py::arg("a"), py::arg("workspace"), py::arg("workspace_size"), py::arg("out"), py::arg("dtype"),
        py::arg("stream"), "*out (one float64 on the device) = sum(a[n]^2), accumulated in double");
    m.def(
        "scale",
        [](index_t n, ptr_t a, double s, ptr_t out, const std::string& dtype, ptr_t stream) {
            size(n, "n");
            by_dtype(dtype, [&](auto tag) {
                using T = decltype(tag);
                const T* pa = array<const T>(a, n, "a");
                T* po = array<T>(out, n, "out");
                const auto ctx = context(stream);
                py::gil_scoped_release nogil;
                sc::scale<T>(ctx, n, pa, static_cast<T>(s), po);
            });
        },
        py::arg("n"), py::arg("a"), py::arg("s"), py::arg("out"), py::arg("dtype"), py::arg("stream"),
        "out[n] = a[n] * s (out may be a)");
}

}  // namespace seqcore_bind
