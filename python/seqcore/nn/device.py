"""``to_device``: move a model's weights (and its optimizer's state) between the host and a GPU.

A model's weights are arrays of one array module: NumPy on the host, CuPy on a GPU.  The
layers, the engine and ``fit`` follow the weights: every kernel call holding a CuPy array
runs on the cuda backend, and ``fit``/``predict``/``evaluate`` move each batch to the
weights' device, so user code is the same on both.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .. import _backend
from ..autograd import Tensor, Variable
from ..autograd.tensor import to_host, xp_of

_DEVICE = re.compile(r"^(cpu|cuda|gpu)(?::(\d+))?$")


def _parse(device: Any) -> tuple[str, int]:
    match = _DEVICE.match(device.strip().lower()) if isinstance(device, str) else None
    if match is None:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got {device!r}")
    kind = "cpu" if match.group(1) == "cpu" else "cuda"
    if kind == "cpu" and match.group(2) is not None:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got {device!r}")
    return kind, int(match.group(2) or 0)


def _mover(kind: str, index: int) -> Any:
    if kind == "cpu":
        return to_host
    try:
        _backend.load("cuda")
    except ImportError as exc:
        raise RuntimeError(f"to_device: cannot use 'cuda': {exc}") from None
    import cupy  # noqa: PLC0415  (present: the cuda backend loaded)

    count = cupy.cuda.runtime.getDeviceCount()
    if index >= count:
        raise ValueError(f"device must name a GPU in [0, {count}), got cuda:{index}")

    def move(a: Any) -> Any:
        if xp_of(a) is cupy and a.device.id == index:
            return a
        with cupy.cuda.Device(index):
            return cupy.ascontiguousarray(cupy.asarray(to_host(a) if xp_of(a) is cupy else a))

    return move


def to_device(obj: Any, device: str) -> Any:
    """Move ``obj`` to ``device`` ('cpu', 'cuda' or 'cuda:N') and return it.

    obj: a Layer or Model (its weights move in place, and a compiled model's optimizer slots with them), a
    Variable (in place), a Tensor (a new Tensor on the device), or an array (a NumPy or CuPy array on the
    device).  Moving to where the data already is costs nothing.  'cuda' needs the cuda backend
    (``seqcore.cuda_available()``): a RuntimeError says why it is not there.
    """
    kind, index = _parse(device)
    move = _mover(kind, index)
    if isinstance(obj, Variable):  # a weight moves in place, as a model's do
        obj.data, obj.grad = move(obj.data), None
        return obj
    if isinstance(obj, Tensor):
        return Tensor(move(obj.data), requires_grad=obj.requires_grad)
    weights = getattr(obj, "weights", None)
    if weights is None:
        if isinstance(obj, np.ndarray) or xp_of(obj) is not np:
            return move(obj)
        raise TypeError(f"obj must be a Layer, Model, Tensor or array, got {type(obj).__name__}")
    for v in weights:
        v.data = move(v.data)
        v.grad = None  # a gradient from the old device would be added to the new one
    optimizer = getattr(obj, "optimizer", None)
    slots = getattr(optimizer, "_slots", None)
    if isinstance(slots, dict):
        for per_variable in slots.values():
            for name, arr in per_variable.items():
                per_variable[name] = move(arr)
    return obj
