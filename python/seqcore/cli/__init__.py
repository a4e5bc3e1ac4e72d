"""The ``seqcore`` command line: ``seqcore bench`` and ``seqcore info`` (one module per subcommand)."""

from __future__ import annotations

from .main import build_parser, main

__all__ = ["build_parser", "main"]
