"""Hugging Face BERT weight names <-> seqcore's layers.

HF keeps a Linear's weight as [out, in]; seqcore's Dense kernel is [in, out] and MultiHeadAttention's kernels are
Keras's [H, heads, head] (query/key/value) and [heads, head, H] (output), so every matrix is transposed (and
reshaped) on the way.  Checkpoints saved by ``BertForXxx`` put the encoder under ``bert.``; older ones call the
layer-norm parameters gamma/beta.  Both are accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .bert import BertModel


def _layer_names(i: int) -> dict[str, tuple[Any, str]]:
    """HF name (without prefix) -> (how to get the seqcore variable from an EncoderLayer, conversion)."""
    p = f"encoder.layer.{i}."
    return {
        p + "attention.self.query.weight": (lambda e: e.mha.query_kernel, "qkv_w"),
        p + "attention.self.query.bias": (lambda e: e.mha.query_bias, "qkv_b"),
        p + "attention.self.key.weight": (lambda e: e.mha.key_kernel, "qkv_w"),
        p + "attention.self.key.bias": (lambda e: e.mha.key_bias, "qkv_b"),
        p + "attention.self.value.weight": (lambda e: e.mha.value_kernel, "qkv_w"),
        p + "attention.self.value.bias": (lambda e: e.mha.value_bias, "qkv_b"),
        p + "attention.output.dense.weight": (lambda e: e.mha.output_kernel, "out_w"),
        p + "attention.output.dense.bias": (lambda e: e.mha.output_bias, "copy"),
        p + "attention.output.LayerNorm.weight": (lambda e: e.layernorm1.gamma, "copy"),
        p + "attention.output.LayerNorm.bias": (lambda e: e.layernorm1.beta, "copy"),
        p + "intermediate.dense.weight": (lambda e: e.ffn_hidden.kernel, "dense_w"),
        p + "intermediate.dense.bias": (lambda e: e.ffn_hidden.bias, "copy"),
        p + "output.dense.weight": (lambda e: e.ffn_output.kernel, "dense_w"),
        p + "output.dense.bias": (lambda e: e.ffn_output.bias, "copy"),
        p + "output.LayerNorm.weight": (lambda e: e.layernorm2.gamma, "copy"),
        p + "output.LayerNorm.bias": (lambda e: e.layernorm2.beta, "copy"),
    }


def parameter_map(model: BertModel) -> Iterator[tuple[str, Any, str]]:
    """(HF name without prefix, seqcore Variable, conversion) for every weight of ``model``, in HF's order."""
    e = model.embeddings
    yield "embeddings.word_embeddings.weight", e.word_embeddings.embeddings, "copy"
    yield "embeddings.position_embeddings.weight", e.position_embeddings.embeddings, "copy"
    yield "embeddings.token_type_embeddings.weight", e.token_type_embeddings.embeddings, "copy"
    yield "embeddings.LayerNorm.weight", e.layer_norm.gamma, "copy"
    yield "embeddings.LayerNorm.bias", e.layer_norm.beta, "copy"
    for i, layer in enumerate(model.encoder_layers):
        for name, (get, how) in _layer_names(i).items():
            yield name, get(layer), how
    if model.pooler is not None:
        yield "pooler.dense.weight", model.pooler.kernel, "dense_w"
        yield "pooler.dense.bias", model.pooler.bias, "copy"


def _to_seqcore(arr: np.ndarray, how: str, shape: tuple[int, ...]) -> np.ndarray:
    if how == "copy":
        return arr
    if how == "qkv_b":
        return arr.reshape(shape)
    if how == "qkv_w":  # [h*dh, H] -> [H, h, dh]
        return arr.T.reshape(shape)
    if how == "out_w":  # [H, h*dh] -> [h, dh, H]
        return arr.T.reshape(shape)
    if how == "dense_w":  # [out, in] -> [in, out]
        return arr.T
    raise AssertionError(how)


def _to_hf(arr: np.ndarray, how: str) -> np.ndarray:
    if how == "copy":
        return arr
    if how == "qkv_b":
        return arr.reshape(-1)
    if how == "qkv_w":  # [H, h, dh] -> [h*dh, H]
        return arr.reshape(arr.shape[0], -1).T
    if how == "out_w":  # [h, dh, H] -> [H, h*dh]
        return arr.reshape(-1, arr.shape[-1]).T
    if how == "dense_w":
        return arr.T
    raise AssertionError(how)


def _canonical(name: str) -> str:
    """Old TF-converted names (LayerNorm.gamma / beta) as today's."""
    if name.endswith("LayerNorm.gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith("LayerNorm.beta"):
        return name[: -len("beta")] + "bias"
    return name


def split_prefix(tensors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(encoder weights without any ``bert.`` prefix, everything else: heads such as ``classifier.*``)."""
    encoder: dict[str, np.ndarray] = {}
    rest: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        bare = _canonical(name[len("bert.") :] if name.startswith("bert.") else name)
        if bare.startswith(("embeddings.", "encoder.", "pooler.")):
            encoder[bare] = arr
        else:
            rest[name] = arr
    return encoder, rest


def load_encoder_weights(model: BertModel, tensors: dict[str, np.ndarray], *, source: str = "checkpoint") -> None:
    """Copy HF-named arrays into ``model`` (converted to its dtype).  Every encoder weight must be present with
    the right shape; an encoder-looking name the model has no place for is an error too (a different depth)."""
    expected = {name: (var, how) for name, var, how in parameter_map(model)}
    ignorable = {"embeddings.position_ids"}
    missing = [n for n in expected if n not in tensors]
    unexpected = [n for n in tensors if n not in expected and n not in ignorable]
    if missing:
        raise ValueError(f"{source}: missing weights {missing[:6]}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        raise ValueError(
            f"{source}: weights with no place in a {model.config.num_hidden_layers}-layer BERT: "
            f"{unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}"
        )
    ready = []
    for name, (var, how) in expected.items():
        arr = np.asarray(tensors[name])
        converted = _to_seqcore(arr, how, var.shape) if arr.size == var.data.size else None
        if converted is None or converted.shape != var.shape:
            raise ValueError(f"{source}: weight {name} has shape {arr.shape}, which does not fit {var.shape}")
        ready.append((var, converted))
    for var, converted in ready:  # only once every weight fits: a refused file leaves the model as it was
        var.data[...] = converted.astype(var.data.dtype, copy=False)


def encoder_state_dict(model: BertModel, prefix: str = "") -> dict[str, np.ndarray]:
    """The encoder's weights under HF names (contiguous float arrays), e.g. for safetensors."""
    return {prefix + name: np.ascontiguousarray(_to_hf(var.data, how)) for name, var, how in parameter_map(model)}
