"""seqcore.kernels: the one dispatch point for every numeric kernel.

Each function checks its arguments once (see ``_validate``), then runs on the
active backend (``seqcore.get_backend()``).  Forward kernels return what their
backward consumes as a ``cache``; a cache made on one backend may be passed to
the backward of any other.

Dimension letters: B batch, T time, D input features, H hidden units, C classes
(Conv1D input channels), V/E embedding rows/width, F normalized features or Conv1D
filters, K Conv1D taps, N rows of a [N, F] view.  Optimizer updates work in place.
Weights use the Keras layout: ``x @ W + h @ U + b`` with gate blocks side by
side along the last axis (LSTM i, f, c, o; GRU z, r, h).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _config
from .._backend import active, load
from ..backends._types import LOG_PROB_SLACK as LOG_PROB_SLACK  # re-exported for seqcore.decode
from ..backends._types import (
    AttentionCache,
    BatchNormCache,
    BeamState,
    Conv1DCache,
    GRUCache,
    LayerNormCache,
    LSTMCache,
    RNNCache,
    SoftmaxCrossEntropyCache,
)
from ._validate import (
    INT64_MAX,
    as_array,
    as_flag,
    as_float_array,
    as_ids,
    as_inplace_array,
    as_int,
    as_int_range,
    as_lengths,
    as_offsets,
    as_real,
    as_text_bytes,
    check_disjoint,
    check_output_size,
    check_shape,
    is_device,
    is_device_array,
    native,
    optional_grad,
    xp_of,
)

__all__ = [
    "AttentionCache",
    "BatchNormCache",
    "BeamState",
    "Conv1DCache",
    "GRUCache",
    "LSTMCache",
    "LayerNormCache",
    "RNNCache",
    "SoftmaxCrossEntropyCache",
    "adagrad_update",
    "adam_update",
    "attention_backward",
    "attention_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "bleu_stats",
    "beam_search_step",
    "clip_by_global_norm",
    "clip_by_value",
    "conv1d_backward",
    "conv1d_forward",
    "embedding_backward",
    "embedding_forward",
    "gather_rows",
    "gelu_backward",
    "gelu_forward",
    "glove_cooccurrence",
    "glove_train",
    "gru_backward",
    "gru_cell",
    "gru_forward",
    "layer_norm_backward",
    "layer_norm_forward",
    "log_softmax",
    "log_softmax_backward",
    "lstm_backward",
    "lstm_cell",
    "lstm_forward",
    "rmsprop_update",
    "rnn_backward",
    "rnn_cell",
    "rnn_forward",
    "sgd_update",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "spectrogram",
    "topk_dot",
    "word2vec_sgns_train",
]

Array = np.ndarray


def _call(kernel: str, *args: Any) -> Any:
    """Run ``kernel`` on the backend for ``args``: cuda when one of them lives on a GPU (a CuPy array, or a cache or
    list holding them), else the active backend (which may be cuda: it copies host arrays to the device)."""
    for a in args:
        if is_device(a):
            return getattr(load("cuda"), kernel)(*args)
    return getattr(active(), kernel)(*args)


def _weights(W: Any, U: Any, D: int, dt: np.dtype, gates: int) -> tuple[Array, Array, int]:
    """W [D,G*H] and U [H,G*H], with H read off U."""
    U = as_float_array("U", U, dt, ndim=2)
    H = U.shape[0]
    block = f"{gates}H" if gates > 1 else "H"
    check_shape("U", U, (H, gates * H), f"(H, {block})")
    W = as_float_array("W", W, dt)
    check_shape("W", W, (D, gates * H), f"(D, {block})")
    return W, U, H


def _sequence_args(x: Any, h0: Any, W: Any, U: Any, gates: int):
    x = as_float_array("x", x, ndim=3)
    B, T, D = x.shape
    W, U, H = _weights(W, U, D, x.dtype, gates)
    h0 = as_float_array("h0", h0, x.dtype)
    check_shape("h0", h0, (B, H), "(B, H)")
    return x, h0, W, U, (B, T, D, H)


def _cell_args(x: Any, h: Any, W: Any, U: Any, gates: int):
    x = as_float_array("x", x, ndim=2)
    B, D = x.shape
    W, U, H = _weights(W, U, D, x.dtype, gates)
    h = as_float_array("h", h, x.dtype)
    check_shape("h", h, (B, H), "(B, H)")
    return x, h, W, U, (B, D, H)


def _check_cache(cache: Any, kind: type, producer: str) -> None:
    if not isinstance(cache, kind):
        raise TypeError(f"cache must be the {kind.__name__} returned by {producer}, got {type(cache).__name__}")


# A cache is a NamedTuple anyone can build or edit, so its arrays are checked like arguments before any
# backend reads them: the reference would index garbage, the native backend only says what it expected.
# Arrays of another layout are made C-contiguous (no copy for what a forward returned).


def _cache_floats(cache: Any, dt: np.dtype, shapes: dict[str, tuple[tuple[int, ...], str]]) -> dict[str, Array]:
    """The cache's float arrays named in ``shapes`` (field: (shape, letters)), checked and made native."""
    out = {}
    for field, (shape, letters) in shapes.items():
        arr = as_float_array(f"cache.{field}", getattr(cache, field), dt)
        check_shape(f"cache.{field}", arr, shape, letters)
        out[field] = arr
    return out


def _recurrent_cache(cache: Any, kind: type, producer: str, gates: int) -> Any:
    _check_cache(cache, kind, producer)
    x = as_float_array("cache.x", cache.x, ndim=3)
    B, T, D = x.shape
    U = as_float_array("cache.U", cache.U, x.dtype, ndim=2)
    H = U.shape[0]
    G, g = gates * H, f"{gates}H" if gates > 1 else "H"
    shapes = {"h0": ((B, H), "(B, H)"), "W": ((D, G), f"(D, {g})"), "U": ((H, G), f"(H, {g})")}
    shapes["y"] = ((B, T, H), "(B, T, H)")
    if kind is LSTMCache:
        shapes.update(c0=((B, H), "(B, H)"), gates=((B, T, G), "(B, T, 4H)"), c=((B, T, H), "(B, T, H)"))
    fields: dict[str, Any] = {"x": x, "reverse": as_flag("cache.reverse", cache.reverse)}
    if kind is GRUCache:
        reset_after = fields["reset_after"] = as_flag("cache.reset_after", cache.reset_after)
        shapes["gates"] = ((B, T, G), "(B, T, 3H)")
        shapes["hr"] = ((B, T, H), "(B, T, H)") if reset_after else ((B, 0, H), "(B, 0, H) for reset_after=False")
    fields.update(_cache_floats(cache, x.dtype, shapes))
    fields["lengths"] = as_lengths(cache.lengths, B, T)
    return cache._replace(**fields)


def _cross_entropy_cache(cache: Any) -> SoftmaxCrossEntropyCache:
    _check_cache(cache, SoftmaxCrossEntropyCache, "softmax_cross_entropy")
    probs = _last_axis("cache.probs", cache.probs)
    sparse = as_flag("cache.sparse", cache.sparse)
    if sparse:
        labels = as_ids("cache.labels", cache.labels, probs.shape[-1], "C")
        check_shape("cache.labels", labels, probs.shape[:-1], "probs.shape[:-1] for class ids")
    else:
        labels = as_float_array("cache.labels", cache.labels, probs.dtype)
        check_shape("cache.labels", labels, probs.shape, "probs.shape for float targets")
    return cache._replace(probs=probs, labels=labels, sparse=sparse)


