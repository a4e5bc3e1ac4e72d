"""Embedded and generated data sets for demos, tests and benchmarks (nothing is downloaded)."""

from __future__ import annotations

from .dinos import DINOS_PATH, dinos_path, dinosaur_names
from .synthetic import first_marker

__all__ = ["DINOS_PATH", "dinos_path", "dinosaur_names", "first_marker"]
