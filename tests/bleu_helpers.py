"""Seeded corpora for the BLEU tests: text that exercises every 13a rule, with references sharing the
hypotheses' vocabulary so that n-grams of every order match."""

from __future__ import annotations

import random

# Tokens that exercise the 13a rules: symbols, periods and commas next to digits or not, hyphens after
# digits, HTML entities (double-escaped too), <skipped>, line joins, apostrophes, non-ASCII letters (some
# that change length when lower-cased), and the whitespace Python's str.split() knows beyond ASCII.
VOCAB = [
    "the", "The", "a", "cat", "Cat", "dog", "sat", "on", "mat", "house", "is", "was", "of", "to", "and",
    ".", ",", "!", "?", ";", ":", "(", ")", "[x]", "{y}", '"', "'", "don't", "U.S.", "e.g.", "etc.",
    "3.14", "1,000", "1.", ".5", "..", "...", ",,", "10-20", "9-", "-9", "a-b", "e-mail", "--", "x.y", "z,w",
    "&amp;", "&lt;b&gt;", "&quot;hi&quot;", "&amp;lt;", "&amp;amp;", "<skipped>", "<SKIPPED>", "a-\nb", "\n",
    "$5", "50%", "#1", "@user", "a/b", "\\", "^", "_", "`", "|", "~", "<", ">", "=",
    "naïve", "café", "ÉCOLE", "İstanbul", "Straße", "ǅ", "日本語", "😀", "—", "–", "…", "«", "»",
    "\t", "\u00a0", "\u2003", "\u3000", "\x85", "\x1c", "\u2028", "\u200b", "\ufeff",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", " ", "", "  ", "\t"]


def make_segment(rng: random.Random, shared: list[str], max_tokens: int = 24) -> str:
    words = [rng.choice(shared if rng.random() < 0.6 else VOCAB) for _ in range(rng.randint(0, max_tokens))]
    text = "".join(w + rng.choice(SEPARATORS) for w in words)
    return text + rng.choice(["", "", " ", "\n", " \t", "\u3000"])


def make_corpus(seed: int, S: int, R: int, *, none_rate: float = 0.0) -> tuple[list[str], list[list[str | None]]]:
    """S hypotheses and R reference streams sharing a vocabulary, so that n-grams match."""
    rng = random.Random(seed)
    shared = rng.sample(VOCAB, 25)
    hyps = [make_segment(rng, shared) for _ in range(S)]
    refs: list[list[str | None]] = [[make_segment(rng, shared) for _ in range(S)] for _ in range(R)]
    for s in range(S):  # copy runs of the hypothesis into the references: longer n-grams match too
        if rng.random() < 0.5:
            refs[rng.randrange(R)][s] = hyps[s][: rng.randint(0, len(hyps[s]))] + " " + (refs[0][s] or "")
    if none_rate:
        for s in range(S):
            for r in range(1, R):  # stream 0 keeps one reference for every hypothesis
                if rng.random() < none_rate:
                    refs[r][s] = None
    return hyps, refs
