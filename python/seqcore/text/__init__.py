"""Text helpers for character-level models: a character vocabulary and a one-item-per-line reader.

These are the pieces the course's "Dinosaur Island" exercise builds by hand (``char_to_ix`` /
``ix_to_char`` and reading ``dinos.txt``), made reusable and strict about bad input so that a
typo in a data file fails loudly instead of silently training on the wrong alphabet.
"""

from __future__ import annotations

from .io import read_items
from .vocab import CharVocab

__all__ = ["CharVocab", "read_items"]
