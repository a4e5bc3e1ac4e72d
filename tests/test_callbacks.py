"""seqcore.nn.callbacks with a fake model; EarlyStopping and ReduceLROnPlateau against keras.callbacks driven by
the same sequences of epoch logs (values are multiples of 1/64, exact in Keras's float32 comparisons)."""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import numpy as np
import pytest

from seqcore import optim
from seqcore.nn import callbacks as cb

# keras 3 on NumPy 2 warns from its own internals (keras/src/backend/torch/core.py); nothing of ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


class FakeModel:
    """The model contract the callbacks use."""

    def __init__(self, lr: float = 0.1) -> None:
        self.stop_training = False
        self.optimizer = optim.SGD(lr)
        self.weights = [np.zeros(2), np.zeros(3)]
        self.saved: list[tuple[str, str]] = []

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.weights = [np.array(w) for w in weights]

    def save(self, path: str) -> None:
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path: str) -> None:
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


class FakeOptimizer:
    def __init__(self, lr: float) -> None:
        self.learning_rate = lr


def fit(callbacks, epoch_logs, model, steps: int = 3, batch_logs=None, verbose: int = 0):
    """What Model.fit does with callbacks, over prepared logs; returns (History, epochs run)."""
    cbl = cb.CallbackList(
        callbacks,
        model=model,
        add_history=True,
        add_progbar=verbose > 0,
        params={"epochs": len(epoch_logs), "steps": steps, "verbose": verbose},
    )
    cbl.on_train_begin()
    ran = 0
    for epoch, logs in enumerate(epoch_logs):
        cbl.on_epoch_begin(epoch)
        for batch in range(steps):
            cbl.on_train_batch_begin(batch)
            cbl.on_train_batch_end(batch, (batch_logs or {}).get((epoch, batch), {"loss": logs.get("loss", 1.0)}))
            if model.stop_training:
                break
        cbl.on_test_begin()
        cbl.on_test_batch_end(0, {"loss": 0.5})
        cbl.on_test_end({"loss": 0.5})
        cbl.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    cbl.on_train_end()
    return cbl.history, ran


def drive(callback, values, model, key="val_loss"):
    """Only the epoch-end hooks, as both seqcore's and Keras's callbacks understand them; returns epochs run."""
    callback.set_model(model)
    callback.on_train_begin({})
    ran = 0
    for epoch, v in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {"loss": 1.0, key: v})
        ran += 1
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"  # tensorflow is not a test peer
    return pytest.importorskip("keras")


def _sequence(seed: int, n: int = 14) -> list[float]:
    rng = np.random.default_rng(seed)
    walk = 64 + np.cumsum(rng.integers(-6, 5, size=n))
    return [float(v) / 64 for v in walk]


# ---------------------------------------------------------------- CallbackList, History, hooks


class Recorder(cb.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            return lambda *args: self.calls.append((name, *args[:-1]))
        return super().__getattribute__(name)


def test_history_and_dispatch_order():
    model, rec = FakeModel(), Recorder()
    logs = [{"loss": np.float32(0.5), "val_loss": 0.75}, {"loss": 0.25, "val_loss": np.array(0.5)}]
    history, ran = fit([rec], logs, model, steps=2)
    assert ran == 2 and history.epoch == [0, 1] and model.history is history
    assert history.history == {"loss": [0.5, 0.25], "val_loss": [0.75, 0.5]}
    assert all(type(v) is float for vs in history.history.values() for v in vs)  # NumPy scalars made Python
    assert history.params == {"epochs": 2, "steps": 2, "verbose": 0} and history.model is model
    assert rec.calls[:5] == [
        ("on_train_begin",),
        ("on_epoch_begin", 0),
        ("on_train_batch_begin", 0),
        ("on_train_batch_end", 0),
        ("on_train_batch_begin", 1),
    ]
    assert rec.calls[-2:] == [("on_epoch_end", 1), ("on_train_end",)]
    assert ("on_test_batch_end", 0) in rec.calls


def test_legacy_batch_hooks_receive_training_batches():
    seen = []

    class Legacy(cb.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs["loss"]))

    fit([Legacy()], [{"loss": 0.5}], FakeModel(), steps=2)
    assert seen == [(0, 0.5), (1, 0.5)]


