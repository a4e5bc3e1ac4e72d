// seqcore._cuda: the CUDA kernels, driven with CuPy's device pointers and streams.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <memory>

#include "binding.h"

namespace seqcore_bind {

namespace {

// One cuBLAS handle per (thread, device): a handle is not safe to use from two threads at
// once, and it belongs to the device that was current when it was made.
struct Handles {
    std::map<int, cublasHandle_t> by_device;
    ~Handles() {
        for (auto& entry : by_device) cublasDestroy(entry.second);  // best effort at thread exit
    }
};

thread_local Handles handles;

py::dict device_properties(int device) {
    cudaDeviceProp prop{};
    SEQCORE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int driver = 0;
    SEQCORE_CUDA_CHECK(cudaDriverGetVersion(&driver));
    py::dict d;
    d["name"] = std::string(prop.name);
    d["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    d["multiprocessors"] = prop.multiProcessorCount;
    d["memory_bytes"] = static_cast<std::uint64_t>(prop.totalGlobalMem);
    d["l2_bytes"] = prop.l2CacheSize;
    d["shared_per_block_optin"] = static_cast<std::uint64_t>(prop.sharedMemPerBlockOptin);
    d["driver_version"] = driver;
    return d;
}

}  // namespace

seqcore::cuda::Context context(ptr_t stream) {
    int dev = 0;
    SEQCORE_CUDA_CHECK(cudaGetDevice(&dev));
    auto found = handles.by_device.find(dev);
    cublasHandle_t h;
    if (found == handles.by_device.end()) {
        SEQCORE_CUBLAS_CHECK(cublasCreate(&h));
        handles.by_device[dev] = h;
    } else {
        h = found->second;
    }
    auto s = reinterpret_cast<cudaStream_t>(stream);
    SEQCORE_CUBLAS_CHECK(cublasSetStream(h, s));
    return {s, h};
}

}  // namespace seqcore_bind

PYBIND11_MODULE(_cuda, m) {
    namespace py = pybind11;
    using namespace seqcore_bind;
    m.doc() = "seqcore's CUDA kernels: device pointers and the caller's stream in, work queued on that stream";

    m.def(
        "device_count",
        [] {
            int n = 0;
            // No driver or no device is an answer (0), not an error: the caller reports why.
            const cudaError_t err = cudaGetDeviceCount(&n);
            if (err != cudaSuccess) {
                cudaGetLastError();  // clear the sticky error so later calls start clean
                return std::make_pair(0, std::string(cudaGetErrorString(err)));
            }
            return std::make_pair(n, std::string());
        },
        "(number of CUDA devices, why there are none) -- the reason is empty when the runtime answered");
    m.def("device_properties", &device_properties, py::arg("device"), "name, compute capability, memory, ...");
    m.def("build_info", [] {
        py::dict d;
        d["cuda_runtime"] = CUDART_VERSION;
        d["cublas"] = CUBLAS_VERSION;
        d["architectures"] = std::string(SEQCORE_CUDA_ARCHITECTURES);
        return d;
    });
    m.def(
        "synchronize", [](ptr_t stream) {
            py::gil_scoped_release nogil;
            SEQCORE_CUDA_CHECK(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)));
        },
        py::arg("stream"));

    bind_recurrent(m);
    bind_attention(m);
    bind_ops(m);
    bind_beam(m);
}
