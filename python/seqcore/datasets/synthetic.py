"""Generated sequence tasks with a known answer."""

from __future__ import annotations

import numpy as np


def first_marker(
    n: int = 2000, length: int = 20, vocab: int = 50, classes: int = 3, padded: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences whose class is the marker token placed somewhere in their first half.

    Ids ``1..classes`` are the markers (class k is marked by id k + 1), the other tokens are
    drawn from ``classes+1 .. vocab-1``; 0 is padding.  With ``padded`` each row gets a random
    true length (at least ``length // 2 + 1``) followed by zeros (post-padding).  A model must
    carry the marker across the rest of the sequence to answer.  Returns (x [n, length] int64,
    y [n] int64).
    """
    for name, value in (("n", n), ("length", length), ("classes", classes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"first_marker: {name} must be a positive int, got {value!r}")
    if length < 2:
        raise ValueError(f"first_marker: length must be at least 2, got {length}")
    if vocab <= classes + 1:
        raise ValueError(f"first_marker: vocab must exceed classes + 1 = {classes + 1}, got {vocab}")
    rng = np.random.default_rng(seed)
    x = rng.integers(classes + 1, vocab, size=(n, length))
    y = rng.integers(0, classes, size=n)
    half = max(1, length // 2)
    x[np.arange(n), rng.integers(0, half, size=n)] = y + 1
    if padded:
        lengths = rng.integers(half + 1, length + 1, size=n)
        x[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return x.astype(np.int64), y.astype(np.int64)
