"""WordPiece tokenisation of a Hugging Face ``tokenizer.json`` (through the ``tokenizers`` package), as batches.

``BertTokenizer.from_dir(path)`` reads the file; ``__call__`` turns sentences (or question/context pairs, or
pre-split words) into padded NumPy batches with the attention mask, token types, character offsets, word ids and,
for long pairs, overlapping windows (``stride``) — what the heads need to map tokens back to the text.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_path, atomic_write_text

#: files beside tokenizer.json that Hugging Face tokenizers also read; copied when a model is saved
_COMPANION_FILES = ("tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@dataclasses.dataclass
class Batch:
    """One padded batch.  input_ids / token_type_ids / attention_mask: [N, L] int64 (mask 1 = real token);
    offsets[i][t] = (start, end) characters of token t in its text (special tokens (0, 0)); word_ids[i][t]: the
    index of the word a token came from (None for special tokens and padding); sequence_ids[i][t]: 0 first text,
    1 second text, None special/padding; sample[i]: which input the row came from (windows of one long input
    share it)."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    offsets: list[list[tuple[int, int]]]
    word_ids: list[list[int | None]]
    sequence_ids: list[list[int | None]]
    sample: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def _texts(name: str, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name}: expected a list of strings, got {type(value).__name__}")
    return list(value)


