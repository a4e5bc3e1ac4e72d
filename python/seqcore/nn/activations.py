"""Keras activation functions by name, on Tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd import Tensor
from ..autograd import functional as F
from ..autograd import tensor as ops


def linear(x: Tensor) -> Tensor:
    return x


def relu(x: Tensor) -> Tensor:
    return ops.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    return ops.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return ops.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return ops.softmax(x, axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return ops.log_softmax(x, axis)


def exponential(x: Tensor) -> Tensor:
    return ops.exp(x)


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)), stable for large |x|."""
    return ops.relu(x) + ops.log(1.0 + ops.exp(-ops.abs_(x)))


def swish(x: Tensor) -> Tensor:
    return x * ops.sigmoid(x)


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    """Keras' gelu: x * Phi(x) with erf, or its tanh approximation when ``approximate``."""
    return F.gelu(x, "tanh" if approximate else "none")


def gelu_tanh(x: Tensor) -> Tensor:
    """The tanh approximation of GELU (BERT's and GPT-2's)."""
    return F.gelu(x, "tanh")


def hard_sigmoid(x: Tensor) -> Tensor:
    """Keras 3's piecewise-linear sigmoid: clip(x / 6 + 0.5, 0, 1)."""
    return ops.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


_BY_NAME: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "exponential": exponential,
    "softplus": softplus,
    "swish": swish,
    "silu": swish,
    "hard_sigmoid": hard_sigmoid,
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
}


def get(identifier: Any) -> Callable[[Tensor], Tensor]:
    """An activation from a name (None means linear) or a callable on Tensors."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"activation: unknown name {identifier!r}; known: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"activation: expected a name or a callable, got {identifier!r}")


def serialize(fn: Callable[[Tensor], Tensor]) -> str:
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    name = getattr(fn, "__name__", "")
    if name in _BY_NAME:
        return name
    raise ValueError(f"activation {fn!r} is not a built-in; it cannot be saved by name")
