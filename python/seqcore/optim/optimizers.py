"""Optimizers with Keras 3 semantics and names, updating NumPy parameters in place.

A variable is any object with ``.data`` (a C-contiguous, writeable float32/float64 ndarray
the optimizer updates in place; layers keep references to it), ``.name`` (str, unique
among the variables one optimizer sees: slot arrays are keyed by it) and ``.trainable``
(variables with ``trainable = False`` are left as they are).

One ``apply_gradients`` call, as in Keras: drop pairs whose gradient is None; cast each
gradient to its parameter's dtype; clip (``clipnorm`` per gradient, ``global_clipnorm``
over all of them, or ``clipvalue``); read the learning rate (``schedule(iterations)``
with the 0-based count of updates already applied); run the fused in-place kernel of
``seqcore.kernels`` on every parameter with ``step = iterations + 1``; count the update.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import kernels as K
from .._backend import active, load
from ..autograd.tensor import to_host, xp_of
from .schedules import LearningRateSchedule
from .schedules import deserialize as deserialize_schedule
from .schedules import serialize as serialize_schedule

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Keras config keys with no counterpart here: from_config accepts them while they are off (None, False, 0).
_KERAS_ONLY = ("weight_decay", "use_ema", "loss_scale_factor", "gradient_accumulation_steps")
_KERAS_EMA = ("ema_momentum", "ema_overwrite_frequency")  # meaningful only with use_ema


def _number(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    what: str = "a float",
) -> float:
    """A finite real number in [lo, hi] (open ends where asked); the error names the argument and the range."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    out = float(value) if ok else math.nan
    if ok and math.isfinite(out):
        ok = (lo is None or (out > lo if lo_open else out >= lo)) and (
            hi is None or (out < hi if hi_open else out <= hi)
        )
    else:
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return out


def _optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value, 0.0, lo_open=True, what="None or a positive float")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {value!r}")
    return bool(value)


def _learning_rate(value: Any) -> float | LearningRateSchedule:
    if isinstance(value, LearningRateSchedule):
        return value
    return _number("learning_rate", value, 0.0, what="a non-negative float or a LearningRateSchedule")


