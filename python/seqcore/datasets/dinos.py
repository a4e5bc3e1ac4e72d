"""Dinosaur genus names embedded with the package (the "Dinosaur Island" character-model demo).

The list ships inside the wheel so that demos, tests and the CLI work offline; nothing is
downloaded.  Every entry is a real genus from the paleontological literature, lowercase ASCII,
one per line, sorted and unique -- the same shape as the course's ``dinos.txt``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["DINOS_PATH", "dinos_path", "dinosaur_names"]

#: Location of the embedded file.  A plain path (not an importlib resource handle) because the
#: CLI and :func:`seqcore.text.read_items` take file paths.
DINOS_PATH: Path = Path(__file__).resolve().parent / "data" / "dinos.txt"


def dinos_path() -> Path:
    """Return the path of the embedded ``dinos.txt`` (one lowercase genus name per line).

    A function as well as :data:`DINOS_PATH` so callers get a clear error, rather than a confusing
    one later, if the data file was stripped from an installation.
    """
    if not DINOS_PATH.is_file():
        raise FileNotFoundError(f"dinos_path: the embedded data file {str(DINOS_PATH)!r} is missing; reinstall seqcore")
    return DINOS_PATH


@lru_cache(maxsize=1)
def _load() -> tuple[str, ...]:
    # Cached as an immutable tuple: the file never changes at run time and callers get fresh lists.
    text = dinos_path().read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def dinosaur_names() -> list[str]:
    """Return the embedded dinosaur genus names (lowercase, sorted, unique).

    The file is read once and cached; each call returns a new list, so callers may shuffle or
    modify it without affecting later calls.
    """
    return list(_load())
