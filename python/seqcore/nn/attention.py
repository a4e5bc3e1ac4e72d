"""Multi-head attention (Keras's layer, weights and call) and the Transformer's helpers: positional encoding, masks.

``MultiHeadAttention`` runs as ONE tape node: one GEMM per projection over all B*L rows, heads split and merged by a
reshape and one transposing copy each, and the fused attention kernel (``kernels.attention_forward``) in between, so
a training step never materialises the [B,h,Lq,Lk] probabilities.  The probabilities are computed only on request
(``return_attention_scores=True``, or reading a lazy ``AttentionScores``), without gradient, from the projected
queries and keys the call kept.

Masks are booleans, True = may attend (Keras's convention; torch's ``attn_mask`` is the opposite).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .. import _config, kernels
from ..autograd import Tensor
from ..autograd import tensor as ops
from ..autograd.tensor import to_host, xp_of
from . import initializers
from .core import cast_input
from .layer import KerasTensor, Layer, format_shape, to_tensor
from .serialization import register_layer

# ---------------------------------------------------------------- positional encoding and masks


def positional_encoding(max_len: int, d_model: int, dtype: Any = None) -> np.ndarray:
    """Sinusoidal positions [1, max_len, d_model]: angle = pos / 10000**(2*(i//2)/d_model), sin on even i, cos on odd.

    ``dtype``: float32 or float64 (default: ``seqcore.floatx()``).
    """
    for arg, value in (("max_len", max_len), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"positional_encoding: {arg} must be a positive int, got {value!r}")
    dt = _config.resolve_dtype(dtype)
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    i = np.arange(d_model)
    angles = pos / np.power(10000.0, (2 * (i // 2)) / d_model)[None, :]
    out = np.where(i % 2 == 0, np.sin(angles), np.cos(angles))
    return out[None].astype(dt)


def create_padding_mask(seq: Any, pad: Any = 0) -> np.ndarray:
    """bool [B, 1, L]: True where ``seq`` [B, L] (token ids) is not ``pad`` (a key that may be attended).

    Broadcasts as an ``attention_mask`` [B, Lq, Lk]; combine with ``create_look_ahead_mask`` by ``&``.
    """
    ids = np.asarray(seq.data if isinstance(seq, Tensor) else seq)
    if ids.ndim != 2:
        raise ValueError(f"create_padding_mask: seq must be [B, L] token ids, got shape {ids.shape}")
    return (ids != pad)[:, None, :]


def create_look_ahead_mask(size: int) -> np.ndarray:
    """bool [1, size, size]: query i may attend key j iff j <= i (the lower triangle, diagonal included)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"create_look_ahead_mask: size must be a positive int, got {size!r}")
    return np.tri(int(size), dtype=bool)[None]


# ---------------------------------------------------------------- attention probabilities (no gradient)


def _attention_probabilities(q: np.ndarray, k: np.ndarray, mask: Any, causal: bool, scale: float) -> np.ndarray:
    """softmax over keys of q k^T * scale where allowed: [B,h,Lq,Lk]; a row with no allowed key is all zeros.

    Zeros (not Keras's uniform row) so the scores agree with what the fused kernel attended.
    """
    q, k = to_host(q), to_host(k)  # read on demand, for plots and tests: on the host
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    allowed = mask
    if causal:
        tri = np.tri(q.shape[2], k.shape[2], dtype=bool)
        allowed = tri if allowed is None else (allowed & tri)
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.exp(s - top)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1)


class AttentionScores:
    """The attention probabilities of one ``MultiHeadAttention`` call, computed the first time they are read.

    Holds the call's projected queries and keys and its mask; ``tensor()`` (or ``numpy()``, ``np.asarray``)
    computes softmax(q k^T * scale, masked) [B,h,Lq,Lk] once, WITHOUT gradient and before dropout (Keras returns
    the scores before dropout too).  ``shape`` is known without computing anything.
    """

    __slots__ = ("_causal", "_k", "_mask", "_q", "_scale", "_value")

    def __init__(self, q: np.ndarray, k: np.ndarray, mask: Any, causal: bool, scale: float) -> None:
        self._q, self._k, self._mask, self._causal, self._scale = q, k, mask, causal, scale
        self._value: Tensor | None = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        B, h, Lq, _ = self._q.shape
        return (B, h, Lq, self._k.shape[2])

    @property
    def dtype(self) -> Any:
        return self._q.dtype

    @property
    def computed(self) -> bool:
        return self._value is not None

    def tensor(self) -> Tensor:
        """The probabilities as a Tensor (no gradient), computed on the first call."""
        if self._value is None:
            p = _attention_probabilities(self._q, self._k, self._mask, self._causal, self._scale)
            self._value = Tensor._wrap(p.astype(self._q.dtype, copy=False))
            self._q = self._k = self._mask = None  # type: ignore[assignment]  (no longer needed)
        return self._value

    def numpy(self) -> np.ndarray:
        return self.tensor().data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        state = "computed" if self.computed else "not computed yet"
        return f"<AttentionScores shape={format_shape(self.shape)} ({state})>"


