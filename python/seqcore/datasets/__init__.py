"""Embedded and generated data sets for demos, tests and benchmarks (nothing is downloaded)."""

from __future__ import annotations

from . import dates
from .conll import NERExample, iob1_to_iob2, read_conll, validate_tags, write_conll
from .dates import date_pairs, date_splits
from .dinos import DINOS_PATH, dinos_path, dinosaur_names
from .emoji import EMOJI_ALIASES, EMOJI_LABELS, emoji_data_path, emoji_sentences, label_to_emoji
from .jazz import PROGRESSIONS, JazzSolo, jazz_solos, realize_progression, training_windows
from .ner import NER_LABELS, ner_sentences
from .qa import qa_examples
from .squad import Answer, QAExample, read_squad, write_squad
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
    "Answer",
    "NER_LABELS",
    "NERExample",
    "QAExample",
    "iob1_to_iob2",
    "ner_sentences",
    "qa_examples",
    "read_conll",
    "read_squad",
    "validate_tags",
    "write_conll",
    "write_squad",
]
