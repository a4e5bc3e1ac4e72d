// The one binding layer: checks arguments, allocates outputs, releases the GIL around
// the pure C++ work and dispatches on dtype.  The kernels it calls know nothing of
// Python.  Inputs must already be C-contiguous and of one float dtype: seqcore.kernels
// converts user input before it gets here, so a failed check below means a caller
// bypassed that layer, and it gets a ValueError/TypeError rather than a crash.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "seqcore/gemm.h"
#include "seqcore/recurrent.h"
#include "seqcore/softmax.h"

#ifndef SEQCORE_CXX_FLAGS
#define SEQCORE_CXX_FLAGS ""
#endif
#ifndef SEQCORE_PORTABLE
#define SEQCORE_PORTABLE 0
#endif

namespace py = pybind11;
using seqcore::index_t;

namespace {

std::string shape_str(const std::vector<index_t>& s) {
    std::ostringstream o;
    o << "(";
    for (size_t k = 0; k < s.size(); ++k) o << (k ? ", " : "") << s[k];
    o << (s.size() == 1 ? ",)" : ")");
    return o.str();
}

std::vector<index_t> shape_of(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

// Checks one array argument against the call's dtype and an expected shape.
template <typename T>
const T* in(const py::array& a, const char* name, const std::vector<index_t>& shape) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                             ", got " + std::string(py::str(a.dtype())));
    if (shape_of(a) != shape)
        throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " +
                              shape_str(shape_of(a)));
    if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + " must be C-contiguous and aligned");
    return static_cast<const T*>(a.data());
}

template <typename T>
const T* optional(const py::object& o, const char* name, const std::vector<index_t>& shape) {
    if (o.is_none()) return nullptr;
    return in<T>(py::cast<py::array>(o), name, shape);
}

const index_t* lengths_ptr(const py::object& o, index_t B, index_t T) {
    if (o.is_none()) return nullptr;
    const index_t* L = in<index_t>(py::cast<py::array>(o), "lengths", {B});
    for (index_t b = 0; b < B; ++b)
        if (L[b] < 0 || L[b] > T)
            throw py::value_error("lengths must lie in [0, T] = [0, " + std::to_string(T) + "], got " +
                                  std::to_string(L[b]));
    return L;
}

template <typename T>
py::array_t<T> out(const std::vector<index_t>& shape) {
    return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

template <typename T>
T* ptr(py::array_t<T>& a) {
    return a.mutable_data();
}

// Calls f(T{}) with T the float type of a.
template <typename F>
auto by_dtype(const py::array& a, const char* name, F&& f) {
    if (a.dtype().is(py::dtype::of<float>())) return f(float{});
    if (a.dtype().is(py::dtype::of<double>())) return f(double{});
    throw py::type_error(std::string(name) + " must have dtype float32 or float64, got " +
                         std::string(py::str(a.dtype())));
}

void require_ndim(const py::array& a, const char* name, int ndim) {
    if (a.ndim() != ndim)
        throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got shape " +
                              shape_str(shape_of(a)));
}

// Sizes of a sequence call: x [B,T,D], U [H,G*H].
struct Dims {
    index_t B, T, D, H;
};

Dims sequence_dims(const py::array& x, const py::array& U, int gates) {
    require_ndim(x, "x", 3);
    require_ndim(U, "U", 2);
    Dims d{x.shape(0), x.shape(1), x.shape(2), U.shape(0)};
    if (U.shape(1) != gates * d.H)
        throw py::value_error("U must have shape (H, " + std::to_string(gates) + "H), got " + shape_str(shape_of(U)));
    return d;
}

// ---------------------------------------------------------------- LSTM

py::tuple lstm_forward(const py::array& x, const py::array& h0, const py::array& c0, const py::array& W,
                       const py::array& U, const py::array& b, const py::object& lengths, bool reverse) {
    const Dims d = sequence_dims(x, U, 4);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H}), *pc0 = in<T>(c0, "c0", {B, H});
        const T *pW = in<T>(W, "W", {D, 4 * H}), *pU = in<T>(U, "U", {H, 4 * H}), *pb = in<T>(b, "b", {4 * H});
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto y = out<T>({B, T_, H});
        auto hT = out<T>({B, H});
        auto cT = out<T>({B, H});
        auto gates = out<T>({B, T_, 4 * H});
        auto c = out<T>({B, T_, H});
        T *py = ptr(y), *phT = ptr(hT), *pcT = ptr(cT), *pg = ptr(gates), *pc = ptr(c);
        {
            py::gil_scoped_release nogil;
            seqcore::lstm_forward<T>(B, T_, D, H, px, ph0, pc0, pW, pU, pb, L, reverse, py, phT, pcT, pg, pc);
        }
        return py::make_tuple(y, hT, cT, gates, c);
    });
}

