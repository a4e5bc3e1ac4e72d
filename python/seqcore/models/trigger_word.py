"""The course's trigger-word detector: spectrogram frames in, "the word just ended" probabilities out.

Architecture (``TriggerWordDetector.model``, an ordinary ``nn.Model``, 523,329 parameters with the
defaults): log-power spectrogram frames [N, T, 101] (``seqcore.audio.features``; 5511 frames for a 10 s
clip) -> ``Conv1D(196, 15, strides=4)`` -> ``BatchNormalization`` -> ReLU -> ``Dropout`` ->
``GRU(128, return_sequences=True)`` -> ``Dropout`` -> ``BatchNormalization`` -> ``GRU(128,
return_sequences=True)`` -> ``Dropout`` -> ``BatchNormalization`` -> ``Dropout`` ->
``TimeDistributed(Dense(1, sigmoid))`` -> [N, (T - 15) // 4 + 1, 1], i.e. 1375 output steps for 10 s.
Binary cross-entropy, Adam.  The input's time axis is left open (``Input(shape=(None, 101))``), so the
same weights run on any number of frames; the parameter count does not depend on it.

Time.  Output step k has heard spectrogram frames 4k .. 4k + 14, i.e. samples [320k, 320k + 1320) at
44.1 kHz; its time is the end of that audio, ``(320 k + 1320) / 44100`` seconds (``step_times``).  The
course places step k at ``k * 10 / 1375`` s; within a 10 s clip the two differ by 7 to 30 ms (ours is
later), and ours stays right on clips of any length, where the course's drifts by 0.23%.

Clips of any length (``probabilities``): the clip is resampled to 44.1 kHz (``seqcore.audio.load_clip``).
Up to 10 s it is padded with zeros to 10 s and the outputs are cut back to the steps whose audio lies
inside the clip: the convolution only looks at its own 15 frames and the GRUs run forwards, so padding
after the end changes no earlier output.  Longer clips run as 10 s windows (1375 steps) that start
every ``HOP_STEPS`` = 1031 steps (7.48 s); each window after the first discards its first
``WARMUP_STEPS`` = 344 outputs (2.5 s), during which its GRUs, started from zero, settle on the audio,
and keeps the rest, so the stitched sequence covers every step once.  Windows start on whole output
steps (multiples of 320 samples), so every frame and convolution step is the one a single pass over
the whole clip would compute; only the GRU state differs, and 2.5 s is ample for it to forget where it
started.  A clip shorter than one step's 1320 samples (30 ms; this includes anything shorter than the
spectrogram's 200-sample frame) gives empty arrays and no detections, not an error.

Detection (``detect`` / ``fire_steps``) is the course's chime rule: walk the steps with a counter that
starts at 0 and grows by one each step; a step whose probability is above the threshold fires when the
counter exceeds ``refractory_steps`` (75), and firing resets the counter.  So firings are at least 76
steps (0.55 s) apart, and, as in the course, nothing fires in the first 75 steps of a clip, where no
trigger word can have ended yet and the GRUs are still warming up.

``pretrained()`` loads ``models/data/trigger_word.safetensors`` when it ships with seqcore.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from .._atomic import CorruptFileError
from .._checks import positive_int as _positive_int
from ..audio.constants import CLIP_SAMPLES, N_FREQ, NFFT, NOVERLAP, REFRACTORY_STEPS, SAMPLE_RATE, TX, TY
from ..metrics.detection import DetectionScores, event_scores, frame_scores
from ._model_file import damaged, read_model_file, save_model_file, set_model_weights

__all__ = [
    "SHIPPED",
    "TriggerEvaluation",
    "TriggerWordDetector",
    "fire_steps",
    "output_steps",
    "step_times",
]

FORMAT = "seqcore.trigger_word"
FORMAT_VERSION = "1"
SHIPPED = Path(__file__).resolve().parent / "data" / "trigger_word.safetensors"

KERNEL, STRIDE = 15, 4  # the course's Conv1D: these fix Ty = 1375 for Tx = 5511, so they are not options
FRAME_HOP = NFFT - NOVERLAP  # 80 samples between spectrogram frames
STEP_SAMPLES = FRAME_HOP * STRIDE  # 320 samples between output steps
STEP_SPAN = NOVERLAP + FRAME_HOP * KERNEL  # 1320 samples heard by one output step
WINDOW_STEPS = TY  # a 10 s window: TX frames, TY steps
WARMUP_STEPS = 344  # ~2.5 s discarded at the start of every window but the first
HOP_STEPS = WINDOW_STEPS - WARMUP_STEPS  # 1031 steps (~7.48 s) between window starts
PREDICT_BATCH = 8  # windows per forward pass (8 x 2.2 MB of features)


def output_steps(n_samples: int) -> int:
    """Output steps for a clip of ``n_samples`` samples at 44.1 kHz: one per 320 samples once the first
    step's 1320 have been heard; 0 for shorter clips (1375 for 10 s)."""
    if n_samples < STEP_SPAN:
        return 0
    frames = (n_samples - NOVERLAP) // FRAME_HOP
    return (frames - KERNEL) // STRIDE + 1


