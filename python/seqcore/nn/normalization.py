"""BatchNormalization and LayerNormalization over the last (feature) axis, Keras defaults."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import functional as F
from ..autograd import tensor as ops
from ..autograd.tensor import xp_of
from . import initializers
from .core import cast_input
from .layer import Layer


def _affine(gamma: Any, beta: Any, features: int, dtype: Any) -> tuple[Tensor, Tensor]:
    """gamma and beta for the kernels: ones / zeros (constants, no gradient) where the layer has none."""
    ones = Tensor._wrap(np.ones(features, dtype=dtype)) if gamma is None else gamma
    zeros = Tensor._wrap(np.zeros(features, dtype=dtype)) if beta is None else beta
    return ones, zeros


def _last_axis_only(kind: str, axis: Any) -> None:
    if axis not in (-1, [-1], (-1,)):
        raise ValueError(f"{kind}: only axis=-1 (features last) is supported, got {axis!r}")


class BatchNormalization(Layer):
    """Normalise each feature by batch statistics while training and by moving averages at inference.

    Moving averages follow Keras: moving = moving * momentum + batch * (1 - momentum), with the
    biased batch variance.  Statistics are taken over every axis but the last.
    """

    supports_masking = True

    def __init__(
        self,
        axis: Any = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _last_axis_only("BatchNormalization", axis)
        if not 0.0 <= float(momentum) <= 1.0 or float(epsilon) <= 0.0:
            raise ValueError(f"BatchNormalization: need 0 <= momentum <= 1 and epsilon > 0, got {momentum}, {epsilon}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.inits = {
            "gamma": initializers.get(gamma_initializer),
            "beta": initializers.get(beta_initializer),
            "moving_mean": initializers.get(moving_mean_initializer),
            "moving_variance": initializers.get(moving_variance_initializer),
        }

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.incompatible(input_shape, "an input of rank >= 2 with a known last axis")
        F_ = input_shape[-1]
        # as Keras: no gamma without scale, no beta without center (same weights, counts and files)
        self.gamma = self.add_weight("gamma", (F_,), self.inits["gamma"]) if self.scale else None
        self.beta = self.add_weight("beta", (F_,), self.inits["beta"]) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (F_,), self.inits["moving_mean"], trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (F_,), self.inits["moving_variance"], trainable=False)

    def check_input(self, input_shape: Any) -> None:
        F_ = self.moving_mean.shape[0]
        if not isinstance(input_shape, tuple) or input_shape[-1] != F_:
            raise self.incompatible(input_shape, f"axis -1 of input shape to have value {F_}")

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        x = cast_input(inputs, self.dtype)
        if training and self.trainable:
            gamma, beta = _affine(self.gamma, self.beta, self.moving_mean.shape[0], self.dtype)
            y, mu, var = F.batch_norm(x, gamma, beta, eps=self.epsilon)
            m = self.momentum
            self.moving_mean.data[...] = self.moving_mean.data * m + mu * (1.0 - m)
            self.moving_variance.data[...] = self.moving_variance.data * m + var * (1.0 - m)
            return y
        inv = self.dtype.type(1.0) / xp_of(self.moving_variance.data).sqrt(self.moving_variance.data + self.epsilon)
        y = (x - self.moving_mean.data) * (inv if self.gamma is None else self.gamma * inv)
        return y if self.beta is None else y + self.beta

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class LayerNormalization(Layer):
    """Normalise each position over its features, then scale by gamma and shift by beta."""

    supports_masking = True

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _last_axis_only("LayerNormalization", axis)
        if float(epsilon) <= 0.0:
            raise ValueError(f"LayerNormalization: epsilon must be positive, got {epsilon}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.incompatible(input_shape, "an input of rank >= 2 with a known last axis")
        self.features = int(input_shape[-1])
        # as Keras: no gamma without scale, no beta without center
        self.gamma = self.add_weight("gamma", (self.features,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", (self.features,), self.beta_initializer) if self.center else None

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or input_shape[-1] != self.features:
            raise self.incompatible(input_shape, f"axis -1 of input shape to have value {self.features}")

    def call(self, inputs: Tensor) -> Tensor:
        gamma, beta = _affine(self.gamma, self.beta, self.features, self.dtype)
        return F.layer_norm(cast_input(inputs, self.dtype), gamma, beta, eps=self.epsilon)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


del ops