class AttentionWeights(Mapping):
    """A read-only mapping name -> attention probabilities (Tensor [B,h,Lq,Lk]), each computed on first read.

    Iterating over the keys (or ``len``) computes nothing; ``weights[key]`` computes that layer's scores once.
    """

    def __init__(self, scores: dict[str, AttentionScores]) -> None:
        self._scores = dict(scores)

    def __getitem__(self, key: str) -> Tensor:
        return self._scores[key].tensor()

    def __iter__(self) -> Iterator[str]:
        return iter(self._scores)

    def __len__(self) -> int:
        return len(self._scores)

    def lazy(self, key: str) -> AttentionScores:
        """The lazy handle behind ``key`` (its ``shape`` without computing the scores)."""
        return self._scores[key]

    def __repr__(self) -> str:
        items = ", ".join(f"{k!r}: {format_shape(v.shape)}" for k, v in self._scores.items())
        return f"AttentionWeights({{{items}}})"


# ---------------------------------------------------------------- MultiHeadAttention


class _KeywordCall:
    """Positional call arguments bound to ``call``'s parameter names (the course passes ``training`` positionally).

    ``Layer._eager_call`` fills ``training`` as a keyword, which would clash with a positional one.
    """

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            names = self._call_arg_names()
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__}: at most {len(names) + 1} arguments, got {len(args) + 1}")
            for name, value in zip(names, args):
                if name in kwargs:
                    raise TypeError(f"{type(self).__name__}: got multiple values for argument {name!r}")
                kwargs[name] = value
        return super().__call__(inputs, **kwargs)  # type: ignore[misc]

    @classmethod
    def _call_arg_names(cls) -> tuple[str, ...]:
        cached = cls.__dict__.get("_call_names")
        if cached is None:
            code = cls.call.__code__  # type: ignore[attr-defined]
            cached = tuple(code.co_varnames[2 : code.co_argcount])  # after self and the first input
            cls._call_names = cached  # type: ignore[attr-defined]
        return cached


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _split_heads(x2: np.ndarray, B: int, L: int, h: int, d: int) -> np.ndarray:
    """[B*L, h*d] -> [B,h,L,d] (one transposing copy)."""
    return xp_of(x2).ascontiguousarray(x2.reshape(B, L, h, d).transpose(0, 2, 1, 3))


def _merge_heads(x4: np.ndarray) -> np.ndarray:
    """[B,h,L,d] -> [B*L, h*d] (one transposing copy)."""
    B, h, L, d = x4.shape
    out = xp_of(x4).empty((B, L, h, d), dtype=x4.dtype)
    out[...] = x4.transpose(0, 2, 1, 3)
    return out.reshape(B * L, h * d)


def _implicit_mask(t: Any) -> Any:
    return t._mask if isinstance(t, Tensor) else None


