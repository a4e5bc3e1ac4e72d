"""Fused ops: each is one tape node whose forward and backward are ``seqcore.kernels`` calls.

A 100-step LSTM is one node here, not 100: the kernel runs the whole recurrence forward,
keeps its cache, and the node's backward hands that cache to the matching backward
kernel.  Inputs that need no gradient (raw data, frozen weights) are passed through as
plain tensors; their gradients are computed by the kernel anyway and dropped.
"""

from __future__ import annotations

from typing import Any

from .. import _config, kernels
from .tensor import Tensor, as_tensor, make, make_many, xp_of


def _data(t: Any) -> Any:
    return t.data if isinstance(t, Tensor) else t


def linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """x @ W + b over the last axis of x [...,D], W [D,U], b [U]: one GEMM over all leading rows."""
    D = W.shape[0]
    if x.shape[-1] != D:
        raise ValueError(f"linear: x has {x.shape[-1]} features on its last axis, W expects {D}")
    lead = x.shape[:-1]
    x2 = x.data.reshape(-1, D)
    out = x2 @ W.data
    if b is not None:
        out += b.data
    out = out.reshape((*lead, W.shape[1]))
    inputs = (x, W) if b is None else (x, W, b)

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = g.reshape(-1, W.shape[1])
        dx = (g2 @ W.data.T).reshape(x.shape) if x.requires_grad else None
        dW = x2.T @ g2 if W.requires_grad else None
        if b is None:
            return dx, dW
        return dx, dW, (g2.sum(axis=0) if b.requires_grad else None)

    return make(out, inputs, backward)


def embedding(weights: Tensor, ids: Any) -> Tensor:
    """Rows ``weights[ids]``; the gradient scatter-adds back into the table (one kernel each way)."""
    idx = _data(ids)
    V = weights.shape[0]
    out = kernels.embedding_forward(weights.data, idx)
    return make(out, (weights,), lambda g: (kernels.embedding_backward(idx, g, V),))


