"""seqcore.metrics: stateful Keras-style metrics over NumPy arrays, and BLEU.

``keras``: the accuracy family and ``Mean`` as Keras defines them (``update_state`` /
``result`` / ``reset_state``), looked up by name with ``get``.
``bleu_score``: corpus and sentence BLEU (``bleu``, ``sentence_bleu``) equal to sacrebleu's
``corpus_bleu`` / ``sentence_bleu``, with tokenisation and n-gram counting in the ``bleu_stats`` kernel.
The module is not named ``bleu`` so that ``seqcore.metrics.bleu`` is unambiguously the function.
``detection``: precision / recall / F1 of a detector frame by frame (``frame_scores``) and event by event
within a time tolerance (``event_scores``), for trigger-word detection.
"""

from __future__ import annotations

from .bleu_score import BLEUScore, bleu, score_from_stats, sentence_bleu, sentence_bleu_scores
from .detection import DetectionScores, event_scores, frame_scores, match_events
from .keras import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanMetricWrapper,
    Metric,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    get,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)

__all__ = [
    "Accuracy",
    "BLEUScore",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "DetectionScores",
    "Mean",
    "MeanMetricWrapper",
    "Metric",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "bleu",
    "categorical_accuracy",
    "event_scores",
    "frame_scores",
    "get",
    "match_events",
    "score_from_stats",
    "sentence_bleu",
    "sentence_bleu_scores",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