py::tuple lstm_backward(const py::array& x, const py::array& h0, const py::array& c0, const py::array& W,
                        const py::array& U, const py::object& lengths, bool reverse, const py::array& gates,
                        const py::array& c, const py::array& y, const py::object& dy, const py::object& dhT,
                        const py::object& dcT) {
    const Dims d = sequence_dims(x, U, 4);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H}), *pc0 = in<T>(c0, "c0", {B, H});
        const T *pW = in<T>(W, "W", {D, 4 * H}), *pU = in<T>(U, "U", {H, 4 * H});
        const T *pg = in<T>(gates, "gates", {B, T_, 4 * H}), *pc = in<T>(c, "c", {B, T_, H});
        const T* py = in<T>(y, "y", {B, T_, H});
        const T *pdy = optional<T>(dy, "dy", {B, T_, H}), *pdhT = optional<T>(dhT, "dhT", {B, H});
        const T* pdcT = optional<T>(dcT, "dcT", {B, H});
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto dx = out<T>({B, T_, D});
        auto dh0 = out<T>({B, H});
        auto dc0 = out<T>({B, H});
        auto dW = out<T>({D, 4 * H});
        auto dU = out<T>({H, 4 * H});
        auto db = out<T>({4 * H});
        T *pdx = ptr(dx), *pdh0 = ptr(dh0), *pdc0 = ptr(dc0), *pdW = ptr(dW), *pdU = ptr(dU), *pdb = ptr(db);
        {
            py::gil_scoped_release nogil;
            seqcore::lstm_backward<T>(B, T_, D, H, px, ph0, pc0, pW, pU, L, reverse, pg, pc, py, pdy, pdhT, pdcT,
                                      pdx, pdh0, pdc0, pdW, pdU, pdb);
        }
        return py::make_tuple(dx, dh0, dc0, dW, dU, db);
    });
}

// Sizes of a cell call: x [B,D], U [H,G*H].
Dims cell_dims(const py::array& x, const py::array& U, int gates) {
    require_ndim(x, "x", 2);
    require_ndim(U, "U", 2);
    Dims d{x.shape(0), 1, x.shape(1), U.shape(0)};
    if (U.shape(1) != gates * d.H)
        throw py::value_error("U must have shape (H, " + std::to_string(gates) + "H), got " + shape_str(shape_of(U)));
    return d;
}

py::tuple lstm_cell(const py::array& x, const py::array& h, const py::array& c, const py::array& W,
                    const py::array& U, const py::array& b) {
    const Dims d = cell_dims(x, U, 4);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, D}), *ph = in<T>(h, "h", {B, H}), *pc = in<T>(c, "c", {B, H});
        const T *pW = in<T>(W, "W", {D, 4 * H}), *pU = in<T>(U, "U", {H, 4 * H}), *pb = in<T>(b, "b", {4 * H});
        auto h_out = out<T>({B, H});
        auto c_out = out<T>({B, H});
        T *pho = ptr(h_out), *pco = ptr(c_out);
        {
            py::gil_scoped_release nogil;
            seqcore::lstm_cell<T>(B, D, H, px, ph, pc, pW, pU, pb, pho, pco);
        }
        return py::make_tuple(h_out, c_out);
    });
}

// ---------------------------------------------------------------- GRU

std::vector<index_t> gru_bias_shape(index_t H, bool reset_after) {
    return reset_after ? std::vector<index_t>{2, 3 * H} : std::vector<index_t>{3 * H};
}

