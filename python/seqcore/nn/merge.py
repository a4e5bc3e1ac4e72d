"""Layers that merge a list of inputs: Concatenate, Dot, Add, Subtract, Multiply, Average, Maximum, Minimum."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd import tensor as ops
from .layer import Layer, format_shape


class _Merge(Layer):
    """Takes a list of at least two tensors."""

    def _check_list(self, input_shape: Any) -> list[tuple]:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) must be called on a list of at least 2 "
                f"inputs, got {format_shape(input_shape) if isinstance(input_shape, tuple) else input_shape}"
            )
        return input_shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras 3: the OR of the inputs' masks, or no mask when some input has none."""
        masks = mask if isinstance(mask, list) else [mask]
        if mask is None or any(m is None for m in masks):
            return None
        out = np.asarray(masks[0], dtype=bool)
        for m in masks[1:]:
            out = out | np.asarray(m, dtype=bool)
        return out


def _full_mask(x: Tensor, mask: Any) -> np.ndarray:
    """A [B,T] mask broadcast over the remaining axes of ``x``."""
    m = np.asarray(mask, dtype=bool)
    return np.broadcast_to(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x.shape)


def _masks(inputs: list[Tensor], mask: Any) -> list[Any]:
    return list(mask) if isinstance(mask, list) else [None] * len(inputs)


def _masked_extremum(op: Any, inputs: list[Tensor], mask: Any) -> Tensor:
    """Keras 3's Maximum / Minimum with masks: masked entries of one input defer to the others."""
    output: Any = None
    output_mask: Any = None
    for x, m in zip(inputs, _masks(inputs, mask)):
        full = None if m is None else _full_mask(x, m)
        if output is None:
            output, output_mask = x, full
            continue
        if full is not None:
            x = ops.where(full, x, output)
        if output_mask is not None:
            output = ops.where(output_mask, output, x)
        output_mask = output_mask | full if full is not None and output_mask is not None else None
        output = op(output, x)
    return output


class _Elementwise(_Merge):
    def check_input(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        first = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(first) or any(
                a is not None and b is not None and a != b for a, b in zip(s[1:], first[1:])
            ):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): inputs must have the same shape, got "
                    f"{format_shape(first)} and {format_shape(s)}"
                )

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def call(self, inputs: list[Tensor]) -> Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = self.combine(out, t)
        return self.finish(out, len(inputs))

    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def finish(self, out: Tensor, n: int) -> Tensor:
        return out


class Add(_Elementwise):
    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class Multiply(_Elementwise):
    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return a * b

    def call(self, inputs: list[Tensor], mask: Any = None) -> Tensor:
        """Keras 3 with masks: masked entries count as 1; where every input is masked, the output is 0."""
        masks = _masks(inputs, mask)
        if all(m is None for m in masks):
            return super().call(inputs)
        out: Any = None
        union: Any = None
        for x, m in zip(inputs, masks):
            if m is not None:
                full = _full_mask(x, m)
                x = ops.where(full, x, 1.0)
                union = full if union is None else union | full
            out = x if out is None else out * x
        return ops.where(union, out, 0.0) if all(m is not None for m in masks) else out


class Average(_Elementwise):
    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b

    def finish(self, out: Tensor, n: int) -> Tensor:
        return out * (1.0 / n)


class Maximum(_Elementwise):
    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.maximum(a, b)

    def call(self, inputs: list[Tensor], mask: Any = None) -> Tensor:
        return _masked_extremum(ops.maximum, inputs, mask)


class Minimum(_Elementwise):
    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return ops.minimum(a, b)

    def call(self, inputs: list[Tensor], mask: Any = None) -> Tensor:
        return _masked_extremum(ops.minimum, inputs, mask)


class Subtract(_Elementwise):
    def check_input(self, input_shape: Any) -> None:
        super().check_input(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Layer '{self.name}' (Subtract): expects exactly 2 inputs, got {len(input_shape)}")

    def combine(self, a: Tensor, b: Tensor) -> Tensor:
        return a - b


class Concatenate(_Merge):
    """Join inputs along ``axis``; every other axis must agree."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def check_input(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        ax = self.axis % rank
        for s in shapes[1:]:
            same = len(s) == rank and all(
                a is None or b is None or a == b for i, (a, b) in enumerate(zip(s, shapes[0])) if i not in (0, ax)
            )
            if not same:
                raise ValueError(
                    f"Layer '{self.name}' (Concatenate) requires inputs with matching shapes except for the "
                    f"concatenation axis {self.axis}; received {', '.join(format_shape(x) for x in shapes)}"
                )

    def call(self, inputs: list[Tensor]) -> Tensor:
        return ops.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras 3: masks (all True where an input has none) joined along ``axis``, any() over features."""
        masks = mask if isinstance(mask, list) else [mask]
        if mask is None or all(m is None for m in masks):
            return None
        full = [np.ones(x.shape, dtype=bool) if m is None else _full_mask(x, m) for x, m in zip(inputs, masks)]
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        out = list(input_shape[0])
        ax = self.axis % len(out)
        sizes = [s[ax] for s in input_shape]
        out[ax] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Keras's batched dot product: contract ``axes`` of two inputs of rank 2 or 3.

    [B,T,1] . [B,T,D] with axes=1 gives [B,1,D] (the attention context); [B,D] . [B,D] gives [B,1].
    ``normalize`` L2-normalises along the contracted axes first (cosine similarity).
    """

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes = (int(axes), int(axes)) if isinstance(axes, (int, np.integer)) else tuple(int(a) for a in axes)
        if len(self.axes) != 2:
            raise ValueError(f"Dot: axes must be an int or a pair, got {axes!r}")
        self.normalize = bool(normalize)

    def _resolved(self, input_shape: Any) -> tuple[int, int]:
        a, b = input_shape
        return self.axes[0] % len(a), self.axes[1] % len(b)

    def check_input(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        if len(shapes) != 2 or any(len(s) not in (2, 3) for s in shapes) or len(shapes[0]) != len(shapes[1]):
            raise ValueError(
                f"Layer '{self.name}' (Dot): expects 2 inputs of the same rank, 2 or 3; got "
                f"{', '.join(format_shape(s) for s in shapes)}"
            )
        a1, a2 = self._resolved(shapes)
        if 0 in (a1, a2):
            raise ValueError(f"Layer '{self.name}' (Dot): cannot contract the batch axis")
        d1, d2 = shapes[0][a1], shapes[1][a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f"Layer '{self.name}' (Dot): dimension mismatch on the contracted axes: "
                f"{format_shape(shapes[0])} axis {a1} vs {format_shape(shapes[1])} axis {a2}"
            )

    def call(self, inputs: list[Tensor]) -> Tensor:
        x, y = inputs
        a1, a2 = self._resolved([x.shape, y.shape])
        if self.normalize:
            x = x / ops.sqrt(ops.maximum((x * x).sum(axis=a1, keepdims=True), 1e-12))
            y = y / ops.sqrt(ops.maximum((y * y).sum(axis=a2, keepdims=True), 1e-12))
        if x.ndim == 2:
            return (x * y).sum(axis=1, keepdims=True)
        xl = ops.swapaxes(x, 1, 2) if a1 == 1 else x  # contracted axis last: [B, other, K]
        yl = y if a2 == 1 else ops.swapaxes(y, 1, 2)  # contracted axis first: [B, K, other]
        return xl @ yl

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # as Keras: the contracted output has no time axis to mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        a, b = input_shape
        if len(a) == 2:
            return (a[0], 1)
        a1, a2 = self._resolved(input_shape)
        return (a[0], a[3 - a1], b[3 - a2])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}
