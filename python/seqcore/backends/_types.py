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
