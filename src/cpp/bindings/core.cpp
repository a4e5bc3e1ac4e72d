// The one binding layer: checks arguments, allocates outputs, releases the GIL around
// the pure C++ work and dispatches on dtype.  The kernels it calls know nothing of
// Python.  Inputs must already be C-contiguous and of one float dtype: seqcore.kernels
// converts user input before it gets here, so a failed check below means a caller
// bypassed that layer, and it gets a ValueError/TypeError rather than a crash.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <Eigen/Core>

#include "seqcore/attention.h"
#include "seqcore/bleu.h"
#include "seqcore/beam.h"
#include "seqcore/conv.h"
#include "seqcore/embedding.h"
#include "seqcore/gelu.h"
#include "seqcore/gemm.h"
#include "seqcore/norm.h"
#include "seqcore/optim.h"
#include "seqcore/recurrent.h"
#include "seqcore/similarity.h"
#include "seqcore/spectrogram.h"
#include "seqcore/word_training.h"
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

// Whether a has dtype T.  Equivalence, not identity: an equal dtype object that is not NumPy's
// singleton (np.dtype('f4').newbyteorder('='), int64 spelled 'q') is the same type.
template <typename T>
bool has_dtype(const py::array& a) {
    return py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr());
}

// Checks one array argument against the call's dtype and an expected shape.
template <typename T>
const T* in(const py::array& a, const char* name, const std::vector<index_t>& shape) {
    if (!has_dtype<T>(a))
        throw py::type_error(std::string(name) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                             ", got " + std::string(py::str(a.dtype())));
    if (shape_of(a) != shape)
        throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " +
                              shape_str(shape_of(a)));
    if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + " must be C-contiguous and aligned");
    return static_cast<const T*>(a.data());
}

// An argument taken as py::object must already be an ndarray: converting a list here would make a
// temporary array that dies with this statement, leaving the kernel a dangling pointer, and an
// update made in place would land in that temporary.
py::array ndarray(const py::object& o, const char* name, const char* what = "a NumPy array") {
    if (!py::isinstance<py::array>(o))
        throw py::type_error(std::string(name) + " must be " + what + ", got " +
                             std::string(py::str(py::type::of(o).attr("__name__"))));
    return py::reinterpret_borrow<py::array>(o);
}

template <typename T>
const T* optional(const py::object& o, const char* name, const std::vector<index_t>& shape) {
    if (o.is_none()) return nullptr;
    return in<T>(ndarray(o, name, "a NumPy array or None"), name, shape);
}

// An array the kernel writes in place: an ndarray (see `ndarray`) checked as `in`, and writeable.
template <typename T>
T* inout(const py::object& o, const char* name, const std::vector<index_t>& shape) {
    const py::array a = ndarray(o, name, "a NumPy array (it is updated in place)");
    in<T>(a, name, shape);
    if (!a.writeable()) throw py::value_error(std::string(name) + " is read-only, but it is updated in place");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

template <typename T>
T* optional_inout(const py::object& o, const char* name, const std::vector<index_t>& shape) {
    if (o.is_none()) return nullptr;
    return inout<T>(o, name, shape);
}

// a * b for sizes and shape entries, or a ValueError: signed overflow is undefined behaviour, and
// a wrapped size would pass a shape check it should fail.
index_t checked_mul(index_t a, index_t b, const char* what) {
    index_t r;
    if (__builtin_mul_overflow(a, b, &r))
        throw py::value_error(std::string(what) + " overflows a 64-bit size: " + std::to_string(a) + " * " +
                              std::to_string(b));
    return r;
}

index_t checked_add(index_t a, index_t b, const char* what) {
    index_t r;
    if (__builtin_add_overflow(a, b, &r))
        throw py::value_error(std::string(what) + " overflows a 64-bit size: " + std::to_string(a) + " + " +
                              std::to_string(b));
    return r;
}

// Arrays updated in place must not overlap one another or the arrays they read (None entries are skipped).
void require_disjoint(std::initializer_list<std::pair<const char*, py::object>> arrays) {
    std::vector<std::tuple<const char*, const char*, const char*>> spans;
    for (const auto& [name, obj] : arrays) {
        if (obj.is_none()) continue;
        const auto a = ndarray(obj, name);
        if (a.nbytes() == 0) continue;
        const char* lo = static_cast<const char*>(a.data());
        const char* hi = lo + a.nbytes();
        for (const auto& [other, olo, ohi] : spans)
            if (lo < ohi && olo < hi) throw py::value_error(std::string(name) + " must not share memory with " + other);
        spans.emplace_back(name, lo, hi);
    }
}

const index_t* lengths_ptr(const py::object& o, index_t B, index_t T) {
    if (o.is_none()) return nullptr;
    const index_t* L = in<index_t>(ndarray(o, "lengths", "a NumPy int64 array or None"), "lengths", {B});
    for (index_t b = 0; b < B; ++b)
        if (L[b] < 0 || L[b] > T)
            throw py::value_error("lengths must lie in [0, T] = [0, " + std::to_string(T) + "], got " +
                                  std::to_string(L[b]));
    return L;
}

// A new C-contiguous output.  Its strides are computed here, counting empty and unit axes as 1 as
// NumPy does: pybind11 multiplies the sizes as they are, and a huge size next to a zero (2**62 x 0)
// overflows there (undefined behaviour).  Sizes whose bytes overflow are refused, as NumPy refuses them.
template <typename T>
py::array_t<T> out(const std::vector<index_t>& shape) {
    std::vector<py::ssize_t> strides(shape.size());
    py::ssize_t step = sizeof(T);
    for (size_t k = shape.size(); k-- > 0;) {
        strides[k] = step;
        if (shape[k] > 1 && __builtin_mul_overflow(step, shape[k], &step))
            throw py::value_error("an output of shape " + shape_str(shape) + " would not fit in memory addresses");
    }
    return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()), strides);
}

template <typename T>
T* ptr(py::array_t<T>& a) {
    return a.mutable_data();
}