def test_callback_list_keeps_a_given_history_and_rejects_non_callbacks():
    history = cb.History()
    cbl = cb.CallbackList([history], add_history=True, add_progbar=True)
    assert cbl.history is history and sum(isinstance(c, cb.History) for c in cbl) == 1
    assert isinstance(cbl.callbacks[-1], cb.ProgbarLogger)
    with pytest.raises(TypeError, match=r"callbacks\[0\]: expected a Callback, got function"):
        cb.CallbackList([lambda: None])


# ---------------------------------------------------------------- EarlyStopping

EARLY = [
    {"patience": p, "min_delta": d, "baseline": b, "start_from_epoch": s}
    for p, d, b, s in itertools.product([0, 1, 3], [0.0, 1 / 16], [None, 0.875], [0, 2])
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "kw", EARLY, ids=[f"p{k['patience']}-d{k['min_delta']}-b{k['baseline']}-s{k['start_from_epoch']}" for k in EARLY]
)
def test_early_stopping_matches_keras(keras, seed, kw):
    values = _sequence(seed)
    ours, theirs = cb.EarlyStopping(**kw), keras.callbacks.EarlyStopping(**kw)
    ran = drive(ours, values, FakeModel())
    assert ran == drive(theirs, values, FakeModel())
    assert (ours.stopped_epoch, ours.best, ours.wait) == (theirs.stopped_epoch, theirs.best, theirs.wait)


@pytest.mark.parametrize("seed", [4, 5])
def test_early_stopping_max_mode_matches_keras(keras, seed):
    values = [1.0 - v / 2 for v in _sequence(seed)]
    ours = cb.EarlyStopping("val_accuracy", patience=2, restore_best_weights=True)  # auto -> max
    theirs = keras.callbacks.EarlyStopping("val_accuracy", patience=2, mode="max", restore_best_weights=True)
    assert drive(ours, values, FakeModel(), "val_accuracy") == drive(theirs, values, FakeModel(), "val_accuracy")
    assert (ours.stopped_epoch, ours.best, ours.best_epoch) == (theirs.stopped_epoch, theirs.best, theirs.best_epoch)


def test_early_stopping_stops_fit_and_restores_best_weights():
    class Weights(cb.Callback):  # training moves the weights each epoch
        def on_epoch_end(self, epoch, logs=None):
            self.model.weights = [w + 1 for w in self.model.weights]

    model = FakeModel()
    stop = cb.EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    logs = [{"loss": 1.0, "val_loss": v} for v in [0.5, 0.25, 0.5, 0.75, 0.125, 0.0]]
    history, ran = fit([Weights(), stop], logs, model)
    assert ran == 3 and stop.stopped_epoch == 2 and stop.best == 0.25 and stop.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [2.0, 2.0])  # as they were after epoch 1
    assert len(history.epoch) == 3


def test_early_stopping_warns_when_monitor_missing():
    stop = cb.EarlyStopping(monitor="val_loss")
    stop.set_model(FakeModel())
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: loss"):
        stop.on_epoch_end(0, {"loss": 1.0})


# ---------------------------------------------------------------- ReduceLROnPlateau

PLATEAU = [
    {"factor": f, "patience": p, "cooldown": c, "min_lr": m, "min_delta": d}
    for f, p, c, m, d in itertools.product([0.5], [0, 2], [0, 2], [0.0, 2**-6], [1e-4, 1 / 16])
]


