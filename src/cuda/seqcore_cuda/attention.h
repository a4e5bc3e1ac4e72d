// Fused scaled dot-product attention on the GPU, FlashAttention-2 style, and its gradient.
//
// The semantics are the CPU kernel's (src/cpp/seqcore/attention.h) to the bit where it matters: the same mask
// rule, the same causal alignment, the same dropout keep mask (seqcore::dropout_hash of the seed and the element
// index, reproduced on the device), the same lse, and the same answer for a query that may attend no key.
//
// Letters (src/cpp/seqcore/dims.h): B batch, h heads, Lq queries and Lk keys of a head, Dh query/key width,
// Dv value width.  Every array is C-contiguous device memory.
#pragma once

#include <cstdint>

#include "common.h"

namespace seqcore {
namespace cuda {

// The largest Dh and Dv the kernels take: 32, 64 and 128 have tuned tile shapes, up to 256 a slower one.
constexpr index_t kAttentionMaxHead = 256;

// Which (query, key) pairs may attend (the CPU's AttentionMask, strides by value).
//   mask: null, or [mb,mh,mq,mk] flags (NumPy/CuPy bools: any nonzero byte allows), each dim 1 or full, read at
//     mask[b*strides[0] + hh*strides[1] + i*strides[2] + j*strides[3]] (element strides, 0 along a broadcast dim).
//   causal: query i may attend key j only if j <= i (top-left aligned, whatever Lq and Lk); ANDed with the mask.
struct DeviceAttentionMask {
    const std::uint8_t* mask;
    index_t strides[4];
    bool causal;
};

// out = softmax(scale * q k^T, masked) v for every (batch row, head), dropout on the probabilities.
//   q: [B,h,Lq,Dh]; k: [B,h,Lk,Dh]; v: [B,h,Lk,Dv]; 1 <= Dh, Dv <= kAttentionMaxHead; scale finite.
//   dropout: p in [0,1): a probability is zeroed where dropout_hash(seed, ((b*h + hh)*Lq + i)*Lk + j) says drop
//     (the CPU's rule, bit for bit), the others scaled by 1/(1-p).
//   out: [B,h,Lq,Dv] out; lse: [B,h,Lq] out, the log-sum-exp of each query's scaled masked scores (before
//     dropout), the backward's input.  A query with no key it may attend gets out = 0 and lse = -inf.
// One thread block per (query tile, b*h): k and v tiles go through shared memory, the running maximum and sum of
// each query row (online softmax) and its output row stay in registers, and out is written once.  Key tiles that
// the causal rule or the mask rules out entirely are skipped.  Throws std::invalid_argument for a head size over
// kAttentionMaxHead or a grid too large, std::runtime_error on a failed launch.
template <typename T>
void attention_forward(const Context& ctx, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv,
                       const T* q, const T* k, const T* v, const DeviceAttentionMask& mask, double scale,
                       double dropout, std::uint64_t seed, T* out, T* lse);

// The gradient of attention_forward's out: dq [B,h,Lq,Dh], dk [B,h,Lk,Dh], dv [B,h,Lk,Dv] out, from the forward's
// arguments, its out [B,h,Lq,Dv] and lse [B,h,Lq], and dout [B,h,Lq,Dv].
//   delta: [B,h,Lq] workspace (the caller's, of T): rowsum(dout * out), written by a first small kernel.
// Then one thread block per (key tile, b*h) loops over the query tiles that may see its keys, recomputing
// P = exp(scale q k^T - lse) (dropped like the forward's), and keeps the tile's dk and dv in registers; each
// query tile's share of dq (dS k) is added to dq with atomicAdd (dq is zeroed first on the stream), so dq's
// float rounding depends on the order the blocks finish in; dk and dv do not.
template <typename T>
void attention_backward(const Context& ctx, index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv,
                        const T* q, const T* k, const T* v, const T* out, const T* lse, const T* dout,
                        const DeviceAttentionMask& mask, double scale, double dropout, std::uint64_t seed, T* delta,
                        T* dq, T* dk, T* dv);

}  // namespace cuda
}  // namespace seqcore
