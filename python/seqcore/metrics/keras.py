"""Stateful Keras-style metrics over NumPy arrays.

A metric accumulates over batches (``update_state``), reports a float (``result``) and
starts over (``reset_state``).  The accuracy metrics are ``MeanMetricWrapper``s of a
per-sample function (``accuracy``, ``sparse_categorical_accuracy``, ...), reduced as
Keras 3 does: ``sample_weight`` may cover the leading dimensions of the per-sample values,
so a 0/1 mask [B,T] over padded sequences (y_pred [B,T,C], y_true [B,T]) counts only the
real positions.  Sums are kept in float64 (Keras uses float32).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "MeanMetricWrapper",
    "Metric",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]


# ---------------------------------------------------------------- per-sample functions


def _squeeze_or_expand(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras's ``squeeze_or_expand_to_same_rank``: reconcile ranks that differ by a trailing 1."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return y_true, y_pred


def _class_scores(y_pred: np.ndarray) -> None:
    if y_pred.ndim < 1 or y_pred.shape[-1] == 0:
        raise ValueError(f"y_pred: expected class scores [..., C] with C >= 1, got shape {y_pred.shape}")


def _sparse_labels(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Class ids shaped y_pred.shape[:-1]; a trailing 1 (y_true [..., 1]) is squeezed as Keras does."""
    _class_scores(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"y_true: expected class ids of shape y_pred.shape[:-1] = {y_pred.shape[:-1]}, got {y_true.shape}"
        )
    return y_true


