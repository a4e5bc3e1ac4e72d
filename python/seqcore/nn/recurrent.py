"""Recurrent layers (SimpleRNN, LSTM, GRU) and Bidirectional, each a single fused kernel call.

Keras semantics: inputs [B,T,D]; ``return_sequences`` gives [B,T,H] else the last state
[B,H]; ``return_state`` appends the final states; ``initial_state`` sets them; a mask (from
``Embedding(mask_zero=True)``) or explicit ``lengths`` makes each row stop at its length
(padding must come after the real steps), with zeros at padded output positions and the
state of the last real step as the final state.  ``go_backwards`` reads the sequence from
its end and returns outputs in that reversed order, as Keras does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import functional as F
from ..autograd import tensor as ops
from ..autograd.tensor import to_host
from . import initializers
from .core import cast_input
from .layer import Layer, format_shape


def lengths_from_mask(mask: Any, T: int, layer: str) -> np.ndarray | None:
    """Row lengths of a right-padded [B,T] mask (None when nothing is masked)."""
    m = to_host(mask).astype(bool)
    if m.ndim != 2 or m.shape[1] != T:
        raise ValueError(f"Layer '{layer}': mask must have shape (batch, {T}), got {m.shape}")
    lengths = m.sum(axis=1)
    if np.all(lengths == T):
        return None
    if not np.array_equal(m, np.arange(T)[None, :] < lengths[:, None]):
        raise ValueError(
            f"Layer '{layer}': the mask must mark a prefix of each row (padding after the real steps, "
            "'post' padding); pad sequences at the end"
        )
    return lengths.astype(np.int64)


def _check_lengths(lengths: Any, B: int, T: int, layer: str) -> np.ndarray:
    arr = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if arr.shape != (B,) or arr.dtype.kind not in "iu":
        raise ValueError(f"Layer '{layer}': lengths must be {B} integers (one per row), got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > T):
        raise ValueError(f"Layer '{layer}': lengths must lie in [0, {T}], got {int(arr.min())}..{int(arr.max())}")
    return arr.astype(np.int64)


class RNN(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU; subclasses set ``gates`` and ``_run``."""

    gates = 1
    n_states = 1

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{kind}: units must be a positive int, got {units!r}")
        if activation != "tanh" or (self.gates > 1 and recurrent_activation != "sigmoid"):
            raise ValueError(
                f"{kind}: the fused kernels implement activation='tanh' and recurrent_activation='sigmoid' "
                f"(Keras's defaults), got {activation!r} / {recurrent_activation!r}"
            )
        if recurrent_dropout:
            raise ValueError(f"{kind}: recurrent_dropout is not supported by the fused kernels; use dropout")
        if stateful:
            raise ValueError(f"{kind}: stateful=True is not supported; pass initial_state explicitly")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{kind}: dropout must be in [0, 1), got {dropout!r}")
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = float(dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)

    # ---- weights
    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _bias_init(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.bias_initializer(shape, dtype)

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list):  # [x, *initial_state]
            input_shape = input_shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self.incompatible(input_shape, "ndim=3, i.e. (batch, time, features) with known features")
        D, GH = input_shape[-1], self.gates * self.units
        self.kernel = self.add_weight("kernel", (D, GH), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, GH), self.recurrent_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init)
        else:
            self.bias = self.add_weight("bias", self._bias_shape(), "zeros", trainable=False)
            self._own_weights.remove(self.bias)  # a fixed zero bias for the kernel, not a weight

    def check_input(self, input_shape: Any) -> None:
        if isinstance(input_shape, list):  # [x, *initial_state]
            input_shape = input_shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise self.incompatible(input_shape, "ndim=3, i.e. (batch, time, features)")
        if input_shape[-1] != self.kernel.shape[0]:
            raise self.incompatible(input_shape, f"axis -1 of input shape to have value {self.kernel.shape[0]}")

    # ---- running
    def _zeros(self, B: int) -> Tensor:
        return Tensor._wrap(np.zeros((B, self.units), dtype=self.dtype))

    def _initial(self, initial_state: Any, B: int) -> list[Tensor]:
        if initial_state is None:
            return [self._zeros(B) for _ in range(self.n_states)]
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.n_states:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): initial_state needs {self.n_states} tensor(s), "
                f"got {len(states)}"
            )
        out = []
        for s in states:
            t = cast_input(s if isinstance(s, Tensor) else Tensor._wrap(np.asarray(s)), self.dtype)
            if t.shape != (B, self.units):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): initial_state entries must have shape "
                    f"{format_shape((B, self.units))}, got {format_shape(t.shape)}"
                )
            out.append(t)
        return out

    def _run(self, x: Tensor, states: list[Tensor], lengths: Any, reverse: bool) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def run(
        self,
        x: Tensor,
        *,
        mask: Any = None,
        lengths: Any = None,
        initial_state: Any = None,
        training: bool = False,
        reverse: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """Run the recurrence: (y [B,T,H] aligned with the inputs, final states)."""
        x = cast_input(x, self.dtype)
        B, T = x.shape[0], x.shape[1]
        if lengths is not None:
            lengths = _check_lengths(lengths, B, T, self.name)
        elif mask is not None:
            lengths = lengths_from_mask(mask, T, self.name)
        if training and self.dropout:
            x = F.dropout(x, self.dropout, noise_shape=(None, 1, None))
        return self._run(x, self._initial(initial_state, B), lengths, reverse)

    def call(
        self, inputs: Any, mask: Any = None, training: bool = False, initial_state: Any = None, lengths: Any = None
    ) -> Any:
        if isinstance(inputs, (list, tuple)):  # Keras also accepts [x, *initial_state]
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
            mask = mask[0] if isinstance(mask, list) else mask
        y, states = self.run(
            inputs,
            mask=mask,
            lengths=lengths,
            initial_state=initial_state,
            training=training,
            reverse=self.go_backwards,
        )
        out = states[0]
        if self.return_sequences:
            out = y[:, ::-1] if self.go_backwards else y
        return [out, *states] if self.return_state else out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        B = input_shape[0]
        out = (B, input_shape[1], self.units) if self.return_sequences else (B, self.units)
        return [out, *[(B, self.units)] * self.n_states] if self.return_state else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
        }


