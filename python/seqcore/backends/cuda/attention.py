"""Fused scaled dot-product attention on the GPU: seqcore._cuda's FlashAttention-style kernels.

The signatures and results are the cpp backend's (``seqcore.backends.cpp``): the kernels layer has checked
shapes and dtypes and built the mask as a bool [mb,mh,mq,mk] array (each dim 1 or full), which goes to the
device as it is, with element strides 0 along its broadcast dimensions, never broadcast out.  Dropout keeps the
same elements as every other backend for the same seed, so a forward on one backend and a backward on another
agree.
"""

from __future__ import annotations

from typing import Any

from ._device import _cuda, cp, dtype_name, empty, on_device, ptr, stream

__all__ = ["attention_backward", "attention_forward"]


def _mask(mask: Any) -> tuple[Any, tuple[int, int, int, int]]:
    """The mask on the device (kept alive by the caller until the launch is queued) and its element strides."""
    if mask is None:
        return None, (0, 0, 0, 0)
    m = on_device(mask, dtype=cp.bool_)
    strides = [0, 0, 0, 0]
    step = 1
    for axis in (3, 2, 1, 0):
        strides[axis] = 0 if m.shape[axis] == 1 else step
        step *= m.shape[axis]
    return m, (strides[0], strides[1], strides[2], strides[3])


def attention_forward(
    q: Any, k: Any, v: Any, mask: Any, causal: bool, scale: float, dropout: float, seed: int
) -> tuple[Any, Any]:
    q, k, v = on_device(q), on_device(k), on_device(v)
    B, h, Lq, Dh = q.shape
    Lk, Dv = k.shape[2], v.shape[3]
    out = empty((B, h, Lq, Dv), q.dtype)
    lse = empty((B, h, Lq), q.dtype)
    m, strides = _mask(mask)
    _cuda.attention_forward(
        dtype_name(q), B, h, Lq, Lk, Dh, Dv, ptr(q), ptr(k), ptr(v), ptr(m), strides, bool(causal), float(scale),
        float(dropout), int(seed), ptr(out), ptr(lse), stream(),
    )  # fmt: skip
    return out, lse


def attention_backward(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    lse: Any,
    mask: Any,
    causal: bool,
    scale: float,
    dropout: float,
    seed: int,
    dout: Any,
) -> tuple[Any, Any, Any]:
    q, k, v = on_device(q), on_device(k), on_device(v)
    out, lse, dout = on_device(out), on_device(lse), on_device(dout)
    B, h, Lq, Dh = q.shape
    Lk, Dv = k.shape[2], v.shape[3]
    delta = empty((B, h, Lq), q.dtype)  # rowsum(dout * out), the kernel's workspace
    dq = empty((B, h, Lq, Dh), q.dtype)  # zeroed by the launcher on the stream, then accumulated
    dk = empty((B, h, Lk, Dh), q.dtype)
    dv = empty((B, h, Lk, Dv), q.dtype)
    m, strides = _mask(mask)
    _cuda.attention_backward(
        dtype_name(q), B, h, Lq, Lk, Dh, Dv, ptr(q), ptr(k), ptr(v), ptr(out), ptr(lse), ptr(dout), ptr(m), strides,
        bool(causal), float(scale), float(dropout), int(seed), ptr(delta), ptr(dq), ptr(dk), ptr(dv), stream(),
    )  # fmt: skip
    return dq, dk, dv
