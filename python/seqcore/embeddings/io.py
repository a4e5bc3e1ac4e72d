"""Reading and writing word vectors: GloVe text, word2vec text/binary and seqcore's own folder format.

Formats (``detect_format`` picks one from the content, the extension only breaks ties):

- ``glove``: one ``word v1 ... vE`` line per word, no header (``.txt``, ``.txt.gz``, a ``.zip`` holding one text file).
  A word may contain spaces: the last E fields of a line are the numbers, the rest is the word.
- ``word2vec``: a ``V E`` header line, then V lines as in GloVe.
- ``word2vec-binary``: a ``V E`` header line, then V records ``word<space><E little-endian float32>``
  (an optional newline before each word), as written by the C word2vec tool and gensim.
- ``seqcore``: a folder holding ``vectors.npy`` ([V,E] float32, memory-mapped on load), ``vocab.txt`` (one word per
  line, UTF-8, row order), optionally ``counts.npy``, and ``header.json`` (written last; it records the shape and
  the SHA-256 of the vocabulary, so a folder whose files do not belong together is refused).

Every write goes through :mod:`seqcore._atomic`.  Damaged or malformed files raise
:class:`~seqcore._atomic.CorruptFileError` (a ``ValueError``) naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from typing import Union

import numpy as np

from .._atomic import CorruptFileError, atomic_open

__all__ = [
    "FORMATS",
    "HEADER_NAME",
    "MATRIX_NAME",
    "VOCAB_NAME",
    "detect_format",
    "read_vectors",
    "read_seqcore",
    "write_seqcore",
    "write_text",
    "write_word2vec_binary",
]

PathLike = Union[str, "os.PathLike[str]"]
Loaded = tuple[list[str], np.ndarray, Union[np.ndarray, None]]

FORMATS = ("seqcore", "glove", "word2vec", "word2vec-binary")
FORMAT_NAME = "seqcore.WordVectors"
FORMAT_VERSION = 1
HEADER_NAME = "header.json"
MATRIX_NAME = "vectors.npy"
VOCAB_NAME = "vocab.txt"
COUNTS_NAME = "counts.npy"

_HEADER_RE = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_GZIP_MAGIC = b"\x1f\x8b"


# ---------------------------------------------------------------- detection


def _read_raw(path: str) -> tuple[bytes, str]:
    """The file's bytes, unpacked from .gz / .zip, and a description for error messages."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    texts = [m for m in members if m.filename.endswith(".txt")]
                    if len(texts) != 1:
                        names = [m.filename for m in members]
                        raise CorruptFileError(
                            f"{path}: a .zip of word vectors must hold exactly one file (or one .txt), found {names}"
                        )
                    members = texts
                return zf.read(members[0]), f"{path}!{members[0].filename}"
        except zipfile.BadZipFile as exc:
            raise CorruptFileError(f"{path}: damaged zip archive ({exc})") from exc
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(data), path
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(f"{path}: damaged gzip file ({exc})") from exc
    return data, path


def _first_line(data: bytes) -> bytes:
    end = data.find(b"\n")
    return data if end < 0 else data[:end]


def _detect_bytes(data: bytes, where: str, path: str) -> str:
    if not data.strip():
        raise CorruptFileError(f"{where}: the file is empty, expected word vectors")
    header = _HEADER_RE.match(_first_line(data))
    if header is None:
        return "glove"
    dim = int(header.group(2))
    body = data[len(_first_line(data)) + 1 :].lstrip(b"\n")
    line = _first_line(body)
    if path.endswith(".bin"):
        return "word2vec-binary"
    try:
        parts = line.decode("utf-8").rstrip(" \r").split(" ")
        if len(parts) >= dim + 1:
            np.array(parts[-dim:], dtype=np.float32)
            return "word2vec"
    except (UnicodeDecodeError, ValueError):
        pass
    return "word2vec-binary"


def detect_format(path: PathLike) -> str:
    """One of :data:`FORMATS` for ``path`` (a folder is ``seqcore``), from the content."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return "seqcore"
    data, where = _read_raw(path)
    return _detect_bytes(data, where, path)


# ---------------------------------------------------------------- text formats


def _decode(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{where}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def _parse_floats(tails: list[str], rows: int, dim: int, where: str, first_line: int) -> np.ndarray:
    """The numbers of ``rows`` text lines (E fields each) as [rows, E] float32; names the first bad line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            flat = np.fromstring(" ".join(tails), dtype=np.float32, sep=" ")  # C parser, ~10x np.array(list)
        except (ValueError, DeprecationWarning):
            flat = None
    if flat is not None and flat.size == rows * dim:
        return flat.reshape(rows, dim)
    for i, tail in enumerate(tails):  # slow path only to say which line is wrong
        fields = tail.split()
        try:
            values = np.array(fields, dtype=np.float32)
        except ValueError as exc:
            raise CorruptFileError(f"{where}: line {first_line + i}: not a number ({exc})") from None
        if values.size != dim:
            raise CorruptFileError(f"{where}: line {first_line + i}: expected {dim} numbers, got {values.size}")
    raise CorruptFileError(f"{where}: could not read {rows} x {dim} numbers")  # pragma: no cover


