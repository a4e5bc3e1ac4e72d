"""compile / fit / evaluate / predict with Keras's semantics, for every Model.

One training step: forward under the tape with the learning phase on, one loss per output
(weighted and summed), ``backward()``, then one ``optimizer.apply_gradients`` over the
trainable weights.  A non-finite loss stops training before that update is applied, so
the weights stay those of the last good step.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _config, optim
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from ..autograd import Tensor, no_grad
from ..autograd.tensor import to_host, xp_of
from .layer import training_mode


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        if isinstance(value, Tensor):
            value = value.data
        arr = value if xp_of(value) is not np else np.asarray(value)  # CuPy data stays on its GPU
    except ValueError:  # NumPy refuses ragged nested lists
        raise ValueError(f"{name}: sequences of different lengths; pad them to one length first") from None
    if arr.dtype == object:
        raise TypeError(f"{name}: expected numeric arrays, got ragged or object data (pad sequences to one length)")
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected an array with a batch axis, got a scalar")
    return arr


def _arrays(name: str, data: Any, names: list[str]) -> list[np.ndarray]:
    """Data for each input/output, from one array, a list, or a dict keyed by layer name."""
    if data is None:
        return []
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        if unknown:
            raise ValueError(f"{name}: unknown keys {unknown}; expected {names}")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{name}: missing keys {missing}; expected {names}")
        return [_as_array(f"{name}[{n!r}]", data[n]) for n in names]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise ValueError(f"{name}: expected {len(names)} arrays ({names}), got {len(data)}")
        return [_as_array(f"{name}[{i}]", d) for i, d in enumerate(data)]
    return [_as_array(name, data)]


def _cardinality(xs: list[np.ndarray], ys: list[np.ndarray], sws: list[Any]) -> int:
    sizes = {len(a) for a in xs + ys + [s for s in sws if s is not None]}
    if len(sizes) != 1:
        raise ValueError(
            "Data cardinality is ambiguous: "
            f"x sizes: {', '.join(str(len(a)) for a in xs)}; y sizes: {', '.join(str(len(a)) for a in ys) or '-'}. "
            "Make sure all arrays contain the same number of samples."
        )
    return sizes.pop()


def _take(arrays: list[Any], idx: Any) -> list[Any]:
    return [None if a is None else a[idx if xp_of(a) is np else xp_of(a).asarray(idx)] for a in arrays]


def _onto(xp: Any, arrays: list[Any]) -> list[Any]:
    """A batch moved to the model's device (a no-op where it is already there)."""
    return [None if a is None else xp.asarray(a) for a in arrays]


def _unpack(values: list[Any], n_inputs: int) -> Any:
    return values[0] if n_inputs == 1 else values


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


