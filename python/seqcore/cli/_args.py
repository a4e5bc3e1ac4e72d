"""Argument types and checks shared by the subcommands: one wording for every usage error."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..bench import BenchError as UsageError

N = TypeVar("N", int, float)


def number(convert: Callable[[str], N], what: str, ok: Callable[[N], bool]) -> Callable[[str], N]:
    """An argparse ``type=``: ``convert`` the text, then require ``ok(value)``; both failures say ``what``."""

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = number(int, "a positive integer", lambda v: v >= 1)
positive_float = number(float, "a positive number", lambda v: 0.0 < v < math.inf)
non_negative_float = number(float, "a number >= 0", lambda v: 0.0 <= v < math.inf)
fraction = number(float, "a fraction in [0, 1)", lambda v: 0.0 <= v < 1.0)


def positive_int_list(text: str) -> list[int]:
    """``"128"`` or ``"128,64"``: positive integers separated by commas."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def check_output_path(path: str, option: str) -> None:
    """A usage error now, not a lost result later, when ``path`` cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a folder; give a file name")
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path!r}: folder {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"{option} {path!r}: folder {directory!r} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path!r}: the existing file is read-only")


def require_matplotlib(drawing: str) -> Any:
    """matplotlib.pyplot on the Agg backend, or a UsageError saying what needs it and which extra installs it.

    drawing: what the command was going to draw, e.g. "the attention map"."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(f'drawing {drawing} needs matplotlib: pip install "seqcore[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
