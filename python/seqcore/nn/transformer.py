"""The course's Transformer (post-norm): EncoderLayer, DecoderLayer, Encoder, Decoder and Transformer.

Each block is ``LayerNorm(x + Dropout(sublayer(x)))`` (epsilon 1e-6), the sublayers being multi-head attention
(``MultiHeadAttention(num_heads, key_dim, dropout=dropout_rate)``; key_dim defaults to d_model as in the course)
and the feed-forward network ``Dense(dff, relu) -> Dense(d_model)``.  Encoder and Decoder embed token ids, scale
them by sqrt(d_model), add the sinusoidal positions and apply dropout before their N layers.  The Transformer ends in
``Dense(target_vocab)`` and returns LOGITS (apply a softmax, or use a from-logits loss).

Masks are ``attention_mask``s (bool, True = may attend): ``create_padding_mask(ids)`` [B,1,L] for padded keys,
``create_look_ahead_mask(L)`` [1,L,L] for the decoder's self-attention (combine them with ``&``).

The decoder's attention weights come back as a LAZY mapping (``AttentionWeights``): a training step computes no
attention probabilities; reading ``weights["decoder_layer1_block1_self_att"]`` computes that layer's, once, without
gradient, from the projected queries and keys its call kept.  Every layer is built when created (all sizes are
known), so ``Transformer.save`` / ``seqcore.nn.load_model`` and ``save_weights`` / ``load_weights`` work at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import tensor as ops
from ..autograd.tensor import to_host, xp_of
from .attention import AttentionScores, AttentionWeights, MultiHeadAttention, _KeywordCall, positional_encoding
from .core import Dense, Dropout, Embedding
from .layer import Layer, format_shape, to_tensor
from .model import Model
from .normalization import LayerNormalization
from .serialization import register_layer


def _check_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _check_rate(owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{owner}: dropout_rate must be in [0, 1), got {value!r}")
    return float(value)


def _check_eps(owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value) > 0.0:
        raise ValueError(f"{owner}: layernorm_eps must be a positive number, got {value!r}")
    return float(value)


def _sub(layer: Layer, cls: type, *args: Any, **kwargs: Any) -> Any:
    """A sub-layer with the parent's dtype."""
    return cls(*args, dtype=layer.dtype.name, **kwargs)


def _padding_from_implicit(x: Tensor, mask: Any) -> Any:
    """Layer._eager_call hands an input's implicit [B,L] mask to ``mask=``; as an attention mask it is [B,1,L]."""
    if mask is not None and mask is x._mask and np.ndim(mask) == 2:
        return to_host(mask).astype(bool)[:, None, :]  # masks stay on the host; kernels move them
    return mask


class _Block(_KeywordCall, Layer):
    """Shared parts of the encoder and decoder layers: sizes, the feed-forward network, config."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dff: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        if activation not in ("relu", "gelu", "gelu_tanh"):
            raise ValueError(f"{kind}: activation must be 'relu', 'gelu' or 'gelu_tanh', got {activation!r}")
        self.activation = activation
        self.d_model = _check_int(kind, "d_model", d_model)
        self.num_heads = _check_int(kind, "num_heads", num_heads)
        self.dff = _check_int(kind, "dff", dff)
        self.dropout_rate = _check_rate(kind, dropout_rate)
        self.layernorm_eps = _check_eps(kind, layernorm_eps)
        self.key_dim = self.d_model if key_dim is None else _check_int(kind, "key_dim", key_dim)

    def _mha(self) -> MultiHeadAttention:
        mha = _sub(self, MultiHeadAttention, self.num_heads, self.key_dim, dropout=self.dropout_rate)
        shape = (None, None, self.d_model)
        mha.build(shape, shape)
        return mha

    def _built(self, cls: type, *args: Any, **kwargs: Any) -> Any:
        layer = _sub(self, cls, *args, **kwargs)
        layer._maybe_build((None, None, self.d_model))
        return layer

    def _ffn(self) -> tuple[Dense, Dense]:
        first = self._built(Dense, self.dff, activation=self.activation)
        second = _sub(self, Dense, self.d_model)
        second._maybe_build((None, None, self.dff))
        return first, second

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] != self.d_model:
            raise self.incompatible(input_shape, f"[B, L, d_model] with d_model = {self.d_model}")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "dropout_rate": self.dropout_rate,
            "layernorm_eps": self.layernorm_eps,
            "key_dim": self.key_dim,
            "activation": self.activation,
        }


@register_layer
class EncoderLayer(_Block):
    """Self-attention then feed-forward, each as LayerNorm(x + Dropout(sublayer(x))): [B,L,d_model] -> same.

    ``activation`` is the feed-forward network's ('relu' as in the course, 'gelu' as in BERT, or 'gelu_tanh').
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dff: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(d_model, num_heads, dff, dropout_rate, layernorm_eps, key_dim, activation, **kwargs)
        self.mha = self._mha()
        self.ffn_hidden, self.ffn_output = self._ffn()
        self.layernorm1 = self._built(LayerNormalization, epsilon=self.layernorm_eps)
        self.layernorm2 = self._built(LayerNormalization, epsilon=self.layernorm_eps)
        self.dropout1 = _sub(self, Dropout, self.dropout_rate)
        self.dropout_ffn = _sub(self, Dropout, self.dropout_rate)
        self.built = True

    def call(self, x: Tensor, training: bool | None = None, mask: Any = None) -> Tensor:
        """x [B,L,d_model]; mask: the self-attention's attention_mask (e.g. ``create_padding_mask(ids)``)."""
        attn, _ = self.mha.attend(x, x, x, attention_mask=_padding_from_implicit(x, mask), training=bool(training))
        x1 = self.layernorm1(x + self.dropout1(attn, training=training))
        ffn = self.ffn_output(self.ffn_hidden(x1))
        return self.layernorm2(x1 + self.dropout_ffn(ffn, training=training))