def _parse_lines(lines: list[str], dim: int | None, where: str, first_line: int) -> tuple[list[str], np.ndarray]:
    """Words and [V,E] matrix from ``word v1 ... vE`` lines (blank lines skipped)."""
    words: list[str] = []
    tails: list[str] = []
    for i, raw in enumerate(lines):
        line = raw.rstrip(" ")
        if not line:
            continue
        if dim is None:
            dim = len(line.split(" ")) - 1
            if dim < 1:
                raise CorruptFileError(f"{where}: line {first_line + i}: expected 'word v1 ... vE', got {line[:60]!r}")
        parts = line.rsplit(" ", dim)
        if len(parts) != dim + 1 or not parts[0]:
            raise CorruptFileError(
                f"{where}: line {first_line + i}: expected a word and {dim} numbers, got {len(parts) - 1} fields"
            )
        words.append(parts[0])
        tails.append(line[len(parts[0]) + 1 :])
    if not words:
        raise CorruptFileError(f"{where}: no word vectors found")
    assert dim is not None
    return words, _parse_floats(tails, len(words), dim, where, first_line)


def _read_text(data: bytes, where: str, word2vec: bool) -> Loaded:
    text = _decode(data, where)
    lines = text.split("\n")
    if not word2vec:
        words, matrix = _parse_lines(lines, None, where, 1)
        return words, matrix, None
    count, dim = (int(v) for v in lines[0].split())
    if count < 1 or dim < 1:
        raise CorruptFileError(f"{where}: header says {count} words x {dim} dims, expected positive numbers")
    words, matrix = _parse_lines(lines[1:], dim, where, 2)
    if len(words) != count:
        raise CorruptFileError(f"{where}: header promises {count} words, found {len(words)}")
    return words, matrix, None


def _read_word2vec_binary(data: bytes, where: str) -> Loaded:
    head = _first_line(data)
    match = _HEADER_RE.match(head)
    if match is None:
        raise CorruptFileError(f"{where}: expected a 'V E' header line, got {head[:60]!r}")
    count, dim = int(match.group(1)), int(match.group(2))
    if count < 1 or dim < 1:
        raise CorruptFileError(f"{where}: header says {count} words x {dim} dims, expected positive numbers")
    step = 4 * dim
    pos = len(head) + 1
    words: list[str] = []
    chunks: list[bytes] = []
    for i in range(count):
        while pos < len(data) and data[pos] in b"\n\r":
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + step > len(data):
            raise CorruptFileError(f"{where}: truncated: header promises {count} words, record {i + 1} is incomplete")
        try:
            words.append(data[pos:space].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CorruptFileError(f"{where}: word {i + 1} is not UTF-8 ({exc.reason})") from None
        pos = space + 1 + step
        chunks.append(data[space + 1 : pos])
    matrix = np.frombuffer(b"".join(chunks), dtype="<f4").reshape(count, dim).astype(np.float32)
    return words, matrix, None


def read_vectors(path: PathLike, fmt: str | None = None, *, mmap: bool = True) -> Loaded:
    """(words, matrix [V,E] float32, counts or None) from any supported file or folder."""
    path = os.fspath(path)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS} or None (detect), got {fmt!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"word vectors not found: {path}")
    if os.path.isdir(path) or fmt == "seqcore":
        if fmt not in (None, "seqcore"):
            raise ValueError(f"{path} is a folder (seqcore's format), but format={fmt!r} was asked for")
        return read_seqcore(path, mmap=mmap)
    data, where = _read_raw(path)
    kind = fmt or _detect_bytes(data, where, path)
    if not data.strip():
        raise CorruptFileError(f"{where}: the file is empty, expected word vectors")
    if kind == "word2vec-binary":
        return _read_word2vec_binary(data, where)
    if kind == "word2vec" and _HEADER_RE.match(_first_line(data)) is None:
        raise CorruptFileError(f"{where}: expected a word2vec 'V E' header line, got {_first_line(data)[:60]!r}")
    return _read_text(data, where, word2vec=kind == "word2vec")


# ---------------------------------------------------------------- seqcore's own format


