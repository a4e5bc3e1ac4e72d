"""The Layer base class, symbolic tensors (``Input``) and the graph they record.

A layer is called either on real values (arrays or Tensors: it runs now) or on symbolic
``KerasTensor``s (it records a ``GraphNode`` and returns symbolic outputs with their shapes,
which is how the functional API builds a ``Model``).  Weights are created lazily by
``build(input_shape)`` on the first call, as in Keras.

Masks travel on tensors (``Tensor._mask``, a [B,T] bool array) the Keras way: a layer
that ``supports_masking`` passes its input's mask on, ``Embedding(mask_zero=True)`` creates
one, recurrent layers consume it, and losses and metrics ignore masked positions.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import _config
from ..autograd import Tensor, Variable
from ..autograd.tensor import to_host, xp_of
from . import initializers

Shape = tuple  # (None, T, D): None for the batch axis and other free axes

_local = threading.local()
_name_counts: defaultdict[str, int] = defaultdict(int)
_name_lock = threading.Lock()


def learning_phase() -> bool:
    """True inside ``fit`` (dropout and batch norm in training mode)."""
    return getattr(_local, "training", False)


class training_mode:
    """Context manager that sets the learning phase (used by fit / evaluate / predict)."""

    def __init__(self, training: bool) -> None:
        self.training = training

    def __enter__(self) -> None:
        self._prev = learning_phase()
        _local.training = self.training

    def __exit__(self, *exc: object) -> None:
        _local.training = self._prev


def clear_session() -> None:
    """Restart automatic layer names ("dense", "dense_1", ...) from zero, as Keras does."""
    with _name_lock:
        _name_counts.clear()


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base: str) -> str:
    with _name_lock:
        n = _name_counts[base]
        _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def format_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------- symbolic tensors


class KerasTensor:
    """A symbolic tensor of the functional API: a shape (None = any size), a dtype, and its producer."""

    def __init__(self, shape: Shape, dtype: Any, node: GraphNode | None = None, index: int = 0) -> None:
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        producer = self.node.layer.name if self.node is not None else "?"
        return f"<KerasTensor shape={format_shape(self.shape)} dtype={self.dtype} from {producer!r}>"

    def __getitem__(self, index: Any) -> KerasTensor:
        """``X[:, t, :]`` on a symbolic tensor: a ``GetItem`` layer holding the index (saved with the model)."""
        from .core import GetItem  # noqa: PLC0415  (core builds on this module)

        return GetItem(index)(self)


class GraphNode:
    """One call of a layer on symbolic inputs: what it consumed (args, kwargs) and what it produced."""

    def __init__(self, layer: Layer, args: tuple, kwargs: dict[str, Any], outputs: list[KerasTensor]) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs

    def inputs(self) -> list[KerasTensor]:
        return [t for t in flatten((self.args, self.kwargs)) if isinstance(t, KerasTensor)]


def flatten(obj: Any) -> Iterator[Any]:
    """The leaves of nested lists, tuples and dicts."""
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from flatten(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from flatten(item)
    else:
        yield obj


def map_structure(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, list):
        return [map_structure(fn, o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(map_structure(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: map_structure(fn, v) for k, v in obj.items()}
    return fn(obj)


def shape_of(obj: Any) -> Any:
    """The shape (or list of shapes) of tensors, symbolic tensors or arrays."""
    if isinstance(obj, (list, tuple)):
        return [shape_of(o) for o in obj]
    if isinstance(obj, KerasTensor):
        return obj.shape
    return (None, *np.shape(obj.data if isinstance(obj, Tensor) else obj)[1:])


def to_tensor(value: Any) -> Tensor:
    """Arrays (and nested lists of numbers) as Tensors; Tensors as they are."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, KerasTensor):
        raise TypeError("to_tensor: got a symbolic KerasTensor where a value was expected")
    return Tensor._wrap(value if xp_of(value) is not np else np.asarray(value))


# ---------------------------------------------------------------- Layer