def _norm_cache(cache: Any, kind: type, producer: str) -> Any:
    _check_cache(cache, kind, producer)
    xhat = _last_axis("cache.xhat", cache.xhat)
    F = xhat.shape[-1]
    stats = ((xhat.size // F,), "(N,)") if kind is LayerNormCache else ((F,), "(F,)")
    shapes = {"mean": stats, "rstd": stats, "gamma": ((F,), "(F,)")}
    return cache._replace(xhat=xhat, **_cache_floats(cache, xhat.dtype, shapes))


def _conv1d_cache(cache: Any) -> Conv1DCache:
    _check_cache(cache, Conv1DCache, "conv1d_forward")
    x = as_float_array("cache.x", cache.x, ndim=3)
    W = as_float_array("cache.W", cache.W, x.dtype)
    if W.ndim != 3 or W.shape[1] != x.shape[2] or W.shape[0] < 1:
        raise ValueError(f"cache.W must have shape (K, C, F) with K >= 1 and C = {x.shape[2]}, got {W.shape}")
    stride, dilation = as_int("cache.stride", cache.stride, 1), as_int("cache.dilation", cache.dilation, 1)
    padding = _padding(cache.padding)
    if x.shape[1] + sum(padding) > INT64_MAX:
        raise ValueError(f"cache.padding makes T + left + right overflow int64: {x.shape[1]} + {padding}")
    if _conv1d_output_length(x.shape[1], W.shape[0], stride, padding, dilation) < 1:
        raise ValueError("cache describes an input shorter than its dilated kernel (output length < 1)")
    has_bias = as_flag("cache.has_bias", cache.has_bias)
    return cache._replace(x=x, W=W, stride=stride, padding=padding, dilation=dilation, has_bias=has_bias)


def _gru_bias(b: Any, dt: np.dtype, H: int, reset_after: bool) -> Array:
    b = as_float_array("b", b, dt)
    if reset_after:
        check_shape("b", b, (2, 3 * H), "(2, 3H) for reset_after=True")
    else:
        check_shape("b", b, (3 * H,), "(3H,) for reset_after=False")
    return b


# ---------------------------------------------------------------- LSTM


def lstm_forward(
    x: Any, h0: Any, c0: Any, W: Any, U: Any, b: Any, *, lengths: Any = None, reverse: bool = False
) -> tuple[Array, Array, Array, LSTMCache]:
    """Run an LSTM over whole sequences.

    x: [B,T,D] inputs; h0, c0: [B,H] initial states; W: [D,4H]; U: [H,4H]; b: [4H].
    lengths: [B] ints in [0, T], each row's true length (None = all T).
    reverse: process each row from its last real step back to t = 0.
    Returns y: [B,T,H] (zeros past each row's length), hT, cT: [B,H] the states
    at each row's last real step, and the cache ``lstm_backward`` consumes.
    """
    x, h0, W, U, (B, T, _, H) = _sequence_args(x, h0, W, U, 4)
    c0 = as_float_array("c0", c0, x.dtype)
    check_shape("c0", c0, (B, H), "(B, H)")
    b = as_float_array("b", b, x.dtype)
    check_shape("b", b, (4 * H,), "(4H,)")
    lengths = as_lengths(lengths, B, T)
    return _call("lstm_forward", x, h0, c0, W, U, b, lengths, as_flag("reverse", reverse))


def lstm_backward(
    cache: LSTMCache, dy: Any = None, dhT: Any = None, dcT: Any = None
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """Backprop through time for ``lstm_forward``.

    dy: [B,T,H] gradient at y (None = zeros); dhT, dcT: [B,H] gradients at the
    final states (None = zeros).  Returns (dx, dh0, dc0, dW, dU, db).
    """
    cache = _recurrent_cache(cache, LSTMCache, "lstm_forward", 4)
    B, T, H = cache.y.shape
    dt = cache.x.dtype
    dy = optional_grad("dy", dy, dt, (B, T, H), "(B, T, H)")
    dhT = optional_grad("dhT", dhT, dt, (B, H), "(B, H)")
    dcT = optional_grad("dcT", dcT, dt, (B, H), "(B, H)")
    return _call("lstm_backward", cache, dy, dhT, dcT)


def lstm_cell(x: Any, h: Any, c: Any, W: Any, U: Any, b: Any) -> tuple[Array, Array]:
    """One LSTM step.  x: [B,D]; h, c: [B,H]; W: [D,4H]; U: [H,4H]; b: [4H].  Returns (h, c)."""
    x, h, W, U, (B, _, H) = _cell_args(x, h, W, U, 4)
    c = as_float_array("c", c, x.dtype)
    check_shape("c", c, (B, H), "(B, H)")
    b = as_float_array("b", b, x.dtype)
    check_shape("b", b, (4 * H,), "(4H,)")
    return _call("lstm_cell", x, h, c, W, U, b)


# ---------------------------------------------------------------- GRU


def gru_forward(
    x: Any,
    h0: Any,
    W: Any,
    U: Any,
    b: Any,
    *,
    reset_after: bool = True,
    lengths: Any = None,
    reverse: bool = False,
) -> tuple[Array, Array, GRUCache]:
    """Run a GRU over whole sequences (Keras semantics, gate order z, r, h).

    x: [B,T,D]; h0: [B,H]; W: [D,3H]; U: [H,3H]; b: [2,3H] (input and recurrent
    biases) when ``reset_after`` (Keras 2+, cuDNN, PyTorch), else [3H] (the
    original GRU, reset applied before the recurrent product).
    h = z * h_prev + (1 - z) * h~.  Returns (y [B,T,H], hT [B,H], cache).
    """
    x, h0, W, U, (B, T, _, H) = _sequence_args(x, h0, W, U, 3)
    reset_after = as_flag("reset_after", reset_after)
    b = _gru_bias(b, x.dtype, H, reset_after)
    lengths = as_lengths(lengths, B, T)
    return _call("gru_forward", x, h0, W, U, b, reset_after, lengths, as_flag("reverse", reverse))


def gru_backward(cache: GRUCache, dy: Any = None, dhT: Any = None) -> tuple[Array, Array, Array, Array, Array]:
    """Backprop through time for ``gru_forward``.  Returns (dx, dh0, dW, dU, db), db shaped like b."""
    cache = _recurrent_cache(cache, GRUCache, "gru_forward", 3)
    B, T, H = cache.y.shape
    dt = cache.x.dtype
    dy = optional_grad("dy", dy, dt, (B, T, H), "(B, T, H)")
    dhT = optional_grad("dhT", dhT, dt, (B, H), "(B, H)")
    return _call("gru_backward", cache, dy, dhT)


def gru_cell(x: Any, h: Any, W: Any, U: Any, b: Any, *, reset_after: bool = True) -> Array:
    """One GRU step.  x: [B,D]; h: [B,H]; W: [D,3H]; U: [H,3H]; b as in ``gru_forward``.  Returns h."""
    x, h, W, U, (_, _, H) = _cell_args(x, h, W, U, 3)
    reset_after = as_flag("reset_after", reset_after)
    b = _gru_bias(b, x.dtype, H, reset_after)
    return _call("gru_cell", x, h, W, U, b, reset_after)


# ---------------------------------------------------------------- basic RNN


def rnn_forward(
    x: Any, h0: Any, W: Any, U: Any, b: Any, *, lengths: Any = None, reverse: bool = False
) -> tuple[Array, Array, RNNCache]:
    """The course's tanh RNN, a<t> = tanh(x<t> W + a<t-1> U + b), over whole sequences.

    x: [B,T,D]; h0: [B,H]; W: [D,H]; U: [H,H]; b: [H].  Returns (y [B,T,H], hT [B,H], cache).
    """
    x, h0, W, U, (B, T, _, H) = _sequence_args(x, h0, W, U, 1)
    b = as_float_array("b", b, x.dtype)
    check_shape("b", b, (H,), "(H,)")
    lengths = as_lengths(lengths, B, T)
    return _call("rnn_forward", x, h0, W, U, b, lengths, as_flag("reverse", reverse))


def rnn_backward(cache: RNNCache, dy: Any = None, dhT: Any = None) -> tuple[Array, Array, Array, Array, Array]:
    """Backprop through time for ``rnn_forward``.  Returns (dx, dh0, dW, dU, db)."""
    cache = _recurrent_cache(cache, RNNCache, "rnn_forward", 1)
    B, T, H = cache.y.shape
    dt = cache.x.dtype
    dy = optional_grad("dy", dy, dt, (B, T, H), "(B, T, H)")
    dhT = optional_grad("dhT", dhT, dt, (B, H), "(B, H)")
    return _call("rnn_backward", cache, dy, dhT)


def rnn_cell(x: Any, h: Any, W: Any, U: Any, b: Any) -> Array:
    """One RNN step.  x: [B,D]; h: [B,H]; W: [D,H]; U: [H,H]; b: [H].  Returns h."""
    x, h, W, U, (_, _, H) = _cell_args(x, h, W, U, 1)
    b = as_float_array("b", b, x.dtype)
    check_shape("b", b, (H,), "(H,)")
    return _call("rnn_cell", x, h, W, U, b)


# ---------------------------------------------------------------- softmax family (last axis)


def _last_axis(name: str, x: Any) -> Array:
    x = as_float_array(name, x)
    if x.ndim < 1 or x.shape[-1] == 0:  # checked after a conversion that keeps 0-d arrays 0-d
        raise ValueError(f"{name} must have at least one dimension and a non-empty last axis, got shape {x.shape}")
    return x


def _pair(y: Any, dy: Any) -> tuple[Array, Array]:
    y = _last_axis("y", y)
    dy = as_float_array("dy", dy, y.dtype)
    check_shape("dy", dy, y.shape, "y.shape")
    return y, dy


def softmax(x: Any) -> Array:
    """Softmax over the last axis."""
    return _call("softmax", _last_axis("x", x))


def softmax_backward(y: Any, dy: Any) -> Array:
    """Gradient at x of softmax, given its output y and the gradient dy at y."""
    return _call("softmax_backward", *_pair(y, dy))


def log_softmax(x: Any) -> Array:
    """Log-softmax over the last axis."""
    return _call("log_softmax", _last_axis("x", x))


def log_softmax_backward(y: Any, dy: Any) -> Array:
    """Gradient at x of log_softmax, given its output y and the gradient dy at y."""
    return _call("log_softmax_backward", *_pair(y, dy))


def softmax_cross_entropy(logits: Any, labels: Any) -> tuple[Array, SoftmaxCrossEntropyCache]:
    """Per-row cross-entropy of softmax(logits) against labels.

    logits: [...,C].  labels: integer class ids of shape [...] (sparse), or a
    float target distribution / one-hot of shape [...,C].  Returns the loss
    [...] (no reduction: mask and average as you need) and the cache.
    """
    logits = _last_axis("logits", logits)
    C = logits.shape[-1]
    lab = as_array(labels)
    if lab.dtype != np.bool_ and np.issubdtype(lab.dtype, np.integer):
        check_shape("labels", lab, logits.shape[:-1], "logits.shape[:-1] for integer labels")
        if lab.size and (lab.min() < 0 or lab.max() >= C):
            bad = int(lab.min()) if lab.min() < 0 else int(lab.max())
            raise ValueError(f"labels must be class ids in [0, C) = [0, {C}), got {bad}")
        lab = native(lab, np.int64)
    else:
        if lab.dtype == np.bool_:
            raise TypeError("labels must be integer class ids or a float target of the logits' dtype, got bool")
        lab = as_float_array("labels", lab, logits.dtype)
        check_shape("labels", lab, logits.shape, "logits.shape for float targets")
    return _call("softmax_cross_entropy", logits, lab)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss: Any = None) -> Array:
    """Gradient at the logits.  dloss: [...] weight of each row's loss (None = ones)."""
    cache = _cross_entropy_cache(cache)
    shape = cache.probs.shape[:-1]
    if dloss is None:
        dloss = xp_of(cache.probs).ones(shape, cache.probs.dtype)
    dloss = as_float_array("dloss", dloss, cache.probs.dtype)
    check_shape("dloss", dloss, shape, "logits.shape[:-1]")
    return _call("softmax_cross_entropy_backward", cache, dloss)


# ---------------------------------------------------------------- gradient clipping


def _grads(grads: Any) -> list[Array]:
    if isinstance(grads, np.ndarray) or is_device_array(grads):
        grads = [grads]
    if not isinstance(grads, Sequence):
        raise TypeError(f"grads must be an array or a list of arrays, got {type(grads).__name__}")
    out = []
    for k, g in enumerate(grads):
        if not (isinstance(g, np.ndarray) or is_device_array(g)):
            raise TypeError(f"grads[{k}] must be a NumPy or CuPy array, got {type(g).__name__}")
        if g.dtype not in (np.float32, np.float64):
            raise TypeError(f"grads[{k}] must have dtype float32 or float64, got {g.dtype}")
        out.append(g)
    return out


def _number(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if np.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def clip_by_value(grads: Any, min_value: float, max_value: float, *, inplace: bool = False) -> list[Array]:
    """Clip every element of every array to [min_value, max_value] (the course uses [-5, 5])."""
    lo, hi = _number("min_value", min_value), _number("max_value", max_value)
    if lo > hi:
        raise ValueError(f"min_value must be <= max_value, got {lo} > {hi}")
    grads = _grads(grads)
    if inplace:
        for k, g in enumerate(grads):
            if isinstance(g, np.ndarray) and not g.flags.writeable:
                raise ValueError(f"grads[{k}] is read-only and inplace=True was asked")
    return _call("clip_by_value", grads, lo, hi, as_flag("inplace", inplace))


def clip_by_global_norm(grads: Any, max_norm: float, *, inplace: bool = False) -> tuple[list[Array], float]:
    """Rescale all arrays together so their joint L2 norm is at most max_norm.

    Returns (clipped arrays, the global norm before clipping), as
    ``tf.clip_by_global_norm`` does.  A NaN/Inf in the arrays gives a NaN/Inf norm,
    returned with the arrays unscaled so the caller can skip the step; finite arrays
    whose sum of squares overflows are still clipped (their norm is computed scaled).
    """
    max_norm = _number("max_norm", max_norm)
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    grads = _grads(grads)
    if inplace:
        for k, g in enumerate(grads):
            if isinstance(g, np.ndarray) and not g.flags.writeable:
                raise ValueError(f"grads[{k}] is read-only and inplace=True was asked")
    inplace = as_flag("inplace", inplace)
    clipped, norm = _call("clip_by_global_norm", grads, max_norm, inplace)
    if math.isinf(norm) and all(bool(xp_of(g).isfinite(g).all()) for g in grads):
        return _clip_overflowing(grads, max_norm, inplace)
    return clipped, norm


def _clip_overflowing(grads: list[Array], max_norm: float, inplace: bool) -> tuple[list[Array], float]:
    """Every entry is finite but the sum of squares overflowed (|g| past 1.3e154 in float64): the norm
    again over g / max|g|, as BLAS nrm2 scales, so huge finite gradients are clipped rather than
    reported as an infinite norm.  Rare, so plain NumPy."""
    peak = max(float(abs(g).max()) for g in grads if g.size)
    norm = peak * math.sqrt(sum(float(xp_of(g).square(g / peak).sum(dtype=np.float64)) for g in grads))
    scale = max_norm / norm  # norm > 1.3e154 > max_norm: always a shrink
    out = grads if inplace else [g.copy() for g in grads]
    for g in out:
        g *= scale
    return out, norm


# ---------------------------------------------------------------- optimizer updates (in place, Keras formulas)
#
# param and every state array are updated in place, so they are used as given: C-contiguous,
# aligned, writeable arrays of one float dtype and one shape, no two sharing memory.  grad is
# only read and may be any array-like of that dtype and shape.


def _param_grad(param: Any, grad: Any) -> tuple[Array, Array]:
    param = as_inplace_array("param", param)
    grad = as_float_array("grad", grad, param.dtype)
    check_shape("grad", grad, param.shape, "param.shape")
    return param, grad


def _state(name: str, value: Any, param: Array, needed: str | None = None) -> Array | None:
    """A state array shaped like param; None is allowed unless ``needed`` says when it is required."""
    if value is None:
        if needed:
            raise TypeError(f"{name} must be an array {needed}, got None")
        return None
    return as_inplace_array(name, value, param.dtype, param.shape)


def sgd_update(param: Any, grad: Any, velocity: Any, *, lr: float, momentum: float = 0.0, nesterov: bool = False):
    """One SGD step in place (Keras ``SGD``).

    momentum == 0: param -= lr * grad (velocity may be None and is left as it is).  Otherwise
    velocity = momentum * velocity - lr * grad, then param += velocity, or with ``nesterov``
    param += momentum * velocity - lr * grad (with the new velocity).  Returns None.
    """
    lr = as_real("lr", lr)
    momentum = as_real("momentum", momentum, 0.0, 1.0)
    nesterov = as_flag("nesterov", nesterov)
    param, grad = _param_grad(param, grad)
    velocity = _state("velocity", velocity, param, "when momentum != 0" if momentum != 0.0 else None)
    check_disjoint({"param": param, "grad": grad, "velocity": velocity})
    _call("sgd_update", param, grad, velocity, lr, momentum, nesterov)


def adam_update(
    param: Any,
    grad: Any,
    m: Any,
    v: Any,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: int,
    weight_decay: float = 0.0,
    vhat: Any = None,
):
    """One Adam / AdamW / AMSGrad step in place (Keras ``Adam``, ``AdamW``, ``amsgrad=True``).

    step is the 1-based iteration count.  With weight_decay, first param -= lr * weight_decay * param
    (decoupled, AdamW).  Then m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    alpha = lr sqrt(1 - beta2^step) / (1 - beta1^step); with ``vhat`` (AMSGrad) vhat = max(vhat, v),
    used in place of v; param -= alpha m / (sqrt(v) + eps).  Returns None.
    """
    lr = as_real("lr", lr)
    beta1 = as_real("beta1", beta1, 0.0, 1.0, open_high=True)
    beta2 = as_real("beta2", beta2, 0.0, 1.0, open_high=True)
    eps = as_real("eps", eps, 0.0)
    step = as_int("step", step, 1)
    weight_decay = as_real("weight_decay", weight_decay)
    param, grad = _param_grad(param, grad)
    m = _state("m", m, param, "(the first moment)")
    v = _state("v", v, param, "(the second moment)")
    vhat = _state("vhat", vhat, param)
    check_disjoint({"param": param, "grad": grad, "m": m, "v": v, "vhat": vhat})
    alpha = lr * math.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)  # in float64, whatever the arrays' dtype
    _call("adam_update", param, grad, m, v, vhat, alpha, beta1, beta2, eps, lr * weight_decay)


def rmsprop_update(
    param: Any,
    grad: Any,
    velocity: Any,
    momentum_buf: Any,
    *,
    lr: float,
    rho: float,
    momentum: float,
    eps: float,
    mg: Any = None,
):
    """One RMSprop step in place (Keras ``RMSprop``; ``mg`` given = ``centered=True``).

    velocity = rho velocity + (1 - rho) g^2; centered: mg = rho mg + (1 - rho) g and
    denom = velocity - mg^2, else denom = velocity; increment = lr g / sqrt(denom + eps).
    momentum > 0: momentum_buf = momentum momentum_buf + increment, param -= momentum_buf;
    else param -= increment (momentum_buf may be None).  Returns None.
    """
    lr = as_real("lr", lr)
    rho = as_real("rho", rho, 0.0, 1.0)
    momentum = as_real("momentum", momentum, 0.0)
    eps = as_real("eps", eps, 0.0)
    param, grad = _param_grad(param, grad)
    velocity = _state("velocity", velocity, param, "(the mean square)")
    momentum_buf = _state("momentum_buf", momentum_buf, param, "when momentum > 0" if momentum > 0.0 else None)
    mg = _state("mg", mg, param)
    check_disjoint({"param": param, "grad": grad, "velocity": velocity, "momentum_buf": momentum_buf, "mg": mg})
    _call("rmsprop_update", param, grad, velocity, momentum_buf, mg, lr, rho, momentum, eps)


def adagrad_update(param: Any, grad: Any, accumulator: Any, *, lr: float, eps: float):
    """One Adagrad step in place (Keras ``Adagrad``): accumulator += g^2; param -= lr g / sqrt(accumulator + eps).

    Returns None.
    """
    lr = as_real("lr", lr)
    eps = as_real("eps", eps, 0.0)
    param, grad = _param_grad(param, grad)
    accumulator = _state("accumulator", accumulator, param, "(the sum of squared gradients)")
    check_disjoint({"param": param, "grad": grad, "accumulator": accumulator})
    _call("adagrad_update", param, grad, accumulator, lr, eps)


# ---------------------------------------------------------------- embedding


def embedding_forward(weights: Any, ids: Any) -> Array:
    """Row lookup: weights [V,E], ids integers of any shape in [0, V).  Returns weights[ids], shaped [..., E]."""
    weights = as_float_array("weights", weights, ndim=2)
    ids = as_ids("ids", ids, weights.shape[0])
    return _call("embedding_forward", weights, ids)


def embedding_backward(ids: Any, dy: Any, num_embeddings: int) -> Array:
    """Gradient at the weights of ``embedding_forward``: dW [V,E] (V = num_embeddings), zeros plus
    dy[n] added to row ids[n] for every position n, in order (deterministic; repeated ids sum).
    dy: [..., E] shaped ids.shape + (E,)."""
    V = as_int("num_embeddings", num_embeddings, 0)
    ids = as_ids("ids", ids, V, "num_embeddings")
    dy = as_float_array("dy", dy)
    if dy.ndim != ids.ndim + 1 or dy.shape[:-1] != ids.shape:
        dims = [*map(str, ids.shape), "E"]
        wanted = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
        raise ValueError(f"dy must have shape ids.shape + (E,) = {wanted}, got {dy.shape}")
    check_output_size("dW", (V, dy.shape[-1]), dy.dtype)
    return _call("embedding_backward", ids, dy, V)


# ---------------------------------------------------------------- similarity search


def topk_dot(matrix: Any, queries: Any, k: int, *, exclude: Any = None) -> tuple[Array, Array]:
    """The k rows of ``matrix`` with the largest dot product with each query, best first.

    matrix: [V,E] (for cosine similarity, pass L2-normalised rows); queries: [Q,E] of the same
    dtype; k in [1, V].  exclude: None or integers [Q,X], ids to skip for each query (-1 =
    padding).  Returns (scores [Q,k] of the dtype, ids [Q,k] int64), sorted by score
    descending, ties by the lower id, NaN scores after every number; when fewer than k ids
    remain after exclusion, the places left get id -1 and score -inf.  Selection is partial
    (a size-k heap per query on the native backends), never a sort of all V scores.
    """
    matrix = as_float_array("matrix", matrix, ndim=2)
    V, E = matrix.shape
    queries = as_float_array("queries", queries, matrix.dtype, ndim=2)
    if queries.shape[1] != E:
        raise ValueError(f"queries must have shape (Q, E) = (Q, {E}), got {queries.shape}")
    k = as_int("k", k, 1)
    if k > V:
        raise ValueError(f"k must lie in [1, V] = [1, {V}], got {k}")
    if exclude is not None:
        ex = as_array(exclude)
        if ex.dtype == np.bool_ or not np.issubdtype(ex.dtype, np.integer):
            raise TypeError(f"exclude must be None or an integer array, got dtype {ex.dtype}")
        if ex.ndim != 2 or ex.shape[0] != queries.shape[0]:
            raise ValueError(f"exclude must have shape (Q, X) = ({queries.shape[0]}, X), got {ex.shape}")
        if ex.size and (ex.min() < -1 or ex.max() >= V):
            bad = int(ex.min()) if ex.min() < -1 else int(ex.max())
            raise ValueError(f"exclude must lie in [-1, V) = [-1, {V}) (-1 = padding), got {bad}")
        exclude = native(ex, np.int64)
    return _call("topk_dot", matrix, queries, k, exclude)


# ---------------------------------------------------------------- BLEU statistics

BLEU_TOKENIZERS = ("13a", "none")
BLEU_MAX_ORDER = 1024  # the native kernel's bound (kBleuMaxOrder)


def bleu_stats(
    hyp_text: Any,
    hyp_offsets: Any,
    ref_text: Any,
    ref_offsets: Any,
    ref_groups: Any,
    *,
    max_order: int = 4,
    tokenize: str = "13a",
) -> Array:
    """BLEU's sufficient statistics per hypothesis, tokenised as sacrebleu tokenises.

    hyp_text: [Lh] UTF-8 bytes (bytes, or a uint8 array) of the S hypotheses back to back;
    hyp_offsets: [S+1] rising from 0 to Lh (hypothesis s is hyp_text[off[s]:off[s+1]]).  ref_text: [Lr]
    and ref_offsets: [M+1]: the M reference segments the same way.  ref_groups: [S+1] rising from 0 to
    M: hypothesis s has the references ref_groups[s] .. ref_groups[s+1]-1 (none gives ref_len 0 and no
    matches).  tokenize: '13a' (sacrebleu's default: Tokenizer13a on the rstripped line) or 'none' (a
    plain str.split()); letter case is the caller's (str.lower() before encoding).  max_order in
    [1, 1024].

    Returns int64 [S, 2 + 2*max_order], per hypothesis: hyp_len, ref_len (of the reference closest in
    length, the shorter on a tie), clipped matches for n = 1..max_order (a hypothesis n-gram counts
    at most as often as the reference holding it most often has it), totals for n = 1..max_order.
    Summed over rows this is sacrebleu's corpus statistics; one row, a sentence's.
    """
    hyp_text = as_text_bytes("hyp_text", hyp_text)
    hyp_offsets = as_offsets("hyp_offsets", hyp_offsets, hyp_text.size, "len(hyp_text)")
    ref_text = as_text_bytes("ref_text", ref_text)
    ref_offsets = as_offsets("ref_offsets", ref_offsets, ref_text.size, "len(ref_text)")
    M = ref_offsets.size - 1
    ref_groups = as_offsets("ref_groups", ref_groups, M, "the number of references M")
    if ref_groups.size != hyp_offsets.size:
        raise ValueError(f"ref_groups must have shape (S+1,) = ({hyp_offsets.size},), got {ref_groups.shape}")
    max_order = as_int_range("max_order", max_order, 1, BLEU_MAX_ORDER)
    if not isinstance(tokenize, str):
        raise TypeError(f"tokenize must be a str, '13a' or 'none', got {type(tokenize).__name__}")
    if tokenize not in BLEU_TOKENIZERS:
        raise ValueError(f"tokenize must be '13a' or 'none', got {tokenize!r}")
    return _call("bleu_stats", hyp_text, hyp_offsets, ref_text, ref_offsets, ref_groups, max_order, tokenize)


# ---------------------------------------------------------------- beam search (seqcore.decode runs the loop)

_STATE_FIELDS = {  # field: (dtype, shape letters)
    "scores": (np.float64, "(B, K)"),
    "tokens": (np.int64, "(B, K, L)"),
    "fin_scores": (np.float64, "(B, K)"),
    "fin_log_probs": (np.float64, "(B, K)"),
    "fin_tokens": (np.int64, "(B, K, L)"),
    "fin_lengths": (np.int64, "(B, K)"),
    "fin_count": (np.int64, "(B,)"),
    "done": (np.bool_, "(B,)"),
}


def _state_array(field: str, value: Any, shape: tuple[int, ...] | None, ndim: int) -> Array:
    """A BeamState field: the caller's own array (it is updated in place), of exactly the field's dtype."""
    dtype, letters = _STATE_FIELDS[field]
    device = is_device_array(value)
    if not (isinstance(value, np.ndarray) or device):
        raise TypeError(
            f"state.{field} must be a NumPy or CuPy array (it is updated in place), got {type(value).__name__}"
        )
    if value.dtype != dtype or not value.dtype.isnative:
        raise TypeError(f"state.{field} must have dtype {np.dtype(dtype)}, got {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"state.{field} must have {ndim} dimensions {letters}, got shape {value.shape}")
    if shape is not None and value.shape != shape:
        raise ValueError(f"state.{field} must have shape {letters} = {shape}, got {value.shape}")
    flags = value.flags
    if not (flags.c_contiguous and (device or flags.aligned)):
        raise ValueError(f"state.{field} must be C-contiguous and aligned (it is updated in place), got a strided view")
    if not device and not flags.writeable:
        raise ValueError(f"state.{field} is read-only, but it is updated in place")
    return value


def _beam_state(state: Any) -> tuple[BeamState, int, int, int]:
    if not isinstance(state, BeamState):
        raise TypeError(f"state must be a BeamState (BeamState.initial(batch, beam_width, max_len)), got "
                        f"{type(state).__name__}")  # fmt: skip
    scores = _state_array("scores", state.scores, None, 2)
    B, K = scores.shape
    if K < 1:
        raise ValueError(f"state.scores must have K >= 1 columns (the beam width), got shape {scores.shape}")
    tokens = _state_array("tokens", state.tokens, None, 3)
    L = tokens.shape[2]
    if tokens.shape != (B, K, L):
        raise ValueError(f"state.tokens must have shape (B, K, L) = ({B}, {K}, L), got {tokens.shape}")
    if L < 1:
        raise ValueError(f"state.tokens must have L >= 1 positions (max_len), got shape {tokens.shape}")
    fin_scores = _state_array("fin_scores", state.fin_scores, (B, K), 2)
    _state_array("fin_log_probs", state.fin_log_probs, (B, K), 2)
    _state_array("fin_tokens", state.fin_tokens, (B, K, L), 3)
    _state_array("fin_lengths", state.fin_lengths, (B, K), 2)
    count = _state_array("fin_count", state.fin_count, (B,), 1)
    _state_array("done", state.done, (B,), 1)
    check_disjoint({f"state.{k}": v for k, v in zip(state._fields, state)})
    # The values the ranking, the insertion of finished hypotheses and the stopping rule rely on (a
    # state made by BeamState.initial and kept by beam_search_step has them; fin_lengths is only carried).
    if not (scores <= 0).all():
        raise ValueError("state.scores must be <= 0 (summed log-probs; -inf for an empty slot), got a value > 0 or NaN")
    if (count.view(np.uint64) > K).any():  # negative counts wrap to huge
        bad = int(count.min()) if count.min() < 0 else int(count.max())
        raise ValueError(f"state.fin_count must lie in [0, K] = [0, {K}], got {bad}")
    # (B > 0 bounds K by the arrays' size: no slot numbers for a huge K next to B = 0)
    xp = xp_of(scores)
    if any(xp_of(a) is not xp for a in state):
        raise TypeError("state's arrays must all be NumPy arrays or all CuPy arrays on one device")
    rising = B and ((fin_scores[:, 1:] > fin_scores[:, :-1]) & (count[:, None] > xp.arange(1, K))).any()
    if rising or xp.isnan(fin_scores).any():
        raise ValueError("state.fin_scores must not be NaN and must be best first in the slots held")
    return state, B, K, L


def beam_search_step(
    state: BeamState, log_probs: Any, rows: Any, step: int, *, eos: int | None, length_norm: Any
) -> Array:
    """One step of a batched beam search: ranks every continuation, updates ``state`` in place.

    state: a ``BeamState`` (B rows, K beams, L = max_len).  log_probs: [A*K,V] float32/float64, log P(token |
    beam) for beam k of row ``rows[a]`` at row a*K + k, every value <= 0 (-inf: an impossible token; up to
    ``LOG_PROB_SLACK`` = 1e-4 above 0, a log_softmax's rounding, is read as 0).  rows: [A] the rows still
    searching, strictly increasing, none done.  step: the position the new tokens take, in [0, L).  eos: the
    end token in [0, V), or None.  length_norm: [L] positive, the divisor of an n-token hypothesis's log-prob
    at n - 1 (n**alpha for the course's objective).
    Returns parents [A,K] int64: the log_probs row each new live beam of row a grew from (gather the decoder's
    state with it).  A value above LOG_PROB_SLACK or NaN in log_probs raises ValueError naming the first one,
    with the state unchanged.  Ranking, ties (the lower flat index k*V + v wins), finishing and the stopping
    rule: docs/decode.md.
    """
    state, B, K, L = _beam_state(state)
    log_probs = as_float_array("log_probs", log_probs, ndim=2)
    V = log_probs.shape[1]
    if V < 1:
        raise ValueError(f"log_probs must have V >= 1 columns (the vocabulary), got shape {log_probs.shape}")
    if rows is None:
        raise TypeError("rows must be an integer array, got None")
    r = as_array(rows)
    if r.dtype == np.bool_ or not np.issubdtype(r.dtype, np.integer):
        raise TypeError(f"rows must be an integer array, got dtype {r.dtype}")
    if r.ndim != 1:
        raise ValueError(f"rows must have 1 dimension (A,), got shape {r.shape}")
    if r.size and (r.min() < 0 or r.max() >= B):
        bad = int(r.min()) if r.min() < 0 else int(r.max())
        raise ValueError(f"rows must lie in [0, B) = [0, {B}), got {bad}")
    rows = native(xp_of(state.scores).asarray(r), np.int64)  # on the state's device: it indexes state.done
    if rows.size > 1 and (rows[1:] <= rows[:-1]).any():
        raise ValueError("rows must be strictly increasing")
    if state.done[rows].any():
        raise ValueError(f"rows must not name a finished row, got {int(rows[state.done[rows]][0])}")
    A = rows.size
    check_shape("log_probs", log_probs, (A * K, V), "(A*K, V)")
    step = as_int("step", step, 0)
    if step >= L:
        raise ValueError(f"step must lie in [0, L) = [0, {L}), got {step}")
    if eos is None:
        eos = -1
    else:
        eos = as_int("eos", eos, 0)
        if eos >= V:
            raise ValueError(f"eos must lie in [0, V) = [0, {V}), got {eos}")
    norm = as_float_array("length_norm", length_norm)
    check_shape("length_norm", norm, (L,), "(L,)")
    norm = native(norm, np.float64)
    if not bool((xp_of(norm).isfinite(norm) & (norm > 0)).all()):
        raise ValueError("length_norm must be finite and > 0")
    check_disjoint({**{f"state.{k}": v for k, v in state._asdict().items()}, "log_probs": log_probs, "rows": rows,
                    "length_norm": norm})  # fmt: skip
    return _call("beam_search_step", state, log_probs, rows, step, eos, norm)


def gather_rows(x: Any, idx: Any) -> Array:
    """``x[idx]`` along the first axis: a new array [M, ...] of the rows ``idx`` names, in that order.

    x: [N, ...] float32, float64 or int64 (any trailing shape); idx: [M] integers in [0, N).  Beam search
    reorders a decoder's state with it to follow the beams' parents.
    """
    if x is None:
        raise TypeError("x must be an array, got None")
    x = as_array(x)
    if x.dtype.kind in "fi" and not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    if x.dtype not in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)):
        raise TypeError(f"x must have dtype float32, float64 or int64, got {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension (the rows), got shape {x.shape}")
    x = native(x)
    idx = as_ids("idx", idx, x.shape[0], "N")
    if idx.ndim != 1:
        raise ValueError(f"idx must have 1 dimension (M,), got shape {idx.shape}")
    return _call("gather_rows", x, idx)


# ---------------------------------------------------------------- word-vector training
#
# The random stream, the update order and the formulas are defined once, in
# backends/reference/words.py; every backend follows them, so 1-thread runs agree.

SEED_MAX = 2**64 - 1


def _finite(name: str, value: Any) -> float:
    value = as_real(name, value, 0.0)
    if value == math.inf:
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _corpus(ids: Any, sentence_offsets: Any, V: int) -> tuple[Array, Array]:
    """ids: [N] token ids in [0, V); sentence_offsets: [S+1] non-decreasing from 0 to N."""
    ids = as_ids("ids", ids, V)
    if ids.ndim != 1:
        raise ValueError(f"ids must have 1 dimension (the corpus, sentences back to back), got shape {ids.shape}")
    off = np.asarray(sentence_offsets)
    if off.dtype == np.bool_ or not np.issubdtype(off.dtype, np.integer):
        raise TypeError(f"sentence_offsets must be an integer array, got dtype {off.dtype}")
    if off.ndim != 1 or off.size < 1:
        raise ValueError(f"sentence_offsets must have shape (S+1,) with S >= 0, got {off.shape}")
    off = native(off, np.int64)
    if off[0] != 0 or off[-1] != ids.size or (off.size > 1 and np.any(off[1:] < off[:-1])):
        raise ValueError(
            f"sentence_offsets must rise from 0 to len(ids) = {ids.size} (sentence s is ids[off[s]:off[s+1]]), "
            f"got {off[0]} .. {off[-1]}{' (decreasing)' if off.size > 1 and np.any(off[1:] < off[:-1]) else ''}"
        )
    return ids, off


def word2vec_sgns_train(
    ids: Any,
    sentence_offsets: Any,
    W_in: Any,
    W_out: Any,
    neg_table: Any,
    keep_prob: Any,
    *,
    window: int = 5,
    negative: int = 5,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    words_done: int = 0,
    total_words: int | None = None,
    seed: int = 1,
    threads: int = 1,
) -> tuple[float, int, int]:
    """Skip-gram with negative sampling (word2vec.c / gensim sg=1, hs=0) over a corpus; W_in, W_out updated in place.

    ids: [N] token ids; sentence_offsets: [S+1] (sentence s = ids[off[s]:off[s+1]]; no window crosses
    a boundary).  W_in, W_out: [V,E] float32/float64, C-contiguous, the input and output vectors.
    neg_table: [T] int ids drawn uniformly for negatives (the unigram**0.75 table); keep_prob: [V]
    float64, the probability of keeping each word when subsampling (>= 1: always).  window: the largest
    reach (each centre word draws its own in [1, window]); negative: negatives per pair.  The learning
    rate falls linearly from alpha to min_alpha over total_words (default: this call's words), from
    words_done words already seen (for runs split into calls).  seed: the random stream (0 .. 2**64-1).
    threads: native Hogwild workers (cpp; numba and reference run serially): updates race lock-free, as
    in word2vec.c, so results repeat bit for bit only with threads=1.
    Returns (loss_sum, terms, words): the summed logistic loss over terms (pair, target) updates, and the
    words read (subsampled ones included).
    """
    W_in = as_inplace_array("W_in", W_in)
    if W_in.ndim != 2:
        raise ValueError(f"W_in must have 2 dimensions, got shape {W_in.shape}")
    V, E = W_in.shape
    W_out = as_inplace_array("W_out", W_out, W_in.dtype)
    check_shape("W_out", W_out, (V, E), "(V, E)")
    check_disjoint({"W_in": W_in, "W_out": W_out})
    ids, off = _corpus(ids, sentence_offsets, V)
    neg_table = as_ids("neg_table", neg_table, V)
    if neg_table.ndim != 1 or neg_table.size == 0:
        raise ValueError(f"neg_table must be a non-empty 1-D array of ids, got shape {neg_table.shape}")
    keep_prob = as_float_array("keep_prob", keep_prob)  # any float dtype: probabilities, read as float64
    check_shape("keep_prob", keep_prob, (V,), "(V,)")
    keep_prob = native(keep_prob, np.float64)
    window = as_int("window", window, 1)
    negative = as_int("negative", negative, 0)
    if negative > 2**20:
        raise ValueError(f"negative must lie in [0, {2**20}], got {negative}")
    alpha = _finite("alpha", alpha)
    min_alpha = _finite("min_alpha", min_alpha)
    words_done = as_int("words_done", words_done, 0)
    total_words = as_int("total_words", max(ids.size, 1) if total_words is None else total_words, 1)
    seed = as_int_range("seed", seed, 0, SEED_MAX)
    threads = as_int("threads", threads, 1)
    return _call(
        "word2vec_sgns_train", ids, off, W_in, W_out, neg_table, keep_prob, window, negative, alpha, min_alpha,
        words_done, total_words, seed, threads,
    )  # fmt: skip


def glove_cooccurrence(
    ids: Any, sentence_offsets: Any, V: int, window: int = 10, symmetric: bool = True
) -> tuple[Array, Array, Array]:
    """GloVe's co-occurrence counts, weighted 1/distance, within sentences.

    ids: [N] in [0, V); sentence_offsets: [S+1] as for word2vec_sgns_train.  Each position i adds
    1/d to X[w_i, w_(i-d)] for d = 1..window (and to X[w_(i-d), w_i] when symmetric), in scan order.
    Returns the nonzero entries as (rows int64, cols int64, values float64), sorted by (row, col).
    """
    V = as_int("V", V, 0)
    if V > 3037000499:  # row * V + col must fit int64
        raise ValueError(f"V must be at most 3037000499 (keys row * V + col are int64), got {V}")
    ids, off = _corpus(ids, sentence_offsets, V)
    window = as_int("window", window, 1)
    return _call("glove_cooccurrence", ids, off, V, window, as_flag("symmetric", symmetric))


def glove_train(
    rows: Any,
    cols: Any,
    values: Any,
    W: Any,
    C: Any,
    bw: Any,
    bc: Any,
    gradsq_W: Any,
    gradsq_C: Any,
    gradsq_bw: Any,
    gradsq_bc: Any,
    *,
    x_max: float = 100.0,
    alpha: float = 0.75,
    lr: float = 0.05,
    epochs: int = 1,
    seed: int = 1,
    threads: int = 1,
) -> Array:
    """GloVe (Pennington et al. 2014, glove.c): AdaGrad on sum f(x)(w_i . c_j + b_i + b_j - log x)**2 / 2.

    rows, cols: [n] ids in [0, V); values: [n] positive co-occurrences (as glove_cooccurrence returns).
    W, C: [V,E] word and context vectors; bw, bc: [V] biases; gradsq_*: their AdaGrad sums of squared
    gradients (start at 1, as glove.c); all of one float dtype, updated in place.  f(x) = min(1,
    (x/x_max)**alpha).  Each epoch visits the triplets in a fresh seeded permutation; threads: Hogwild
    workers over slices of it (cpp; others serial; bit-repeatable only with threads=1).
    Returns the mean cost of each epoch, float64 [epochs].
    """
    W = as_inplace_array("W", W)
    if W.ndim != 2:
        raise ValueError(f"W must have 2 dimensions, got shape {W.shape}")
    V, E = W.shape
    arrays = {"W": W}
    for name, value, shape, letters in (
        ("C", C, (V, E), "(V, E)"),
        ("bw", bw, (V,), "(V,)"),
        ("bc", bc, (V,), "(V,)"),
        ("gradsq_W", gradsq_W, (V, E), "(V, E)"),
        ("gradsq_C", gradsq_C, (V, E), "(V, E)"),
        ("gradsq_bw", gradsq_bw, (V,), "(V,)"),
        ("gradsq_bc", gradsq_bc, (V,), "(V,)"),
    ):
        arr = as_inplace_array(name, value, W.dtype)
        check_shape(name, arr, shape, letters)
        arrays[name] = arr
    check_disjoint(arrays)
    rows = as_ids("rows", rows, V)
    n = rows.size
    if rows.ndim != 1:
        raise ValueError(f"rows must have 1 dimension, got shape {rows.shape}")
    cols = as_ids("cols", cols, V)
    check_shape("cols", cols, (n,), "(n,)")
    values = as_float_array("values", values)
    check_shape("values", values, (n,), "(n,)")
    values = native(values, np.float64)
    if n and not np.all(values > 0):
        raise ValueError("values must be positive co-occurrences (log x is taken), got a value <= 0 or NaN")
    x_max = _finite("x_max", x_max)
    if x_max <= 0:
        raise ValueError(f"x_max must be > 0, got {x_max}")
    alpha = _finite("alpha", alpha)
    lr = _finite("lr", lr)
    epochs = as_int("epochs", epochs, 0)
    check_output_size("costs", (epochs,), np.float64)
    seed = as_int_range("seed", seed, 0, SEED_MAX)
    threads = as_int("threads", threads, 1)
    a = arrays
    return _call(
        "glove_train", rows, cols, values, W, a["C"], a["bw"], a["bc"], a["gradsq_W"], a["gradsq_C"], a["gradsq_bw"],
        a["gradsq_bc"], x_max, alpha, lr, epochs, seed, threads,
    )  # fmt: skip


# ---------------------------------------------------------------- normalization (feature axis last)


def _norm_args(x: Any, gamma: Any, beta: Any, eps: Any) -> tuple[Array, Array, Array, float]:
    x = _last_axis("x", x)
    F = x.shape[-1]
    gamma = as_float_array("gamma", gamma, x.dtype)
    check_shape("gamma", gamma, (F,), "(F,)")
    beta = as_float_array("beta", beta, x.dtype)
    check_shape("beta", beta, (F,), "(F,)")
    return x, gamma, beta, as_real("eps", eps, 0.0)


def layer_norm_forward(x: Any, gamma: Any, beta: Any, *, eps: float) -> tuple[Array, LayerNormCache]:
    """Layer normalization over the last axis: y = (x - mean) / sqrt(var + eps) * gamma + beta.

    x: [...,F]; gamma, beta: [F].  mean and the biased var are per row of the [N,F] view
    (N = x.size / F), taken in float64.  Returns (y [...,F], cache); cache.mean and
    cache.rstd = 1 / sqrt(var + eps) are [N].
    """
    x, gamma, beta, eps = _norm_args(x, gamma, beta, eps)
    return _call("layer_norm_forward", x, gamma, beta, eps)


def layer_norm_backward(cache: LayerNormCache, dy: Any) -> tuple[Array, Array, Array]:
    """Gradients of ``layer_norm_forward``.  dy: [...,F] like x.  Returns (dx, dgamma, dbeta)."""
    cache = _norm_cache(cache, LayerNormCache, "layer_norm_forward")
    dy = as_float_array("dy", dy, cache.xhat.dtype)
    check_shape("dy", dy, cache.xhat.shape, "x.shape")
    return _call("layer_norm_backward", cache, dy)


def batch_norm_forward(x: Any, gamma: Any, beta: Any, *, eps: float) -> tuple[Array, Array, Array, BatchNormCache]:
    """Batch normalization in training mode over every axis but the last (the features).

    x: [...,F] with at least one row (N = x.size / F >= 1); gamma, beta: [F].
    y = (x - mean) / sqrt(var + eps) * gamma + beta with mean and the biased var of each
    feature over the N rows, taken in float64.  Returns (y [...,F], mean [F], var [F], cache).
    Running averages are the caller's: torch updates its running_var with the unbiased
    var * N / (N - 1).
    """
    x, gamma, beta, eps = _norm_args(x, gamma, beta, eps)
    if x.size == 0:
        raise ValueError(f"x must have at least one row to normalize over (the axes before the last), got {x.shape}")
    return _call("batch_norm_forward", x, gamma, beta, eps)


def batch_norm_backward(cache: BatchNormCache, dy: Any) -> tuple[Array, Array, Array]:
    """Gradients of ``batch_norm_forward`` (training mode).  dy: [...,F] like x.  Returns (dx, dgamma, dbeta)."""
    cache = _norm_cache(cache, BatchNormCache, "batch_norm_forward")
    dy = as_float_array("dy", dy, cache.xhat.dtype)
    check_shape("dy", dy, cache.xhat.shape, "x.shape")
    return _call("batch_norm_backward", cache, dy)


# ---------------------------------------------------------------- Conv1D (channels last, Keras layout)


def _padding(padding: Any) -> tuple[int, int]:
    message = f"padding must be a pair (left, right) of non-negative ints, got {padding!r}"
    if not isinstance(padding, (tuple, list)) or len(padding) != 2:
        raise TypeError(message)
    for p in padding:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
            raise TypeError(message)
        if p < 0:
            raise ValueError(message)
        if p > INT64_MAX:
            raise ValueError(f"padding entries must fit in int64 (at most 2**63 - 1), got {padding!r}")
    return int(padding[0]), int(padding[1])


def _conv1d_output_length(T: int, K: int, stride: int, padding: tuple[int, int], dilation: int) -> int:
    return (T + padding[0] + padding[1] - dilation * (K - 1) - 1) // stride + 1


def conv1d_forward(
    x: Any, W: Any, b: Any, *, stride: int = 1, padding: tuple[int, int] = (0, 0), dilation: int = 1
) -> tuple[Array, Conv1DCache]:
    """1-D convolution (cross-correlation, as Keras and PyTorch), channels last.

    x: [B,T,C]; W: [K,C,F] (K taps); b: [F] or None; padding: (left, right) zero steps.
    y[b,o] = b + sum_k xpad[b, o*stride + k*dilation] @ W[k] for o < To,
    To = (T + left + right - dilation*(K-1) - 1) // stride + 1 (at least 1).
    Keras's padding="same" with stride 1 is left = dilation*(K-1) // 2 and right the rest;
    "causal" is left = dilation*(K-1), right = 0.  Returns (y [B,To,F], cache).
    """
    x = as_float_array("x", x, ndim=3)
    B, T, C = x.shape
    W = as_float_array("W", W, x.dtype)
    if W.ndim != 3 or W.shape[1] != C or W.shape[0] < 1:
        raise ValueError(f"W must have shape (K, C, F) with K >= 1 and C = {C}, got {W.shape}")
    K, _, F = W.shape
    if b is not None:
        b = as_float_array("b", b, x.dtype)
        check_shape("b", b, (F,), "(F,)")
    stride = as_int("stride", stride, 1)
    dilation = as_int("dilation", dilation, 1)
    padding = _padding(padding)
    if T + padding[0] + padding[1] > INT64_MAX:
        raise ValueError(f"T + left + right must fit in int64, got {T} + {padding[0]} + {padding[1]}")
    To = _conv1d_output_length(T, K, stride, padding, dilation)
    if To < 1:
        span = dilation * (K - 1) + 1
        raise ValueError(
            f"x is too short: T + left + right = {T} + {padding[0]} + {padding[1]} = {T + sum(padding)} steps, "
            f"fewer than the dilated kernel's dilation*(K-1)+1 = {span} (output length {To})"
        )
    check_output_size("y", (B, To, F), x.dtype)
    return _call("conv1d_forward", x, W, b, stride, padding, dilation)


def conv1d_backward(cache: Conv1DCache, dy: Any) -> tuple[Array, Array, Array | None]:
    """Gradients of ``conv1d_forward``.  dy: [B,To,F].  Returns (dx [B,T,C], dW [K,C,F], db [F] or None
    when the forward had no bias)."""
    cache = _conv1d_cache(cache)
    B, T, _ = cache.x.shape
    K, _, F = cache.W.shape
    To = _conv1d_output_length(T, K, cache.stride, cache.padding, cache.dilation)
    dy = as_float_array("dy", dy, cache.x.dtype)
    check_shape("dy", dy, (B, To, F), "(B, To, F)")
    return _call("conv1d_backward", cache, dy)


# ---------------------------------------------------------------- audio

_WINDOWS = ("hann", "hamming", "boxcar")


def spectrogram_window(window: Any, nfft: int) -> Array:
    """The analysis window as float64 [nfft]: "hann" and "hamming" in scipy's periodic (DFT-even) form,
    "boxcar", or an array of nfft values (``np.hanning(nfft)`` gives matplotlib's symmetric window)."""
    if isinstance(window, str):
        n = np.arange(nfft, dtype=np.float64)
        if window == "hann":
            return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / nfft)
        if window == "hamming":
            return 0.54 - 0.46 * np.cos(2.0 * np.pi * n / nfft)
        if window == "boxcar":
            return np.ones(nfft)
        raise ValueError(f"window must be one of {_WINDOWS} or an array of nfft={nfft} values, got {window!r}")
    if window is None:
        raise TypeError(f"window must be one of {_WINDOWS} or an array of nfft={nfft} values, got None")
    w = np.asarray(window)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"window must be a name or a real array, got dtype {w.dtype}")
    if w.shape != (nfft,):
        raise ValueError(f"window must have shape (nfft,) = ({nfft},), got {w.shape}")
    w = native(w, np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("window must be finite")
    if not np.any(w):
        raise ValueError("window must not be all zeros")
    return w


def spectrogram(x: Any, nfft: int = 200, noverlap: int = 120, fs: float = 8000.0, window: Any = "hann") -> Array:
    """One-sided power spectral density of x's frames, time-major.

    x: [L] or [B,L] float32/float64 samples -> [T,F] or [B,T,F] in x's dtype, T = (L - noverlap) // (nfft - noverlap)
    frames (a last partial frame is dropped), F = nfft // 2 + 1 bins.  Equal to ``scipy.signal.spectrogram(x, fs,
    window, nperseg=nfft, noverlap=noverlap, detrend=False, scaling="density", mode="psd")[2]`` transposed to
    time-major; the course's defaults (nfft=200, noverlap=120, fs=8000) give 5511 x 101 for 10 s at 44.1 kHz.
    """
    x = as_float_array("x", x)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape [L] or [B,L], got {x.shape}")
    nfft = as_int("nfft", nfft)
    if nfft < 2:
        raise ValueError(f"nfft must be at least 2, got {nfft}")
    noverlap = as_int("noverlap", noverlap)
    if not 0 <= noverlap < nfft:
        raise ValueError(f"noverlap must be in [0, nfft={nfft}), got {noverlap}")
    fs = as_real("fs", fs, 0.0)
    if not 0.0 < fs < math.inf:
        raise ValueError(f"fs must be positive and finite, got {fs}")
    L = x.shape[-1]
    if L < nfft:  # checked before the window is built: nfft is then no larger than an array that exists
        raise ValueError(f"x must have at least nfft={nfft} samples along its last axis, got {L}")
    w = spectrogram_window(window, nfft)
    with np.errstate(over="ignore", under="ignore"):
        power = float(np.dot(w, w))
    divisor = fs * power
    scale = 1.0 / divisor if 0.0 < divisor < math.inf else 0.0
    if not 0.0 < scale < math.inf:  # a window of tiny or huge values: the density's divisor under- or overflows
        raise ValueError(f"fs * sum(window**2) must be positive and finite with a finite inverse, got {fs} * {power}")
    out = _call("spectrogram", x.reshape(-1, L), w, noverlap, scale)
    return out[0] if x.ndim == 1 else out


# ---------------------------------------------------------------- attention (fused scaled dot-product) and GELU


def _attention_mask(mask: Any, full: tuple[int, int, int, int]) -> Array | None:
    """The mask as a C-contiguous bool [mb,mh,mq,mk] array, each dim 1 or the full size (never broadcast out)."""
    if mask is None:
        return None
    arr = as_array(mask)
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"mask must be a boolean array (True = may attend), got dtype {arr.dtype}")
        if not ((arr == 0) | (arr == 1)).all():
            raise ValueError("mask must be boolean (True = may attend) or hold only 0 and 1")
        arr = arr != 0
    letters = "[B,h,Lq,Lk]"
    if arr.ndim > 4 or arr.ndim == 0:
        raise ValueError(f"mask of shape {arr.shape} does not broadcast to {letters} = {full}")
    shape = (1,) * (4 - arr.ndim) + arr.shape
    if any(m not in (1, n) for m, n in zip(shape, full)):
        raise ValueError(f"mask of shape {arr.shape} does not broadcast to {letters} = {full}")
    return native(arr.reshape(shape))


