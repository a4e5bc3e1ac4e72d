"""The course's week-2 Emojifier: a sentence -> one of five emoji, from frozen GloVe word vectors.

- ``EmojifierV1``: the average of the sentence's GloVe vectors -> Dense(5) -> softmax, trained with the
  course's plain gradient descent (one sentence per step, learning rate 0.01, 400 epochs).
- ``EmojifierV2``: the course's Keras model, built with ``seqcore.nn``: ids -> frozen pretrained GloVe
  ``Embedding`` (``mask_zero``: id 0 is padding, word ids are shifted by +1) -> LSTM(128, sequences) ->
  Dropout(0.5) -> LSTM(128) -> Dropout(0.5) -> Dense(5) -> softmax, trained with Adam.  223,877 trainable
  parameters (the course's number), 20,000,050 frozen ones (the 400,001 x 50 embedding).

Labels follow the course's order (``seqcore.datasets.EMOJI_LABELS``): 0 heart, 1 baseball, 2 smile,
3 disappointed, 4 fork_and_knife.

Words are looked up with ``seqcore.embeddings.WordVectors`` (``sentence_words``: lower-cased, split on
whitespace, punctuation around words stripped; unknown words are skipped).  A
sentence with no known word (empty, or only unknown words) gets a defined answer, never an error: V1
averages nothing to the zero vector, V2 reads an all-padding row (zero final state), so both answer
with the model's output for a zero input, i.e. softmax(output bias).  ``known_word_counts`` tells such
sentences apart.

Files (``save``/``load``) hold only the trainable weights and the config (a checksummed safetensors
file, written atomically); the frozen GloVe matrix comes from the GloVe package at load time, so a V2
file is ~450 KB in float16 instead of 80 MB.  ``pretrained()`` loads the models that ship with seqcore,
trained on the embedded train split (see ``docs/emojifier.md`` for their accuracies).
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import nn, optim
from .._checks import positive_int as _positive_int
from .._checks import string_list
from ..nn.saving import _read, _write

__all__ = ["DEFAULT_VECTORS", "EmojifierV1", "EmojifierV2", "load_emojifier", "sentence_words"]

FORMAT = "seqcore.emojifier"
FORMAT_VERSION = "1"
DEFAULT_VECTORS = "glove-6b-50d"
N_CLASSES = 5
GLOVE_HINT = 'pip install "seqcore[glove]"'
_DATA = Path(__file__).resolve().parent / "data"
SHIPPED = {"v1": _DATA / "emojifier_v1.safetensors", "v2": _DATA / "emojifier_v2.safetensors"}

E = TypeVar("E", bound="_Emojifier")


@lru_cache(maxsize=2)
def _pretrained_vectors(name: str) -> Any:
    """``WordVectors.pretrained(name)``, once per process; a missing GloVe package names the extra."""
    try:
        from ..embeddings import WordVectors  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the module ships with seqcore
        raise ImportError(f"the Emojifier needs seqcore.embeddings.WordVectors ({exc})") from exc
    try:
        return WordVectors.pretrained(name)
    except ImportError as exc:
        raise ImportError(
            f"the Emojifier needs the GloVe word vectors {name!r}, which are not installed: {GLOVE_HINT} ({exc})"
        ) from exc


_PADDED: list[tuple[Any, np.ndarray]] = []  # (vectors, matrix): the last two, by identity


def _padded_matrix(vectors: Any) -> np.ndarray:
    """[V+1, E] float32, row 0 zeros (padding / no word): cached, as V1 and V2 share it."""
    for known, matrix in _PADDED:
        if known is vectors:
            return matrix
    matrix = np.ascontiguousarray(vectors.embedding_matrix(pad_row=True), dtype=np.float32)
    _PADDED[:] = [(vectors, matrix), *_PADDED[:1]]
    return matrix


def sentence_words(sentence: str) -> list[str]:
    """The words of a sentence as the Emojifier reads them: lower-cased, split on whitespace (the course's
    ``sentences_to_indices``), punctuation around each word stripped ("you!" -> "you", "!!!" -> nothing)."""
    words = (w.strip(string.punctuation) for w in sentence.lower().split())
    return [w for w in words if w]


def _sentences(sentences: Any, what: str = "sentences", allow_empty: bool = True) -> list[str]:
    return string_list(sentences, what, allow_empty=allow_empty)


def _labels(labels: Any, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"labels must be a 1-d array of {n} ints (one per sentence), got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise TypeError(f"labels must be integers in [0, {N_CLASSES}), got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= N_CLASSES):
        raise ValueError(f"labels must be in [0, {N_CLASSES}), got values from {arr.min()} to {arr.max()}")
    return arr


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class _Emojifier:
    """What V1 and V2 share: word lookup, labels, accuracy, the confusion matrix and the file format."""

    kind = ""

    def __init__(self, vectors: Any = None, *, vectors_name: str = DEFAULT_VECTORS) -> None:
        self.vectors_name = vectors_name if vectors is None else str(getattr(vectors, "name", vectors_name))
        self.vectors = _pretrained_vectors(vectors_name) if vectors is None else vectors
        self.embedding_dim = int(self.vectors.matrix.shape[1])

    # ---------------------------------------------------------------- words
    def sentence_indices(self, sentences: Sequence[str], max_len: int | None = None) -> np.ndarray:
        """Word ids [m, T] (GloVe index + 1; 0 pads and stands for nothing) of ``sentence_words``, unknown
        words skipped.  T is ``max_len`` (longer sentences are cut), by default the longest sentence's length."""
        tokens = [sentence_words(s) for s in _sentences(sentences)]
        if max_len is None:
            max_len = max([len(t) for t in tokens] + [1])
        if not tokens:
            return np.zeros((0, max_len), dtype=np.int64)
        ids = self.vectors.sentences_to_indices(tokens, max_len, lowercase=True, unknown="skip")
        return np.asarray(ids, dtype=np.int64)

    def known_word_counts(self, sentences: Sequence[str]) -> np.ndarray:
        """How many words of each sentence have a vector (0: the model's default answer, see the module doc)."""
        return (self.sentence_indices(sentences) != 0).sum(axis=1)

    # ---------------------------------------------------------------- predictions
    def predict_proba(self, sentences: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_labels(self, sentences: Sequence[str]) -> np.ndarray:
        """The most likely label (0-4, the course's order) of each sentence, int64 [m]."""
        return self.predict_proba(sentences).argmax(axis=1).astype(np.int64)

    def evaluate(self, sentences: Sequence[str], labels: Any) -> float:
        """Accuracy on (sentences, labels)."""
        sentences = _sentences(sentences, allow_empty=False)
        labels = _labels(labels, len(sentences))
        return float(np.mean(self.predict_labels(sentences) == labels))

    def confusion_matrix(self, sentences: Sequence[str], labels: Any) -> np.ndarray:
        """Counts [5, 5]: row = true label, column = predicted label."""
        sentences = _sentences(sentences, allow_empty=False)
        labels = _labels(labels, len(sentences))
        out = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        np.add.at(out, (labels, self.predict_labels(sentences)), 1)
        return out

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {"model": self.kind, "vectors": self.vectors_name, "embedding_dim": self.embedding_dim}

    def _named_weights(self) -> list[tuple[str, np.ndarray]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_weights(self, weights: list[np.ndarray]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, path: Any, *, dtype: Any = "float32") -> None:
        """One checksummed safetensors file (written atomically): the config and the trainable weights only.

        dtype: storage precision, "float32" or "float16" (half the size; the shipped V2 uses it).  The frozen
        GloVe vectors are not stored; ``load`` takes them from the GloVe package."""
        store = np.dtype(dtype)
        if store not in (np.float16, np.float32, np.float64):
            raise ValueError(f"save: dtype must be float16, float32 or float64, got {dtype!r}")
        named = self._named_weights()
        tensors = {f"{k:03d}": np.asarray(w).astype(store) for k, (_, w) in enumerate(named)}
        _write(
            path,
            tensors,
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "config": json.dumps(self.config()),
                "names": json.dumps([name for name, _ in named]),
            },
        )

    @classmethod
    def _from_config(cls: type[E], cfg: dict[str, Any], vectors: Any) -> E:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def load(cls: type[E], path: Any, vectors: Any = None) -> E:
        """A model written by ``save``; ``vectors`` defaults to the GloVe vectors named in the file.

        A damaged file raises ``seqcore.CorruptFileError``; a V1 file given to ``EmojifierV2.load`` (or the
        reverse) a ``ValueError`` (``load_emojifier`` reads either)."""
        return cls._check(_load_file(path, vectors))

    @classmethod
    def _check(cls: type[E], model: Any) -> E:
        if not isinstance(model, cls):
            raise ValueError(f"load: the file holds an Emojifier{model.kind.upper()}, not a {cls.__name__}")
        return model

    @classmethod
    def pretrained(cls: type[E]) -> E:
        """The model that ships with seqcore, trained on the embedded train split (needs the GloVe package)."""
        path = SHIPPED[cls.kind]
        if not path.is_file():
            raise FileNotFoundError(f"{cls.__name__}.pretrained: the shipped file {str(path)!r} is missing")
        return cls.load(path)


class EmojifierV1(_Emojifier):
    """Average of the sentence's GloVe vectors -> Dense(5) -> softmax (the course's ``model``).

    ``W`` [5, E] and ``b`` [5] are float64, as in the course's NumPy code.  ``seed`` draws the initial
    ``W`` (normal / sqrt(E), as in the course) and the order in which ``fit`` visits the sentences."""

    kind = "v1"

    def __init__(self, vectors: Any = None, *, seed: int | None = 0, vectors_name: str = DEFAULT_VECTORS) -> None:
        super().__init__(vectors, vectors_name=vectors_name)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((N_CLASSES, self.embedding_dim)) / np.sqrt(self.embedding_dim)
        self.b = np.zeros(N_CLASSES)

    def sentence_to_avg(self, sentences: Sequence[str]) -> np.ndarray:
        """Mean GloVe vector of each sentence's known words, float64 [m, E]; zeros when none is known."""
        ids = self.sentence_indices(sentences)
        matrix = _padded_matrix(self.vectors)
        total = matrix[ids].sum(axis=1, dtype=np.float64)  # row 0 (padding, unknown) is zeros
        count = (ids != 0).sum(axis=1, keepdims=True)
        return total / np.maximum(count, 1)

    def predict_proba(self, sentences: Sequence[str]) -> np.ndarray:
        """Softmax probabilities [m, 5]."""
        z = self.sentence_to_avg(sentences) @ self.W.T + self.b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def fit(
        self,
        sentences: Sequence[str],
        labels: Any,
        *,
        epochs: int = 400,
        learning_rate: float = 0.01,
        seed: int | None = None,
    ) -> list[float]:
        """The course's training: plain SGD, one sentence per step, cross-entropy of that sentence.

        The sentences are visited in one random order (drawn once from ``seed``, default the model's seed),
        the same every epoch, as the course loops over its shuffled file.  Returns each epoch's mean loss."""
        sentences = _sentences(sentences, allow_empty=False)
        y = _labels(labels, len(sentences))
        epochs = _positive_int("epochs", epochs)
        lr = _positive_float("learning_rate", learning_rate)
        avg = self.sentence_to_avg(sentences)
        order = np.random.default_rng(self.seed if seed is None else seed).permutation(len(sentences))
        onehot = np.eye(N_CLASSES)[y]
        W, b = self.W, self.b
        losses: list[float] = []
        for _ in range(epochs):
            total = 0.0
            for i in order:
                x = avg[i]
                z = W @ x + b
                z -= z.max()
                a = np.exp(z)
                a /= a.sum()
                total -= float(np.log(a[y[i]]))
                dz = a - onehot[i]
                W -= lr * np.outer(dz, x)
                b -= lr * dz
            losses.append(total / len(order))
        return losses

    def _named_weights(self) -> list[tuple[str, np.ndarray]]:
        return [("dense/kernel", self.W.T), ("dense/bias", self.b)]  # Keras layout: kernel [E, 5]

    def _set_weights(self, weights: list[np.ndarray]) -> None:
        kernel, bias = weights
        if kernel.shape != (self.embedding_dim, N_CLASSES) or bias.shape != (N_CLASSES,):
            raise ValueError(f"weights of shapes {kernel.shape}, {bias.shape} do not fit E={self.embedding_dim}")
        self.W = np.array(kernel.T, dtype=np.float64)
        self.b = np.array(bias, dtype=np.float64)

    @classmethod
    def _from_config(cls, cfg: dict[str, Any], vectors: Any) -> EmojifierV1:
        return cls(vectors, seed=None, vectors_name=cfg["vectors"])


class EmojifierV2(_Emojifier):
    """The course's two-layer LSTM over frozen GloVe vectors (``self.model`` is an ordinary ``nn.Model``).

    max_len: the padded length of training batches (the course's ``maxLen``, 10 = the embedded data's
    longest sentence allowed).  Unlike the course's ``Input(shape=(maxLen,))`` the model's input length is
    free (``Input(shape=(None,))``), so longer sentences are read whole at prediction time; the parameters
    are the same."""

    kind = "v2"

    def __init__(
        self,
        vectors: Any = None,
        *,
        units: int = 128,
        dropout: float = 0.5,
        max_len: int = 10,
        learning_rate: float = 0.001,
        seed: int | None = 0,
        vectors_name: str = DEFAULT_VECTORS,
    ) -> None:
        super().__init__(vectors, vectors_name=vectors_name)
        self.units = _positive_int("units", units)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.max_len = _positive_int("max_len", max_len)
        self.learning_rate = _positive_float("learning_rate", learning_rate)
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        inputs = nn.Input(shape=(None,), dtype="int64", name="word_ids")
        x = nn.Embedding.from_pretrained(_padded_matrix(self.vectors), trainable=False, mask_zero=True, name="glove")(
            inputs
        )
        x = nn.LSTM(self.units, return_sequences=True, name="lstm_1")(x)
        x = nn.Dropout(self.dropout, name="dropout_1")(x)
        x = nn.LSTM(self.units, name="lstm_2")(x)
        x = nn.Dropout(self.dropout, name="dropout_2")(x)
        x = nn.Dense(N_CLASSES, name="dense")(x)
        outputs = nn.Activation("softmax", name="softmax")(x)
        self.model = nn.Model(inputs, outputs, name="emojifier_v2")
        self.model.compile(
            optimizer=optim.Adam(learning_rate=self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    def predict_proba(self, sentences: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Softmax probabilities [m, 5] (dropout off)."""
        ids = self.sentence_indices(sentences)
        if ids.shape[0] == 0:
            return np.zeros((0, N_CLASSES), dtype=np.float32)
        return np.asarray(self.model.predict(ids, batch_size=batch_size, verbose=0))

    def fit(
        self,
        sentences: Sequence[str],
        labels: Any,
        *,
        epochs: int = 50,
        batch_size: int = 32,
        shuffle: bool = True,
        verbose: Any = 0,
        **fit_kwargs: Any,
    ) -> Any:
        """The course's training: ``model.fit`` on ids padded to ``max_len`` (or the longest sentence), Adam,
        sparse categorical cross-entropy, 50 epochs of batches of 32.  Returns the engine's ``History``."""
        sentences = _sentences(sentences, allow_empty=False)
        y = _labels(labels, len(sentences))
        longest = max(len(sentence_words(s)) for s in sentences)
        ids = self.sentence_indices(sentences, max(self.max_len, longest))
        return self.model.fit(
            ids,
            y,
            epochs=_positive_int("epochs", epochs),
            batch_size=_positive_int("batch_size", batch_size),
            shuffle=shuffle,
            verbose=verbose,
            **fit_kwargs,
        )

    def count_params(self) -> dict[str, int]:
        """{"trainable": 223877, "non_trainable": 20000050, "total": 20223927} for 128 units and GloVe 6B 50-d."""
        trainable = int(sum(v.size for v in self.model.trainable_weights))
        frozen = int(sum(v.size for v in self.model.non_trainable_weights))
        return {"trainable": trainable, "non_trainable": frozen, "total": trainable + frozen}

    def summary(self, **kwargs: Any) -> None:
        """``self.model.summary()``."""
        self.model.summary(**kwargs)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "units": self.units,
            "dropout": self.dropout,
            "max_len": self.max_len,
            "learning_rate": self.learning_rate,
        }

    def _named_weights(self) -> list[tuple[str, np.ndarray]]:
        return [(v.name, v.data) for v in self.model.trainable_weights]

    def _set_weights(self, weights: list[np.ndarray]) -> None:
        variables = self.model.trainable_weights
        if len(weights) != len(variables):
            raise ValueError(f"expected {len(variables)} trainable weights, got {len(weights)}")
        for v, w in zip(variables, weights):
            if w.shape != v.shape:
                raise ValueError(f"weight {v.name!r} expects shape {v.shape}, got {w.shape}")
        for v, w in zip(variables, weights):
            v.data[...] = w

    @classmethod
    def _from_config(cls, cfg: dict[str, Any], vectors: Any) -> EmojifierV2:
        return cls(
            vectors,
            units=int(cfg["units"]),
            dropout=float(cfg["dropout"]),
            max_len=int(cfg["max_len"]),
            learning_rate=float(cfg.get("learning_rate", 0.001)),
            seed=None,
            vectors_name=cfg["vectors"],
        )


_KINDS: dict[str, type[_Emojifier]] = {"v1": EmojifierV1, "v2": EmojifierV2}


def _load_file(path: Any, vectors: Any = None) -> _Emojifier:
    from .._atomic import CorruptFileError  # noqa: PLC0415

    tensors, metadata = _read(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"load: {str(path)!r} is not a seqcore Emojifier file (format {metadata.get('format')!r})")
    try:
        cfg = json.loads(metadata["config"])
        kind = _KINDS[cfg["model"]]
        n = len(json.loads(metadata["names"]))
        weights = [np.asarray(tensors[f"{k:03d}"], dtype=np.float32) for k in range(n)]
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"load: {str(path)!r} holds a damaged Emojifier ({exc})") from None
    model = kind._from_config(cfg, vectors)
    if model.embedding_dim != int(cfg["embedding_dim"]):
        raise ValueError(
            f"load: {str(path)!r} was trained on {cfg['embedding_dim']}-d vectors, these are {model.embedding_dim}-d"
        )
    try:
        model._set_weights(weights)
    except ValueError as exc:
        raise CorruptFileError(f"load: {str(path)!r} holds a damaged Emojifier ({exc})") from None
    return model


def load_emojifier(path: Any, vectors: Any = None) -> EmojifierV1 | EmojifierV2:
    """An ``EmojifierV1`` or ``EmojifierV2`` from a file written by either's ``save``."""
    return _load_file(path, vectors)  # type: ignore[return-value]
