"""BLEU's sufficient statistics in plain Python: the tokeniser as regular expressions, n-grams in Counters.

Written to be read next to the definitions: sacrebleu's ``13a`` tokenisation (the language-independent
clean-up, then mteval-v13a's rules) and Papineni et al.'s clipped n-gram counts.  The ground truth the
native kernels are tested against.  Text arrives as UTF-8 bytes and is decoded with ``surrogateescape``,
so any byte string has a meaning (a byte that is not UTF-8 is a character of its own, never a space),
and two tokens are equal exactly when their bytes are.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

# mteval-v13a's rules, applied in order to " line ":
#   every ASCII symbol except the apostrophe, comma, hyphen and period becomes a token of its own;
#   a period or comma is split off after a non-digit, then before a non-digit (so "3.14" and "1,000" stay);
#   a hyphen is split off after a digit.
_SYMBOLS = "".join(c for c in string.punctuation if c not in "',-.")
_RULES_13A = (
    (re.compile("([" + re.escape(_SYMBOLS) + "])"), r" \1 "),
    (re.compile(r"([^0-9])([.,])"), r"\1 \2 "),
    (re.compile(r"([.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)
# HTML entities, unescaped one kind after another (so "&amp;lt;" ends as "<")
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def tokenize_13a(line: str) -> list[str]:
    """sacrebleu's Tokenizer13a of ``line.rstrip()``, split into tokens."""
    line = line.rstrip()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _ENTITIES:
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, replacement in _RULES_13A:
        line = pattern.sub(replacement, line)
    return line.split()


def tokenize_none(line: str) -> list[str]:
    return line.split()


TOKENIZERS = {"13a": tokenize_13a, "none": tokenize_none}


def ngram_counts(tokens: list[str], max_order: int) -> Counter:
    """How often each n-gram (a tuple of n tokens, 1 <= n <= max_order) occurs."""
    return Counter(tuple(tokens[i : i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length nearest hyp_len, the shorter of two equally near (0 without references)."""
    return min(ref_lens, key=lambda n: (abs(n - hyp_len), n)) if ref_lens else 0


def segment(text: np.ndarray, offsets: np.ndarray, k: int) -> str:
    return text[offsets[k] : offsets[k + 1]].tobytes().decode("utf-8", "surrogateescape")


def bleu_stats(hyp_text, hyp_offsets, ref_text, ref_offsets, ref_groups, max_order, tokenize):
    """Per hypothesis: hyp_len, ref_len, clipped matches[1..max_order], totals[1..max_order]."""
    split = TOKENIZERS[tokenize]
    S = hyp_offsets.size - 1
    stats = np.zeros((S, 2 + 2 * max_order), np.int64)
    for s in range(S):
        hyp = split(segment(hyp_text, hyp_offsets, s))
        refs = [split(segment(ref_text, ref_offsets, r)) for r in range(ref_groups[s], ref_groups[s + 1])]
        # the most times each n-gram occurs in any one reference (Counter | Counter keeps the larger count)
        ref_max: Counter = Counter()
        for ref in refs:
            ref_max |= ngram_counts(ref, max_order)
        row = stats[s]
        row[0] = len(hyp)
        row[1] = closest_length(len(hyp), [len(ref) for ref in refs])
        for gram, count in ngram_counts(hyp, max_order).items():
            row[1 + len(gram)] += min(count, ref_max[gram])
        for n in range(1, max_order + 1):
            row[1 + max_order + n] = max(0, len(hyp) - n + 1)
    return stats
