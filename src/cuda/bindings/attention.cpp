// seqcore._cuda: the fused attention kernels (seqcore_cuda/attention.h).  The Python adapter
// (seqcore/backends/cuda/attention.py) allocates out, lse, the gradients and the delta workspace with CuPy and
// passes the mask's element strides (0 along a broadcast dimension); this file checks what a wrong integer
// would turn into a fault or a hang and releases the GIL around the launches.
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "binding.h"
#include "seqcore_cuda/attention.h"

namespace seqcore_bind {

namespace {

using seqcore::cuda::DeviceAttentionMask;
using seqcore::cuda::kAttentionMaxHead;

struct Dims {
    index_t B, h, Lq, Lk, Dh, Dv;
};

index_t checked_mul(index_t a, index_t b, const char* what) {
    if (a != 0 && b > std::numeric_limits<index_t>::max() / a)
        throw py::value_error(std::string(what) + " overflows int64");
    return a * b;
}

Dims dims(index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv) {
    const Dims d{size(B, "B"), size(h, "h"), size(Lq, "Lq"), size(Lk, "Lk"), size(Dh, "Dh"), size(Dv, "Dv")};
    for (const auto& [n, name] : {std::pair{d.Dh, "Dh"}, std::pair{d.Dv, "Dv"}})
        if (n < 1 || n > kAttentionMaxHead)
            throw py::value_error(std::string("attention on CUDA takes head sizes in [1, ") +
                                  std::to_string(kAttentionMaxHead) + "], got " + name + "=" + std::to_string(n));
    // The kernels number the (b, hh, i, j) pairs in an int64 (the dropout hash's index) and the rows of every
    // array too.
    const index_t BH = checked_mul(d.B, d.h, "B*h");
    checked_mul(checked_mul(BH, d.Lq, "B*h*Lq"), d.Lk, "B*h*Lq*Lk");
    checked_mul(checked_mul(BH, std::max(d.Lq, d.Lk), "B*h*L"), std::max(d.Dh, d.Dv), "B*h*L*D");
    return d;
}

DeviceAttentionMask mask_arg(ptr_t mask, const std::array<index_t, 4>& strides, bool causal) {
    DeviceAttentionMask m{device<const std::uint8_t>(mask, "mask", true), {0, 0, 0, 0}, causal};
    if (m.mask)
        for (int a = 0; a < 4; ++a) {
            if (strides[a] < 0)
                throw py::value_error("mask_strides must be >= 0 (0 along a broadcast dimension), got " +
                                      std::to_string(strides[a]) + " at axis " + std::to_string(a));
            m.strides[a] = strides[a];
        }
    return m;
}

void check_scalars(double scale, double dropout) {
    if (!std::isfinite(scale)) throw py::value_error("scale must be finite, got " + std::to_string(scale));
    if (!(dropout >= 0.0 && dropout < 1.0))
        throw py::value_error("dropout must lie in [0, 1), got " + std::to_string(dropout));
}

}  // namespace

void bind_attention(py::module_& m) {
    m.def(
        "attention_forward",
        [](const std::string& dtype, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, ptr_t q,
           ptr_t k, ptr_t v, ptr_t mask, const std::array<index_t, 4>& mask_strides, bool causal, double scale,
           double dropout, std::uint64_t seed, ptr_t out, ptr_t lse, ptr_t stream) {
            const bool dbl = is_double(dtype);
            const Dims d = dims(B, h, Lq, Lk, Dh, Dv);
            check_scalars(scale, dropout);
            const DeviceAttentionMask mk = mask_arg(mask, mask_strides, causal);
            const index_t BH = d.B * d.h;
            const bool no_q = BH * d.Lq == 0, no_k = BH * d.Lk == 0;
            auto run = [&](auto tag) {
                using T = decltype(tag);
                const T* pq = device<const T>(q, "q", no_q);
                const T* pk = device<const T>(k, "k", no_k);
                const T* pv = device<const T>(v, "v", no_k);
                T* po = device<T>(out, "out", no_q);
                T* pl = device<T>(lse, "lse", no_q);
                const auto ctx = context(stream);  // after the checks: it touches the device
                py::gil_scoped_release nogil;
                seqcore::cuda::attention_forward<T>(ctx, d.B, d.h, d.Lq, d.Lk, d.Dh, d.Dv, pq, pk, pv, mk, scale,
                                                    dropout, seed, po, pl);
            };
            if (dbl)
                run(double{});
            else
                run(float{});
        },
        py::arg("dtype"), py::arg("B"), py::arg("h"), py::arg("Lq"), py::arg("Lk"), py::arg("Dh"), py::arg("Dv"),
        py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("mask_strides"), py::arg("causal"),
        py::arg("scale"), py::arg("dropout"), py::arg("seed"), py::arg("out"), py::arg("lse"), py::arg("stream"),
        "out [B,h,Lq,Dv], lse [B,h,Lq] = fused attention of q [B,h,Lq,Dh], k [B,h,Lk,Dh], v [B,h,Lk,Dv]; mask: "
        "0 or bool [mb,mh,mq,mk] with element strides (0 where broadcast)");

    m.def(
        "attention_backward",
        [](const std::string& dtype, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, ptr_t q,
           ptr_t k, ptr_t v, ptr_t out, ptr_t lse, ptr_t dout, ptr_t mask, const std::array<index_t, 4>& mask_strides,
           bool causal, double scale, double dropout, std::uint64_t seed, ptr_t delta, ptr_t dq, ptr_t dk, ptr_t dv,
           ptr_t stream) {
            const bool dbl = is_double(dtype);
            const Dims d = dims(B, h, Lq, Lk, Dh, Dv);
            check_scalars(scale, dropout);
            const DeviceAttentionMask mk = mask_arg(mask, mask_strides, causal);
            const index_t BH = d.B * d.h;
            const bool no_q = BH * d.Lq == 0, no_k = BH * d.Lk == 0;
            auto run = [&](auto tag) {
                using T = decltype(tag);
                const T* pq = device<const T>(q, "q", no_q);
                const T* pk = device<const T>(k, "k", no_k);
                const T* pv = device<const T>(v, "v", no_k);
                const T* po = device<const T>(out, "out", no_q);
                const T* pl = device<const T>(lse, "lse", no_q);
                const T* pg = device<const T>(dout, "dout", no_q);
                T* pd = device<T>(delta, "delta", no_q);
                T* pdq = device<T>(dq, "dq", no_q);
                T* pdk = device<T>(dk, "dk", no_k);
                T* pdv = device<T>(dv, "dv", no_k);
                const auto ctx = context(stream);  // after the checks: it touches the device
                py::gil_scoped_release nogil;
                seqcore::cuda::attention_backward<T>(ctx, d.B, d.h, d.Lq, d.Lk, d.Dh, d.Dv, pq, pk, pv, po, pl, pg, mk,
                                                     scale, dropout, seed, pd, pdq, pdk, pdv);
            };
            if (dbl)
                run(double{});
            else
                run(float{});
        },
        py::arg("dtype"), py::arg("B"), py::arg("h"), py::arg("Lq"), py::arg("Lk"), py::arg("Dh"), py::arg("Dv"),
        py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("dout"), py::arg("mask"),
        py::arg("mask_strides"), py::arg("causal"), py::arg("scale"), py::arg("dropout"), py::arg("seed"),
        py::arg("delta"), py::arg("dq"), py::arg("dk"), py::arg("dv"), py::arg("stream"),
        "dq [B,h,Lq,Dh], dk [B,h,Lk,Dh], dv [B,h,Lk,Dv] of attention_forward's out; delta: a [B,h,Lq] workspace");
}

}  // namespace seqcore_bind
