"""Reading text data sets stored as one item (a name, a line of a poem, ...) per line."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_items"]


def read_items(path: str | os.PathLike[str]) -> list[str]:
    """Read a UTF-8 text file holding one item per line and return the non-empty items in order.

    Line ends are normalised (``\\r\\n`` files written on Windows give the same items as ``\\n``
    files) and trailing whitespace is stripped, because an invisible trailing space or ``\\r``
    would otherwise become a character of the vocabulary.  Leading whitespace and letter case
    are kept as written.  Blank lines are dropped.  A UTF-8 byte-order mark is ignored.

    Raises ``TypeError`` for a ``path`` that is not a str or path-like, ``FileNotFoundError`` for a
    missing file, ``IsADirectoryError`` for a directory, ``ValueError`` for content that is not
    UTF-8 text (naming the byte offset) and ``ValueError`` when the file has no non-empty lines.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_items: path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"read_items: no such file: {str(p)!r}")
    if p.is_dir():
        raise IsADirectoryError(f"read_items: {str(p)!r} is a directory, expected a text file with one item per line")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 1].hex()
        raise ValueError(
            f"read_items: {str(p)!r} is not UTF-8 text: invalid byte 0x{bad} at byte offset {e.start}"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        offset = len(text[:nul].encode("utf-8"))
        raise ValueError(f"read_items: {str(p)!r} looks binary, not text: NUL byte at byte offset {offset}")
    if text.startswith("\ufeff"):
        text = text[1:]
    items = [line.rstrip() for line in text.split("\n")]
    items = [item for item in items if item]
    if not items:
        raise ValueError(f"read_items: {str(p)!r} has no non-empty lines")
    return items