def _squeeze_last_one(matches: np.ndarray) -> np.ndarray:
    return matches[..., 0] if matches.ndim > 1 and matches.shape[-1] == 1 else matches


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where y_true equals y_pred (the values themselves, e.g. predicted class ids), else 0.0."""
    y_true, y_pred = _squeeze_or_expand(*_pair(y_true, y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected the shape of y_pred {y_pred.shape}, got {y_true.shape}")
    return (y_true == y_pred).astype(np.float64)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where ``y_pred > threshold`` agrees with the 0/1 label y_true, per element."""
    y_true, y_pred = _squeeze_or_expand(*_pair(y_true, y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected the shape of y_pred {y_pred.shape}, got {y_true.shape}")
    return (y_true == (y_pred > threshold)).astype(np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the arg-max of the one-hot (or probability) y_true is the arg-max of y_pred; shape [...]."""
    y_true, y_pred = _pair(y_true, y_pred)
    _class_scores(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected one-hot rows of y_pred's shape {y_pred.shape}, got {y_true.shape}")
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the class id y_true [...] is the arg-max of y_pred [..., C]; shape [...]."""
    y_true, y_pred = _pair(y_true, y_pred)
    labels = _sparse_labels(y_true, y_pred)
    return _squeeze_last_one((labels == np.argmax(y_pred, -1)).astype(np.float64))


def _in_top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Keras's ``in_top_k``: the label's score is at least the k-th largest (ties count as in)."""
    labels = labels.astype(np.int64)
    C = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"y_true: expected class ids in [0, {C}), got {labels.min()}..{labels.max()}")
    target = np.take_along_axis(y_pred, labels[..., None], -1)[..., 0]
    kth = np.sort(y_pred, -1)[..., -min(k, C)]
    return (target >= kth).astype(np.float64)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    return int(k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the arg-max of the one-hot y_true is among the k highest scores of y_pred; shape [...]."""
    y_true, y_pred = _pair(y_true, y_pred)
    _class_scores(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected one-hot rows of y_pred's shape {y_pred.shape}, got {y_true.shape}")
    return _in_top_k(np.argmax(y_true, -1), y_pred, _check_k(k))


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the class id y_true is among the k highest scores of y_pred; shape [...]."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _in_top_k(_sparse_labels(y_true, y_pred), y_pred, _check_k(k))


# ---------------------------------------------------------------- metric objects


class Metric(ABC):
    """A quantity accumulated over batches.  ``name`` is the key it is reported under (logs, History)."""

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {name!r}")
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()

    @abstractmethod
    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate one batch."""

    @abstractmethod
    def result(self) -> float:
        """The value over everything accumulated since the last reset."""

    @abstractmethod
    def reset_state(self) -> None:
        """Forget everything accumulated."""

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """``update_state`` then ``result`` (as Keras)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _samplewise(values: np.ndarray, sample_weight: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras 3's ``reduce_to_samplewise_values`` with mean: per-sample weighted values [B] and weights [B]."""
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        values, sw = _squeeze_or_expand(values, sw)
        if values.ndim > sw.ndim:
            values = values.mean(axis=tuple(range(sw.ndim, values.ndim)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight: expected a shape that broadcasts to the leading dimensions of the per-sample "
                f"values {values.shape}, got {np.shape(sample_weight)}"
            ) from None
        values = values * sw
        if sw.ndim > 1:
            sw = sw.mean(axis=tuple(range(1, sw.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sw


class Mean(Metric):
    """The (weighted) mean of the values given: ``update_state(values, sample_weight=None)``."""

    def __init__(self, name: str = "mean") -> None:
        super().__init__(name)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        values = np.asarray(values, dtype=np.float64)
        values, sw = _samplewise(values, sample_weight)
        self.total += float(np.sum(values))
        if sw is not None:
            self.count += float(np.sum(sw))
        else:
            self.count += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)``, a per-sample array (a loss or an accuracy function)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn: expected a callable fn(y_true, y_pred) -> per-sample array, got {fn!r}")
        super().__init__(name or getattr(fn, "__name__", None) or "mean_metric_wrapper")
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._fn_kwargs}


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true."""

    def __init__(self, name: str = "accuracy") -> None:
        super().__init__(accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 label."""

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)):
            raise TypeError(f"threshold: expected a float, got {threshold!r}")
        super().__init__(binary_accuracy, name, threshold=float(threshold))
        self.threshold = float(threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of y_pred is the arg-max of the one-hot y_true."""

    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of y_pred is the class id y_true."""

    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(sparse_categorical_accuracy, name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot y_true's class is among the k highest scores."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy") -> None:
        super().__init__(top_k_categorical_accuracy, name, k=_check_k(k))
        self.k = int(k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the class id y_true is among the k highest scores."""

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy") -> None:
        super().__init__(sparse_top_k_categorical_accuracy, name, k=_check_k(k))
        self.k = int(k)


# ---------------------------------------------------------------- lookup

_BY_NAME: dict[str, type[Metric]] = {
    "mean": Mean,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _loss_name(loss: Any) -> str:
    if loss is None:
        return ""
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return _snake(name if isinstance(name, str) else type(loss).__name__)


def _accuracy_for(loss: Any, output_shape: Any) -> type[MeanMetricWrapper]:
    """What "accuracy" means for this loss (Keras's compile-time resolution, by loss first)."""
    loss = _loss_name(loss)
    if loss.startswith("sparse_categorical"):
        return SparseCategoricalAccuracy
    if loss.startswith("categorical"):
        return CategoricalAccuracy
    if loss.startswith("binary"):
        return BinaryAccuracy
    if output_shape is not None and len(output_shape) and output_shape[-1] == 1:
        return BinaryAccuracy
    return Accuracy


def get(identifier: Any, loss: Any = None, output_shape: Any = None) -> Metric:
    """A metric from a Metric (returned as is), a Metric class, a name, or a callable fn(y_true, y_pred).

    "accuracy" / "acc" resolve by ``loss`` as Keras's compile does: sparse_categorical_crossentropy ->
    SparseCategoricalAccuracy, categorical_crossentropy -> CategoricalAccuracy, binary_crossentropy (or a
    model output whose last dimension is 1) -> BinaryAccuracy, anything else -> Accuracy; the metric keeps the
    name it was asked by.  ``loss`` may be a name (any case, CamelCase or snake_case) or a loss object/function.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = _snake(identifier)
        if key in ("accuracy", "acc"):
            return _accuracy_for(loss, output_shape)(name=identifier)
        if key in _BY_NAME:
            return _BY_NAME[key]()
        known = sorted(["accuracy", "acc", *_BY_NAME])
        raise ValueError(f"metric: expected one of {known}, a Metric or a callable, got {identifier!r}")
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric: expected a name, a Metric or a callable fn(y_true, y_pred), got {identifier!r}")
