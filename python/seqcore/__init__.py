"""seqcore: fast, exact kernels and a Keras-like API for sequence models."""

from __future__ import annotations

from . import kernels
from ._backend import BACKENDS, get_backend, set_backend, use_backend
from ._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "__version__",
    "get_backend",
    "get_num_threads",
    "kernels",
    "set_backend",
    "set_num_threads",
    "use_backend",
]