def _attention_seed(dropout: float, seed: Any) -> int:
    if dropout == 0.0:
        return 0
    if seed is None:
        return int(_config.rng().integers(0, 2**63))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    return int(seed)


def attention_forward(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    causal: bool = False,
    scale: float | None = None,
    dropout: float = 0.0,
    seed: int | None = None,
) -> tuple[Array, AttentionCache]:
    """Fused scaled dot-product attention: softmax(q k^T * scale, masked) v, FlashAttention-style.

    q: [B,h,Lq,d]; k: [B,h,Lk,d]; v: [B,h,Lk,dv] (one float dtype).  mask: boolean, True = may attend,
    broadcastable to [B,h,Lq,Lk] with every dim 1 or full (0/1 numbers are accepted).  causal: query i sees
    keys j <= i (top-left aligned, as torch's is_causal), combined with mask.  scale: 1/sqrt(d) by default.
    dropout: probability of dropping each attention weight (the rest scaled by 1/(1-dropout)); its keep mask
    is a hash of ``seed`` and the element's index (seqcore's generator draws a seed when None), so the backward
    regenerates it.  A query row with no key it may attend gives zeros (not NaN).
    Returns (out [B,h,Lq,dv], cache); cache.lse [B,h,Lq] is the log-sum-exp of each row's scores.
    """
    q = as_float_array("q", q, ndim=4)
    k = as_float_array("k", k, q.dtype, ndim=4)
    v = as_float_array("v", v, q.dtype, ndim=4)
    B, h, Lq, d = q.shape
    if k.shape[:2] != (B, h) or k.shape[3] != d:
        raise ValueError(f"k must have shape [B,h,Lk,d] = ({B}, {h}, Lk, {d}) to match q {q.shape}, got {k.shape}")
    Lk = k.shape[2]
    if v.shape[:3] != (B, h, Lk):
        raise ValueError(f"v must have shape [B,h,Lk,dv] = ({B}, {h}, {Lk}, dv) to match k {k.shape}, got {v.shape}")
    if d == 0 or v.shape[3] == 0 or Lk == 0:
        raise ValueError(f"attention needs d, dv and Lk >= 1, got q {q.shape}, k {k.shape}, v {v.shape}")
    mask = _attention_mask(mask, (B, h, Lq, Lk))
    causal = as_flag("causal", causal)
    scale = 1.0 / math.sqrt(d) if scale is None else as_real("scale", scale)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    dropout = as_real("dropout", dropout, 0.0, 1.0, open_high=True)
    seed = _attention_seed(dropout, seed)
    out, lse = _call("attention_forward", q, k, v, mask, causal, scale, dropout, seed)
    return out, AttentionCache(q, k, v, out, lse, mask, causal, scale, dropout, seed)


