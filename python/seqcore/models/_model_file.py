"""One file format for the course's applications: a checksummed safetensors file of an nn model's weights in
order, with the application's name, format version and JSON config in its header (written atomically)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._atomic import CorruptFileError
from ..nn.saving import _read, _write


def save_model_file(
    path: Any, model: Any, *, fmt: str, version: str, config: dict[str, Any], dtype: Any, extra: dict[str, str]
) -> None:
    """Write ``model``'s weights (moving statistics included) stored as ``dtype`` with ``config`` and ``extra``
    header entries."""
    store = np.dtype(dtype)
    if store not in (np.float16, np.float32, np.float64):
        raise ValueError(f"save: dtype must be float16, float32 or float64, got {dtype!r}")
    variables = model.weights
    _write(
        path,
        {f"{k:03d}": np.asarray(v.data).astype(store) for k, v in enumerate(variables)},
        {
            "format": fmt,
            "version": version,
            **extra,
            "config": json.dumps(config),
            "names": json.dumps([v.name for v in variables]),
        },
    )


def read_model_file(path: Any, *, fmt: str, kind: str, version: str | None = None) -> tuple[dict, list[np.ndarray]]:
    """The config and float32 weights of a file written by ``save_model_file``.  A file of another format (or,
    given ``version``, another version) raises ValueError; a damaged one seqcore.CorruptFileError."""
    tensors, metadata = _read(path)
    if metadata.get("format") != fmt:
        raise ValueError(f"load: {str(path)!r} is not a seqcore {kind} file (format {metadata.get('format')!r})")
    if version is not None and metadata.get("version") != version:
        raise ValueError(f"load: {str(path)!r} has format version {metadata.get('version')!r}, not {version}")
    try:
        cfg = json.loads(metadata["config"])
        if not isinstance(cfg, dict):
            raise TypeError("its config is not a JSON object")
        names = json.loads(metadata["names"])
        weights = [np.asarray(tensors[f"{k:03d}"], dtype=np.float32) for k in range(len(names))]
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{damaged(path, kind)} ({exc})") from None
    return cfg, weights


def damaged(path: Any, kind: str) -> str:
    return f"load: {str(path)!r} holds a damaged {kind}"


def set_model_weights(model: Any, weights: list[np.ndarray], path: Any, kind: str) -> None:
    """``model.set_weights(weights)``, a mismatch reported as a damaged file."""
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise CorruptFileError(f"{damaged(path, kind)} ({exc})") from None