def step_times(n_steps: int) -> np.ndarray:
    """The time (seconds) of output steps 0 .. n_steps - 1: the end of the audio each has heard."""
    return (np.arange(n_steps, dtype=np.float64) * STEP_SAMPLES + STEP_SPAN) / SAMPLE_RATE


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"threshold must be a number in [0, 1], got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1], got {value!r}")
    return float(value)


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return int(value)


def fire_steps(probs: Any, *, threshold: float = 0.5, refractory_steps: int = REFRACTORY_STEPS) -> list[int]:
    """The output steps at which the course's chime rule fires (see the module doc).

    probs: [T] probabilities of one clip (a trailing axis of 1 is accepted)."""
    p = np.asarray(probs)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1 or p.dtype.kind not in "biuf":
        raise ValueError(f"probs must be one clip's probabilities, shape [T], got shape {p.shape} ({p.dtype})")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs holds NaN or infinite values")
    threshold = _threshold(threshold)
    refractory_steps = _non_negative_int("refractory_steps", refractory_steps)
    fired: list[int] = []
    last = -1  # the course's counter at step k is k - last: it starts at 0 and counts step 0 as 1
    for k in np.flatnonzero(p > threshold).tolist():  # only steps above threshold can fire
        if k - last > refractory_steps:
            fired.append(k)
            last = k
    return fired