@register_layer
class MultiHeadAttention(_KeywordCall, Layer):
    """Keras's MultiHeadAttention: ``mha(query, value, key=None, attention_mask=None, ...)``.

    query [B,Lq,Dq], value [B,Lk,Dv], key [B,Lk,Dk] (default: value) -> output [B,Lq,Dout] (Dout: ``output_shape``,
    default Dq), and with ``return_attention_scores=True`` also the probabilities [B,h,Lq,Lk] (a Tensor computed
    without gradient, before dropout).  Weights in Keras's layout and order: query kernel [Dq,h,key_dim] and bias
    [h,key_dim], key kernel [Dk,h,key_dim] and bias, value kernel [Dv,h,value_dim] and bias, output kernel
    [h,value_dim,Dout] and bias [Dout].  Scores are scaled by 1/sqrt(key_dim).

    attention_mask: bool (or 0/1), True = may attend, [B,Lq,Lk] or anything broadcasting to it (e.g. [B,1,Lk] from
    ``create_padding_mask``), or 4-D [B|1, h|1, Lq|1, Lk].  use_causal_mask: query i sees keys j <= i (AND-ed with
    the mask).  Implicit masks (``Embedding(mask_zero=True)``) on query and value/key are combined as Keras does.
    A query row with no key it may attend outputs the output bias alone (its attention is zero; Keras would average
    every key there).  dropout: on the attention probabilities while training (the fused kernel's counter-hash mask,
    its seed drawn from seqcore's generator).
    """

    supports_masking = True

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_heads = _positive_int("MultiHeadAttention", "num_heads", num_heads)
        self.key_dim = _positive_int("MultiHeadAttention", "key_dim", key_dim)
        value_dim = key_dim if value_dim is None else value_dim
        self.value_dim = _positive_int("MultiHeadAttention", "value_dim", value_dim)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            dims = (output_shape,) if isinstance(output_shape, (int, np.integer)) else tuple(output_shape)
            if len(dims) != 1:
                raise ValueError(f"MultiHeadAttention: output_shape must be an int (features), got {output_shape!r}")
            output_shape = _positive_int("MultiHeadAttention", "output_shape", dims[0])
        self.output_shape = output_shape
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._dims: tuple[int, int, int] | None = None  # (Dq, Dv, Dk) once the weights exist

    # ---- weights
    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        """Create the weights for these feature sizes; with the query's shape alone, wait for the first call."""
        if value_shape is None:
            return  # Layer._maybe_build knows only the query: the value's features come with the call
        key_shape = value_shape if key_shape is None else key_shape
        dims = []
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if not isinstance(shape, tuple) or len(shape) != 3 or shape[-1] is None:
                raise self.incompatible(shape, f"{arg} of shape [B, L, D] with a known D")
            dims.append(int(shape[-1]))
        self._create_weights(*dims)
        self.built = True

    def _create_weights(self, Dq: int, Dv: int, Dk: int) -> None:
        if self._dims is not None:
            return
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        Dout = self.output_shape or Dq
        ki, bi = self.kernel_initializer, self.bias_initializer
        self.query_kernel = self.add_weight("query/kernel", (Dq, h, kd), ki)
        self.query_bias = self.add_weight("query/bias", (h, kd), bi) if self.use_bias else None
        self.key_kernel = self.add_weight("key/kernel", (Dk, h, kd), ki)
        self.key_bias = self.add_weight("key/bias", (h, kd), bi) if self.use_bias else None
        self.value_kernel = self.add_weight("value/kernel", (Dv, h, vd), ki)
        self.value_bias = self.add_weight("value/bias", (h, vd), bi) if self.use_bias else None
        self.output_kernel = self.add_weight("attention_output/kernel", (h, vd, Dout), ki)
        self.output_bias = self.add_weight("attention_output/bias", (Dout,), bi) if self.use_bias else None
        self._dims = (Dq, Dv, Dk)

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise self.incompatible(input_shape, "a query of shape [B, Lq, D]")
        if self._dims is not None and input_shape[-1] != self._dims[0]:
            raise self.incompatible(input_shape, f"axis -1 of the query to have value {self._dims[0]}")

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        value = kwargs.get("value", args[0] if args else None)
        key = kwargs.get("key", args[1] if len(args) > 1 else None)
        if isinstance(inputs, KerasTensor) and isinstance(value, KerasTensor):
            self.build(inputs.shape, value.shape, key.shape if isinstance(key, KerasTensor) else None)
        return super()._symbolic_call(inputs, args, kwargs)

    def compute_output_shape(self, input_shape: Any, return_attention_scores: bool = False) -> Any:
        out = (input_shape[0], input_shape[1], self.output_shape or input_shape[-1])
        if return_attention_scores:
            return [out, (input_shape[0], self.num_heads, input_shape[1], None)]
        return out

    # ---- calling
    def call(
        self,
        query: Tensor,
        value: Any = None,
        key: Any = None,
        attention_mask: Any = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Any:
        if value is None:
            raise TypeError(f"MultiHeadAttention '{self.name}': value is required: mha(query, value, key=None, ...)")
        out, scores = self.attend(
            query,
            value,
            key,
            attention_mask=attention_mask,
            training=bool(training),
            use_causal_mask=use_causal_mask,
        )
        if return_attention_scores:
            return out, scores.tensor()
        return out

    def attend(
        self,
        query: Any,
        value: Any,
        key: Any = None,
        *,
        attention_mask: Any = None,
        training: bool = False,
        use_causal_mask: bool = False,
    ) -> tuple[Tensor, AttentionScores]:
        """The output and the LAZY attention probabilities (nothing computed until read): what the Transformer's
        layers use so that training never pays for scores nobody reads."""
        same_kv = key is None or key is value
        q_is_v = value is query
        query_t = cast_input(to_tensor(query), self.dtype)
        value_t = query_t if q_is_v else cast_input(to_tensor(value), self.dtype)
        key_t = value_t if same_kv else cast_input(to_tensor(key), self.dtype)
        for arg, t in (("query", query_t), ("value", value_t), ("key", key_t)):
            if t.ndim != 3:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': {arg} must have shape [B, L, D], got {format_shape(t.shape)}"
                )
        B, Lq, Dq = query_t.shape
        if value_t.shape[0] != B or key_t.shape[0] != B:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': query, value and key must have the same batch size, got "
                f"{query_t.shape[0]}, {value_t.shape[0]} and {key_t.shape[0]}"
            )
        Lk = value_t.shape[1]
        if key_t.shape[1] != Lk:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': key and value must have the same length, got key "
                f"{format_shape(key_t.shape)} and value {format_shape(value_t.shape)}"
            )
        if self._dims is None:
            self._create_weights(Dq, value_t.shape[2], key_t.shape[2])
        for arg, t, D in zip(("query", "value", "key"), (query_t, value_t, key_t), self._dims):  # type: ignore[arg-type]
            if t.shape[2] != D:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': {arg} must have {D} features (axis -1), got "
                    f"{format_shape(t.shape)}"
                )
        mask = self._mask(attention_mask, query, value, key, B, Lq, Lk)
        return _mha(self, query_t, value_t, key_t, mask, bool(use_causal_mask), training and self.dropout > 0)

    def _mask(self, attention_mask: Any, query: Any, value: Any, key: Any, B: int, Lq: int, Lk: int) -> Any:
        """The attention mask as a bool [B|1, h|1, Lq|1, Lk|1] array (or None), implicit masks included."""
        h = self.num_heads
        mask = None
        if attention_mask is not None:
            # Masks stay on the host (small; the kernels layer moves them to the queries' device).
            arr = to_host(attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask)
            if arr.dtype != np.bool_:
                if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
                    raise ValueError(
                        f"MultiHeadAttention '{self.name}': attention_mask must be boolean (True = may attend) or "
                        f"0/1, got dtype {arr.dtype}"
                    )
                arr = arr != 0
            if arr.ndim <= 3:
                shape4 = (*((1,) * (3 - arr.ndim)), *arr.shape)
                shape4 = (shape4[0], 1, shape4[1], shape4[2])
            elif arr.ndim == 4:
                shape4 = arr.shape
            else:
                shape4 = ()
            if arr.ndim == 0 or len(shape4) != 4 or any(m not in (1, n) for m, n in zip(shape4, (B, h, Lq, Lk))):
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': attention_mask of shape {arr.shape} does not broadcast to "
                    f"[B, Lq, Lk] = ({B}, {Lq}, {Lk}) (or [B, h, Lq, Lk] = ({B}, {h}, {Lq}, {Lk}))"
                )
            mask = arr.reshape(shape4)
        q_mask = _implicit_mask(query)
        v_mask = _implicit_mask(value)
        k_mask = _implicit_mask(key) if key is not None else None
        auto = None
        if q_mask is not None and np.shape(q_mask) == (B, Lq):
            auto = to_host(q_mask).astype(bool)[:, None, :, None]
        for m in (v_mask, k_mask):
            if m is not None and np.shape(m) == (B, Lk):
                m4 = to_host(m).astype(bool)[:, None, None, :]
                auto = m4 if auto is None else auto & m4
        if auto is not None:
            mask = auto if mask is None else mask & auto
        return mask

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_shape,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


