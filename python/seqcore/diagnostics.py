"""Training diagnostics: how large the gradient reaching each time step of a recurrent layer is.

``gradient_norms(model, (x, y))`` returns, for one SimpleRNN/LSTM/GRU layer, the norm over
batch and units of dL/dh_t for every step t: the *total* gradient of the loss with respect
to the hidden state at time t, through every later step and through the outputs.  Plotted
against t it shows vanishing (the norm falls towards t = 0) or exploding (it grows).

How: the fused kernels run a whole sequence as one tape node, so the per-step states are
never tensors of their own.  While the model runs once, the chosen layer's recurrence is
replaced by the same kernel called one step at a time (each step's initial state is the
previous step's final state), and each step's state enters as ``h_t + z_t`` where ``z_t``
is a zero-valued leaf.  Forward values are unchanged, and after ``backward()`` the leaf's
``.grad`` is exactly dL/dh_t (the tape gives gradients only to leaves).  LSTM's cell state
gets its own leaf, so dL/dc_t comes for free.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

import numpy as np

from . import losses as losses_mod
from .autograd import Tensor, enable_grad
from .autograd import tensor as ops
from .nn.layer import Layer, training_mode
from .nn.model import Model
from .nn.recurrent import RNN, Bidirectional
from .nn.training import _arrays, _cardinality, _unpack

__all__ = [
    "GradientNorms",
    "StepNorms",
    "gradient_norms",
    "gradient_norms_detail",
    "recurrent_layers",
    "train_step_norms",
]

LayerSpec = Union[Layer, str, None]

_patch_lock = threading.Lock()


@dataclass(frozen=True, eq=False)  # arrays inside: == would be ambiguous
class GradientNorms:
    """Per-step gradients reaching one recurrent layer's states (see ``gradient_norms_detail``).

    ``h[t]`` is ||dL/dh_t|| over batch and units (float64, length T); ``c`` the same for an
    LSTM's cell state (None for SimpleRNN and GRU).  ``dh`` / ``dc`` hold the gradients
    themselves, [T, B, H] in the layer's dtype.  Steps are input positions: with
    ``go_backwards`` the layer reads t = T-1 first.  Rows of a masked batch contribute
    nothing at their padded steps (``lengths`` holds each row's real steps, None unmasked).
    """

    layer: str
    cell: str
    loss: float
    h: np.ndarray
    c: np.ndarray | None
    dh: np.ndarray
    dc: np.ndarray | None
    lengths: np.ndarray | None
    go_backwards: bool

    @property
    def steps(self) -> int:
        return int(self.h.shape[0])

    def ratio(self, state: str = "h") -> float:
        """||dL/d state at the first step read|| / ||... at the last step read||: < 1 means vanishing."""
        norms = self._state(state)
        first, last = (norms[-1], norms[0]) if self.go_backwards else (norms[0], norms[-1])
        if last == 0.0:
            return float("inf") if first > 0.0 else float("nan")
        return float(first / last)

    def _state(self, state: str) -> np.ndarray:
        if state == "h":
            return self.h
        if state == "c":
            if self.c is None:
                raise ValueError(f"state: 'c' exists only for an LSTM; layer '{self.layer}' is a {self.cell}")
            return self.c
        raise ValueError(f"state: expected 'h' or 'c', got {state!r}")


def _unwrap_model(model: Any) -> Model:
    if isinstance(model, Model):
        return model
    inner = getattr(model, "model", None)
    if isinstance(inner, Model):
        return inner
    raise TypeError(
        f"model: expected a seqcore nn.Model / nn.Sequential, or an object whose .model is one, "
        f"got {type(model).__name__}"
    )


def recurrent_layers(model: Any) -> list[RNN]:
    """Every SimpleRNN / LSTM / GRU in ``model`` (nested models and Bidirectional halves included), in order."""
    found: list[RNN] = []
    for layer in _unwrap_model(model)._all_layers():
        if isinstance(layer, RNN) and all(layer is not seen for seen in found):
            found.append(layer)
    return found


def _resolve_layer(model: Model, layer: LayerSpec) -> RNN:
    candidates = recurrent_layers(model)
    names = [c.name for c in candidates]
    if layer is None:
        if not candidates:
            raise ValueError(f"layer: model '{model.name}' has no SimpleRNN, LSTM or GRU layer")
        return candidates[0]
    if isinstance(layer, str):
        for c in candidates:
            if c.name == layer:
                return c
        others = [x.name for x in model._all_layers() if x.name == layer]
        if others:
            raise ValueError(f"layer: '{layer}' is not a SimpleRNN, LSTM or GRU layer; recurrent layers: {names}")
        raise ValueError(f"layer: no layer named '{layer}' in model '{model.name}'; recurrent layers: {names}")
    if isinstance(layer, Bidirectional):
        raise ValueError(
            f"layer: '{layer.name}' is Bidirectional; pass one half, its .forward_layer "
            f"('{layer.forward_layer.name}') or .backward_layer ('{layer.backward_layer.name}')"
        )
    if isinstance(layer, RNN):
        if any(layer is c for c in candidates):
            return layer
        raise ValueError(f"layer: '{layer.name}' is not part of model '{model.name}'; recurrent layers: {names}")
    raise TypeError(f"layer: expected a SimpleRNN/LSTM/GRU layer, its name, or None, got {type(layer).__name__}")


def _split_batch(batch: Any) -> tuple[Any, Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError("batch: expected a tuple (x, y) or (x, y, sample_weight)")
    return batch[0], batch[1], batch[2] if len(batch) == 3 else None


class _Probe:
    """Replaces one layer's fused recurrence by single steps whose states pass through zero-valued leaves."""

    def __init__(self, layer: RNN) -> None:
        self.layer = layer
        self.original = layer._run
        self.calls = 0
        self.h: list[Tensor] = []
        self.c: list[Tensor] = []
        self.dc_dh: list[np.ndarray] = []
        self.lengths: np.ndarray | None = None
        self.reverse = False

    def run(self, x: Tensor, states: list[Tensor], lengths: Any, reverse: bool) -> tuple[Tensor, list[Tensor]]:
        self.calls += 1
        if self.calls > 1:  # the leaves of the first call would be overwritten; refuse rather than mislead
            return self.original(x, states, lengths, reverse)
        T = x.shape[1]
        if T == 0:
            raise ValueError(f"batch: layer '{self.layer.name}' got a sequence of length 0")
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.reverse = bool(reverse)
        self.h, self.c = [None] * T, [None] * T  # type: ignore[list-item]
        self.dc_dh = [None] * T  # type: ignore[list-item]
        outputs: list[Tensor] = [None] * T  # type: ignore[list-item]
        for t in range(T - 1, -1, -1) if reverse else range(T):
            # a row whose real steps are over (or, reading backwards, not begun) gets length 0 for this
            # step: the kernel then passes its state through unchanged and outputs zeros, as the fused run
            step_len = None if self.lengths is None else (self.lengths > t).astype(np.int64)
            _, new = self.original(x[:, t : t + 1], states, step_len, False)
            if len(new) > 1:
                self.dc_dh[t] = self._dh_dc(x.data[:, t], states[0].data, new[1].data)
            leaves = []
            for k, s in enumerate(new):
                z = Tensor(np.zeros(s.shape, dtype=s.dtype), requires_grad=True)
                leaves.append(z)
                new[k] = s + z
            self.h[t] = leaves[0]
            if len(leaves) > 1:
                self.c[t] = leaves[1]
            states = new
            out = new[0]
            if step_len is not None:
                out = out * step_len.astype(out.dtype)[:, None]
            outputs[t] = out
        return ops.stack(outputs, axis=1), states

    def _dh_dc(self, x_t: np.ndarray, h_prev: np.ndarray, c_t: np.ndarray) -> np.ndarray:
        """dh_t/dc_t = o_t * (1 - tanh(c_t)^2), elementwise.

        h_t = o_t * tanh(c_t) is computed inside the kernel step, so the leaf added to c_t sees only
        the gradient that flows on through the later steps; this factor adds the path through h_t.
        """
        H = self.layer.units
        W, U, b = self.layer.kernel.data, self.layer.recurrent_kernel.data, self.layer.bias.data
        pre = x_t @ W[:, 3 * H :] + h_prev @ U[:, 3 * H :] + b[3 * H :]  # Keras gate order i, f, c, o
        o = 0.5 * (1.0 + np.tanh(0.5 * pre))
        t = np.tanh(c_t)
        return o * (1.0 - t * t)


def _total_loss(model: Model, outs: list[Tensor], ys: list[Any], sws: list[Any], loss: Any) -> Tensor:
    if loss is None:
        if model.compiled_loss is None:
            raise ValueError(
                f"loss: model '{model.name}' is not compiled; pass loss=... (e.g. 'sparse_categorical_crossentropy') "
                "or compile the model first"
            )
        total, _ = model._loss(outs, ys, sws)
        return total
    fn = losses_mod.get(loss)
    if len(outs) != len(ys):
        raise ValueError(f"batch: the model has {len(outs)} outputs but y holds {len(ys)} arrays")
    summed: Tensor | None = None
    for out, y, sw in zip(outs, ys, sws):
        value = fn(y, out, sample_weight=sw)
        summed = value if summed is None else summed + value
    assert summed is not None
    return summed


def gradient_norms_detail(
    model: Any, batch: Sequence[Any], *, layer: LayerSpec = None, loss: Any = None
) -> GradientNorms:
    """dL/dh_t (and dL/dc_t for an LSTM) of one recurrent layer for every step t, with their norms.

    ``model``: a seqcore ``nn.Model`` / ``nn.Sequential`` or an object whose ``.model`` is one.
    ``batch``: ``(x, y)`` or ``(x, y, sample_weight)``.  ``layer``: the SimpleRNN/LSTM/GRU layer,
    its name, or None for the first one in the model.  ``loss``: a loss name, ``Loss`` or
    function; None uses the model's compiled loss (and loss weights).

    The model runs once in inference mode (dropout off), with the tape on; its weights and their
    ``.grad`` are left as they were.  The chosen layer must run exactly once per forward pass.
    Not thread-safe with respect to other calls of the same layer while it runs.
    """
    net = _unwrap_model(model)
    target = _resolve_layer(net, layer)
    x, y, sample_weight = _split_batch(batch)
    xs = _arrays("x", x, net._input_names_for_training())
    ys = _arrays("y", y, net._output_names_for_training())
    sws = _arrays("sample_weight", sample_weight, net._output_names_for_training()) or [None] * len(ys)
    if _cardinality(xs, ys, sws) == 0:
        raise ValueError("batch: x holds no samples")

    probe = _Probe(target)
    with _patch_lock:
        if "_run" in vars(target):
            raise RuntimeError(f"layer: gradient_norms is already running on layer '{target.name}'")
        target._run = probe.run  # an instance attribute shadows the class's method for this call only
    weights = net.weights
    saved = [v.grad for v in weights]
    try:
        for v in weights:
            v.grad = None
        with enable_grad(), training_mode(False):
            outs = net._outputs_list(net(_unpack(xs, len(xs))))
            if probe.calls == 0:
                raise ValueError(f"layer: '{target.name}' did not run when model '{net.name}' was called")
            if probe.calls > 1:
                raise ValueError(
                    f"layer: '{target.name}' ran {probe.calls} times in one forward pass (a shared layer); "
                    "gradient_norms needs a layer that runs once"
                )
            total = _total_loss(net, outs, ys, sws, loss)
            if not total.requires_grad:
                raise ValueError(f"loss: does not depend on layer '{target.name}' (no gradient can reach it)")
            total.backward()
    finally:
        with _patch_lock:
            del target._run
        for v, g in zip(weights, saved):
            v.grad = g

    real = None
    if probe.lengths is not None:
        T = len(probe.h)
        real = np.arange(T)[:, None] < probe.lengths[None, :]  # [T, B]

    def collect(leaves: list[Tensor], extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        grads = np.stack([np.zeros_like(z.data) if z.grad is None else z.grad for z in leaves])
        if extra is not None:
            grads = grads + extra
        if real is not None:  # a padded step's state is a carried copy, not a state of that step
            grads = grads * real[:, :, None].astype(grads.dtype)
        norms = np.sqrt(np.einsum("tbh,tbh->t", grads.astype(np.float64), grads.astype(np.float64)))
        return grads, norms

    dh, h = collect(probe.h)
    dc = c = None
    if probe.c and probe.c[0] is not None:
        dc, c = collect(probe.c, dh * np.stack(probe.dc_dh).astype(dh.dtype))
    return GradientNorms(
        layer=target.name,
        cell=type(target).__name__,
        loss=float(total.data),
        h=h,
        c=c,
        dh=dh,
        dc=dc,
        lengths=probe.lengths,
        go_backwards=probe.reverse,
    )


def gradient_norms(
    model: Any, batch: Sequence[Any], *, layer: LayerSpec = None, loss: Any = None, state: str = "h"
) -> np.ndarray:
    """||dL/dh_t|| over batch and units for t = 0..T-1 (float64, shape [T]) for one recurrent layer.

    The total gradient of the loss with respect to the layer's hidden state at step t (through
    later steps and through the outputs).  ``state="c"`` gives an LSTM's cell state instead.
    Arguments as for ``gradient_norms_detail``.
    """
    if state not in ("h", "c"):
        raise ValueError(f"state: expected 'h' or 'c', got {state!r}")
    return gradient_norms_detail(model, batch, layer=layer, loss=loss)._state(state)


class StepNorms(NamedTuple):
    """One training step's loss and global gradient norm before and after the optimizer's clipping."""

    loss: float
    norm: float
    clipped_norm: float


def _global_norm(grads: Sequence[np.ndarray]) -> float:
    total = 0.0
    for g in grads:
        g64 = np.asarray(g, dtype=np.float64).ravel()  # float32 squares overflow from 1.8e19 on
        total += float(np.dot(g64, g64))
    return math.sqrt(total)


def train_step_norms(model: Any, batch: Sequence[Any]) -> StepNorms:
    """One gradient step as ``train_on_batch`` takes it, reporting the global gradient norm it saw.

    ``norm`` is the norm over all trainable weights' gradients; ``clipped_norm`` the norm of what the
    optimizer's ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` turned them into (equal to ``norm``
    without clipping).  A non-finite loss skips the update, as ``fit`` does, and gives NaN norms.
    """
    net = _unwrap_model(model)
    net._require_compiled("train_step_norms")
    x, y, sample_weight = _split_batch(batch)
    xs = _arrays("x", x, net._input_names_for_training())
    ys = _arrays("y", y, net._output_names_for_training())
    sws = _arrays("sample_weight", sample_weight, net._output_names_for_training()) or [None] * len(ys)
    if _cardinality(xs, ys, sws) == 0:
        raise ValueError("batch: x holds no samples")
    with enable_grad(), training_mode(True):
        outs = net._outputs_list(net(_unpack(xs, len(xs))))
        total, _ = net._loss(outs, ys, sws)
    loss = float(total.data)
    if not math.isfinite(loss):
        return StepNorms(loss, float("nan"), float("nan"))
    if not total.requires_grad:  # nothing trainable: no update, as train_on_batch
        return StepNorms(loss, 0.0, 0.0)
    variables = net.trainable_weights
    try:
        total.backward()
        pairs = [(v.grad, v) for v in variables if v.grad is not None]
        grads = [g for g, _ in pairs]
        norm = _global_norm(grads)
        clipped = _global_norm(net.optimizer._clip([np.asarray(g, dtype=v.dtype) for g, v in pairs]))
        net.optimizer.apply_gradients(pairs)
    finally:
        for v in variables:
            v.grad = None
    net._update_metrics(outs, ys, sws)
    return StepNorms(loss, norm, clipped)
