"""Recurrent kernels in plain NumPy: the ground truth every other backend is tested against.

Written for reading, one equation a line.  Arguments arrive validated (see
``seqcore.kernels``): C-contiguous, one float dtype, ``lengths`` int64 or None.
Shapes use the letters of ``seqcore.backends._types``.
"""

from __future__ import annotations

import numpy as np

from .._types import GRUCache, LSTMCache, RNNCache


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _lengths(lengths: np.ndarray | None, B: int, T: int) -> np.ndarray:
    return np.full(B, T, dtype=np.int64) if lengths is None else lengths


def _steps(B: int, T: int, H: int) -> int:
    """Steps the time loop runs: none without rows or units (every step would be empty, and T may be 2**40)."""
    return T if B and H else 0


def _step_rows(s: int, L: np.ndarray, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows still running at step s, and the time index each of them reads."""
    rows = np.flatnonzero(s < L)
    t = L[rows] - 1 - s if reverse else np.full(rows.size, s, dtype=np.int64)
    return rows, t


def _previous(seq: np.ndarray, init: np.ndarray, s: int, rows: np.ndarray, t: np.ndarray, reverse: bool) -> np.ndarray:
    """State before step s: the initial state at s == 0, else seq at the previous time index."""
    if s == 0:
        return init[rows]
    return seq[rows, t + 1] if reverse else seq[rows, t - 1]


# ---------------------------------------------------------------- LSTM (Keras gate order i, f, c, o)


def lstm_forward(x, h0, c0, W, U, b, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    y = np.zeros((B, T, H), x.dtype)
    cs = np.zeros((B, T, H), x.dtype)
    gates = np.zeros((B, T, 4 * H), x.dtype)
    h, c = h0.copy(), c0.copy()
    for s in range(_steps(B, T, H)):
        rows, t = _step_rows(s, L, reverse)
        a = x[rows, t] @ W + h[rows] @ U + b
        i = sigmoid(a[:, :H])
        f = sigmoid(a[:, H : 2 * H])
        g = np.tanh(a[:, 2 * H : 3 * H])
        o = sigmoid(a[:, 3 * H :])
        c[rows] = f * c[rows] + i * g
        h[rows] = o * np.tanh(c[rows])
        y[rows, t], cs[rows, t] = h[rows], c[rows]
        gates[rows, t] = np.concatenate([i, f, g, o], axis=1)
    return y, h, c, LSTMCache(x, h0, c0, W, U, lengths, reverse, gates, cs, y)


def lstm_backward(cache: LSTMCache, dy=None, dhT=None, dcT=None):
    x, h0, c0, W, U, lengths, reverse, gates, cs, y = cache
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    dx, dW, dU = np.zeros_like(x), np.zeros_like(W), np.zeros_like(U)
    db = np.zeros(4 * H, x.dtype)
    dh = np.zeros_like(h0) if dhT is None else dhT.copy()
    dc = np.zeros_like(c0) if dcT is None else dcT.copy()
    for s in reversed(range(_steps(B, T, H))):
        rows, t = _step_rows(s, L, reverse)
        h_prev = _previous(y, h0, s, rows, t, reverse)
        c_prev = _previous(cs, c0, s, rows, t, reverse)
        i, f, g, o = np.split(gates[rows, t], 4, axis=1)
        dh_t = dh[rows] + (0 if dy is None else dy[rows, t])
        tanh_c = np.tanh(cs[rows, t])
        dc_t = dc[rows] + dh_t * o * (1 - tanh_c**2)
        da = np.concatenate(
            [
                dc_t * g * i * (1 - i),
                dc_t * c_prev * f * (1 - f),
                dc_t * i * (1 - g**2),
                dh_t * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        dx[rows, t] = da @ W.T
        dW += x[rows, t].T @ da
        dU += h_prev.T @ da
        db += da.sum(axis=0)
        dh[rows] = da @ U.T
        dc[rows] = dc_t * f
    return dx, dh, dc, dW, dU, db


# ---------------------------------------------------------------- GRU (Keras gate order z, r, h)


def gru_forward(x, h0, W, U, b, reset_after=True, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    b_in, b_rec = (b[0], b[1]) if reset_after else (b, np.zeros_like(b))
    y = np.zeros((B, T, H), x.dtype)
    hr = np.zeros((B, T if reset_after else 0, H), x.dtype)
    gates = np.zeros((B, T, 3 * H), x.dtype)
    h = h0.copy()
    for s in range(_steps(B, T, H)):
        rows, t = _step_rows(s, L, reverse)
        hp = h[rows]
        ax = x[rows, t] @ W + b_in
        z = sigmoid(ax[:, :H] + hp @ U[:, :H] + b_rec[:H])
        r = sigmoid(ax[:, H : 2 * H] + hp @ U[:, H : 2 * H] + b_rec[H : 2 * H])
        if reset_after:
            rec = hp @ U[:, 2 * H :] + b_rec[2 * H :]
            hh = np.tanh(ax[:, 2 * H :] + r * rec)
            hr[rows, t] = rec
        else:
            hh = np.tanh(ax[:, 2 * H :] + (r * hp) @ U[:, 2 * H :])
        h[rows] = z * hp + (1 - z) * hh
        y[rows, t] = h[rows]
        gates[rows, t] = np.concatenate([z, r, hh], axis=1)
    return y, h, GRUCache(x, h0, W, U, lengths, reverse, reset_after, gates, hr, y)


def gru_backward(cache: GRUCache, dy=None, dhT=None):
    x, h0, W, U, lengths, reverse, reset_after, gates, hr, y = cache
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    dx, dW, dU = np.zeros_like(x), np.zeros_like(W), np.zeros_like(U)
    db_in, db_rec = np.zeros(3 * H, x.dtype), np.zeros(3 * H, x.dtype)
    dh = np.zeros_like(h0) if dhT is None else dhT.copy()
    for s in reversed(range(_steps(B, T, H))):
        rows, t = _step_rows(s, L, reverse)
        hp = _previous(y, h0, s, rows, t, reverse)
        z, r, hh = np.split(gates[rows, t], 3, axis=1)
        dh_t = dh[rows] + (0 if dy is None else dy[rows, t])
        dz = dh_t * (hp - hh) * z * (1 - z)
        dn = dh_t * (1 - z) * (1 - hh**2)  # gradient at the candidate's pre-activation
        if reset_after:
            rec = hr[rows, t]
            dr = dn * rec * r * (1 - r)
            dax = np.concatenate([dz, dr, dn], axis=1)
            drec = np.concatenate([dz, dr, dn * r], axis=1)
            dU += hp.T @ drec
            dh_prev = dh_t * z + drec @ U.T
            db_rec += drec.sum(axis=0)
        else:
            drh = dn @ U[:, 2 * H :].T  # gradient at r * h_prev
            dr = drh * hp * r * (1 - r)
            dax = np.concatenate([dz, dr, dn], axis=1)
            dU[:, : 2 * H] += hp.T @ dax[:, : 2 * H]
            dU[:, 2 * H :] += (r * hp).T @ dn
            dh_prev = dh_t * z + drh * r + dax[:, : 2 * H] @ U[:, : 2 * H].T
        dx[rows, t] = dax @ W.T
        dW += x[rows, t].T @ dax
        db_in += dax.sum(axis=0)
        dh[rows] = dh_prev
    db = np.stack([db_in, db_rec]) if reset_after else db_in
    return dx, dh, dW, dU, db


# ---------------------------------------------------------------- basic tanh RNN (the course's a<t>)


def rnn_forward(x, h0, W, U, b, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    y = np.zeros((B, T, H), x.dtype)
    h = h0.copy()
    for s in range(_steps(B, T, H)):
        rows, t = _step_rows(s, L, reverse)
        h[rows] = np.tanh(x[rows, t] @ W + h[rows] @ U + b)
        y[rows, t] = h[rows]
    return y, h, RNNCache(x, h0, W, U, lengths, reverse, y)


def rnn_backward(cache: RNNCache, dy=None, dhT=None):
    x, h0, W, U, lengths, reverse, y = cache
    B, T, _ = x.shape
    H = U.shape[0]
    L = _lengths(lengths, B, T)
    dx, dW, dU = np.zeros_like(x), np.zeros_like(W), np.zeros_like(U)
    db = np.zeros(H, x.dtype)
    dh = np.zeros_like(h0) if dhT is None else dhT.copy()
    for s in reversed(range(_steps(B, T, H))):
        rows, t = _step_rows(s, L, reverse)
        h_prev = _previous(y, h0, s, rows, t, reverse)
        dh_t = dh[rows] + (0 if dy is None else dy[rows, t])
        da = dh_t * (1 - y[rows, t] ** 2)
        dx[rows, t] = da @ W.T
        dW += x[rows, t].T @ da
        dU += h_prev.T @ da
        db += da.sum(axis=0)
        dh[rows] = da @ U.T
    return dx, dh, dW, dU, db


# ---------------------------------------------------------------- single steps for generation loops


def lstm_cell(x, h, c, W, U, b):
    H = U.shape[0]
    a = x @ W + h @ U + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 3 * H :])
    c_new = f * c + i * np.tanh(a[:, 2 * H : 3 * H])
    return o * np.tanh(c_new), c_new


def gru_cell(x, h, W, U, b, reset_after=True):
    _, h_new, _ = gru_forward(x[:, None, :], h, W, U, b, reset_after=reset_after)
    return h_new


def rnn_cell(x, h, W, U, b):
    return np.tanh(x @ W + h @ U + b)