def _project(x2: np.ndarray, kernel: Tensor, bias: Tensor | None) -> np.ndarray:
    out = x2 @ kernel.data.reshape(x2.shape[1], -1)
    if bias is not None:
        out += bias.data.reshape(-1)
    return out


def _mha(
    layer: MultiHeadAttention,
    query: Tensor,
    value: Tensor,
    key: Tensor,
    mask: Any,
    causal: bool,
    dropout: bool,
) -> tuple[Tensor, AttentionScores]:
    """The whole layer as one tape node: projections, fused attention, output projection; hand-written backward."""
    h, kd, vd = layer.num_heads, layer.key_dim, layer.value_dim
    B, Lq, Dq = query.shape
    Lk = value.shape[1]
    Wq, Wk, Wv, Wo = layer.query_kernel, layer.key_kernel, layer.value_kernel, layer.output_kernel
    bq, bk, bv, bo = layer.query_bias, layer.key_bias, layer.value_bias, layer.output_bias
    Dout = Wo.shape[2]
    xq = query.data.reshape(B * Lq, Dq)
    xv = xq if value is query else value.data.reshape(B * Lk, value.shape[2])
    xk = xv if key is value else key.data.reshape(B * Lk, key.shape[2])
    q4 = _split_heads(_project(xq, Wq, bq), B, Lq, h, kd)
    k4 = _split_heads(_project(xk, Wk, bk), B, Lk, h, kd)
    v4 = _split_heads(_project(xv, Wv, bv), B, Lk, h, vd)
    scale = 1.0 / math.sqrt(kd)
    p = layer.dropout if dropout else 0.0
    seed = int(_config.rng().integers(0, 2**63)) if p > 0 else None
    o4, cache = kernels.attention_forward(q4, k4, v4, mask=mask, causal=causal, scale=scale, dropout=p, seed=seed)
    m2 = _merge_heads(o4)  # [B*Lq, h*vd]
    out2 = m2 @ Wo.data.reshape(h * vd, Dout)
    if bo is not None:
        out2 += bo.data
    scores = AttentionScores(q4, k4, cache.mask, causal, scale)

    # distinct input tensors (self-attention passes x once) and, per projection, which one it reads
    xs: list[Tensor] = [query]
    for t in (value, key):
        if all(t is not s for s in xs):
            xs.append(t)
    which = [next(i for i, s in enumerate(xs) if s is t) for t in (query, key, value)]
    weights = [w for w in (Wq, bq, Wk, bk, Wv, bv, Wo, bo) if w is not None]
    x2s = (xq, xk, xv)

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = g.reshape(B * Lq, Dout)
        Wo2 = Wo.data.reshape(h * vd, Dout)
        grads: dict[int, Any] = {}
        if Wo.requires_grad:
            grads[id(Wo)] = (m2.T @ g2).reshape(Wo.shape)
        if bo is not None and bo.requires_grad:
            grads[id(bo)] = g2.sum(axis=0)
        do4 = _split_heads(g2 @ Wo2.T, B, Lq, h, vd)
        dq4, dk4, dv4 = kernels.attention_backward(cache, do4)
        dxs: list[Any] = [None] * len(xs)
        for (W, b), d4, x2, src in zip(((Wq, bq), (Wk, bk), (Wv, bv)), (dq4, dk4, dv4), x2s, which):
            d2 = _merge_heads(d4)
            if W.requires_grad:
                grads[id(W)] = (x2.T @ d2).reshape(W.shape)
            if b is not None and b.requires_grad:
                grads[id(b)] = d2.sum(axis=0).reshape(b.shape)
            if xs[src].requires_grad:
                dx = d2 @ W.data.reshape(W.shape[0], -1).T
                if dxs[src] is None:
                    dxs[src] = dx
                else:
                    dxs[src] += dx
        dx_out = [None if d is None else d.reshape(t.shape) for d, t in zip(dxs, xs)]
        return (*dx_out, *(grads.get(id(w)) for w in weights))

    out = ops.make(out2.reshape(B, Lq, Dout), (*xs, *weights), backward)
    return out, scores


__all__ = [
    "AttentionScores",
    "AttentionWeights",
    "MultiHeadAttention",
    "create_look_ahead_mask",
    "create_padding_mask",
    "positional_encoding",
]
