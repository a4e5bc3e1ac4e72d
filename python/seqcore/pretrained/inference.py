"""Tape-free inference through a BertModel's weights: the same arithmetic as its layers, fewer passes.

The layers under ``no_grad`` still build Tensors, check shapes per call and allocate a new array per operation.
Here each encoder layer is 6 GEMMs (NumPy's BLAS) with bias and residual added in place, the fused attention,
layer-norm and GELU kernels, and 4 head transposes: about 25 Python-level calls a layer.  The result equals the
layers' (tests/test_pretrained_bert.py checks both against Hugging Face).

The GEMMs are 80-85% of the time at 1 x 32 and at 32 x 128 tokens (benchmarks/README.md, "BERT inference"), so
what is left here is not worth more code: buffers reused across layers and the q/k/v bias added inside the
head-splitting copy measured the same as this, within the machine's noise.  One packed [H,3H] q/k/v GEMM saves
2-5% of the GEMM time at 32 tokens, but packing on each call costs more than that (about 1 ms for the 6 layers), and
a cached packed copy could not notice an optimizer updating the weights in place (Variables carry no version).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels as K
from ..nn.attention import _merge_heads, _split_heads
from .bert import _ids


def _layer_norm(x: np.ndarray, ln: Any) -> np.ndarray:
    return K.layer_norm_forward(x, ln.gamma.data, ln.beta.data, eps=ln.epsilon)[0]


def _linear(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
    out = x @ kernel.reshape(x.shape[1], -1)
    out += bias.reshape(-1)
    if residual is not None:
        out += residual
    return out


def encode_fast(model: Any, input_ids: Any, token_type_ids: Any = None, attention_mask: Any = None) -> np.ndarray:
    """Hidden states [B,L,H] of ``model`` (a BertModel) for ``input_ids`` [B,L] in inference mode (no dropout)."""
    ids = _ids("input_ids", input_ids)
    B, L = ids.shape
    c = model.config
    if L > c.max_position_embeddings:
        raise ValueError(f"input_ids: {L} tokens is more than max_position_embeddings = {c.max_position_embeddings}")
    emb = model.embeddings
    words = emb.word_embeddings.embeddings.data
    if ids.size and (ids.min() < 0 or ids.max() >= words.shape[0]):
        raise ValueError(f"input_ids: ids must be in [0, {words.shape[0]}), got {int(ids.min())}..{int(ids.max())}")
    mask = None
    if attention_mask is not None:
        am = _ids("attention_mask", attention_mask, ids.shape)
        if not np.isin(am, (0, 1)).all():
            raise ValueError("attention_mask: expected 0/1 (1 = a real token), got other values")
        if not am.all():
            mask = (am != 0)[:, None, None, :]
    H, h = c.hidden_size, c.num_attention_heads
    dh = H // h
    x = words[ids.reshape(-1)]
    x += np.tile(emb.position_embeddings.embeddings.data[:L], (B, 1))
    if token_type_ids is None:
        x += emb.token_type_embeddings.embeddings.data[0]
    else:
        types = _ids("token_type_ids", token_type_ids, ids.shape)
        if types.size and (types.min() < 0 or types.max() >= c.type_vocab_size):
            raise ValueError(f"token_type_ids: ids must be in [0, {c.type_vocab_size})")
        x += emb.token_type_embeddings.embeddings.data[types.reshape(-1)]
    x = _layer_norm(x, emb.layer_norm)
    scale = 1.0 / math.sqrt(dh)
    for layer in model.encoder_layers:
        a = layer.mha
        q = _split_heads(_linear(x, a.query_kernel.data, a.query_bias.data), B, L, h, dh)
        k = _split_heads(_linear(x, a.key_kernel.data, a.key_bias.data), B, L, h, dh)
        v = _split_heads(_linear(x, a.value_kernel.data, a.value_bias.data), B, L, h, dh)
        o = _merge_heads(K.attention_forward(q, k, v, mask=mask, scale=scale)[0])
        x = _layer_norm(_linear(o, a.output_kernel.data, a.output_bias.data, x), layer.layernorm1)
        f = layer.ffn_hidden
        inner = _activate(_linear(x, f.kernel.data, f.bias.data), model.config.activation)
        g = layer.ffn_output
        x = _layer_norm(_linear(inner, g.kernel.data, g.bias.data, x), layer.layernorm2)
    return x.reshape(B, L, H)


def _activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0, out=x)
    return K.gelu_forward(x, approximate="tanh" if name == "gelu_tanh" else "none")
