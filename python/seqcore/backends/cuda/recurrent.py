"""The cuda backend's recurrent kernels: LSTM, GRU and RNN forward / backward pairs and cells.

Same signatures, results and caches as the cpp backend's functions of these names; the arrays
arrive validated by ``seqcore.kernels`` (NumPy or CuPy), are moved to the device, and the
results come back as CuPy arrays (caches hold CuPy arrays, ``lengths`` as int64 on the device).
Outputs and the kernels' workspaces are allocated here through CuPy's memory pool; sizes are
documented in src/cuda/seqcore_cuda/recurrent.h.  Nothing synchronizes: the work is queued on
CuPy's current stream.
"""

from __future__ import annotations

from typing import Any

from .._types import GRUCache, LSTMCache, RNNCache
from ._device import _cuda, dtype_name, empty, ids_on_device, on_device, ptr, stream


def _sizes(x: Any, U: Any) -> tuple[int, int, int, int]:
    B, T, D = x.shape
    return B, T, D, U.shape[0]


def _work_x(B: int, T: int, D: int, H: int, lengths: Any, dt: Any) -> Any:
    """x with padding zeroed, for the weight-gradient GEMM: needed only when rows may be short and a step runs."""
    return empty((B, T, D), dt) if lengths is not None and B and H else None


# ---------------------------------------------------------------- LSTM


def lstm_forward(x, h0, c0, W, U, b, lengths=None, reverse=False):
    x, h0, c0, W, U, b = (on_device(a) for a in (x, h0, c0, W, U, b))
    lengths = ids_on_device(lengths)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    y, c, gates = empty((B, T, H), dt), empty((B, T, H), dt), empty((B, T, 4 * H), dt)
    hT, cT = empty((B, H), dt), empty((B, H), dt)
    work_rec = empty((B, 4 * H), dt)
    _cuda.lstm_forward(
        B, T, D, H, ptr(x), ptr(h0), ptr(c0), ptr(W), ptr(U), ptr(b), ptr(lengths), bool(reverse),
        ptr(y), ptr(hT), ptr(cT), ptr(gates), ptr(c), ptr(work_rec), dtype_name(x), stream(),
    )  # fmt: skip
    return y, hT, cT, LSTMCache(x, h0, c0, W, U, lengths, reverse, gates, c, y)


def lstm_backward(cache: LSTMCache, dy=None, dhT=None, dcT=None):
    k = cache
    x, h0, c0, W, U, gates, c, y = (on_device(a) for a in (k.x, k.h0, k.c0, k.W, k.U, k.gates, k.c, k.y))
    dy, dhT, dcT = on_device(dy), on_device(dhT), on_device(dcT)
    lengths = ids_on_device(k.lengths)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    G = 4 * H
    dx, dh0, dc0 = empty((B, T, D), dt), empty((B, H), dt), empty((B, H), dt)
    dW, dU, db = empty((D, G), dt), empty((H, G), dt), empty((G,), dt)
    work_dgates, work_step = empty((B, T, G), dt), empty((B, G), dt)
    work_dh, work_hprev = empty((B, H), dt), empty((B, T, H), dt)
    work_x = _work_x(B, T, D, H, lengths, dt)
    _cuda.lstm_backward(
        B, T, D, H, ptr(x), ptr(h0), ptr(c0), ptr(W), ptr(U), ptr(lengths), bool(k.reverse), ptr(gates), ptr(c),
        ptr(y), ptr(dy), ptr(dhT), ptr(dcT), ptr(dx), ptr(dh0), ptr(dc0), ptr(dW), ptr(dU), ptr(db),
        ptr(work_dgates), ptr(work_step), ptr(work_dh), ptr(work_hprev), ptr(work_x), dtype_name(x), stream(),
    )  # fmt: skip
    return dx, dh0, dc0, dW, dU, db


def lstm_cell(x, h, c, W, U, b):
    x, h, c, W, U, b = (on_device(a) for a in (x, h, c, W, U, b))
    B, D = x.shape
    H = U.shape[0]
    dt = x.dtype
    h_out, c_out = empty((B, H), dt), empty((B, H), dt)
    work_gates, work_rec = empty((B, 4 * H), dt), empty((B, 4 * H), dt)
    _cuda.lstm_cell(
        B, D, H, ptr(x), ptr(h), ptr(c), ptr(W), ptr(U), ptr(b), ptr(h_out), ptr(c_out), ptr(work_gates),
        ptr(work_rec), dtype_name(x), stream(),
    )  # fmt: skip
    return h_out, c_out


# ---------------------------------------------------------------- GRU


def gru_forward(x, h0, W, U, b, reset_after=True, lengths=None, reverse=False):
    x, h0, W, U, b = (on_device(a) for a in (x, h0, W, U, b))
    lengths = ids_on_device(lengths)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    y, hT, gates = empty((B, T, H), dt), empty((B, H), dt), empty((B, T, 3 * H), dt)
    hr = empty((B, T if reset_after else 0, H), dt)
    work_rec = empty((B, 3 * H), dt)
    work_rh = None if reset_after else empty((B, H), dt)
    _cuda.gru_forward(
        B, T, D, H, ptr(x), ptr(h0), ptr(W), ptr(U), ptr(b), bool(reset_after), ptr(lengths), bool(reverse),
        ptr(y), ptr(hT), ptr(gates), ptr(hr), ptr(work_rec), ptr(work_rh), dtype_name(x), stream(),
    )  # fmt: skip
    return y, hT, GRUCache(x, h0, W, U, lengths, reverse, reset_after, gates, hr, y)


