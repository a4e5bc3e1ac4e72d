"""Embedded and generated data sets for demos, tests and benchmarks (nothing is downloaded)."""

from __future__ import annotations

from .dinos import DINOS_PATH, dinos_path, dinosaur_names
from .jazz import PROGRESSIONS, JazzSolo, jazz_solos, realize_progression, training_windows
from .synthetic import first_marker

__all__ = [
    "DINOS_PATH",
    "PROGRESSIONS",
    "JazzSolo",
    "dinos_path",
    "dinosaur_names",
    "first_marker",
    "jazz_solos",
    "realize_progression",
    "training_windows",
]
