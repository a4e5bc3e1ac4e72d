"""Embedded and generated data sets for demos, tests and benchmarks (nothing is downloaded)."""

from __future__ import annotations

from . import dates
from .dates import date_pairs, date_splits
from .dinos import DINOS_PATH, dinos_path, dinosaur_names
from .emoji import EMOJI_ALIASES, EMOJI_LABELS, emoji_data_path, emoji_sentences, label_to_emoji
from .jazz import PROGRESSIONS, JazzSolo, jazz_solos, realize_progression, training_windows
from .synthetic import first_marker

__all__ = [
    "DINOS_PATH",
    "dates",
    "date_pairs",
    "date_splits",
    "EMOJI_ALIASES",
    "EMOJI_LABELS",
    "emoji_data_path",
    "emoji_sentences",
    "label_to_emoji",
    "PROGRESSIONS",
    "JazzSolo",
    "dinos_path",
    "dinosaur_names",
    "first_marker",
    "jazz_solos",
    "realize_progression",
    "training_windows",
]