def _clip_by_norm_or_nan(grads: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
    """grads scaled to a joint norm of at most max_norm; all NaN when that norm is NaN or Inf."""
    clipped, norm = K.clip_by_global_norm(grads, max_norm)
    if math.isfinite(norm):
        return clipped
    return [xp_of(g).full_like(g, np.nan) for g in grads]


class Optimizer(ABC):
    """Base class.  Subclasses name their slots (``_slots_used``) and run one kernel per variable (``_update``)."""

    #: every slot name this class can create, in Keras's naming
    slot_names: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        *,
        clipnorm: float | None = None,
        global_clipnorm: float | None = None,
        clipvalue: float | None = None,
        name: str | None = None,
    ) -> None:
        self._learning_rate = _learning_rate(learning_rate)
        self.clipnorm = _optional_positive("clipnorm", clipnorm)
        self.global_clipnorm = _optional_positive("global_clipnorm", global_clipnorm)
        self.clipvalue = _optional_positive("clipvalue", clipvalue)
        given = [k for k in ("clipnorm", "global_clipnorm", "clipvalue") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)}: expected at most one of clipnorm, global_clipnorm, clipvalue")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {name!r}")
        self.name = name or type(self).__name__.lower()
        self._iterations = 0
        self._slots: dict[str, dict[str, np.ndarray]] = {}  # variable name -> slot name -> array

    # ------------------------------------------------------------ hyper-parameters

    @property
    def learning_rate(self) -> float:
        """The learning rate the next update uses (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self._iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        self._learning_rate = _learning_rate(value)

    @property
    def iterations(self) -> int:
        """How many ``apply_gradients`` calls have updated parameters so far."""
        return self._iterations

    def get_config(self) -> dict[str, Any]:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": serialize_schedule(lr) if isinstance(lr, LearningRateSchedule) else lr,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """The optimizer ``get_config`` describes; a Keras config is accepted when it uses no Keras-only feature."""
        config = dict(config)
        own = inspect.signature(cls.__init__).parameters
        for key in _KERAS_EMA:
            config.pop(key, None)
        for key in _KERAS_ONLY:
            if key in config and key not in own and config.pop(key) not in (None, False, 0):
                raise ValueError(f"{key}: {cls.__name__} does not support it; expected None")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"])
        return cls(**config)

    # ------------------------------------------------------------ state

    def variables(self) -> dict[str, np.ndarray]:
        """The live slot arrays (no copies) keyed ``"<variable name>/<slot>"``, plus ``"iterations"``."""
        out = {"iterations": np.array(self._iterations, dtype=np.int64)}
        for var_name, slots in self._slots.items():
            for slot, arr in slots.items():
                out[f"{var_name}/{slot}"] = arr
        return out

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of everything ``set_state`` needs to continue bit-identically: slots, ``"iterations"`` and, for
        a float learning rate (a callback may have changed it), ``"learning_rate"``."""
        out = {k: to_host(v).copy() for k, v in self.variables().items()}  # on the host, also for a GPU model
        if not isinstance(self._learning_rate, LearningRateSchedule):
            out["learning_rate"] = np.array(self._learning_rate, dtype=np.float64)
        return out

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned (replacing all slots).  Slots are matched to variables by name when
        those variables are next updated; a shape that no longer matches raises then."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict of arrays from get_state(), got {type(state).__name__}")
        if "iterations" not in state:
            raise ValueError("state: expected an 'iterations' entry, as get_state() writes")
        it = np.asarray(state["iterations"])
        if it.shape != () or it.dtype.kind not in "iu" or int(it) < 0:
            raise ValueError(f"state['iterations']: expected a non-negative integer, got {state['iterations']!r}")
        slots: dict[str, dict[str, np.ndarray]] = {}
        for key, value in state.items():
            if key in ("iterations", "learning_rate"):
                continue
            var_name, _, slot = str(key).rpartition("/")
            if not var_name or slot not in self.slot_names:
                raise ValueError(
                    f"state[{key!r}]: expected keys '<variable name>/<slot>' with slot one of {list(self.slot_names)}"
                )
            arr = np.asarray(value)
            if arr.dtype not in _FLOATS:
                raise TypeError(f"state[{key!r}]: expected a float32 or float64 array, got dtype {arr.dtype}")
            slots.setdefault(var_name, {})[slot] = np.array(arr, order="C")  # a copy
        lr = self._learning_rate
        if "learning_rate" in state:
            lr = _learning_rate(float(np.asarray(state["learning_rate"])))
        self._learning_rate, self._iterations, self._slots = lr, int(it), slots

    # ------------------------------------------------------------ updating

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]]) -> int:
        """Update each variable in place from its gradient; returns ``iterations`` after the update.

        An empty iterable does nothing; pairs with a None gradient or a non-trainable variable are skipped.
        Everything is checked before any parameter changes.
        """
        work: list[tuple[np.ndarray, np.ndarray, str]] = []
        seen: set[str] = set()
        count = 0
        for k, pair in enumerate(grads_and_vars):
            count += 1
            try:
                grad, var = pair
            except (TypeError, ValueError):
                raise TypeError(f"grads_and_vars[{k}]: expected a (gradient, variable) pair, got {pair!r}") from None
            if grad is None:
                continue
            param, name = self._check_variable(k, var)
            if name in seen:
                raise ValueError(f"variable {name!r}: appears twice in grads_and_vars (slots are keyed by name)")
            seen.add(name)
            if not getattr(var, "trainable", True):
                continue
            work.append((param, self._check_gradient(name, grad, param), name))
        if count == 0:
            return self._iterations
        if not seen:
            raise ValueError("grads_and_vars: every gradient is None, nothing to apply")

        grads = self._clip([g for _, g, _ in work])
        lr = float(self.learning_rate)
        if lr != lr:
            raise ValueError("lr must not be NaN")
        step = self._iterations + 1
        # Everything a kernel's public wrapper would check is checked above or in __init__, so the updates call
        # the backend directly: at one small batch per step, a second round of checks costs more than the update.
        cpu = active()
        for (param, _, name), grad in zip(work, grads):
            xp = xp_of(param)
            self._backend = cpu if xp is np else load("cuda")
            if xp.may_share_memory(param, grad):  # the update would read what it just wrote
                grad = grad.copy()
            self._variable_name = name  # what weight decay's exclusions are matched against (_update has no name)
            self._update(param, grad, self._slots_for(name, param), lr, step)
        self._iterations += 1
        return self._iterations

    def _check_variable(self, k: int, var: Any) -> tuple[np.ndarray, str]:
        name = getattr(var, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"grads_and_vars[{k}]: expected a variable with a str .name, got {var!r}")
        data = getattr(var, "data", None)
        device = xp_of(data) is not np
        if not (isinstance(data, np.ndarray) or device) or data.dtype not in _FLOATS:
            what = data.dtype if isinstance(data, np.ndarray) or device else type(data).__name__
            raise TypeError(f"variable {name!r}: expected .data a float32 or float64 ndarray, got {what}")
        if device:  # CuPy arrays are always aligned and writeable
            if not data.flags.c_contiguous:
                raise ValueError(f"variable {name!r}: expected .data C-contiguous (it is updated in place)")
        elif not (data.flags.c_contiguous and data.flags.writeable and data.flags.aligned):
            raise ValueError(f"variable {name!r}: expected .data C-contiguous and writeable (it is updated in place)")
        return data, name

    @staticmethod
    def _check_gradient(name: str, grad: Any, param: np.ndarray) -> np.ndarray:
        xp = xp_of(param)
        g = xp.asarray(grad)  # on the parameter's device
        if g.dtype.kind not in "fiu":
            raise TypeError(f"gradient for variable {name!r}: expected a float array, got dtype {g.dtype}")
        if g.shape != param.shape:
            raise ValueError(f"gradient for variable {name!r}: expected shape {param.shape}, got {g.shape}")
        return xp.ascontiguousarray(g, dtype=param.dtype)  # a copy only when a cast or a reorder is needed

    def _clip(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """Clipped copies (never the caller's arrays changed), as Keras's ``_clip_gradients``.

        A norm that is not finite (a NaN or Inf in the gradients it covers) makes every gradient it covers NaN,
        as Keras 3 does for ``global_clipnorm``: ``K.clip_by_global_norm`` leaves such arrays unscaled for its
        caller to decide, and applying them would give the finite gradients an unclipped step.
        """
        if not grads:
            return grads
        if self.clipnorm is not None:
            return [_clip_by_norm_or_nan([g], self.clipnorm)[0] for g in grads]
        if self.global_clipnorm is not None:
            return _clip_by_norm_or_nan(grads, self.global_clipnorm)
        if self.clipvalue is not None:
            return K.clip_by_value(grads, -self.clipvalue, self.clipvalue)
        return grads

    def _slots_used(self) -> dict[str, float]:
        """Slot name -> initial value, for the slots this configuration needs."""
        return {}

    def _slots_for(self, name: str, param: np.ndarray) -> dict[str, np.ndarray]:
        slots = self._slots.setdefault(name, {})
        xp = xp_of(param)
        for slot, init in self._slots_used().items():
            arr = slots.get(slot)
            if arr is not None and xp_of(arr) is not xp:  # restored from a file, or the model moved devices
                arr = slots[slot] = xp.asarray(to_host(arr))
            if arr is None:
                slots[slot] = xp.full(param.shape, init, dtype=param.dtype)
            elif arr.shape != param.shape:
                raise ValueError(
                    f"variable {name!r}: expected its optimizer slot {slot!r} to have the variable's shape "
                    f"{param.shape}, got {arr.shape} (restored state of another model?)"
                )
            elif arr.dtype != param.dtype:
                slots[slot] = arr.astype(param.dtype)
        return slots

    @abstractmethod
    def _update(self, param: np.ndarray, grad: np.ndarray, slots: dict[str, np.ndarray], lr: float, step: int) -> None:
        """Run this optimizer's fused kernel on one parameter (``step`` is 1-based)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self._learning_rate!r}, iterations={self._iterations})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as Keras:
    ``v = momentum * v - lr * g; w += v`` (Nesterov: ``w += momentum * v - lr * g``)."""

    slot_names = ("momentum",)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = _number("momentum", momentum, 0.0, 1.0, what="a float in [0, 1]")
        self.nesterov = _flag("nesterov", nesterov)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _slots_used(self) -> dict[str, float]:
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _update(self, param, grad, slots, lr, step):
        velocity = slots.get("momentum") if self.momentum != 0 else None
        self._backend.sgd_update(param, grad, velocity, lr, self.momentum, self.nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba) in Keras's form: ``m``, ``v`` moving averages, then
    ``w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``; ``amsgrad`` uses ``max(v)``."""

    slot_names = ("momentum", "velocity", "velocity_hat")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _number("beta_1", beta_1, 0.0, 1.0, hi_open=True, what="a float in [0, 1)")
        self.beta_2 = _number("beta_2", beta_2, 0.0, 1.0, hi_open=True, what="a float in [0, 1)")
        self.epsilon = _number("epsilon", epsilon, 0.0, what="a non-negative float")
        self.amsgrad = _flag("amsgrad", amsgrad)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }

    def _slots_used(self) -> dict[str, float]:
        out = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            out["velocity_hat"] = 0.0
        return out

    def _decoupled_weight_decay(self) -> float:
        return 0.0

    def _update(self, param, grad, slots, lr, step):
        b1, b2 = self.beta_1, self.beta_2
        alpha = lr * math.sqrt(1.0 - b2**step) / (1.0 - b1**step)  # as K.adam_update computes it
        vhat = slots.get("velocity_hat") if self.amsgrad else None
        decay = lr * self._decoupled_weight_decay()
        self._backend.adam_update(
            param, grad, slots["momentum"], slots["velocity"], vhat, alpha, b1, b2, self.epsilon, decay
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w -= lr * weight_decay * w`` before the Adam step."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, **kwargs)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0, what="a non-negative float")

        self._no_decay: tuple[str, ...] = ()  # name parts (var_names)
        self._no_decay_exact: set[str] = set()  # whole names (var_list)

    def exclude_from_weight_decay(self, var_list: Any = None, var_names: Any = None) -> None:
        """Keras's method: no weight decay for these variables (``var_list``) or for every variable whose name
        contains one of ``var_names`` (e.g. ``["bias", "gamma", "beta"]``, BERT's usual exclusions)."""
        names = [] if var_names is None else list(var_names)
        for n in names:
            if not isinstance(n, str) or not n:
                raise TypeError(f"var_names: expected non-empty strings, got {n!r}")
        exact = []
        for v in [] if var_list is None else list(var_list):
            name = getattr(v, "name", None)
            if not isinstance(name, str):
                raise TypeError(f"var_list: expected variables with a str .name, got {v!r}")
            exact.append(name)  # slots are keyed by name, so a name is a variable's identity here
        self._no_decay = (*self._no_decay, *names)
        self._no_decay_exact = self._no_decay_exact | set(exact)

    def _decoupled_weight_decay(self) -> float:
        name = getattr(self, "_variable_name", "")
        if name in self._no_decay_exact or any(part in name for part in self._no_decay):
            return 0.0
        return self.weight_decay

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop as Keras: ``v = rho * v + (1 - rho) * g**2``; ``centered`` subtracts the squared mean gradient;
    ``w -= lr * g / sqrt(v + epsilon)`` (through a momentum buffer when ``momentum > 0``)."""

    slot_names = ("velocity", "momentum", "average_gradient")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _number("rho", rho, 0.0, 1.0, what="a float in [0, 1]")
        self.momentum = _number("momentum", momentum, 0.0, 1.0, what="a float in [0, 1]")
        self.epsilon = _number("epsilon", epsilon, 0.0, what="a non-negative float")
        self.centered = _flag("centered", centered)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }

    def _slots_used(self) -> dict[str, float]:
        out = {"velocity": 0.0}
        if self.momentum > 0:
            out["momentum"] = 0.0
        if self.centered:
            out["average_gradient"] = 0.0
        return out

    def _update(self, param, grad, slots, lr, step):
        momentum_buf = slots.get("momentum") if self.momentum > 0 else None
        mg = slots.get("average_gradient") if self.centered else None
        self._backend.rmsprop_update(
            param, grad, slots["velocity"], momentum_buf, mg, lr, self.rho, self.momentum, self.epsilon
        )


class Adagrad(Optimizer):
    """Adagrad as Keras: ``a += g**2; w -= lr * g / sqrt(a + epsilon)``, ``a`` starting at
    ``initial_accumulator_value``."""

    slot_names = ("accumulator",)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _number(
            "initial_accumulator_value", initial_accumulator_value, 0.0, what="a non-negative float"
        )
        self.epsilon = _number("epsilon", epsilon, 0.0, what="a non-negative float")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }

    def _slots_used(self) -> dict[str, float]:
        return {"accumulator": self.initial_accumulator_value}

    def _update(self, param, grad, slots, lr, step):
        self._backend.adagrad_update(param, grad, slots["accumulator"], lr, self.epsilon)
