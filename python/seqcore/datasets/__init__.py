"""Embedded and generated data sets for demos, tests and benchmarks (nothing is downloaded)."""

from __future__ import annotations

from .synthetic import first_marker

__all__ = ["first_marker"]
