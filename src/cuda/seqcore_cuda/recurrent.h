// Recurrent kernels on the GPU: whole-sequence forward / backward pairs and single-step cells,
// with the semantics of the CPU core's (src/cpp/seqcore/recurrent.h): same arguments, same
// caches, same lengths / reverse / padding rules, so a cache made here feeds the CPU backward
// and the other way round.
//
// Letters and layouts: src/cpp/seqcore/dims.h.  Every pointer is C-contiguous device memory;
// `lengths` is an int64 device array or null (all rows run T steps); "out" arrays are written
// in full, zeros at padding included; nullable gradient inputs (dy, dhT, dcT) mean zeros.
// Step s of row b reads time t = s, or lengths[b]-1-s when reverse; a row past its length
// keeps its state, and its padding slots (t >= lengths[b]) hold zeros in y and the caches.
//
// The recipe (cuDNN, haste): one GEMM projects the inputs of all B*T rows straight into the
// gates cache (a [B,T,G*H] buffer that the step kernels turn into activated gates in place);
// each step costs one recurrent GEMM into a [B,G*H] workspace plus one fused kernel with a
// thread per (row, unit) doing all G gates of the unit.  The running state lives in hT / cT
// (each element is read and written by one thread, after the step's GEMM has read it), so
// nothing waits on the host.  The backward costs, per step in reverse, one fused gate-gradient
// kernel and one GEMM with U^T; the weight gradients are single GEMMs over the B*T rows after
// the loop.
//
// Workspaces are the caller's (the Python adapter allocates them with CuPy); each is listed
// with its size in elements of T.  Nothing is allocated, nothing synchronizes: every launcher
// only queues work on ctx.stream.  Empty sizes (B, T, D or H of 0) launch nothing of size 0.
#pragma once

#include "common.h"

namespace seqcore {
namespace cuda {

// ---------------------------------------------------------------- LSTM, gates i f c o
// x: [B,T,D] inputs                  h0, c0: [B,H] initial states
// W: [D,4H] input kernel             U: [H,4H] recurrent kernel      b: [4H] bias
// lengths: [B] int64 or null         reverse: run each row from its last real step
// y: [B,T,H] out hidden states       hT, cT: [B,H] out final states
// gates: [B,T,4H] out activated gates (cache)   c: [B,T,H] out cell states (cache)
// work_rec: [B,4H] workspace (the step's h U)
template <typename T>
void lstm_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* c0, const T* W, const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT,
                  T* cT, T* gates, T* c, T* work_rec);

// Consumes what lstm_forward wrote (x, h0, c0, W, U, gates, c, y).
// dy: [B,T,H] or null; dhT, dcT: [B,H] or null.
// dx: [B,T,D] out; dh0, dc0: [B,H] out; dW: [D,4H] out; dU: [H,4H] out; db: [4H] out.
// work_dgates: [B,T,4H] workspace (pre-activation gate gradients of every step)
// work_step: [B,4H] workspace (this step's gate gradients, one row per batch row)
// work_dh: [B,H] workspace (this step's dgates U^T)
// work_hprev: [B,T,H] workspace (the state each step started from)
// work_x: [B,T,D] workspace (x with padding zeroed), needed only when lengths is given (else may be null)
template <typename T>
void lstm_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                   const T* c0, const T* W, const T* U, const index_t* lengths, bool reverse, const T* gates,
                   const T* c, const T* y, const T* dy, const T* dhT, const T* dcT, T* dx, T* dh0, T* dc0, T* dW,
                   T* dU, T* db, T* work_dgates, T* work_step, T* work_dh, T* work_hprev, T* work_x);

// One step: x: [B,D]; h, c: [B,H]; W, U, b as above; h_out, c_out: [B,H] out.
// work_gates: [B,4H] workspace; work_rec: [B,4H] workspace.
template <typename T>
void lstm_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* c, const T* W,
               const T* U, const T* b, T* h_out, T* c_out, T* work_gates, T* work_rec);