// Calls f(T{}) with T the float type of a.
template <typename F>
auto by_dtype(const py::array& a, const char* name, F&& f) {
    if (has_dtype<float>(a)) return f(float{});
    if (has_dtype<double>(a)) return f(double{});
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
    if (U.shape(1) != checked_mul(gates, d.H, "U's width G*H"))
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
    if (U.shape(1) != checked_mul(gates, d.H, "U's width G*H"))
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

// Rows and last-axis size (classes C, features F) of an array viewed as [N, C] over its last axis.
std::pair<index_t, index_t> rows_last_axis(const py::array& a, const char* name) {
    if (a.ndim() < 1 || a.shape(a.ndim() - 1) == 0)
        throw py::value_error(std::string(name) + " must have a non-empty last axis, got shape " +
                              shape_str(shape_of(a)));
    const index_t C = a.shape(a.ndim() - 1);
    return {a.size() / C, C};
}

template <typename Kernel>
py::array unary_rows(const py::array& x, const char* name, Kernel kernel) {
    const auto [N, C] = rows_last_axis(x, name);
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
    const auto [N, C] = rows_last_axis(y, "y");
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
    if (has_dtype<index_t>(labels)) {
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
    const auto [N, C] = rows_last_axis(logits, "logits");
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
    const auto [N, C] = rows_last_axis(probs, "probs");
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

// out: None (a new array) or an array the result is written to, which may be `a` itself (an
// element-wise loop reads a[k] before it writes out[k]) but must not otherwise overlap it.
template <typename T>
py::array_t<T> output_like(const py::array& a, const py::object& out_arr) {
    if (out_arr.is_none()) return out<T>(shape_of(a));
    const py::array o = ndarray(out_arr, "out", "a NumPy array or None");
    in<T>(o, "out", shape_of(a));
    if (!o.writeable()) throw py::value_error("out must be writeable");
    if (o.data() != a.data()) require_disjoint({{"a", a}, {"out", o}});
    return py::reinterpret_borrow<py::array_t<T>>(o);
}

py::array clip_by_value(const py::array& a, double lo, double hi, const py::object& out_arr) {
    if (std::isnan(lo) || std::isnan(hi)) throw py::value_error("lo and hi must not be NaN");
    if (lo > hi) throw py::value_error("lo must be <= hi, got " + std::to_string(lo) + " > " + std::to_string(hi));
    return by_dtype(a, "a", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T* pa = in<T>(a, "a", shape_of(a));
        py::array_t<T> o = output_like<T>(a, out_arr);
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
        py::array_t<T> o = output_like<T>(a, out_arr);
        T* po = ptr(o);
        {
            py::gil_scoped_release nogil;
            seqcore::scale<T>(a.size(), pa, static_cast<T>(s), po);
        }
        return std::move(o);
    });
}

// ---------------------------------------------------------------- optimizer updates (in place)
// param and the state arrays arrive as py::object: each must be the caller's own ndarray (`inout`).

py::array updated(const py::object& param) { return ndarray(param, "param", "a NumPy array (it is updated in place)"); }

void sgd_update(const py::object& param_obj, const py::array& grad, const py::object& velocity, double lr,
                double momentum, bool nesterov) {
    const py::array param = updated(param_obj);
    by_dtype(param, "param", [&](auto tag) {
        using T = decltype(tag);
        const auto shape = shape_of(param);
        T* p = inout<T>(param, "param", shape);
        const T* g = in<T>(grad, "grad", shape);
        const bool use_momentum = momentum != 0.0;
        // checked whenever given (as seqcore.kernels does), used only with momentum
        T* vel = optional_inout<T>(velocity, "velocity", shape);
        if (use_momentum && !vel) throw py::type_error("velocity must be an array when momentum != 0, got None");
        if (!use_momentum) vel = nullptr;
        require_disjoint({{"param", param}, {"grad", grad}, {"velocity", velocity}});
        py::gil_scoped_release nogil;
        seqcore::sgd_update<T>(param.size(), p, g, vel, static_cast<T>(lr), static_cast<T>(momentum), use_momentum,
                               nesterov);
    });
}

void adam_update(const py::object& param_obj, const py::array& grad, const py::object& m, const py::object& v,
                 const py::object& vhat, double alpha, double beta1, double beta2, double eps, double decay) {
    const py::array param = updated(param_obj);
    by_dtype(param, "param", [&](auto tag) {
        using T = decltype(tag);
        const auto shape = shape_of(param);
        T* p = inout<T>(param, "param", shape);
        const T* g = in<T>(grad, "grad", shape);
        T *pm = inout<T>(m, "m", shape), *pv = inout<T>(v, "v", shape), *ph = optional_inout<T>(vhat, "vhat", shape);
        require_disjoint({{"param", param}, {"grad", grad}, {"m", m}, {"v", v}, {"vhat", vhat}});
        py::gil_scoped_release nogil;
        seqcore::adam_update<T>(param.size(), p, g, pm, pv, ph, static_cast<T>(alpha), static_cast<T>(beta1),
                                static_cast<T>(1.0 - beta1), static_cast<T>(beta2), static_cast<T>(1.0 - beta2),
                                static_cast<T>(eps), static_cast<T>(decay), decay != 0.0);
    });
}

void rmsprop_update(const py::object& param_obj, const py::array& grad, const py::object& velocity,
                    const py::object& momentum_buf, const py::object& mg, double lr, double rho, double momentum,
                    double eps) {
    const py::array param = updated(param_obj);
    by_dtype(param, "param", [&](auto tag) {
        using T = decltype(tag);
        const auto shape = shape_of(param);
        T* p = inout<T>(param, "param", shape);
        const T* g = in<T>(grad, "grad", shape);
        T* vel = inout<T>(velocity, "velocity", shape);
        const bool use_momentum = momentum > 0.0;
        // checked whenever given (as seqcore.kernels does); the kernel picks its variant by which are non-null
        T* buf = optional_inout<T>(momentum_buf, "momentum_buf", shape);
        if (use_momentum && !buf) throw py::type_error("momentum_buf must be an array when momentum > 0, got None");
        if (!use_momentum) buf = nullptr;
        T* pmg = optional_inout<T>(mg, "mg", shape);
        require_disjoint(
            {{"param", param}, {"grad", grad}, {"velocity", velocity}, {"momentum_buf", momentum_buf}, {"mg", mg}});
        py::gil_scoped_release nogil;
        seqcore::rmsprop_update<T>(param.size(), p, g, vel, buf, pmg, static_cast<T>(lr), static_cast<T>(rho),
                                   static_cast<T>(1.0 - rho), static_cast<T>(momentum), static_cast<T>(eps));
    });
}

void adagrad_update(const py::object& param_obj, const py::array& grad, const py::object& accumulator, double lr,
                    double eps) {
    const py::array param = updated(param_obj);
    by_dtype(param, "param", [&](auto tag) {
        using T = decltype(tag);
        const auto shape = shape_of(param);
        T* p = inout<T>(param, "param", shape);
        const T* g = in<T>(grad, "grad", shape);
        T* acc = inout<T>(accumulator, "accumulator", shape);
        require_disjoint({{"param", param}, {"grad", grad}, {"accumulator", accumulator}});
        py::gil_scoped_release nogil;
        seqcore::adagrad_update<T>(param.size(), p, g, acc, static_cast<T>(lr), static_cast<T>(eps));
    });
}

// ---------------------------------------------------------------- embedding

// ids: int64 of any shape, each in [0, V) (`bound` names V in the message).
const index_t* ids_ptr(const py::array& ids, index_t V, const char* bound) {
    const index_t* p = in<index_t>(ids, "ids", shape_of(ids));
    for (index_t n = 0; n < ids.size(); ++n)
        if (p[n] < 0 || p[n] >= V)
            throw py::value_error("ids must lie in [0, " + std::string(bound) + ") = [0, " + std::to_string(V) +
                                  "), got " + std::to_string(p[n]));
    return p;
}

py::array embedding_forward(const py::array& weights, const py::array& ids) {
    require_ndim(weights, "weights", 2);
    return by_dtype(weights, "weights", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t V = weights.shape(0), E = weights.shape(1);
        const T* pw = in<T>(weights, "weights", {V, E});
        const index_t* pi = ids_ptr(ids, V, "V");
        auto shape = shape_of(ids);
        shape.push_back(E);
        auto y = out<T>(shape);
        T* py = ptr(y);
        {
            py::gil_scoped_release nogil;
            seqcore::embedding_forward<T>(ids.size(), E, pw, pi, py);
        }
        return std::move(y);
    });
}

py::array embedding_backward(const py::array& ids, const py::array& dy, index_t V) {
    if (V < 0) throw py::value_error("num_embeddings must be >= 0, got " + std::to_string(V));
    if (dy.ndim() != ids.ndim() + 1)
        throw py::value_error("dy must have shape ids.shape + (E,), got " + shape_str(shape_of(dy)));
    return by_dtype(dy, "dy", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t E = dy.shape(dy.ndim() - 1);
        auto shape = shape_of(ids);
        shape.push_back(E);
        const T* pdy = in<T>(dy, "dy", shape);
        const index_t* pi = ids_ptr(ids, V, "num_embeddings");
        auto dW = out<T>({V, E});
        T* pdW = ptr(dW);
        {
            py::gil_scoped_release nogil;
            seqcore::embedding_backward<T>(ids.size(), V, E, pi, pdy, pdW);
        }
        return std::move(dW);
    });
}