class SimpleRNN(RNN):
    """The course's basic RNN: h_t = tanh(x_t kernel + h_{t-1} recurrent_kernel + bias)."""

    def _run(self, x: Tensor, states: list[Tensor], lengths: Any, reverse: bool) -> tuple[Tensor, list[Tensor]]:
        y, h = F.rnn(x, states[0], self.kernel, self.recurrent_kernel, self.bias, lengths=lengths, reverse=reverse)
        return y, [h]


class LSTM(RNN):
    """Long short-term memory, Keras gate order i, f, c, o; ``unit_forget_bias`` starts f's bias at 1."""

    gates = 4
    n_states = 2

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        b = self.bias_initializer(shape, dtype)
        if self.unit_forget_bias:
            H = self.units
            b = np.concatenate([b[:H], np.ones(H, dtype), b[2 * H :]])
        return b

    def _run(self, x: Tensor, states: list[Tensor], lengths: Any, reverse: bool) -> tuple[Tensor, list[Tensor]]:
        h0, c0 = states
        y, h, c = F.lstm(x, h0, c0, self.kernel, self.recurrent_kernel, self.bias, lengths=lengths, reverse=reverse)
        return y, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(RNN):
    """Gated recurrent unit, Keras gate order z, r, h; ``reset_after`` (default, cuDNN/PyTorch form)
    keeps separate input and recurrent biases [2,3H]; ``reset_after=False`` is the original GRU."""

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _run(self, x: Tensor, states: list[Tensor], lengths: Any, reverse: bool) -> tuple[Tensor, list[Tensor]]:
        y, h = F.gru(
            x,
            states[0],
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            reset_after=self.reset_after,
            lengths=lengths,
            reverse=reverse,
        )
        return y, [h]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Run an RNN forwards and a copy of it backwards over each row's real steps, then merge.

    The backward outputs are aligned with the inputs (Keras reverses them back), and with
    ``return_sequences=False`` the backward half is its state after reading the whole row
    from the end.  ``merge_mode`` is "concat", "sum", "mul", "ave" or None (a list of both).
    """

    supports_masking = True

    def __init__(
        self, layer: RNN, merge_mode: str | None = "concat", backward_layer: RNN | None = None, **kwargs: Any
    ) -> None:
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        kwargs.setdefault("name", None)
        if kwargs["name"] is None:
            kwargs.pop("name")
        super().__init__(**kwargs)
        from .serialization import deserialize_layer, serialize_layer  # noqa: PLC0415

        config = serialize_layer(layer)["config"]
        config["name"] = f"forward_{layer.name}"
        self.forward_layer = deserialize_layer({"class_name": type(layer).__name__, "config": config})
        if backward_layer is None:
            config = dict(config, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
            backward_layer = deserialize_layer({"class_name": type(layer).__name__, "config": config})
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)

    def check_input(self, input_shape: Any) -> None:
        self.forward_layer.check_input(input_shape[0] if isinstance(input_shape, list) else input_shape)

    def _merge(self, a: Tensor, b: Tensor) -> Any:
        if self.merge_mode == "concat":
            return ops.concatenate([a, b], axis=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        if self.merge_mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def call(
        self, inputs: Any, mask: Any = None, training: bool = False, initial_state: Any = None, lengths: Any = None
    ) -> Any:
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
            mask = mask[0] if isinstance(mask, list) else mask
        fwd_init = bwd_init = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_init, bwd_init = initial_state[:half], initial_state[half:]
        run = {"mask": mask, "lengths": lengths, "training": training}
        yf, sf = self.forward_layer.run(inputs, initial_state=fwd_init, **run)
        yb, sb = self.backward_layer.run(inputs, initial_state=bwd_init, reverse=True, **run)
        if self.return_sequences:
            out = self._merge(yf, yb)
        else:
            out = self._merge(sf[0], sb[0])
        if not self.return_state:
            return out
        head = out if isinstance(out, list) else [out]
        return [*head, *sf, *sb]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        fwd = self.forward_layer
        B, H = input_shape[0], fwd.units
        seq = (B, input_shape[1]) if self.return_sequences else (B,)
        width = 2 * H if self.merge_mode == "concat" else H
        out: list[Any] = [(*seq, H), (*seq, H)] if self.merge_mode is None else [(*seq, width)]
        if self.return_state:
            out += [(B, H)] * (2 * fwd.n_states)
        return out if len(out) > 1 else out[0]

    def get_config(self) -> dict[str, Any]:
        from .serialization import serialize_layer  # noqa: PLC0415

        inner = serialize_layer(self.forward_layer)
        inner["config"]["name"] = self.forward_layer.name.removeprefix("forward_")
        return {**super().get_config(), "layer": inner, "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Bidirectional:
        from .serialization import deserialize_layer  # noqa: PLC0415

        config = dict(config)
        return cls(deserialize_layer(config.pop("layer"), custom_objects), **config)
