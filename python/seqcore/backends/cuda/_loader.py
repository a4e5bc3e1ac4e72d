"""Import seqcore._cuda and CuPy, or say in one sentence why the cuda backend can't run here.

Nothing in this module touches the GPU beyond asking how many devices there are, so a
machine without one learns why in microseconds and CI stays as it was.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType


def _preload_cublas() -> bool:
    """Load libcublas from the pip package that CuPy and PyTorch use (nvidia-cublas) when the system has none.

    _cuda names libcublas.so.N as a needed library; the loader finds it by that name once a library of
    that name is in the process, wherever it came from.
    """
    for package in ("nvidia.cu13", "nvidia.cublas", "nvidia.cu12"):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for root in spec.submodule_search_locations or [] if spec else []:
            for lib in sorted(Path(root, "lib").glob("libcublas.so.*")):
                if "Lt" in lib.name:
                    continue
                try:
                    for lt in sorted(Path(root, "lib").glob("libcublasLt.so.*")):
                        ctypes.CDLL(str(lt), mode=ctypes.RTLD_GLOBAL)
                    ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    continue
                return True
    return False


def load_extension() -> ModuleType:
    """seqcore._cuda, or ImportError saying what is missing."""
    if importlib.util.find_spec("seqcore._cuda") is None:
        raise ImportError(
            "seqcore was built without the CUDA backend (no CUDA compiler or cuBLAS at build time; "
            "see docs/cuda.md to build it)"
        )
    try:
        return importlib.import_module("seqcore._cuda")
    except ImportError as exc:
        if "cublas" not in str(exc) or not _preload_cublas():
            raise ImportError(f"seqcore._cuda is built but does not load: {exc}") from exc
    return importlib.import_module("seqcore._cuda")


def check_device(extension: ModuleType) -> None:
    """ImportError unless CuPy imports and at least one CUDA device answers."""
    count, why = extension.device_count()
    if count == 0:
        raise ImportError(f"no CUDA device is usable ({why or 'the runtime reports none'})")
    try:
        import cupy  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ImportError(f"the cuda backend needs CuPy (pip install cupy-cuda13x or cupy-cuda12x): {exc}") from exc