class Layer:
    """Base class of every layer: naming, lazy build, weights, masking, symbolic and eager calls.

    Subclasses implement ``build(input_shape)`` (create weights with ``add_weight``),
    ``call(inputs, ...)`` on Tensors, ``compute_output_shape(input_shape)`` and
    ``get_config()``; ``call`` may take ``mask=`` and ``training=`` keywords.
    """

    supports_masking = False  # pass the input mask on unchanged (set by layers that keep the time axis)
    _masks_from_graph = False  # True for models: their outputs carry the masks their inner layers computed

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: Any = None,
        input_dim: int | None = None,
        batch_input_shape: Any = None,
    ) -> None:
        object.__setattr__(self, "_sublayers", [])
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"name: expected a non-empty string without '/', got {name!r}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.dtype = _config.resolve_dtype(dtype)
        self._own_weights: list[Variable] = []
        self._declared_trainable: dict[int, bool] = {}
        self._trainable = bool(trainable)
        self.built = False
        self._build_shape: Any = None
        self._inbound: list[GraphNode] = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape: Any = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None, *tuple(input_shape))
        else:
            self._batch_input_shape = None
        sig = inspect.signature(self.call).parameters
        self._call_takes_mask = "mask" in sig
        self._call_takes_training = "training" in sig

    # ---- attribute tracking: sub-layers assigned as attributes or in lists are part of this layer
    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, Layer) and value is not self and value not in self._sublayers:
            self._sublayers.append(value)
        elif isinstance(value, (list, tuple)) and not key.startswith("_"):
            for v in value:
                if isinstance(v, Layer) and v not in self._sublayers:
                    self._sublayers.append(v)
        object.__setattr__(self, key, value)

    # ---- weights
    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        dtype: Any = None,
    ) -> Variable:
        """Create a weight ``<layer name>/<name>`` of ``shape`` drawn from ``initializer``."""
        dt = self.dtype if dtype is None else np.dtype(dtype)
        value = initializers.get(initializer)(tuple(int(d) for d in shape), dt)
        var = Variable(np.ascontiguousarray(value, dtype=dt), name=f"{self.name}/{name}", trainable=trainable)
        self._declared_trainable[id(var)] = bool(trainable)
        if not self._trainable:
            var.set_trainable(False)
        self._own_weights.append(var)
        return var

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for v in self._own_weights:
            v.set_trainable(bool(value) and self._declared_trainable.get(id(v), True))
        for layer in self._sublayers:
            layer.trainable = value

    def _all_layers(self) -> list[Layer]:
        out: list[Layer] = []
        for layer in self._sublayers:
            out.append(layer)
            out.extend(layer._all_layers())
        return out

    @property
    def weights(self) -> list[Variable]:
        """Every weight of this layer and its sub-layers, each once, in creation order."""
        seen: set[int] = set()
        out: list[Variable] = []
        for v in [*self._own_weights, *(w for layer in self._sublayers for w in layer.weights)]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if v.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self._trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights' values as NumPy arrays (also for a model on a GPU), in Keras order."""
        return [to_host(v.data).copy() for v in self.weights]

    def set_weights(self, weights: list[Any]) -> None:
        """Set every weight from a list in ``get_weights`` order; shapes must match exactly."""
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): set_weights got {len(weights)} arrays, "
                f"expected {len(mine)} ({', '.join(v.name for v in mine) or 'no weights'})"
            )
        for v, w in zip(mine, weights):
            arr = w if hasattr(w, "shape") else np.asarray(w)
            if arr.shape != v.shape:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): weight '{v.name}' expects shape {v.shape}, "
                    f"got {arr.shape}"
                )
        for v, w in zip(mine, weights):
            v.data[...] = xp_of(v.data).asarray(w)  # onto the weight's device

    def count_params(self) -> int:
        return int(sum(v.size for v in self.weights))

    # ---- building
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape``; the default layer has none."""

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_shape = input_shape
        self.check_input(input_shape)

    def check_input(self, input_shape: Any) -> None:
        """Raise when inputs of ``input_shape`` don't fit the built weights (override per layer)."""

    def incompatible(self, input_shape: Any, expected: str) -> ValueError:
        return ValueError(
            f"Input of layer '{self.name}' ({type(self).__name__}) is incompatible with the layer: "
            f"expected {expected}, but received input with shape {format_shape(input_shape)}"
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for ``input_shape``; by default found by running the layer on a dummy batch."""
        return _probe_output_shape(self, input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask if self.supports_masking else None

    # ---- calling
    def call(self, inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.call")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(t, KerasTensor) for t in flatten((inputs, args, kwargs))):
            return self._symbolic_call(inputs, args, kwargs)
        return self._eager_call(inputs, args, kwargs)

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        shapes = shape_of(inputs)
        self._maybe_build(shapes)
        out_shapes = self.compute_output_shape(shapes, **_shape_kwargs(self, kwargs))
        node = GraphNode(self, (inputs, *args), kwargs, [])
        dtype = self.output_dtype(inputs)
        if isinstance(out_shapes, list):
            node.outputs = [KerasTensor(s, dtype, node, i) for i, s in enumerate(out_shapes)]
            result: Any = list(node.outputs)
        else:
            node.outputs = [KerasTensor(out_shapes, dtype, node, 0)]
            result = node.outputs[0]
        self._inbound.append(node)
        return result

    def output_dtype(self, inputs: Any) -> Any:
        return self.dtype

    def _eager_call(self, inputs: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        inputs = map_structure(to_tensor, inputs)
        mask = kwargs.pop("mask", None)
        if mask is None:
            masks = [t._mask for t in flatten(inputs)]
            mask = masks[0] if len(masks) == 1 else (masks if any(m is not None for m in masks) else None)
        self._maybe_build(shape_of(inputs))
        if self._call_takes_mask:
            kwargs["mask"] = mask
        if self._call_takes_training and kwargs.get("training") is None:
            kwargs["training"] = learning_phase()
        elif not self._call_takes_training:
            kwargs.pop("training", None)
        outputs = self.call(inputs, *args, **kwargs)
        if self._masks_from_graph:  # a Model: its graph's last layers already set each output's mask
            return outputs
        out_mask = self.compute_mask(inputs, mask)
        if isinstance(outputs, (list, tuple)):
            if out_mask is not None and isinstance(outputs[0], Tensor):
                outputs[0]._mask = out_mask
        elif isinstance(outputs, Tensor):
            outputs._mask = out_mask
        return outputs

    # ---- config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype.name}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _shape_kwargs(layer: Layer, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a call that ``compute_output_shape`` accepts (the rest are tensors)."""
    params = inspect.signature(layer.compute_output_shape).parameters
    return {k: v for k, v in kwargs.items() if k in params}


def _probe_output_shape(layer: Layer, input_shape: Any) -> Any:
    """Run ``layer`` on zeros of ``input_shape`` (free axes of size 1) and report the result's shape."""
    from ..autograd import no_grad  # noqa: PLC0415

    def zeros(shape: Any) -> Any:
        if isinstance(shape, list):
            return [zeros(s) for s in shape]
        return Tensor._wrap(np.zeros([1 if d is None else d for d in shape], dtype=layer.dtype))

    with no_grad():
        out = layer._eager_call(zeros(input_shape), (), {})

    def shape(t: Any) -> Any:
        if isinstance(t, (list, tuple)):
            return [shape(o) for o in t]
        return (None, *t.shape[1:])

    return shape(out)


# ---------------------------------------------------------------- Input


class InputLayer(Layer):
    """The layer behind ``Input``: holds the symbolic input's shape and dtype."""

    def __init__(
        self,
        shape: Any = None,
        batch_size: int | None = None,
        dtype: Any = None,
        name: str | None = None,
        batch_shape: Any = None,
        **kwargs: Any,
    ) -> None:
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: shape is required, e.g. Input(shape=(T, D)) (without the batch axis)")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        self._input_dtype = np.dtype(dtype) if dtype is not None else None
        super().__init__(name=name or unique_name("input_layer"), dtype=None, **kwargs)
        self.batch_shape = tuple(batch_shape)
        for d in self.batch_shape:
            if d is not None and (not isinstance(d, (int, np.integer)) or d < 0):
                raise ValueError(f"Input: shape entries must be non-negative ints or None, got {self.batch_shape}")
        dt = self._input_dtype if self._input_dtype is not None else self.dtype
        node = GraphNode(self, (), {}, [])
        node.outputs = [KerasTensor(self.batch_shape, dt, node, 0)]
        self._inbound.append(node)
        self.output = node.outputs[0]
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.batch_shape

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batch_shape": list(self.batch_shape),
            "dtype": (self._input_dtype or self.dtype).name,
        }


def Input(  # noqa: N802  (Keras's name)
    shape: Any = None,
    batch_size: int | None = None,
    dtype: Any = None,
    name: str | None = None,
    batch_shape: Any = None,
) -> KerasTensor:
    """A symbolic input of ``shape`` (without the batch axis; None for a free length)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape).output