@register_layer
class DecoderLayer(_Block):
    """Masked self-attention, attention over the encoder's output, feed-forward; each LayerNorm(x + Dropout(.)).

    ``call(x, enc_output, training, look_ahead_mask, padding_mask)`` -> (out [B,Lt,d_model], block1, block2): the
    two attention blocks' probabilities as lazy ``AttentionScores`` ([B,h,Lt,Lt] and [B,h,Lt,Ls], computed when
    read: ``np.asarray(block1)`` or ``block1.tensor()``).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dff: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(d_model, num_heads, dff, dropout_rate, layernorm_eps, key_dim, activation, **kwargs)
        self.mha1 = self._mha()
        self.mha2 = self._mha()
        self.ffn_hidden, self.ffn_output = self._ffn()
        self.layernorm1 = self._built(LayerNormalization, epsilon=self.layernorm_eps)
        self.layernorm2 = self._built(LayerNormalization, epsilon=self.layernorm_eps)
        self.layernorm3 = self._built(LayerNormalization, epsilon=self.layernorm_eps)
        self.dropout1 = _sub(self, Dropout, self.dropout_rate)
        self.dropout2 = _sub(self, Dropout, self.dropout_rate)
        self.dropout_ffn = _sub(self, Dropout, self.dropout_rate)
        self.built = True

    def call(
        self,
        x: Tensor,
        enc_output: Any = None,
        training: bool | None = None,
        look_ahead_mask: Any = None,
        padding_mask: Any = None,
    ) -> tuple[Tensor, AttentionScores, AttentionScores]:
        if enc_output is None:
            raise TypeError(f"DecoderLayer '{self.name}': enc_output is required: layer(x, enc_output, ...)")
        enc = to_tensor(enc_output)
        if enc.ndim != 3 or enc.shape[0] != x.shape[0] or enc.shape[2] != self.d_model:
            raise ValueError(
                f"DecoderLayer '{self.name}': enc_output must have shape [B, Ls, d_model] = ({x.shape[0]}, Ls, "
                f"{self.d_model}) to match x {format_shape(x.shape)}, got {format_shape(enc.shape)}"
            )
        t = bool(training)
        a1, block1 = self.mha1.attend(x, x, x, attention_mask=look_ahead_mask, training=t)
        q1 = self.layernorm1(x + self.dropout1(a1, training=training))
        a2, block2 = self.mha2.attend(q1, enc, enc, attention_mask=padding_mask, training=t)
        q2 = self.layernorm2(q1 + self.dropout2(a2, training=training))
        ffn = self.ffn_output(self.ffn_hidden(q2))
        return self.layernorm3(q2 + self.dropout_ffn(ffn, training=training)), block1, block2

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class _Stack(_KeywordCall, Layer):
    """Shared parts of Encoder and Decoder: embedding * sqrt(d_model) + positions, dropout, N layers."""

    _layer_cls: type = EncoderLayer
    _layers_attr = "enc_layers"

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        vocab_size: int,
        max_positions: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.num_layers = _check_int(kind, "num_layers", num_layers)
        self.d_model = _check_int(kind, "d_model", d_model)
        self.num_heads = _check_int(kind, "num_heads", num_heads)
        self.dff = _check_int(kind, "dff", dff)
        self.vocab_size = _check_int(kind, "vocab_size", vocab_size)
        self.max_positions = _check_int(kind, "max_positions", max_positions)
        self.dropout_rate = _check_rate(kind, dropout_rate)
        self.layernorm_eps = _check_eps(kind, layernorm_eps)
        self.key_dim = self.d_model if key_dim is None else _check_int(kind, "key_dim", key_dim)
        self.embedding = _sub(self, Embedding, self.vocab_size, self.d_model)
        self.embedding._maybe_build((None, None))
        self._pos_encoding = positional_encoding(self.max_positions, self.d_model, self.dtype)
        self.dropout = _sub(self, Dropout, self.dropout_rate)
        blocks = [
            _sub(
                self,
                self._layer_cls,
                self.d_model,
                self.num_heads,
                self.dff,
                dropout_rate=self.dropout_rate,
                layernorm_eps=self.layernorm_eps,
                key_dim=self.key_dim,
            )
            for _ in range(self.num_layers)
        ]
        setattr(self, self._layers_attr, blocks)  # the course's names: enc_layers / dec_layers
        self.built = True

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 2:
            raise self.incompatible(input_shape, "token ids of shape [B, L]")
        if input_shape[1] is not None and input_shape[1] > self.max_positions:
            raise self.incompatible(input_shape, f"sequences of at most max_positions = {self.max_positions} ids")

    def _embed(self, ids: Tensor, training: bool | None) -> Tensor:
        """dropout(embedding(ids) * sqrt(d_model) + positions[:L]) with the scale and the sum as one tape node."""
        e = self.embedding(ids)
        L = ids.shape[1]
        scale = self.dtype.type(math.sqrt(self.d_model))
        out = e.data * scale
        pe = self._pos_encoding
        if xp_of(pe) is not xp_of(out):  # the model moved to (or from) a GPU: the table follows once
            self._pos_encoding = pe = xp_of(out).asarray(to_host(pe))
        out += pe[:, :L, :]
        x = ops.make(out, (e,), lambda g: (g * scale,))
        return self.dropout(x, training=training)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape, self.d_model)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "max_positions": self.max_positions,
            "dropout_rate": self.dropout_rate,
            "layernorm_eps": self.layernorm_eps,
            "key_dim": self.key_dim,
        }


@register_layer
class Encoder(_Stack):
    """Token ids [B,L] -> [B,L,d_model]: embedding * sqrt(d_model) + positional encoding, dropout, N EncoderLayers."""

    _layer_cls = EncoderLayer
    _layers_attr = "enc_layers"
    enc_layers: list[EncoderLayer]

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        input_vocab_size: int,
        max_positions: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            num_layers, d_model, num_heads, dff, input_vocab_size, max_positions, dropout_rate, layernorm_eps,
            key_dim, **kwargs,
        )  # fmt: skip

    def call(self, x: Tensor, training: bool | None = None, mask: Any = None) -> Tensor:
        """x: token ids [B,L]; mask: the self-attention's attention_mask (e.g. ``create_padding_mask(x)``)."""
        h = self._embed(x, training)
        for layer in self.enc_layers:
            h = layer(h, training=training, mask=mask)
        return h

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_vocab_size": self.vocab_size}


