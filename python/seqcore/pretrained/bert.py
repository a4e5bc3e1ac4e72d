"""A BERT encoder built from seqcore's layers: embeddings + N post-norm encoder layers (+ the optional pooler).

``BertModel(config)`` has the Hugging Face architecture exactly: word + position + token-type embeddings, layer norm,
dropout; each layer self-attention (biased Q/K/V, h heads of hidden/h) -> dense -> dropout -> LayerNorm(x + .),
then intermediate Dense(gelu) -> Dense -> dropout -> LayerNorm(x + .).  ``nn.EncoderLayer`` is that block, so a
BERT layer here IS an EncoderLayer (key_dim = hidden/heads, activation from the config, epsilon from the config).
Weights arrive with ``seqcore.pretrained.load_bert`` (see ``weights.py`` for the name mapping).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..autograd import Tensor, no_grad
from ..autograd.tensor import make
from ..nn.core import Dense, Dropout, Embedding
from ..nn.layer import Layer, to_tensor
from ..nn.normalization import LayerNormalization
from ..nn.serialization import register_layer
from ..nn.transformer import EncoderLayer
from .config import BertConfig


def _ids(name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    if arr.dtype.kind not in "iu" and not (arr.dtype == np.bool_ and name == "attention_mask"):
        raise TypeError(f"{name}: expected integer ids, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected shape [B, L], got {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name}: expected the shape of input_ids {shape}, got {arr.shape}")
    if arr.shape[1] == 0:  # caught here: attention's own message would not name the argument
        raise ValueError(f"{name}: expected at least one token per row, got shape {arr.shape}")
    return arr


def _word_vectors(table: Tensor, ids: np.ndarray, pad_id: int | None) -> Tensor:
    """Rows ``table[ids]`` whose gradient leaves row ``pad_id`` at zero, as Hugging Face's
    ``nn.Embedding(padding_idx=pad_token_id)`` does: fine-tuning never moves the [PAD] vector."""
    V = table.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"input_ids: ids must be in [0, {V}), got {int(ids.min())}..{int(ids.max())}")
    out = kernels.embedding_forward(table.data, ids)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        grad = kernels.embedding_backward(ids, g, V)
        if isinstance(pad_id, int) and 0 <= pad_id < V:  # a config may have no pad token (null)
            if not grad.flags.writeable:
                grad = grad.copy()
            grad[pad_id] = 0
        return (grad,)

    return make(out, (table,), backward)


@register_layer
class BertEmbeddings(Layer):
    """ids [B,L] (+ token types [B,L]) -> LayerNorm(word + position + type) with dropout: [B,L,H]."""

    def __init__(self, config: dict[str, Any] | BertConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        c = self.config
        dt = self.dtype.name
        self.word_embeddings = Embedding(c.vocab_size, c.hidden_size, dtype=dt)
        self.position_embeddings = Embedding(c.max_position_embeddings, c.hidden_size, dtype=dt)
        self.token_type_embeddings = Embedding(c.type_vocab_size, c.hidden_size, dtype=dt)
        for e in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            e._maybe_build((None, None))
        self.layer_norm = LayerNormalization(epsilon=c.layer_norm_eps, dtype=dt)
        self.layer_norm._maybe_build((None, None, c.hidden_size))
        self.dropout = Dropout(c.hidden_dropout_prob, dtype=dt)
        self.built = True

    def call(self, inputs: Tensor, token_type_ids: Any = None, training: bool | None = None) -> Tensor:
        ids = _ids("input_ids", inputs)
        B, L = ids.shape
        if L > self.config.max_position_embeddings:
            raise ValueError(
                f"input_ids: {L} tokens is more than max_position_embeddings = {self.config.max_position_embeddings}"
            )
        types = np.zeros_like(ids) if token_type_ids is None else _ids("token_type_ids", token_type_ids, ids.shape)
        positions = np.arange(L, dtype=np.int64)[None, :]
        words = _word_vectors(self.word_embeddings.embeddings, ids, self.config.pad_token_id)
        x = words + self.position_embeddings(positions) + self.token_type_embeddings(types)
        return self.dropout(self.layer_norm(x), training=training)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape, self.config.hidden_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "config": self.config.to_dict()}


@register_layer
class BertModel(Layer):
    """The BERT encoder: ``model(input_ids, token_type_ids=None, attention_mask=None, training=None)`` ->
    hidden states [B,L,H] (a Tensor).  ``pooled(hidden)``: tanh(Dense(hidden[:, 0])) when the checkpoint has a
    pooler.  ``attention_mask`` [B,L]: 1 for real tokens, 0 for padding (keys that nobody attends to).

    ``model.tokenizer`` is the checkpoint's ``BertTokenizer`` when loaded with ``load_bert``.
    """

    def __init__(self, config: dict[str, Any] | BertConfig, add_pooler: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
        c = self.config
        dt = self.dtype.name
        self.embeddings = BertEmbeddings(c, dtype=dt)
        layers = []
        for _ in range(c.num_hidden_layers):
            layer = EncoderLayer(
                c.hidden_size,
                c.num_attention_heads,
                c.intermediate_size,
                dropout_rate=c.hidden_dropout_prob,
                layernorm_eps=c.layer_norm_eps,
                key_dim=c.head_size,
                activation=c.activation,
                dtype=dt,
            )
            layer.mha.dropout = float(c.attention_probs_dropout_prob)
            layers.append(layer)
        # assigned whole: Layer tracks the sub-layers of a list when it is set, not ones appended later
        self.encoder_layers = layers
        self.add_pooler = bool(add_pooler)
        self.pooler = None
        if self.add_pooler:
            self.pooler = Dense(c.hidden_size, activation="tanh", dtype=dt)
            self.pooler._maybe_build((None, c.hidden_size))
        self.tokenizer: Any = None
        self.built = True

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 2:
            raise self.incompatible(input_shape, "token ids of shape [B, L]")

    def call(
        self,
        inputs: Tensor,
        token_type_ids: Any = None,
        attention_mask: Any = None,
        training: bool | None = None,
    ) -> Tensor:
        ids = _ids("input_ids", inputs)
        mask = None
        if attention_mask is not None:
            am = _ids("attention_mask", attention_mask, ids.shape)
            if not np.isin(am, (0, 1)).all():
                raise ValueError("attention_mask: expected 0/1 (1 = a real token), got other values")
            if not am.all():
                mask = (am != 0)[:, None, :]  # [B,1,L]: padded keys are never attended to
        x = self.embeddings(inputs, token_type_ids=token_type_ids, training=training)
        for layer in self.encoder_layers:
            x = layer(x, training=training, mask=mask)
        return x

    def pooled(self, hidden: Any) -> Tensor:
        """BERT's pooler: tanh(W h[:, 0] + b), [B,H]."""
        if self.pooler is None:
            raise ValueError("pooled: this model has no pooler (its checkpoint had none; add_pooler=False)")
        h = to_tensor(hidden)
        return self.pooler(h[:, 0])

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape, self.config.hidden_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "config": self.config.to_dict(), "add_pooler": self.add_pooler}

    def hidden_states(
        self, input_ids: Any, token_type_ids: Any = None, attention_mask: Any = None, *, fast: bool = True
    ) -> np.ndarray:
        """Inference: hidden states [B,L,H] as a NumPy array, without a tape.  ``fast`` runs the fused path of
        ``seqcore.pretrained.inference`` (same numbers, fewer passes over memory); False runs the layers."""
        if fast:
            from .inference import encode_fast  # noqa: PLC0415

            return encode_fast(self, input_ids, token_type_ids, attention_mask)
        ids = _ids("input_ids", input_ids)  # nested lists too, as the fast path takes them
        with no_grad():
            return self(ids, token_type_ids=token_type_ids, attention_mask=attention_mask, training=False).data
