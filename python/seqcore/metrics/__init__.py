"""seqcore.metrics: stateful Keras-style metrics over NumPy arrays, and BLEU.

``keras``: the accuracy family and ``Mean`` as Keras defines them (``update_state`` /
``result`` / ``reset_state``), looked up by name with ``get``.
``bleu_score``: corpus and sentence BLEU (``bleu``, ``sentence_bleu``) equal to sacrebleu's
``corpus_bleu`` / ``sentence_bleu``, with tokenisation and n-gram counting in the ``bleu_stats`` kernel.
The module is not named ``bleu`` so that ``seqcore.metrics.bleu`` is unambiguously the function.
``detection``: precision / recall / F1 of a detector frame by frame (``frame_scores``) and event by event
within a time tolerance (``event_scores``), for trigger-word detection.
``ner``: entity-level precision / recall / F1 and the classification report exactly as ``seqeval`` computes them
(``f1_score``, ``classification_report``, ``get_entities``; default and strict modes).
``squad``: SQuAD v1.1 exact match and F1 with the official answer normalisation (``squad_evaluate``;
``squad.exact_match`` / ``squad.f1`` per answer).
"""

from __future__ import annotations

from . import ner, squad
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
from .ner import (
    accuracy_score,
    classification_report,
    f1_score,
    get_entities,
    ner_scores,
    precision_score,
    recall_score,
)
from .squad import normalize_answer, squad_evaluate

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
    "accuracy_score",
    "binary_accuracy",
    "bleu",
    "categorical_accuracy",
    "classification_report",
    "event_scores",
    "f1_score",
    "frame_scores",
    "get",
    "get_entities",
    "match_events",
    "ner",
    "ner_scores",
    "normalize_answer",
    "precision_score",
    "recall_score",
    "score_from_stats",
    "sentence_bleu",
    "sentence_bleu_scores",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "squad",
    "squad_evaluate",
    "top_k_categorical_accuracy",
]
