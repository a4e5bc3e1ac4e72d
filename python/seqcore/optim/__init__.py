"""seqcore.optim: Keras-style optimizers over NumPy parameters, and learning-rate schedules.

    opt = seqcore.optim.get("adam")            # or Adam(learning_rate=1e-3, global_clipnorm=1.0)
    opt.apply_gradients(zip(grads, variables))  # each variable.data updated in place
    state = opt.get_state(); opt2.set_state(state)  # continue bit-identically elsewhere

The numeric work runs in the fused in-place kernels of ``seqcore.kernels``.
"""

from __future__ import annotations

from typing import Any

from . import schedules
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    LinearWarmupDecay,
    PiecewiseConstantDecay,
    WarmupInverseSqrt,
)

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "LinearWarmupDecay",
    "Optimizer",
    "PiecewiseConstantDecay",
    "RMSprop",
    "WarmupInverseSqrt",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

_BY_NAME: dict[str, type[Optimizer]] = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def _lookup(name: str) -> type[Optimizer]:
    cls = _BY_NAME.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"optimizer: expected one of {sorted(_BY_NAME)} (any case), got {name!r}")
    return cls


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": "Adam", "config": {...}}``, the form Keras writes."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected an Optimizer, got {type(optimizer).__name__}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """A new optimizer (no state) from a ``serialize`` dict; Keras's own dicts work while they use no Keras-only
    feature."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"config: expected a dict with 'class_name' and 'config', got {config!r}")
    return _lookup(config["class_name"]).from_config(dict(config.get("config") or {}))


def get(identifier: str | dict[str, Any] | Optimizer) -> Optimizer:
    """An optimizer from a name ("sgd", "adam", "adamw", "rmsprop", "adagrad", any case; default arguments),
    a ``serialize`` dict, or an Optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    return _lookup(identifier)()
