"""Conv1D (channels last, Keras layout) and the 1-D pooling layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import functional as F
from . import activations, initializers
from .core import cast_input
from .layer import Layer


def conv_padding(padding: str, T: int | None, kernel_size: int, stride: int, dilation: int) -> tuple[int, int]:
    """(left, right) zero padding for Keras's "valid", "same" and "causal" modes."""
    span = dilation * (kernel_size - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    if T is None:  # unknown length: the total still depends only on T mod stride
        raise ValueError("Conv1D: padding='same' needs a known time length")
    out = -(-T // stride)
    total = max((out - 1) * stride + span - T, 0)
    return total // 2, total - total // 2


def _positive(layer: str, name: str, value: Any) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


class Conv1D(Layer):
    """1-D convolution over time: x [B,T,C] -> [B,To,filters]; padding "valid", "same" or "causal"."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = _positive("Conv1D", "filters", filters)
        self.kernel_size = _positive("Conv1D", "kernel_size", kernel_size)
        self.strides = _positive("Conv1D", "strides", strides)
        self.dilation_rate = _positive("Conv1D", "dilation_rate", dilation_rate)
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal', got {padding!r}")
        if padding == "same" and self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: strides > 1 together with dilation_rate > 1 is not supported")
        self.padding = padding
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self.incompatible(input_shape, "ndim=3, i.e. (batch, time, channels)")
        C = input_shape[-1]
        self.kernel = self.add_weight("kernel", (self.kernel_size, C, self.filters), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] != self.kernel.shape[1]:
            raise self.incompatible(input_shape, f"ndim=3 with axis -1 of value {self.kernel.shape[1]}")

    def call(self, inputs: Tensor) -> Tensor:
        T = inputs.shape[1]
        pad = conv_padding(self.padding, T, self.kernel_size, self.strides, self.dilation_rate)
        y = F.conv1d(
            cast_input(inputs, self.dtype),
            self.kernel,
            self.bias,
            stride=self.strides,
            padding=pad,
            dilation=self.dilation_rate,
        )
        return self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> Any:
        T = input_shape[1]
        if T is None:
            return (input_shape[0], None, self.filters)
        left, right = conv_padding(self.padding, T, self.kernel_size, self.strides, self.dilation_rate)
        span = self.dilation_rate * (self.kernel_size - 1) + 1
        To = (T + left + right - span) // self.strides + 1
        if To < 1:
            raise self.incompatible(input_shape, f"at least {span} time steps for kernel_size {self.kernel_size}")
        return (input_shape[0], To, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class GlobalAveragePooling1D(Layer):
    """Mean over time [B,T,C] -> [B,C], over each row's real steps when a mask is present."""

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        if mask is None:
            return inputs.mean(axis=1)
        m = np.asarray(mask, dtype=inputs.dtype)[:, :, None]
        return (inputs * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[2])


class GlobalMaxPooling1D(Layer):
    """Maximum over time [B,T,C] -> [B,C]."""

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.max(axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[2])
