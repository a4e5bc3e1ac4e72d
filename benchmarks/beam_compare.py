"""Side-by-side table: beam search per-step cost, seqcore's kernel against a vectorised NumPy implementation.

The issue's case: beam width 5, V = 10,000, batch 32, 50 steps, random log-probs.  ``step_fn`` hands back
precomputed log_softmax rows of random logits (no copy while every row searches), so the time is the search's
own: scoring K*V continuations per row, picking the best 2K, splitting them into beam and token, finishing
hypotheses, the stopping rule and reordering the state.  Peers:

- ``numpy``: the same algorithm in vectorised NumPy, written here to be fast (each beam's best 2K tokens by
  ``argpartition``, since a row's best 2K candidates are among them; then a lexsort of those few per row, the
  walk and the finished lists as array operations);
- ``seqcore-cpp``, ``seqcore-numba`` (and ``seqcore-reference`` with ``--reference``): ``seqcore.decode.beam_search``
  on that backend.

Before timing, every peer must return the same n-best lists (tokens equal, scores within 1e-9) as the numpy
peer, which must agree with seqcore's reference backend.  Peers run in the same process, round-robin (the
order rotating each round); the table gives the median time of a whole search, steps/s and the ratio to numpy.

    PYTHONPATH=python python benchmarks/beam_compare.py [--rounds 7] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# ---------------------------------------------------------------- the NumPy peer


def numpy_beam_search(
    step_fn: Callable, init_state: np.ndarray, *, beam_width: int, max_len: int, bos: int, eos: int | None,
    length_penalty: float, n_best: int,
) -> list[list[tuple[np.ndarray, float, float]]]:  # fmt: skip
    """seqcore.decode.beam_search's algorithm in NumPy, for a state that is one array: per row, the n_best
    (tokens, score, log_prob), best first."""
    K, L = beam_width, max_len
    N = init_state.shape[0]
    scores = np.full((N, K), -np.inf)
    scores[:, 0] = 0.0
    tokens = np.full((N, K, L), -1, np.int64)
    fin_score = np.full((N, K), -np.inf)
    fin_lp = np.full((N, K), -np.inf)
    fin_len = np.zeros((N, K), np.int64)
    fin_tokens = np.full((N, K, L), -1, np.int64)
    fin_count = np.zeros(N, np.int64)
    norms = np.arange(1, L + 1, dtype=np.float64) ** length_penalty
    rows = np.arange(N)
    state = np.repeat(init_state, K, axis=0)
    prev = np.full(N * K, bos, np.int64)
    slots = np.arange(K)
    for step in range(L):
        lp, state = step_fn(prev, state)
        A, V = rows.size, lp.shape[1]
        M = min(2 * K, K * V)
        # each beam's best M tokens hold the row's best M candidates (a beam adds one constant to its row)
        if M < V:
            tok = np.argpartition(lp, V - M, axis=1)[:, V - M :]
            vals = np.take_along_axis(lp, tok, axis=1)
        else:
            tok = np.broadcast_to(np.arange(V), lp.shape)
            vals = lp
        cand = (scores[rows].reshape(-1, 1) + vals.astype(np.float64)).reshape(A, -1)
        flat = (tok + (np.arange(A * K) % K * V)[:, None]).reshape(A, -1)
        order = np.lexsort((flat, -cand), axis=1)[:, :M]  # best first, ties to the lower flat index
        top_score = np.take_along_axis(cand, order, axis=1)
        beam, token = np.divmod(np.take_along_axis(flat, order, axis=1), V)
        ends = token == eos if eos is not None else np.zeros((A, M), bool)
        others = ~ends
        live_before = np.cumsum(others, axis=1) - others
        counted = live_before < K
        taken = others & counted
        finishing = ends & counted & (top_score > -np.inf)
        # the new live beams
        a_idx, i_idx = np.nonzero(taken)
        slot = live_before[a_idx, i_idx]
        parent = np.broadcast_to(slots, (A, K)).copy()
        new_score = np.full((A, K), -np.inf)
        new_token = np.full((A, K), -1, np.int64)
        parent[a_idx, slot] = beam[a_idx, i_idx]
        new_score[a_idx, slot] = top_score[a_idx, i_idx]
        new_token[a_idx, slot] = token[a_idx, i_idx]
        old = tokens[rows]
        new_tokens = np.take_along_axis(old, parent[:, :, None], axis=1)
        new_tokens[:, :, step] = new_token
        # finished hypotheses: merge the offers into each row's best-first list of K
        last = step == L - 1
        if finishing.any() or last:
            offer_ok, offer_lp, offer_len, offer_tok = [finishing], [top_score], [np.full((A, M), step + 1)], []
            eos_rows = np.take_along_axis(old, beam[:, :, None], axis=1)
            eos_rows[:, :, step] = -1 if eos is None else eos
            eos_rows[:, :, step + 1 :] = -1
            offer_tok.append(eos_rows)
            if last:
                offer_ok.append(new_score > -np.inf)
                offer_lp.append(new_score)
                offer_len.append(np.full((A, K), L))
                offer_tok.append(new_tokens)
            ok = np.concatenate([slots < fin_count[rows, None], *offer_ok], axis=1)
            n = np.concatenate([fin_len[rows], *offer_len], axis=1)
            lps = np.concatenate([fin_lp[rows], *offer_lp], axis=1)
            objective = np.concatenate([fin_score[rows], lps[:, K:] / norms[n[:, K:] - 1]], axis=1)
            keep = np.lexsort((-np.where(ok, objective, 0.0), ~ok), axis=1)[:, :K]
            count = np.minimum(ok.sum(axis=1), K)
            used = slots < count[:, None]
            fin_score[rows] = np.where(used, np.take_along_axis(objective, keep, 1), fin_score[rows])
            fin_lp[rows] = np.where(used, np.take_along_axis(lps, keep, 1), fin_lp[rows])
            fin_len[rows] = np.where(used, np.take_along_axis(n, keep, 1), fin_len[rows])
            all_tok = np.concatenate([fin_tokens[rows], *offer_tok], axis=1)
            fin_tokens[rows] = np.where(used[:, :, None], np.take_along_axis(all_tok, keep[:, :, None], 1),
                                        fin_tokens[rows])  # fmt: skip
            fin_count[rows] = count
        scores[rows] = new_score
        tokens[rows] = new_tokens
        if last:
            break
        best = new_score.max(axis=1)
        done = (best == -np.inf) | ((fin_count[rows] == K) & (best / norms[step + 1 :].max() <= fin_score[rows, K - 1]))
        idx = (np.arange(A)[:, None] * K + parent)[~done].reshape(-1)
        rows = rows[~done]
        if rows.size == 0:
            break
        state = state[idx]
        prev = tokens[rows, :, step].reshape(-1)
    return [
        [(fin_tokens[r, j, : fin_len[r, j]].copy(), float(fin_score[r, j]), float(fin_lp[r, j]))
         for j in range(min(int(fin_count[r]), n_best))]
        for r in range(N)
    ]  # fmt: skip


# ---------------------------------------------------------------- the problem


class Problem:
    """Precomputed log_softmax rows of random logits; step t uses table t % distinct.  The state is each beam's
    batch row id, so a step with fewer rows (some finished) picks theirs (a copy: its time is measured and left
    out of the per-step figures, with the rest of step_fn's)."""

    def __init__(self, batch: int, beam: int, vocab: int, steps: int, *, distinct: int = 2, eos: int | None = 0,
                 eos_boost: float = 4.0, seed: int = 0) -> None:  # fmt: skip
        rng = np.random.default_rng(seed)
        self.batch, self.beam, self.vocab, self.steps, self.eos = batch, beam, vocab, steps, eos
        logits = 3.0 * rng.standard_normal((distinct, batch * beam, vocab), dtype=np.float32)
        if eos is not None:
            logits[:, :, eos] += eos_boost  # EOS ranks among the best now and then: hypotheses finish, rows stop
        logits -= logits.max(axis=-1, keepdims=True)
        self.tables = (logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))).astype(np.float32)
        self.calls, self.step_s = 0, 0.0

    def step_fn(self, prev: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        table = self.tables[self.calls % len(self.tables)]
        self.calls += 1
        if state.shape[0] != table.shape[0]:
            table = table.reshape(self.batch, self.beam, self.vocab)[state[:: self.beam]].reshape(-1, self.vocab)
        self.step_s += time.perf_counter() - start
        return table, state

    def kwargs(self, alpha: float, n_best: int) -> dict[str, Any]:
        return {"beam_width": self.beam, "max_len": self.steps, "bos": 0, "eos": self.eos,
                "length_penalty": alpha, "n_best": n_best}  # fmt: skip


def run_peer(peer: str, problem: Problem, alpha: float, n_best: int) -> tuple[Any, int, float]:
    """(the n-best lists as (tokens, score, log_prob) tuples, step_fn calls, seconds spent in step_fn)."""
    problem.calls, problem.step_s = 0, 0.0
    init = np.arange(problem.batch)
    if peer == "numpy":
        out = numpy_beam_search(problem.step_fn, init, **problem.kwargs(alpha, n_best))
        return out, problem.calls, problem.step_s
    from seqcore import decode, use_backend

    with use_backend(peer.split("-")[1]):
        res = decode.beam_search(problem.step_fn, init, **problem.kwargs(alpha, n_best))
    return [[(h.tokens, h.score, h.log_prob) for h in row] for row in res], problem.calls, problem.step_s


def same_lists(a: Any, b: Any) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if len(ra) != len(rb):
            return False
        for (ta, sa, la), (tb, sb, lb) in zip(ra, rb):
            if (
                not np.array_equal(ta, tb)
                or abs(sa - sb) > 1e-9 * max(1, abs(sb))
                or abs(la - lb) > 1e-9 * max(1, abs(lb))
            ):
                return False
    return True


def compare(peers: list[str], problem: Problem, *, alpha: float, rounds: int, n_best: int) -> dict[str, Any]:
    """Validate every peer against seqcore's reference backend, then time them round-robin."""
    from seqcore import get_num_threads

    want, steps, _ = run_peer("seqcore-reference", problem, alpha, n_best)  # the ground truth
    valid = {}
    for peer in peers:
        got, calls, _ = run_peer(peer, problem, alpha, n_best)
        valid[peer] = same_lists(got, want) and calls == steps
        if not valid[peer]:
            raise AssertionError(f"{peer} returned other hypotheses than seqcore's reference backend")
    total: dict[str, list[float]] = {p: [] for p in peers}
    search: dict[str, list[float]] = {p: [] for p in peers}  # step_fn's own time left out
    for r in range(rounds):
        for peer in peers[r % len(peers) :] + peers[: r % len(peers)]:
            start = time.perf_counter()
            _, _, step_s = run_peer(peer, problem, alpha, n_best)
            elapsed = time.perf_counter() - start
            total[peer].append(elapsed)
            search[peer].append(elapsed - step_s)
    rows = []
    base = float(np.median(search["numpy"])) if "numpy" in search else None
    base_min = float(np.min(search["numpy"])) if "numpy" in search else None
    for peer in peers:
        med, best = float(np.median(search[peer])), float(np.min(search[peer]))
        q1, q3 = np.percentile(search[peer], [25, 75])
        rows.append({
            "peer": peer, "median_s": float(np.median(total[peer])), "search_s": med, "spread": float((q3 - q1) / med),
            "steps": steps, "ms_per_step": 1e3 * med / steps, "steps_per_s": steps / med,
            "vs_numpy": (base / med) if base else None, "min_ms_per_step": 1e3 * best / steps,
            "vs_numpy_min": (base_min / best) if base_min else None, "valid": valid[peer],
        })  # fmt: skip
    return {
        "batch": problem.batch, "beam_width": problem.beam, "vocab": problem.vocab, "max_len": problem.steps,
        "eos": problem.eos, "length_penalty": alpha, "rounds": rounds, "threads": get_num_threads(),
        "distinct_tables": len(problem.tables), "table_mb": problem.tables[0].nbytes / 2**20,
        "cpus": os.cpu_count(), "rows": rows,
    }  # fmt: skip


def format_table(result: dict[str, Any]) -> str:
    eos = "no EOS" if result["eos"] is None else f"EOS {result['eos']} (logit +4)"
    lines = [
        f"beam search: width {result['beam_width']}, V = {result['vocab']}, batch {result['batch']}, "
        f"max_len {result['max_len']}, {eos}, length penalty {result['length_penalty']}; step_fn cycles through "
        f"{result['distinct_tables']} tables of {result['table_mb']:.1f} MB; {result['threads']} seqcore threads, "
        f"{result['cpus']} CPUs, {result['rounds']} rounds (median and fastest; per step: step_fn's time left out)",
        f"{'peer':<19} {'ms/search':>9} {'steps':>5} {'ms/step':>8} {'spread':>6} {'steps/s':>8} {'vs numpy':>8} "
        f"{'min ms/step':>11} {'vs numpy':>8}  same n-best",
    ]
    for r in result["rows"]:
        ratio = f"{r['vs_numpy']:.1f}x" if r["vs_numpy"] else "-"
        ratio_min = f"{r['vs_numpy_min']:.1f}x" if r["vs_numpy_min"] else "-"
        lines.append(
            f"{r['peer']:<19} {1e3 * r['median_s']:>9.1f} {r['steps']:>5} {r['ms_per_step']:>8.3f} "
            f"{100 * r['spread']:>5.0f}% {r['steps_per_s']:>8.0f} {ratio:>8} {r['min_ms_per_step']:>11.3f} "
            f"{ratio_min:>8}  {'yes' if r['valid'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=50, help="max_len")
    parser.add_argument("--alpha", type=float, default=0.7, help="length penalty")
    parser.add_argument("--eos", choices=["both", "none", "token"], default="both",
                        help="none: no end token (every row runs --steps steps); token: token 0, its logit raised "
                             "by 4 so hypotheses finish and rows stop; both (default): one table each")  # fmt: skip
    parser.add_argument(
        "--distinct",
        type=int,
        default=2,
        help="log-prob tables step_fn cycles through (default 2: 12.8 MB at the default sizes, which stay "
        "in a 32 MB L3 as a step_fn's fresh output would; 8: 51 MB, read from memory every step)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="seqcore threads (default: seqcore's)")
    parser.add_argument("--reference", action="store_true", help="time seqcore's reference backend too (slow)")
    parser.add_argument("--json", help="write the figures to this file (atomically)")
    args = parser.parse_args(argv)
    import seqcore
    from seqcore import _backend

    if args.threads:
        seqcore.set_num_threads(args.threads)
    peers = ["numpy", *(f"seqcore-{b}" for b in ("cpp", "numba") if _backend.available(b))]
    if args.reference:
        peers.append("seqcore-reference")
    results = []
    for eos in {"both": [None, 0], "none": [None], "token": [0]}[args.eos]:
        problem = Problem(args.batch, args.beam, args.vocab, args.steps, eos=eos, distinct=args.distinct)
        results.append(compare(peers, problem, alpha=args.alpha, rounds=args.rounds, n_best=args.beam))
        print(format_table(results[-1]), end="\n\n", flush=True)
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
