"""Caches passed from a forward kernel to its backward, shared by every backend.

A cache holds plain NumPy arrays laid out the same way on every backend, so the
backward of one backend accepts the forward cache of any other (tests rely on
this, and so can users who switch backends between the two calls).

Dimension letters used throughout seqcore's kernels:
    B batch rows, T time steps, D input features, H hidden units,
    G gates per unit (4 for LSTM, 3 for GRU, 1 for RNN), C classes.

Time layout: ``y[b, t]`` is always the state produced when the recurrence
consumed ``x[b, t]``, also when ``reverse=True`` (then step ``s`` of row ``b``
reads ``t = lengths[b] - 1 - s``), the way PyTorch lays out the backward
direction of a bidirectional RNN.  Positions ``t >= lengths[b]`` hold zeros.

The cache refers to ``y`` rather than copying it: change ``y`` in place before
calling the backward and the gradients are those of the changed values.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LSTMCache(NamedTuple):
    x: np.ndarray  # [B,T,D] inputs
    h0: np.ndarray  # [B,H] initial hidden state
    c0: np.ndarray  # [B,H] initial cell state
    W: np.ndarray  # [D,4H] input kernel, gate blocks i, f, c, o
    U: np.ndarray  # [H,4H] recurrent kernel
    lengths: np.ndarray | None  # [B] int64 true lengths, None = all T
    reverse: bool
    gates: np.ndarray  # [B,T,4H] activated gates i, f, c~, o
    c: np.ndarray  # [B,T,H] cell state after each step
    y: np.ndarray  # [B,T,H] hidden state after each step (the forward output)


class GRUCache(NamedTuple):
    x: np.ndarray  # [B,T,D]
    h0: np.ndarray  # [B,H]
    W: np.ndarray  # [D,3H] gate blocks z, r, h
    U: np.ndarray  # [H,3H]
    lengths: np.ndarray | None
    reverse: bool
    reset_after: bool
    gates: np.ndarray  # [B,T,3H] activated z, r, h~
    hr: np.ndarray  # [B,T,H] reset_after: recurrent candidate term h U_h + b_rec_h
    #                 (reset_after=False: unused, shape [B,0,H])
    y: np.ndarray  # [B,T,H]


class RNNCache(NamedTuple):
    x: np.ndarray  # [B,T,D]
    h0: np.ndarray  # [B,H]
    W: np.ndarray  # [D,H]
    U: np.ndarray  # [H,H]
    lengths: np.ndarray | None
    reverse: bool
    y: np.ndarray  # [B,T,H]


class SoftmaxCrossEntropyCache(NamedTuple):
    probs: np.ndarray  # [...,C] softmax of the logits
    labels: np.ndarray  # [...] int64 class ids, or [...,C] target distribution
    sparse: bool


class LayerNormCache(NamedTuple):
    """layer_norm_forward over the last axis of x [...,F], viewed as N = x.size / F rows."""

    xhat: np.ndarray  # [...,F] (x - mean) * rstd, shaped like x
    mean: np.ndarray  # [N] mean of each row
    rstd: np.ndarray  # [N] 1 / sqrt(var + eps), var the biased variance of each row
    gamma: np.ndarray  # [F] scale


class BatchNormCache(NamedTuple):
    """batch_norm_forward (training mode) over every axis of x [...,F] but the last: N = x.size / F rows."""

    xhat: np.ndarray  # [...,F] (x - mean) * rstd, shaped like x
    mean: np.ndarray  # [F] mean of each feature over the N rows
    rstd: np.ndarray  # [F] 1 / sqrt(var + eps), var the biased variance of each feature
    gamma: np.ndarray  # [F] scale


class Conv1DCache(NamedTuple):
    """conv1d_forward, channels last: x [B,T,C], W [K,C,F] (K taps, C channels, F filters)."""

    x: np.ndarray  # [B,T,C] the input (the cache refers to it, no copy)
    W: np.ndarray  # [K,C,F] the kernel
    has_bias: bool  # whether b was given (the backward then returns db, else None)
    stride: int
    padding: tuple[int, int]  # (left, right) zero steps around x's time axis
    dilation: int


#: How far above 0 a log-prob may be and still count (as 0): the rounding of a log_softmax computed as
#: x - log(sum(exp(x))) can leave the top token at +1e-16 (float64) or +1e-7 (float32).  Beyond it, or NaN,
#: the beam search kernel raises.  src/cpp/seqcore/beam.h has the same constant.
LOG_PROB_SLACK = 1e-4


class BeamState(NamedTuple):
    """The bookkeeping of a batched beam search, updated in place by ``beam_search_step``.

    B batch rows, K beams per row (the beam width), L the longest output (max_len).  Live beams are
    hypotheses still growing, ranked by their summed log-prob; finished ones ended with EOS or were cut
    at L tokens, ranked best first by the objective ``log_prob / length_norm[n - 1]`` (n tokens, EOS
    included).  Slots ``[fin_count[b], K)`` of the finished arrays are unused.
    """

    scores: np.ndarray  # [B,K] float64 live beams' summed log-probs (-inf: an empty slot)
    tokens: np.ndarray  # [B,K,L] int64 live beams' tokens, position t written at step t
    fin_scores: np.ndarray  # [B,K] float64 finished hypotheses' objective, best first
    fin_log_probs: np.ndarray  # [B,K] float64 their summed log-probs
    fin_tokens: np.ndarray  # [B,K,L] int64 their tokens, EOS included, -1 past the length
    fin_lengths: np.ndarray  # [B,K] int64 their token counts, EOS included
    fin_count: np.ndarray  # [B] int64 finished hypotheses held, in [0, K]
    done: np.ndarray  # [B] bool whether the row's search is over

    @classmethod
    def initial(cls, batch: int, beam_width: int, max_len: int) -> BeamState:
        """The state before the first step: one live beam per row (log-prob 0), the others empty (-inf),
        so the first step expands each row once; no token, no finished hypothesis."""
        B, K, L = batch, beam_width, max_len
        scores = np.full((B, K), -np.inf)
        scores[:, :1] = 0.0
        return cls(
            scores=scores,
            tokens=np.full((B, K, L), -1, np.int64),
            fin_scores=np.full((B, K), -np.inf),
            fin_log_probs=np.full((B, K), -np.inf),
            fin_tokens=np.full((B, K, L), -1, np.int64),
            fin_lengths=np.zeros((B, K), np.int64),
            fin_count=np.zeros(B, np.int64),
            done=np.zeros(B, np.bool_),
        )
