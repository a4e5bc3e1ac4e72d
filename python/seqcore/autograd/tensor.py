"""Reverse-mode automatic differentiation over arrays: the Tensor, its tape and the elementary ops.

A Tensor wraps an array (``.data``).  Every op whose inputs need gradients records one
``Node`` holding its inputs and a backward function; ``loss.backward()`` orders the nodes
reachable from ``loss`` and runs their backward functions once each, newest first, adding
each result into the gradient slot of the input that produced it.  Leaves (tensors that no
op produced, e.g. a layer's weights) collect their gradient in ``.grad``.

A node may have several outputs (a whole-sequence LSTM returns y, h and c from one node):
its backward receives one gradient per output, ``None`` for outputs nothing used.

The engine core touches arrays only through ``xp`` (the array module of the data), so a
CuPy array can take NumPy's place later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from .. import kernels
from ..kernels._validate import is_device_array, xp_of  # the array module of data, NumPy or CuPy

Array = Any  # an ndarray of the array module in use (NumPy today)
ArrayLike = Union["Tensor", np.ndarray, float, int]

_local = threading.local()


def to_host(data: Any) -> np.ndarray:
    """``data`` as a NumPy array: a CuPy array is copied to the host, anything else is viewed as it is."""
    if is_device_array(data):
        return data.get()
    return np.asarray(data)


# ---------------------------------------------------------------- grad mode


def is_grad_enabled() -> bool:
    """Whether new ops record nodes for backward (False inside ``no_grad()``)."""
    return getattr(_local, "enabled", True)


class no_grad:
    """Context manager (and decorator) under which ops record nothing: inference, updates."""

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _local.enabled = False

    def __exit__(self, *exc: object) -> None:
        _local.enabled = self._prev

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapped.__name__ = getattr(fn, "__name__", "wrapped")
        wrapped.__doc__ = fn.__doc__
        return wrapped


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _local.enabled = True


# ---------------------------------------------------------------- tape


class Node:
    """One recorded op: its input tensors, its backward, and the gradients gathered for its outputs."""

    __slots__ = ("backward", "grads", "inputs", "n_out")

    def __init__(self, inputs: tuple[Tensor, ...], backward: Callable[..., Sequence[Any]], n_out: int) -> None:
        self.inputs = inputs
        self.backward = backward
        self.n_out = n_out
        self.grads: list[Any] = [None] * n_out


def _topological(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, every node after all the nodes that feed it."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for t in node.inputs:
            parent = t._node
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order


def _accumulate(t: Tensor, g: Any, claimed: set[int]) -> None:
    """Add ``g`` into ``t``'s gradient slot.

    A leaf owns its ``.grad``: it is never a (read-only) view, the caller's upstream array, or
    an array another leaf holds.  ``claimed`` has the ids of arrays already handed out this
    backward pass; a fresh array a kernel just returned is kept without a copy.
    """
    if g.dtype != t.data.dtype:  # mixed-precision ops: the gradient takes its input's dtype
        g = g.astype(t.data.dtype)
    node = t._node
    if node is None:
        if t.grad is not None:
            t.grad = t.grad + g
        elif id(g) in claimed or g.base is not None or not g.flags.writeable:
            t.grad = g.copy()
        else:
            t.grad = g
        claimed.add(id(t.grad))
    else:
        slot = node.grads[t._index]
        node.grads[t._index] = g if slot is None else slot + g


# ---------------------------------------------------------------- Tensor


class Tensor:
    """An array with a gradient: ``data`` (the values), ``grad`` (filled by ``backward``)."""

    __slots__ = ("__weakref__", "_index", "_logits", "_mask", "_node", "data", "grad", "requires_grad")
    __array_priority__ = 100  # NumPy defers to our operators: ndarray + Tensor -> Tensor

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        xp = xp_of(data)
        arr = xp.asarray(data, dtype=dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(f"requires_grad: only float tensors can require gradients, got dtype {arr.dtype}")
        self.data = arr
        self.grad: Any = None
        self.requires_grad = bool(requires_grad)
        self._node: Node | None = None
        self._index = 0
        self._mask: Any = None  # Keras-style padding mask [B,T] carried along the layers
        self._logits: Tensor | None = None  # set when this tensor is softmax(logits), for a fused loss

    @classmethod
    def _wrap(cls, data: Any, node: Node | None = None, index: int = 0) -> Tensor:
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = node is not None
        t._node = node
        t._index = index
        t._mask = None
        t._logits = None
        return t

    # ---- array-like surface
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return int(self.data.ndim)

    @property
    def size(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a view, not a copy; a copy to the host for values on a GPU)."""
        return to_host(self.data)

    def item(self) -> float:
        return self.data.item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = to_host(self.data)
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(to_host(self.data), precision=4, threshold=20)}{flag})"

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def detach(self) -> Tensor:
        """The same values, cut from the tape."""
        return Tensor._wrap(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ---- backward
    def backward(self, grad: Any = None) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on with d(self)/d(leaf), times ``grad``.

        ``grad`` defaults to 1 and may be omitted only for a tensor with one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require gradients (no input required them)")
        xp = xp_of(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward: grad must be given for a non-scalar tensor of shape {self.shape}")
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, expected {self.shape}")
        claimed = {id(grad)}  # the caller keeps its array: a leaf copies it
        _accumulate(self, grad, claimed)
        if self._node is None:
            return
        for node in reversed(_topological(self._node)):
            grads, node.grads = node.grads, [None] * node.n_out
            if all(g is None for g in grads):
                continue
            in_grads = node.backward(grads[0]) if node.n_out == 1 else node.backward(*grads)
            for t, g in zip(node.inputs, in_grads):
                if g is not None and t.requires_grad:
                    _accumulate(t, g, claimed)

    # ---- operators
    def __add__(self, other: ArrayLike) -> Tensor:
        return add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return div(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return matmul(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return power(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return power(other, self)

    def __neg__(self) -> Tensor:
        return neg(self)

    def __getitem__(self, index: Any) -> Tensor:
        return getitem(self, index)

    # ---- methods mirroring the functions below
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return sum_(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return max_(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def transpose(self, *axes: Any) -> Tensor:
        return transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes or None)

    @property
    def T(self) -> Tensor:  # noqa: N802  (NumPy's name)
        return transpose(self)

    def exp(self) -> Tensor:
        return exp(self)

    def log(self) -> Tensor:
        return log(self)

    def tanh(self) -> Tensor:
        return tanh(self)

    def sigmoid(self) -> Tensor:
        return sigmoid(self)

    def relu(self) -> Tensor:
        return relu(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return log_softmax(self, axis)

    def astype(self, dtype: Any) -> Tensor:
        return astype(self, dtype)


class Variable(Tensor):
    """A named, persistent tensor: a layer's weight.  Optimizers update ``data`` in place."""

    __slots__ = ("name", "trainable")

    def __init__(self, data: Any, name: str = "variable", trainable: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=False, dtype=dtype)
        self.data = self.data.copy() if self.data.base is not None or not self.data.flags.c_contiguous else self.data
        self.name = name
        self.trainable = bool(trainable)
        self.requires_grad = self.trainable and self.data.dtype.kind == "f"

    def set_trainable(self, trainable: bool) -> None:
        self.trainable = bool(trainable)
        self.requires_grad = self.trainable and self.data.dtype.kind == "f"

    def assign(self, value: Any) -> None:
        """Copy ``value`` into this variable's array (same shape; cast to its dtype)."""
        arr = xp_of(self.data).asarray(value.data if isinstance(value, Tensor) else value)  # onto our device
        if arr.shape != self.data.shape:
            raise ValueError(f"{self.name}: expected a value of shape {self.data.shape}, got {arr.shape}")
        self.data[...] = arr

    def __repr__(self) -> str:
        return f"<Variable {self.name!r} shape={self.shape} dtype={self.dtype}>"


# ---------------------------------------------------------------- building ops


def as_tensor(value: ArrayLike, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; Python scalars take ``like``'s dtype so float32 stays float32."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return Tensor._wrap(xp_of(like.data).asarray(value, dtype=like.data.dtype))
    return Tensor._wrap(np.asarray(value))


def make(data: Any, inputs: tuple[Tensor, ...], backward: Callable[..., Sequence[Any]]) -> Tensor:
    """Wrap an op's result, recording a node when an input needs a gradient."""
    if is_grad_enabled():
        for t in inputs:
            if t.requires_grad:
                return Tensor._wrap(data, Node(inputs, backward, 1), 0)
    return Tensor._wrap(data)


def make_many(datas: Sequence[Any], inputs: tuple[Tensor, ...], backward: Callable[..., Sequence[Any]]) -> tuple:
    """Like ``make`` for an op with several outputs: one node, backward gets one gradient per output."""
    if is_grad_enabled() and any(t.requires_grad for t in inputs):
        node = Node(inputs, backward, len(datas))
        return tuple(Tensor._wrap(d, node, i) for i, d in enumerate(datas))
    return tuple(Tensor._wrap(d) for d in datas)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: the gradient of a broadcast."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


# ---------------------------------------------------------------- arithmetic


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    a, b = _pair(a, b)
    return make(a.data + b.data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    a, b = _pair(a, b)
    return make(a.data - b.data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    a, b = _pair(a, b)
    return make(
        a.data * b.data,
        (a, b),
        lambda g: (
            unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
        ),
    )


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    a, b = _pair(a, b)
    out = a.data / b.data
    return make(
        out,
        (a, b),
        lambda g: (
            unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
            unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None,
        ),
    )


def neg(a: Tensor) -> Tensor:
    return make(-a.data, (a,), lambda g: (-g,))


def power(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b, elementwise; the gradient with respect to b needs a > 0 where it matters."""
    a, b = _pair(a, b)
    xp = xp_of(a.data)
    out = a.data**b.data

    def backward(g: Any) -> tuple[Any, Any]:
        ga = unbroadcast(g * b.data * a.data ** (b.data - 1), a.shape) if a.requires_grad else None
        gb = None
        if b.requires_grad:
            safe = xp.where(a.data > 0, a.data, 1)
            gb = unbroadcast(g * out * xp.log(safe), b.shape)
        return ga, gb

    return make(out, (a, b), backward)


def _swap_last(x: Any) -> Any:
    return x.swapaxes(-1, -2)


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a @ b with NumPy's rules (1-d operands, broadcast batch dimensions)."""
    a, b = _pair(a, b)
    out = a.data @ b.data

    def backward(g: Any) -> tuple[Any, Any]:
        A = a.data[None, :] if a.ndim == 1 else a.data
        B = b.data[:, None] if b.ndim == 1 else b.data
        g2 = g
        if b.ndim == 1:  # before a's axis: with two 1-d operands g is 0-d
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g2 @ _swap_last(B), A.shape).reshape(a.shape)
        if b.requires_grad:
            gb = unbroadcast(_swap_last(A) @ g2, B.shape).reshape(b.shape)
        return ga, gb

    return make(out, (a, b), backward)


def astype(a: Tensor, dtype: Any) -> Tensor:
    """A cast; the gradient is cast back."""
    src = a.data.dtype
    return make(a.data.astype(dtype), (a,), lambda g: (g.astype(src),))


# ---------------------------------------------------------------- reductions


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(ax % ndim for ax in axes))


def _expand(g: Any, axes: tuple[int, ...], keepdims: bool, shape: tuple[int, ...]) -> Any:
    if not keepdims:
        g = g.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return xp_of(g).broadcast_to(g, shape)


def sum_(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    axes = _axes(axis, a.ndim)
    return make(a.data.sum(axis=axes, keepdims=keepdims), (a,), lambda g: (_expand(g, axes, keepdims, a.shape),))


def mean(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    axes = _axes(axis, a.ndim)
    count = 1
    for ax in axes:
        count *= a.shape[ax]
    return make(
        a.data.mean(axis=axes, keepdims=keepdims),
        (a,),
        lambda g: (_expand(g / count, axes, keepdims, a.shape),),
    )


def max_(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over axes; ties share the gradient equally."""
    axes = _axes(axis, a.ndim)
    top = a.data.max(axis=axes, keepdims=True)

    def backward(g: Any) -> tuple[Any]:
        hit = (a.data == top).astype(a.data.dtype)
        hit /= hit.sum(axis=axes, keepdims=True)
        return (hit * _expand(g, axes, keepdims, a.shape),)

    out = top if keepdims else top.reshape([n for i, n in enumerate(top.shape) if i not in axes])
    return make(out, (a,), backward)


# ---------------------------------------------------------------- shape


def reshape(a: Tensor, shape: Any) -> Tensor:
    return make(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),))


def transpose(a: Tensor, axes: Any = None) -> Tensor:
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    axes = tuple(ax % a.ndim for ax in axes)
    inverse = tuple(int(i) for i in np.argsort(axes))
    return make(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),))


def swapaxes(a: Tensor, axis1: int, axis2: int) -> Tensor:
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


def expand_dims(a: Tensor, axis: int) -> Tensor:
    return reshape(a, xp_of(a.data).expand_dims(a.data, axis).shape)


def squeeze(a: Tensor, axis: Any = None) -> Tensor:
    return reshape(a, xp_of(a.data).squeeze(a.data, axis).shape)


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    ts = tuple(as_tensor(t) for t in tensors)
    if not ts:
        raise ValueError("concatenate: expected at least one tensor")
    xp = xp_of(ts[0].data)
    out = xp.concatenate([t.data for t in ts], axis=axis)
    ax = axis % out.ndim
    cuts = np.cumsum([t.shape[ax] for t in ts])[:-1]
    return make(out, ts, lambda g: tuple(xp.split(g, cuts, axis=ax)))


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    ts = tuple(as_tensor(t) for t in tensors)
    if not ts:
        raise ValueError("stack: expected at least one tensor")
    xp = xp_of(ts[0].data)
    out = xp.stack([t.data for t in ts], axis=axis)
    ax = axis % out.ndim
    return make(out, ts, lambda g: tuple(xp.take(g, i, axis=ax) for i in range(len(ts))))


def split(a: Tensor, indices_or_sections: Any, axis: int = 0) -> tuple[Tensor, ...]:
    """NumPy's split as one node with several outputs."""
    xp = xp_of(a.data)
    parts = xp.split(a.data, indices_or_sections, axis=axis)

    def backward(*grads: Any) -> tuple[Any]:
        full = [xp.zeros_like(p) if g is None else g for p, g in zip(parts, grads)]
        return (xp.concatenate(full, axis=axis),)

    return make_many(parts, (a,), backward)


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def getitem(a: Tensor, index: Any) -> Tensor:
    """Indexing and slicing; repeated fancy indices add their gradients."""
    if isinstance(index, Tensor):
        index = index.data
    xp = xp_of(a.data)
    basic = _is_basic(index)

    def backward(g: Any) -> tuple[Any]:
        full = xp.zeros_like(a.data)
        if basic:
            full[index] = g
        else:
            xp.add.at(full, index, g)
        return (full,)

    return make(a.data[index], (a,), backward)


def gather(a: Tensor, indices: Any, axis: int = 0) -> Tensor:
    """``take`` along one axis (an embedding lookup when axis=0); gradients scatter-add back."""
    idx = xp_of(a.data).asarray(indices.data if isinstance(indices, Tensor) else indices)
    xp = xp_of(a.data)
    ax = axis % a.ndim

    def backward(g: Any) -> tuple[Any]:
        full = xp.zeros_like(a.data)
        moved = xp.moveaxis(full, ax, 0)
        xp.add.at(moved, idx, xp.moveaxis(g, tuple(range(ax, ax + idx.ndim)), tuple(range(idx.ndim))))
        return (full,)

    return make(xp.take(a.data, idx, axis=ax), (a,), backward)


def where(condition: Any, a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise choice; ``condition`` is not differentiated."""
    a, b = _pair(a, b)
    cond = condition.data if isinstance(condition, Tensor) else condition
    xp = xp_of(a.data)
    return make(
        xp.where(cond, a.data, b.data),
        (a, b),
        lambda g: (
            unbroadcast(xp.where(cond, g, 0), a.shape) if a.requires_grad else None,
            unbroadcast(xp.where(cond, 0, g), b.shape) if b.requires_grad else None,
        ),
    )


# ---------------------------------------------------------------- elementwise functions


def exp(a: Tensor) -> Tensor:
    out = xp_of(a.data).exp(a.data)
    return make(out, (a,), lambda g: (g * out,))


def log(a: Tensor) -> Tensor:
    return make(xp_of(a.data).log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a: Tensor) -> Tensor:
    out = xp_of(a.data).sqrt(a.data)
    return make(out, (a,), lambda g: (g * 0.5 / out,))


def abs_(a: Tensor) -> Tensor:
    xp = xp_of(a.data)
    return make(xp.abs(a.data), (a,), lambda g: (g * xp.sign(a.data),))


def tanh(a: Tensor) -> Tensor:
    out = xp_of(a.data).tanh(a.data)
    return make(out, (a,), lambda g: (g * (1 - out * out),))


def sigmoid(a: Tensor) -> Tensor:
    # 0.5(1 + tanh(x/2)) equals 1/(1+exp(-x)) and never overflows
    out = 0.5 * (1 + xp_of(a.data).tanh(0.5 * a.data))
    return make(out, (a,), lambda g: (g * out * (1 - out),))


def relu(a: Tensor) -> Tensor:
    xp = xp_of(a.data)
    return make(xp.maximum(a.data, 0), (a,), lambda g: (g * (a.data > 0),))


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum; ties send the gradient to ``a``."""
    a, b = _pair(a, b)
    xp = xp_of(a.data)
    pick = a.data >= b.data
    return make(
        xp.where(pick, a.data, b.data),
        (a, b),
        lambda g: (unbroadcast(g * pick, a.shape), unbroadcast(g * ~pick, b.shape)),
    )


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum; ties send the gradient to ``a``."""
    a, b = _pair(a, b)
    xp = xp_of(a.data)
    pick = a.data <= b.data
    return make(
        xp.where(pick, a.data, b.data),
        (a, b),
        lambda g: (unbroadcast(g * pick, a.shape), unbroadcast(g * ~pick, b.shape)),
    )


def clip(a: Tensor, low: float, high: float) -> Tensor:
    """Values clipped to [low, high]; no gradient flows where clipping happened."""
    xp = xp_of(a.data)
    inside = (a.data >= low) & (a.data <= high)
    return make(xp.clip(a.data, low, high), (a,), lambda g: (g * inside,))


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    """Softmax along ``axis`` through the softmax kernels."""
    xp = xp_of(a.data)
    ax = axis % a.ndim
    moved = xp.moveaxis(a.data, ax, -1)
    y = kernels.softmax(moved)
    out = xp.moveaxis(y, -1, ax)

    def backward(g: Any) -> tuple[Any]:
        return (xp.moveaxis(kernels.softmax_backward(y, xp.moveaxis(g, ax, -1)), -1, ax),)

    result = make(out, (a,), backward)
    if ax == a.ndim - 1:
        result._logits = a
    return result


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    """Log-softmax along ``axis`` through the kernels."""
    xp = xp_of(a.data)
    ax = axis % a.ndim
    y = kernels.log_softmax(xp.moveaxis(a.data, ax, -1))

    def backward(g: Any) -> tuple[Any]:
        return (xp.moveaxis(kernels.log_softmax_backward(y, xp.moveaxis(g, ax, -1)), -1, ax),)

    return make(xp.moveaxis(y, -1, ax), (a,), backward)
