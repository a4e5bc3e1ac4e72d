"""The cuda backend's element-wise and row kernels: softmax family, layer norm, GELU, optimizer updates,
embedding lookup and gradient, gradient clipping.

Signatures and return values are the cpp backend's (seqcore.backends.cpp).  Arguments arrive validated by
seqcore.kernels and may be NumPy or CuPy arrays; results are CuPy arrays, queued on CuPy's current stream.
The in-place kernels (optimizer updates, ``inplace=True`` clipping) update the caller's array: a C-contiguous
CuPy array directly, anything else (a NumPy array, a strided CuPy view) through a contiguous device copy
written back afterwards.  ``clip_by_global_norm`` returns the norm as a Python float, so it waits for the
stream once, after all the sums of squares are queued.
"""

from __future__ import annotations

from typing import Any

from .._types import LayerNormCache, SoftmaxCrossEntropyCache
from ._device import _cuda, cp, dtype_name, empty, ids_on_device, np, on_device, ptr, stream

_F64_BYTES = 8


def _dev(a: Any, dtype: Any = None) -> Any:
    """``a`` as a C-contiguous device array of its own shape (CuPy's ascontiguousarray makes a 0-d array 1-d)."""
    if a is None:
        return None
    shape = np.shape(a)
    d = on_device(a, dtype)
    return d if d.shape == shape else d.reshape(shape)


def _ids(a: Any) -> Any:
    """Integer ids as a C-contiguous int64 device array of their own shape."""
    shape = np.shape(a)
    d = ids_on_device(a)
    return d if d.shape == shape else d.reshape(shape)


def _rows(a: Any) -> tuple[int, int]:
    """(N, C): rows and last-axis length of ``a`` viewed as [N, C] (the kernels layer ensures C >= 1)."""
    C = int(a.shape[-1])
    return int(a.size) // C, C


def _inplace(a: Any) -> tuple[Any, Any]:
    """(the device array a kernel updates, the caller's array to copy the result back to, or None)."""
    if a is None:
        return None, None
    d = on_device(a)
    return d, (None if d is a else a)


def _write_back(d: Any, caller: Any) -> None:
    if caller is None:
        return
    if isinstance(caller, cp.ndarray):
        caller[...] = d.reshape(caller.shape)
    else:
        caller[...] = cp.asnumpy(d).reshape(caller.shape)


# ---------------------------------------------------------------- softmax family (last axis)


def _unary_rows(kernel: Any, x: Any) -> Any:
    xd = _dev(x)
    N, C = _rows(xd)
    y = empty(xd.shape, xd.dtype)
    kernel(N, C, ptr(xd), ptr(y), dtype_name(xd), stream())
    return y


def _binary_rows(kernel: Any, y: Any, dy: Any) -> Any:
    yd = _dev(y)
    dyd = _dev(dy, yd.dtype)
    N, C = _rows(yd)
    dx = empty(yd.shape, yd.dtype)
    kernel(N, C, ptr(yd), ptr(dyd), ptr(dx), dtype_name(yd), stream())
    return dx


def softmax(x: Any) -> Any:
    return _unary_rows(_cuda.softmax_forward, x)


def softmax_backward(y: Any, dy: Any) -> Any:
    return _binary_rows(_cuda.softmax_backward, y, dy)


def log_softmax(x: Any) -> Any:
    return _unary_rows(_cuda.log_softmax_forward, x)


def log_softmax_backward(y: Any, dy: Any) -> Any:
    return _binary_rows(_cuda.log_softmax_backward, y, dy)


def _label_ptrs(labels: Any, sparse: bool) -> tuple[int, int]:
    """(ids pointer, targets pointer): the one the labels are, the other 0."""
    return (ptr(labels), 0) if sparse else (0, ptr(labels))


