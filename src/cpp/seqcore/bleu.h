// BLEU's sufficient statistics per hypothesis: tokenisation and clipped n-gram matches.
//
// Tokenisation follows sacrebleu exactly, on UTF-8 bytes (case folding, if wanted, is the
// caller's: it needs Unicode tables, and Python's str.lower() is the definition anyway):
//   '13a'   sacrebleu's Tokenizer13a applied to line.rstrip(): remove "<skipped>", join "-\n",
//           "\n" -> " ", unescape &quot; &amp; &lt; &gt; (in that order, one pass each), then the
//           mteval-v13a rules on " line ": split off ASCII symbols except ' , - . ; split "." and ","
//           unless both neighbours are digits; split "-" after a digit;
//   'none'  no rules;
// then str.split(): tokens are the runs between Python's whitespace characters (ASCII \t\n\v\f\r,
// \x1c-\x1f and space, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000).  Bytes that are not valid UTF-8 are taken one by one as non-space characters
// (as Python's surrogateescape decoding sees them).
#pragma once

#include <cstdint>

#include "dims.h"

namespace seqcore {

enum class BleuTokenizer { k13a, kNone };

// The largest n-gram order accepted (the callers check it): far past any BLEU in use, and it
// keeps a row of statistics small.
constexpr index_t kBleuMaxOrder = 1024;

// hyp_text: [Lh] UTF-8 bytes of the S hypotheses back to back.
// hyp_offsets: [S+1] rising from 0 to Lh: hypothesis s is hyp_text[hyp_offsets[s] : hyp_offsets[s+1]].
// ref_text: [Lr], ref_offsets: [M+1]: the M reference segments, the same way.
// ref_groups: [S+1] rising from 0 to M: the references of hypothesis s are segments
//   ref_groups[s] .. ref_groups[s+1]-1 (none: ref_len 0 and no matches).
// O: the largest n-gram order, in [1, kBleuMaxOrder].  threads: std::threads sharing the hypotheses.
// stats: [S, 2+2*O] out, one row per hypothesis: hyp_len (tokens), ref_len (the length of the
//   reference closest to hyp_len, the shorter one on a tie), matches[n] for n = 1..O (each distinct
//   hypothesis n-gram counts at most as often as it occurs in the reference holding it most often),
//   totals[n] for n = 1..O (max(0, hyp_len - n + 1)).  Corpus statistics are the column sums.
// N-grams are hashed (64-bit) over per-hypothesis token ids; tokens and n-grams are compared
// exactly, so a hash collision costs a probe, never a wrong count.
void bleu_stats(index_t S, const std::uint8_t* hyp_text, const index_t* hyp_offsets, const std::uint8_t* ref_text,
                const index_t* ref_offsets, const index_t* ref_groups, index_t O, BleuTokenizer tokenizer,
                int threads, index_t* stats);

}  // namespace seqcore
