"""Argument checks shared by every kernel, done once at the public boundary.

Policy (documented in docs/kernels.md):
- arrays may be any array-like; non-contiguous or misaligned arrays are copied
  to C-contiguous ones (never refused);
- floats must be float32 or float64, every float argument of one call must
  share the dtype of the first (no silent up/down-casting);
- shapes are checked against the sizes the first argument defines, and the
  error names the argument, the expected and the given shape;
- NaN and Inf propagate as IEEE arithmetic says; they are not errors;
- CuPy arrays (device arrays) pass through as they are, with the same checks, and
  stay on their device; the kernels layer sends any call holding one to the cuda
  backend.  Nothing here imports CuPy: a device array is known by its type's module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
INT64_MAX = 2**63 - 1  # sizes, strides and steps are int64 in the native kernels


def is_device_array(value: Any) -> bool:
    """Whether ``value`` is a CuPy array."""
    kind = type(value)
    return kind is not np.ndarray and kind.__module__.startswith("cupy")


def is_device(value: Any) -> bool:
    """Whether ``value`` is a CuPy array, or a tuple/list whose first item is one (a cache, a list of grads)."""
    if is_device_array(value):
        return True
    if isinstance(value, (tuple, list)) and value:
        return is_device(value[0])
    return False


def xp_of(value: Any) -> Any:
    """The array module of ``value``: cupy for a device array, else numpy."""
    if is_device(value):
        import cupy  # noqa: PLC0415  (only ever reached with a CuPy array in hand)

        return cupy
    return np


def as_array(value: Any) -> Any:
    """``value`` as an array without leaving its device: a CuPy array stays one, anything else goes to NumPy."""
    if isinstance(value, np.ndarray) or is_device_array(value):
        return value
    return np.asarray(value)


def as_float_array(name: str, value: Any, dtype: np.dtype | None = None, ndim: int | None = None) -> np.ndarray:
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    arr = as_array(value)
    if arr.dtype.kind == "f" and not arr.dtype.isnative:  # big-endian data: same values, native order
        arr = arr.astype(arr.dtype.type)
    if arr.dtype not in FLOATS:
        if dtype is None:
            raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of the first argument), got {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of the first argument), got {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    return native(arr)


def native(arr: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A C-contiguous, aligned, native-byte-order array (a copy only when needed; 0-d stays 0-d)."""
    flags = arr.flags
    if is_device_array(arr):  # CuPy: always aligned and native
        arr = arr if dtype is None or arr.dtype == dtype else arr.astype(dtype)
        return arr if flags.c_contiguous else arr.copy(order="C")
    if flags.c_contiguous and flags.aligned and arr.dtype.isnative and (dtype is None or arr.dtype == dtype):
        return arr  # the common case, answered without np.require's ~4 us of bookkeeping per argument
    return np.require(arr, dtype=dtype, requirements=["C", "A"])


def check_shape(name: str, arr: np.ndarray, expected: tuple[int, ...], letters: str) -> None:
    if arr.shape != expected:
        raise ValueError(f"{name} must have shape {letters} = {expected}, got {arr.shape}")


def as_lengths(lengths: Any, B: int, T: int) -> np.ndarray | None:
    if lengths is None:
        return None
    arr = as_array(lengths)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths must be an integer array of shape (B,) = ({B},), got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"lengths must have shape (B,) = ({B},), got {arr.shape}")
    if B and (arr.min() < 0 or arr.max() > T):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(f"lengths must lie in [0, T] = [0, {T}], got {bad}")
    return native(arr, np.int64)