def read_seqcore(folder: PathLike, *, mmap: bool = True) -> Loaded:
    """Load seqcore's folder format; ``mmap`` maps ``vectors.npy`` read-only instead of reading it."""
    folder = os.fspath(folder)
    header_path = os.path.join(folder, HEADER_NAME)
    if not os.path.isfile(header_path):
        raise CorruptFileError(f"{folder}: not a seqcore word-vector folder (no {HEADER_NAME})")
    try:
        with open(header_path, encoding="utf-8") as fh:
            header = json.load(fh)
        if header.get("format") != FORMAT_NAME:
            raise CorruptFileError(f"{header_path}: format is {header.get('format')!r}, expected {FORMAT_NAME!r}")
        if int(header.get("version", 0)) > FORMAT_VERSION:
            raise CorruptFileError(f"{header_path}: version {header['version']} is newer than this seqcore reads")
        count, dim, digest = int(header["vocab_size"]), int(header["dim"]), str(header["vocab_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, CorruptFileError):
            raise
        raise CorruptFileError(f"{header_path}: damaged header ({exc})") from exc
    with open(os.path.join(folder, VOCAB_NAME), "rb") as fh:
        raw = fh.read()
    if hashlib.sha256(raw).hexdigest() != digest:
        raise CorruptFileError(f"{folder}: {VOCAB_NAME} does not match {HEADER_NAME} (interrupted save or edited file)")
    words = _decode(raw, os.path.join(folder, VOCAB_NAME)).split("\n")
    if words and words[-1] == "":
        words.pop()
    matrix_path = os.path.join(folder, MATRIX_NAME)
    try:
        matrix = np.load(matrix_path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptFileError(f"{matrix_path}: damaged .npy file ({exc})") from exc
    if matrix.shape != (count, dim) or len(words) != count or matrix.dtype != np.float32:
        raise CorruptFileError(
            f"{folder}: header says {count} x {dim} float32, found a {matrix.shape} {matrix.dtype} matrix "
            f"and {len(words)} words"
        )
    counts = None
    if header.get("has_counts"):
        counts = np.load(os.path.join(folder, COUNTS_NAME), allow_pickle=False)
        if counts.shape != (count,):
            raise CorruptFileError(f"{folder}: {COUNTS_NAME} has shape {counts.shape}, expected ({count},)")
    return words, matrix, counts


def vocab_bytes(words: Sequence[str]) -> bytes:
    bad = next((w for w in words if "\n" in w or "\r" in w), None)
    if bad is not None:
        raise ValueError(f"words must not contain line breaks to be saved one per line, got {bad!r}")
    return ("\n".join(words) + "\n").encode("utf-8")


def write_seqcore(folder: PathLike, words: Sequence[str], matrix: np.ndarray, counts: np.ndarray | None) -> None:
    """Write the folder format; each file atomically, the header (which ties them together) last."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"path must be a folder for seqcore's format, but {folder} is a file")
    os.makedirs(folder, exist_ok=True)
    vocab = vocab_bytes(words)
    with atomic_open(os.path.join(folder, MATRIX_NAME), "wb") as fh:
        np.save(fh, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
    with atomic_open(os.path.join(folder, VOCAB_NAME), "wb") as fh:
        fh.write(vocab)
    if counts is not None:
        with atomic_open(os.path.join(folder, COUNTS_NAME), "wb") as fh:
            np.save(fh, np.asarray(counts), allow_pickle=False)
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "vocab_size": len(words),
        "dim": int(matrix.shape[1]),
        "dtype": "float32",
        "has_counts": counts is not None,
        "vocab_sha256": hashlib.sha256(vocab).hexdigest(),
    }
    with atomic_open(os.path.join(folder, HEADER_NAME), "w") as fh:
        json.dump(header, fh, indent=1)


# ---------------------------------------------------------------- writers for the exchange formats


def _text_rows(words: Sequence[str], matrix: np.ndarray) -> str:
    buf = io.StringIO()
    fmt = " ".join(["%.9g"] * matrix.shape[1])  # 9 significant digits: float32 round-trips exactly
    for word, row in zip(words, matrix.tolist()):
        buf.write(word)
        buf.write(" ")
        buf.write(fmt % tuple(row))
        buf.write("\n")
    return buf.getvalue()


def write_text(path: PathLike, words: Sequence[str], matrix: np.ndarray, *, header: bool) -> None:
    """GloVe text (``header=False``) or word2vec text (``header=True``); gzip-compressed if ``path`` ends in .gz."""
    path = os.fspath(path)
    bad = next((w for w in words if not w or any(ch.isspace() for ch in w)), None)
    if bad is not None:
        raise ValueError(f"words must be non-empty and without whitespace for a text format, got {bad!r}")
    text = (f"{len(words)} {matrix.shape[1]}\n" if header else "") + _text_rows(words, matrix)
    data = text.encode("utf-8")
    if path.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_word2vec_binary(path: PathLike, words: Sequence[str], matrix: np.ndarray) -> None:
    """word2vec binary (as the C tool and gensim write it: a newline after each vector)."""
    bad = next((w for w in words if not w or any(ch.isspace() for ch in w)), None)
    if bad is not None:
        raise ValueError(f"words must be non-empty and without whitespace for word2vec binary, got {bad!r}")
    rows = np.ascontiguousarray(matrix, dtype="<f4")
    with atomic_open(os.fspath(path), "wb") as fh:
        fh.write(f"{len(words)} {rows.shape[1]}\n".encode())
        for word, row in zip(words, rows):
            fh.write(word.encode("utf-8") + b" ")
            fh.write(row.tobytes())
            fh.write(b"\n")
