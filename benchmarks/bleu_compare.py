"""Side-by-side table: corpus BLEU, seqcore.metrics.bleu vs sacrebleu.corpus_bleu, on generated sentence pairs.

The corpus (``make_corpus``): detokenized English-like sentences of 20-30 tokens over a Zipf-distributed
vocabulary of 6,000 words plus numbers ("1,250", "3.5"), hyphenated compounds, capitalised names, commas,
quotes, parentheses and final punctuation; each hypothesis is its reference with about a quarter of the
words substituted, some dropped, inserted or swapped, so every n-gram order matches (BLEU around 30).

Validation first: the two scores, and every statistic behind them, must be identical, or nothing is timed.
Then each round times sacrebleu once and seqcore (cpp backend) with 2 threads and with 1 thread; the
medians over rounds are compared.  sacrebleu's tokenizers memoise with ``functools.lru_cache`` keyed by
(tokenizer instance, line); every ``corpus_bleu`` call makes a new instance, so a call cannot hit an earlier
call's entries, and the caches are cleared before each sacrebleu run anyway (no stale entries, no memory
carried over).  seqcore keeps no cache.  "kernel" rows time ``seqcore.kernels.bleu_stats`` alone on text
already encoded (the rest of ``bleu`` is validating, lower-casing if asked, and UTF-8 encoding in Python).

    PYTHONPATH=python python benchmarks/bleu_compare.py [--segments 100000] [--refs 1] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
from typing import Any


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Pronounceable pseudo-words, most frequent first (the order is the Zipf rank)."""
    onsets = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "pl", "ch"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai"]
    codas = ["", "n", "r", "s", "t", "l", "nd", "st", "ng"]
    function = "the of and to a in is that for it was on with as by at from this be are not or have an but".split()
    words, seen = list(function), set(function)
    while len(words) < size:
        w = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(1, 3)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class _Text:
    def __init__(self, seed: int, vocabulary: int = 6000) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(self.rng, vocabulary)
        self.cum_weights = list(itertools.accumulate(1.0 / (rank + 2) for rank in range(len(self.words))))  # Zipf
        self.names = [w.capitalize() for w in self.words[200:400]]

    def word(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            return rng.choice(["1,250", "3.5", "2019", "10", "42", "0.75", "1990s", "25%", "$300"])
        if roll < 0.05:
            return "-".join(rng.choices(self.words[:800], k=2))
        if roll < 0.09:
            return rng.choice(self.names)
        return rng.choices(self.words, cum_weights=self.cum_weights)[0]

    def sentence(self) -> list[str]:
        rng = self.rng
        tokens = [self.word() for _ in range(rng.randint(20, 30))]
        tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
        for k in range(2, len(tokens) - 2):
            if rng.random() < 0.08:
                tokens[k] += rng.choice([",", ",", ",", ";", ":"])
        if rng.random() < 0.15:
            k = rng.randrange(1, len(tokens) - 3)
            tokens[k], tokens[k + 2] = '"' + tokens[k], tokens[k + 2] + '"'
        if rng.random() < 0.1:
            k = rng.randrange(1, len(tokens) - 3)
            tokens[k], tokens[k + 1] = "(" + tokens[k], tokens[k + 1] + ")"
        tokens[-1] += rng.choice([".", ".", ".", ".", "?", "!"])
        return tokens

    def hypothesis(self, reference: list[str]) -> list[str]:
        """The reference, edited as a middling MT system would."""
        rng = self.rng
        out: list[str] = []
        for token in reference:
            roll = rng.random()
            if roll < 0.05:
                continue  # dropped
            out.append(self.word() if roll < 0.27 else token)
            if rng.random() < 0.04:
                out.append(self.word())  # inserted
        for k in range(len(out) - 1):
            if rng.random() < 0.03:
                out[k], out[k + 1] = out[k + 1], out[k]
        return out


def make_corpus(segments: int, refs: int = 1, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """``segments`` hypotheses and ``refs`` reference streams (each reference a fresh sentence around the same
    content: the first is the source of the hypothesis, the others are its own edits)."""
    text = _Text(seed)
    hyps: list[str] = []
    streams: list[list[str]] = [[] for _ in range(refs)]
    for _ in range(segments):
        ref = text.sentence()
        hyps.append(" ".join(text.hypothesis(ref)))
        streams[0].append(" ".join(ref))
        for r in range(1, refs):
            streams[r].append(" ".join(text.hypothesis(ref)))
    return hyps, streams


# ---------------------------------------------------------------- the peers


def clear_sacrebleu_caches() -> None:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    Tokenizer13a.__call__.cache_clear()
    TokenizerRegexp.__call__.cache_clear()


def run_sacrebleu(hyps: list[str], refs: list[list[str]]) -> Any:
    """sacrebleu.corpus_bleu (clear its caches first, outside the time measured: clear_sacrebleu_caches)."""
    import sacrebleu

    return sacrebleu.corpus_bleu(hyps, refs, force=True)


def run_seqcore(hyps: list[str], refs: list[list[str]]) -> Any:
    from seqcore.metrics import bleu

    return bleu(hyps, refs, force=True)


def validate(hyps: list[str], refs: list[list[str]]) -> dict[str, Any]:
    """Both scores and their statistics; ``identical`` is whether every field agrees exactly."""
    ours = run_seqcore(hyps, refs)
    clear_sacrebleu_caches()
    start = time.perf_counter()
    theirs = run_sacrebleu(hyps, refs)
    sacrebleu_s = time.perf_counter() - start
    fields = ("score", "counts", "totals", "precisions", "bp", "sys_len", "ref_len")
    same = all(getattr(ours, f) == getattr(theirs, f) for f in fields) and str(ours) == theirs.format()
    return {"seqcore": str(ours), "sacrebleu": theirs.format(), "score": ours.score, "identical": same,
            "sacrebleu_first_s": sacrebleu_s}  # fmt: skip


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(segments: int, refs: int, rounds: int, seqcore_repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    import seqcore
    from seqcore import kernels as K
    from seqcore.metrics.bleu_score import _flatten, _pack

    hyps, streams = make_corpus(segments, refs, seed)
    tokens = sum(len(h.split()) for h in hyps)
    check = validate(hyps, streams)
    result: dict[str, Any] = {"segments": segments, "refs": refs, "hyp_words": tokens, **check}
    if not check["identical"]:
        return result
    flat, groups, _ = _flatten(streams, len(hyps))
    packed = (*_pack(hyps, False), *_pack(flat, False), groups)
    times: dict[str, list[float]] = {"sacrebleu": [check["sacrebleu_first_s"]]}
    threads_before = seqcore.get_num_threads()
    try:
        with seqcore.use_backend("cpp"):
            for r in range(rounds):
                if r:  # round 0's sacrebleu time is the validation run
                    clear_sacrebleu_caches()
                    times["sacrebleu"].append(_timed(lambda: run_sacrebleu(hyps, streams)))
                for threads in (2, 1):
                    seqcore.set_num_threads(threads)
                    for _ in range(seqcore_repeats):
                        times.setdefault(f"seqcore {threads}", []).append(_timed(lambda: run_seqcore(hyps, streams)))
                        times.setdefault(f"kernel {threads}", []).append(
                            _timed(lambda: K.bleu_stats(*packed, max_order=4, tokenize="13a"))
                        )
    finally:
        seqcore.set_num_threads(threads_before)
    result["median_s"] = {k: statistics.median(v) for k, v in times.items()}
    result["times_s"] = times
    result["cpus"] = os.cpu_count()
    result["usable_cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return result


def format_report(r: dict[str, Any]) -> str:
    import sacrebleu

    lines = [
        f"corpus BLEU, {r['segments']:,} segments ({r['hyp_words'] / r['segments']:.1f} words a hypothesis), "
        f"{r['refs']} reference stream(s), tokenize 13a, smooth exp",
        f"  seqcore:   {r['seqcore']}",
        f"  sacrebleu: {r['sacrebleu']}",
        f"  identical: {'yes' if r['identical'] else 'NO'}",
    ]
    if not r["identical"]:
        return "\n".join(lines)
    med = r["median_s"]
    base = med["sacrebleu"]
    rows = [
        (f"sacrebleu {sacrebleu.__version__} corpus_bleu", "sacrebleu"),
        ("seqcore bleu, cpp, 2 threads", "seqcore 2"),
        ("seqcore bleu, cpp, 1 thread", "seqcore 1"),
        ("  of which bleu_stats kernel, 2 threads", "kernel 2"),
        ("  of which bleu_stats kernel, 1 thread", "kernel 1"),
    ]
    lines += ["", f"{'peer':<42} {'median s':>9} {'segments/s':>12} {'vs sacrebleu':>13}  runs"]
    for label, key in rows:
        t = med[key]
        lines.append(
            f"{label:<42} {t:>9.3f} {r['segments'] / t:>12,.0f} {base / t:>12.1f}x  {len(r['times_s'][key]):>4}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=100_000, help="sentence pairs (default 100000)")
    parser.add_argument("--refs", type=int, default=1, help="reference streams (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each times sacrebleu once (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="seqcore runs per thread count per round (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the figures to this file (atomically)")
    args = parser.parse_args(argv)
    import seqcore

    result = compare(args.segments, args.refs, args.rounds, args.repeats, args.seed)
    print(f"seqcore {seqcore.__version__}, {result.get('usable_cpus')} usable CPUs")
    print(format_report(result))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