// ---------------------------------------------------------------- similarity search

py::tuple topk_dot(const py::array& matrix, const py::array& queries, index_t k, const py::object& exclude) {
    require_ndim(matrix, "matrix", 2);
    require_ndim(queries, "queries", 2);
    return by_dtype(matrix, "matrix", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t V = matrix.shape(0), E = matrix.shape(1), Q = queries.shape(0);
        const T* pm = in<T>(matrix, "matrix", {V, E});
        const T* pq = in<T>(queries, "queries", {Q, E});
        if (k < 1 || k > V)
            throw py::value_error("k must lie in [1, V] = [1, " + std::to_string(V) + "], got " + std::to_string(k));
        const index_t* pe = nullptr;
        index_t X = 0;
        if (!exclude.is_none()) {
            const py::array ex = ndarray(exclude, "exclude", "a NumPy int64 array or None");
            require_ndim(ex, "exclude", 2);
            X = ex.shape(1);
            pe = in<index_t>(ex, "exclude", {Q, X});
            const index_t n = checked_mul(Q, X, "exclude's size");
            for (index_t j = 0; j < n; ++j)
                if (pe[j] < -1 || pe[j] >= V)
                    throw py::value_error("exclude must lie in [-1, V) = [-1, " + std::to_string(V) +
                                          ") (-1 = padding), got " + std::to_string(pe[j]));
        }
        auto scores = out<T>({Q, k});
        auto ids = out<index_t>({Q, k});
        T* ps = ptr(scores);
        index_t* pi = ptr(ids);
        const int threads = seqcore::get_num_threads();
        {
            py::gil_scoped_release nogil;
            seqcore::topk_dot<T>(V, E, Q, k, pm, pq, pe, X, threads, ps, pi);
        }
        return py::make_tuple(scores, ids);
    });
}

// ---------------------------------------------------------------- beam search

// An int64 / bool / float64 array updated in place (see `inout`), of exactly `shape`.
template <typename T>
T* state_array(const py::object& o, const char* name, const std::vector<index_t>& shape) {
    return inout<T>(o, name, shape);
}

py::array beam_search_step(const py::object& scores_obj, const py::object& tokens_obj, const py::object& fin_scores,
                           const py::object& fin_log_probs, const py::object& fin_tokens,
                           const py::object& fin_lengths, const py::object& fin_count, const py::object& done,
                           const py::array& log_probs, const py::array& rows, index_t step, index_t eos,
                           const py::array& length_norm) {
    const py::array scores = ndarray(scores_obj, "state.scores", "a NumPy array (it is updated in place)");
    const py::array tokens = ndarray(tokens_obj, "state.tokens", "a NumPy array (it is updated in place)");
    require_ndim(scores, "state.scores", 2);
    require_ndim(tokens, "state.tokens", 3);
    seqcore::BeamState s;
    s.B = scores.shape(0);
    s.K = scores.shape(1);
    s.L = tokens.shape(2);
    const index_t B = s.B, K = s.K, L = s.L;
    if (K < 1) throw py::value_error("state.scores must have K >= 1 columns (the beam width), got 0");
    if (L < 1) throw py::value_error("state.tokens must have L >= 1 positions (max_len), got 0");
    s.scores = state_array<double>(scores, "state.scores", {B, K});
    s.tokens = state_array<index_t>(tokens, "state.tokens", {B, K, L});
    s.fin_scores = state_array<double>(fin_scores, "state.fin_scores", {B, K});
    s.fin_log_probs = state_array<double>(fin_log_probs, "state.fin_log_probs", {B, K});
    s.fin_tokens = state_array<index_t>(fin_tokens, "state.fin_tokens", {B, K, L});
    s.fin_lengths = state_array<index_t>(fin_lengths, "state.fin_lengths", {B, K});
    s.fin_count = state_array<index_t>(fin_count, "state.fin_count", {B});
    s.done = reinterpret_cast<std::uint8_t*>(state_array<bool>(done, "state.done", {B}));
    require_ndim(log_probs, "log_probs", 2);
    require_ndim(rows, "rows", 1);
    const index_t A = rows.shape(0), V = log_probs.shape(1);
    const index_t* pr = in<index_t>(rows, "rows", {A});
    if (V < 1) throw py::value_error("log_probs must have V >= 1 columns (the vocabulary), got 0");
    const std::vector<index_t> lp_shape{checked_mul(A, K, "log_probs' rows A*K"), V};
    checked_mul(A, checked_mul(2, K, "2K"), "the ranked candidates A*2K");
    for (index_t a = 0; a < A; ++a) {
        if (pr[a] < 0 || pr[a] >= B)
            throw py::value_error("rows must lie in [0, B) = [0, " + std::to_string(B) + "), got " +
                                  std::to_string(pr[a]));
        if (a > 0 && pr[a] <= pr[a - 1]) throw py::value_error("rows must be strictly increasing");
        if (s.done[pr[a]]) throw py::value_error("rows must not name a finished row, got " + std::to_string(pr[a]));
    }
    if (step < 0 || step >= L)
        throw py::value_error("step must lie in [0, L) = [0, " + std::to_string(L) + "), got " + std::to_string(step));
    if (eos < -1 || eos >= V)
        throw py::value_error("eos must lie in [0, V) = [0, " + std::to_string(V) + ") or be -1 (none), got " +
                              std::to_string(eos));
    const double* norm = in<double>(length_norm, "length_norm", {L});
    for (index_t n = 0; n < L; ++n)
        if (!(norm[n] > 0.0) || std::isinf(norm[n]))
            throw py::value_error("length_norm must be finite and > 0, got " + std::to_string(norm[n]));
    for (index_t j = 0; j < B * K; ++j)
        if (!(s.scores[j] <= 0.0)) throw py::value_error("state.scores must be <= 0 (summed log-probs)");
    for (index_t j = 0; j < B * K; ++j)
        if (s.fin_scores[j] != s.fin_scores[j])
            throw py::value_error("state.fin_scores must not be NaN and must be best first in the slots held");
    for (index_t b = 0; b < B; ++b) {
        const index_t count = s.fin_count[b];
        if (count < 0 || count > K)
            throw py::value_error("state.fin_count must lie in [0, K] = [0, " + std::to_string(K) + "], got " +
                                  std::to_string(count));
        for (index_t j = 1; j < count; ++j)
            if (s.fin_scores[b * K + j] > s.fin_scores[b * K + j - 1])
                throw py::value_error("state.fin_scores must not be NaN and must be best first in the slots held");
    }
    require_disjoint({{"state.scores", scores_obj}, {"state.tokens", tokens_obj}, {"state.fin_scores", fin_scores},
                      {"state.fin_log_probs", fin_log_probs}, {"state.fin_tokens", fin_tokens},
                      {"state.fin_lengths", fin_lengths}, {"state.fin_count", fin_count}, {"state.done", done},
                      {"log_probs", log_probs}, {"rows", rows}, {"length_norm", length_norm}});
    auto parents = out<index_t>({A, K});
    index_t* pp = ptr(parents);
    const int threads = seqcore::get_num_threads();
    const seqcore::BadLogProb bad = by_dtype(log_probs, "log_probs", [&](auto tag) {
        using T = decltype(tag);
        const T* lp = in<T>(log_probs, "log_probs", lp_shape);
        py::gil_scoped_release nogil;
        return seqcore::beam_search_step<T>(s, A, V, lp, pr, step, eos, norm, threads, pp);
    });
    if (bad.row >= 0)  // the value as Python writes it, so every backend says the same
        throw py::value_error("log_probs must hold log-probabilities (<= 0, not NaN; up to 0.0001 above 0 is read "
                              "as 0), got " +
                              std::string(py::repr(py::float_(bad.value))) + " at log_probs[" +
                              std::to_string(bad.row) + ", " + std::to_string(bad.col) + "]");
    return std::move(parents);
}