def as_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def optional_grad(name: str, value: Any, dtype: np.dtype, shape: tuple[int, ...], letters: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = as_float_array(name, value, dtype)
    check_shape(name, arr, shape, letters)
    return arr


def as_inplace_array(name: str, value: Any, dtype: np.dtype | None = None, shape: tuple[int, ...] | None = None):
    """An array the kernel updates in place: used as given, so it must already be a C-contiguous, aligned,
    writeable float32/float64 ndarray (a converted copy would take the update and be thrown away)."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    device = is_device_array(value)
    if not (isinstance(value, np.ndarray) or device):
        raise TypeError(f"{name} must be a NumPy or CuPy array (it is updated in place), got {type(value).__name__}")
    if value.dtype not in FLOATS:
        wanted = "float32 or float64" if dtype is None else f"{dtype} (the dtype of the first argument)"
        raise TypeError(f"{name} must have dtype {wanted}, got {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of the first argument), got {value.dtype}")
    if shape is not None:
        check_shape(name, value, shape, "param.shape")
    if not (value.flags.c_contiguous and (device or value.flags.aligned)):
        raise ValueError(f"{name} must be C-contiguous and aligned (it is updated in place), got a strided view")
    if not device and not value.flags.writeable:
        raise ValueError(f"{name} is read-only, but it is updated in place")
    return value


def check_disjoint(arrays: dict[str, np.ndarray | None]) -> None:
    """No two of the arrays may share memory (an update would read what another just wrote)."""
    items = [(n, a, a.base is None) for n, a in arrays.items() if a is not None and a.size]
    if any(is_device_array(a) for _, a, _ in items):
        _check_disjoint_device(items)
        return
    for k, (name, a, owner) in enumerate(items):
        for first, b, b_owner in items[:k]:
            # Two arrays that each own their memory share none unless they are one array: the bounds
            # test (~0.4 us a pair) is left for views, which is what hot loops of many arrays need.
            if a is b or (not (owner and b_owner) and np.may_share_memory(a, b)):
                raise ValueError(f"{name} must not share memory with {first}")


def _check_disjoint_device(items: list[tuple[str, Any, bool]]) -> None:
    """Device arrays are contiguous here, so each occupies [ptr, ptr + nbytes); host arrays share nothing with them."""
    spans = [(n, a.data.ptr, a.data.ptr + a.nbytes) for n, a, _ in items if is_device_array(a)]
    for k, (name, lo, hi) in enumerate(spans):
        for first, lo2, hi2 in spans[:k]:
            if lo < hi2 and lo2 < hi:
                raise ValueError(f"{name} must not share memory with {first}")


def as_real(name: str, value: Any, low: float | None = None, high: float | None = None, *, open_high=False) -> float:
    """A real number (Python or NumPy int/float, not bool, not NaN) within [low, high] (or [low, high))."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if value != value:  # NaN; np.isnan on a Python float costs a ufunc call
        raise ValueError(f"{name} must not be NaN")
    bad_low = low is not None and value < low
    bad_high = high is not None and (value >= high if open_high else value > high)
    if bad_low or bad_high:
        if high is None:
            raise ValueError(f"{name} must be >= {low}, got {value}")
        right = ")" if open_high else "]"
        raise ValueError(f"{name} must lie in [{low}, {high}{right}, got {value}")
    return value


def as_int(name: str, value: Any, low: int | None = None) -> int:
    """A Python or NumPy integer (not bool) >= low that fits in int64 (sizes and steps are int64 natively)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError(f"{name} must fit in int64 (at most 2**63 - 1), got {value}")
    return value


def as_int_range(name: str, value: Any, low: int, high: int) -> int:
    """A Python or NumPy integer (not bool) in [low, high] (seeds: 0 .. 2**64 - 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return value


def check_output_size(what: str, shape: tuple[int, ...], dtype: Any) -> None:
    """An output whose size comes from scalar arguments (padding, num_embeddings) must be addressable:
    its nonzero sizes times the item size fit in int64, as NumPy requires of any array, empty or not."""
    nbytes = np.dtype(dtype).itemsize
    for n in shape:
        nbytes *= max(n, 1)
    if nbytes > INT64_MAX:
        raise ValueError(f"{what} of shape {shape} would not fit in memory addresses (its sizes are too large)")


def as_ids(name: str, value: Any, V: int, letter: str = "V") -> np.ndarray:
    """Integer ids of any shape, each in [0, V), as native int64."""
    if value is None:
        raise TypeError(f"{name} must be an integer array, got None")
    arr = as_array(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= V):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(f"{name} must lie in [0, {letter}) = [0, {V}), got {bad}")
    return native(arr, np.int64)


def as_text_bytes(name: str, value: Any) -> np.ndarray:
    """UTF-8 text as a 1-D native uint8 array: bytes, bytearray or memoryview (no copy), or an integer array
    of byte values in [0, 255]."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be UTF-8 bytes or a uint8 array (encode the str first), got str")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, np.uint8) if len(value) else np.zeros(0, np.uint8)
    if value is None:
        raise TypeError(f"{name} must be UTF-8 bytes or a uint8 array, got None")
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be UTF-8 bytes or a uint8 array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must have 1 dimension (the texts back to back), got shape {arr.shape}")
    if arr.dtype != np.uint8 and arr.size and (arr.min() < 0 or arr.max() > 255):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(f"{name} must hold byte values in [0, 255], got {bad}")
    return native(arr, np.uint8)


def as_offsets(name: str, value: Any, total: int, what: str) -> np.ndarray:
    """Offsets [K+1] of K consecutive pieces: integers rising from 0 to ``total`` (``what`` names it), as int64."""
    if value is None:
        raise TypeError(f"{name} must be an integer array, got None")
    off = np.asarray(value)
    if off.dtype == np.bool_ or not np.issubdtype(off.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, got dtype {off.dtype}")
    if off.ndim != 1 or off.size < 1:
        raise ValueError(f"{name} must have shape (K+1,) with K >= 0, got {off.shape}")
    if off.dtype.kind == "u" and off.max() > INT64_MAX:
        raise ValueError(f"{name} must rise from 0 to {what} = {total}, got {int(off.max())}")
    off = native(off, np.int64)
    decreasing = off.size > 1 and bool(np.any(off[1:] < off[:-1]))
    if off[0] != 0 or off[-1] != total or decreasing:
        trend = " (decreasing)" if decreasing else ""
        raise ValueError(f"{name} must rise from 0 to {what} = {total}, got {off[0]} .. {off[-1]}{trend}")
    return off
