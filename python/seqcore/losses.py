"""Keras losses on Tensors: per-sample functions and reducing Loss objects.

A loss function ``fn(y_true, y_pred)`` returns one value per sample position (the last
axis is reduced: classes for cross-entropy, features for MSE).  A ``Loss`` object weighs
and averages those values the way Keras does ("sum_over_batch_size"): with a padding mask,
``sum(loss * weight * mask) / sum(mask)``; with sample weights alone, the sum over the
number of positions.

When ``y_pred`` is the output of a softmax over its last axis (a ``Dense(...,
activation="softmax")``), the probability form of cross-entropy runs the fused
softmax-cross-entropy kernel on the logits instead, as TF-Keras does: the same value
without the rounding of log(softmax), and one kernel for value and gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .autograd import Tensor, as_tensor
from .autograd import functional as F
from .autograd import tensor as ops
from .autograd.tensor import xp_of

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


def _float_targets(y_true: Any, like: Tensor) -> Any:
    arr = y_true.data if isinstance(y_true, Tensor) else xp_of(like.data).asarray(y_true)  # on y_pred's device
    return arr.astype(like.dtype, copy=False)


def _check_classes(name: str, y_true: Any, y_pred: Tensor) -> None:
    if np.shape(y_true) != y_pred.shape:
        raise ValueError(
            f"{name}: y_true has shape {np.shape(y_true)} but y_pred has shape {y_pred.shape}; "
            "one-hot targets must match the predictions (use sparse_categorical_crossentropy for class ids)"
        )


def categorical_crossentropy(
    y_true: Any, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    """-sum(y_true * log(p)) over the last axis, p = y_pred or softmax(y_pred) when from_logits."""
    target = _float_targets(y_true, y_pred)
    _check_classes("categorical_crossentropy", target, y_pred)
    if label_smoothing:
        C = y_pred.shape[-1]
        target = target * (1.0 - label_smoothing) + label_smoothing / C
    if from_logits:
        return F.softmax_cross_entropy(y_pred, target)
    if y_pred._logits is not None:
        return F.softmax_cross_entropy(y_pred._logits, target)
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return -(ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON)) * target).sum(axis=-1)


def _class_ids(y_true: Any, y_pred: Tensor) -> np.ndarray:
    xp = xp_of(y_pred.data)
    ids = xp.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)  # on y_pred's device
    if ids.ndim == y_pred.ndim and ids.shape[-1] == 1:  # Keras accepts [B, 1] ids
        ids = ids[..., 0]
    if ids.dtype.kind == "f":
        if not bool((ids == xp.round(ids)).all()):
            raise ValueError("sparse_categorical_crossentropy: y_true must hold integer class ids, got fractions")
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"sparse_categorical_crossentropy: y_true must hold integer class ids, got dtype {ids.dtype}")
    if ids.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy: y_true has shape {ids.shape}, expected {y_pred.shape[:-1]} "
            f"(y_pred's shape {y_pred.shape} without the class axis)"
        )
    C = y_pred.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= C):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise ValueError(f"sparse_categorical_crossentropy: class id {bad} is outside [0, {C}) for {C} classes")
    return ids


def sparse_categorical_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """-log p[y_true] with integer class ids y_true [...] and y_pred [...,C]."""
    ids = _class_ids(y_true, y_pred)
    if from_logits:
        return F.softmax_cross_entropy(y_pred, ids)
    if y_pred._logits is not None:
        return F.softmax_cross_entropy(y_pred._logits, ids)
    onehot = xp_of(y_pred.data).eye(y_pred.shape[-1], dtype=y_pred.dtype)[ids]
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return -(ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON)) * onehot).sum(axis=-1)


def _bce_logits(x: Tensor, z: Any) -> Tensor:
    """max(x,0) - x z + log(1 + exp(-|x|)): the stable binary cross-entropy of sigmoid(x)."""
    xp = xp_of(x.data)
    value = xp.maximum(x.data, 0) - x.data * z + xp.log1p(xp.exp(-xp.abs(x.data)))
    return ops.make(value, (x,), lambda g: (g * (0.5 * (1 + xp.tanh(0.5 * x.data)) - z),))


def binary_crossentropy(y_true: Any, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0) -> Tensor:
    """Mean over the last axis of -(z log p + (1-z) log(1-p))."""
    z = _float_targets(y_true, y_pred)
    if z.shape != y_pred.shape:
        if z.shape == y_pred.shape[:-1] and y_pred.shape[-1] == 1:
            z = z[..., None]
        else:
            raise ValueError(f"binary_crossentropy: y_true has shape {z.shape}, y_pred {y_pred.shape}")
    if label_smoothing:
        z = z * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return _bce_logits(y_pred, z).mean(axis=-1)
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(ops.log(p) * z + ops.log(1.0 - p) * (1.0 - z)).mean(axis=-1)


def _same_shape(name: str, y_true: Any, y_pred: Tensor) -> Any:
    t = _float_targets(y_true, y_pred)
    if t.shape != y_pred.shape:
        try:
            t = xp_of(t).broadcast_to(t.reshape(y_pred.shape), y_pred.shape)
        except ValueError:
            raise ValueError(f"{name}: y_true has shape {t.shape}, y_pred {y_pred.shape}") from None
    return t


def mean_squared_error(y_true: Any, y_pred: Tensor) -> Tensor:
    """Mean over the last axis of (y_true - y_pred)^2."""
    d = y_pred - _same_shape("mean_squared_error", y_true, y_pred)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Tensor) -> Tensor:
    """Mean over the last axis of |y_true - y_pred|."""
    return ops.abs_(y_pred - _same_shape("mean_absolute_error", y_true, y_pred)).mean(axis=-1)


def reduce_weighted(values: Tensor, sample_weight: Any = None, mask: Any = None) -> Tensor:
    """Keras's "sum_over_batch_size" reduction of per-position losses, with weights and a mask."""
    weight = None
    xp = xp_of(values.data)
    if sample_weight is not None:
        weight = xp.asarray(sample_weight, dtype=values.dtype)
        while weight.ndim > values.ndim and weight.shape[-1] == 1:
            weight = weight[..., 0]
        while weight.ndim < values.ndim:
            weight = weight[..., None]
        try:
            weight = xp.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight: shape {np.shape(sample_weight)} does not broadcast to the loss's {values.shape}"
            ) from None
    if mask is not None:
        m = xp.asarray(mask, dtype=values.dtype)
        if m.shape != values.shape:
            m = xp.broadcast_to(m.reshape(m.shape + (1,) * (values.ndim - m.ndim)), values.shape)
        weight = m if weight is None else weight * m
        valid = float(m.sum())
        return (values * weight).sum() / max(valid, EPSILON)
    if weight is None:
        return values.mean()
    return (values * weight).sum() / max(values.size, 1)