class TrainingMixin:
    """compile, fit, evaluate, predict and the *_on_batch methods (mixed into Model)."""

    optimizer: Any = None
    compiled_loss: list[Any] | None = None

    # ---- compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        **unused: Any,
    ) -> None:
        """Choose the optimizer, the loss (one, or per output by list / dict) and the metrics."""
        names = self._output_names_for_training()
        if loss is None:
            raise ValueError("compile: loss is required (e.g. 'sparse_categorical_crossentropy')")
        # everything is resolved before anything is set, so a bad argument leaves the model as it was
        opt = optim.get(optimizer)
        losses = [losses_mod.get(x) for x in self._per_output("loss", loss, names)]
        if loss_weights is None:
            weights = [1.0] * len(names)
        else:
            weights = [float(w) for w in self._per_output("loss_weights", loss_weights, names)]
        metric_specs = self._per_output("metrics", metrics, names, listy=True) if metrics else [[] for _ in names]
        compiled_metrics = []
        for i, specs in enumerate(metric_specs):
            out_metrics = []
            for spec in specs or []:
                m = metrics_mod.get(spec, loss=losses[i].name)
                prefix = f"{names[i]}_" if len(names) > 1 else ""
                out_metrics.append((prefix + m.name, m))
            compiled_metrics.append(out_metrics)
        self.optimizer, self.compiled_loss, self.loss_weights = opt, losses, weights
        self.compiled_metrics = compiled_metrics
        self._compile_config = {
            "optimizer": optim.serialize(opt),
            "loss": [losses_mod.serialize(x) for x in losses],
            "metrics": [[_metric_name(s) for s in (specs or [])] for specs in metric_specs],
            "loss_weights": weights,
        }

    def _output_names_for_training(self) -> list[str]:
        names = getattr(self, "output_names", None)
        return list(names) if names else ["output"]

    @staticmethod
    def _per_output(what: str, value: Any, names: list[str], listy: bool = False) -> list[Any]:
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            if unknown:
                raise ValueError(f"compile: {what} has unknown output names {unknown}; outputs are {names}")
            return [value.get(n) for n in names]
        if isinstance(value, (list, tuple)):
            per_output = (not listy and (len(names) > 1 or len(value) == 1)) or (
                listy and len(names) > 1 and all(isinstance(v, (list, tuple)) or v is None for v in value)
            )
            if per_output:
                if len(value) != len(names):
                    raise ValueError(f"compile: {what} has {len(value)} entries for {len(names)} outputs {names}")
                return list(value)
        return [value] * len(names)

    def _require_compiled(self, what: str) -> None:
        if self.compiled_loss is None:
            raise RuntimeError(f"{what}: you must compile the model before training/testing; call model.compile(...)")

    # ---- one step
    def _outputs_list(self, out: Any) -> list[Tensor]:
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _loss(self, outs: list[Tensor], ys: list[Any], sws: list[Any]) -> tuple[Tensor, list[float]]:
        if len(outs) != len(self.compiled_loss):
            raise ValueError(f"the model produced {len(outs)} outputs but was compiled for {len(self.compiled_loss)}")
        total: Tensor | None = None
        parts = []
        for out, y, sw, fn, w in zip(outs, ys, sws, self.compiled_loss, self.loss_weights):
            value = fn(y, out, sample_weight=sw)
            parts.append(float(value.data))
            value = value * w if w != 1.0 else value
            total = value if total is None else total + value
        assert total is not None
        return total, parts

    def _update_metrics(self, outs: list[Tensor], ys: list[Any], sws: list[Any]) -> None:
        for out, y, sw, ms in zip(outs, ys, sws, self.compiled_metrics):
            weight = sw
            if out._mask is not None:
                weight = out._mask if sw is None else xp_of(out._mask).asarray(sw) * out._mask
            if xp_of(out.data) is not np:  # metrics keep NumPy state: they read a host copy
                y, weight = to_host(y), None if weight is None else to_host(weight)
            for _, m in ms:
                m.update_state(y, to_host(out.data), sample_weight=weight)

    def _metric_logs(self) -> dict[str, float]:
        return {name: float(m.result()) for ms in self.compiled_metrics for name, m in ms}

    def _reset_metrics(self) -> None:
        for ms in self.compiled_metrics:
            for _, m in ms:
                m.reset_state()

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """One gradient step on one batch; returns the loss (the update is skipped if it is not finite)."""
        self._require_compiled("train_on_batch")
        xs = _arrays("x", x, self._input_names_for_training())
        ys = _arrays("y", y, self._output_names_for_training())
        sws = _arrays("sample_weight", sample_weight, self._output_names_for_training()) or [None] * len(ys)
        _cardinality(xs, ys, sws)
        loss, _ = self._step(xs, ys, sws)
        return loss

    def _input_names_for_training(self) -> list[str]:
        names = getattr(self, "input_names", None)
        return list(names) if names else ["input"]

    def _device_xp(self) -> Any:
        """The array module of the model's weights: the batches go where the weights are (seqcore.to_device)."""
        weights = self.weights
        return xp_of(weights[0].data) if weights else np

    def _step(self, xs: list[Any], ys: list[Any], sws: list[Any]) -> tuple[float, list[float]]:
        xp = self._device_xp()
        if xp is not np:
            xs, ys, sws = _onto(xp, xs), _onto(xp, ys), _onto(xp, sws)
        with training_mode(True):
            outs = self._outputs_list(self(_unpack(xs, len(xs))))
            total, parts = self._loss(outs, ys, sws)
        loss = float(total.data)
        if not math.isfinite(loss):
            return loss, parts
        variables = self.trainable_weights
        if total.requires_grad:
            total.backward()
            self.optimizer.apply_gradients([(v.grad, v) for v in variables])
        for v in variables:
            v.grad = None
        self._update_metrics(outs, ys, sws)
        return loss, parts

    # ---- fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: list[Any] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> Any:
        """Train for ``epochs`` passes over (x, y) in mini-batches; returns a ``History``."""
        from .callbacks import CallbackList  # noqa: PLC0415  (callbacks know the Model contract, not the reverse)

        self._require_compiled("fit")
        in_names, out_names = self._input_names_for_training(), self._output_names_for_training()
        if x is None or y is None:
            raise ValueError("fit: x and y are required")
        xs, ys = _arrays("x", x, in_names), _arrays("y", y, out_names)
        sws = _arrays("sample_weight", sample_weight, out_names) or [None] * len(ys)
        N = _cardinality(xs, ys, sws)
        if N == 0:
            raise ValueError("fit: x holds no samples")
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks: expected a list of Callback objects, got {type(callbacks).__name__}")
        batch_size = 32 if batch_size is None else _positive_int("batch_size", batch_size)
        epochs = _positive_int("epochs", epochs) if epochs else 0
        if class_weight is not None:
            sws = [_class_weights(class_weight, yy, sw) for yy, sw in zip(ys, sws)]
        val = None
        if validation_data is not None:
            val = self._validation_arrays(validation_data, in_names, out_names)
        elif validation_split:
            if not 0.0 < float(validation_split) < 1.0:
                raise ValueError(f"validation_split: expected a float in (0, 1), got {validation_split!r}")
            split = int(N * (1.0 - float(validation_split)))
            if split == 0 or split == N:
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no validation samples out of {N}"
                )
            val = (_take(xs, slice(split, None)), _take(ys, slice(split, None)), _take(sws, slice(split, None)))
            xs, ys, sws = _take(xs, slice(0, split)), _take(ys, slice(0, split)), _take(sws, slice(0, split))
            N = split
        steps = math.ceil(N / batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = CallbackList(
            callbacks,
            model=self,
            add_history=True,
            add_progbar=verbose > 0,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.stop_training = False
        cbs.on_train_begin({})
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch, {})
            order = _config.rng().permutation(N) if shuffle else np.arange(N)
            seen, loss_sum = 0, 0.0
            for step, idx in enumerate(_batches(order, batch_size)):
                cbs.on_train_batch_begin(step, {})
                loss, _ = self._step(_take(xs, idx), _take(ys, idx), _take(sws, idx))
                seen += len(idx)
                loss_sum += loss * len(idx)
                logs = {"loss": loss_sum / seen, **self._metric_logs()}
                if not math.isfinite(loss):
                    warnings.warn(
                        f"fit: the loss became {loss} at epoch {epoch + 1}, batch {step + 1}; training stopped "
                        "before applying that update (the weights are those of the previous step). Try a lower "
                        "learning rate or gradient clipping (clipnorm=1.0).",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    self.stop_training = True
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if val is not None and (epoch + 1) % validation_freq == 0 and not self._nan(logs):
                val_logs = self._evaluate_arrays(*val, validation_batch_size or batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    @staticmethod
    def _nan(logs: dict[str, float]) -> bool:
        return not math.isfinite(logs.get("loss", 0.0))

    def _validation_arrays(self, data: Any, in_names: list[str], out_names: list[str]) -> tuple:
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight)")
        vx, vy = _arrays("validation_data x", data[0], in_names), _arrays("validation_data y", data[1], out_names)
        vs = _arrays("validation_data sample_weight", data[2] if len(data) == 3 else None, out_names)
        vs = vs or [None] * len(vy)
        _cardinality(vx, vy, vs)
        return vx, vy, vs

    # ---- evaluate / predict
    def _evaluate_arrays(self, xs: list[Any], ys: list[Any], sws: list[Any], batch_size: int) -> dict[str, float]:
        self._reset_metrics()
        N = len(xs[0])
        total = 0.0
        part_sums = np.zeros(len(ys))
        with no_grad(), training_mode(False):
            xp = self._device_xp()
            for idx in _batches(np.arange(N), batch_size):
                bx, by, bs = (_onto(xp, _take(a, idx)) for a in (xs, ys, sws))
                outs = self._outputs_list(self(_unpack(bx, len(bx))))
                value, parts = self._loss(outs, by, bs)
                total += float(value.data) * len(idx)
                part_sums += np.asarray(parts) * len(idx)
                self._update_metrics(outs, by, bs)
        logs = {"loss": total / N}
        names = self._output_names_for_training()
        if len(names) > 1:
            logs.update({f"{n}_loss": float(v) / N for n, v in zip(names, part_sums)})
        logs.update(self._metric_logs())
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = 0,
        sample_weight: Any = None,
        return_dict: bool = False,
        callbacks: list[Any] | None = None,
    ) -> Any:
        """Loss (and metrics) over (x, y): a float, a list [loss, *metrics], or a dict with return_dict."""
        self._require_compiled("evaluate")
        out_names = self._output_names_for_training()
        xs, ys = _arrays("x", x, self._input_names_for_training()), _arrays("y", y, out_names)
        sws = _arrays("sample_weight", sample_weight, out_names) or [None] * len(ys)
        _cardinality(xs, ys, sws)
        logs = self._evaluate_arrays(xs, ys, sws, 32 if batch_size is None else _positive_int("batch_size", batch_size))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0, callbacks: Any = None) -> Any:
        """Outputs for x, computed in batches without recording gradients (NumPy arrays)."""
        xs = _arrays("x", x, self._input_names_for_training())
        N = _cardinality(xs, [], [])
        batch_size = 32 if batch_size is None else _positive_int("batch_size", batch_size)
        chunks: list[list[np.ndarray]] = []
        with no_grad(), training_mode(False):
            xp = self._device_xp()
            for idx in _batches(np.arange(N), batch_size):
                outs = self._outputs_list(self(_unpack(_onto(xp, _take(xs, idx)), len(xs))))
                chunks.append([o.numpy() for o in outs])
        if not chunks:
            raise ValueError("predict: x holds no samples")
        results = [np.concatenate([c[i] for c in chunks], axis=0) for i in range(len(chunks[0]))]
        single = not isinstance(getattr(self, "_output_struct", None), (list, tuple)) or len(results) == 1
        return results[0] if single else results

    def predict_on_batch(self, x: Any) -> Any:
        return self.predict(x, batch_size=max(1, len(_arrays("x", x, self._input_names_for_training())[0])))

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Any:
        return self.evaluate(x, y, batch_size=None, sample_weight=sample_weight, return_dict=return_dict)


def _batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _class_weights(class_weight: dict[int, float], y: np.ndarray, sw: Any) -> np.ndarray:
    ids = y.argmax(axis=-1) if y.ndim >= 2 and y.shape[-1] > 1 else y.reshape(y.shape[0], -1)[:, 0]
    table = np.vectorize(lambda c: float(class_weight.get(int(c), 1.0)))(ids.astype(np.int64))
    return table if sw is None else np.asarray(sw) * table


def _metric_name(spec: Any) -> Any:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", getattr(spec, "__name__", str(spec)))
