"""Beam search over any step function, the per-step bookkeeping in ``seqcore.kernels.beam_search_step``.

The objective is the course's length-normalised log-likelihood, ``1/Ty**alpha * sum_t log P(y_t | ...)``
with Ty the number of generated tokens, EOS included.  docs/decode.md has the algorithm, the stopping
rule and the tie rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import kernels
from .._backend import active
from ..kernels._validate import as_int, xp_of
from ._common import (
    DEFAULT_LENGTH_PENALTY,
    batch_rows,
    call_step,
    check_eos,
    check_length_penalty,
    check_max_len,
    length_norms,
    take_rows,
    tree_map,
)


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One output of a beam search.

    tokens: [Ty] int64 (read-only), the generated tokens, EOS included when the hypothesis ended with it
    (``ended``), else cut at max_len; log_prob: their summed log-probs; score: the objective,
    ``log_prob / Ty**alpha``.
    """

    tokens: np.ndarray
    score: float
    log_prob: float
    ended: bool

    @property
    def length(self) -> int:
        """Ty, the tokens the objective counts (EOS included)."""
        return int(self.tokens.shape[0])

    def without_eos(self) -> np.ndarray:
        """The tokens without the final EOS (all of them when the hypothesis was cut at max_len)."""
        return self.tokens[:-1] if self.ended else self.tokens

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hypothesis):
            return NotImplemented
        return (
            np.array_equal(self.tokens, other.tokens)
            and self.score == other.score
            and self.log_prob == other.log_prob
            and self.ended == other.ended
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and it holds an array

    def __repr__(self) -> str:
        return f"Hypothesis(tokens={self.tokens.tolist()}, score={self.score:.6g}, log_prob={self.log_prob:.6g})"


def beam_search(
    step_fn: Callable[[np.ndarray, Any], tuple[Any, Any]],
    init_state: Any,
    *,
    beam_width: int,
    max_len: int,
    bos: Any,
    eos: int | None = None,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
    n_best: int = 1,
    batch_size: int | None = None,
) -> list[list[Hypothesis]]:
    """Beam search of N rows side by side; returns, per row, its best ``n_best`` hypotheses, best first.

    step_fn(prev_tokens [n] int64, state) -> (log_probs [n, V] float32/float64, state) is called once per
    step for every live beam of every row still searching: n = A*K for A rows and K = beam_width, row
    a*K + k being beam k of the a-th row still searching.  The state's arrays come gathered so that row
    i is the state of the beam whose token is prev_tokens[i] (the first call gets ``bos`` and init_state
    repeated K times per row).  Finished rows leave, so n shrinks: step_fn must accept any n.  Keep in
    the state whatever step_fn needs per row (encoder outputs, a row id): it follows the beams.

    init_state: an array, None, or a tuple / list / dict of them (nested), first dimension N.
    bos: an int or int array [N].  eos: the end token in [0, V), or None (no end token: every hypothesis
    runs max_len tokens).  length_penalty: alpha >= 0 of the objective log P / Ty**alpha (Ty counts EOS;
    0 = plain log-likelihood; default 0.7, the course's).  n_best in [1, beam_width].  batch_size: N,
    needed only when neither init_state nor bos says it.

    A row stops once it holds beam_width finished hypotheses and no live beam can beat the worst of them
    (log-probs only fall, so a live beam's best is its log-prob over max_len**alpha), or when no live beam
    has a finite score.  Hypotheses of log-prob -inf are never returned, so a row may get fewer than
    n_best (none if every path is impossible).  Ties go to the lower (beam, token) flat index.
    Log-probs must be <= 0 (-inf: impossible; up to LOG_PROB_SLACK = 1e-4 above 0, a log_softmax's rounding,
    counts as 0); a larger value or NaN is a ValueError.
    """
    K = as_int("beam_width", beam_width, 1)
    max_len = check_max_len(max_len)
    n_best = as_int("n_best", n_best, 1)
    if n_best > K:
        raise ValueError(f"n_best must lie in [1, beam_width] = [1, {K}], got {n_best}")
    eos = check_eos(eos)
    alpha = check_length_penalty(length_penalty)
    N, bos = batch_rows(init_state, bos, batch_size)
    search = kernels.BeamState.initial(N, K, max_len)
    norms = length_norms(max_len, alpha)
    state = tree_map(lambda a: xp_of(a).repeat(a, K, axis=0), init_state)
    rows = np.arange(N)
    prev = np.repeat(bos, K)
    eos_code = -1 if eos is None else eos
    V = None
    for step in range(max_len):
        if rows.size == 0:
            break
        log_probs, state = call_step(step_fn, prev, state, rows.size * K, V, step)
        if V is None:
            V = log_probs.shape[1]
            if eos is not None and eos >= V:
                raise ValueError(f"eos must lie in [0, V) = [0, {V}) (V from step_fn's log_probs), got {eos}")
        try:
            if step == 0:
                parents = kernels.beam_search_step(search, log_probs, rows, step, eos=eos, length_norm=norms)
            else:
                # Every argument but log_probs is the search's own and was checked at step 0, and call_step
                # checked log_probs' dtype and shape (the kernel checks its values): a second round of checks
                # in seqcore.kernels would cost a fifth of a step at V = 10,000 (docs/architecture.md).
                parents = active().beam_search_step(search, log_probs, rows, step, eos_code, norms)
        except ValueError as exc:
            if "log-probabilities" in str(exc):
                raise ValueError(f"step_fn's log_probs at step {step}: {exc}") from None
            raise
        going = ~search.done[rows]
        if going.all():
            idx = parents.reshape(-1)
        else:
            idx = parents[going].reshape(-1)
            rows = rows[going]
            if rows.size == 0:
                break
        state = take_rows(state, idx)
        prev = search.tokens[rows, :, step].reshape(-1)
    return _hypotheses(search, n_best, eos)


def _hypotheses(search: kernels.BeamState, n_best: int, eos: int | None) -> list[list[Hypothesis]]:
    out = []
    for r in range(search.fin_count.shape[0]):
        found = []
        for j in range(min(int(search.fin_count[r]), n_best)):
            n = int(search.fin_lengths[r, j])
            tokens = search.fin_tokens[r, j, :n].copy()
            tokens.flags.writeable = False
            ended = eos is not None and bool(tokens[-1] == eos)
            found.append(Hypothesis(tokens, float(search.fin_scores[r, j]), float(search.fin_log_probs[r, j]), ended))
        out.append(found)
    return out
