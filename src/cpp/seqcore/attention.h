// Scaled dot-product attention, FlashAttention-style on the CPU (docs/attention.md), and its gradient.
#pragma once

#include <cstdint>

#include "dims.h"

namespace seqcore {

// Which (query, key) pairs may attend: a broadcast boolean mask and/or the causal rule.
//   mask: null, or flags (NumPy bools read as bytes: any nonzero byte allows) read at mask[b*strides[0] + hh*strides[1] + i*strides[2] + j*strides[3]] (element
//     strides, 0 along a broadcast dimension: the caller's [mb,mh,mq,mk] array, never materialised), true = may attend.
//   causal: query i may attend key j only if j <= i (top-left aligned); combined with the mask by AND.
struct AttentionMask {
    const std::uint8_t* mask;
    const index_t* strides;
    bool causal;
};

// The dropout rule shared with the NumPy reference (bit-exact): element idx = ((b*h + hh)*Lq + i)*Lk + j of the
// probabilities is kept iff u(seed, idx) >= p, u a splitmix64 hash of idx mapped to [0,1) in steps of 2^-53.
// Comparing the 53 high bits of the hash with ceil(p * 2^53) is the same test without the conversion.
inline std::uint64_t dropout_hash(std::uint64_t seed, std::uint64_t idx) {
    std::uint64_t z = seed + (idx + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) >> 11;
}

// The integer threshold of dropout_hash for a rate p in [0, 1): kept iff dropout_hash(...) >= threshold.
std::uint64_t dropout_threshold(double p);

// out = softmax(scale * q k^T, masked) v per (batch row, head), with dropout on the probabilities.
//   q: [B,h,Lq,Dh]; k: [B,h,Lk,Dh]; v: [B,h,Lk,Dv]; scale: finite.
//   dropout: p in [0,1): a probability is zeroed where the hash says drop, the others scaled by 1/(1-p); seed its key.
//   out: [B,h,Lq,Dv] out; lse: [B,h,Lq] out, the log-sum-exp of the scaled masked scores of each query (before
//     dropout): the backward rebuilds the probabilities from it.  A query with no key it may attend gets out = 0
//     and lse = -inf.
// Queries go in tiles of 96 against keys in tiles of 256 with an online softmax (a running maximum and sum per row,
// the accumulator rescaled when the maximum grows): no [Lq,Lk] array exists, only one [96,256] score tile and
// the head's k (packed in strips for the score product) per thread.  Causal: key tiles wholly above the diagonal are skipped.  `threads` std::threads take (b, hh, query
// tile) items in turn; their tile products run serially (gemm_serial).  Throws std::bad_alloc (scratch).
template <typename T>
void attention_forward(index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, const T* q, const T* k,
                       const T* v, const std::uint8_t* mask, const index_t* mask_strides, bool causal, double scale,
                       double dropout, std::uint64_t seed, int threads, T* out, T* lse);

// The gradient of attention_forward's out: dq [B,h,Lq,Dh], dk [B,h,Lk,Dh], dv [B,h,Lk,Dv] out, from the forward's
// arguments, its out and lse, and dout [B,h,Lq,Dv].  Per (b, hh): D = rowsum(dout * out); for each key tile, over
// the query tiles that may see it: P = exp(S - lse) recomputed, dv += P_dropped^T dout, dP = dout v^T (dropped
// like P), dS = P (dP - D), dq += scale dS k, dk += scale dS^T q.  Work items are (b, hh) pairs, or (b, hh, share
// of the key tiles) with a private dq per share, summed at the end, when there are fewer pairs than threads.
template <typename T>
void attention_backward(index_t B, index_t h, index_t Lq, index_t Lk, index_t Dh, index_t Dv, const T* q, const T* k,
                        const T* v, const T* out, const T* lse, const T* dout, const std::uint8_t* mask,
                        const index_t* mask_strides, bool causal, double scale, double dropout, std::uint64_t seed,
                        int threads, T* dq, T* dk, T* dv);

}  // namespace seqcore
