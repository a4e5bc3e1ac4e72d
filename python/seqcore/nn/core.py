"""Core layers: Dense, Embedding, Activation, Softmax, Dropout, Lambda and the shape layers."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import functional as F
from ..autograd import tensor as ops
from ..autograd.tensor import to_host, xp_of
from . import activations, initializers
from .layer import Layer, format_shape


def cast_input(x: Tensor, dtype: Any) -> Tensor:
    """Bring integer or other-precision inputs to the layer's float type (as Keras autocasts)."""
    return x if x.dtype == dtype else ops.astype(x, dtype)


class Dense(Layer):
    """``activation(x @ kernel + bias)`` over the last axis of x [...,D] -> [...,units]."""

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.incompatible(input_shape, "an input of rank >= 2 with a known last axis")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] != self.kernel.shape[0]:
            raise self.incompatible(input_shape, f"axis -1 of input shape to have value {self.kernel.shape[0]}")

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(F.linear(cast_input(inputs, self.dtype), self.kernel, self.bias))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


def _is_vectors_pair(obj: Any) -> bool:
    """Whether ``obj`` is a (matrix [V,E], words) pair for ``Embedding.from_pretrained``."""
    if not (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], (list, tuple))):
        return False
    return len(obj[1]) > 0 and all(isinstance(w, str) for w in obj[1])