@pytest.mark.parametrize("seed", [1, 6, 7])
@pytest.mark.parametrize(
    "kw", PLATEAU, ids=[f"p{k['patience']}-c{k['cooldown']}-m{k['min_lr']}-d{k['min_delta']}" for k in PLATEAU]
)
def test_reduce_lr_on_plateau_matches_keras(keras, seed, kw):
    values = _sequence(seed, 20)
    ours, theirs = cb.ReduceLROnPlateau(**kw), keras.callbacks.ReduceLROnPlateau(**kw)
    model, fake = FakeModel(lr=0.125), FakeModel()
    fake.optimizer = FakeOptimizer(0.125)
    for callback, m in ((ours, model), (theirs, fake)):
        callback.set_model(m)
        callback.on_train_begin({})
    ours_lr, theirs_lr = [], []
    for epoch, v in enumerate(values):
        logs, before = {"val_loss": v}, model.optimizer.learning_rate
        ours.on_epoch_end(epoch, logs)
        theirs.on_epoch_end(epoch, {"val_loss": v})
        assert logs["learning_rate"] == before  # logged before any reduction, as Keras
        ours_lr.append(model.optimizer.learning_rate)
        theirs_lr.append(fake.optimizer.learning_rate)
    assert ours_lr == theirs_lr
    assert (ours.wait, ours.cooldown_counter, ours.best) == (theirs.wait, theirs.cooldown_counter, theirs.best)


def test_reduce_lr_on_plateau_bad_arguments():
    with pytest.raises(ValueError, match=r"factor: expected a float in \[0, 1\), got 1.0"):
        cb.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="mode: expected 'auto', 'min' or 'max', got 'up'"):
        cb.ReduceLROnPlateau(mode="up")
    with pytest.raises(ValueError, match="patience: expected a non-negative int"):
        cb.EarlyStopping(patience=-1)


# ---------------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_formats_paths_every_epoch(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.keras")
    logs = [{"loss": 1.0, "val_loss": v} for v in [0.5, 0.75, 0.25]]
    fit([cb.ModelCheckpoint(pattern)], logs, model)
    names = [os.path.basename(p) for _, p in model.saved]
    assert names == ["model-01-0.50.keras", "model-02-0.75.keras", "model-03-0.25.keras"]
    assert all(kind == "model" and os.path.isfile(p) for kind, p in model.saved)


def test_model_checkpoint_best_only_weights_only(tmp_path):
    model = FakeModel()
    check = cb.ModelCheckpoint(tmp_path / "best-{epoch}.weights.h5", save_best_only=True, save_weights_only=True)
    logs = [{"loss": 1.0, "val_loss": v} for v in [0.5, 0.75, 0.25, 0.25, 0.125]]
    fit([check], logs, model)
    assert [os.path.basename(p) for _, p in model.saved] == [
        "best-1.weights.h5",
        "best-3.weights.h5",
        "best-5.weights.h5",
    ]
    assert {kind for kind, _ in model.saved} == {"weights"} and check.best == 0.125
    maxed = FakeModel()
    fit(
        [cb.ModelCheckpoint(tmp_path / "acc-{epoch}", "val_accuracy", save_best_only=True)],
        [{"val_accuracy": v} for v in [0.5, 0.25, 0.75]],
        maxed,
    )
    assert [os.path.basename(p) for _, p in maxed.saved] == ["acc-1", "acc-3"]


def test_model_checkpoint_batch_frequency(tmp_path):
    model = FakeModel()
    fit([cb.ModelCheckpoint(tmp_path / "e{epoch}-b{batch}", save_freq=2)], [{"loss": 1.0}] * 2, model, steps=3)
    # batches seen: 1 2 | 3 1 | 2 3 -> a save after the 2nd, 4th and 6th batch overall
    assert [os.path.basename(p) for _, p in model.saved] == ["e1-b2", "e2-b1", "e2-b3"]


def test_model_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="save_freq: expected 'epoch' or a positive number of batches, got 0"):
        cb.ModelCheckpoint("x", save_freq=0)
    with pytest.raises(KeyError, match="names 'val_acc' which is not epoch, batch or a log key"):
        fit([cb.ModelCheckpoint(str(tmp_path / "{val_acc}"))], [{"loss": 1.0}], FakeModel())


