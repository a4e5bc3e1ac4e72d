// Recurrent kernels: whole-sequence forward / backward pairs and single-step cells.
//
// Letters and layouts: see dims.h.  Every pointer is C-contiguous; `lengths` may be
// null (all rows run T steps); "out" arrays are written in full, including the zeros
// at padding; nullable gradient inputs (dy, dhT, dcT) mean zeros.
//
// The recipe (cuDNN, oneDNN and haste do the same): one GEMM projects the inputs of
// all T steps; each step costs one recurrent GEMM plus one fused gate kernel; the
// backward pass costs one fused gate-gradient kernel plus one GEMM a step, and the
// weight gradients are single GEMMs over all T*B rows after the loop.
#pragma once

#include "dims.h"

namespace seqcore {

// ---------------------------------------------------------------- LSTM, gates i f c o
// x: [B,T,D] inputs                  h0, c0: [B,H] initial states
// W: [D,4H] input kernel             U: [H,4H] recurrent kernel      b: [4H] bias
// lengths: [B] or null               reverse: run each row from its last real step
// y: [B,T,H] out hidden states       hT, cT: [B,H] out final states
// gates: [B,T,4H] out activated gates (cache)   c: [B,T,H] out cell states (cache)
template <typename T>
void lstm_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* c0, const T* W,
                  const T* U, const T* b, const index_t* lengths, bool reverse, T* y, T* hT, T* cT, T* gates, T* c);

// Consumes what lstm_forward wrote (x, h0, c0, W, U, gates, c, y).
// dy: [B,T,H] or null; dhT, dcT: [B,H] or null.
// dx: [B,T,D] out; dh0, dc0: [B,H] out; dW: [D,4H] out; dU: [H,4H] out; db: [4H] out.
template <typename T>
void lstm_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* c0, const T* W,
                   const T* U, const index_t* lengths, bool reverse, const T* gates, const T* c, const T* y,
                   const T* dy, const T* dhT, const T* dcT, T* dx, T* dh0, T* dc0, T* dW, T* dU, T* db);

// One step: x: [B,D]; h, c: [B,H]; W, U, b as above; h_out, c_out: [B,H] out.
template <typename T>
void lstm_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* c, const T* W, const T* U,
               const T* b, T* h_out, T* c_out);

// ---------------------------------------------------------------- GRU, gates z r h
// h = z * h_prev + (1 - z) * h~ (Keras).
// reset_after: b: [2,3H] (input bias row, recurrent bias row), h~ = tanh(x W_h + b_h + r * (h U_h + b_rh));
//   otherwise b: [3H], h~ = tanh(x W_h + (r * h) U_h + b_h).
// gates: [B,T,3H] out activated z, r, h~ (cache)
// hr: [B,T,H] out h U_h + b_rh (cache, reset_after only; may be null otherwise)
template <typename T>
void gru_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                 const T* b, bool reset_after, const index_t* lengths, bool reverse, T* y, T* hT, T* gates, T* hr);

// db: [2,3H] out when reset_after, else [3H] out.
template <typename T>
void gru_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                  bool reset_after, const index_t* lengths, bool reverse, const T* gates, const T* hr, const T* y,
                  const T* dy, const T* dhT, T* dx, T* dh0, T* dW, T* dU, T* db);

template <typename T>
void gru_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U, const T* b,
              bool reset_after, T* h_out);

// ---------------------------------------------------------------- basic RNN, a = tanh(x W + h U + b)
// W: [D,H]; U: [H,H]; b: [H]
template <typename T>
void rnn_forward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                 const T* b, const index_t* lengths, bool reverse, T* y, T* hT);

template <typename T>
void rnn_backward(index_t B, index_t T_, index_t D, index_t H, const T* x, const T* h0, const T* W, const T* U,
                  const index_t* lengths, bool reverse, const T* y, const T* dy, const T* dhT, T* dx, T* dh0, T* dW,
                  T* dU, T* db);

template <typename T>
void rnn_cell(index_t B, index_t D, index_t H, const T* x, const T* h, const T* W, const T* U, const T* b,
              T* h_out);

}  // namespace seqcore
