"""Argument checks shared by the domain toolkits and the course's models (the kernels have their own in
``kernels/_validate.py``): one wording for the same mistake wherever it is made."""

from __future__ import annotations

from numbers import Integral
from typing import Any


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (bools refused), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def string_list(value: Any, what: str, *, allow_empty: bool = True) -> list[str]:
    """``value`` (any iterable of str, not a str itself) as a list, else a TypeError naming ``what`` and, for a
    bad item, its index; an empty one is a ValueError unless ``allow_empty``."""
    if isinstance(value, str):
        raise TypeError(f"{what} must be a list of str, got a single str (wrap it: [{value!r}])")
    try:
        out = list(value)
    except TypeError:
        raise TypeError(f"{what} must be a list of str, got {type(value).__name__}") from None
    for k, item in enumerate(out):
        if not isinstance(item, str):
            raise TypeError(f"{what}[{k}] must be a str, got {type(item).__name__}")
    if not out and not allow_empty:
        raise ValueError(f"{what} is empty: nothing to train or evaluate on")
    return out
