// Shared by the CUDA binding files: device pointers and streams arrive from Python as integers
// (CuPy's `array.data.ptr`, `cupy.cuda.get_current_stream().ptr`); the Python side allocates
// every output and workspace and checks shapes and dtypes first, and these files check again
// what a wrong integer would turn into a fault: null pointers where data is needed, negative
// sizes, an unknown dtype.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>

#include "seqcore_cuda/common.h"

namespace seqcore_bind {

namespace py = pybind11;
using seqcore::cuda::index_t;

using ptr_t = std::uintptr_t;

// The cuBLAS handle of this thread on the current device, bound to `stream`.
seqcore::cuda::Context context(ptr_t stream);

template <typename T>
T* device(ptr_t p, const char* name, bool nullable = false) {
    if (!p && !nullable) throw py::value_error(std::string(name) + " must be a device pointer, got 0 (null)");
    return reinterpret_cast<T*>(p);
}

inline index_t size(index_t n, const char* name) {
    if (n < 0) throw py::value_error(std::string(name) + " must be >= 0, got " + std::to_string(n));
    return n;
}

// "float32" or "float64", the two dtypes every kernel takes.
inline bool is_double(const std::string& dtype) {
    if (dtype == "float64") return true;
    if (dtype == "float32") return false;
    throw py::type_error("dtype must be 'float32' or 'float64', got '" + dtype + "'");
}

// a * b, or a ValueError naming `what` when the product overflows int64 (sizes of arrays to come).
inline index_t product(index_t a, index_t b, const char* what) {
    if (a != 0 && b > std::numeric_limits<index_t>::max() / a)
        throw py::value_error(std::string(what) + " overflows int64");
    return a * b;
}

// f(T{}) with T the C++ type of `dtype` ("float32" or "float64").
template <typename F>
void by_dtype(const std::string& dtype, F&& f) {
    if (is_double(dtype))
        f(double{});
    else
        f(float{});
}

void bind_recurrent(py::module_& m);
void bind_attention(py::module_& m);
void bind_ops(py::module_& m);
void bind_beam(py::module_& m);

}  // namespace seqcore_bind
