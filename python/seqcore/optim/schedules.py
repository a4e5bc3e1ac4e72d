"""Learning-rate schedules: callables from the optimizer's step count to a learning rate.

An optimizer holding a schedule evaluates ``schedule(optimizer.iterations)`` before each
update, with ``iterations`` counting the updates already applied (0 for the first), as
Keras does.  The Keras-named schedules follow ``keras.optimizers.schedules`` formula for
formula (computed here in float64; Keras computes in float32).  ``WarmupInverseSqrt`` is
the Transformer's schedule; it counts its step from 1 (``step + 1``) so that the first
update does not evaluate ``0 ** -0.5``.  ``LinearWarmupDecay`` is BERT fine-tuning's (Hugging Face's linear
schedule with warm-up; its first update has rate 0, as there).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "LinearWarmupDecay",
    "PiecewiseConstantDecay",
    "WarmupInverseSqrt",
    "deserialize",
    "serialize",
]


def _real(name: str, value: Any, *, positive: bool = False, non_negative: bool = False) -> float:
    """A finite real number (bool refused), optionally > 0 or >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if positive and out <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if non_negative and out < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return out


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {value!r}")
    return value


def _step(step: Any) -> float:
    if isinstance(step, bool):
        raise TypeError(f"step: expected a number, got {step!r}")
    return float(step)


class LearningRateSchedule(ABC):
    """Base class: ``schedule(step) -> float`` plus a JSON-able config (Keras names)."""

    @abstractmethod
    def __call__(self, step: int) -> float:
        """The learning rate for the update made when ``step`` updates have already been applied."""

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored if ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        self.initial_learning_rate = _real("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _real("decay_steps", decay_steps, positive=True)
        self.decay_rate = _real("decay_rate", decay_rate)
        self.staircase = _flag("staircase", staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored if ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        self.initial_learning_rate = _real("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _real("decay_steps", decay_steps, positive=True)
        self.decay_rate = _real("decay_rate", decay_rate, non_negative=True)
        self.staircase = _flag("staircase", staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``,
    ``values[-1]`` past the last boundary."""

    def __init__(self, boundaries: list[float], values: list[float], name: str = "PiecewiseConstant") -> None:
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError(
                f"boundaries, values: expected lists, got {type(boundaries).__name__}, {type(values).__name__}"
            )
        if len(boundaries) != len(values) - 1 or not boundaries:
            raise ValueError(
                f"boundaries: expected one fewer entry than values and at least one, "
                f"got {len(boundaries)} boundaries and {len(values)} values"
            )
        self.boundaries = [_real(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        self.values = [_real(f"values[{i}]", v) for i, v in enumerate(values)]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries: expected strictly increasing numbers, got {list(boundaries)}")
        self.name = name

    def __call__(self, step: int) -> float:
        s = _step(step)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return v
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    cosine decay over ``decay_steps`` down to ``alpha`` times the peak, held after that."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.initial_learning_rate = _real("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _real("decay_steps", decay_steps, positive=True)
        self.alpha = _real("alpha", alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else _real("warmup_target", warmup_target)
        self.warmup_steps = _real("warmup_steps", warmup_steps, non_negative=True)

    def _decay(self, step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        s = _step(step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * s / self.warmup_steps + self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class WarmupInverseSqrt(LearningRateSchedule):
    """The Transformer's schedule ("Attention Is All You Need", eq. 3), with ``s = step + 1``:
    ``scale * d_model ** -0.5 * min(s ** -0.5, s * warmup_steps ** -1.5)``: linear warmup, then ``1/sqrt(s)``."""

    def __init__(self, d_model: int, warmup_steps: int = 4000, scale: float = 1.0) -> None:
        self.d_model = _real("d_model", d_model, positive=True)
        self.warmup_steps = _real("warmup_steps", warmup_steps, positive=True)
        self.scale = _real("scale", scale, positive=True)

    def __call__(self, step: int) -> float:
        s = _step(step) + 1.0
        return self.scale * self.d_model**-0.5 * min(s**-0.5, s * self.warmup_steps**-1.5)

    def get_config(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


class LinearWarmupDecay(LearningRateSchedule):
    """BERT fine-tuning's schedule (Hugging Face's ``get_linear_schedule_with_warmup``): the rate rises linearly
    from 0 to ``peak_learning_rate`` over ``warmup_steps``, then falls linearly to 0 at ``total_steps``.
    Step s (0-based, the optimizer's ``iterations``): ``peak * s / warmup`` while s < warmup, then
    ``peak * max(0, (total - s) / (total - warmup))``."""

    def __init__(self, peak_learning_rate: float, warmup_steps: int, total_steps: int) -> None:
        self.peak_learning_rate = _real("peak_learning_rate", peak_learning_rate, positive=True)
        self.warmup_steps = _real("warmup_steps", warmup_steps, non_negative=True)
        self.total_steps = _real("total_steps", total_steps, positive=True)
        if self.warmup_steps > self.total_steps:
            raise ValueError(
                f"warmup_steps: expected at most total_steps ({self.total_steps:g}), got {self.warmup_steps:g}"
            )

    def __call__(self, step: int) -> float:
        s = _step(step)
        if s < self.warmup_steps:
            return self.peak_learning_rate * s / self.warmup_steps
        if self.total_steps == self.warmup_steps:
            return 0.0
        return self.peak_learning_rate * max(0.0, (self.total_steps - s) / (self.total_steps - self.warmup_steps))

    def get_config(self) -> dict[str, Any]:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        CosineDecay,
        WarmupInverseSqrt,
        LinearWarmupDecay,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, the form Keras writes."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedule: expected a LearningRateSchedule, got {type(schedule).__name__}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """The schedule a ``serialize`` dict (or a Keras one, extra keys ignored) describes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"config: expected a dict with 'class_name' and 'config', got {config!r}")
    cls = _SCHEDULES.get(config["class_name"])
    if cls is None:
        raise ValueError(f"class_name: expected one of {sorted(_SCHEDULES)}, got {config['class_name']!r}")
    return cls.from_config(dict(config.get("config", {})))
