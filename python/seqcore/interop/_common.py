"""What interop needs from a layer or a model, and the few helpers both converters share.

A layer is anything with ``name``, ``get_weights()`` and ``set_weights(list)`` holding
NumPy arrays in Keras's layout and order; its kind is ``type(layer).__name__`` (LSTM,
GRU, SimpleRNN, Bidirectional, Dense, Embedding, Conv1D, BatchNormalization,
LayerNormalization).  A model is anything with a ``layers`` list; a layer that is itself
a model (has ``layers``) is flattened into its layers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, Union, runtime_checkable

import numpy as np

Array = np.ndarray

RECURRENT = ("LSTM", "GRU", "SimpleRNN")
"""The recurrent layer kinds a Bidirectional may wrap."""


@runtime_checkable
class LayerLike(Protocol):
    """The layer contract interop relies on (seqcore's and Keras's layers both meet it)."""

    name: str

    def get_weights(self) -> list[Array]: ...

    def set_weights(self, weights: Sequence[Array]) -> None: ...


@runtime_checkable
class ModelLike(Protocol):
    """A model: a flat list of layers in build (topological) order."""

    layers: list[Any]


ModelOrLayer = Union[ModelLike, LayerLike]


def kind(layer: Any) -> str:
    """The layer's class name, e.g. 'LSTM'."""
    return type(layer).__name__


def describe(layer: Any) -> str:
    """``'lstm' (LSTM)``: how errors name a layer."""
    return f"{getattr(layer, 'name', '?')!r} ({kind(layer)})"


def is_model(obj: Any) -> bool:
    return isinstance(getattr(obj, "layers", None), (list, tuple))


def flat_layers(model_or_layer: Any) -> list[Any]:
    """The layers of a model in order (nested models flattened), or ``[layer]`` for a single layer."""
    if not is_model(model_or_layer):
        if not callable(getattr(model_or_layer, "get_weights", None)):
            raise TypeError(
                f"expected a model (with .layers) or a layer (with get_weights/set_weights), "
                f"got {type(model_or_layer).__name__}"
            )
        return [model_or_layer]
    out: list[Any] = []
    for layer in model_or_layer.layers:
        out.extend(flat_layers(layer) if is_model(layer) else [layer])
    return out


def layer_weights(layer: Any) -> list[Array]:
    """``layer.get_weights()`` as a list of NumPy arrays."""
    return [np.asarray(w) for w in layer.get_weights()]


def weighted(layers: Sequence[Any]) -> list[tuple[Any, list[Array]]]:
    """(layer, its weights) for the layers that hold weights, in order."""
    out = []
    for layer in layers:
        weights = layer_weights(layer)
        if weights:
            out.append((layer, weights))
    return out


def shapes(arrays: Sequence[Array]) -> str:
    return ", ".join(str(tuple(np.shape(a))) for a in arrays) or "none"


def assign(layer: Any, arrays: Sequence[Array], current: Sequence[Array]) -> None:
    """``layer.set_weights(arrays)``, each array cast to the dtype of the weight it replaces."""
    cast = [np.ascontiguousarray(a, dtype=np.asarray(c).dtype) for a, c in zip(arrays, current)]
    layer.set_weights(cast)


def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: 'SimpleRNN' -> 'simple_rnn', 'Conv1D' -> 'conv1d'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def to_numpy(value: Any) -> Array:
    """A NumPy array from an array-like or a torch tensor (detached, on the CPU; torch is never imported)."""
    if hasattr(value, "detach"):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        try:
            return np.asarray(value.numpy())
        except TypeError:  # bfloat16 and friends have no NumPy dtype
            return np.asarray(value.float().numpy())
    return np.asarray(value)
