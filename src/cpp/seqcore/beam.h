// Beam search bookkeeping: one step of a batched search, and the row gather that makes a
// decoder's state follow its beams.  Knows nothing of Python.
//
// A search holds, per batch row, K live beams (hypotheses still growing, ranked by their summed
// log-prob) and up to K finished hypotheses (ended with EOS, or cut at L tokens), ranked by the
// length-normalised objective  log_prob / length_norm[n-1]  for an n-token hypothesis
// (length_norm[n-1] = n**alpha in seqcore.decode; EOS counts as a token).
#pragma once

#include <cstdint>

#include "dims.h"

namespace seqcore {

// The caller's arrays, updated in place by beam_search_step.
struct BeamState {
    index_t B = 0, K = 0, L = 0;
    double* scores = nullptr;         // [B,K] live beams' summed log-probs (-inf: an empty slot)
    index_t* tokens = nullptr;        // [B,K,L] live beams' tokens (position t written at step t)
    double* fin_scores = nullptr;     // [B,K] finished: the objective, best first (ties: found first)
    double* fin_log_probs = nullptr;  // [B,K] finished: summed log-probs
    index_t* fin_tokens = nullptr;    // [B,K,L] finished: tokens, EOS included, -1 past the length
    index_t* fin_lengths = nullptr;   // [B,K] finished: token counts, EOS included
    index_t* fin_count = nullptr;     // [B] finished hypotheses held (slots [0, count) are used), in [0, K]
    std::uint8_t* done = nullptr;     // [B] 1 once the row's search is over
};

// How far above 0 a log-prob may be and still count, as 0: a log_softmax's rounding can leave the top
// token at +1e-16 (double) or +1e-7 (float).  Compared in the log-probs' own type.  (Python:
// seqcore.backends._types.LOG_PROB_SLACK.)
constexpr double kLogProbSlack = 1e-4;

// A log_probs value that is no log-probability (above kLogProbSlack, or NaN), the first in row-major
// order; row < 0: none.
struct BadLogProb {
    index_t row = -1, col = -1;
    double value = 0.0;
};

// One step of the search for the A rows still searching.
// log_probs: [A*K,V] log P(token | beam) of beam k of rows[a] at row a*K+k; values <= 0 (-inf: impossible),
//   those in (0, kLogProbSlack] read as 0.
// rows: [A] strictly increasing batch rows, none done (checked by the caller).
// step: in [0, L), the position the new tokens take.  eos: the end token in [0, V), or -1 for none.
// length_norm: [L] positive divisors (see above).  threads: workers for the candidate scan.
// parents: [A,K] out, the log_probs row (a*K + k) each new live beam of row a grew from.
//
// Per row: the candidates (beam k, token v) score scores[k] + log_probs[a*K+k, v] (in double) and
// are ranked best first, ties by the lower flat index k*V + v; only the best min(2K, K*V) are ranked
// (a beam has one EOS candidate, so K non-EOS ones are always among the best 2K).  Walking the
// ranking until K live beams are taken, an EOS candidate becomes a finished hypothesis of
// step+1 tokens (unless its score is -inf) and any other candidate the next live beam, which copies
// its parent's token row and writes v at position step.  Live slots left empty (V = 1 with EOS)
// get score -inf, token -1 at position step, and themselves as parent.  A finished hypothesis
// enters the row's best-first list when it holds fewer than K or the hypothesis beats the worst.
// At step L-1 every live beam with a finite score is then finished as it is (L tokens, no EOS) and
// the row is done; before, the row is done when no live beam has a finite score, or when it holds
// K finished hypotheses and max(live scores) / max(length_norm[step+1 .. L-1]) (the best objective a
// live beam could still reach, its log-prob only falling) is not above the worst of them.
// Rows scan in parallel; the state is written only after every row was scanned, so on a bad value
// (returned, the first in row-major order) nothing has changed.
template <typename T>
BadLogProb beam_search_step(BeamState& s, index_t A, index_t V, const T* log_probs, const index_t* rows,
                            index_t step, index_t eos, const double* length_norm, int threads, index_t* parents);

// out[m] = x[idx[m]] for m < M, rows of R elements.  x: [N,R]; idx: [M] in [0, N) (checked by the
// caller); out: [M,R].  threads share the rows when there are megabytes to copy.
template <typename T>
void gather_rows(index_t N, index_t R, index_t M, const T* x, const index_t* idx, int threads, T* out);

}  // namespace seqcore
