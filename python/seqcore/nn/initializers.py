"""Keras weight initialisers, drawing from seqcore's seeded generator (``seqcore.set_seed``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _config


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras's fan-in / fan-out: kernels [..., in, out] count the receptive field too."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Callable ``init(shape, dtype) -> ndarray``; ``get_config`` round-trips through ``get``."""

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Zeros(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.ones(shape, dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.full(shape, self.value, dtype)


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return _config.rng().uniform(self.minval, self.maxval, shape).astype(dtype)


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return _config.rng().normal(self.mean, self.stddev, shape).astype(dtype)


class TruncatedNormal(RandomNormal):
    """Normal values redrawn until within two standard deviations of the mean."""

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        out = _config.rng().normal(0.0, 1.0, shape)
        bad = np.abs(out) > 2
        while bad.any():
            out[bad] = _config.rng().normal(0.0, 1.0, int(bad.sum()))
            bad = np.abs(out) > 2
        return (self.mean + self.stddev * out).astype(dtype)


class VarianceScaling(Initializer):
    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal") -> None:
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode: expected fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                f"distribution: expected truncated_normal, untruncated_normal or uniform, got {distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _config.rng().uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return _config.rng().normal(0.0, math.sqrt(variance), shape).astype(dtype)
        # 0.8796... is the standard deviation of a unit normal truncated to [-2, 2]
        return TruncatedNormal(0.0, math.sqrt(variance) / 0.87962566103423978)(shape, dtype)


class GlorotUniform(VarianceScaling):
    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "uniform")

    def get_config(self) -> dict[str, Any]:
        return {}


class GlorotNormal(VarianceScaling):
    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal")

    def get_config(self) -> dict[str, Any]:
        return {}


class HeUniform(VarianceScaling):
    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "uniform")

    def get_config(self) -> dict[str, Any]:
        return {}


class HeNormal(VarianceScaling):
    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal")

    def get_config(self) -> dict[str, Any]:
        return {}


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR factorisation of a normal one, as Keras makes it."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = _config.rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)


_BY_NAME: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "orthogonal": Orthogonal,
    "variance_scaling": VarianceScaling,
}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier: Any) -> Initializer:
    """An initialiser from a Keras name, a config dict, an Initializer or a callable(shape, dtype)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"initializer: unknown name {identifier!r}; known: {', '.join(sorted(_BY_NAME))}")
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        fn = identifier

        class _Wrapped(Initializer):
            def __call__(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
                return np.asarray(fn(shape, dtype), dtype=dtype)

        return _Wrapped()
    raise ValueError(f"initializer: expected a name, a config or a callable, got {identifier!r}")


def serialize(init: Initializer) -> dict[str, Any]:
    return {"class_name": type(init).__name__, "config": init.get_config()}
