"""The cuda backend: seqcore._cuda's kernels on NVIDIA GPUs, driven with CuPy arrays.

It loads only where it can run: seqcore._cuda was built (a CUDA compiler and cuBLAS at build
time), CuPy imports and a device answers; otherwise importing it raises ImportError saying
which of these is missing, and seqcore runs on the CPU as before.

The hot kernels (recurrences, attention, layer norm, GELU, the softmax family and
cross-entropy, clipping, the optimizer updates, embeddings, the beam-search step, row
gathers, similarity search) run on the device.  The rest, used once per run or on text
(BLEU statistics, word2vec and GloVe training, spectrograms, Conv1D, batch norm), run on the
host through the best CPU backend: their device inputs are copied over, in-place arguments copied back, and outputs
returned on the device.  ``KERNEL_NOTES`` lists them for ``seqcore info``.

Results live where the inputs were: a call holding a CuPy array returns CuPy arrays; a call
with host arrays only (the backend chosen by name, ``seqcore.set_backend("cuda")``) copies
them to the GPU, runs there, and returns NumPy arrays, in-place updates copied back.  For
speed, keep the data on the GPU (``seqcore.to_device``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._loader import check_device, load_extension

_cuda = load_extension()
check_device(_cuda)

import cupy as cp  # noqa: E402  (after the checks that say why it can't run)

from .. import reference as _reference  # noqa: E402
from . import attention as _attention  # noqa: E402
from . import beam as _beam  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import recurrent as _recurrent  # noqa: E402

NAME = "cuda"
build_info = _cuda.build_info
device_properties = _cuda.device_properties

# Kernels whose arguments (or whose cache's or state's arrays) are updated in place.
_IN_PLACE = frozenset(
    {"sgd_update", "adam_update", "rmsprop_update", "adagrad_update", "clip_by_value", "clip_by_global_norm",
     "beam_search_step", "word2vec_sgns_train", "glove_train"}
)  # fmt: skip


def _host_backend() -> Any:
    from ... import _backend  # noqa: PLC0415  (seqcore._backend imports this package lazily too)

    for name in ("cpp", "numba", "reference"):
        if _backend.available(name):
            return _backend.load(name)
    return _reference


def _holds_device(value: Any) -> bool:
    if isinstance(value, cp.ndarray):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and _holds_device(value[0])


def _to_host(value: Any) -> Any:
    if isinstance(value, cp.ndarray):
        return cp.asnumpy(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a cache or a BeamState
        return type(value)(*(_to_host(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(v) for v in value)
    return value


def _to_device(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return cp.asarray(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_device(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v) for v in value)
    return value


def _copy_back(target: Any, source: Any) -> None:
    """Write what an in-place kernel changed in ``source`` (the copies it ran on) into the caller's ``target``."""
    if isinstance(target, cp.ndarray):
        target.set(np.ascontiguousarray(cp.asnumpy(source)))
    elif isinstance(target, np.ndarray):
        target[...] = cp.asnumpy(source)
    elif isinstance(target, (list, tuple)):
        for t, s in zip(target, source):
            _copy_back(t, s)


def _in_place_result(kernel: str, args: tuple[Any, ...], out: Any, convert: Callable[[Any], Any]) -> Any:
    if kernel.startswith("clip_by") and args[-1]:  # inplace=True: the clipped arrays are the caller's own
        grads = list(args[0])
        return grads if kernel == "clip_by_value" else (grads, out[1])
    return convert(out)


def _on_host(kernel: str) -> Callable[..., Any]:
    """A kernel with no device version: run on the host, results where the inputs were."""

    def run(*args: Any) -> Any:
        host_args = _to_host(args)
        out = getattr(_host_backend(), kernel)(*host_args)
        convert = _to_device if any(_holds_device(a) for a in args) else _to_host
        if kernel in _IN_PLACE:
            _copy_back(args, host_args)
            return _in_place_result(kernel, args, out, convert)
        return convert(out)

    run.__name__ = kernel
    run.__doc__ = f"{kernel} on the host (the {kernel} of the best CPU backend), results where the inputs were."
    return run


def _on_device(kernel: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A device kernel that also takes host arrays (the backend chosen by name): they are copied to the GPU, and
    the results, and in-place updates, come back to the host, so a call's results live where its inputs did."""

    def run(*args: Any) -> Any:
        if any(_holds_device(a) for a in args):
            return fn(*args)
        device_args = _to_device(args)
        out = fn(*device_args)
        if kernel in _IN_PLACE:
            _copy_back(args, device_args)
            return _in_place_result(kernel, args, out, _to_host)
        return _to_host(out)

    run.__name__ = kernel
    run.__doc__ = fn.__doc__
    return run


KERNEL_NOTES: dict[str, str] = {}
for _name in _reference.__all__:
    _fn = None
    for _module in (_recurrent, _attention, _ops, _beam):
        _fn = getattr(_module, _name, None)
        if _fn is not None:
            break
    if _fn is None:
        _fn = _on_host(_name)
        KERNEL_NOTES[_name] = "runs on the host (CPU backend), device arrays copied over and back"
    else:
        _fn = _on_device(_name, _fn)
    globals()[_name] = _fn
del _name, _fn, _module

__all__ = ["KERNEL_NOTES", "NAME", "build_info", "device_properties", *_reference.__all__]
