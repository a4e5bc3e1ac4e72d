"""Beam search bookkeeping in plain NumPy, vectorised over the batch rows: the ground truth in tests.

One step, for the rows still searching (see docs/decode.md):
  1. every continuation (beam k, token v) scores its beam's summed log-prob plus log P(v | beam);
  2. the best min(2K, K*V) of a row are ranked, best first, ties to the lower flat index k*V + v;
  3. walking that ranking until K live beams are taken, EOS candidates finish and the others become
     the new live beams (a beam has one EOS candidate, so 2K always hold K others);
  4. finished hypotheses join the row's best-first list of at most K by the objective
     log_prob / length_norm[n - 1], ties to the one found first;
  5. at the last step the live beams finish as they are; before it, a row stops when no live beam has
     a finite score, or when it holds K finished and no live beam can still beat the worst of them.
"""

from __future__ import annotations

import numpy as np

from .._types import LOG_PROB_SLACK


def check_log_probs(log_probs: np.ndarray) -> np.ndarray:
    """The log-probs with values in (0, LOG_PROB_SLACK] read as 0; the first value above it, or NaN, raises."""
    bad = ~(log_probs <= log_probs.dtype.type(LOG_PROB_SLACK))
    if bad.any():
        i, v = np.unravel_index(int(np.argmax(bad)), log_probs.shape)
        raise ValueError(
            f"log_probs must hold log-probabilities (<= 0, not NaN; up to {LOG_PROB_SLACK:g} above 0 is read as 0), "
            f"got {float(log_probs[i, v])!r} at log_probs[{i}, {v}]"
        )
    return np.where(log_probs > 0, log_probs.dtype.type(0), log_probs)


def beam_search_step(state, log_probs, rows, step, eos, length_norm):
    B, K = state.scores.shape
    L = state.tokens.shape[2]
    A, V = rows.size, log_probs.shape[1]
    if A == 0:
        return np.empty((0, K), np.int64)
    log_probs = check_log_probs(log_probs)

    # 1-2. candidates [A, K*V] and the best M of each row, best first (a stable sort of -score keeps
    # equal scores in flat-index order)
    cand = state.scores[rows][:, :, None] + log_probs.reshape(A, K, V).astype(np.float64)
    cand = cand.reshape(A, K * V)
    M = min(2 * K, K * V)
    top = np.argsort(-cand, axis=1, kind="stable")[:, :M]
    top_score = np.take_along_axis(cand, top, axis=1)
    beam, token = np.divmod(top, V)

    # 3. the walk: a candidate counts while fewer than K live beams rank before it
    ends = token == eos if eos >= 0 else np.zeros((A, M), bool)
    live_before = np.cumsum(~ends, axis=1) - (~ends)
    counted = live_before < K
    taken = ~ends & counted
    finishing = ends & counted & (top_score > -np.inf)

    # the new live beams: slot j holds the j-th taken candidate; slots left empty keep their own row
    parent = np.broadcast_to(np.arange(K), (A, K)).copy()
    new_score = np.full((A, K), -np.inf)
    new_token = np.full((A, K), -1, np.int64)
    a_idx, i_idx = np.nonzero(taken)
    slot = live_before[a_idx, i_idx]
    parent[a_idx, slot] = beam[a_idx, i_idx]
    new_score[a_idx, slot] = top_score[a_idx, i_idx]
    new_token[a_idx, slot] = token[a_idx, i_idx]
    old_tokens = state.tokens[rows]  # [A,K,L], a copy
    new_tokens = np.take_along_axis(old_tokens, parent[:, :, None], axis=1)
    new_tokens[:, :, step] = new_token

    # 4. offers, in the order they are made: EOS candidates by rank, then (last step) live beams by slot
    eos_rows = np.take_along_axis(old_tokens, beam[:, :, None], axis=1)  # [A,M,L] the parents' tokens
    eos_rows[:, :, step] = eos
    eos_rows[:, :, step + 1 :] = -1
    offer_lp = [np.where(finishing, top_score, -np.inf)]
    offer_ok = [finishing]
    offer_len = [np.full((A, M), step + 1, np.int64)]
    offer_tokens = [eos_rows]
    last = step == L - 1
    if last:
        offer_lp.append(new_score)
        offer_ok.append(new_score > -np.inf)
        offer_len.append(np.full((A, K), L, np.int64))
        offer_tokens.append(new_tokens)
    lp = np.concatenate(offer_lp, axis=1)
    ok = np.concatenate(offer_ok, axis=1)
    n = np.concatenate(offer_len, axis=1)
    objective = np.where(ok, lp / length_norm[n - 1], -np.inf)

    count = state.fin_count[rows]
    held = np.arange(K) < count[:, None]
    all_ok = np.concatenate([held, ok], axis=1)
    all_score = np.concatenate([state.fin_scores[rows], objective], axis=1)
    all_lp = np.concatenate([state.fin_log_probs[rows], lp], axis=1)
    all_len = np.concatenate([state.fin_lengths[rows], n], axis=1)
    all_tokens = np.concatenate([state.fin_tokens[rows], *offer_tokens], axis=1)
    # best first, what is not held or offered last; lexsort is stable, so ties keep the order of offer
    order = np.lexsort((-np.where(all_ok, all_score, 0.0), ~all_ok), axis=1)[:, :K]
    new_count = np.minimum(all_ok.sum(axis=1), K)
    used = np.arange(K) < new_count[:, None]  # slots past the count keep what they held
    fin_scores = np.where(used, np.take_along_axis(all_score, order, 1), state.fin_scores[rows])
    fin_lp = np.where(used, np.take_along_axis(all_lp, order, 1), state.fin_log_probs[rows])
    fin_len = np.where(used, np.take_along_axis(all_len, order, 1), state.fin_lengths[rows])
    picked = np.take_along_axis(all_tokens, order[:, :, None], 1)
    fin_tokens = np.where(used[:, :, None], picked, state.fin_tokens[rows])

    # 5. which rows are done
    if last:
        done = np.ones(A, bool)
    else:
        best = new_score.max(axis=1)
        bound = best / length_norm[step + 1 :].max()  # log-probs only fall: the longest divisor is the kindest
        done = (best == -np.inf) | ((new_count == K) & (bound <= fin_scores[:, K - 1]))

    state.scores[rows] = new_score
    state.tokens[rows] = new_tokens
    state.fin_scores[rows] = fin_scores
    state.fin_log_probs[rows] = fin_lp
    state.fin_lengths[rows] = fin_len
    state.fin_tokens[rows] = fin_tokens
    state.fin_count[rows] = new_count
    state.done[rows] = done
    return np.arange(A)[:, None] * K + parent


def gather_rows(x, idx):
    return x[idx]