py::tuple gru_forward(const py::array& x, const py::array& h0, const py::array& W, const py::array& U,
                      const py::array& b, bool reset_after, const py::object& lengths, bool reverse) {
    const Dims d = sequence_dims(x, U, 3);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H});
        const T *pW = in<T>(W, "W", {D, 3 * H}), *pU = in<T>(U, "U", {H, 3 * H});
        const T* pb = in<T>(b, "b", gru_bias_shape(H, reset_after));
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto y = out<T>({B, T_, H});
        auto hT = out<T>({B, H});
        auto gates = out<T>({B, T_, 3 * H});
        auto hr = out<T>({B, reset_after ? T_ : 0, H});
        T *py = ptr(y), *phT = ptr(hT), *pg = ptr(gates), *phr = reset_after ? ptr(hr) : nullptr;
        {
            py::gil_scoped_release nogil;
            seqcore::gru_forward<T>(B, T_, D, H, px, ph0, pW, pU, pb, reset_after, L, reverse, py, phT, pg, phr);
        }
        return py::make_tuple(y, hT, gates, hr);
    });
}

py::tuple gru_backward(const py::array& x, const py::array& h0, const py::array& W, const py::array& U,
                       bool reset_after, const py::object& lengths, bool reverse, const py::array& gates,
                       const py::array& hr, const py::array& y, const py::object& dy, const py::object& dhT) {
    const Dims d = sequence_dims(x, U, 3);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H});
        const T *pW = in<T>(W, "W", {D, 3 * H}), *pU = in<T>(U, "U", {H, 3 * H});
        const T* pg = in<T>(gates, "gates", {B, T_, 3 * H});
        const T* phr = in<T>(hr, "hr", {B, reset_after ? T_ : 0, H});
        const T* py = in<T>(y, "y", {B, T_, H});
        const T *pdy = optional<T>(dy, "dy", {B, T_, H}), *pdhT = optional<T>(dhT, "dhT", {B, H});
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto dx = out<T>({B, T_, D});
        auto dh0 = out<T>({B, H});
        auto dW = out<T>({D, 3 * H});
        auto dU = out<T>({H, 3 * H});
        auto db = out<T>(gru_bias_shape(H, reset_after));
        T *pdx = ptr(dx), *pdh0 = ptr(dh0), *pdW = ptr(dW), *pdU = ptr(dU), *pdb = ptr(db);
        {
            py::gil_scoped_release nogil;
            seqcore::gru_backward<T>(B, T_, D, H, px, ph0, pW, pU, reset_after, L, reverse, pg, phr, py, pdy, pdhT,
                                     pdx, pdh0, pdW, pdU, pdb);
        }
        return py::make_tuple(dx, dh0, dW, dU, db);
    });
}

py::array gru_cell(const py::array& x, const py::array& h, const py::array& W, const py::array& U,
                   const py::array& b, bool reset_after) {
    const Dims d = cell_dims(x, U, 3);
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t B = d.B, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, D}), *ph = in<T>(h, "h", {B, H});
        const T *pW = in<T>(W, "W", {D, 3 * H}), *pU = in<T>(U, "U", {H, 3 * H});
        const T* pb = in<T>(b, "b", gru_bias_shape(H, reset_after));
        auto h_out = out<T>({B, H});
        T* pho = ptr(h_out);
        {
            py::gil_scoped_release nogil;
            seqcore::gru_cell<T>(B, D, H, px, ph, pW, pU, pb, reset_after, pho);
        }
        return std::move(h_out);
    });
}

// ---------------------------------------------------------------- RNN

py::tuple rnn_forward(const py::array& x, const py::array& h0, const py::array& W, const py::array& U,
                      const py::array& b, const py::object& lengths, bool reverse) {
    const Dims d = sequence_dims(x, U, 1);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H});
        const T *pW = in<T>(W, "W", {D, H}), *pU = in<T>(U, "U", {H, H}), *pb = in<T>(b, "b", {H});
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto y = out<T>({B, T_, H});
        auto hT = out<T>({B, H});
        T *py = ptr(y), *phT = ptr(hT);
        {
            py::gil_scoped_release nogil;
            seqcore::rnn_forward<T>(B, T_, D, H, px, ph0, pW, pU, pb, L, reverse, py, phT);
        }
        return py::make_tuple(y, hT);
    });
}

