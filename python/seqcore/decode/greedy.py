"""Greedy decoding: the most likely next token at every step, until EOS or max_len."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._common import batch_rows, call_step, check_eos, check_log_probs, check_max_len, take_rows


@dataclass(frozen=True, eq=False)
class GreedyResult:
    """What ``greedy`` found for each of the N batch rows.

    tokens: [N, max_len] int64, row n's output in ``tokens[n, :lengths[n]]`` (EOS included when it was
    chosen), ``PAD`` (-1) after it; lengths: [N] int64; log_probs: [N] float64, the summed log-probs of
    the chosen tokens.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    log_probs: np.ndarray
    PAD: ClassVar[int] = -1

    def sequences(self) -> list[np.ndarray]:
        """Each row's output without the padding."""
        return [t[:n] for t, n in zip(self.tokens, self.lengths)]


def greedy(
    step_fn: Callable[[np.ndarray, Any], tuple[Any, Any]],
    init_state: Any,
    *,
    max_len: int,
    bos: Any,
    eos: int | None = None,
    batch_size: int | None = None,
) -> GreedyResult:
    """Greedy decoding of N rows side by side.

    step_fn(prev_tokens [n] int64, state) -> (log_probs [n, V] float32/float64, state) is called once per
    step for the n rows still decoding (the first call gets ``bos``); rows that chose ``eos`` leave, and
    the state's arrays are gathered to the rows that remain, so n may shrink between calls.  init_state:
    an array, None, or a tuple / list / dict of them with first dimension N.  bos: an int or int array
    [N].  eos: the end token, or None (every row runs max_len steps).  batch_size: N, needed only when
    neither init_state nor bos says it.  Ties go to the lower token id.  Log-probs must be <= 0 (-inf:
    impossible; up to LOG_PROB_SLACK = 1e-4 above 0 counts as 0), else ValueError.
    """
    max_len = check_max_len(max_len)
    eos = check_eos(eos)
    N, bos = batch_rows(init_state, bos, batch_size)
    tokens = np.full((N, max_len), GreedyResult.PAD, np.int64)
    lengths = np.zeros(N, np.int64)
    total = np.zeros(N, np.float64)
    rows = np.arange(N)
    prev, state, V = bos, init_state, None
    for step in range(max_len):
        if rows.size == 0:
            break
        log_probs, state = call_step(step_fn, prev, state, rows.size, V, step)
        if V is None:
            V = log_probs.shape[1]
            if eos is not None and eos >= V:
                raise ValueError(f"eos must lie in [0, V) = [0, {V}) (V from step_fn's log_probs), got {eos}")
        log_probs = check_log_probs(log_probs, step)
        choice = np.argmax(log_probs, axis=1)  # the first of equal maxima: the lower token id
        tokens[rows, step] = choice
        lengths[rows] += 1
        total[rows] += log_probs[np.arange(rows.size), choice]
        if eos is None:
            prev = choice
            continue
        going = choice != eos
        if not going.all():
            keep = np.flatnonzero(going)
            rows = rows[keep]
            state = take_rows(state, keep)
        prev = choice[going]
    return GreedyResult(tokens, lengths, total)