def gru_backward(cache: GRUCache, dy=None, dhT=None):
    k = cache
    x, h0, W, U, gates, hr, y = (on_device(a) for a in (k.x, k.h0, k.W, k.U, k.gates, k.hr, k.y))
    dy, dhT = on_device(dy), on_device(dhT)
    lengths = ids_on_device(k.lengths)
    reset_after = bool(k.reset_after)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    G = 3 * H
    dx, dh0 = empty((B, T, D), dt), empty((B, H), dt)
    dW, dU = empty((D, G), dt), empty((H, G), dt)
    db = empty((2, G) if reset_after else (G,), dt)
    work_dgx, work_step = empty((B, T, G), dt), empty((B, G), dt)
    work_dgr = empty((B, T, G), dt) if reset_after else None
    work_drh = None if reset_after else empty((B, H), dt)
    work_dh, work_hprev = empty((B, H), dt), empty((B, T, H), dt)
    work_x = _work_x(B, T, D, H, lengths, dt)
    _cuda.gru_backward(
        B, T, D, H, ptr(x), ptr(h0), ptr(W), ptr(U), reset_after, ptr(lengths), bool(k.reverse), ptr(gates),
        ptr(hr), ptr(y), ptr(dy), ptr(dhT), ptr(dx), ptr(dh0), ptr(dW), ptr(dU), ptr(db), ptr(work_dgx),
        ptr(work_dgr), ptr(work_step), ptr(work_drh), ptr(work_dh), ptr(work_hprev), ptr(work_x), dtype_name(x),
        stream(),
    )  # fmt: skip
    return dx, dh0, dW, dU, db


def gru_cell(x, h, W, U, b, reset_after=True):
    x, h, W, U, b = (on_device(a) for a in (x, h, W, U, b))
    B, D = x.shape
    H = U.shape[0]
    dt = x.dtype
    h_out = empty((B, H), dt)
    work_gates, work_rec, work_h = empty((B, 3 * H), dt), empty((B, 3 * H), dt), empty((B, H), dt)
    _cuda.gru_cell(
        B, D, H, ptr(x), ptr(h), ptr(W), ptr(U), ptr(b), bool(reset_after), ptr(h_out), ptr(work_gates),
        ptr(work_rec), ptr(work_h), dtype_name(x), stream(),
    )  # fmt: skip
    return h_out


# ---------------------------------------------------------------- RNN


def rnn_forward(x, h0, W, U, b, lengths=None, reverse=False):
    x, h0, W, U, b = (on_device(a) for a in (x, h0, W, U, b))
    lengths = ids_on_device(lengths)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    y, hT, work_rec = empty((B, T, H), dt), empty((B, H), dt), empty((B, H), dt)
    _cuda.rnn_forward(
        B, T, D, H, ptr(x), ptr(h0), ptr(W), ptr(U), ptr(b), ptr(lengths), bool(reverse), ptr(y), ptr(hT),
        ptr(work_rec), dtype_name(x), stream(),
    )  # fmt: skip
    return y, hT, RNNCache(x, h0, W, U, lengths, reverse, y)


def rnn_backward(cache: RNNCache, dy=None, dhT=None):
    k = cache
    x, h0, W, U, y = (on_device(a) for a in (k.x, k.h0, k.W, k.U, k.y))
    dy, dhT = on_device(dy), on_device(dhT)
    lengths = ids_on_device(k.lengths)
    B, T, D, H = _sizes(x, U)
    dt = x.dtype
    dx, dh0 = empty((B, T, D), dt), empty((B, H), dt)
    dW, dU, db = empty((D, H), dt), empty((H, H), dt), empty((H,), dt)
    work_dgates, work_step = empty((B, T, H), dt), empty((B, H), dt)
    work_dh, work_hprev = empty((B, H), dt), empty((B, T, H), dt)
    work_x = _work_x(B, T, D, H, lengths, dt)
    _cuda.rnn_backward(
        B, T, D, H, ptr(x), ptr(h0), ptr(W), ptr(U), ptr(lengths), bool(k.reverse), ptr(y), ptr(dy), ptr(dhT),
        ptr(dx), ptr(dh0), ptr(dW), ptr(dU), ptr(db), ptr(work_dgates), ptr(work_step), ptr(work_dh),
        ptr(work_hprev), ptr(work_x), dtype_name(x), stream(),
    )  # fmt: skip
    return dx, dh0, dW, dU, db


def rnn_cell(x, h, W, U, b):
    x, h, W, U, b = (on_device(a) for a in (x, h, W, U, b))
    B, D = x.shape
    H = U.shape[0]
    dt = x.dtype
    h_out, work_proj, work_rec = empty((B, H), dt), empty((B, H), dt), empty((B, H), dt)
    _cuda.rnn_cell(
        B, D, H, ptr(x), ptr(h), ptr(W), ptr(U), ptr(b), ptr(h_out), ptr(work_proj), ptr(work_rec),
        dtype_name(x), stream(),
    )  # fmt: skip
    return h_out
