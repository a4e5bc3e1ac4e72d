"""seqcore.metrics.detection: frame- and event-level precision/recall/F1 on hand-made cases and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqcore.metrics import DetectionScores, event_scores, frame_scores, match_events


def test_scores_from_counts():
    s = DetectionScores(tp=3, fp=1, fn=2)
    assert s.precision == 0.75 and s.recall == 0.6
    assert math.isclose(s.f1, 2 * 0.75 * 0.6 / 1.35)
    assert s.as_dict() == {"tp": 3, "fp": 1, "fn": 2, "precision": 0.75, "recall": 0.6, "f1": s.f1}
    assert "precision 0.750, recall 0.600" in str(s) and "3 hits, 1 false alarms, 2 misses" in str(s)


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "p", "r", "f1"),
    [
        (0, 0, 0, 1.0, 1.0, 1.0),  # nothing to find, nothing claimed: perfect
        (0, 2, 0, 0.0, 1.0, 0.0),  # false alarms where there was nothing
        (0, 0, 3, 1.0, 0.0, 0.0),  # found nothing of something
        (0, 1, 1, 0.0, 0.0, 0.0),  # both zero: F1 0, not NaN
        (2, 0, 0, 1.0, 1.0, 1.0),
    ],
)
def test_empty_cases_are_defined(tp, fp, fn, p, r, f1):
    s = DetectionScores(tp=tp, fp=fp, fn=fn)
    assert (s.precision, s.recall, s.f1) == (p, r, f1)


def test_frame_scores_hand_made():
    y_true = np.array([[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=np.float32)
    y_pred = np.array([[0.1, 0.6, 0.9, 0.4, 0.7, 0.2], [0.0, 0.0, 0.8, 0.0, 0.0, 0.5]])
    s = frame_scores(y_true, y_pred)  # predicted: (0,1) (0,2) (0,4) (1,2); 0.5 is not above 0.5
    assert (s.tp, s.fp, s.fn) == (3, 1, 2)
    # Keras's [N, Ty, 1] on either side, and one clip [Ty]
    assert frame_scores(y_true[..., None], y_pred) == s
    assert frame_scores(y_true, y_pred[..., None]) == s
    assert frame_scores(y_true[0], y_pred[0]) == DetectionScores(tp=2, fp=1, fn=1)
    # the threshold is strict, as the course's chime rule
    assert frame_scores([1, 1], [0.5, 0.50001]) == DetectionScores(tp=1, fp=0, fn=1)
    assert frame_scores([1, 0], [0.3, 0.3], threshold=0.2) == DetectionScores(tp=1, fp=1, fn=0)


def test_frame_scores_all_negative():
    assert frame_scores(np.zeros((2, 5)), np.zeros((2, 5))) == DetectionScores(0, 0, 0)
    assert frame_scores(np.zeros((2, 5)), np.zeros((2, 5))).f1 == 1.0
    assert frame_scores(np.zeros(5), np.ones(5)).precision == 0.0


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (([0, 1], [0.1]), ValueError, "same shape"),
        (([0, 1], [0.1, float("nan")]), ValueError, "NaN"),
        (([0, 1], [0.1, 0.2], 1.5), ValueError, "threshold"),
        (([0, 1], [0.1, 0.2], "0.5"), TypeError, "threshold"),
        (("01", [0.1, 0.2]), TypeError, "y_true"),
        (([0, 1], ["a", "b"]), TypeError, "y_pred"),
        (([[0, 1], [0]], [0.1, 0.2]), ValueError, "rectangular"),
    ],
)
def test_frame_scores_bad_input(args, error, words):
    with pytest.raises(error, match=words):
        frame_scores(*args)


def test_event_scores_hand_made():
    truth = [[1.0, 4.0, 7.0], [2.0], []]
    dets = [
        [
            1.2,
            1.4,
            4.6,
            7.0,
        ],  # 1.2 -> 1.0; 1.4 has no word left (1.0 is taken): FP; 4.6 is too late (> 0.5): FP; 7.0 at 0
        [1.9],  # before the word ended: FP, and the word is missed
        [3.0],  # nothing to find: FP
    ]
    s = event_scores(truth, dets, tolerance=0.5)
    assert (s.tp, s.fp, s.fn) == (2, 4, 2)
    assert event_scores(truth, dets, tolerance=0.6) == DetectionScores(tp=3, fp=3, fn=1)


def test_event_scores_each_word_matches_once_and_matching_is_maximal():
    # 1.45 may claim 1.0 or 1.4; greedy by earliest end lets 1.6 (only able to claim 1.4) match too
    assert match_events([1.0, 1.4], [1.45, 1.6], tolerance=0.5) == [0, 1]
    assert match_events([1.4, 1.0], [1.6, 1.45], tolerance=0.5) == [0, 1]  # any order in, indices into the input
    assert match_events([1.0], [1.1, 1.2, 1.3], tolerance=0.5) == [0, None, None]
    assert match_events([2.0, 2.0], [2.0, 2.5], tolerance=0.5) == [0, 1]  # both edges count
    assert match_events([2.0], [2.5000001], tolerance=0.5) == [None]
    assert match_events([], [1.0]) == [None] and match_events([1.0], []) == []


def test_event_scores_empty():
    assert event_scores([], []) == DetectionScores(0, 0, 0)
    assert event_scores([[], []], [[], []]).f1 == 1.0
    assert event_scores([[1.0]], [[]]) == DetectionScores(tp=0, fp=0, fn=1)
    assert event_scores([[]], [[1.0]]) == DetectionScores(tp=0, fp=1, fn=0)


def test_event_scores_accepts_arrays():
    s = event_scores([np.array([1.0, 2.0])], (np.array([1.1, 2.1]),))
    assert s == DetectionScores(tp=2, fp=0, fn=0)


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (([[1.0]], [[1.0], []]), ValueError, "one entry per clip"),
        (([1.0, 2.0], [[1.0], []]), TypeError, "flat list"),
        (([[1.0]], [[float("nan")]]), ValueError, "finite"),
        (([[1.0]], [["1.0"]]), TypeError, r"detections\[0\]\[0\]"),
        (([[1.0]], [[1.0]], -0.1), ValueError, "tolerance"),
        (("1.0", [[1.0]]), TypeError, "true_times"),
        (([[1.0]], None), TypeError, "detections"),
    ],
)
def test_event_scores_bad_input(args, error, words):
    with pytest.raises(error, match=words):
        event_scores(*args)
