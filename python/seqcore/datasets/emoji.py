"""Short English sentences labelled with one of five emoji (the course's week-2 "Emojifier").

Two hand-written files ship inside the package, so the demo, the tests and the CLI work offline:
``data/emoji_train.csv`` (313 sentences) and ``data/emoji_test.csv`` (110).  Each line is
``sentence,label`` after a ``sentence,label`` header; sentences are lowercase, 3 to 10 words, no
punctuation, every word in the GloVe 6B vocabulary, and no sentence appears in both files.  The
labels follow the course's order (id, name, emoji, meaning):

- 0 ``heart`` ❤️ (``:red_heart:``): love, affection
- 1 ``baseball`` ⚾ (``:baseball:``): sports
- 2 ``smile`` 😃 (``:grinning_face_with_big_eyes:``): happy, funny, joy
- 3 ``disappointed`` 😞 (``:disappointed_face:``): sad, upset
- 4 ``fork_and_knife`` 🍴 (``:fork_and_knife:``): food, eating
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["EMOJI_ALIASES", "EMOJI_LABELS", "emoji_data_path", "emoji_sentences", "label_to_emoji"]

#: The five classes, in the course's order (index = label id).
EMOJI_LABELS: tuple[str, ...] = ("heart", "baseball", "smile", "disappointed", "fork_and_knife")

#: The ``emoji`` package's (CLDR) short code of each class, in label order.
EMOJI_ALIASES: tuple[str, ...] = (
    ":red_heart:",
    ":baseball:",
    ":grinning_face_with_big_eyes:",
    ":disappointed_face:",
    ":fork_and_knife:",
)

_DATA = Path(__file__).resolve().parent / "data"
_SPLITS = ("train", "test")


def emoji_data_path(split: str = "train") -> Path:
    """Path of the embedded ``emoji_{split}.csv`` (``split`` is "train" or "test")."""
    if split not in _SPLITS:
        raise ValueError(f"emoji_data_path: split must be 'train' or 'test', got {split!r}")
    path = _DATA / f"emoji_{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"emoji_data_path: the embedded data file {str(path)!r} is missing; reinstall seqcore")
    return path


@lru_cache(maxsize=2)
def _load(split: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    path = emoji_data_path(split)
    sentences: list[str] = []
    labels: list[int] = []
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header != ["sentence", "label"]:
            raise ValueError(f"{str(path)!r}: expected the header 'sentence,label', got {header!r}")
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != 2 or not row[1].strip().isdigit() or int(row[1]) >= len(EMOJI_LABELS):
                raise ValueError(f"{str(path)!r} line {line}: expected 'sentence,label' with label 0-4, got {row!r}")
            sentences.append(row[0].strip())
            labels.append(int(row[1]))
    return tuple(sentences), tuple(labels)


def emoji_sentences(split: str = "train") -> tuple[list[str], np.ndarray]:
    """The embedded sentences of ``split`` ("train": 313, "test": 110) and their labels (int64, 0-4).

    Each call returns a new list and array, so callers may shuffle or modify them freely.
    """
    if split not in _SPLITS:
        raise ValueError(f"emoji_sentences: split must be 'train' or 'test', got {split!r}")
    sentences, labels = _load(split)
    return list(sentences), np.array(labels, dtype=np.int64)


def label_to_emoji(label: int | str) -> str:
    """The emoji of a label id (0-4) or name (``"heart"``...), e.g. ``label_to_emoji(4) == "🍴"``."""
    import emoji  # noqa: PLC0415  (a core dependency; imported late to keep ``import seqcore`` fast)

    if isinstance(label, str):
        if label not in EMOJI_LABELS:
            raise ValueError(
                f"label_to_emoji: unknown label name {label!r} (expected one of {', '.join(EMOJI_LABELS)})"
            )
        index = EMOJI_LABELS.index(label)
    elif isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < len(EMOJI_LABELS):
        index = int(label)
    else:
        raise ValueError(f"label_to_emoji: label must be an int in [0, {len(EMOJI_LABELS)}) or a name, got {label!r}")
    return emoji.emojize(EMOJI_ALIASES[index])
