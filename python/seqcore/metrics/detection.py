"""Precision, recall and F1 of a detector, frame by frame and event by event (trigger-word detection).

``frame_scores`` compares the thresholded output steps with the 0/1 labels, every step of every clip
counted once.  ``event_scores`` compares detection times with the times the true events (trigger
words) ended: a detection at ``t`` can claim a true end ``e`` when ``0 <= t - e <= tolerance`` (the
detector may only fire after it has heard the word, and no later than ``tolerance`` seconds after);
each true event is claimed by at most one detection and each detection claims at most one event.
Detections that claim nothing are false positives, events nobody claimed are misses.

Empty cases, so that every score is defined: precision is 1 when nothing was predicted (no false
claims were made) and recall is 1 when there was nothing to find (nothing was missed); F1 is their
harmonic mean, 0 when both are 0.  So a clip with no trigger word and no detection scores 1/1/1,
detections where there was nothing to find score precision 0 (F1 0), and finding nothing where there
was something scores recall 0 (F1 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["DetectionScores", "event_scores", "frame_scores", "match_events"]


@dataclass(frozen=True)
class DetectionScores:
    """Counts and scores of a detector: ``tp`` true positives (frames, or detections matched to a true
    event), ``fp`` false positives, ``fn`` misses; precision, recall and F1 follow the module's rules
    for empty cases."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        predicted = self.tp + self.fp
        return 1.0 if predicted == 0 else self.tp / predicted

    @property
    def recall(self) -> float:
        actual = self.tp + self.fn
        return 1.0 if actual == 0 else self.tp / actual

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0.0 else 2.0 * p * r / (p + r)

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f} "
            f"({self.tp} hits, {self.fp} false alarms, {self.fn} misses)"
        )


def _real(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not low <= out <= high:
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {value!r}")
    return out


def _steps(name: str, value: Any) -> np.ndarray:
    """A float64 array of per-step values; a trailing axis of 1 (Keras's [N, Ty, 1]) is dropped."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise ValueError(f"{name} must be a rectangular array of numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim >= 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def frame_scores(y_true: Any, y_pred: Any, threshold: float = 0.5) -> DetectionScores:
    """Frame-level counts and scores: step t is predicted positive when ``y_pred > threshold`` (the
    course's chime rule) and labelled positive when ``y_true >= 0.5`` (labels are 0/1).

    y_true, y_pred: the same shape, e.g. [N, Ty] or Keras's [N, Ty, 1] (a trailing axis of 1 may be
    on either side), or [Ty] for one clip.
    """
    t, p = _steps("y_true", y_true), _steps("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    threshold = _real("threshold", threshold, 0.0, 1.0)
    truth, pred = t >= 0.5, p > threshold
    tp = int(np.count_nonzero(truth & pred))
    return DetectionScores(tp=tp, fp=int(np.count_nonzero(pred)) - tp, fn=int(np.count_nonzero(truth)) - tp)


def _times(name: str, value: Any) -> list[float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of times in seconds, got {type(value).__name__}")
    out = []
    for k, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (Real, np.floating, np.integer)):
            raise TypeError(f"{name}[{k}] must be a time in seconds, got {type(v).__name__}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name}[{k}] is {float(v)}: times must be finite")
        out.append(float(v))
    return out


def _clips(name: str, value: Any) -> list[list[float]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list with one list of times per clip, got {type(value).__name__}")
    clips = list(value)
    if clips and all(isinstance(v, (Real, np.floating, np.integer)) for v in clips):
        raise TypeError(f"{name} must be a list with one list of times per clip, got a flat list (wrap it: [times])")
    return [_times(f"{name}[{k}]", clip) for k, clip in enumerate(clips)]


def match_events(true_times: Sequence[float], detections: Sequence[float], tolerance: float = 0.5) -> list[int | None]:
    """For each detection (in the order given), the index of the true event it claims, or None.

    A detection at t may claim a true end e when 0 <= t - e <= tolerance.  Detections are taken in
    time order and each claims the earliest unclaimed end it may: all windows [e, e + tolerance] have
    the same length, so the earliest-ending open window first gives the most matches possible."""
    truth = _times("true_times", true_times)
    dets = _times("detections", detections)
    tolerance = _real("tolerance", tolerance, 0.0, math.inf)
    ends = sorted(range(len(truth)), key=lambda i: truth[i])
    claimed = [False] * len(truth)
    out: list[int | None] = [None] * len(dets)
    first = 0  # ends before this position are too old for every later detection
    for d in sorted(range(len(dets)), key=lambda i: dets[i]):
        t = dets[d]
        while first < len(ends) and t - truth[ends[first]] > tolerance:
            first += 1
        for pos in range(first, len(ends)):
            e = ends[pos]
            if truth[e] > t:
                break
            if not claimed[e]:
                claimed[e] = True
                out[d] = e
                break
    return out


def event_scores(
    true_times: Sequence[Sequence[float]], detections: Sequence[Sequence[float]], tolerance: float = 0.5
) -> DetectionScores:
    """Event-level counts and scores summed over clips.

    true_times: per clip, the times (seconds) at which each true trigger word ended.
    detections: per clip, the detection times (seconds), e.g. from ``TriggerWordDetector.detect``.
    tolerance: how long after a word's end a detection still counts for it (seconds, >= 0).
    """
    truth, dets = _clips("true_times", true_times), _clips("detections", detections)
    if len(truth) != len(dets):
        raise ValueError(f"true_times and detections must have one entry per clip, got {len(truth)} and {len(dets)}")
    tolerance = _real("tolerance", tolerance, 0.0, math.inf)
    tp = fp = fn = 0
    for t, d in zip(truth, dets):
        hits = sum(m is not None for m in match_events(t, d, tolerance))
        tp, fp, fn = tp + hits, fp + len(d) - hits, fn + len(t) - hits
    return DetectionScores(tp=tp, fp=fp, fn=fn)
