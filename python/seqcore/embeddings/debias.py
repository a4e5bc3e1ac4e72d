"""Debiasing word vectors (Bolukbasi et al. 2016, "Man is to Computer Programmer as Woman is to Homemaker?"),
in the form of the Sequence Models course's "Operations on word vectors" assignment.

Plain functions on NumPy vectors; :class:`~seqcore.embeddings.WordVectors` wraps them by word.
Arithmetic is in float64; results are float64 vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bias_direction_from_vectors", "equalize_vectors", "neutralize_vector"]


def _as_direction(g: object, dim: int) -> np.ndarray:
    arr = np.asarray(g, dtype=np.float64)
    if arr.shape != (dim,):
        raise ValueError(f"g must be a bias direction of shape ({dim},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.any(arr):
        raise ValueError("g must be a finite, non-zero bias direction")
    return arr


def bias_direction_from_vectors(pairs: np.ndarray) -> np.ndarray:
    """The bias direction of ``pairs`` [P, 2, E] (each pair's vectors e_a, e_b).

    One pair: ``e_b - e_a`` unnormalised (the course's ``g = e_woman - e_man``).  Several pairs: the first principal
    component (unit length) of the pair-centred vectors ``e_a - mu, e_b - mu`` (mu the pair's mean), as in
    Bolukbasi et al.; its sign is chosen so that it points from the a-words to the b-words on average.
    """
    pairs = np.asarray(pairs, dtype=np.float64)
    diffs = pairs[:, 1] - pairs[:, 0]
    if len(pairs) == 1:
        return diffs[0]
    centred = (pairs - pairs.mean(axis=1, keepdims=True)).reshape(-1, pairs.shape[-1])  # rows ±(e_b - e_a)/2
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pc = vt[0]
    if float(diffs.sum(axis=0) @ pc) < 0:
        pc = -pc
    return pc


def neutralize_vector(e: np.ndarray, g: object) -> np.ndarray:
    """``e - (e.g / ||g||^2) g``: e without its component along g (so e is orthogonal to g)."""
    e = np.asarray(e, dtype=np.float64)
    g = _as_direction(g, e.shape[-1])
    return e - (e @ g) / (g @ g) * g


def equalize_vectors(e1: np.ndarray, e2: np.ndarray, g: object) -> tuple[np.ndarray, np.ndarray]:
    """The course's equalize step for one pair (e.g. actress/actor): afterwards both vectors share the part
    orthogonal to g (``mu_orth``), their projections on g are equal and opposite, and their norms are equal.

    mu = (e1 + e2)/2, mu_B = (mu.g/||g||^2) g, mu_orth = mu - mu_B, e_iB = (e_i.g/||g||^2) g,
    e_iB' = sqrt(|1 - ||mu_orth||^2|) (e_iB - mu_B) / ||e_i - mu_orth - mu_B||, and e_i' = e_iB' + mu_orth.
    """
    e1 = np.asarray(e1, dtype=np.float64)
    e2 = np.asarray(e2, dtype=np.float64)
    g = _as_direction(g, e1.shape[-1])
    gg = g @ g
    mu = (e1 + e2) / 2
    mu_b = (mu @ g) / gg * g
    mu_orth = mu - mu_b
    e1_b = (e1 @ g) / gg * g
    e2_b = (e2 @ g) / gg * g
    scale = np.sqrt(np.abs(1.0 - mu_orth @ mu_orth))
    d1 = np.linalg.norm(e1 - mu_orth - mu_b)
    d2 = np.linalg.norm(e2 - mu_orth - mu_b)
    if d1 == 0 or d2 == 0:
        raise ValueError("equalize: the two words of the pair have identical vectors; nothing to equalize")
    return scale * (e1_b - mu_b) / d1 + mu_orth, scale * (e2_b - mu_b) / d2 + mu_orth
