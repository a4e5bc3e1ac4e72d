"""The training engine end to end: the documented entry points, fit/evaluate/predict, determinism."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import numpy as np
import pytest

import seqcore
from seqcore import nn


def _sequence_task(n: int = 1200, T: int = 12, V: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class = which of three marker tokens (1, 2, 3) appears first; needs memory over time."""
    rng = np.random.default_rng(seed)
    x = rng.integers(4, V, size=(n, T))
    y = rng.integers(0, 3, size=n)
    pos = rng.integers(0, T // 2, size=n)
    x[np.arange(n), pos] = y + 1
    return x, y


def test_issue_entry_points_work_as_documented() -> None:
    seqcore.set_seed(0)
    model = nn.Sequential(
        [nn.Embedding(10000, 50), nn.LSTM(128, return_sequences=True), nn.LSTM(128), nn.Dense(5, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 10000, size=(64, 10)), rng.integers(0, 5, size=64)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 1
    p = model.predict(x)
    assert p.shape == (64, 5) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    inp = nn.Input(shape=(10,), dtype="int64")
    out = nn.Dense(5, activation="softmax")(nn.LSTM(8)(nn.Embedding(10000, 4)(inp)))
    functional = nn.Model(inp, out)
    assert functional.predict(x).shape == (64, 5)


def test_lstm_classifier_learns_a_synthetic_task_quickly() -> None:
    seqcore.set_seed(1)
    x, y = _sequence_task()
    model = nn.Sequential([nn.Embedding(20, 16), nn.LSTM(32), nn.Dense(3, activation="softmax")])
    model.compile(optimizer=seqcore.optim.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x[:1000], y[:1000], batch_size=32, epochs=8, verbose=0)
    elapsed = time.perf_counter() - start
    loss, acc = model.evaluate(x[1000:], y[1000:], verbose=0)
    assert acc > 0.95, f"held-out accuracy {acc:.3f} (loss {loss:.3f}) after {elapsed:.1f}s"


def _train_curve(seed: int) -> tuple[list[float], list[np.ndarray]]:
    seqcore.set_seed(seed)
    nn.clear_session()
    x, y = _sequence_task(n=256)
    model = nn.Sequential(
        [nn.Embedding(20, 8), nn.Dropout(0.2), nn.GRU(16, return_sequences=True), nn.LSTM(8), nn.Dense(3)]
    )
    model.compile(optimizer="adam", loss=seqcore.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.25)
    return h.history["loss"] + h.history["val_loss"], model.get_weights()


def test_same_seed_gives_same_weights_and_same_training_curve() -> None:
    a, wa = _train_curve(7)
    b, wb = _train_curve(7)
    c, _ = _train_curve(8)
    assert a == b
    assert all(np.array_equal(p, q) for p, q in zip(wa, wb))
    assert a != c


def test_predict_is_batch_size_independent_and_repeatable() -> None:
    seqcore.set_seed(2)
    model = nn.Sequential([nn.Embedding(30, 8, input_shape=(7,)), nn.Bidirectional(nn.GRU(6)), nn.Dense(4)])
    x = np.random.default_rng(0).integers(0, 30, size=(50, 7))
    p1 = model.predict(x, batch_size=7)
    p2 = model.predict(x, batch_size=50)
    p3 = model.predict(x, batch_size=7)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    assert np.array_equal(p1, p3)


def test_functional_model_with_shared_layers_multiple_inputs_and_outputs() -> None:
    seqcore.set_seed(3)
    Tx, n_s = 6, 8
    a_in = nn.Input(shape=(Tx, 5), name="a")
    s0 = nn.Input(shape=(n_s,), name="s0")
    c0 = nn.Input(shape=(n_s,), name="c0")
    enc = nn.Bidirectional(nn.LSTM(4, return_sequences=True))(a_in)
    score = nn.Dense(1)
    post = nn.LSTM(n_s, return_state=True)
    head = nn.Dense(3, activation="softmax")
    s, c, outs = s0, c0, []
    for _ in range(3):  # the attention model's loop: the same layers called again and again
        rep = nn.RepeatVector(Tx)(s)
        alphas = nn.Softmax(axis=1)(score(nn.Concatenate(axis=-1)([enc, rep])))
        context = nn.Dot(axes=1)([alphas, enc])
        _, s, c = post(context, initial_state=[s, c])
        outs.append(head(s))
    model = nn.Model([a_in, s0, c0], outs)
    assert model.get_layer("lstm" if "lstm" in [lay.name for lay in model.layers] else post.name) is post
    assert sum(layer is post for layer in model.layers) == 1
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    m = 40
    X = rng.normal(size=(m, Tx, 5))
    Y = [np.eye(3)[rng.integers(0, 3, m)] for _ in range(3)]
    zeros = np.zeros((m, n_s))
    before = model.evaluate([X, zeros, zeros], Y, return_dict=True)
    model.fit({"a": X, "s0": zeros, "c0": zeros}, Y, epochs=5, batch_size=20, verbose=0)
    after = model.evaluate([X, zeros, zeros], Y, return_dict=True)
    assert after["loss"] < before["loss"]
    assert {f"{head.name}_accuracy", f"{head.name}_loss"} <= set(after) or "loss" in after
    preds = model.predict([X, zeros, zeros])
    assert isinstance(preds, list) and len(preds) == 3 and preds[0].shape == (m, 3)


def test_summary_prints_layers_shapes_and_parameter_counts() -> None:
    nn.clear_session()
    model = nn.Sequential([nn.Embedding(100, 8, input_shape=(5,)), nn.LSTM(16), nn.Dense(3)])
    buf = io.StringIO()
    with redirect_stdout(buf):
        model.summary()
    text = buf.getvalue()
    assert "embedding (Embedding)" in text and "(None, 5, 8)" in text and "800" in text
    assert "lstm (LSTM)" in text and "(None, 16)" in text and str(4 * 16 * (8 + 16 + 1)) in text
    assert f"Total params: {800 + 4 * 16 * 25 + 16 * 3 + 3:,}" in text
    with pytest.raises(ValueError, match="not yet been built"):
        nn.Sequential([nn.Dense(3)]).summary()


def test_masking_from_mask_zero_reaches_the_recurrence_and_the_loss() -> None:
    seqcore.set_seed(4)
    emb = nn.Embedding(10, 4, mask_zero=True)
    lstm = nn.LSTM(5, return_sequences=True)
    x = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    y = lstm(emb(x))
    np.testing.assert_array_equal(y._mask, x != 0)
    assert np.all(y.numpy()[0, 3:] == 0)
    # the padded row's real part equals the same row run alone without padding
    alone = lstm(emb(x[:1, :3]))
    np.testing.assert_allclose(y.numpy()[0, :3], alone.numpy()[0], rtol=1e-6, atol=1e-7)
    # a sequence model's loss ignores padded positions entirely
    # padded steps (zero LSTM output) predict softmax(bias): a non-uniform bias makes their labels matter
    dense = nn.Dense(3, activation="softmax", bias_initializer=lambda shape, dtype: np.array([0.0, 1.0, 3.0], dtype))
    model = nn.Sequential([emb, lstm, dense])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    labels = np.array([[0, 1, 2, 0, 0], [1, 1, 1, 1, 1]])
    other = labels.copy()
    other[0, 3:] = 2  # different labels at padded positions
    assert model.evaluate(x, labels) == pytest.approx(model.evaluate(x, other), rel=1e-7)
    # and the loss is the mean over the 8 real positions only, as Keras averages a masked loss
    p = model.predict(x)
    real = x != 0
    picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    assert model.evaluate(x, labels) == pytest.approx(float(-np.log(picked[real]).mean()), rel=1e-5)


def test_frozen_pretrained_embedding_is_not_updated() -> None:
    seqcore.set_seed(5)
    matrix = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    emb = nn.Embedding.from_pretrained(matrix)
    model = nn.Sequential([emb, nn.LSTM(4), nn.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(1).integers(0, 20, size=(16, 5)), np.zeros(16, dtype=int)
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(emb.get_weights()[0], matrix)
    assert emb.embeddings not in model.trainable_weights
    emb.trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(emb.get_weights()[0], matrix)


def test_callbacks_early_stopping_and_history_with_a_real_model() -> None:
    seqcore.set_seed(6)
    x, y = _sequence_task(n=200)
    model = nn.Sequential([nn.Embedding(20, 4), nn.SimpleRNN(4), nn.Dense(3, activation="softmax")])
    model.compile(optimizer=seqcore.optim.SGD(0.0), loss="sparse_categorical_crossentropy")  # lr 0: no progress
    seen: list[int] = []
    stop = nn.callbacks.EarlyStopping(monitor="loss", patience=1)
    log = nn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop, log])
    assert len(history.history["loss"]) < 10 and seen == list(range(len(history.history["loss"])))


def test_progress_bar_runs_with_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.Sequential([nn.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((10, 3)), np.zeros((10, 2)), epochs=2, batch_size=4, verbose=1)
    err = capsys.readouterr().err
    assert "loss" in err


def test_float64_models_train_in_float64() -> None:
    seqcore.set_floatx("float64")
    try:
        model = nn.Sequential([nn.LSTM(3, input_shape=(4, 2)), nn.Dense(1)])
    finally:
        seqcore.set_floatx("float32")
    assert all(w.dtype == np.float64 for w in model.weights)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4, 2)), np.ones((8, 1)), verbose=0)
    assert model.predict(np.ones((2, 4, 2))).dtype == np.float64


def test_fused_cross_entropy_with_a_padding_mask_ignores_padded_positions() -> None:
    from seqcore.autograd import functional as F

    rng = np.random.default_rng(0)
    logits = seqcore.Tensor(rng.normal(size=(2, 4, 5)), requires_grad=True)
    labels = rng.integers(0, 5, size=(2, 4))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    loss = F.softmax_cross_entropy(logits, labels, mask=mask)
    assert np.all(loss.numpy()[~mask] == 0)
    loss.sum().backward()
    assert np.all(logits.grad[~mask] == 0) and np.all(np.abs(logits.grad[mask]).sum(axis=-1) > 0)
    full = F.softmax_cross_entropy(logits.detach(), labels)
    np.testing.assert_allclose(loss.numpy()[mask], full.numpy()[mask], rtol=1e-12)


def test_model_checkpoint_saves_the_best_model_that_loads_again(tmp_path) -> None:
    seqcore.set_seed(8)
    x, y = _sequence_task(n=160)
    model = nn.Sequential([nn.Embedding(20, 4), nn.GRU(4), nn.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    pattern = str(tmp_path / "best-{epoch:02d}.safetensors")
    ckpt = nn.callbacks.ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[ckpt])
    saved = sorted(tmp_path.iterdir())
    assert saved and saved[0].name == "best-01.safetensors"
    best = int(np.argmin(history.history["val_loss"])) + 1
    again = seqcore.load_model(tmp_path / f"best-{best:02d}.safetensors")
    assert again.evaluate(x[120:], y[120:], return_dict=True)["loss"] == pytest.approx(
        history.history["val_loss"][best - 1], rel=1e-6
    )


def test_demo_command_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    from seqcore.cli.main import main

    assert main(["demo", "--epochs", "1", "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "reloaded predictions bit-identical: True" in out and "Total params" in out
