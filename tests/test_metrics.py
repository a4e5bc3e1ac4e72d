"""seqcore.metrics against keras.metrics on random batches (masks and weights included), plus lookup and errors."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from seqcore import metrics

# keras 3 on NumPy 2 warns from its own internals (keras/src/backend/torch/core.py); nothing of ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

B, T, C = 6, 7, 5


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"  # tensorflow is not a test peer
    return pytest.importorskip("keras")


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([len(key), *key])


def _mask(rng: np.random.Generator) -> np.ndarray:
    """Padding mask [B, T]: row b has a random length in [1, T] (one row fully padded but the first step)."""
    lengths = rng.integers(1, T + 1, size=B)
    return (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)


def _batches(kind: str, seed: int, n: int = 3) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """(y_true, y_pred, sample_weight) batches for one metric kind; every other batch unweighted."""
    rng = _rng(seed)
    out = []
    for i in range(n):
        scores = rng.standard_normal((B, T, C)).astype(np.float32)
        labels = rng.integers(0, C, size=(B, T))
        weight = _mask(rng) if i % 2 == 0 else None
        if kind == "sparse":
            out.append((labels, scores, weight))
        elif kind == "onehot":
            out.append((np.eye(C, dtype=np.float32)[labels], scores, weight))
        elif kind == "binary":
            out.append(((labels % 2).astype(np.float32), rng.uniform(size=(B, T)).astype(np.float32), weight))
        elif kind == "binary_column":
            sw = None if weight is None else rng.uniform(0, 2, size=B).astype(np.float32)
            out.append(((labels[:, :1] % 2).astype(np.float32), rng.uniform(size=(B, 1)).astype(np.float32), sw))
        else:  # exact values: predicted ids against labels
            out.append((labels, np.where(rng.uniform(size=(B, T)) < 0.6, labels, (labels + 1) % C), weight))
    return out


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("Accuracy", {}, "ids"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary_column"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {}, "sparse"),
]


@pytest.mark.parametrize(("name", "kw", "kind"), CASES, ids=[f"{n}-{k}" for n, _, k in CASES])
def test_matches_keras_with_masks(keras, name, kw, kind):
    ours, theirs = getattr(metrics, name)(**kw), getattr(keras.metrics, name)(**kw)
    assert ours.name == theirs.name
    for i, (y_true, y_pred, weight) in enumerate(_batches(kind, seed=len(name) + len(kw))):
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        want = float(keras.ops.convert_to_numpy(theirs.result()))
        assert ours.result() == pytest.approx(want, rel=1e-6), f"{name} after batch {i}"
    ours.reset_state()
    assert ours.result() == 0.0


def test_masked_sparse_accuracy_counts_only_real_positions():
    rng = _rng(7)
    y_pred = rng.standard_normal((B, T, C))
    y_true = rng.integers(0, C, size=(B, T))
    mask = _mask(rng)
    hits = (np.argmax(y_pred, -1) == y_true).astype(float)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred, sample_weight=mask)
    assert m.result() == pytest.approx(np.sum(hits * mask) / np.sum(mask), rel=1e-12)
    y_true[mask == 0] = (np.argmax(y_pred, -1)[mask == 0] + 1) % C  # change only padded labels: no effect
    m.reset_state()
    m.update_state(y_true, y_pred, sample_weight=mask)
    assert m.result() == pytest.approx(np.sum(hits * mask) / np.sum(mask), rel=1e-12)
    m.update_state(y_true[..., None], y_pred)  # [B, T, 1] labels: Keras squeezes them
    assert 0.0 < m.result() < 1.0


@pytest.mark.parametrize(
    ("values", "weight"),
    [
        (np.arange(12.0).reshape(3, 4), None),
        (np.arange(12.0).reshape(3, 4), np.array([1.0, 0.0, 2.0])),
        (np.arange(12.0).reshape(3, 4), np.array([[1.0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0.5]])),
        (np.arange(3.0), np.array([[1.0], [0.5], [0.0]])),
        (np.float64(2.5), None),
        (np.arange(6.0).reshape(3, 2, 1), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])),
    ],
)
def test_mean_matches_keras(keras, values, weight):
    ours, theirs = metrics.Mean(), keras.metrics.Mean()
    for _ in range(2):
        ours.update_state(values, sample_weight=weight)
        theirs.update_state(values, sample_weight=weight)
    assert ours.result() == pytest.approx(float(keras.ops.convert_to_numpy(theirs.result())), rel=1e-6)


def test_mean_metric_wrapper_matches_keras_loss_as_metric(keras):
    def mse(y_true, y_pred):
        return np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2, axis=-1)

    rng = _rng(11)
    ours = metrics.MeanMetricWrapper(mse, name="mse")
    theirs = keras.metrics.MeanMetricWrapper(keras.losses.mean_squared_error, name="mse")
    for i in range(3):
        y_true, y_pred = rng.standard_normal((B, T, 3)), rng.standard_normal((B, T, 3))
        weight = _mask(rng) if i != 1 else None
        ours.update_state(y_true, y_pred, weight)
        theirs.update_state(y_true, y_pred, weight)
    assert ours.name == "mse"
    assert ours.result() == pytest.approx(float(keras.ops.convert_to_numpy(theirs.result())), rel=1e-6)


def test_top_k_ties_count_as_in():
    y_pred = np.array([[0.5, 0.5, 0.5, 0.1], [0.9, 0.8, 0.7, 0.6]])
    assert metrics.sparse_top_k_categorical_accuracy([2, 3], y_pred, k=1).tolist() == [1.0, 0.0]
    assert metrics.sparse_top_k_categorical_accuracy([3, 3], y_pred, k=10).tolist() == [1.0, 1.0]


def test_call_updates_and_returns_result():
    m = metrics.Accuracy()
    assert m([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)
    assert m([1], [1]) == pytest.approx(3 / 4)


# ---------------------------------------------------------------- get


@pytest.mark.parametrize(
    ("loss", "output_shape", "cls"),
    [
        ("sparse_categorical_crossentropy", None, metrics.SparseCategoricalAccuracy),
        ("SparseCategoricalCrossentropy", None, metrics.SparseCategoricalAccuracy),
        ("categorical_crossentropy", (None, 5), metrics.CategoricalAccuracy),
        ("binary_crossentropy", (None, 3), metrics.BinaryAccuracy),
        ("mse", (None, 1), metrics.BinaryAccuracy),
        ("mse", (None, 4), metrics.Accuracy),
        (None, None, metrics.Accuracy),
    ],
)
def test_get_accuracy_resolves_by_loss(loss, output_shape, cls):
    for identifier in ("accuracy", "acc"):
        m = metrics.get(identifier, loss=loss, output_shape=output_shape)
        assert type(m) is cls and m.name == identifier


def test_get_accuracy_by_loss_object(keras):
    m = metrics.get("accuracy", loss=keras.losses.SparseCategoricalCrossentropy())
    assert type(m) is metrics.SparseCategoricalAccuracy and m.name == "accuracy"

    def categorical_crossentropy(y_true, y_pred):
        return y_true

    assert type(metrics.get("acc", loss=categorical_crossentropy)) is metrics.CategoricalAccuracy


def test_get_other_identifiers():
    m = metrics.TopKCategoricalAccuracy(k=2)
    assert metrics.get(m) is m
    assert type(metrics.get("sparse_top_k_categorical_accuracy")) is metrics.SparseTopKCategoricalAccuracy
    assert type(metrics.get("BinaryAccuracy")) is metrics.BinaryAccuracy
    assert type(metrics.get(metrics.CategoricalAccuracy)) is metrics.CategoricalAccuracy

    def hits(y_true, y_pred):
        return (np.asarray(y_true) == np.asarray(y_pred)).astype(float)

    wrapped = metrics.get(hits)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "hits"
    wrapped.update_state([1, 2], [1, 1])
    assert wrapped.result() == 0.5
    with pytest.raises(ValueError, match=r"metric: expected one of \[.*'accuracy'.*\], a Metric or a callable"):
        metrics.get("f1")
    with pytest.raises(TypeError, match="metric: expected a name"):
        metrics.get(3)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: metrics.sparse_categorical_accuracy(np.zeros((2, 3)), np.zeros((2, 4))),
            ValueError,
            r"y_true: expected class ids of shape y_pred.shape\[:-1\] = \(2,\), got \(2, 3\)",
        ),
        (
            lambda: metrics.categorical_accuracy(np.zeros((2, 3)), np.zeros((2, 4))),
            ValueError,
            "y_true: expected one-hot rows",
        ),
        (lambda: metrics.accuracy([1, 2], [1, 2, 3]), ValueError, "y_true: expected the shape of y_pred"),
        (
            lambda: metrics.sparse_top_k_categorical_accuracy([7], np.zeros((1, 3))),
            ValueError,
            r"y_true: expected class ids in \[0, 3\)",
        ),
        (
            lambda: metrics.SparseCategoricalAccuracy().update_state([0, 1], np.zeros((2, 3)), np.ones(3)),
            ValueError,
            "sample_weight: expected a shape that broadcasts",
        ),
        (lambda: metrics.Accuracy().update_state(["a"], ["a"]), TypeError, "y_true: expected a numeric array"),
        (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, "k: expected a positive int, got 0"),
        (lambda: metrics.MeanMetricWrapper(3), TypeError, "fn: expected a callable"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
