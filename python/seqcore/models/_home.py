"""Where the fine-tuned application models live: ``$SEQCORE_HOME/models/<app>-minilm`` (SEQCORE_HOME defaults to
``~/.seqcore``).  Read at every call, so a changed environment variable (a test's temporary home) takes effect."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_model_dir", "saved_model_dir", "seqcore_home"]

#: the encoder the applications fine-tune by default; its name is part of the folder so another encoder's
#: model would not overwrite this one
ENCODER_TAG = "minilm"


def seqcore_home() -> Path:
    """``$SEQCORE_HOME``, or ``~/.seqcore`` when it is unset or empty."""
    home = os.environ.get("SEQCORE_HOME", "")
    return Path(home).expanduser() if home else Path.home() / ".seqcore"


def default_model_dir(app: str) -> Path:
    """The folder of application ``app``'s fine-tuned model, e.g. ``default_model_dir("ner")`` ->
    ``$SEQCORE_HOME/models/ner-minilm`` (not created here)."""
    if not isinstance(app, str) or not app or not app.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"app: expected a short name such as 'ner' or 'qa', got {app!r}")
    return seqcore_home() / "models" / f"{app}-{ENCODER_TAG}"


def saved_model_dir(app: str, path: str | os.PathLike[str] | None) -> Path:
    """The folder holding ``app``'s saved model (``path``, default ``default_model_dir(app)``); a folder without one
    is a FileNotFoundError saying how to make it."""
    folder = default_model_dir(app) if path is None else Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"no {app.upper()} model in {str(folder)!r}: train one first with `seqcore {app} train"
            + ("" if path is None else f" --out {str(folder)!r}")
            + "`"
        )
    return folder