def attention_backward(cache: AttentionCache, dout: Any) -> tuple[Array, Array, Array]:
    """Gradients of ``attention_forward``: dout [B,h,Lq,dv] -> (dq, dk, dv), recomputed tile by tile from the cache."""
    _check_cache(cache, AttentionCache, "attention_forward")
    q = as_float_array("cache.q", cache.q, ndim=4)
    dt = q.dtype
    k = as_float_array("cache.k", cache.k, dt, ndim=4)
    v = as_float_array("cache.v", cache.v, dt, ndim=4)
    B, h, Lq, d = q.shape
    Lk, dv = k.shape[2], v.shape[3]
    if k.shape != (B, h, Lk, d):
        raise ValueError(f"cache.k must have shape [B,h,Lk,d] = ({B}, {h}, Lk, {d}) to match cache.q, got {k.shape}")
    if v.shape != (B, h, Lk, dv):
        raise ValueError(f"cache.v must have shape [B,h,Lk,dv] = ({B}, {h}, {Lk}, dv) to match cache.k, got {v.shape}")
    out = as_float_array("cache.out", cache.out, dt)
    check_shape("cache.out", out, (B, h, Lq, dv), "[B,h,Lq,dv]")
    lse = as_float_array("cache.lse", cache.lse, dt)
    check_shape("cache.lse", lse, (B, h, Lq), "[B,h,Lq]")
    mask = _attention_mask(cache.mask, (B, h, Lq, Lk))
    dout = as_float_array("dout", dout, dt)
    check_shape("dout", dout, (B, h, Lq, dv), "[B,h,Lq,dv]")
    dropout = as_real("cache.dropout", cache.dropout, 0.0, 1.0, open_high=True)
    seed = _attention_seed(dropout, cache.seed) if dropout else 0
    scale = as_real("cache.scale", cache.scale)
    causal = as_flag("cache.causal", cache.causal)
    return _call("attention_backward", q, k, v, out, lse, mask, causal, scale, dropout, seed, dout)


def _gelu_mode(approximate: Any) -> bool:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' (exact, erf) or 'tanh', got {approximate!r}")
    return approximate == "tanh"


def gelu_forward(x: Any, *, approximate: str = "none") -> Array:
    """GELU: x * Phi(x) ('none', with erf) or its tanh form ('tanh'), torch's definitions.  x: any shape."""
    tanh_form = _gelu_mode(approximate)
    return _call("gelu_forward", as_float_array("x", x), tanh_form)


def gelu_backward(x: Any, dy: Any, *, approximate: str = "none") -> Array:
    """Gradient of ``gelu_forward`` (the forward's input is its cache): dy shaped like x -> dx."""
    tanh_form = _gelu_mode(approximate)
    x = as_float_array("x", x)
    dy = as_float_array("dy", dy, x.dtype)
    check_shape("dy", dy, x.shape, "x.shape")
    return _call("gelu_backward", x, dy, tanh_form)
