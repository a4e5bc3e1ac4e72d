"""BertConfig: the fields of a Hugging Face BERT ``config.json`` that define the network, validated."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"config.json: {name} must be a positive int, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Sizes and constants of a BERT encoder (Hugging Face names).  ``extra`` keeps every other key of the file
    (label maps, architectures, ...) so that a saved directory round-trips."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):  # fmt: skip
            _positive(name, getattr(self, name))
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"config.json: hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"config.json: hidden_act must be one of {sorted(_ACTIVATIONS)}, got {self.hidden_act!r}")
        if not isinstance(self.layer_norm_eps, (int, float)) or not self.layer_norm_eps > 0:
            raise ValueError(f"config.json: layer_norm_eps must be a positive number, got {self.layer_norm_eps!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"config.json: {name} must be in [0, 1), got {p!r}")
        pet = self.extra.get("position_embedding_type", "absolute")
        if pet != "absolute":
            raise ValueError(f"config.json: position_embedding_type {pet!r} is not supported (only 'absolute')")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def activation(self) -> str:
        """The seqcore activation name of ``hidden_act``."""
        return _ACTIVATIONS[self.hidden_act]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BertConfig:
        if not isinstance(d, dict):
            raise ValueError(f"config.json: expected a JSON object, got {type(d).__name__}")
        model_type = d.get("model_type", "bert")
        if model_type not in ("bert",):
            raise ValueError(f"config.json: model_type {model_type!r} is not a BERT model (expected 'bert')")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BertConfig:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"config.json: {path} is not valid JSON ({e})") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, "model_type": "bert", **d}

    def replace(self, **changes: Any) -> BertConfig:
        return dataclasses.replace(self, **changes)
