"""seqcore.interop: weights in and out of PyTorch state_dicts and Keras HDF5 files.

- ``layouts``: every gate reorder and transpose between torch and Keras (pure NumPy).
- ``load_torch_state_dict`` / ``torch_state_dict``: torch ``state_dict`` <-> a seqcore model.
- ``read_keras_weights`` / ``write_keras_weights`` / ``load_keras_weights``: Keras 2 (legacy
  ``.h5``) and Keras 3 (``.weights.h5``, ``.keras``) weight files <-> a seqcore model.

seqcore layers hold Keras's layout and order, so Keras files load without conversion.
Neither torch nor h5py is imported with this package; torch is never imported at all,
and h5py only when a Keras file is read or written.
"""

from __future__ import annotations

from . import layouts
from ._common import LayerLike, ModelLike
from .keras_h5 import keras_weight_names, load_keras_weights, read_keras_weights, write_keras_weights
from .torch import TorchTarget, load_torch_state_dict, torch_state_dict

__all__ = [
    "LayerLike",
    "ModelLike",
    "TorchTarget",
    "keras_weight_names",
    "layouts",
    "load_keras_weights",
    "load_torch_state_dict",
    "read_keras_weights",
    "torch_state_dict",
    "write_keras_weights",
]