def softmax_cross_entropy(logits: Any, labels: Any) -> tuple[Any, SoftmaxCrossEntropyCache]:
    x = _dev(logits)
    N, C = _rows(x)
    sparse = labels.ndim == x.ndim - 1
    lab = _ids(labels) if sparse else _dev(labels, x.dtype)
    loss = empty(x.shape[:-1], x.dtype)
    probs = empty(x.shape, x.dtype)
    ids, targets = _label_ptrs(lab, sparse)
    _cuda.softmax_cross_entropy_forward(N, C, ptr(x), ids, targets, ptr(loss), ptr(probs), dtype_name(x), stream())
    return loss, SoftmaxCrossEntropyCache(probs, lab, sparse)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss: Any) -> Any:
    probs = _dev(cache.probs)
    sparse = bool(cache.sparse)
    lab = _ids(cache.labels) if sparse else _dev(cache.labels, probs.dtype)
    d = _dev(dloss, probs.dtype)
    N, C = _rows(probs)
    dlogits = empty(probs.shape, probs.dtype)
    ids, targets = _label_ptrs(lab, sparse)
    _cuda.softmax_cross_entropy_backward(
        N, C, ptr(probs), ids, targets, ptr(d), ptr(dlogits), dtype_name(probs), stream()
    )
    return dlogits


# ---------------------------------------------------------------- layer norm


def layer_norm_forward(x: Any, gamma: Any, beta: Any, eps: float) -> tuple[Any, LayerNormCache]:
    xd = _dev(x)
    g = _dev(gamma, xd.dtype)
    b = _dev(beta, xd.dtype)
    N, F = _rows(xd)
    dt = xd.dtype
    y, xhat = empty(xd.shape, dt), empty(xd.shape, dt)
    mean, rstd = empty((N,), dt), empty((N,), dt)
    _cuda.layer_norm_forward(
        N, F, ptr(xd), ptr(g), ptr(b), float(eps), ptr(y), ptr(xhat), ptr(mean), ptr(rstd), dtype_name(xd), stream()
    )
    return y, LayerNormCache(xhat, mean, rstd, g)


def layer_norm_backward(cache: LayerNormCache, dy: Any) -> tuple[Any, Any, Any]:
    xhat = _dev(cache.xhat)
    dt = xhat.dtype
    rstd, gamma, dyd = _dev(cache.rstd, dt), _dev(cache.gamma, dt), _dev(dy, dt)
    N, F = _rows(xhat)
    size = _cuda.layer_norm_backward_workspace(N, F)
    workspace = empty((size,), cp.float64)
    dx, dgamma, dbeta = empty(xhat.shape, dt), empty((F,), dt), empty((F,), dt)
    _cuda.layer_norm_backward(
        N,
        F,
        ptr(xhat),
        ptr(rstd),
        ptr(gamma),
        ptr(dyd),
        ptr(dx),
        ptr(dgamma),
        ptr(dbeta),
        ptr(workspace),
        size,
        dtype_name(xhat),
        stream(),
    )
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- GELU


def gelu_forward(x: Any, approximate: bool) -> Any:
    xd = _dev(x)
    y = empty(xd.shape, xd.dtype)
    _cuda.gelu_forward(xd.size, ptr(xd), bool(approximate), ptr(y), dtype_name(xd), stream())
    return y


def gelu_backward(x: Any, dy: Any, approximate: bool) -> Any:
    xd = _dev(x)
    dyd = _dev(dy, xd.dtype)
    dx = empty(xd.shape, xd.dtype)
    _cuda.gelu_backward(xd.size, ptr(xd), ptr(dyd), bool(approximate), ptr(dx), dtype_name(xd), stream())
    return dx


# ---------------------------------------------------------------- optimizer updates (in place)


def sgd_update(param: Any, grad: Any, velocity: Any, lr: float, momentum: float, nesterov: bool) -> None:
    p, p_back = _inplace(param)
    g = _dev(grad, p.dtype)
    # velocity is left alone without momentum (it may be None), as on the CPU
    vel, vel_back = _inplace(velocity) if momentum != 0.0 else (None, None)
    _cuda.sgd_update(
        p.size, ptr(p), ptr(g), ptr(vel), float(lr), float(momentum), bool(nesterov), dtype_name(p), stream()
    )
    _write_back(p, p_back)
    _write_back(vel, vel_back)


def adam_update(
    param: Any,
    grad: Any,
    m: Any,
    v: Any,
    vhat: Any,
    alpha: float,
    beta1: float,
    beta2: float,
    eps: float,
    decay: float,
) -> None:
    p, p_back = _inplace(param)
    g = _dev(grad, p.dtype)
    md, m_back = _inplace(m)
    vd, v_back = _inplace(v)
    hd, h_back = _inplace(vhat)
    _cuda.adam_update(
        p.size,
        ptr(p),
        ptr(g),
        ptr(md),
        ptr(vd),
        ptr(hd),
        float(alpha),
        float(beta1),
        float(beta2),
        float(eps),
        float(decay),
        dtype_name(p),
        stream(),
    )
    for d, caller in ((p, p_back), (md, m_back), (vd, v_back), (hd, h_back)):
        _write_back(d, caller)