class Embedding(Layer):
    """Integer ids [...] -> vectors [..., output_dim]; ``mask_zero`` makes id 0 padding."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        mask_zero: bool = False,
        weights: Any = None,
        input_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive int, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self._initial = None if weights is None else [np.asarray(w) for w in weights]

    @classmethod
    def from_pretrained(
        cls, matrix: Any, trainable: bool = False, mask_zero: bool | None = None, **kwargs: Any
    ) -> Embedding:
        """An Embedding holding pretrained vectors (frozen unless ``trainable``).

        ``matrix``: a [V,E] float array (``mask_zero`` defaults to False: row 0 is an ordinary word), or word vectors
        such as ``seqcore.embeddings.WordVectors`` (anything with an ``embedding_matrix(pad_row=...)`` method), or a
        ``(matrix, words)`` pair.  Word vectors give a [V+1,E] layer whose row 0 is all zeros, so word ``i`` has id
        ``i + 1`` (as ``WordVectors.sentences_to_indices`` writes) and ``mask_zero`` defaults to True.
        """
        if _is_vectors_pair(matrix):  # padded here as WordVectors.embedding_matrix(pad_row=True) does: nn sits below
            vectors, words = np.asarray(matrix[0]), matrix[1]
            if vectors.ndim != 2 or vectors.shape[0] != len(words):
                raise ValueError(
                    f"Embedding.from_pretrained: a (matrix, words) pair needs one matrix row per word, got "
                    f"{vectors.shape} for {len(words)} words"
                )
            arr = np.concatenate([np.zeros((1, vectors.shape[1]), vectors.dtype), vectors])
            mask_zero = True if mask_zero is None else mask_zero
        elif not isinstance(matrix, np.ndarray) and callable(getattr(matrix, "embedding_matrix", None)):
            arr = np.asarray(matrix.embedding_matrix(pad_row=True))
            mask_zero = True if mask_zero is None else mask_zero
        else:
            arr = np.asarray(matrix)
            mask_zero = False if mask_zero is None else mask_zero
        if arr.ndim != 2 or arr.dtype.kind != "f":
            raise ValueError(f"Embedding.from_pretrained: matrix must be a 2-d float array [V, E], got {arr.shape}")
        kwargs.setdefault("dtype", arr.dtype if arr.dtype in (np.float32, np.float64) else None)
        layer = cls(arr.shape[0], arr.shape[1], mask_zero=mask_zero, trainable=trainable, weights=[arr], **kwargs)
        layer._maybe_build((None, None))
        return layer

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        if self._initial is not None:
            self.set_weights(self._initial)
            self._initial = None

    def call(self, inputs: Tensor) -> Tensor:
        ids = inputs.data
        if ids.dtype.kind == "f":
            if not bool((ids == xp_of(ids).round(ids)).all()):
                raise ValueError(f"Embedding '{self.name}': inputs must be integer ids, got fractional values")
            ids = ids.astype(np.int64)
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding '{self.name}': inputs must be integer ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise ValueError(
                f"Embedding '{self.name}': id {bad} is outside [0, {self.input_dim}) (input_dim={self.input_dim})"
            )
        return F.embedding(self.embeddings, ids)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_zero:
            return None
        return to_host(inputs.data) != 0  # masks stay on the host (lengths are computed from them there)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape, self.output_dim)

    def output_dtype(self, inputs: Any) -> Any:
        return self.dtype

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "mask_zero": self.mask_zero,
        }


class Activation(Layer):
    """Apply an activation (a name or a function of Tensors)."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Softmax(Layer):
    """Softmax along ``axis`` (the attention models use axis=1, over time)."""

    supports_masking = True

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs: Tensor) -> Tensor:
        return ops.softmax(inputs, self.axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dropout(Layer):
    """Inverted dropout while training; identity at inference."""

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        return F.dropout(inputs, self.rate, noise_shape=self.noise_shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        shape = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "noise_shape": shape}


class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` written with seqcore's Tensor ops.

    Saving a model stores the function by module and name, so only module-level functions
    can be saved (or pass ``custom_objects`` to ``load_model``).
    """

    def __init__(
        self, function: Callable[..., Any], output_shape: Any = None, arguments: dict | None = None, **kwargs: Any
    ) -> None:
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        super().__init__(**kwargs)
        self.function = function
        self.output_shape = output_shape
        self.arguments = dict(arguments or {})

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return self.output_shape(input_shape)
        return (input_shape[0] if isinstance(input_shape, tuple) else None, *tuple(self.output_shape))

    def get_config(self) -> dict[str, Any]:
        fn = self.function
        qualname = getattr(fn, "__qualname__", "")
        if "<lambda>" in qualname or "<locals>" in qualname:
            raise ValueError(
                f"Lambda layer '{self.name}' wraps an anonymous or nested function, which cannot be saved; "
                "use a module-level def (or save_weights and rebuild the model in code)"
            )
        shape = self.output_shape if not callable(self.output_shape) else None
        return {
            **super().get_config(),
            "function": {"module": fn.__module__, "name": qualname},
            "output_shape": None if shape is None else list(shape),
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Lambda:
        config = dict(config)
        ref = config.pop("function")
        fn = (custom_objects or {}).get(ref["name"])
        if fn is None:
            try:
                obj: Any = importlib.import_module(ref["module"])
                for part in ref["name"].split("."):
                    obj = getattr(obj, part)
                fn = obj
            except (ImportError, AttributeError):
                raise ValueError(
                    f"Lambda layer '{config.get('name')}': cannot find function {ref['module']}.{ref['name']}; "
                    "pass it in custom_objects"
                ) from None
        return cls(fn, **config)


def _encode_index(index: Any) -> Any:
    """A basic index (ints, slices, None, Ellipsis) as JSON-able data; anything else is an error."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for item in items:
        if isinstance(item, slice):
            out.append({"slice": [item.start, item.stop, item.step]})
        elif item is Ellipsis:
            out.append({"ellipsis": True})
        elif item is None or (isinstance(item, (int, np.integer)) and not isinstance(item, bool)):
            out.append(None if item is None else int(item))
        else:
            raise TypeError(f"GetItem: only ints, slices, None and ... can index a symbolic tensor, got {item!r}")
    return out


def _decode_index(items: list[Any]) -> tuple:
    def one(item: Any) -> Any:
        if isinstance(item, dict):
            return Ellipsis if "ellipsis" in item else slice(*item["slice"])
        return item

    return tuple(one(item) for item in items)


class GetItem(Layer):
    """Basic indexing of the input, ``x[index]`` (what ``X[:, t, :]`` on a symbolic tensor builds)."""

    def __init__(self, index: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = _decode_index(_encode_index(index))  # validated, and a tuple whatever was given

    def call(self, inputs: Tensor) -> Tensor:
        if self.index and self.index[0] not in (slice(None), Ellipsis):
            raise ValueError(f"Layer '{self.name}' (GetItem): the first index must keep the batch axis (':')")
        return inputs[self.index]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "index": _encode_index(self.index)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GetItem:
        config = dict(config)
        return cls(_decode_index(config.pop("index")), **config)


def _broadcast_node(x: Tensor, out: Any, axis: int) -> Tensor:
    return ops.make(out, (x,), lambda g: (g.sum(axis=axis),))


class RepeatVector(Layer):
    """[B,D] -> [B,n,D]: the same vector at every one of n time steps."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive int, got {n!r}")
        self.n = int(n)

    def check_input(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 2:
            raise self.incompatible(input_shape, "ndim=2, i.e. (batch, features)")

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs.data
        xp = xp_of(x)
        out = xp.ascontiguousarray(xp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1])))
        return _broadcast_node(inputs, out, 1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Flatten(Layer):
    """[B, ...] -> [B, prod(...)]."""

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """[B, ...] -> [B, *target_shape] (one entry may be -1)."""

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        try:
            return inputs.reshape((inputs.shape[0], *self.target_shape))
        except ValueError:
            raise ValueError(
                f"Layer '{self.name}' (Reshape): cannot reshape input of shape {format_shape(inputs.shape)} "
                f"to (batch, {', '.join(map(str, self.target_shape))})"
            ) from None

    def compute_output_shape(self, input_shape: Any) -> Any:
        if -1 in self.target_shape:
            rest = input_shape[1:]
            if None in rest:
                return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
            known = math.prod(d for d in self.target_shape if d != -1)
            fill = math.prod(rest) // known
            return (input_shape[0], *(fill if d == -1 else d for d in self.target_shape))
        rest = input_shape[1:]
        if None not in rest and math.prod(rest) != math.prod(self.target_shape):
            raise self.incompatible(input_shape, f"{math.prod(self.target_shape)} values per sample")
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch axes; ``dims`` counts from 1 as in Keras."""

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def call(self, inputs: Tensor) -> Tensor:
        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step: [B,T,...] runs as one call on [B*T,...]."""

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: expected a Layer, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise self.incompatible(input_shape, "ndim>=3, i.e. (batch, time, ...)")
        self.layer._maybe_build((None, *input_shape[2:]))

    def call(self, inputs: Tensor) -> Tensor:
        B, T = inputs.shape[:2]
        flat = inputs.reshape((B * T, *inputs.shape[2:]))
        out = self.layer(flat)
        return out.reshape((B, T, *out.shape[1:]))

    def compute_output_shape(self, input_shape: Any) -> Any:
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def get_config(self) -> dict[str, Any]:
        from .serialization import serialize_layer  # noqa: PLC0415

        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> TimeDistributed:
        from .serialization import deserialize_layer  # noqa: PLC0415

        config = dict(config)
        inner = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(inner, **config)
