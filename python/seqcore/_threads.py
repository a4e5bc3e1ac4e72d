"""Thread count of the native kernels (OpenMP + the GEMM library) and of numba."""

from __future__ import annotations

import os

from . import _backend


def set_num_threads(n: int) -> None:
    """Use n threads inside each kernel call (cpp's OpenMP/Eigen and numba's pool)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = min(n, os.cpu_count() or n)
    if _backend.available("cpp"):
        _backend.load("cpp").set_num_threads(n)
    if _backend.available("numba"):
        _backend.load("numba").set_num_threads(n)


def get_num_threads() -> int:
    """Threads the active backend uses inside one kernel call (1 for reference)."""
    backend = _backend.active()
    getter = getattr(backend, "get_num_threads", None)
    return getter() if getter else 1