py::tuple rnn_backward(const py::array& x, const py::array& h0, const py::array& W, const py::array& U,
                       const py::object& lengths, bool reverse, const py::array& y, const py::object& dy,
                       const py::object& dhT) {
    const Dims d = sequence_dims(x, U, 1);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t B = d.B, T_ = d.T, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, T_, D}), *ph0 = in<T>(h0, "h0", {B, H});
        const T *pW = in<T>(W, "W", {D, H}), *pU = in<T>(U, "U", {H, H}), *py = in<T>(y, "y", {B, T_, H});
        const T *pdy = optional<T>(dy, "dy", {B, T_, H}), *pdhT = optional<T>(dhT, "dhT", {B, H});
        const index_t* L = lengths_ptr(lengths, B, T_);
        auto dx = out<T>({B, T_, D});
        auto dh0 = out<T>({B, H});
        auto dW = out<T>({D, H});
        auto dU = out<T>({H, H});
        auto db = out<T>({H});
        T *pdx = ptr(dx), *pdh0 = ptr(dh0), *pdW = ptr(dW), *pdU = ptr(dU), *pdb = ptr(db);
        {
            py::gil_scoped_release nogil;
            seqcore::rnn_backward<T>(B, T_, D, H, px, ph0, pW, pU, L, reverse, py, pdy, pdhT, pdx, pdh0, pdW, pdU,
                                     pdb);
        }
        return py::make_tuple(dx, dh0, dW, dU, db);
    });
}

py::array rnn_cell(const py::array& x, const py::array& h, const py::array& W, const py::array& U,
                   const py::array& b) {
    const Dims d = cell_dims(x, U, 1);
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t B = d.B, D = d.D, H = d.H;
        const T *px = in<T>(x, "x", {B, D}), *ph = in<T>(h, "h", {B, H});
        const T *pW = in<T>(W, "W", {D, H}), *pU = in<T>(U, "U", {H, H}), *pb = in<T>(b, "b", {H});
        auto h_out = out<T>({B, H});
        T* pho = ptr(h_out);
        {
            py::gil_scoped_release nogil;
            seqcore::rnn_cell<T>(B, D, H, px, ph, pW, pU, pb, pho);
        }
        return std::move(h_out);
    });
}

// ---------------------------------------------------------------- softmax family ([N,C] views)

// Rows and classes of an array viewed as [N, C] over its last axis.
std::pair<index_t, index_t> rows_classes(const py::array& a, const char* name) {
    if (a.ndim() < 1 || a.shape(a.ndim() - 1) == 0)
        throw py::value_error(std::string(name) + " must have a non-empty last axis, got shape " +
                              shape_str(shape_of(a)));
    const index_t C = a.shape(a.ndim() - 1);
    return {a.size() / C, C};
}

template <typename Kernel>
py::array unary_rows(const py::array& x, const char* name, Kernel kernel) {
    const auto [N, C] = rows_classes(x, name);
    return by_dtype(x, name, [&, N = N, C = C](auto tag) -> py::array {
        using T = decltype(tag);
        const T* px = in<T>(x, name, shape_of(x));
        auto y = out<T>(shape_of(x));
        T* py = ptr(y);
        {
            py::gil_scoped_release nogil;
            kernel(N, C, px, py);
        }
        return std::move(y);
    });
}

template <typename Kernel>
py::array binary_rows(const py::array& y, const py::array& dy, Kernel kernel) {
    const auto [N, C] = rows_classes(y, "y");
    return by_dtype(y, "y", [&, N = N, C = C](auto tag) -> py::array {
        using T = decltype(tag);
        const T *pyv = in<T>(y, "y", shape_of(y)), *pdy = in<T>(dy, "dy", shape_of(y));
        auto dx = out<T>(shape_of(y));
        T* pdx = ptr(dx);
        {
            py::gil_scoped_release nogil;
            kernel(N, C, pyv, pdy, pdx);
        }
        return std::move(dx);
    });
}

// Labels: integer class ids shaped like logits without the last axis, or a float target shaped like logits.
template <typename T>
void label_ptrs(const py::array& logits, const py::array& labels, index_t N, index_t C, const index_t** ids,
                const T** targets) {
    std::vector<index_t> rows_shape = shape_of(logits);
    rows_shape.pop_back();
    if (labels.dtype().is(py::dtype::of<index_t>())) {
        *ids = in<index_t>(labels, "labels", rows_shape);
        for (index_t n = 0; n < N; ++n)
            if ((*ids)[n] < 0 || (*ids)[n] >= C)
                throw py::value_error("labels must be class ids in [0, C) = [0, " + std::to_string(C) + "), got " +
                                      std::to_string((*ids)[n]));
    } else {
        *targets = in<T>(labels, "labels", shape_of(logits));
    }
}

