"""Recurrent kernels on numba, following the cuDNN / haste recipe.

Forward: one GEMM projects the inputs of all T steps (x @ W into a [B,T,G*H]
buffer); each step then runs only the recurrent GEMM h @ U and one fused
compiled kernel (see ``_kernels``) that adds projection, recurrent term and
bias, applies the activations, updates the states and stores the activated
gates in place of the projection (that buffer becomes the cache's ``gates``).
Backward: each step, last to first, a fused kernel writes that step's gradients
at the gate pre-activations, and one GEMM carries them back to dh_prev; after
the loop dx, dW, dU and db are one GEMM (or sum) each over all B*T steps.

Results, dtypes and cache layouts are those of the reference backend, so caches
can be exchanged.  Arguments arrive validated (see ``seqcore.kernels``).
The GEMMs are np.matmul, not np.dot: np.dot sends a 1x1 operand (H = 1) to BLAS
scal, which makes 0 * NaN zero where the reference's product gives NaN.
"""

from __future__ import annotations

import numpy as np

from .._types import GRUCache, LSTMCache, RNNCache
from . import _kernels as k

# ---------------------------------------------------------------- shared steps


def _lengths(lengths: np.ndarray | None, B: int, T: int) -> np.ndarray:
    return np.full(B, T, dtype=np.int64) if lengths is None else lengths