@dataclass(frozen=True)
class TriggerEvaluation:
    """What ``TriggerWordDetector.evaluate_events`` measured: ``frame`` compares each output step above
    ``threshold`` with the 0/1 labels; ``event`` matches detection times (the chime rule) with the true
    trigger words' ends within ``tolerance`` seconds after (``seqcore.metrics.detection``)."""

    frame: DetectionScores
    event: DetectionScores
    threshold: float
    tolerance: float
    clips: int
    detections: list[list[float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "clips": self.clips,
            "threshold": self.threshold,
            "tolerance": self.tolerance,
            "frame": self.frame.as_dict(),
            "event": self.event.as_dict(),
        }

    def summary(self) -> str:
        return (
            f"{self.clips} clips (threshold {self.threshold:g}, tolerance {self.tolerance:g} s)\n"
            f"  frames: {self.frame}\n"
            f"  events: {self.event}"
        )


class _Deadline(nn.callbacks.Callback):
    """Stops the engine's fit once ``seconds`` have passed (checked after every step)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline = time.perf_counter() + seconds

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if time.perf_counter() >= self.deadline:
            self.model.stop_training = True


class TriggerWordDetector:
    """The course's trigger-word detector (see the module doc).

    word: the trigger word the model detects (kept in the saved file; the network does not use it).
    seed: initial weights (``seqcore.set_seed``); None leaves seqcore's generator as it is.
    learning_rate: Adam's rate, a float or a ``seqcore.optim`` schedule.
    dropout: the rate of the four Dropout layers (the course's 0.8: 80% of the activations dropped).
    filters, units: the Conv1D's filters and each GRU's units (the course's 196 and 128; smaller ones
        make fast models for tests and experiments).
    """

    tx, ty, n_freq = TX, TY, N_FREQ

    def __init__(
        self,
        word: str = "activate",
        *,
        seed: int | None = 0,
        learning_rate: Any = 1e-3,
        dropout: float = 0.8,
        filters: int = 196,
        units: int = 128,
    ) -> None:
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"word must be a non-empty str, got {word!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.word = word.strip()
        self.dropout = float(dropout)
        self.filters = _positive_int("filters", filters)
        self.units = _positive_int("units", units)
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        rate = self.dropout
        x = nn.Input(shape=(None, N_FREQ), name="spectrogram")
        h = nn.Conv1D(self.filters, KERNEL, strides=STRIDE, name="conv")(x)
        h = nn.BatchNormalization(name="conv_norm")(h)
        h = nn.Activation("relu", name="conv_relu")(h)
        h = nn.Dropout(rate, name="conv_dropout")(h)
        h = nn.GRU(self.units, return_sequences=True, name="gru_1")(h)
        h = nn.Dropout(rate, name="gru_1_dropout")(h)
        h = nn.BatchNormalization(name="gru_1_norm")(h)
        h = nn.GRU(self.units, return_sequences=True, name="gru_2")(h)
        h = nn.Dropout(rate, name="gru_2_dropout")(h)
        h = nn.BatchNormalization(name="gru_2_norm")(h)
        h = nn.Dropout(rate, name="output_dropout")(h)
        y = nn.TimeDistributed(nn.Dense(1, activation="sigmoid", name="dense"), name="output")(h)
        self.model = nn.Model(x, y, name="trigger_word_detector")
        self.learning_rate = learning_rate
        self.model.compile(
            optimizer=optim.Adam(learning_rate=learning_rate), loss="binary_crossentropy", metrics=["accuracy"]
        )

    # ---------------------------------------------------------------- inputs
    def _features_array(self, X: Any, name: str = "X") -> np.ndarray:
        if isinstance(X, (str, bytes)) or X is None:
            raise TypeError(f"{name} must be spectrogram features [N, T, {N_FREQ}], got {type(X).__name__}")
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 3 or arr.shape[2] != N_FREQ:
            hint = " (one clip: add the batch axis, X[None])" if arr.ndim == 2 else ""
            raise ValueError(f"{name} must have shape [N, T, {N_FREQ}], got {arr.shape}{hint}")
        if arr.shape[1] < KERNEL:
            raise ValueError(f"{name} must have at least {KERNEL} frames (one output step), got {arr.shape[1]}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} holds NaN or infinite values")
        return arr

    def _labels_array(self, Y: Any, n: int, steps: int, name: str = "Y") -> np.ndarray:
        arr = np.asarray(Y)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold 0/1 labels, got dtype {arr.dtype}")
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.shape != (n, steps, 1):
            raise ValueError(f"{name} must have shape [{n}, {steps}, 1] (or [{n}, {steps}]), got {np.shape(Y)}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)) or arr.min(initial=0.0) < 0.0 or arr.max(initial=0.0) > 1.0:
            raise ValueError(f"{name} must hold labels in [0, 1]")
        return arr

    # ---------------------------------------------------------------- predictions
    def predict_proba(self, X: Any, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Probabilities [N, steps] (float32; steps = (T - 15) // 4 + 1, 1375 for 10 s) of features
        [N, T, 101], in inference mode (no dropout, BatchNormalization's moving statistics)."""
        arr = self._features_array(X)
        batch_size = _positive_int("batch_size", batch_size)
        if arr.shape[0] == 0:
            return np.zeros((0, (arr.shape[1] - KERNEL) // STRIDE + 1), dtype=np.float32)
        return np.asarray(self.model.predict(arr, batch_size=batch_size), dtype=np.float32)[..., 0]

    def probabilities(self, samples: Any, sample_rate: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times [M] float64 seconds, probabilities [M] float32) for a mono clip of any length.

        samples: a 1-D array of samples at ``sample_rate`` Hz, or a path to a WAV file (then sample_rate
        may be None); resampled to 44.1 kHz.  See the module doc for the padding of short clips, the
        sliding windows of long ones and the empty result of clips under 30 ms."""
        from ..audio.features import features_batch  # noqa: PLC0415
        from ..audio.wav import load_clip  # noqa: PLC0415

        clip = np.asarray(load_clip(samples, sample_rate), dtype=np.float32)
        if clip.ndim != 1:
            raise ValueError(f"samples must be mono, shape [n]; got shape {clip.shape}")
        if not np.all(np.isfinite(clip)):
            raise ValueError("samples hold NaN or infinite values")
        steps = output_steps(clip.shape[0])
        if steps == 0:
            return np.zeros(0), np.zeros(0, dtype=np.float32)
        windows = 1 if steps <= WINDOW_STEPS else 1 + -(-(steps - WINDOW_STEPS) // HOP_STEPS)
        padded = np.zeros((windows - 1) * HOP_STEPS * STEP_SAMPLES + CLIP_SAMPLES, dtype=np.float32)
        padded[: clip.shape[0]] = clip[: padded.shape[0]]
        out = np.empty(windows * WINDOW_STEPS, dtype=np.float32)
        for first in range(0, windows, PREDICT_BATCH):
            starts = [w * HOP_STEPS * STEP_SAMPLES for w in range(first, min(first + PREDICT_BATCH, windows))]
            batch = features_batch([padded[s : s + CLIP_SAMPLES] for s in starts])
            probs = self.predict_proba(batch, batch_size=len(starts))
            for w, row in zip(range(first, first + len(starts)), probs):
                keep = 0 if w == 0 else WARMUP_STEPS
                out[w * HOP_STEPS + keep : w * HOP_STEPS + WINDOW_STEPS] = row[keep:]
        return step_times(steps), out[:steps].copy()

    def detect(
        self,
        samples: Any,
        sample_rate: int | None = None,
        *,
        threshold: float = 0.5,
        refractory_steps: int = REFRACTORY_STEPS,
    ) -> list[float]:
        """Times (seconds) at which the trigger word was detected in a clip of any length: the course's
        chime rule (``fire_steps``) on ``probabilities``."""
        threshold = _threshold(threshold)
        refractory_steps = _non_negative_int("refractory_steps", refractory_steps)
        times, probs = self.probabilities(samples, sample_rate)
        return [float(times[k]) for k in fire_steps(probs, threshold=threshold, refractory_steps=refractory_steps)]

    def evaluate_events(
        self,
        X: Any,
        Y: Any,
        trigger_ends: Any,
        *,
        threshold: float = 0.5,
        tolerance: float = 0.5,
        refractory_steps: int = REFRACTORY_STEPS,
        batch_size: int = PREDICT_BATCH,
    ) -> TriggerEvaluation:
        """Frame- and event-level precision/recall/F1 on features X [N, T, 101] of clips with labels
        Y [N, steps, 1] and, per clip, the times (seconds) at which each true trigger word ended.

        A detection (the chime rule at ``threshold``) counts for a word when it lies 0 to ``tolerance``
        seconds after the word's end; see ``seqcore.metrics.detection`` for matching and empty cases."""
        threshold = _threshold(threshold)
        probs = self.predict_proba(X, batch_size=batch_size)
        labels = self._labels_array(Y, probs.shape[0], probs.shape[1])
        ends = list(trigger_ends) if not isinstance(trigger_ends, (str, bytes)) else trigger_ends
        if not isinstance(ends, list) or len(ends) != probs.shape[0]:
            raise ValueError(
                f"trigger_ends must hold one list of times per clip ({probs.shape[0]} clips), "
                f"got {len(ends) if isinstance(ends, list) else type(trigger_ends).__name__}"
            )
        times = step_times(probs.shape[1])
        detections = [
            [float(times[k]) for k in fire_steps(row, threshold=threshold, refractory_steps=refractory_steps)]
            for row in probs
        ]
        return TriggerEvaluation(
            frame=frame_scores(labels, probs, threshold),
            event=event_scores(ends, detections, tolerance),
            threshold=threshold,
            tolerance=float(tolerance),
            clips=int(probs.shape[0]),
            detections=detections,
        )

    def init_output_bias(self, Y: Any) -> float:
        """Set the output Dense's bias to the log-odds of the fraction of ones in ``Y`` and return it.

        About 7% of the course's label steps are ones. From the course's zero bias (probability 0.5) Adam
        needs hundreds of steps only to learn that prior, moving the bias by about the learning rate per
        step; starting at the prior's log-odds skips that phase (the shipped model was trained this way)."""
        labels = np.asarray(Y, dtype=np.float64)
        if labels.size == 0 or not np.all(np.isfinite(labels)) or labels.min() < 0.0 or labels.max() > 1.0:
            raise ValueError("Y must be a non-empty array of labels in [0, 1]")
        p = float(np.clip(labels.mean(), 1e-4, 1.0 - 1e-4))
        bias = math.log(p / (1.0 - p))
        dense = self.model.get_layer("output").layer
        kernel, b = dense.get_weights()
        dense.set_weights([kernel, np.full_like(b, bias)])
        return bias

    def count_params(self) -> int:
        return int(self.model.count_params())

    def summary(self, **kwargs: Any) -> None:
        self.model.summary(**kwargs)

    # ---------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        Y: Any,
        *,
        epochs: int,
        batch_size: int = 16,
        validation_data: tuple[Any, Any] | None = None,
        seconds: float | None = None,
        verbose: int = 1,
        callbacks: list[Any] | None = None,
        learning_rate: Any = None,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> Any:
        """Train with the engine's ``model.fit`` (tape autograd, binary cross-entropy, Adam) on features
        X [N, T, 101] and labels Y [N, steps, 1]; returns the engine's ``History`` (``history.history``:
        loss, accuracy, and val_loss / val_accuracy with ``validation_data`` = (X_dev, Y_dev)).

        Stops after ``epochs`` passes, or earlier once ``seconds`` of training have passed (checked after
        every step).  verbose 1 shows the engine's progress bar.  ``learning_rate`` replaces the model's
        from now on (None keeps it); ``seed`` seeds the shuffling and dropout."""
        arr = self._features_array(X)
        if arr.shape[0] == 0:
            raise ValueError("X holds no clips: nothing to train on")
        steps = (arr.shape[1] - KERNEL) // STRIDE + 1
        labels = self._labels_array(Y, arr.shape[0], steps)
        epochs = _positive_int("epochs", epochs)
        batch_size = _positive_int("batch_size", batch_size)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_dev, Y_dev)")
            vx = self._features_array(validation_data[0], "validation_data X")
            vy = self._labels_array(
                validation_data[1], vx.shape[0], (vx.shape[1] - KERNEL) // STRIDE + 1, "validation_data Y"
            )
            val = (vx, vy)
        cbs = list(callbacks or [])
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, Real) or not 0 < float(seconds) < math.inf:
                raise ValueError(f"seconds must be a positive number, got {seconds!r}")
            cbs.append(_Deadline(float(seconds)))
        if learning_rate is not None:
            self.model.optimizer.learning_rate = learning_rate  # checked by the optimizer's setter
            self.learning_rate = learning_rate
        if seed is not None:
            from .._config import set_seed  # noqa: PLC0415

            set_seed(seed)
        return self.model.fit(
            arr,
            labels,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=cbs,
            validation_data=val,
            shuffle=shuffle,
        )

    # ---------------------------------------------------------------- files
    def config(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "filters": self.filters,
            "units": self.units,
            "kernel_size": KERNEL,
            "strides": STRIDE,
            "n_freq": N_FREQ,
            "dropout": self.dropout,
        }

    def save(self, path: Any, *, dtype: Any = "float32") -> None:
        """One checksummed safetensors file (written atomically): the config (with the word) and the
        weights, BatchNormalization's moving statistics included."""
        save_model_file(
            path,
            self.model,
            fmt=FORMAT,
            version=FORMAT_VERSION,
            config=self.config(),
            dtype=dtype,
            extra={"word": self.word},
        )

    @classmethod
    def load(cls, path: Any) -> TriggerWordDetector:
        """A model written by ``save``.  A damaged file raises ``seqcore.CorruptFileError``; a file of
        another kind or version a ``ValueError``."""
        kind = "TriggerWordDetector"
        cfg, weights = read_model_file(path, fmt=FORMAT, kind=kind, version=FORMAT_VERSION)
        try:
            word, dropout = str(cfg["word"]), float(cfg["dropout"])
            filters, units = int(cfg["filters"]), int(cfg["units"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{damaged(path, kind)} ({exc})") from None
        fixed = {"kernel_size": KERNEL, "strides": STRIDE, "n_freq": N_FREQ}
        differ = sorted(k for k, v in fixed.items() if cfg.get(k) != v)
        if differ:
            raise ValueError(f"load: {str(path)!r} was made for another architecture ({', '.join(differ)} differ)")
        try:
            model = cls(word, seed=None, dropout=dropout, filters=filters, units=units)
        except ValueError as exc:
            raise CorruptFileError(f"{damaged(path, kind)} ({exc})") from None
        set_model_weights(model.model, weights, path, kind)
        return model

    @classmethod
    def pretrained(cls) -> TriggerWordDetector:
        """The model that ships with seqcore (loaded once per process and shared: do not train it; train
        ``TriggerWordDetector.load(SHIPPED)`` for a private copy).  FileNotFoundError until it ships."""
        return _pretrained()


@lru_cache(maxsize=1)
def _pretrained() -> TriggerWordDetector:
    if not SHIPPED.is_file():
        raise FileNotFoundError(
            f"TriggerWordDetector.pretrained: the shipped file {str(SHIPPED)!r} is missing; "
            "train a model with `seqcore trigger train` and load it with TriggerWordDetector.load(path)"
        )
    return TriggerWordDetector.load(SHIPPED)