def rmsprop_update(
    param: Any,
    grad: Any,
    velocity: Any,
    momentum_buf: Any,
    mg: Any,
    lr: float,
    rho: float,
    momentum: float,
    eps: float,
) -> None:
    p, p_back = _inplace(param)
    g = _dev(grad, p.dtype)
    vel, vel_back = _inplace(velocity)
    # momentum_buf is left alone without momentum (it may be None), as on the CPU
    buf, buf_back = _inplace(momentum_buf) if momentum > 0.0 else (None, None)
    mgd, mg_back = _inplace(mg)
    _cuda.rmsprop_update(
        p.size,
        ptr(p),
        ptr(g),
        ptr(vel),
        ptr(buf),
        ptr(mgd),
        float(lr),
        float(rho),
        float(momentum),
        float(eps),
        dtype_name(p),
        stream(),
    )
    for d, caller in ((p, p_back), (vel, vel_back), (buf, buf_back), (mgd, mg_back)):
        _write_back(d, caller)


def adagrad_update(param: Any, grad: Any, accumulator: Any, lr: float, eps: float) -> None:
    p, p_back = _inplace(param)
    g = _dev(grad, p.dtype)
    acc, acc_back = _inplace(accumulator)
    _cuda.adagrad_update(p.size, ptr(p), ptr(g), ptr(acc), float(lr), float(eps), dtype_name(p), stream())
    _write_back(p, p_back)
    _write_back(acc, acc_back)


# ---------------------------------------------------------------- embedding


def embedding_forward(weights: Any, ids: Any) -> Any:
    w = _dev(weights)
    i = _ids(ids)
    V, E = (int(s) for s in w.shape)
    y = empty((*i.shape, E), w.dtype)
    _cuda.embedding_forward(i.size, V, E, ptr(w), ptr(i), ptr(y), dtype_name(w), stream())
    return y


def embedding_backward(ids: Any, dy: Any, num_embeddings: int) -> Any:
    i = _ids(ids)
    d = _dev(dy)
    V, E = int(num_embeddings), int(d.shape[-1])
    dW = empty((V, E), d.dtype)
    nbytes = _cuda.embedding_backward_workspace(i.size, V)
    workspace = empty((nbytes,), cp.uint8)
    _cuda.embedding_backward(i.size, V, E, ptr(i), ptr(d), ptr(dW), ptr(workspace), nbytes, dtype_name(d), stream())
    return dW


# ---------------------------------------------------------------- gradient clipping


def clip_by_value(grads: Any, min_value: float, max_value: float, inplace: bool = False) -> list[Any]:
    out = []
    for g in grads:
        d = on_device(g)
        target = d if inplace else empty(d.shape, d.dtype)
        _cuda.clip_by_value(d.size, ptr(d), float(min_value), float(max_value), ptr(target), dtype_name(d), stream())
        if inplace:
            _write_back(d, None if d is g else g)
            out.append(g)
        else:
            out.append(target.reshape(np.shape(g)))
    return out


def clip_by_global_norm(grads: Any, max_norm: float, inplace: bool = False) -> tuple[list[Any], float]:
    devs = [on_device(g) for g in grads]
    sums = empty((len(devs),), cp.float64)
    for k, d in enumerate(devs):
        size = _cuda.sum_of_squares_workspace(d.size)
        workspace = empty((size,), cp.float64)
        _cuda.sum_of_squares(
            d.size, ptr(d), ptr(workspace), size, sums.data.ptr + k * _F64_BYTES, dtype_name(d), stream()
        )
    total = 0.0
    for s in cp.asnumpy(sums):  # the one wait: the norm is a Python float
        total += float(s)
    norm = float(np.sqrt(total))
    factor = max_norm / norm if np.isfinite(norm) and norm > max_norm else 1.0
    out = []
    for g, d in zip(grads, devs):
        target = d if inplace else empty(d.shape, d.dtype)
        _cuda.scale(d.size, ptr(d), float(factor), ptr(target), dtype_name(d), stream())
        if inplace:
            _write_back(d, None if d is g else g)
            out.append(g)
        else:
            out.append(target.reshape(np.shape(g)))
    return out, norm
