// Beam search bookkeeping on the device, the row gather that makes a decoder's state follow its
// beams, and the top-k dot-product search: the CUDA twins of src/cpp/seqcore/beam.h and
// similarity.h, with the same arguments, orders, tie rules and in-place updates.
// Knows nothing of Python.
//
// Dimension letters are those of src/cpp/seqcore/dims.h: B batch rows, K beams per row, L the
// longest output (max_len), A rows still searching, V the vocabulary (log-prob columns) or the
// rows of an embedding matrix, E its width, Q queries, X exclusions per query, N/M/R the rows
// a gather reads / writes and the elements of one row.
//
// Both searches are exact selections (no sort of everything): every candidate is scanned by
// P blocks per row, each keeping the best C of its chunk in per-thread sorted lists held in
// registers and merged in shared memory, and one warp per row merges the P lists.  Where more
// than C = 32 are wanted (beam widths above 16, k above 32), the scan runs again for the next
// 32 below the last one taken, so the result never depends on P or on the device.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common.h"

namespace seqcore {
namespace cuda {

// How far above 0 a log-prob may be and still count, as 0 (compared in the log-probs' own type).
// The CPU core's kLogProbSlack; Python: seqcore.backends._types.LOG_PROB_SLACK.
constexpr double kLogProbSlack = 1e-4;

// The caller's device arrays, updated in place by beam_search_step (BeamState in
// python/seqcore/backends/_types.py; the layout of seqcore::BeamState).
struct BeamState {
    index_t B = 0, K = 0, L = 0;
    double* scores = nullptr;         // [B,K] live beams' summed log-probs (-inf: an empty slot)
    index_t* tokens = nullptr;        // [B,K,L] live beams' tokens (position t written at step t)
    double* fin_scores = nullptr;     // [B,K] finished: the objective, best first (ties: found first)
    double* fin_log_probs = nullptr;  // [B,K] finished: summed log-probs
    index_t* fin_tokens = nullptr;    // [B,K,L] finished: tokens, EOS included, -1 past the length
    index_t* fin_lengths = nullptr;   // [B,K] finished: token counts, EOS included
    index_t* fin_count = nullptr;     // [B] finished hypotheses held (slots [0, count) are used), in [0, K]
    std::uint8_t* done = nullptr;     // [B] 1 once the row's search is over (NumPy/CuPy bool)
};

// Bytes of the workspace beam_search_step needs for A rows of K beams over V tokens, L = max_len
// (0 when A = 0).  It holds the ranked candidates, the parents' token rows and the walk's scratch.
std::size_t beam_search_workspace_bytes(index_t A, index_t K, index_t V, index_t L);

// One step of the search for the A rows still searching: the semantics of seqcore::beam_search_step
// (src/cpp/seqcore/beam.h), which the reference backend also follows (docs/decode.md).
// s: the state, in place.  log_probs: [A*K,V] log P(token | beam) of beam k of rows[a] at row a*K+k;
//   values <= 0 (-inf: impossible), those in (0, kLogProbSlack] read as 0.
// rows: [A] int64 strictly increasing batch rows, none done (checked by the caller).
// step: in [0, L), the position the new tokens take.  eos: the end token in [0, V), or -1 for none.
// length_norm: [L] float64 positive divisors: an n-token hypothesis scores log_prob / length_norm[n-1].
// parents: [A,K] out, the log_probs row (a*K + k) each new live beam of row a grew from.
// first_bad: [1] out, row*V + col of the first log_probs value that is no log-probability (above
//   kLogProbSlack, +inf or NaN) in row-major order, or -1.  When it is >= 0 nothing else was written:
//   neither the state nor parents (the caller reports the value and raises).
// workspace: beam_search_workspace_bytes(A, K, V, L) bytes of device memory (any alignment of 256).
// Queues 2 * ceil(min(2K, K*V) / 32) + 1 kernels on ctx.stream; no synchronization.
template <typename T>
void beam_search_step(const Context& ctx, const BeamState& s, index_t A, index_t V, const T* log_probs,
                      const index_t* rows, index_t step, index_t eos, const double* length_norm, index_t* parents,
                      index_t* first_bad, void* workspace, std::size_t workspace_bytes);

// out[m] = x[idx[m]] for m < M, rows of R elements.  x: [N,R]; idx: [M] int64 in [0, N) (checked by
// the caller; a row whose index is outside [0, N) comes out as zeros rather than as a fault);
// out: [M,R].  T: float, double or int64 (copied as words of up to 16 bytes).
template <typename T>
void gather_rows(const Context& ctx, index_t N, index_t R, index_t M, const T* x, const index_t* idx, T* out);

// Bytes of the workspace topk_dot needs (0 when Q or k is 0); itemsize 4 (float) or 8 (double).
std::size_t topk_dot_workspace_bytes(index_t V, index_t E, index_t Q, index_t k, index_t X, std::size_t itemsize);

// The k best rows of queries @ matrix.T per query: seqcore::topk_dot (src/cpp/seqcore/similarity.h).
// matrix: [V,E]; queries: [Q,E]; 1 <= k <= V (checked by the caller).
// exclude: [Q,X] int64 ids to skip per query, -1 = padding, else in [0, V) (null when X = 0).
// scores: [Q,k] out, ids: [Q,k] out int64: best first (higher score first, NaN after every number, ties
//   by the lower id); places left when fewer than k ids remain get id -1 and score -inf.
// The scores come from cuBLAS GEMMs over blocks of queries (a [Qb,V] tile in the workspace), so they
// are float32/float64 dot products summed in cuBLAS's order, not the CPU's.
// workspace: topk_dot_workspace_bytes(V, E, Q, k, X, sizeof(T)) bytes of device memory.
template <typename T>
void topk_dot(const Context& ctx, index_t V, index_t E, index_t Q, index_t k, const T* matrix, const T* queries,
              const index_t* exclude, index_t X, T* scores, index_t* ids, void* workspace, std::size_t workspace_bytes);

}  // namespace cuda
}  // namespace seqcore
