"""Keras-style training callbacks.

A callback sees the model through a small contract: ``model.stop_training`` (fit checks it
after every batch and epoch), ``model.optimizer.learning_rate`` (get and set),
``model.save(path)``, ``model.save_weights(path)``, ``model.get_weights()`` and
``model.set_weights(list)``.  ``logs`` are dicts such as ``{"loss": 0.3, "accuracy": 0.9,
"val_loss": 0.4}``; ``CallbackList`` passes the same dict to every callback in turn, so a
key one callback adds (``"learning_rate"``) is seen by those after it (History is last but
one, the progress bar last).  Epochs and batches are 0-based, as in Keras; messages print
them 1-based.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Iterable
from typing import Any, Callable, Optional

import numpy as np

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

Logs = Optional[dict[str, Any]]  # a runtime alias: Python 3.9 has no X | None


def _print(message: str) -> None:
    """Print to stdout without tearing an active tqdm bar."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(message, flush=True)
    else:
        tqdm.write(message, file=sys.stdout)


class Callback:
    """Base class: every hook is a no-op.  ``model`` and ``params`` are set by ``fit`` (through CallbackList)."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = dict(params or {})

    def on_train_begin(self, logs: Logs = None) -> None: ...
    def on_train_end(self, logs: Logs = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None: ...
    def on_test_begin(self, logs: Logs = None) -> None: ...
    def on_test_end(self, logs: Logs = None) -> None: ...
    def on_predict_begin(self, logs: Logs = None) -> None: ...
    def on_predict_end(self, logs: Logs = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    # Keras keeps the pre-2.2 names for the training batch hooks: overriding either works.
    def on_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self.on_batch_end(batch, logs)


def _pythonify(logs: dict[str, Any] | None) -> dict[str, Any]:
    """A new dict with NumPy scalars and 0-d arrays as Python numbers."""
    out = {}
    for k, v in (logs or {}).items():
        if isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0):
            v = v.item()
        out[k] = v
    return out


class CallbackList(Callback):
    """Calls each hook on every callback in order; adds a History (and a ProgbarLogger) when asked and absent.

    ``CallbackList(callbacks, model=model, add_history=True, add_progbar=verbose > 0,
    params={"epochs": 10, "steps": 100, "verbose": 1})``.
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | None = None,
        *,
        model: Any = None,
        add_history: bool = False,
        add_progbar: bool = False,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = list(callbacks or [])
        for k, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{k}]: expected a Callback, got {type(cb).__name__}")
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        logs = _pythonify(args[-1])
        for cb in self.callbacks:
            getattr(cb, hook)(*args[:-1], logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)