py::tuple softmax_cross_entropy(const py::array& logits, const py::array& labels) {
    const auto [N, C] = rows_classes(logits, "logits");
    return by_dtype(logits, "logits", [&, N = N, C = C](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T* px = in<T>(logits, "logits", shape_of(logits));
        const index_t* ids = nullptr;
        const T* targets = nullptr;
        label_ptrs<T>(logits, labels, N, C, &ids, &targets);
        std::vector<index_t> rows_shape = shape_of(logits);
        rows_shape.pop_back();
        auto loss = out<T>(rows_shape);
        auto probs = out<T>(shape_of(logits));
        T *pl = ptr(loss), *pp = ptr(probs);
        {
            py::gil_scoped_release nogil;
            seqcore::softmax_cross_entropy_forward<T>(N, C, px, ids, targets, pl, pp);
        }
        return py::make_tuple(loss, probs);
    });
}

py::array softmax_cross_entropy_backward(const py::array& probs, const py::array& labels, const py::array& dloss) {
    const auto [N, C] = rows_classes(probs, "probs");
    return by_dtype(probs, "probs", [&, N = N, C = C](auto tag) -> py::array {
        using T = decltype(tag);
        const T* pp = in<T>(probs, "probs", shape_of(probs));
        const index_t* ids = nullptr;
        const T* targets = nullptr;
        label_ptrs<T>(probs, labels, N, C, &ids, &targets);
        std::vector<index_t> rows_shape = shape_of(probs);
        rows_shape.pop_back();
        const T* pd = in<T>(dloss, "dloss", rows_shape);
        auto dlogits = out<T>(shape_of(probs));
        T* pdl = ptr(dlogits);
        {
            py::gil_scoped_release nogil;
            seqcore::softmax_cross_entropy_backward<T>(N, C, pp, ids, targets, pd, pdl);
        }
        return std::move(dlogits);
    });
}

// ---------------------------------------------------------------- clipping (one array a call)

py::array clip_by_value(const py::array& a, double lo, double hi, const py::object& out_arr) {
    return by_dtype(a, "a", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T* pa = in<T>(a, "a", shape_of(a));
        if (!out_arr.is_none()) in<T>(py::cast<py::array>(out_arr), "out", shape_of(a));
        py::array_t<T> o = out_arr.is_none() ? out<T>(shape_of(a)) : py::cast<py::array_t<T>>(out_arr);
        if (!o.writeable()) throw py::value_error("out must be writeable");
        T* po = ptr(o);
        {
            py::gil_scoped_release nogil;
            seqcore::clip_by_value<T>(a.size(), pa, static_cast<T>(lo), static_cast<T>(hi), po);
        }
        return std::move(o);
    });
}

double sum_of_squares(const py::array& a) {
    return by_dtype(a, "a", [&](auto tag) -> double {
        using T = decltype(tag);
        const T* pa = in<T>(a, "a", shape_of(a));
        py::gil_scoped_release nogil;
        return seqcore::sum_of_squares<T>(a.size(), pa);
    });
}

py::array scale(const py::array& a, double s, const py::object& out_arr) {
    return by_dtype(a, "a", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T* pa = in<T>(a, "a", shape_of(a));
        if (!out_arr.is_none()) in<T>(py::cast<py::array>(out_arr), "out", shape_of(a));
        py::array_t<T> o = out_arr.is_none() ? out<T>(shape_of(a)) : py::cast<py::array_t<T>>(out_arr);
        if (!o.writeable()) throw py::value_error("out must be writeable");
        T* po = ptr(o);
        {
            py::gil_scoped_release nogil;
            seqcore::scale<T>(a.size(), pa, static_cast<T>(s), po);
        }
        return std::move(o);
    });
}

