"""Tape-free inference through a BertModel's weights: the same arithmetic as its layers, fewer passes.

The layers under ``no_grad`` still build Tensors, check shapes per call and allocate a new array per operation.
Here each encoder layer is 6 GEMMs (NumPy's BLAS) into buffers allocated once per call, bias and residual added
in place, the fused attention, layer-norm and GELU kernels, and 4 head transposes.  The result equals the layers'
(tests/test_pretrained_bert.py checks both against Hugging Face).

Measured and left out (benchmarks/README.md, "BERT inference"): one packed [H,3H] query/key/value GEMM is a few
percent faster than three [H,H] ones at 32 tokens, but the packed copy costs more than that when made on each
call, and a cached one cannot notice an optimizer updating the weights in place (Variables have no version).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels as K
from .bert import _ids


def _layer_norm(x: np.ndarray, ln: Any) -> np.ndarray:
    return K.layer_norm_forward(x, ln.gamma.data, ln.beta.data, eps=ln.epsilon)[0]


def _dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = x @ kernel + bias (kernel [in, ...] viewed as [in, out.shape[1]])."""
    np.matmul(x, kernel.reshape(x.shape[1], -1), out=out)
    out += bias.reshape(-1)
    return out


def _attention_mask(attention_mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """[B,1,1,L] True where a key may be attended, or None when every token is real."""
    am = _ids("attention_mask", attention_mask, shape)
    if am.dtype != np.bool_ and am.size and (am.min() < 0 or am.max() > 1):  # two reductions: np.isin sorts
        raise ValueError("attention_mask: expected 0/1 (1 = a real token), got other values")
    if am.all():
        return None
    return (am != 0)[:, None, None, :]


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
    mask = None if attention_mask is None else _attention_mask(attention_mask, ids.shape)
    types = None
    if token_type_ids is not None:
        types = _ids("token_type_ids", token_type_ids, ids.shape)
        if types.size and (types.min() < 0 or types.max() >= c.type_vocab_size):
            raise ValueError(f"token_type_ids: ids must be in [0, {c.type_vocab_size})")
    H, h = c.hidden_size, c.num_attention_heads
    dh, N = H // h, B * L
    x = words[ids.reshape(-1)]  # a fresh [N,H] array: the sums below go into it
    x.reshape(B, L, H)[...] += emb.position_embeddings.embeddings.data[:L]
    type_table = emb.token_type_embeddings.embeddings.data
    x += type_table[0] if types is None else type_table[types.reshape(-1)]
    x = _layer_norm(x, emb.layer_norm)
    # one set of buffers for every layer: at 32 x 128 tokens the FFN's [N, 1536] alone is 25 MB, and a fresh
    # allocation that size is fresh pages to fault in, layer after layer
    dt = x.dtype
    heads = np.empty((3, B, h, L, dh), dt)  # q, k, v, each [B,h,L,dh] and contiguous as the attention kernel wants
    merged = np.empty((B, L, h, dh), dt)
    y = np.empty((N, H), dt)
    inner = np.empty((N, c.intermediate_size), dt)
    scale = 1.0 / math.sqrt(dh)
    for layer in model.encoder_layers:
        a = layer.mha
        for i, (kernel, bias) in enumerate(
            ((a.query_kernel, a.query_bias), (a.key_kernel, a.key_bias), (a.value_kernel, a.value_bias))
        ):
            heads[i] = _dense(x, kernel.data, bias.data, y).reshape(B, L, h, dh).transpose(0, 2, 1, 3)
        merged[...] = K.attention_forward(heads[0], heads[1], heads[2], mask=mask, scale=scale)[0].transpose(0, 2, 1, 3)
        _dense(merged.reshape(N, H), a.output_kernel.data, a.output_bias.data, y)
        y += x
        x = _layer_norm(y, layer.layernorm1)
        f, g = layer.ffn_hidden, layer.ffn_output
        act = _activate(_dense(x, f.kernel.data, f.bias.data, inner), c.activation)
        _dense(act, g.kernel.data, g.bias.data, y)
        y += x
        x = _layer_norm(y, layer.layernorm2)
    return x.reshape(B, L, H)


def _activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0, out=x)
    return K.gelu_forward(x, approximate="tanh" if name == "gelu_tanh" else "none")
