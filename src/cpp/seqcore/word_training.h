// Word-vector training: word2vec skip-gram with negative sampling (Mikolov et al. 2013, as word2vec.c
// and gensim) and GloVe (Pennington et al. 2014, as glove.c).  The random stream, the visiting order
// and the formulas are those of python/seqcore/backends/reference/words.py, so a 1-thread run makes
// the reference's updates.  With threads > 1 the workers update the shared matrices lock-free
// (Hogwild, as word2vec.c and glove.c do): results then vary from run to run in the last bits.
#pragma once

#include <cstdint>
#include <vector>

#include "dims.h"

namespace seqcore {

// ids: [N] in [0, V); offsets: [S+1], 0 = offsets[0] <= ... <= offsets[S] = N.
// W_in, W_out: [V,E] updated in place.  neg_table: [Tn] ids in [0, V), Tn >= 1; keep_prob: [V].
// window >= 1; negative >= 0; lr per sentence = max(min_alpha, alpha - (alpha - min_alpha) * seen /
// total_words), seen = words_done + offsets[s].  Sentences are split into `threads` contiguous
// slices.  Writes the summed loss and the number of (pair, target) terms.
template <typename T>
void word2vec_sgns_train(index_t V, index_t E, index_t S, const index_t* ids, const index_t* offsets, T* W_in,
                         T* W_out, index_t Tn, const index_t* neg_table, const double* keep_prob, index_t window,
                         index_t negative, double alpha, double min_alpha, index_t words_done, index_t total_words,
                         std::uint64_t seed, int threads, double* loss, index_t* terms);

// Sparse co-occurrences of a corpus (see word2vec_sgns_train for ids/offsets), 1/distance weighted,
// summed in scan order; keys row * V + col sorted ascending, values their sums.
void glove_cooccurrence(index_t V, index_t S, const index_t* ids, const index_t* offsets, index_t window,
                        bool symmetric, std::vector<index_t>& keys, std::vector<double>& values);

// rows, cols: [n] in [0, V); values: [n] > 0.  W, C, gW, gC: [V,E]; bw, bc, gbw, gbc: [V].
// costs: [epochs] out, the mean cost of each epoch.
template <typename T>
void glove_train(index_t V, index_t E, index_t n, const index_t* rows, const index_t* cols, const double* values,
                 T* W, T* C, T* bw, T* bc, T* gW, T* gC, T* gbw, T* gbc, double x_max, double alpha, double lr,
                 index_t epochs, std::uint64_t seed, int threads, double* costs);

}  // namespace seqcore
