"""Stand-ins for seqcore's nn layers and models, shared by the interop tests (and their own contract tests).

seqcore.nn is being written; these follow the contract seqcore.interop relies on: a layer
has ``name``, ``get_weights()`` and ``set_weights(list)`` holding NumPy arrays in Keras's
layout and order, and its class name is the Keras class name; a model has ``layers`` and
``get_layer(name)``.  ``set_weights`` refuses a wrong count or shape, as real layers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

Array = np.ndarray


class FakeLayer:
    """A layer holding arrays; subclasses made by ``layer_class`` carry the Keras class name."""

    def __init__(self, name: str, weights: Sequence[Any] = (), **attrs: Any) -> None:
        self.name = name
        self._weights = [np.array(w) for w in weights]
        for key, value in attrs.items():
            setattr(self, key, value)

    def get_weights(self) -> list[Array]:
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = [np.asarray(w) for w in weights]
        if len(weights) != len(self._weights):
            raise ValueError(f"layer {self.name!r} expects {len(self._weights)} weights, got {len(weights)}")
        for old, new in zip(self._weights, weights):
            if old.shape != new.shape:
                raise ValueError(f"layer {self.name!r}: weight shape {old.shape} != {new.shape}")
        self._weights = [np.array(w, dtype=old.dtype) for old, w in zip(self._weights, weights)]


_CLASSES: dict[str, type] = {}


def layer_class(kind: str) -> type:
    """A FakeLayer subclass whose ``__name__`` is ``kind`` ('LSTM', 'Dense', ...)."""
    if kind not in _CLASSES:
        _CLASSES[kind] = type(kind, (FakeLayer,), {})
    return _CLASSES[kind]


def fake(kind: str, name: str, weights: Sequence[Any] = (), **attrs: Any) -> FakeLayer:
    return layer_class(kind)(name, weights, **attrs)


class Bidirectional:
    """Wraps two recurrent layers; weights are forward's then backward's."""

    def __init__(self, name: str, forward_layer: FakeLayer, backward_layer: FakeLayer) -> None:
        self.name = name
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer

    def get_weights(self) -> list[Array]:
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights: Sequence[Any]) -> None:
        n = len(self.forward_layer.get_weights())
        if len(weights) != n + len(self.backward_layer.get_weights()):
            raise ValueError(f"layer {self.name!r}: wrong number of weights {len(weights)}")
        self.forward_layer.set_weights(list(weights[:n]))
        self.backward_layer.set_weights(list(weights[n:]))


class FakeModel:
    def __init__(self, layers: Sequence[Any]) -> None:
        self.layers = list(layers)

    def get_layer(self, name: str) -> Any:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}")


# ---------------------------------------------------------------- builders with random weights


def _rand(rng: np.random.Generator, *shape: int, dtype: Any = np.float64) -> Array:
    return rng.standard_normal(shape).astype(dtype)


def recurrent(
    kind: str, name: str, D: int, H: int, rng: np.random.Generator, *, reset_after: bool = True, dtype: Any = np.float64
) -> FakeLayer:
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    bias_shape = (2, 3 * H) if kind == "GRU" and reset_after else (gates * H,)
    weights = [_rand(rng, D, gates * H, dtype=dtype), _rand(rng, H, gates * H, dtype=dtype)]
    weights.append(_rand(rng, *bias_shape, dtype=dtype))
    attrs: dict[str, Any] = {"units": H}
    if kind == "GRU":
        attrs["reset_after"] = reset_after
    return fake(kind, name, weights, **attrs)


def bidirectional(kind: str, name: str, D: int, H: int, rng: np.random.Generator, **kw: Any) -> Bidirectional:
    snake = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[kind]
    return Bidirectional(
        name,
        recurrent(kind, f"forward_{snake}", D, H, rng, **kw),
        recurrent(kind, f"backward_{snake}", D, H, rng, **kw),
    )


def dense(name: str, n_in: int, n_out: int, rng: np.random.Generator, use_bias: bool = True) -> FakeLayer:
    weights = [_rand(rng, n_in, n_out)] + ([_rand(rng, n_out)] if use_bias else [])
    return fake("Dense", name, weights, units=n_out, use_bias=use_bias)


def zeros_like_layer(layer: Any) -> Any:
    """A copy of ``layer`` (same class, names, attributes) with all weights zero."""
    if isinstance(layer, Bidirectional):
        return Bidirectional(layer.name, zeros_like_layer(layer.forward_layer), zeros_like_layer(layer.backward_layer))
    attrs = {k: v for k, v in vars(layer).items() if k not in ("name", "_weights")}
    return layer_class(type(layer).__name__)(layer.name, [np.zeros_like(w) for w in layer.get_weights()], **attrs)


def assert_same_weights(a: Any, b: Any, exact: bool = True) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb), f"{a.name}: {len(wa)} vs {len(wb)} weights"
    for i, (x, y) in enumerate(zip(wa, wb)):
        assert x.shape == y.shape, f"{a.name} weight {i}: {x.shape} vs {y.shape}"
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=f"{a.name} weight {i}")
        else:
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=f"{a.name} weight {i}")


# ---------------------------------------------------------------- the stand-ins keep the contract


def test_fake_layer_class_name_and_weights():
    rng = np.random.default_rng(0)
    layer = recurrent("GRU", "gru", 3, 4, rng, reset_after=True)
    assert type(layer).__name__ == "GRU" and isinstance(layer, FakeLayer)
    assert [w.shape for w in layer.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)])
    with pytest.raises(ValueError, match="expects 3 weights"):
        layer.set_weights([np.zeros((3, 12))])


def test_fake_bidirectional_and_model():
    rng = np.random.default_rng(1)
    bi = bidirectional("LSTM", "bi", 3, 2, rng)
    weights = bi.get_weights()
    assert [w.shape for w in weights] == [(3, 8), (2, 8), (8,)] * 2
    bi.set_weights([w + 1 for w in weights])
    np.testing.assert_array_equal(bi.backward_layer.get_weights()[2], weights[5] + 1)
    model = FakeModel([bi, dense("d", 4, 2, rng)])
    assert model.get_layer("d") is model.layers[1]
    assert type(zeros_like_layer(bi).forward_layer).__name__ == "LSTM"