class BertTokenizer:
    """A ``tokenizers.Tokenizer`` (WordPiece, BERT's template) with batch helpers."""

    def __init__(self, tokenizer: Any, source_dir: str | os.PathLike[str] | None = None) -> None:
        self._tok = tokenizer
        # truncation is a setting of the shared Rust tokenizer, and encode_batch releases the GIL: calls from two
        # threads must not see each other's max_length / stride
        self._lock = threading.Lock()
        self._tok.no_padding()  # the file may fix both (all-MiniLM-L6-v2's pads every text to 128)
        self._tok.no_truncation()
        self.source_dir = None if source_dir is None else Path(source_dir)
        self.pad_id = self._special("[PAD]")
        self.cls_id = self._special("[CLS]")
        self.sep_id = self._special("[SEP]")
        self.unk_id = self._special("[UNK]")

    def _special(self, token: str) -> int:
        idx = self._tok.token_to_id(token)
        if idx is None:
            raise ValueError(f"tokenizer.json: the vocabulary has no {token} token (expected a BERT WordPiece one)")
        return int(idx)

    @classmethod
    def from_dir(cls, path: str | os.PathLike[str]) -> BertTokenizer:
        from tokenizers import Tokenizer  # noqa: PLC0415  (an optional-weight import; only models need it)

        file = Path(path) / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"tokenizer: {file} does not exist (a Hugging Face 'fast' tokenizer file)")
        try:
            tok = Tokenizer.from_file(str(file))
        except Exception as e:  # the Rust side raises a generic Exception for a malformed file
            raise ValueError(f"tokenizer: {file} could not be read: {e}") from None
        return cls(tok, source_dir=path)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of one text, without [CLS]/[SEP]."""
        with self._lock:
            return list(self._tok.encode(text, add_special_tokens=False).tokens)

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self._tok.id_to_token(int(i)) or "[UNK]" for i in ids]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str:
        return str(self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens))

    def __call__(
        self,
        texts: Sequence[Any],
        pairs: Sequence[str] | None = None,
        *,
        max_length: int = 512,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to: int | None = None,
    ) -> Batch:
        """Encode ``texts`` (strings, or lists of words with ``is_split_into_words``), optionally paired with
        ``pairs`` (the second segment: question/context order is the caller's).

        Single texts are truncated to ``max_length`` tokens.  Pairs truncate only the SECOND text and, when it is
        too long, give several rows (windows) overlapping by ``stride`` tokens, all with the same ``sample``.
        Rows are padded to the longest (or to ``pad_to``).
        """
        texts = _texts("texts", texts)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 4:
            raise ValueError(f"max_length: expected an int >= 4, got {max_length!r}")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
            raise ValueError(f"stride: expected an int >= 0, got {stride!r}")
        if pad_to is not None and (isinstance(pad_to, bool) or not isinstance(pad_to, int) or pad_to < 0):
            raise ValueError(f"pad_to: expected None or an int >= 0, got {pad_to!r}")
        if is_split_into_words and pairs is not None:
            raise ValueError("is_split_into_words: pairs of pre-split texts are not supported (pass strings)")
        for i, t in enumerate(texts):
            if is_split_into_words:
                if isinstance(t, str) or not isinstance(t, Sequence) or not all(isinstance(w, str) for w in t):
                    raise TypeError(f"texts[{i}]: expected a list of words (strings), got {t!r:.60}")
            elif not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected a string, got {type(t).__name__}")
        encodings: list[Any] = []
        sample: list[int] = []
        tok = self._tok
        if pairs is None:
            with self._lock:
                tok.enable_truncation(max_length)
                try:
                    inputs = [list(t) for t in texts] if is_split_into_words else texts
                    encoded = tok.encode_batch(inputs, is_pretokenized=is_split_into_words)
                finally:
                    tok.no_truncation()
            encodings = list(encoded)
            sample = list(range(len(texts)))
        else:
            pairs = _texts("pairs", pairs)
            if len(pairs) != len(texts):
                raise ValueError(f"pairs: expected one per text ({len(texts)}), got {len(pairs)}")
            for i, p in enumerate(pairs):
                if not isinstance(p, str):
                    raise TypeError(f"pairs[{i}]: expected a string, got {type(p).__name__}")
            with self._lock:  # no truncation may be set while the first texts are measured
                first_max = max((len(e.ids) for e in tok.encode_batch(texts)), default=0)
            if first_max + 2 >= max_length:
                raise ValueError(
                    f"max_length: {max_length} leaves no room for the second text (the longest first text takes "
                    f"{first_max} tokens with [CLS]/[SEP])"
                )
            if stride >= max_length - first_max - 1:
                raise ValueError(
                    f"stride: {stride} must be smaller than the room left for the second text "
                    f"({max_length - first_max - 1} tokens)"
                )
            with self._lock:
                tok.enable_truncation(max_length, stride=stride, strategy="only_second")
                try:
                    encoded = tok.encode_batch(list(zip(texts, pairs)))
                finally:
                    tok.no_truncation()
            for i, e in enumerate(encoded):
                for w in (e, *e.overflowing):
                    encodings.append(w)
                    sample.append(i)
        return self._pad(encodings, np.asarray(sample, dtype=np.int64), pad_to)

    def _pad(self, encodings: list[Any], sample: np.ndarray, pad_to: int | None) -> Batch:
        n = len(encodings)
        L = max((len(e.ids) for e in encodings), default=0)
        if pad_to is not None:
            if pad_to < L:
                raise ValueError(f"pad_to: {pad_to} is shorter than the longest encoded row ({L} tokens)")
            L = pad_to
        ids = np.full((n, L), self.pad_id, dtype=np.int64)
        types = np.zeros((n, L), dtype=np.int64)
        mask = np.zeros((n, L), dtype=np.int64)
        offsets, word_ids, seq_ids = [], [], []
        for i, e in enumerate(encodings):
            m = len(e.ids)
            ids[i, :m] = e.ids
            types[i, :m] = e.type_ids
            mask[i, :m] = 1
            pad = L - m
            offsets.append([tuple(o) for o in e.offsets] + [(0, 0)] * pad)
            word_ids.append(list(e.word_ids) + [None] * pad)
            seq_ids.append(list(e.sequence_ids) + [None] * pad)
        return Batch(ids, types, mask, offsets, word_ids, seq_ids, sample)

    def save(self, path: str | os.PathLike[str]) -> None:
        """tokenizer.json (and, when the source directory has them, its companion files) into ``path``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        with self._lock:  # never with a caller's truncation in it
            text = self._tok.to_str()
        atomic_write_text(out / "tokenizer.json", text)
        if self.source_dir is not None:
            for name in _COMPANION_FILES:
                src = self.source_dir / name
                if src.is_file() and src.resolve() != (out / name).resolve():
                    with atomic_path(out / name) as tmp:
                        shutil.copyfile(src, tmp)