py::array gather_rows(const py::array& x, const py::array& idx) {
    if (x.ndim() < 1) throw py::value_error("x must have at least 1 dimension (the rows), got shape ()");
    require_ndim(idx, "idx", 1);
    const index_t N = x.shape(0), M = idx.shape(0);
    const index_t* pi = in<index_t>(idx, "idx", {M});
    for (index_t m = 0; m < M; ++m)
        if (pi[m] < 0 || pi[m] >= N)
            throw py::value_error("idx must lie in [0, N) = [0, " + std::to_string(N) + "), got " +
                                  std::to_string(pi[m]));
    auto shape = shape_of(x);
    index_t R = 1;
    for (size_t d = 1; d < shape.size(); ++d) R = checked_mul(R, shape[d], "a row's size");
    shape[0] = M;
    const int threads = seqcore::get_num_threads();
    auto run = [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T* px = in<T>(x, "x", shape_of(x));
        auto y = out<T>(shape);
        T* py_ = ptr(y);
        {
            py::gil_scoped_release nogil;
            seqcore::gather_rows<T>(N, R, M, px, pi, threads, py_);
        }
        return std::move(y);
    };
    if (has_dtype<index_t>(x)) return run(index_t{});
    if (has_dtype<float>(x)) return run(float{});
    if (has_dtype<double>(x)) return run(double{});
    throw py::type_error("x must have dtype float32, float64 or int64, got " + std::string(py::str(x.dtype())));
}

// ---------------------------------------------------------------- word-vector training

constexpr index_t kMaxNegative = index_t(1) << 20;

// A 1-D int64 array of ids in [0, V).
const index_t* ids_1d(const py::array& a, const char* name, index_t V) {
    require_ndim(a, name, 1);
    const index_t* p = in<index_t>(a, name, shape_of(a));
    for (index_t n = 0; n < a.size(); ++n)
        if (p[n] < 0 || p[n] >= V)
            throw py::value_error(std::string(name) + " must lie in [0, V) = [0, " + std::to_string(V) + "), got " +
                                  std::to_string(p[n]));
    return p;
}

// sentence_offsets: [S+1] int64 rising from 0 to N.  Returns S.
index_t sentence_count(const py::array& offsets, index_t N) {
    require_ndim(offsets, "sentence_offsets", 1);
    if (offsets.shape(0) < 1) throw py::value_error("sentence_offsets must have shape (S+1,) with S >= 0, got (0,)");
    const index_t* p = in<index_t>(offsets, "sentence_offsets", shape_of(offsets));
    const index_t S = offsets.shape(0) - 1;
    bool ok = p[0] == 0 && p[S] == N;
    for (index_t s = 0; ok && s < S; ++s) ok = p[s] <= p[s + 1];
    if (!ok)
        throw py::value_error("sentence_offsets must rise from 0 to len(ids) = " + std::to_string(N) + ", got " +
                              std::to_string(p[0]) + " .. " + std::to_string(p[S]));
    return S;
}

void check_count(index_t value, const char* name, index_t low, index_t high = std::numeric_limits<index_t>::max()) {
    if (value < low || value > high)
        throw py::value_error(std::string(name) + " must lie in [" + std::to_string(low) + ", " + std::to_string(high) +
                              "], got " + std::to_string(value));
}

// A finite real >= low.
void check_real(double value, const char* name, double low) {
    if (!(value >= low) || std::isinf(value)) throw py::value_error(std::string(name) + " must be finite and >= " + std::to_string(low) + ", got " +
                                                std::to_string(value));
}

py::tuple word2vec_sgns_train(const py::array& ids, const py::array& offsets, const py::object& W_in_obj,
                              const py::object& W_out_obj, const py::array& neg_table, const py::array& keep_prob,
                              index_t window, index_t negative, double alpha, double min_alpha, index_t words_done,
                              index_t total_words, std::uint64_t seed, index_t threads) {
    const py::array W_in = ndarray(W_in_obj, "W_in", "a NumPy array (it is updated in place)");
    require_ndim(W_in, "W_in", 2);
    check_count(window, "window", 1);
    check_count(negative, "negative", 0, kMaxNegative);
    check_real(alpha, "alpha", 0.0);
    check_real(min_alpha, "min_alpha", 0.0);
    check_count(words_done, "words_done", 0);
    check_count(total_words, "total_words", 1);
    check_count(threads, "threads", 1);
    return by_dtype(W_in, "W_in", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const index_t V = W_in.shape(0), E = W_in.shape(1);
        T* pin = inout<T>(W_in, "W_in", {V, E});
        T* pout = inout<T>(W_out_obj, "W_out", {V, E});
        const index_t* pids = ids_1d(ids, "ids", V);
        const index_t S = sentence_count(offsets, ids.shape(0));
        const index_t* poff = static_cast<const index_t*>(offsets.data());
        const index_t* ptab = ids_1d(neg_table, "neg_table", V);
        if (neg_table.size() == 0) throw py::value_error("neg_table must be a non-empty 1-D array of ids, got (0,)");
        const double* pkeep = in<double>(keep_prob, "keep_prob", {V});
        require_disjoint({{"W_in", W_in}, {"W_out", W_out_obj}, {"ids", ids}, {"sentence_offsets", offsets},
                          {"neg_table", neg_table}, {"keep_prob", keep_prob}});
        double loss = 0.0;
        index_t terms = 0;
        const int nt = static_cast<int>(std::min<index_t>(threads, 256));
        {
            py::gil_scoped_release nogil;
            seqcore::word2vec_sgns_train<T>(V, E, S, pids, poff, pin, pout, neg_table.size(), ptab, pkeep, window,
                                            negative, alpha, min_alpha, words_done, total_words, seed, nt, &loss,
                                            &terms);
        }
        return py::make_tuple(loss, terms, ids.shape(0));
    });
}

