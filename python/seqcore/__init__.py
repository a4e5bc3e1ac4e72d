"""seqcore: fast, exact kernels and a Keras-like API for sequence models."""

from __future__ import annotations

from . import (  # noqa: E402,I001  (above autograd, below nn)
    kernels,
    losses,
    metrics,
    nn,  # noqa: E402
    optim,
)
from ._atomic import CorruptFileError
from ._backend import BACKENDS, cuda_available, get_backend, set_backend, unavailable_reason, use_backend
from ._config import floatx, set_floatx, set_seed
from ._threads import get_num_threads, set_num_threads
from .autograd import Tensor, Variable, no_grad
from .nn.device import to_device
from .nn.saving import load_model

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "CorruptFileError",
    "Tensor",
    "Variable",
    "cuda_available",
    "floatx",
    "load_model",
    "losses",
    "metrics",
    "nn",
    "no_grad",
    "optim",
    "set_floatx",
    "set_seed",
    "__version__",
    "get_backend",
    "get_num_threads",
    "kernels",
    "set_backend",
    "set_num_threads",
    "to_device",
    "unavailable_reason",
    "use_backend",
]
