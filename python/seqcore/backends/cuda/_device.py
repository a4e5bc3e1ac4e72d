"""What every cuda-backend module shares: CuPy, seqcore._cuda, pointers, the stream, allocation.

Outputs and workspaces are allocated here, through CuPy's memory pool, so a kernel's memory
is the caller's and is reused the way the rest of the user's CuPy code reuses it.  Kernels
are queued on CuPy's current stream (``with cupy.cuda.Stream():`` works as users expect),
and nothing here synchronizes: results are CuPy arrays that are ready when the stream is.
"""

from __future__ import annotations

from typing import Any

import cupy as cp
import numpy as np

from ... import _cuda

__all__ = ["cp", "np", "_cuda", "stream", "ptr", "dtype_name", "on_device", "ids_on_device", "empty", "zeros"]


def stream() -> int:
    """The handle of CuPy's current stream on the current device (0 is the legacy default stream)."""
    return cp.cuda.get_current_stream().ptr


def ptr(a: Any) -> int:
    """A device array's address; None (an absent optional input) is 0."""
    return 0 if a is None else a.data.ptr


def dtype_name(a: Any) -> str:
    return a.dtype.name  # 'float32' or 'float64': the validation layer admits nothing else


def on_device(a: Any, dtype: Any = None) -> Any:
    """``a`` as a C-contiguous CuPy array on the current device (host arrays are copied there)."""
    if a is None:
        return None
    return cp.ascontiguousarray(cp.asarray(a, dtype=dtype))


def ids_on_device(a: Any) -> Any:
    """Integer indices (lengths, token ids, labels) as a contiguous int64 device array."""
    if a is None:
        return None
    return cp.ascontiguousarray(cp.asarray(a, dtype=cp.int64))


def empty(shape: Any, dtype: Any) -> Any:
    return cp.empty(shape, dtype=dtype)


def zeros(shape: Any, dtype: Any) -> Any:
    return cp.zeros(shape, dtype=dtype)