py::tuple glove_cooccurrence(const py::array& ids, const py::array& offsets, index_t V, index_t window,
                             bool symmetric) {
    check_count(V, "V", 0, 3037000499);
    check_count(window, "window", 1);
    const index_t* pids = ids_1d(ids, "ids", V);
    const index_t S = sentence_count(offsets, ids.shape(0));
    const index_t* poff = static_cast<const index_t*>(offsets.data());
    std::vector<index_t> keys;
    std::vector<double> values;
    {
        py::gil_scoped_release nogil;
        seqcore::glove_cooccurrence(V, S, pids, poff, window, symmetric, keys, values);
    }
    const index_t n = static_cast<index_t>(keys.size());
    auto rows = out<index_t>({n});
    auto cols = out<index_t>({n});
    auto vals = out<double>({n});
    index_t *pr = ptr(rows), *pc = ptr(cols);
    double* pv = ptr(vals);
    for (index_t k = 0; k < n; ++k) {
        pr[k] = keys[k] / V;
        pc[k] = keys[k] % V;
        pv[k] = values[k];
    }
    return py::make_tuple(rows, cols, vals);
}

py::array glove_train(const py::array& rows, const py::array& cols, const py::array& values, const py::object& W_obj,
                      const py::object& C, const py::object& bw, const py::object& bc, const py::object& gW,
                      const py::object& gC, const py::object& gbw, const py::object& gbc, double x_max, double alpha,
                      double lr, index_t epochs, std::uint64_t seed, index_t threads) {
    const py::array W = ndarray(W_obj, "W", "a NumPy array (it is updated in place)");
    require_ndim(W, "W", 2);
    if (!(x_max > 0) || std::isinf(x_max)) throw py::value_error("x_max must be > 0, got " + std::to_string(x_max));
    check_real(alpha, "alpha", 0.0);
    check_real(lr, "lr", 0.0);
    check_count(epochs, "epochs", 0);
    check_count(threads, "threads", 1);
    return by_dtype(W, "W", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t V = W.shape(0), E = W.shape(1);
        T* pW = inout<T>(W, "W", {V, E});
        T* pC = inout<T>(C, "C", {V, E});
        T* pbw = inout<T>(bw, "bw", {V});
        T* pbc = inout<T>(bc, "bc", {V});
        T* pgW = inout<T>(gW, "gradsq_W", {V, E});
        T* pgC = inout<T>(gC, "gradsq_C", {V, E});
        T* pgbw = inout<T>(gbw, "gradsq_bw", {V});
        T* pgbc = inout<T>(gbc, "gradsq_bc", {V});
        const index_t* pr = ids_1d(rows, "rows", V);
        const index_t n = rows.shape(0);
        const index_t* pc = ids_1d(cols, "cols", V);
        if (cols.shape(0) != n)
            throw py::value_error("cols must have shape (n,) = (" + std::to_string(n) + ",), got " +
                                  shape_str(shape_of(cols)));
        const double* pv = in<double>(values, "values", {n});
        for (index_t k = 0; k < n; ++k)
            if (!(pv[k] > 0))
                throw py::value_error("values must be positive co-occurrences (log x is taken), got " +
                                      std::to_string(pv[k]));
        require_disjoint({{"W", W}, {"C", C}, {"bw", bw}, {"bc", bc}, {"gradsq_W", gW}, {"gradsq_C", gC},
                          {"gradsq_bw", gbw}, {"gradsq_bc", gbc}, {"rows", rows}, {"cols", cols}, {"values", values}});
        auto costs = out<double>({epochs});
        double* pcost = ptr(costs);
        const int nt = static_cast<int>(std::min<index_t>(threads, 256));
        {
            py::gil_scoped_release nogil;
            seqcore::glove_train<T>(V, E, n, pr, pc, pv, pW, pC, pbw, pbc, pgW, pgC, pgbw, pgbc, x_max, alpha, lr,
                                    epochs, seed, nt, pcost);
        }
        return std::move(costs);
    });
}

// ---------------------------------------------------------------- BLEU statistics