@register_layer
class Decoder(_Stack):
    """Token ids [B,Lt] and the encoder's output [B,Ls,d_model] -> ([B,Lt,d_model], lazy attention weights).

    The weights mapping has keys ``decoder_layer{i+1}_block1_self_att`` and ``decoder_layer{i+1}_block2_decenc_att``
    (the course's); each value is computed the first time it is read.
    """

    _layer_cls = DecoderLayer
    _layers_attr = "dec_layers"
    dec_layers: list[DecoderLayer]

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        target_vocab_size: int,
        max_positions: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            num_layers, d_model, num_heads, dff, target_vocab_size, max_positions, dropout_rate, layernorm_eps,
            key_dim, **kwargs,
        )  # fmt: skip

    def call(
        self,
        x: Tensor,
        enc_output: Any = None,
        training: bool | None = None,
        look_ahead_mask: Any = None,
        padding_mask: Any = None,
    ) -> tuple[Tensor, AttentionWeights]:
        if enc_output is None:
            raise TypeError(f"Decoder '{self.name}': enc_output is required: decoder(x, enc_output, ...)")
        enc = to_tensor(enc_output)
        h = self._embed(x, training)
        scores: dict[str, AttentionScores] = {}
        for i, layer in enumerate(self.dec_layers):
            h, block1, block2 = layer(
                h, enc, training=training, look_ahead_mask=look_ahead_mask, padding_mask=padding_mask
            )
            scores[f"decoder_layer{i + 1}_block1_self_att"] = block1
            scores[f"decoder_layer{i + 1}_block2_decenc_att"] = block2
        return h, AttentionWeights(scores)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_vocab_size": self.vocab_size}