// ---------------------------------------------------------------- GRU, gates z r h
// h = z * h_prev + (1 - z) * h~ (Keras).
// reset_after: b: [2,3H] (input bias row, recurrent bias row), h~ = tanh(x W_h + b_h + r * (h U_h + b_rh));
//   otherwise b: [3H], h~ = tanh(x W_h + (r * h) U_h + b_h).
// x: [B,T,D]; h0: [B,H]; W: [D,3H]; U: [H,3H]; lengths: [B] int64 or null.
// y: [B,T,H] out; hT: [B,H] out; gates: [B,T,3H] out activated z, r, h~ (cache)
// hr: [B,T,H] out h U_h + b_rh (cache, reset_after only; may be null otherwise)
// work_rec: [B,3H] workspace (the step's recurrent products)
// work_rh: [B,H] workspace (r * h_prev), reset_after=false only (may be null otherwise)
template <typename T>
void gru_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
                 const T* U, const T* b, bool reset_after, const index_t* lengths, bool reverse, T* y, T* hT,
                 T* gates, T* hr, T* work_rec, T* work_rh);

// Consumes what gru_forward wrote.  dy: [B,T,H] or null; dhT: [B,H] or null.
// dx: [B,T,D] out; dh0: [B,H] out; dW: [D,3H] out; dU: [H,3H] out;
// db: [2,3H] out when reset_after, else [3H] out.
// work_dgx: [B,T,3H] workspace (gradients at the input projection + input bias)
// work_dgr: [B,T,3H] workspace (gradients at h U + recurrent bias), reset_after only (may be null otherwise)
// work_step: [B,3H] workspace (this step's gradient at the recurrent GEMM's output)
// work_drh: [B,H] workspace (gradient at r * h_prev), reset_after=false only (may be null otherwise)
// work_dh: [B,H] workspace (this step's share of dh_prev through U^T)
// work_hprev: [B,T,H] workspace; work_x: [B,T,D] workspace, only when lengths is given (else may be null)
template <typename T>
void gru_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* W, const T* U, bool reset_after, const index_t* lengths, bool reverse, const T* gates,
                  const T* hr, const T* y, const T* dy, const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db,
                  T* work_dgx, T* work_dgr, T* work_step, T* work_drh, T* work_dh, T* work_hprev, T* work_x);

// One step: x: [B,D]; h: [B,H]; W, U, b as in gru_forward; h_out: [B,H] out.
// work_gates: [B,3H] workspace; work_rec: [B,3H] workspace; work_h: [B,H] workspace.
template <typename T>
void gru_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U,
              const T* b, bool reset_after, T* h_out, T* work_gates, T* work_rec, T* work_h);

// ---------------------------------------------------------------- basic RNN, a = tanh(x W + h U + b)
// x: [B,T,D]; h0: [B,H]; W: [D,H]; U: [H,H]; b: [H]; lengths: [B] int64 or null.
// y: [B,T,H] out (also the cache); hT: [B,H] out.  work_rec: [B,H] workspace.
template <typename T>
void rnn_forward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W,
                 const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* work_rec);

// dy: [B,T,H] or null; dhT: [B,H] or null.
// dx: [B,T,D] out; dh0: [B,H] out; dW: [D,H] out; dU: [H,H] out; db: [H] out.
// work_dgates: [B,T,H]; work_step: [B,H]; work_dh: [B,H]; work_hprev: [B,T,H];
// work_x: [B,T,D], only when lengths is given (else may be null).
template <typename T>
void rnn_backward(const Context& ctx, index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0,
                  const T* W, const T* U, const index_t* lengths, bool reverse, const T* y, const T* dy,
                  const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db, T* work_dgates, T* work_step, T* work_dh,
                  T* work_hprev, T* work_x);

// One step: x: [B,D]; h: [B,H]; W, U, b as above; h_out: [B,H] out.
// work_proj: [B,H] workspace; work_rec: [B,H] workspace.
template <typename T>
void rnn_cell(const Context& ctx, index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U,
              const T* b, T* h_out, T* work_proj, T* work_rec);

}  // namespace cuda
}  // namespace seqcore