// text for an error message: printable ASCII as it is, every other byte as \xNN (the message must be
// valid UTF-8, and a NUL would cut it short).
std::string printable(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
        } else {
            const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// A 1-D uint8 array of UTF-8 bytes.
const std::uint8_t* text_bytes(const py::array& a, const char* name) {
    require_ndim(a, name, 1);
    return in<std::uint8_t>(a, name, shape_of(a));
}

// offsets: [K+1] int64 rising from 0 to total (`what` names total).  Returns K.
index_t rising_offsets(const py::array& offsets, const char* name, index_t total, const char* what) {
    require_ndim(offsets, name, 1);
    if (offsets.shape(0) < 1) throw py::value_error(std::string(name) + " must have shape (K+1,) with K >= 0, got (0,)");
    const index_t* p = in<index_t>(offsets, name, shape_of(offsets));
    const index_t K = offsets.shape(0) - 1;
    bool ok = p[0] == 0 && p[K] == total;
    for (index_t k = 0; ok && k < K; ++k) ok = p[k] <= p[k + 1];
    if (!ok)
        throw py::value_error(std::string(name) + " must rise from 0 to " + what + " = " + std::to_string(total) +
                              ", got " + std::to_string(p[0]) + " .. " + std::to_string(p[K]) +
                              (p[0] == 0 && p[K] == total ? " (decreasing)" : ""));
    return K;
}

py::array bleu_stats(const py::array& hyp_text, const py::array& hyp_offsets, const py::array& ref_text,
                     const py::array& ref_offsets, const py::array& ref_groups, index_t max_order,
                     const std::string& tokenize) {
    const std::uint8_t* ph = text_bytes(hyp_text, "hyp_text");
    const index_t S = rising_offsets(hyp_offsets, "hyp_offsets", hyp_text.shape(0), "len(hyp_text)");
    const std::uint8_t* pr = text_bytes(ref_text, "ref_text");
    const index_t M = rising_offsets(ref_offsets, "ref_offsets", ref_text.shape(0), "len(ref_text)");
    const index_t G = rising_offsets(ref_groups, "ref_groups", M, "the number of references M");
    if (G != S)
        throw py::value_error("ref_groups must have shape (S+1,) = (" + std::to_string(S + 1) + ",), got (" +
                              std::to_string(G + 1) + ",)");
    check_count(max_order, "max_order", 1, seqcore::kBleuMaxOrder);
    seqcore::BleuTokenizer tokenizer;
    if (tokenize == "13a")
        tokenizer = seqcore::BleuTokenizer::k13a;
    else if (tokenize == "none")
        tokenizer = seqcore::BleuTokenizer::kNone;
    else
        throw py::value_error("tokenize must be '13a' or 'none', got '" + printable(tokenize) + "'");
    auto stats = out<index_t>({S, 2 + 2 * max_order});
    index_t* ps = ptr(stats);
    const index_t *pho = static_cast<const index_t*>(hyp_offsets.data()),
                  *pro = static_cast<const index_t*>(ref_offsets.data()),
                  *pg = static_cast<const index_t*>(ref_groups.data());
    const int threads = seqcore::get_num_threads();
    {
        py::gil_scoped_release nogil;
        seqcore::bleu_stats(S, ph, pho, pr, pro, pg, max_order, tokenizer, threads, ps);
    }
    return std::move(stats);
}

// ---------------------------------------------------------------- normalization ([N,F] views)

void check_eps(double eps) {
    if (!(eps >= 0.0)) throw py::value_error("eps must be >= 0, got " + std::to_string(eps));
}

py::tuple layer_norm_forward(const py::array& x, const py::array& gamma, const py::array& beta, double eps) {
    const auto [N, F] = rows_last_axis(x, "x");
    check_eps(eps);
    return by_dtype(x, "x", [&, N = N, F = F](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T *px = in<T>(x, "x", shape_of(x)), *pg = in<T>(gamma, "gamma", {F}), *pb = in<T>(beta, "beta", {F});
        auto y = out<T>(shape_of(x));
        auto xhat = out<T>(shape_of(x));
        auto mean = out<T>({N});
        auto rstd = out<T>({N});
        T *py = ptr(y), *ph = ptr(xhat), *pm = ptr(mean), *pr = ptr(rstd);
        {
            py::gil_scoped_release nogil;
            seqcore::layer_norm_forward<T>(N, F, px, pg, pb, eps, py, ph, pm, pr);
        }
        return py::make_tuple(y, xhat, mean, rstd);
    });
}

// The backward of either norm: xhat [...,F], rstd [N] (layer) or [F] (batch), gamma [F], dy like xhat.
template <typename Kernel>
py::tuple norm_backward(const py::array& xhat, const py::array& rstd, const py::array& gamma, const py::array& dy,
                        bool per_row, Kernel kernel) {
    const auto [N, F] = rows_last_axis(xhat, "xhat");
    return by_dtype(xhat, "xhat", [&, N = N, F = F](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T *ph = in<T>(xhat, "xhat", shape_of(xhat)), *pr = in<T>(rstd, "rstd", {per_row ? N : F});
        const T *pg = in<T>(gamma, "gamma", {F}), *pdy = in<T>(dy, "dy", shape_of(xhat));
        auto dx = out<T>(shape_of(xhat));
        auto dgamma = out<T>({F});
        auto dbeta = out<T>({F});
        T *pdx = ptr(dx), *pdg = ptr(dgamma), *pdb = ptr(dbeta);
        {
            py::gil_scoped_release nogil;
            kernel(N, F, ph, pr, pg, pdy, pdx, pdg, pdb);
        }
        return py::make_tuple(dx, dgamma, dbeta);
    });
}

py::tuple batch_norm_forward(const py::array& x, const py::array& gamma, const py::array& beta, double eps) {
    const auto [N, F] = rows_last_axis(x, "x");
    check_eps(eps);
    if (N == 0) throw py::value_error("x must have at least one row to normalize over, got " + shape_str(shape_of(x)));
    return by_dtype(x, "x", [&, N = N, F = F](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T *px = in<T>(x, "x", shape_of(x)), *pg = in<T>(gamma, "gamma", {F}), *pb = in<T>(beta, "beta", {F});
        auto y = out<T>(shape_of(x));
        auto xhat = out<T>(shape_of(x));
        auto mean = out<T>({F});
        auto var = out<T>({F});
        auto rstd = out<T>({F});
        T *py = ptr(y), *ph = ptr(xhat), *pm = ptr(mean), *pv = ptr(var), *pr = ptr(rstd);
        {
            py::gil_scoped_release nogil;
            seqcore::batch_norm_forward<T>(N, F, px, pg, pb, eps, py, ph, pm, pv, pr);
        }
        return py::make_tuple(y, xhat, mean, var, rstd);
    });
}

// ---------------------------------------------------------------- Conv1D (channels last)

seqcore::Conv1DShape conv1d_shape(const py::array& x, const py::array& W, index_t stride, index_t left, index_t right,
                                  index_t dilation) {
    require_ndim(x, "x", 3);
    require_ndim(W, "W", 3);
    if (stride < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(stride));
    if (dilation < 1) throw py::value_error("dilation must be >= 1, got " + std::to_string(dilation));
    if (left < 0 || right < 0)
        throw py::value_error("padding must be a pair (left, right) of non-negative ints, got (" +
                              std::to_string(left) + ", " + std::to_string(right) + ")");
    seqcore::Conv1DShape s{x.shape(0), x.shape(1), x.shape(2), W.shape(0), W.shape(2), 0, stride, left, dilation};
    if (W.shape(1) != s.C || s.K < 1)
        throw py::value_error("W must have shape (K, C, F) with K >= 1 and C = " + std::to_string(s.C) + ", got " +
                              shape_str(shape_of(W)));
    // Sizes in checked arithmetic: padding and dilation come straight from the caller.
    const index_t padded = checked_add(checked_add(s.T, left, "T + left + right"), right, "T + left + right");
    const index_t span = checked_add(checked_mul(dilation, s.K - 1, "dilation * (K - 1)"), 1, "dilation * (K - 1) + 1");
    if (padded < span)
        throw py::value_error("x is too short: T + left + right = " + std::to_string(padded) +
                              " steps, fewer than the dilated kernel's " + std::to_string(span));
    s.To = (padded - span) / stride + 1;
    return s;
}

py::array conv1d_forward(const py::array& x, const py::array& W, const py::object& b, index_t stride, index_t left,
                         index_t right, index_t dilation) {
    const auto s = conv1d_shape(x, W, stride, left, right, dilation);
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T *px = in<T>(x, "x", {s.B, s.T, s.C}), *pW = in<T>(W, "W", {s.K, s.C, s.F});
        const T* pb = optional<T>(b, "b", {s.F});
        auto y = out<T>({s.B, s.To, s.F});
        T* py = ptr(y);
        {
            py::gil_scoped_release nogil;
            seqcore::conv1d_forward<T>(s, px, pW, pb, py);
        }
        return std::move(y);
    });
}

py::tuple conv1d_backward(const py::array& x, const py::array& W, bool has_bias, index_t stride, index_t left,
                          index_t right, index_t dilation, const py::array& dy) {
    const auto s = conv1d_shape(x, W, stride, left, right, dilation);
    return by_dtype(x, "x", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T *px = in<T>(x, "x", {s.B, s.T, s.C}), *pW = in<T>(W, "W", {s.K, s.C, s.F});
        const T* pdy = in<T>(dy, "dy", {s.B, s.To, s.F});
        auto dx = out<T>({s.B, s.T, s.C});
        auto dW = out<T>({s.K, s.C, s.F});
        py::object db = py::none();
        T* pdb = nullptr;
        if (has_bias) {
            auto a = out<T>({s.F});
            pdb = ptr(a);
            db = std::move(a);
        }
        T *pdx = ptr(dx), *pdW = ptr(dW);
        {
            py::gil_scoped_release nogil;
            seqcore::conv1d_backward<T>(s, px, pW, pdy, pdx, pdW, pdb);
        }
        return py::make_tuple(dx, dW, db);
    });
}

// ---------------------------------------------------------------- attention

struct AttentionDims {
    index_t B, h, Lq, Lk, Dh, Dv;
};

