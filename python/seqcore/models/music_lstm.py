"""The course's jazz-improvisation LSTM (week 1, "Improvise a jazz solo"), built with ``seqcore.nn``.

Training graph, as in the course::

    X [m, Tx, n_values], a0 [m, n_a], c0 [m, n_a]
    for t in range(Tx):
        x = reshaper(X[:, t, :])                      # shared Reshape((1, n_values))
        a, _, c = LSTM_cell(x, initial_state=[a, c])  # ONE shared LSTM(n_a, return_state=True)
        outputs.append(densor(a))                     # shared Dense(n_values, softmax)
    Model(inputs=[X, a0, c0], outputs=outputs)        # Adam(0.01, 0.9, 0.999), categorical CE per output

Generation feeds each sampled value back in.  ``inference_model`` builds the course's
graph for that (argmax fed back through a Lambda); ``generate`` runs the same recurrence
directly on ``seqcore.kernels.lstm_cell`` with the trained weights -- one fused call per
step instead of replaying graph nodes -- and samples from softmax(logits / temperature).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .. import _config, kernels, optim
from ..autograd import Tensor
from ..music.tokens import NoteToken, Vocabulary
from ..nn import LSTM, Dense, Input, Lambda, Model, RepeatVector, Reshape
from ..nn import saving as _saving
from ..nn.callbacks import Callback

__all__ = ["MusicLSTM"]

PathLike = Union[str, "os.PathLike[str]"]
MUSIC_KEY = "seqcore.music"
_FILE_VERSION = 1


def one_hot_argmax(probs: Tensor) -> Tensor:
    """One-hot [B, n] of each row's argmax: the course's ``one_hot(argmax(out))`` feedback (not differentiable)."""
    data = probs.data
    out = np.zeros_like(data)
    out[np.arange(data.shape[0]), data.argmax(axis=-1)] = 1
    return Tensor._wrap(out)


def _positive(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what}: expected a positive int, got {value!r}")
    return int(value)


class _EpochBar(Callback):
    """One tqdm bar over all epochs (the course trains 100 epochs of 2 batches: a bar per epoch is noise)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.bar: Any = None

    def on_train_begin(self, logs: Any = None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.epochs, desc="training", unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if logs and "loss" in logs:
                self.bar.set_postfix_str(f"loss {logs['loss']:.4f}", refresh=False)

    def on_train_end(self, logs: Any = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MusicLSTM:
    """The course's music model: one shared LSTM cell unrolled over ``Tx`` one-hot steps.

    ``n_values`` is the number of distinct tokens (one-hot width), ``n_a`` the LSTM's
    units.  ``vocab`` (optional) maps ids to note tokens, for ``generate_tokens`` and saving;
    ``info`` is a JSON-serializable dict saved with the model (the CLI keeps its chord
    progression there).  ``seed`` reseeds seqcore's generator (``seqcore.set_seed``) before
    the weights are drawn, so the same seed gives the same model and training curve.
    """

    def __init__(
        self,
        n_values: int,
        *,
        Tx: int = 30,
        n_a: int = 64,
        vocab: Vocabulary | None = None,
        info: dict[str, Any] | None = None,
        seed: int | None = None,
        learning_rate: float = 0.01,
    ) -> None:
        self.n_values = _positive("n_values", n_values)
        self.Tx = _positive("Tx", Tx)
        self.n_a = _positive("n_a", n_a)
        if vocab is not None:
            if not isinstance(vocab, Vocabulary):
                raise TypeError(f"vocab: expected a seqcore.music.Vocabulary, got {type(vocab).__name__}")
            if len(vocab) != self.n_values:
                raise ValueError(f"vocab: has {len(vocab)} tokens but n_values is {self.n_values}; they must agree")
        self.vocab = vocab
        info = {} if info is None else info
        try:
            json.dumps(info)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"info: expected a JSON-serializable dict ({exc})") from None
        if not isinstance(info, dict):
            raise TypeError(f"info: expected a dict, got {type(info).__name__}")
        self.info = dict(info)
        if seed is not None:
            _config.set_seed(seed)
        self.reshaper = Reshape((1, self.n_values), name="reshaper")
        self.lstm_cell = LSTM(self.n_a, return_state=True, name="lstm_cell")
        self.densor = Dense(self.n_values, activation="softmax", name="densor")
        X = Input(shape=(self.Tx, self.n_values), name="X")
        a0 = Input(shape=(self.n_a,), name="a0")
        c0 = Input(shape=(self.n_a,), name="c0")
        a, c = a0, c0
        outputs = []
        for t in range(self.Tx):
            x = self.reshaper(X[:, t, :])
            a, _, c = self.lstm_cell(x, initial_state=[a, c])
            outputs.append(self.densor(a))
        self.model = Model(inputs=[X, a0, c0], outputs=outputs, name="music_lstm")
        self.model.compile(
            optimizer=optim.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999),
            loss="categorical_crossentropy",
        )

    def __repr__(self) -> str:
        return f"<MusicLSTM n_values={self.n_values} Tx={self.Tx} n_a={self.n_a} params={self.count_params():,}>"

    # ---- the Keras side
    def count_params(self) -> int:
        return self.model.count_params()

    def summary(self, **kwargs: Any) -> None:
        self.model.summary(**kwargs)

    def _check_xy(self, X: Any, Y: Any) -> tuple[np.ndarray, list[np.ndarray]]:
        X = np.asarray(X)
        want = f"(m, {self.Tx}, {self.n_values})"
        if X.ndim != 3 or X.shape[1:] != (self.Tx, self.n_values) or X.shape[0] == 0:
            raise ValueError(f"X: expected one-hot windows of shape {want}, got {X.shape}")
        m = X.shape[0]
        Ys = [np.asarray(y) for y in Y] if isinstance(Y, (list, tuple)) else None
        if Ys is None:
            Y = np.asarray(Y)
            if Y.ndim != 3:
                raise ValueError(f"Y: expected shape ({self.Tx}, {m}, {self.n_values}) (time first), got {Y.shape}")
            Ys = list(Y)
        if len(Ys) != self.Tx or any(y.shape != (m, self.n_values) for y in Ys):
            got = (len(Ys), *Ys[0].shape) if Ys and all(y.shape == Ys[0].shape for y in Ys) else "mixed shapes"
            raise ValueError(
                f"Y: expected shape ({self.Tx}, {m}, {self.n_values}) (time first, as training_windows "
                f"gives), got {got}"
            )
        return X, Ys

    def fit(
        self,
        X: Any,
        Y: Any,
        epochs: int = 100,
        *,
        batch_size: int = 32,
        verbose: int = 1,
        callbacks: list[Callback] | None = None,
        shuffle: bool = True,
    ) -> Any:
        """Train on ``X`` [m, Tx, n_values] and ``Y`` [Tx, m, n_values] (``training_windows``'s layout).

        ``a0`` and ``c0`` are zeros, as in the course.  ``verbose=1`` shows one progress bar
        over the epochs (on stderr), 0 nothing.  Returns the engine's ``History``.
        """
        X, Ys = self._check_xy(X, Y)
        epochs = _positive("epochs", epochs)
        if verbose not in (0, 1, False, True):
            raise ValueError(f"verbose: expected 0 or 1, got {verbose!r}")
        zeros = np.zeros((X.shape[0], self.n_a), dtype=self.model.dtype)
        cbs = list(callbacks or [])
        if verbose:
            cbs.append(_EpochBar(epochs))
        return self.model.fit(
            [X, zeros, zeros], Ys, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=cbs, shuffle=shuffle
        )

    def inference_model(self, Ty: int = 50) -> Model:
        """The course's ``music_inference_model``: the shared layers stepped ``Ty`` times, argmax fed back.

        Inputs [x0 [m, 1, n_values], a0, c0]; outputs a list of Ty softmax vectors [m, n_values].
        """
        Ty = _positive("Ty", Ty)
        x0 = Input(shape=(1, self.n_values), name="x0")
        a0 = Input(shape=(self.n_a,), name="a0")
        c0 = Input(shape=(self.n_a,), name="c0")
        feedback = Lambda(one_hot_argmax, name="one_hot_argmax")
        repeat = RepeatVector(1, name="repeat_vector")
        x, a, c = x0, a0, c0
        outputs = []
        for _ in range(Ty):
            a, _, c = self.lstm_cell(x, initial_state=[a, c])
            out = self.densor(a)
            outputs.append(out)
            x = repeat(feedback(out))
        return Model(inputs=[x0, a0, c0], outputs=outputs, name="music_inference")

    # ---- generation on the kernels
    def _weights(self) -> tuple[np.ndarray, ...]:
        cell, dense = self.lstm_cell, self.densor
        return cell.kernel.data, cell.recurrent_kernel.data, cell.bias.data, dense.kernel.data, dense.bias.data

    def _seed_ids(self, seed_tokens: Any) -> np.ndarray:
        if seed_tokens is None:
            return np.zeros(0, dtype=np.int64)
        items = list(seed_tokens)
        if items and all(isinstance(t, NoteToken) for t in items):
            if self.vocab is None:
                raise ValueError("seed_tokens: note tokens need the model's vocabulary; this model has none (pass ids)")
            return self.vocab.encode(items)
        ids = np.asarray(items)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise TypeError("seed_tokens: expected a list of int ids or of NoteToken objects")
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_values):
            raise ValueError(
                f"seed_tokens: ids must be in 0..{self.n_values - 1}, got {int(ids.min())}..{int(ids.max())}"
            )
        return ids.astype(np.int64)

    def generate(
        self,
        length: int,
        *,
        seed_tokens: Sequence[int] | Sequence[NoteToken] | None = None,
        temperature: float = 1.0,
        seed: int | np.random.Generator | None = None,
    ) -> np.ndarray:
        """``length`` new token ids, each sampled and fed back in as the next step's input.

        Generation starts, as training windows do, from an all-zero input; ``seed_tokens``
        (ids or note tokens) are fed in first and the ids that follow them are returned.
        Each id is drawn from softmax(logits / ``temperature``); ``temperature=0`` takes the
        argmax (greedy, what the course's inference model does), small values approach it,
        larger ones make the solo more adventurous.  ``seed`` (an int or a NumPy Generator)
        makes the sampling reproducible.
        """
        length = _positive("length", length)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating, np.integer)):
            raise TypeError(f"temperature: expected a number >= 0, got {type(temperature).__name__}")
        if not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature: expected a finite number >= 0, got {temperature!r}")
        if isinstance(seed, np.random.Generator):
            rng = seed
        elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
            rng = np.random.default_rng(seed)
        else:
            raise ValueError(f"seed: expected a non-negative int, a numpy Generator or None, got {seed!r}")
        primer = self._seed_ids(seed_tokens)
        W, U, b, Wd, bd = self._weights()
        dtype = W.dtype
        h = np.zeros((1, self.n_a), dtype=dtype)
        c = np.zeros((1, self.n_a), dtype=dtype)
        x = np.zeros((1, self.n_values), dtype=dtype)
        for idx in primer:
            h, c = kernels.lstm_cell(x, h, c, W, U, b)
            x = np.zeros_like(x)
            x[0, idx] = 1
        out = np.empty(length, dtype=np.int64)
        for t in range(length):
            h, c = kernels.lstm_cell(x, h, c, W, U, b)
            logits = (h @ Wd + bd)[0].astype(np.float64)
            if temperature == 0:
                idx = int(np.argmax(logits))
            else:
                z = logits / temperature
                p = np.exp(z - z.max())
                p /= p.sum()
                idx = int(rng.choice(self.n_values, p=p))
            out[t] = idx
            x = np.zeros_like(x)
            x[0, idx] = 1
        return out

    def generate_tokens(
        self,
        length: int,
        *,
        seed_tokens: Sequence[int] | Sequence[NoteToken] | None = None,
        temperature: float = 1.0,
        seed: int | np.random.Generator | None = None,
    ) -> list[NoteToken]:
        """``generate``, decoded to note tokens with the model's vocabulary."""
        if self.vocab is None:
            raise ValueError("generate_tokens: this model has no vocabulary (use generate for ids)")
        ids = self.generate(length, seed_tokens=seed_tokens, temperature=temperature, seed=seed)
        return self.vocab.decode(ids)

    # ---- files
    def save(self, path: PathLike) -> None:
        """Write weights, optimizer state, architecture and vocabulary to one safetensors file, atomically.

        ``seqcore.load_model`` reads it as the plain Keras-style model; ``MusicLSTM.load``
        restores this object, vocabulary and ``info`` included.
        """
        model = self.model
        tensors = dict(model._weight_dict())
        music = {
            "class_name": "MusicLSTM",
            "version": _FILE_VERSION,
            "n_values": self.n_values,
            "Tx": self.Tx,
            "n_a": self.n_a,
            "vocab": None if self.vocab is None else self.vocab.to_config(),
            "info": self.info,
        }
        metadata = {
            "format": _saving.FORMAT,
            "version": _saving.VERSION,
            "seqcore.config": json.dumps({"class_name": type(model).__name__, "config": model.get_config()}),
            "seqcore.weights": json.dumps(list(tensors)),
            "seqcore.compile": json.dumps(model._compile_config),
            MUSIC_KEY: json.dumps(music),
        }
        for key, value in model.optimizer.get_state().items():
            tensors[f"optimizer/{key}"] = np.asarray(value)
        _saving._write(path, tensors, metadata)

    @classmethod
    def load(cls, path: PathLike) -> MusicLSTM:
        """The model ``save`` wrote.  FileNotFoundError for a missing file, ValueError for any other file."""
        tensors, metadata = _saving._read(path)
        name = os.fspath(path)
        if MUSIC_KEY not in metadata:
            raise ValueError(
                f"MusicLSTM.load: {name!r} is a seqcore file but not a MusicLSTM (saved by MusicLSTM.save)"
            )
        try:
            music = json.loads(metadata[MUSIC_KEY])
            if music.get("class_name") != "MusicLSTM":
                raise ValueError("not a MusicLSTM record")
            if music.get("version", 0) > _FILE_VERSION:
                raise ValueError(f"written by a newer seqcore (format {music.get('version')})")
            vocab = None if music.get("vocab") is None else Vocabulary.from_config(music["vocab"])
            compile_config = json.loads(metadata.get("seqcore.compile", "{}"))
            lr = compile_config.get("optimizer", {}).get("config", {}).get("learning_rate", 0.01)
            new = cls(
                int(music["n_values"]),
                Tx=int(music["Tx"]),
                n_a=int(music["n_a"]),
                vocab=vocab,
                info=music.get("info") or {},
                learning_rate=float(lr) if isinstance(lr, (int, float)) else 0.01,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"MusicLSTM.load: {name!r} has a damaged MusicLSTM record ({exc})") from None
        new.model._assign(tensors, name, order=_saving._order(metadata))
        state = {k[len("optimizer/") :]: v for k, v in tensors.items() if k.startswith("optimizer/")}
        for key in ("iterations", "learning_rate"):  # scalars come back as one-element arrays
            if key in state and state[key].size == 1:
                state[key] = state[key].reshape(())
        if state:
            new.model.optimizer.set_state(state)
        return new
