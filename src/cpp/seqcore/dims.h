// seqcore kernel core: shared conventions.  Knows nothing of Python.
//
// Dimension letters (one legend for every header):
//   B  batch rows            T  time steps          D  input features
//   H  hidden units          G  gates per unit (LSTM 4: i f c o; GRU 3: z r h; RNN 1)
//   N  rows of a 2-D view    C  classes (last axis of the softmax family), Conv1D input channels
//   V  embedding rows        E  embedding width     F  normalized features, Conv1D filters
//   K  Conv1D taps; beams per batch row (beam search)
//   To Conv1D output steps   A  batch rows still searching (beam search)
//   V  also the vocabulary of a search (log-prob columns)
//   L  longest output of a search (max_len); bytes of UTF-8 text (BLEU: Lh hypotheses, Lr references)
//   M  rows a gather picks; BLEU reference segments
//   R  elements of one row (the product of its trailing sizes)
//   S  BLEU hypotheses (segments)   O  largest n-gram order
//   Attention: h heads, Lq queries and Lk keys of a head, Dh query/key width, Dv value width (B batch as ever)
//   Spectrogram: L samples of a clip, W window length (nfft), T frames, F frequency bins (W/2 + 1)
//
// Layout: every array is C-contiguous (row-major), batch-major for sequences:
//   x[B,T,D], y[B,T,H].  Weights use the Keras layout, a = x W + h U + b, with the
//   gate blocks side by side along the last axis: W[D,G*H], U[H,G*H].
//
// Time: row b runs lengths[b] steps (all T when lengths is null).  Step s of row b
// consumes x[b, t] with t = s, or t = lengths[b]-1-s when reverse is set; y[b, t] is the
// state that step produced, so outputs stay aligned with inputs.  y past a row's length
// is zero, the final state is the state after the row's last step, and no gradient flows
// from padding.
#pragma once

#include <cstdint>

namespace seqcore {

using index_t = std::int64_t;

// The time index step s of row b reads, or -1 when the row has finished.
inline index_t step_time(index_t s, index_t T, const index_t* lengths, index_t b, bool reverse) {
    const index_t L = lengths ? lengths[b] : T;
    if (s >= L) return -1;
    return reverse ? L - 1 - s : s;
}

// Time index of the step before (the one whose state step s starts from), valid for s > 0.
inline index_t prev_time(index_t t, bool reverse) { return reverse ? t + 1 : t - 1; }

}  // namespace seqcore