// q [B,h,Lq,Dh], k [B,h,Lk,Dh], v [B,h,Lk,Dv]: the sizes, read from q, k's length and v's width (the shapes
// themselves are checked by `in`).
AttentionDims attention_dims(const py::array& q, const py::array& k, const py::array& v) {
    require_ndim(q, "q", 4);
    require_ndim(k, "k", 4);
    require_ndim(v, "v", 4);
    const AttentionDims d{q.shape(0), q.shape(1), q.shape(2), k.shape(2), q.shape(3), v.shape(3)};
    // The kernel numbers the (b, hh, i, j) pairs in an int64 (the dropout hash's index).
    checked_mul(checked_mul(checked_mul(d.B, d.h, "B*h"), d.Lq, "B*h*Lq"), d.Lk, "B*h*Lq*Lk");
    return d;
}

struct AttentionMaskArg {
    const std::uint8_t* data = nullptr;
    index_t strides[4] = {0, 0, 0, 0};
};

// mask: None or a C-contiguous bool array [mb,mh,mq,mk], each dimension 1 (broadcast) or the full size.
AttentionMaskArg attention_mask(const py::object& mask, const AttentionDims& d) {
    AttentionMaskArg r;
    if (mask.is_none()) return r;
    const py::array m = ndarray(mask, "mask", "a NumPy bool array or None");
    if (!has_dtype<bool>(m))
        throw py::type_error("mask must have dtype bool, got " + std::string(py::str(m.dtype())));
    const std::vector<index_t> full{d.B, d.h, d.Lq, d.Lk};
    if (m.ndim() != 4)
        throw py::value_error("mask must have 4 dimensions, each 1 or the size of (B, h, Lq, Lk) = " +
                              shape_str(full) + ", got shape " + shape_str(shape_of(m)));
    std::vector<index_t> shape = shape_of(m);
    for (int a = 0; a < 4; ++a)
        if (shape[a] != 1 && shape[a] != full[a])
            throw py::value_error("mask must have each dimension 1 or the size of (B, h, Lq, Lk) = " +
                                  shape_str(full) + ", got shape " + shape_str(shape));
    r.data = reinterpret_cast<const std::uint8_t*>(in<bool>(m, "mask", shape));
    index_t step = 1;
    for (int a = 3; a >= 0; --a) {
        r.strides[a] = shape[a] == 1 ? 0 : step;
        step *= shape[a];
    }
    return r;
}

std::uint64_t seed_arg(const py::object& seed) {
    PyObject* index = PyNumber_Index(seed.ptr());
    if (!index) {
        PyErr_Clear();
        throw py::type_error("seed must be an int, got " + std::string(py::str(py::type::of(seed).attr("__name__"))));
    }
    const unsigned long long s = PyLong_AsUnsignedLongLong(index);
    Py_DECREF(index);
    if (s == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error("seed must lie in [0, 2**64), got " + std::string(py::str(seed)));
    }
    return s;
}

void attention_scalars(double scale, double dropout) {
    if (!std::isfinite(scale))
        throw py::value_error("scale must be finite, got " + std::string(py::str(py::float_(scale))));
    if (!(dropout >= 0.0 && dropout < 1.0))
        throw py::value_error("dropout must lie in [0, 1), got " + std::string(py::str(py::float_(dropout))));
}

py::tuple attention_forward(const py::array& q, const py::array& k, const py::array& v, const py::object& mask,
                            bool causal, double scale, double dropout, const py::object& seed) {
    const AttentionDims d = attention_dims(q, k, v);
    attention_scalars(scale, dropout);
    const std::uint64_t s = seed_arg(seed);
    const AttentionMaskArg m = attention_mask(mask, d);
    return by_dtype(q, "q", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T* pq = in<T>(q, "q", {d.B, d.h, d.Lq, d.Dh});
        const T* pk = in<T>(k, "k", {d.B, d.h, d.Lk, d.Dh});
        const T* pv = in<T>(v, "v", {d.B, d.h, d.Lk, d.Dv});
        auto o = out<T>({d.B, d.h, d.Lq, d.Dv});
        auto lse = out<T>({d.B, d.h, d.Lq});
        T* po = ptr(o);
        T* pl = ptr(lse);
        const int threads = seqcore::get_num_threads();
        {
            py::gil_scoped_release nogil;
            seqcore::attention_forward<T>(d.B, d.h, d.Lq, d.Lk, d.Dh, d.Dv, pq, pk, pv, m.data, m.strides, causal,
                                          scale, dropout, s, threads, po, pl);
        }
        return py::make_tuple(o, lse);
    });
}

py::tuple attention_backward(const py::array& q, const py::array& k, const py::array& v, const py::array& o,
                             const py::array& lse, const py::object& mask, bool causal, double scale, double dropout,
                             const py::object& seed, const py::array& dout) {
    const AttentionDims d = attention_dims(q, k, v);
    attention_scalars(scale, dropout);
    const std::uint64_t s = seed_arg(seed);
    const AttentionMaskArg m = attention_mask(mask, d);
    return by_dtype(q, "q", [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const T* pq = in<T>(q, "q", {d.B, d.h, d.Lq, d.Dh});
        const T* pk = in<T>(k, "k", {d.B, d.h, d.Lk, d.Dh});
        const T* pv = in<T>(v, "v", {d.B, d.h, d.Lk, d.Dv});
        const T* po = in<T>(o, "out", {d.B, d.h, d.Lq, d.Dv});
        const T* pl = in<T>(lse, "lse", {d.B, d.h, d.Lq});
        const T* pg = in<T>(dout, "dout", {d.B, d.h, d.Lq, d.Dv});
        auto dq = out<T>({d.B, d.h, d.Lq, d.Dh});
        auto dk = out<T>({d.B, d.h, d.Lk, d.Dh});
        auto dv = out<T>({d.B, d.h, d.Lk, d.Dv});
        T* pdq = ptr(dq);
        T* pdk = ptr(dk);
        T* pdv = ptr(dv);
        const int threads = seqcore::get_num_threads();
        {
            py::gil_scoped_release nogil;
            seqcore::attention_backward<T>(d.B, d.h, d.Lq, d.Lk, d.Dh, d.Dv, pq, pk, pv, po, pl, pg, m.data,
                                           m.strides, causal, scale, dropout, s, threads, pdq, pdk, pdv);
        }
        return py::make_tuple(dq, dk, dv);
    });
}

// ---------------------------------------------------------------- GELU

py::array gelu_forward(const py::array& x, bool approximate) {
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const auto shape = shape_of(x);
        const T* px = in<T>(x, "x", shape);
        auto y = out<T>(shape);
        T* py_ = ptr(y);
        const index_t n = x.size();
        {
            py::gil_scoped_release nogil;
            seqcore::gelu_forward<T>(n, px, approximate, py_);
        }
        return std::move(y);
    });
}

py::array gelu_backward(const py::array& x, const py::array& dy, bool approximate) {
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const auto shape = shape_of(x);
        const T* px = in<T>(x, "x", shape);
        const T* pg = in<T>(dy, "dy", shape);
        auto dx = out<T>(shape);
        T* pd = ptr(dx);
        const index_t n = x.size();
        {
            py::gil_scoped_release nogil;
            seqcore::gelu_backward<T>(n, px, pg, approximate, pd);
        }
        return std::move(dx);
    });
}