# ---------------------------------------------------------------- LearningRateScheduler, Lambda, TerminateOnNaN


def test_learning_rate_scheduler_sets_optimizer_and_logs():
    model = FakeModel(lr=0.5)
    seen = []
    sched = cb.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    probe = cb.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    history, _ = fit([sched, probe], [{"loss": 1.0}] * 4, model)
    assert seen == [0.5, 0.5, 0.25, 0.125]
    assert history.history["learning_rate"] == [0.5, 0.5, 0.25, 0.125]  # added before History sees the logs
    one_arg = cb.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    fit([one_arg], [{"loss": 1.0}] * 2, model)
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="schedule output: expected a float, got 'fast'"):
        fit([cb.LearningRateScheduler(lambda epoch, lr: "fast")], [{"loss": 1.0}], model)


def test_learning_rate_scheduler_replaces_a_schedule():
    model = FakeModel()
    model.optimizer = optim.Adam(optim.ExponentialDecay(0.1, 10, 0.5))
    fit([cb.LearningRateScheduler(lambda epoch, lr: lr / 2)], [{"loss": 1.0}], model)
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_lambda_callback_hooks():
    calls = []
    lam = cb.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_batch_end=lambda batch, logs: calls.append(("batch", batch)),
        on_train_end=lambda logs: calls.append("train_end"),
    )
    fit([lam], [{"loss": 0.5}], FakeModel(), steps=2)
    assert calls == ["train_begin", ("batch", 0), ("batch", 1), ("epoch_end", 0, 0.5), "train_end"]
    with pytest.raises(TypeError, match="on_epoch_end: expected a callable or None"):
        cb.LambdaCallback(on_epoch_end=3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, np.float32("nan")])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    batch_logs = {(1, 1): {"loss": bad}}
    _, ran = fit([cb.TerminateOnNaN()], [{"loss": 1.0}] * 4, model, steps=3, batch_logs=batch_logs)
    assert ran == 2 and model.stop_training
    assert "Batch 1: loss is" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="Batch 1: loss is"):
        fit([cb.TerminateOnNaN(raise_error=True)], [{"loss": 1.0}] * 4, FakeModel(), batch_logs=batch_logs)


# ---------------------------------------------------------------- ProgbarLogger


def test_progbar_verbose_1_draws_bars_on_stderr(capsys):
    pytest.importorskip("tqdm")
    fit([], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.375, "accuracy": 0.5}], FakeModel(), steps=3, verbose=1)
    out = capsys.readouterr()
    assert out.out == ""
    assert "Epoch 1/2" in out.err and "Epoch 2/2" in out.err
    assert "3/3" in out.err and "loss: 0.3750 - accuracy: 0.5000" in out.err
    assert "Evaluate" not in out.err  # validation inside fit is silent


def test_progbar_verbose_2_one_line_per_epoch(capsys):
    fit([], [{"loss": 0.5}, {"loss": 0.25, "val_loss": 0.125}], FakeModel(), verbose=2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - ") and lines[0].endswith("loss: 0.5000")
    assert lines[1].endswith("loss: 0.2500 - val_loss: 0.1250")


def test_progbar_evaluate_outside_fit_and_silent_when_verbose_0(capsys):
    pytest.importorskip("tqdm")
    progbar = cb.ProgbarLogger()
    progbar.set_params({"verbose": 1, "epochs": 1, "steps": 2})
    progbar.on_test_begin()
    progbar.on_test_batch_end(0, {"loss": 0.5})
    progbar.on_test_batch_end(1, {"loss": 0.25})
    progbar.on_test_end({"loss": 0.25})
    assert "Evaluate" in capsys.readouterr().err
    fit([], [{"loss": 0.5}], FakeModel(), verbose=0)
    assert capsys.readouterr().err == ""
