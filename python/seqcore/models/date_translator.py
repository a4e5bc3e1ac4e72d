"""The course's date translator: human-readable dates -> ISO dates with an attention model.

Architecture (``DateTranslator.model`` is an ordinary ``nn.Model`` built with the functional API and
shared layers, 52,960 parameters): one-hot characters [N, Tx=30, 37] -> a pre-attention
``Bidirectional(LSTM(32, return_sequences=True))`` giving ``a`` [N, Tx, 64]; then, for each of the
Ty = 10 output characters, one attention step shared across steps -- ``RepeatVector(Tx)`` of the previous
post-attention state ``s``, ``Concatenate`` with ``a``, ``Dense(10, tanh)``, ``Dense(1, relu)``, a softmax
over the Tx axis and ``Dot`` with ``a`` to a context vector [N, 1, 64] -- a post-attention ``LSTM(64)``
step from (s, c) on that context, and a shared ``Dense(11, softmax)`` over '-' and the digits.  The
model's inputs are ``[X, s0, c0]`` (zeros, as in the course); its outputs the Ty probability rows.

The decoder never reads its previous output, so each step's distribution depends on the input only and
greedy argmax is also the most likely whole sequence (``translate``'s ``beam_width`` cannot change it).
Decoding still goes through ``seqcore.decode`` (greedy, beam search for ``n_best`` lists), and the model
is a ``decode.Scorer`` (``log_prob``, ``beam_search``) for the course's error analysis.

Training is the engine's ``model.fit`` (tape autograd, per-output categorical cross-entropy summed over
the Ty outputs as Keras does, Adam at the course's 0.005).  It was measured fast enough on two cores
(see ``docs/dates.md``) that no fused training step was written.  ``pretrained()`` loads the weights that
ship with seqcore (``models/data/date_translator.safetensors``, float32, ~210 KB).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .. import decode, nn, optim
from .._checks import positive_int as _positive_int
from .._checks import string_list
from ..datasets import dates as D
from ._model_file import read_model_file, save_model_file, set_model_weights

__all__ = ["SHIPPED", "DateTrainingHistory", "DateTranslator"]

FORMAT = "seqcore.date_translator"
FORMAT_VERSION = "1"
SHIPPED = Path(__file__).resolve().parent / "data" / "date_translator.safetensors"
N_A, N_S = 32, 64  # pre-attention LSTM units each way, post-attention LSTM units (the course's n_a, n_s)
ENERGY_BIAS = 1.0  # initial bias of the attention's Dense(1, relu) (see DateTranslator.__init__)


def _pairs(pairs: Any, what: str = "pairs", allow_empty: bool = False) -> list[tuple[str, str]]:
    if isinstance(pairs, str) or (isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], str)):
        raise TypeError(f"{what} must be a list of (human date, ISO date) pairs, got a single {type(pairs).__name__}")
    try:
        out = list(pairs)
    except TypeError:
        raise TypeError(f"{what} must be a list of (human date, ISO date) pairs, got {type(pairs).__name__}") from None
    for k, p in enumerate(out):
        if not (isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(s, str) for s in p)):
            raise TypeError(f"{what}[{k}] must be a (str, str) pair (human date, ISO date), got {p!r}")
    if not out and not allow_empty:
        raise ValueError(f"{what} is empty: nothing to train or evaluate on")
    return [(str(h), str(m)) for h, m in out]


def _strings_arg(name: str, value: Any) -> list[str]:
    return string_list(value, name)


@dataclass
class DateTrainingHistory:
    """What ``DateTranslator.fit`` did: the mean loss of each step (summed over the Ty outputs), the
    exact-match accuracy on the validation pairs after each epoch, and the time it took."""

    losses: list[float] = field(default_factory=list)
    val_accuracy: list[tuple[int, float]] = field(default_factory=list)  # (step, exact-match accuracy)
    best_val_accuracy: float | None = None  # of the weights the model was left with (restore_best)
    steps: int = 0
    epochs: int = 0  # complete passes over the training pairs
    examples: int = 0
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


class _Stepper(nn.callbacks.Callback):
    """Records each step's loss, reports progress and stops the engine's fit on time or on request."""

    def __init__(self, history: DateTrainingHistory, deadline: float | None, callback: Any, n: int, batch: int) -> None:
        super().__init__()
        self.history, self.deadline, self.callback, self.n, self.batch_size = history, deadline, callback, n, batch
        self._total, self._seen = 0.0, 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._total, self._seen = 0.0, 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        # the engine logs the epoch's running mean over examples; recover this step's own loss from it
        size = min(self.batch_size, self.n - batch * self.batch_size)
        self._seen += size
        total = float((logs or {}).get("loss", math.nan)) * self._seen
        step_loss = (total - self._total) / size
        self._total = total
        self.history.losses.append(step_loss)
        self.history.steps += 1
        self.history.examples += size
        stop = self.callback is not None and self.callback(self.history.steps, step_loss) is True
        if stop or (self.deadline is not None and time.perf_counter() >= self.deadline):
            self.model.stop_training = True


class DateTranslator:
    """Human-readable date -> "YYYY-MM-DD" with the course's attention model (see the module doc).

    seed: initial weights (``seqcore.set_seed``); None leaves seqcore's generator as it is.
    learning_rate: Adam's rate, a float or a ``seqcore.optim`` schedule (the course: 0.005).
    """

    tx, ty = D.TX, D.TY
    human_vocab, machine_vocab = D.HUMAN_VOCAB, D.MACHINE_VOCAB

    def __init__(self, *, seed: int | None = 0, learning_rate: Any = 0.005) -> None:
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        Tx, Ty, V_in, V_out = self.tx, self.ty, len(self.human_vocab), len(self.machine_vocab)
        # the shared layers: each is called once per output step, so its weights are used Ty times
        repeator = nn.RepeatVector(Tx, name="repeat_s")
        concatenator = nn.Concatenate(axis=-1, name="concat_a_s")
        densor1 = nn.Dense(10, activation="tanh", name="attention_dense_tanh")
        # The energies' ReLU starts with bias 1, not Keras's 0.  With 0, early updates soon leave all Tx
        # energies of an output step at or below zero: the softmax of zeros is uniform and no gradient comes
        # back through the ReLU, so that step's attention is dead for good and its character must be read
        # from the mean of ``a``.  Measured (20,000 dates, Adam 0.005): seed 0 kept attention for only the
        # first 3-4 of the 10 steps and reached 97.3-99.5% held-out after 2,400 steps, seed 1 had lost it on
        # every step by step 200; with bias 1, 99.9% after 800 steps.  The softmax is shift-invariant, so the
        # bias gets no gradient while every energy is positive: it only keeps the ReLU out of the way.
        densor2 = nn.Dense(
            1, activation="relu", bias_initializer=nn.initializers.Constant(ENERGY_BIAS), name="attention_dense_relu"
        )
        activator = nn.Softmax(axis=1, name="attention_weights")
        dotor = nn.Dot(axes=1, name="context")
        post_lstm = nn.LSTM(N_S, return_state=True, name="post_attention_lstm")
        output_layer = nn.Dense(V_out, activation="softmax", name="output")

        X = nn.Input(shape=(Tx, V_in), name="X")
        s0, c0 = nn.Input(shape=(N_S,), name="s0"), nn.Input(shape=(N_S,), name="c0")
        a = nn.Bidirectional(nn.LSTM(N_A, return_sequences=True, name="pre_attention_lstm"), name="encoder")(X)
        s, c = s0, c0
        outputs, states, alphas = [], [], []
        for _ in range(Ty):
            alpha = activator(densor2(densor1(concatenator([a, repeator(s)]))))
            context = dotor([alpha, a])
            _, s, c = post_lstm(context, initial_state=[s, c])
            outputs.append(output_layer(s))
            states.append(s)
            alphas.append(alpha)
        self.model = nn.Model([X, s0, c0], outputs, name="date_translator")
        # the same graph read at the post-attention states and the attention weights (no copy of weights)
        self._probe = nn.Model([X, s0, c0], states + alphas, name="date_translator_probe")
        self.output_layer = output_layer
        self.learning_rate = learning_rate
        self.model.compile(optimizer=optim.Adam(learning_rate=learning_rate), loss="categorical_crossentropy")

    # ---------------------------------------------------------------- data
    def inputs(self, strings: Sequence[str]) -> list[np.ndarray]:
        """``[X, s0, c0]`` for ``self.model``: one-hot characters [N, Tx, 37] and zero states [N, 64]."""
        ids = D.encode_human(strings, self.tx)
        zeros = np.zeros((ids.shape[0], N_S), dtype=np.float32)
        return [D.one_hot(ids, len(self.human_vocab)), zeros, zeros]

    def targets(self, isos: Sequence[str]) -> list[np.ndarray]:
        """One-hot rows [N, 11] for each of the Ty outputs."""
        y = D.one_hot(D.encode_machine(isos), len(self.machine_vocab))
        return [np.ascontiguousarray(y[:, t]) for t in range(self.ty)]

    # ---------------------------------------------------------------- predictions
    def _run_probe(self, strings: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        xs = self.inputs(strings)
        if xs[0].shape[0] == 0:
            return np.zeros((0, self.ty, N_S)), np.zeros((0, self.ty, self.tx))
        out = self._probe.predict(xs, batch_size=batch_size)
        states = np.stack(out[: self.ty], axis=1)  # [N, Ty, n_s]
        alphas = np.stack([a[..., 0] for a in out[self.ty :]], axis=1)  # [N, Ty, Tx]
        return states, alphas

    def output_log_probs(self, strings: Sequence[str], *, batch_size: int = 512) -> np.ndarray:
        """The model's log-softmax over ``MACHINE_VOCAB`` at each output step, float64 [N, Ty, 11]."""
        states, _ = self._run_probe(strings, _positive_int("batch_size", batch_size))
        W = self.output_layer.kernel.data.astype(np.float64)
        b = self.output_layer.bias.data.astype(np.float64)
        logits = states.astype(np.float64) @ W + b
        logits -= logits.max(axis=-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))

    def attention(self, strings: Sequence[str], *, batch_size: int = 512) -> np.ndarray:
        """The attention weights [N, Ty, Tx] (float32): row t says where output character t looked; each
        row sums to 1 (over all Tx positions, padding included, as in the course)."""
        return self._run_probe(strings, _positive_int("batch_size", batch_size))[1]

    # ---------------------------------------------------------------- decoding (seqcore.decode)
    def _search(self, strings: Sequence[str], beam_width: int, n_best: int, length_penalty: float) -> list[list[Any]]:
        """Hypotheses per input from ``decode.greedy`` (width 1) or ``decode.beam_search``.

        The step function reads precomputed log-probs: the decoder does not feed back its output, so one
        pass of the model gives every step's distribution, and the search state is just (input row, step),
        which the search gathers along with the beams."""
        log_probs = self.output_log_probs(strings)
        N = log_probs.shape[0]
        if N == 0:
            return []

        def step_fn(prev_tokens: np.ndarray, state: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, Any]:
            rows, t = state
            return log_probs[rows, t], (rows, t + 1)

        init = (np.arange(N, dtype=np.int64), np.zeros(N, dtype=np.int64))
        if beam_width == 1:
            result = decode.greedy(step_fn, init, max_len=self.ty, bos=0)
            return [[(tokens, float(lp))] for tokens, lp in zip(result.tokens, result.log_probs)]
        hyps = decode.beam_search(
            step_fn, init, beam_width=beam_width, max_len=self.ty, bos=0, n_best=n_best, length_penalty=length_penalty
        )
        return [[(h.tokens, h.log_prob) for h in row] for row in hyps]

    def translate(self, strings: Sequence[str], *, beam_width: int = 1) -> list[str]:
        """ISO date strings ("YYYY-MM-DD" shaped, not checked to be a real date) for each human date.

        beam_width 1 decodes with ``seqcore.decode.greedy``, wider with ``seqcore.decode.beam_search``.
        This decoder's steps are independent given the input, so the greedy argmax is already the most
        likely sequence and every beam width gives the same answer (tested)."""
        beam_width = _positive_int("beam_width", beam_width)
        return [D.decode_machine(row[0][0][None])[0] for row in self._search(strings, beam_width, 1, 0.0)]

    def n_best(
        self, strings: Sequence[str], n: int = 3, *, beam_width: int | None = None
    ) -> list[list[tuple[str, float]]]:
        """The ``n`` most likely ISO strings per input with their log P(y|x), best first (beam search of
        width ``beam_width``, default ``n``)."""
        n = _positive_int("n", n)
        beam_width = n if beam_width is None else _positive_int("beam_width", beam_width)
        if n > beam_width:
            raise ValueError(f"n must be at most beam_width = {beam_width}, got {n}")
        return [
            [(D.decode_machine(t[None])[0], lp) for t, lp in row] for row in self._search(strings, beam_width, n, 0.0)
        ]

    # the seqcore.decode.Scorer protocol, for decode.error_analysis
    def log_prob(self, x: Sequence[str], y: Sequence[str]) -> np.ndarray:
        """log P(y|x) [N] float64: the sum over the Ty output characters of the model's log-probabilities."""
        xs, ys = list(_strings_arg("x", x)), list(_strings_arg("y", y))
        if len(xs) != len(ys):
            raise ValueError(f"x and y must have the same length, got {len(xs)} and {len(ys)}")
        ids = D.encode_machine(ys)
        log_probs = self.output_log_probs(xs)
        return np.take_along_axis(log_probs, ids[:, :, None], axis=-1)[..., 0].sum(axis=1)

    def beam_search(self, x: Sequence[str], *, beam_width: int, length_penalty: float = 0.0) -> list[str]:
        """The top hypothesis per input of a beam search of ``beam_width`` (every output has Ty characters,
        so the length penalty cannot change the ranking)."""
        beam_width = _positive_int("beam_width", beam_width)
        rows = self._search(list(_strings_arg("x", x)), beam_width, 1, float(length_penalty))
        return [D.decode_machine(row[0][0][None])[0] for row in rows]

    def output_length(self, y: str) -> int:
        return self.ty

    def evaluate(self, pairs: Sequence[tuple[str, str]]) -> float:
        """Exact-match accuracy (all Ty characters right) on (human date, ISO date) pairs."""
        pairs = _pairs(pairs)
        D.encode_machine([m for _, m in pairs])  # the labels must be ISO dates: a clear error, not 0% accuracy
        got = self.translate([h for h, _ in pairs])
        return float(np.mean([g == m for g, (_, m) in zip(got, pairs)]))

    def loss(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 512) -> float:
        """The training loss on ``pairs``: cross-entropy summed over the Ty outputs, mean over pairs."""
        pairs = _pairs(pairs)
        return float(
            self.model.evaluate(
                self.inputs([h for h, _ in pairs]),
                self.targets([m for _, m in pairs]),
                batch_size=_positive_int("batch_size", batch_size),
            )[0]
        )

    def count_params(self) -> int:
        return int(self.model.count_params())

    def summary(self, **kwargs: Any) -> None:
        self.model.summary(**kwargs)

    # ---------------------------------------------------------------- training
    def fit(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        epochs: int | None = 8,
        seconds: float | None = None,
        batch_size: int = 100,
        validation: Sequence[tuple[str, str]] | None = None,
        restore_best: bool = True,
        learning_rate: Any = None,
        seed: int | None = 0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> DateTrainingHistory:
        """Train with the engine's ``model.fit`` on (human date, ISO date) pairs (Adam, batches of 100).

        Stops after ``epochs`` passes or ``seconds`` of training, whichever comes first (at least one must
        be given).  ``learning_rate`` (a float or a ``seqcore.optim`` schedule, read at the optimizer's
        step count) replaces the model's from now on; None keeps it.  ``callback(step, loss)`` runs after
        every step and may return True to stop.  With ``validation`` pairs the exact-match accuracy is
        measured after every epoch (and at the end) and, with ``restore_best``, the model is left with the
        weights of its best measurement."""
        pairs = _pairs(pairs)
        val = None if validation is None else _pairs(validation, "validation")
        batch_size = _positive_int("batch_size", batch_size)
        if epochs is None and seconds is None:
            raise ValueError("fit: give epochs, seconds or both")
        epochs = None if epochs is None else _positive_int("epochs", epochs)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf
        ):
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        if learning_rate is not None:
            self.model.optimizer.learning_rate = learning_rate  # checked by the optimizer's setter
            self.learning_rate = learning_rate
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)  # the engine shuffles with seqcore's generator
        xs, ys = self.inputs([h for h, _ in pairs]), self.targets([m for _, m in pairs])
        history = DateTrainingHistory()
        start = time.perf_counter()
        deadline = None if seconds is None else start + float(seconds)
        stepper = _Stepper(history, deadline, callback, len(pairs), batch_size)
        best: tuple[float, list[np.ndarray]] | None = None

        def validate() -> None:
            nonlocal best
            if val is None:
                return
            score = self.evaluate(val)
            history.val_accuracy.append((history.steps, score))
            if best is None or score >= best[0]:  # ties go to the later, better-trained weights
                best = (score, self.model.get_weights())

        while epochs is None or history.epochs < epochs:
            self.model.fit(xs, ys, batch_size=batch_size, epochs=1, verbose=0, callbacks=[stepper])
            if self.model.stop_training:
                break
            history.epochs += 1
            validate()
        history.seconds = time.perf_counter() - start
        if val is not None and (not history.val_accuracy or history.val_accuracy[-1][0] != history.steps):
            validate()
        if best is not None:
            if restore_best:
                self.model.set_weights(best[1])
                history.best_val_accuracy = best[0]
            else:
                history.best_val_accuracy = history.val_accuracy[-1][1]
        return history

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {
            "tx": self.tx,
            "ty": self.ty,
            "n_a": N_A,
            "n_s": N_S,
            "human_vocab": list(self.human_vocab),
            "machine_vocab": list(self.machine_vocab),
        }

    def save(self, path: Any, *, dtype: Any = "float32") -> None:
        """One checksummed safetensors file (written atomically): the config and the weights."""
        save_model_file(
            path, self.model, fmt=FORMAT, version=FORMAT_VERSION, config=self.config(), dtype=dtype, extra={}
        )

    @classmethod
    def load(cls, path: Any) -> DateTranslator:
        """A model written by ``save``.  A damaged file raises ``seqcore.CorruptFileError``; a file of
        another kind, or one made for other vocabularies or sizes, a ``ValueError``."""
        cfg, weights = read_model_file(path, fmt=FORMAT, kind="DateTranslator")
        model = cls(seed=None)
        expected = model.config()
        if cfg != expected:
            differ = sorted(k for k in set(cfg) | set(expected) if cfg.get(k) != expected.get(k))
            raise ValueError(f"load: {str(path)!r} was made for another configuration ({', '.join(differ)} differ)")
        set_model_weights(model.model, weights, path, "DateTranslator")
        return model

    @classmethod
    def pretrained(cls) -> DateTranslator:
        """The model that ships with seqcore (loaded once per process and shared: do not train it; train
        ``DateTranslator.load(SHIPPED)`` for a private copy)."""
        return _pretrained()


@lru_cache(maxsize=1)
def _pretrained() -> DateTranslator:
    if not SHIPPED.is_file():
        raise FileNotFoundError(f"DateTranslator.pretrained: the shipped file {str(SHIPPED)!r} is missing")
    return DateTranslator.load(SHIPPED)