// ---------------------------------------------------------------- spectrogram

// x: [B,L] float32/float64 clips; window: [W] float64; returns the PSD [B,T,F] in x's dtype.
py::array spectrogram(const py::array& x, const py::array& window, index_t noverlap, double scale) {
    require_ndim(x, "x", 2);
    require_ndim(window, "window", 1);
    const index_t B = x.shape(0), L = x.shape(1), W = window.shape(0);
    const double* pw = in<double>(window, "window", {W});
    if (W < 2 || W > seqcore::kSpectrogramMaxWindow)
        throw py::value_error("window must have between 2 and " + std::to_string(seqcore::kSpectrogramMaxWindow) +
                              " values (nfft), got " + std::to_string(W));
    if (noverlap < 0 || noverlap >= W)
        throw py::value_error("noverlap must lie in [0, nfft) = [0, " + std::to_string(W) + "), got " +
                              std::to_string(noverlap));
    if (!(scale > 0.0 && std::isfinite(scale)))
        throw py::value_error("scale must be positive and finite, got " + std::string(py::str(py::float_(scale))));
    return by_dtype(x, "x", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const T* px = in<T>(x, "x", {B, L});
        if (L < W)
            throw py::value_error("x must have at least nfft = " + std::to_string(W) + " samples per row, got " +
                                  std::to_string(L));
        const index_t frames = (L - noverlap) / (W - noverlap), F = W / 2 + 1;
        auto psd = out<T>({B, frames, F});
        T* pp = ptr(psd);
        const int threads = seqcore::get_num_threads();
        {
            py::gil_scoped_release nogil;
            seqcore::spectrogram<T>(B, L, W, noverlap, px, pw, scale, threads, pp);
        }
        return std::move(psd);
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
    m.def("sgd_update", &sgd_update, py::arg("param"), py::arg("grad"), py::arg("velocity").none(true),
          py::arg("lr"), py::arg("momentum"), py::arg("nesterov"));
    m.def("adam_update", &adam_update, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"),
          py::arg("vhat").none(true), py::arg("alpha"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("decay"));
    m.def("rmsprop_update", &rmsprop_update, py::arg("param"), py::arg("grad"), py::arg("velocity"),
          py::arg("momentum_buf").none(true), py::arg("mg").none(true), py::arg("lr"), py::arg("rho"),
          py::arg("momentum"), py::arg("eps"));
    m.def("adagrad_update", &adagrad_update, py::arg("param"), py::arg("grad"), py::arg("accumulator"), py::arg("lr"),
          py::arg("eps"));
    m.def("embedding_forward", &embedding_forward, py::arg("weights"), py::arg("ids"));
    m.def("embedding_backward", &embedding_backward, py::arg("ids"), py::arg("dy"), py::arg("num_embeddings"));
    m.def("topk_dot", &topk_dot, py::arg("matrix"), py::arg("queries"), py::arg("k"), py::arg("exclude").none(true));
    m.def("bleu_stats", &bleu_stats, py::arg("hyp_text"), py::arg("hyp_offsets"), py::arg("ref_text"),
          py::arg("ref_offsets"), py::arg("ref_groups"), py::arg("max_order"), py::arg("tokenize"));
    m.def("beam_search_step", &beam_search_step, py::arg("scores"), py::arg("tokens"), py::arg("fin_scores"),
          py::arg("fin_log_probs"), py::arg("fin_tokens"), py::arg("fin_lengths"), py::arg("fin_count"),
          py::arg("done"), py::arg("log_probs"), py::arg("rows"), py::arg("step"), py::arg("eos"),
          py::arg("length_norm"));
    m.def("gather_rows", &gather_rows, py::arg("x"), py::arg("idx"));
    m.def("word2vec_sgns_train", &word2vec_sgns_train, py::arg("ids"), py::arg("sentence_offsets"), py::arg("W_in"),
          py::arg("W_out"), py::arg("neg_table"), py::arg("keep_prob"), py::arg("window"), py::arg("negative"),
          py::arg("alpha"), py::arg("min_alpha"), py::arg("words_done"), py::arg("total_words"), py::arg("seed"),
          py::arg("threads"));
    m.def("glove_cooccurrence", &glove_cooccurrence, py::arg("ids"), py::arg("sentence_offsets"), py::arg("V"),
          py::arg("window"), py::arg("symmetric"));
    m.def("glove_train", &glove_train, py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("W"), py::arg("C"),
          py::arg("bw"), py::arg("bc"), py::arg("gradsq_W"), py::arg("gradsq_C"), py::arg("gradsq_bw"),
          py::arg("gradsq_bc"), py::arg("x_max"), py::arg("alpha"), py::arg("lr"), py::arg("epochs"), py::arg("seed"),
          py::arg("threads"));
    m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("gamma"), py::arg("beta"),
          py::arg("eps"));
    m.def(
        "layer_norm_backward",
        [](const py::array& xhat, const py::array& rstd, const py::array& gamma, const py::array& dy) {
            return norm_backward(xhat, rstd, gamma, dy, true, [](index_t N, index_t F, auto... a) {
                seqcore::layer_norm_backward(N, F, a...);
            });
        },
        py::arg("xhat"), py::arg("rstd"), py::arg("gamma"), py::arg("dy"));
    m.def("batch_norm_forward", &batch_norm_forward, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("eps"));
    m.def(
        "batch_norm_backward",
        [](const py::array& xhat, const py::array& rstd, const py::array& gamma, const py::array& dy) {
            return norm_backward(xhat, rstd, gamma, dy, false, [](index_t N, index_t F, auto... a) {
                seqcore::batch_norm_backward(N, F, a...);
            });
        },
        py::arg("xhat"), py::arg("rstd"), py::arg("gamma"), py::arg("dy"));
    m.def("conv1d_forward", &conv1d_forward, py::arg("x"), py::arg("W"), py::arg("b").none(true), py::arg("stride"),
          py::arg("left"), py::arg("right"), py::arg("dilation"));
    m.def("conv1d_backward", &conv1d_backward, py::arg("x"), py::arg("W"), py::arg("has_bias"), py::arg("stride"),
          py::arg("left"), py::arg("right"), py::arg("dilation"), py::arg("dy"));
    m.def("attention_forward", &attention_forward, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask").none(true),
          py::arg("causal"), py::arg("scale"), py::arg("dropout"), py::arg("seed"));
    m.def("attention_backward", &attention_backward, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"),
          py::arg("lse"), py::arg("mask").none(true), py::arg("causal"), py::arg("scale"), py::arg("dropout"),
          py::arg("seed"), py::arg("dout"));
    m.def("gelu_forward", &gelu_forward, py::arg("x"), py::arg("approximate"));
    m.def("gelu_backward", &gelu_backward, py::arg("x"), py::arg("dy"), py::arg("approximate"));
    m.def("spectrogram", &spectrogram, py::arg("x"), py::arg("window"), py::arg("noverlap"), py::arg("scale"));
    m.def(
        "set_num_threads",
        [](int n) {
            if (n < 1) throw py::value_error("n must be >= 1, got " + std::to_string(n));
            seqcore::set_num_threads(n);
        },
        py::arg("n"));
    m.def("get_num_threads", &seqcore::get_num_threads);
    m.def("build_info", &build_info);
}