def lstm(
    x: Tensor, h0: Tensor, c0: Tensor, W: Tensor, U: Tensor, b: Tensor, *, lengths: Any = None, reverse: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """A whole-sequence LSTM (kernels.lstm_forward) as one node: returns y [B,T,H], hT, cT [B,H]."""
    y, hT, cT, cache = kernels.lstm_forward(
        x.data, h0.data, c0.data, W.data, U.data, b.data, lengths=lengths, reverse=reverse
    )

    def backward(dy: Any, dh: Any, dc: Any) -> tuple[Any, ...]:
        return kernels.lstm_backward(cache, dy, dh, dc)

    return make_many((y, hT, cT), (x, h0, c0, W, U, b), backward)


def gru(
    x: Tensor,
    h0: Tensor,
    W: Tensor,
    U: Tensor,
    b: Tensor,
    *,
    reset_after: bool = True,
    lengths: Any = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """A whole-sequence GRU (kernels.gru_forward, Keras gate order) as one node: y [B,T,H], hT [B,H]."""
    y, hT, cache = kernels.gru_forward(
        x.data, h0.data, W.data, U.data, b.data, reset_after=reset_after, lengths=lengths, reverse=reverse
    )
    return make_many((y, hT), (x, h0, W, U, b), lambda dy, dh: kernels.gru_backward(cache, dy, dh))


def rnn(
    x: Tensor, h0: Tensor, W: Tensor, U: Tensor, b: Tensor, *, lengths: Any = None, reverse: bool = False
) -> tuple[Tensor, Tensor]:
    """A whole-sequence tanh RNN (kernels.rnn_forward) as one node: y [B,T,H], hT [B,H]."""
    y, hT, cache = kernels.rnn_forward(x.data, h0.data, W.data, U.data, b.data, lengths=lengths, reverse=reverse)
    return make_many((y, hT), (x, h0, W, U, b), lambda dy, dh: kernels.rnn_backward(cache, dy, dh))


def softmax_cross_entropy(logits: Tensor, labels: Any, mask: Any = None) -> Tensor:
    """Per-position cross-entropy of softmax(logits) [...,C] against class ids [...] or targets [...,C].

    ``mask`` [...] (bool or 0/1) zeroes the loss and the gradient at padded positions.  No
    reduction: the caller averages (``seqcore.losses`` divides by the number of real positions).
    Labels are not differentiated.
    """
    loss, cache = kernels.softmax_cross_entropy(logits.data, _data(labels))
    if mask is None:
        return make(loss, (logits,), lambda g: (kernels.softmax_cross_entropy_backward(cache, g),))
    m = xp_of(loss).asarray(_data(mask))
    if m.shape != loss.shape:
        raise ValueError(f"softmax_cross_entropy: mask has shape {m.shape}, expected {loss.shape} (logits' without C)")
    m = m.astype(loss.dtype)
    return make(loss * m, (logits,), lambda g: (kernels.softmax_cross_entropy_backward(cache, g * m),))


def conv1d(
    x: Tensor,
    W: Tensor,
    b: Tensor | None = None,
    *,
    stride: int = 1,
    padding: tuple[int, int] = (0, 0),
    dilation: int = 1,
) -> Tensor:
    """Channels-last 1-D convolution (Keras layout): x [B,T,C], W [K,C,F], b [F] -> [B,To,F]."""
    y, cache = kernels.conv1d_forward(
        x.data, W.data, None if b is None else b.data, stride=stride, padding=padding, dilation=dilation
    )
    inputs = (x, W) if b is None else (x, W, b)

    def backward(g: Any) -> tuple[Any, ...]:
        dx, dW, db = kernels.conv1d_backward(cache, g)
        return (dx, dW) if b is None else (dx, dW, db)

    return make(y, inputs, backward)


def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, *, eps: float) -> tuple[Tensor, Any, Any]:
    """Training-mode batch norm over every axis but the last.  Returns (y, batch mean, biased batch var)."""
    y, mu, var, cache = kernels.batch_norm_forward(x.data, gamma.data, beta.data, eps=eps)
    return make(y, (x, gamma, beta), lambda g: kernels.batch_norm_backward(cache, g)), mu, var


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, *, eps: float) -> Tensor:
    """Layer norm over the last axis."""
    y, cache = kernels.layer_norm_forward(x.data, gamma.data, beta.data, eps=eps)
    return make(y, (x, gamma, beta), lambda g: kernels.layer_norm_backward(cache, g))


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Any = None,
    causal: bool = False,
    scale: float | None = None,
    dropout: float = 0.0,
    seed: int | None = None,
) -> Tensor:
    """Fused scaled dot-product attention (``kernels.attention_forward``) as one node: q [B,h,Lq,d],
    k [B,h,Lk,d], v [B,h,Lk,dv] -> [B,h,Lq,dv].  mask: bool, True = may attend, broadcastable to [B,h,Lq,Lk]."""
    out, cache = kernels.attention_forward(
        q.data, k.data, v.data, mask=mask, causal=causal, scale=scale, dropout=dropout, seed=seed
    )
    return make(out, (q, k, v), lambda g: kernels.attention_backward(cache, g))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, exact ('none') or the tanh form ('tanh'), as torch defines them."""
    y = kernels.gelu_forward(x.data, approximate=approximate)
    return make(y, (x,), lambda g: (kernels.gelu_backward(x.data, g, approximate=approximate),))


def dropout(x: Tensor, rate: float, *, noise_shape: Any = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1-rate).

    The mask comes from seqcore's seeded generator; ``noise_shape`` broadcasts one mask over
    axes of size 1 (Keras), e.g. the same mask at every time step.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if rate == 0.0:
        return x
    xp = xp_of(x.data)
    shape = x.shape if noise_shape is None else tuple(x.shape[i] if n is None else n for i, n in enumerate(noise_shape))
    keep = _config.rng().random(shape) >= rate
    mask = xp.asarray(keep, dtype=x.dtype) * x.data.dtype.type(1.0 / (1.0 - rate))
    return make(x.data * mask, (x,), lambda g: (g * mask,))


__all__ = [
    "as_tensor",
    "attention",
    "batch_norm",
    "conv1d",
    "dropout",
    "embedding",
    "gelu",
    "gru",
    "layer_norm",
    "linear",
    "lstm",
    "rnn",
    "softmax_cross_entropy",
]