def _project(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """x @ W for all B*T steps in one GEMM: [B,T,D] -> a new [B,T,W.shape[1]] buffer."""
    B, T, D = x.shape
    return np.matmul(x.reshape(B * T, D), W).reshape(B, T, W.shape[1])


def _dy(dy: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """dy as the step kernels take it: an empty array stands for None (zeros), with no [B,T,H] zeros made."""
    return np.empty((0, 0, 0), dtype) if dy is None else dy


def _or_zeros(grad: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.zeros(shape, dtype) if grad is None else grad


def _without_padding(x: np.ndarray, L: np.ndarray) -> np.ndarray:
    """x with zeros past each row's length.  The padding may hold anything (NaN), and the all-steps
    GEMM x.T @ dgates would spread 0 * NaN into dW although the padding's gradients are zero."""
    if L.size == 0 or L.min() == x.shape[1]:
        return x
    x = x.copy()
    k.zero_padding(x, L)
    return x


def _input_grads(x: np.ndarray, W: np.ndarray, dgates: np.ndarray, L: np.ndarray):
    """dx = dgates @ W.T, dW = x.T @ dgates and db = column sums of dgates, each over all B*T steps."""
    B, T, D = x.shape
    dg = dgates.reshape(B * T, W.shape[1])
    dx = np.matmul(dg, W.T).reshape(B, T, D)
    if L.size and L.min() < T:  # padding rows of dgates are zero, but 0 * a NaN in W is not
        k.zero_padding(dx, L)
    dW = np.matmul(_without_padding(x, L).reshape(B * T, D).T, dg)
    return dx, dW, dg.sum(axis=0)


def _previous(y: np.ndarray, h0: np.ndarray, L: np.ndarray, reverse: bool) -> np.ndarray:
    """[B*T,H]: row (b, t) is the state the step that read x[b, t] started from (zeros in the padding)."""
    B, T, H = y.shape
    return k.previous_states(y, h0, L, reverse).reshape(B * T, H)


def _no_steps(B: int, H: int) -> bool:
    """No rows or no units: every step is empty, and T may still be 2**40, so no loop over it runs."""
    return B == 0 or H == 0


def _no_steps_grads(x, W, U, db_shape, states: int) -> tuple:
    """The backward of a call without steps: zeros, and ``states`` empty [B,H] state gradients."""
    empty = np.zeros((x.shape[0], U.shape[0]), x.dtype)
    return (np.zeros_like(x), *([empty] * states), np.zeros_like(W), np.zeros_like(U), np.zeros(db_shape, x.dtype))


def _initial_grad(L: np.ndarray, dhT: np.ndarray, dh_first: np.ndarray) -> np.ndarray:
    """dh0: what each row's first step passed back, or dhT itself for rows of length 0."""
    return np.where((L > 0)[:, None], dh_first, dhT)


# ---------------------------------------------------------------- LSTM


def lstm_forward(x, h0, c0, W, U, b, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    if _no_steps(B, H):
        y, gates = np.zeros((B, T, H), x.dtype), np.zeros((B, T, 4 * H), x.dtype)
        return y, h0.copy(), c0.copy(), LSTMCache(x, h0, c0, W, U, lengths, reverse, gates, y.copy(), y)
    L = _lengths(lengths, B, T)
    gates = _project(x, W)
    y = np.empty((B, T, H), x.dtype)
    cs = np.empty_like(y)
    h, c = h0.copy(), c0.copy()
    rec = np.empty((B, 4 * H), x.dtype)
    for s in range(T):
        np.matmul(h, U, out=rec)
        k.lstm_step(s, reverse, L, gates, rec, b, h, c, y, cs)
    return y, h, c, LSTMCache(x, h0, c0, W, U, lengths, reverse, gates, cs, y)


def lstm_backward(cache: LSTMCache, dy=None, dhT=None, dcT=None):
    x, h0, c0, W, U, lengths, reverse, gates, cs, y = cache
    B, T, _ = x.shape
    H, dt = U.shape[0], x.dtype
    if _no_steps(B, H):
        return _no_steps_grads(x, W, U, (4 * H,), 2)
    L = _lengths(lengths, B, T)
    dhT = _or_zeros(dhT, (B, H), dt)
    dc = np.zeros((B, H), dt) if dcT is None else dcT.copy()
    dgates = np.empty((B, T, 4 * H), dt)
    dg = np.empty((B, 4 * H), dt)
    dh, dh_next = np.empty((B, H), dt), np.zeros((B, H), dt)
    dy = _dy(dy, dt)
    for s in reversed(range(T)):
        k.lstm_grad_step(s, reverse, L, gates, cs, c0, dy, dhT, dh_next, dc, dh, dg, dgates)
        np.matmul(dg, U.T, out=dh_next)
    dx, dW, db = _input_grads(x, W, dgates, L)
    dU = np.matmul(_previous(y, h0, L, reverse).T, dgates.reshape(B * T, 4 * H))
    return dx, _initial_grad(L, dhT, dh_next), dc, dW, dU, db


# ---------------------------------------------------------------- GRU


def gru_forward(x, h0, W, U, b, reset_after=True, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    if _no_steps(B, H):
        y, gates = np.zeros((B, T, H), x.dtype), np.zeros((B, T, 3 * H), x.dtype)
        hr = np.zeros((B, T if reset_after else 0, H), x.dtype)
        return y, h0.copy(), GRUCache(x, h0, W, U, lengths, reverse, reset_after, gates, hr, y)
    L = _lengths(lengths, B, T)
    gates = _project(x, W)
    y = np.empty((B, T, H), x.dtype)
    h = h0.copy()
    if reset_after:  # one GEMM a step: r multiplies h @ U_h after the product
        hr = np.empty((B, T, H), x.dtype)
        rec = np.empty((B, 3 * H), x.dtype)
        for s in range(T):
            np.matmul(h, U, out=rec)
            k.gru_step(s, reverse, L, gates, rec, b[0], b[1], h, y, hr)
    else:  # two GEMMs a step: the candidate's product takes r * h, which needs r first
        hr = np.zeros((B, 0, H), x.dtype)
        U_zr, U_h = np.ascontiguousarray(U[:, : 2 * H]), np.ascontiguousarray(U[:, 2 * H :])
        rec_zr = np.empty((B, 2 * H), x.dtype)
        rh, rec_h = np.empty((B, H), x.dtype), np.empty((B, H), x.dtype)
        for s in range(T):
            np.matmul(h, U_zr, out=rec_zr)
            k.gru_gates_zr(s, reverse, L, gates, rec_zr, b, h, rh)
            np.matmul(rh, U_h, out=rec_h)
            k.gru_candidate(s, reverse, L, gates, rec_h, b, h, y)
    return y, h, GRUCache(x, h0, W, U, lengths, reverse, reset_after, gates, hr, y)


def gru_backward(cache: GRUCache, dy=None, dhT=None):
    x, h0, W, U, lengths, reverse, reset_after, gates, hr, y = cache
    B, T, _ = x.shape
    H, dt = U.shape[0], x.dtype
    if _no_steps(B, H):
        return _no_steps_grads(x, W, U, (2, 3 * H) if reset_after else (3 * H,), 1)
    L = _lengths(lengths, B, T)
    dhT = _or_zeros(dhT, (B, H), dt)
    dy = _dy(dy, dt)
    # Each step: dh_prev = dh_part (element-wise, from the kernels) + a GEMM, summed into dh_next.
    dh, dh_part, dh_next = np.empty((B, H), dt), np.zeros((B, H), dt), np.zeros((B, H), dt)
    backward = _gru_backward_reset_after if reset_after else _gru_backward_reset_before
    dx, dW, dU, db = backward(x, h0, W, U, L, reverse, gates, hr, y, dy, dhT, dh, dh_part, dh_next)
    return dx, _initial_grad(L, dhT, dh_next), dW, dU, db


def _gru_backward_reset_after(x, h0, W, U, L, reverse, gates, hr, y, dy, dhT, dh, dh_part, dh_next):
    """Two gradient buffers: x @ W sees the candidate's gradient dn, h @ U sees dn * r."""
    B, T, _ = x.shape
    H, dt = U.shape[0], x.dtype
    dgates_in = np.empty((B, T, 3 * H), dt)
    dgates_rec = np.empty((B, T, 3 * H), dt)
    dg_rec = np.empty((B, 3 * H), dt)
    for s in reversed(range(T)):
        k.gru_grad_step(s, reverse, L, gates, hr, y, h0, dy, dhT, dh_next, dh, dh_part, dg_rec, dgates_in, dgates_rec)
        np.matmul(dg_rec, U.T, out=dh_next)
        np.add(dh_next, dh_part, out=dh_next)
    dx, dW, db_in = _input_grads(x, W, dgates_in, L)
    dg_rec_all = dgates_rec.reshape(B * T, 3 * H)
    dU = np.matmul(_previous(y, h0, L, reverse).T, dg_rec_all)
    return dx, dW, dU, np.stack([db_in, dg_rec_all.sum(axis=0)])


def _gru_backward_reset_before(x, h0, W, U, L, reverse, gates, hr, y, dy, dhT, dh, dh_part, dh_next):
    """Two GEMMs a step: dr needs dn @ U_h.T (the gradient at r * h_prev) before dz, dr go through U_zr."""
    B, T, _ = x.shape
    H, dt = U.shape[0], x.dtype
    U_zr, U_h = np.ascontiguousarray(U[:, : 2 * H]), np.ascontiguousarray(U[:, 2 * H :])
    dgates = np.empty((B, T, 3 * H), dt)
    dn, drh = np.empty((B, H), dt), np.empty((B, H), dt)
    dzr = np.empty((B, 2 * H), dt)
    for s in reversed(range(T)):
        k.gru_grad_zn(s, reverse, L, gates, y, h0, dy, dhT, dh_next, dh, dn, dzr, dgates)
        np.matmul(dn, U_h.T, out=drh)
        k.gru_grad_r(s, reverse, L, gates, y, h0, drh, dh, dh_part, dzr, dgates)
        np.matmul(dzr, U_zr.T, out=dh_next)
        np.add(dh_next, dh_part, out=dh_next)
    dx, dW, db = _input_grads(x, W, dgates, L)
    dg = dgates.reshape(B * T, 3 * H)
    prev = _previous(y, h0, L, reverse)
    dU = np.empty((H, 3 * H), dt)
    dU[:, : 2 * H] = np.matmul(prev.T, dg[:, : 2 * H])
    # the candidate's recurrent weights multiplied r * h_prev (r is zero in the padding, like prev)
    r_prev = prev * gates[:, :, H : 2 * H].reshape(B * T, H)
    dU[:, 2 * H :] = np.matmul(r_prev.T, dg[:, 2 * H :])
    return dx, dW, dU, db


# ---------------------------------------------------------------- basic tanh RNN


def rnn_forward(x, h0, W, U, b, lengths=None, reverse=False):
    B, T, _ = x.shape
    H = U.shape[0]
    if _no_steps(B, H):
        y = np.zeros((B, T, H), x.dtype)
        return y, h0.copy(), RNNCache(x, h0, W, U, lengths, reverse, y)
    L = _lengths(lengths, B, T)
    y = _project(x, W)  # the states overwrite the projection in place
    h = h0.copy()
    rec = np.empty((B, H), x.dtype)
    for s in range(T):
        np.matmul(h, U, out=rec)
        k.rnn_step(s, reverse, L, y, rec, b, h)
    return y, h, RNNCache(x, h0, W, U, lengths, reverse, y)


def rnn_backward(cache: RNNCache, dy=None, dhT=None):
    x, h0, W, U, lengths, reverse, y = cache
    B, T, _ = x.shape
    H, dt = U.shape[0], x.dtype
    if _no_steps(B, H):
        return _no_steps_grads(x, W, U, (H,), 1)
    L = _lengths(lengths, B, T)
    dhT = _or_zeros(dhT, (B, H), dt)
    dy = _dy(dy, dt)
    dpre = np.empty((B, T, H), dt)
    dg = np.empty((B, H), dt)
    dh_next = np.zeros((B, H), dt)
    for s in reversed(range(T)):
        k.rnn_grad_step(s, reverse, L, y, dy, dhT, dh_next, dg, dpre)
        np.matmul(dg, U.T, out=dh_next)
    dx, dW, db = _input_grads(x, W, dpre, L)
    dU = np.matmul(_previous(y, h0, L, reverse).T, dpre.reshape(B * T, H))
    return dx, _initial_grad(L, dhT, dh_next), dW, dU, db


# ---------------------------------------------------------------- single steps for generation loops
# A cell is the sequence forward at T = 1: the same compiled step, and the same sums in the same order.


def lstm_cell(x, h, c, W, U, b):
    _, h_new, c_new, _ = lstm_forward(x[:, None, :], h, c, W, U, b)
    return h_new, c_new


def gru_cell(x, h, W, U, b, reset_after=True):
    _, h_new, _ = gru_forward(x[:, None, :], h, W, U, b, reset_after)
    return h_new


def rnn_cell(x, h, W, U, b):
    _, h_new, _ = rnn_forward(x[:, None, :], h, W, U, b)
    return h_new
