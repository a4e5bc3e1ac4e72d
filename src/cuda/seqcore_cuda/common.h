// seqcore CUDA kernel core: shared conventions.  Knows nothing of Python.
//
// Dimension letters and layouts are the CPU core's (src/cpp/seqcore/dims.h): every array
// is C-contiguous (row-major) device memory, sequences batch-major (x[B,T,D]), weights in
// the Keras layout with gate blocks side by side (W[D,G*H], U[H,G*H]).
//
// Every launcher takes a Context first: the stream its work is queued on (the caller's,
// CuPy's current stream) and the cuBLAS handle to use on it.  Launchers only queue work;
// they never synchronize, allocate or free, so the caller owns every buffer, workspaces
// included, and a launcher's outputs are ready when the stream says so.  A failed launch
// or library call throws std::runtime_error naming the call, file and line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace seqcore {
namespace cuda {

using index_t = std::int64_t;

struct Context {
    cudaStream_t stream;
    cublasHandle_t blas;  // already bound to `stream` (cublasSetStream) by the caller
};

[[noreturn]] inline void fail(const char* what, const char* detail, const char* file, int line) {
    throw std::runtime_error(std::string(what) + " failed: " + detail + " (" + file + ":" + std::to_string(line) + ")");
}

const char* cublas_status_name(cublasStatus_t status);

}  // namespace cuda
}  // namespace seqcore

#define SEQCORE_CUDA_CHECK(expr)                                                                  \
    do {                                                                                          \
        const cudaError_t seqcore_err_ = (expr);                                                  \
        if (seqcore_err_ != cudaSuccess)                                                          \
            ::seqcore::cuda::fail(#expr, cudaGetErrorString(seqcore_err_), __FILE__, __LINE__);  \
    } while (0)

// After a <<<...>>> launch: a bad configuration shows here, a fault in the kernel later.
#define SEQCORE_CUDA_LAUNCHED() SEQCORE_CUDA_CHECK(cudaGetLastError())

#define SEQCORE_CUBLAS_CHECK(expr)                                                                       \
    do {                                                                                                 \
        const cublasStatus_t seqcore_st_ = (expr);                                                       \
        if (seqcore_st_ != CUBLAS_STATUS_SUCCESS)                                                        \
            ::seqcore::cuda::fail(#expr, ::seqcore::cuda::cublas_status_name(seqcore_st_), __FILE__, __LINE__); \
    } while (0)