class History(Callback):
    """Records the epoch-end logs: ``history[key]`` is the list of values per epoch, ``epoch`` the epoch indices.
    ``fit`` returns it; it is also set as ``model.history``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


def _format_logs(logs: dict[str, Any] | None) -> str:
    parts = []
    for k, v in (logs or {}).items():
        if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
            parts.append(f"{k}: {float(v):.4g}" if abs(float(v)) < 1e-3 and v != 0 else f"{k}: {float(v):.4f}")
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Progress on stderr with tqdm, as ``params["verbose"]`` says: 1 = a bar per epoch (and per evaluate /
    predict outside fit) with the running logs as its postfix, 2 = one line per epoch, 0 = nothing.

    Works when stderr is not a terminal (tqdm then writes plain progress lines).
    """

    def __init__(self) -> None:
        super().__init__()
        self.verbose: int = 1
        self.epochs: int = 1
        self.steps: int | None = None
        self._bar: Any = None
        self._in_fit = False
        self._t0 = 0.0

    def set_params(self, params):
        super().set_params(params)
        verbose = self.params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = int(self.params.get("epochs") or 1)
        self.steps = self.params.get("steps")

    def _open(self, desc: str) -> None:
        self._close()
        self._t0 = time.perf_counter()
        if self.verbose != 1 or sys.stderr is None:
            return
        try:
            from tqdm import tqdm
        except ImportError as exc:
            raise ImportError("ProgbarLogger needs tqdm: pip install tqdm (or fit with verbose=0)") from exc
        self._bar = tqdm(total=self.steps, desc=desc, unit="step", file=sys.stderr, leave=True, dynamic_ncols=True)

    def _advance(self, batch: int, logs: dict[str, Any] | None) -> None:
        if self._bar is not None:
            self._bar.update(batch + 1 - self._bar.n)
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)

    def _finish(self, desc: str, logs: dict[str, Any] | None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._close()
        elif self.verbose == 2:
            line = f"{desc} - {time.perf_counter() - self._t0:.0f}s"
            text = _format_logs(logs)
            print(f"{line} - {text}" if text else line, file=sys.stderr, flush=True)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._close()
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._open(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._advance(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(f"Epoch {epoch + 1}/{self.epochs}", logs)

    # evaluate / predict get a bar of their own only outside fit (validation inside fit is silent, as Keras)
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._open("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._advance(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish("Evaluate", logs)

    def on_predict_begin(self, logs=None):
        self._open("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        self._advance(batch, None)

    def on_predict_end(self, logs=None):
        self._finish("Predict", None)


class _MonitorCallback(Callback):
    """Watches ``logs[monitor]``; ``mode`` "min", "max" or "auto" (max for names with "acc"/"auc", else min)."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: expected a log key such as 'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(float(min_delta))
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if ("acc" in name or "auc" in name) else "min"
        self._greater = mode == "max"

    def _is_improvement(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._greater:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def _monitored(self, logs: dict[str, Any] | None, what: str) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"{what} conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=3,
            )
            return None
        return float(value)


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has not improved (by more than ``min_delta``) for ``patience`` epochs.

    Keras semantics: the first monitored epoch sets ``best``; with ``baseline`` the wait resets only on epochs
    that also beat the baseline; nothing is counted before ``start_from_epoch``; ``stopped_epoch`` is the
    0-based epoch at which training was stopped (0 if it was not); ``restore_best_weights`` puts the weights of
    the best epoch back at the end of training.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: expected a non-negative int, got {patience!r}")
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = bool(restore_best_weights), int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: Any = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) every epoch, or every
    ``save_freq`` batches; with ``save_best_only`` only when ``monitor`` improved.

    ``filepath`` may hold ``str.format`` fields: ``epoch`` (1-based), ``batch`` (1-based, batch saves) and any
    log key, e.g. ``"ckpt/model-{epoch:02d}-{val_loss:.2f}.keras"``; missing directories are created.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"save_freq: expected 'epoch' or a positive number of batches, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_freq = verbose, save_freq
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self.best: float | None = initial_value_threshold
        self._epoch = 0
        self._batches_since_save = 0
        self._last_batch: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        new_epoch = self._last_batch is None or batch <= self._last_batch
        self._batches_since_save += batch + 1 if new_epoch else batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> str:
        fields = dict(logs)
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**{**fields, "epoch": epoch + 1})
        except KeyError as exc:
            raise KeyError(
                f"filepath: {self.filepath!r} names {exc} which is not epoch, batch or a log key ({', '.join(logs)})"
            ) from None

    def _save(self, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = self._monitored(logs, "ModelCheckpoint save_best_only")
            if current is not None:
                best = "None" if self.best is None else f"{self.best:.5f}"
                if not self._is_improvement(current, self.best):
                    if self.verbose > 0:
                        _print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                if self.verbose > 0:
                    _print(f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving to {path}")
                self.best = current
        elif self.verbose > 0:
            _print(f"Epoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if os.path.isdir(path):
            raise IsADirectoryError(f"filepath: expected a file path for ModelCheckpoint, got the directory {path!r}")
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a float, got {value!r}")
    return float(value)


class LearningRateScheduler(Callback):
    """At each epoch's start set ``model.optimizer.learning_rate = schedule(epoch, lr)`` (``schedule(epoch)``
    also accepted); each epoch's logs get ``"learning_rate"``."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule: expected a callable schedule(epoch, lr) -> float, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _accepts_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        new = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        new = _real("schedule output", new)
        optimizer.learning_rate = new
        if self.verbose > 0:
            _print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _accepts_two_arguments(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins: assume the Keras form
        return True
    try:
        sig.bind(0, 0.0)
    except TypeError:
        return False
    return True


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` (not below ``min_lr``) when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs before counting again (Keras)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        factor = _real("factor", factor)
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"factor: expected a float in [0, 1), got {factor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: expected a non-negative int, got {patience!r}")
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
            raise ValueError(f"cooldown: expected a non-negative int, got {cooldown!r}")
        self.factor, self.patience, self.verbose, self.cooldown = factor, patience, verbose, cooldown
        self.min_lr = _real("min_lr", min_lr)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._monitored(logs, "Learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        _print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LambdaCallback(Callback):
    """A callback from plain functions: ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``."""

    def __init__(
        self,
        on_epoch_begin: Callable[[int, dict], Any] | None = None,
        on_epoch_end: Callable[[int, dict], Any] | None = None,
        on_train_batch_begin: Callable[[int, dict], Any] | None = None,
        on_train_batch_end: Callable[[int, dict], Any] | None = None,
        on_train_begin: Callable[[dict], Any] | None = None,
        on_train_end: Callable[[dict], Any] | None = None,
    ) -> None:
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"{name}: expected a callable or None, got {fn!r}")
            setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training (``model.stop_training = True``) at the first batch whose loss is NaN or infinite, saying so;
    with ``raise_error`` raise a RuntimeError instead."""

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        message = f"Batch {batch}: loss is {float(loss)}, terminating training (TerminateOnNaN)"
        if self.raise_error:
            raise RuntimeError(message)
        _print(message)
        self.model.stop_training = True
