"""Character <-> index maps for character-level sequence models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["CharVocab"]

_ALPHABET_PREVIEW = 60


def _preview(chars: list[str]) -> str:
    """The alphabet as a repr'd string, cut short so error messages stay readable."""
    joined = "".join(chars)
    if len(joined) <= _ALPHABET_PREVIEW:
        return repr(joined)
    return f"{joined[:_ALPHABET_PREVIEW]!r}... ({len(joined)} characters)"


class CharVocab:
    """A fixed character alphabet with contiguous integer ids, as in the course's Dinosaur Island.

    Ids follow the sorted order of the characters, so the same set of characters always gives the
    same ids (a model trained on one machine decodes on another).  ``eos`` (default ``"\\n"``)
    marks the end of an item and is always part of the alphabet; for the 26 lowercase letters it
    sorts first, giving ``"\\n" -> 0`` and ``"a".."z" -> 1..26`` exactly like the course's
    ``char_to_ix``.

    ``unk``, when given, is the name of an extra "unknown" symbol (``"<unk>"`` or any single
    character outside the alphabet).  It takes the last id; :meth:`encode` then maps characters
    outside the alphabet to it instead of raising, and :meth:`decode` writes it back as ``unk``.

    Attributes: ``chars`` (the alphabet in id order, ``eos`` included, ``unk`` not),
    ``char_to_ix`` (character -> id, alphabet only), ``ix_to_char`` (id -> string, including
    ``unk_id -> unk``), ``eos_id`` and ``unk_id`` (``None`` without ``unk``).
    """

    def __init__(self, chars: Iterable[str], *, eos: str = "\n", unk: str | None = None) -> None:
        if isinstance(chars, (bytes, bytearray)) or not isinstance(chars, Iterable):
            raise TypeError(f"CharVocab: chars must be an iterable of single characters, got {type(chars).__name__}")
        if not isinstance(eos, str) or len(eos) != 1:
            raise ValueError(f"CharVocab: eos must be a single character, got {eos!r}")
        alphabet = {eos}
        for i, c in enumerate(chars):
            if not isinstance(c, str):
                raise TypeError(f"CharVocab: chars must contain str characters, got {type(c).__name__} at index {i}")
            if len(c) != 1:
                raise ValueError(f"CharVocab: chars must contain single characters, got {c!r} at index {i}")
            alphabet.add(c)
        if unk is not None:
            if not isinstance(unk, str) or not unk:
                raise ValueError(f"CharVocab: unk must be None or a non-empty str (e.g. '<unk>'), got {unk!r}")
            if unk in alphabet:
                raise ValueError(
                    f"CharVocab: unk={unk!r} is also a character of the alphabet; pick a token that is not, "
                    "e.g. '<unk>'"
                )
        self._chars: list[str] = sorted(alphabet)
        self._eos = eos
        self._unk = unk
        self._char_to_ix: dict[str, int] = {c: i for i, c in enumerate(self._chars)}
        self._ix_to_char: dict[int, str] = dict(enumerate(self._chars))
        self._unk_id: int | None = None
        if unk is not None:
            self._unk_id = len(self._chars)
            self._ix_to_char[self._unk_id] = unk

    @classmethod
    def from_text(cls, text: str | Iterable[str], *, eos: str = "\n", unk: str | None = None) -> CharVocab:
        """Build the vocabulary of every character in ``text`` (plus ``eos``).

        ``text`` is one string or an iterable of items (e.g. the names from
        :func:`seqcore.text.read_items`); both give the alphabet of all characters used.
        """
        if isinstance(text, str):
            return cls(set(text), eos=eos, unk=unk)
        if isinstance(text, (bytes, bytearray)) or not isinstance(text, Iterable):
            raise TypeError(f"CharVocab.from_text: text must be a str or an iterable of str, got {type(text).__name__}")
        seen: set[str] = set()
        for i, item in enumerate(text):
            if not isinstance(item, str):
                raise TypeError(f"CharVocab.from_text: text items must be str, got {type(item).__name__} at index {i}")
            seen.update(item)
        return cls(seen, eos=eos, unk=unk)

    # -- read-only views ---------------------------------------------------------------------
    @property
    def chars(self) -> list[str]:
        """The alphabet in id order (``eos`` included, ``unk`` not); a copy, safe to modify."""
        return list(self._chars)

    @property
    def char_to_ix(self) -> dict[str, int]:
        """Character -> id for the alphabet (a copy)."""
        return dict(self._char_to_ix)

    @property
    def ix_to_char(self) -> dict[int, str]:
        """Id -> string for every id, ``unk_id -> unk`` included (a copy)."""
        return dict(self._ix_to_char)

    @property
    def eos(self) -> str:
        """The end-of-item character."""
        return self._eos

    @property
    def unk(self) -> str | None:
        """The unknown-symbol token, or ``None`` when unseen characters are an error."""
        return self._unk

    @property
    def eos_id(self) -> int:
        """Id of the end-of-item character (0 for the dinosaur alphabet)."""
        return self._char_to_ix[self._eos]

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown symbol (the last id), or ``None`` without ``unk``."""
        return self._unk_id

    @property
    def size(self) -> int:
        """Number of ids, i.e. the width of a one-hot input or a softmax output."""
        return len(self._ix_to_char)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and char in self._char_to_ix

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CharVocab):
            return NotImplemented
        return self._chars == other._chars and self._eos == other._eos and self._unk == other._unk

    def __hash__(self) -> int:
        return hash((tuple(self._chars), self._eos, self._unk))

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size}, chars={_preview(self._chars)}, eos={self._eos!r}, unk={self._unk!r})"

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        """Return the ids of the characters of ``text`` as a 1-D int64 array.

        A character outside the alphabet raises ``ValueError`` (naming it, its position and the
        alphabet) unless the vocabulary has ``unk``, in which case it becomes ``unk_id``.
        """
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode: text must be a str, got {type(text).__name__}")
        table = self._char_to_ix
        if self._unk_id is not None:
            unk_id = self._unk_id
            return np.fromiter((table.get(c, unk_id) for c in text), dtype=np.int64, count=len(text))
        try:
            return np.fromiter((table[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in table)
            raise ValueError(
                f"CharVocab.encode: character {text[pos]!r} at position {pos} is not in the vocabulary "
                f"(alphabet: {_preview(self._chars)}); build the vocabulary from this text as well, or "
                "pass unk='<unk>' to map unseen characters to an unknown id"
            ) from None

    def encode_item(self, item: str) -> np.ndarray:
        """Return the ids of ``item`` followed by ``eos_id`` -- the training-target form of one item.

        ``item`` must not itself contain ``eos``: that would end it early, which almost always means
        a raw line was passed with its newline still attached.
        """
        if not isinstance(item, str):
            raise TypeError(f"CharVocab.encode_item: item must be a str, got {type(item).__name__}")
        pos = item.find(self._eos)
        if pos >= 0:
            raise ValueError(
                f"CharVocab.encode_item: item contains the end-of-item character {self._eos!r} at position {pos}; "
                "strip it first (read_items does)"
            )
        return np.append(self.encode(item), np.int64(self.eos_id))

    def decode(self, ids: Iterable[int] | np.ndarray, *, stop_at_eos: bool = False) -> str:
        """Turn ids back into text; with ``stop_at_eos`` the text ends before the first ``eos_id``.

        Raises ``ValueError`` for an id outside ``0 .. size-1`` and ``TypeError`` for non-integers.
        """
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"CharVocab.decode: ids must be 1-D, got an array of shape {ids.shape}")
            if ids.size and not (np.issubdtype(ids.dtype, np.integer) and ids.dtype != np.bool_):
                raise TypeError(f"CharVocab.decode: ids must be integers, got an array of dtype {ids.dtype}")
            seq: list[Any] = ids.tolist()
        elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"CharVocab.decode: ids must be an iterable of int, got {type(ids).__name__}")
        else:
            seq = list(ids)
        table = self._ix_to_char
        out: list[str] = []
        stopped = False
        for pos, ix in enumerate(seq):
            if isinstance(ix, (bool, np.bool_)) or not isinstance(ix, (int, np.integer)):
                raise TypeError(f"CharVocab.decode: ids must be integers, got {ix!r} at position {pos}")
            s = table.get(int(ix))
            if s is None:
                raise ValueError(
                    f"CharVocab.decode: id {int(ix)} at position {pos} is out of range; "
                    f"valid ids are 0..{self.size - 1}"
                )
            if stop_at_eos and int(ix) == self.eos_id:
                stopped = True
            if not stopped:
                out.append(s)
        return "".join(out)

    # -- persistence -------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """A JSON-serialisable description; :meth:`from_config` rebuilds an equal vocabulary."""
        return {"chars": list(self._chars), "eos": self._eos, "unk": self._unk, "size": self.size}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CharVocab:
        """Rebuild a vocabulary from :meth:`to_config` output, checking it was not damaged.

        The ids a trained model relies on follow from ``chars``, so a config whose ``chars`` are
        not sorted and unique, lack ``eos``, or disagree with the stored ``size`` is rejected
        rather than silently giving different ids.
        """
        where = "CharVocab.from_config"
        if not isinstance(config, Mapping):
            raise TypeError(f"{where}: config must be a dict, got {type(config).__name__}")
        missing = [k for k in ("chars", "eos") if k not in config]
        if missing:
            raise ValueError(f"{where}: config is missing key(s) {missing}; expected keys chars, eos, unk, size")
        unknown = sorted(set(config) - {"chars", "eos", "unk", "size"})
        if unknown:
            raise ValueError(f"{where}: config has unexpected key(s) {unknown}; expected keys chars, eos, unk, size")
        chars, eos, unk = config["chars"], config["eos"], config.get("unk")
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError(f"{where}: config['chars'] must be a list of single-character strings, got {chars!r}")
        if not isinstance(eos, str) or len(eos) != 1:
            raise ValueError(f"{where}: config['eos'] must be a single character, got {eos!r}")
        if unk is not None and (not isinstance(unk, str) or not unk):
            raise ValueError(f"{where}: config['unk'] must be null or a non-empty string, got {unk!r}")
        if chars != sorted(set(chars)):
            raise ValueError(f"{where}: config['chars'] must be sorted and unique (the config looks damaged)")
        if eos not in chars:
            raise ValueError(f"{where}: config['chars'] does not contain eos={eos!r} (the config looks damaged)")
        vocab = cls(chars, eos=eos, unk=unk)
        size = config.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size != vocab.size):
            raise ValueError(
                f"{where}: config['size'] is {size!r} but chars/unk give {vocab.size} ids (the config looks damaged)"
            )
        return vocab