@register_layer
class Transformer(_KeywordCall, Model):
    """The course's Transformer: ``transformer(inp, tar, training, enc_padding_mask, look_ahead_mask,
    dec_padding_mask)`` -> (logits [B,Lt,target_vocab], lazy attention weights of the decoder).

    inp [B,Ls] and tar [B,Lt] are token ids.  The masks are attention masks (True = may attend):
    ``enc_padding_mask`` for the encoder's self-attention, ``look_ahead_mask`` for the decoder's self-attention and
    ``dec_padding_mask`` for the decoder's attention over the encoder's output (usually the encoder's padding mask).
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        input_vocab_size: int,
        target_vocab_size: int,
        max_positions: int,
        dropout_rate: float = 0.1,
        layernorm_eps: float = 1e-6,
        key_dim: int | None = None,
        max_positional_encoding_target: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config_args = {
            "num_layers": num_layers,
            "d_model": d_model,
            "num_heads": num_heads,
            "dff": dff,
            "input_vocab_size": input_vocab_size,
            "target_vocab_size": target_vocab_size,
            "max_positions": max_positions,
            "dropout_rate": dropout_rate,
            "layernorm_eps": layernorm_eps,
            "key_dim": key_dim,
            "max_positional_encoding_target": max_positional_encoding_target,
        }
        common = {"dropout_rate": dropout_rate, "layernorm_eps": layernorm_eps, "key_dim": key_dim}
        self.encoder = _sub(
            self, Encoder, num_layers, d_model, num_heads, dff, input_vocab_size, max_positions, **common
        )
        target_positions = max_positions if max_positional_encoding_target is None else max_positional_encoding_target
        self.decoder = _sub(
            self, Decoder, num_layers, d_model, num_heads, dff, target_vocab_size, target_positions, **common
        )
        self.final_layer = _sub(self, Dense, int(target_vocab_size))
        self.final_layer._maybe_build((None, None, int(d_model)))
        self.built = True

    def call(
        self,
        inp: Tensor,
        tar: Any = None,
        training: bool | None = None,
        enc_padding_mask: Any = None,
        look_ahead_mask: Any = None,
        dec_padding_mask: Any = None,
    ) -> tuple[Tensor, AttentionWeights]:
        if tar is None:
            raise TypeError(f"Transformer '{self.name}': tar (the target ids [B, Lt]) is required: model(inp, tar)")
        tar_t = to_tensor(tar)
        if tar_t.ndim != 2 or tar_t.shape[0] != inp.shape[0]:
            raise ValueError(
                f"Transformer '{self.name}': tar must be token ids [B, Lt] with B = {inp.shape[0]} (inp's), got "
                f"shape {format_shape(tar_t.shape)}"
            )
        enc_output = self.encoder(inp, training=training, mask=enc_padding_mask)
        dec_output, attention_weights = self.decoder(
            tar_t, enc_output, training=training, look_ahead_mask=look_ahead_mask, padding_mask=dec_padding_mask
        )
        return self.final_layer(dec_output), attention_weights

    def check_input(self, input_shape: Any) -> None:
        self.encoder.check_input(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], None, self.final_layer.units)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name, **self.config_args}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Transformer:
        return cls(**config)


__all__ = ["Decoder", "DecoderLayer", "Encoder", "EncoderLayer", "Transformer"]