py::dict build_info() {
    py::dict info;
    info["gemm"] = seqcore::gemm_library();
    info["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                   std::to_string(EIGEN_MINOR_VERSION);
#ifdef _OPENMP
    info["openmp"] = std::to_string(_OPENMP);
#else
    info["openmp"] = "no";
#endif
    info["simd"] = Eigen::SimdInstructionSetsInUse();
    info["compiler"] = std::string(__VERSION__);
    info["cxx_flags"] = SEQCORE_CXX_FLAGS;
    info["portable"] = static_cast<bool>(SEQCORE_PORTABLE);
    info["num_threads"] = seqcore::get_num_threads();
    return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "seqcore's native kernels (C++17, Eigen GEMM, OpenMP). Call them through seqcore.kernels.";
    Eigen::initParallel();

    m.def("lstm_forward", &lstm_forward, py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("W"), py::arg("U"),
          py::arg("b"), py::arg("lengths").none(true), py::arg("reverse"));
    m.def("lstm_backward", &lstm_backward, py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("W"), py::arg("U"),
          py::arg("lengths").none(true), py::arg("reverse"), py::arg("gates"), py::arg("c"), py::arg("y"),
          py::arg("dy").none(true), py::arg("dhT").none(true), py::arg("dcT").none(true));
    m.def("lstm_cell", &lstm_cell, py::arg("x"), py::arg("h"), py::arg("c"), py::arg("W"), py::arg("U"),
          py::arg("b"));
    m.def("gru_forward", &gru_forward, py::arg("x"), py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("b"),
          py::arg("reset_after"), py::arg("lengths").none(true), py::arg("reverse"));
    m.def("gru_backward", &gru_backward, py::arg("x"), py::arg("h0"), py::arg("W"), py::arg("U"),
          py::arg("reset_after"), py::arg("lengths").none(true), py::arg("reverse"), py::arg("gates"),
          py::arg("hr"), py::arg("y"), py::arg("dy").none(true), py::arg("dhT").none(true));
    m.def("gru_cell", &gru_cell, py::arg("x"), py::arg("h"), py::arg("W"), py::arg("U"), py::arg("b"),
          py::arg("reset_after"));
    m.def("rnn_forward", &rnn_forward, py::arg("x"), py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("b"),
          py::arg("lengths").none(true), py::arg("reverse"));
    m.def("rnn_backward", &rnn_backward, py::arg("x"), py::arg("h0"), py::arg("W"), py::arg("U"),
          py::arg("lengths").none(true), py::arg("reverse"), py::arg("y"), py::arg("dy").none(true),
          py::arg("dhT").none(true));
    m.def("rnn_cell", &rnn_cell, py::arg("x"), py::arg("h"), py::arg("W"), py::arg("U"), py::arg("b"));
    m.def(
        "softmax",
        [](const py::array& x) {
            return unary_rows(x, "x", [](index_t N, index_t C, auto* a, auto* o) { seqcore::softmax_forward(N, C, a, o); });
        },
        py::arg("x"));
    m.def(
        "softmax_backward",
        [](const py::array& y, const py::array& dy) {
            return binary_rows(y, dy, [](index_t N, index_t C, auto* a, auto* d, auto* o) {
                seqcore::softmax_backward(N, C, a, d, o);
            });
        },
        py::arg("y"), py::arg("dy"));
    m.def(
        "log_softmax",
        [](const py::array& x) {
            return unary_rows(x, "x",
                              [](index_t N, index_t C, auto* a, auto* o) { seqcore::log_softmax_forward(N, C, a, o); });
        },
        py::arg("x"));
    m.def(
        "log_softmax_backward",
        [](const py::array& y, const py::array& dy) {
            return binary_rows(y, dy, [](index_t N, index_t C, auto* a, auto* d, auto* o) {
                seqcore::log_softmax_backward(N, C, a, d, o);
            });
        },
        py::arg("y"), py::arg("dy"));
    m.def("softmax_cross_entropy", &softmax_cross_entropy, py::arg("logits"), py::arg("labels"));
    m.def("softmax_cross_entropy_backward", &softmax_cross_entropy_backward, py::arg("probs"), py::arg("labels"),
          py::arg("dloss"));
    m.def("clip_by_value", &clip_by_value, py::arg("a"), py::arg("lo"), py::arg("hi"), py::arg("out").none(true));
    m.def("sum_of_squares", &sum_of_squares, py::arg("a"));
    m.def("scale", &scale, py::arg("a"), py::arg("s"), py::arg("out").none(true));
    m.def("set_num_threads", &seqcore::set_num_threads, py::arg("n"));
    m.def("get_num_threads", &seqcore::get_num_threads);
    m.def("build_info", &build_info);
}
