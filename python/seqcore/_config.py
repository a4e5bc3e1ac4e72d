"""Process-wide engine settings: the default float type and the random generator.

``set_seed(n)`` reseeds the one generator that weight initialisers, dropout masks and
``fit``'s shuffling draw from, so the same seed gives the same weights and the same
training curve (as long as the same calls happen in the same order).
"""

from __future__ import annotations

import numpy as np

_FLOATX = {"float32": np.float32, "float64": np.float64}
_floatx = "float32"
_rng = np.random.default_rng()


def floatx() -> str:
    """The default float type of new layers' weights and inputs ("float32" unless changed)."""
    return _floatx


def set_floatx(value: str) -> None:
    """Set the default float type of layers created from now on: "float32" or "float64"."""
    global _floatx
    if value not in _FLOATX:
        raise ValueError(f"floatx: expected 'float32' or 'float64', got {value!r}")
    _floatx = value


def resolve_dtype(dtype: object = None) -> np.dtype:
    """A float dtype from None (floatx), a name or a NumPy type; anything else is an error."""
    if dtype is None:
        return np.dtype(_FLOATX[_floatx])
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        dt = None
    if dt is None or dt.name not in _FLOATX:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    return dt


def set_seed(seed: int) -> None:
    """Seed seqcore's generator (initialisers, dropout, shuffling) and NumPy's legacy one."""
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    np.random.seed(int(seed) % 2**32)


def rng() -> np.random.Generator:
    """The generator every random choice in seqcore draws from."""
    return _rng