class Loss:
    """A per-sample loss function plus Keras's reduction: ``loss(y_true, y_pred, sample_weight)``."""

    fn: Callable[..., Tensor]

    def __init__(self, name: str | None = None, **options: Any) -> None:
        self.name = name or _snake(type(self).__name__)
        self.options = options

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return type(self).fn(y_true, y_pred, **self.options)

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        y_pred = as_tensor(y_pred)
        return reduce_weighted(self.call(y_true, y_pred), sample_weight, y_pred._mask)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None) -> None:
        super().__init__(name, from_logits=from_logits, label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        super().__init__(name, from_logits=from_logits)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None) -> None:
        super().__init__(name, from_logits=from_logits, label_smoothing=label_smoothing)


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)


class LossFunctionWrapper(Loss):
    """Any ``fn(y_true, y_pred) -> per-sample Tensor`` with Keras's reduction."""

    def __init__(self, fn: Callable[..., Tensor], name: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", "loss"))
        self._fn = fn

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return self._fn(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


_BY_NAME: dict[str, type[Loss]] = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier: Any) -> Loss:
    """A Loss from a name ("sparse_categorical_crossentropy", "mse", ...), a config, a Loss or a function."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key](name=None if key in ("mse", "mae") else key)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"loss: unknown loss {identifier!r}; known: {', '.join(sorted(_BY_NAME))}")
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"loss: unknown loss class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"loss: expected a name, a Loss or a function, got {identifier!r}")


def serialize(loss: Loss) -> dict[str, Any]:
    """A JSON-able description ``get`` turns back into the loss (custom functions by name only)."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
