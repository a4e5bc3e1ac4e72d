"""The course's applications, each a small model built from ``nn``, ``text`` and ``music``.

- ``CharLM``: character-level language model (Dinosaur Island, "write like Shakespeare").
- ``EmojifierV1`` / ``EmojifierV2``: the course's sentence -> emoji classifiers over GloVe vectors.
- ``MusicLSTM``: the course's jazz-solo LSTM (one LSTM cell unrolled over a window) and its sampler.
- ``DateTranslator``: the course's attention model translating human-readable dates to ISO dates.
- ``TriggerWordDetector``: the course's Conv1D + GRU trigger-word detector over spectrogram frames.
- ``DateTransformer``: the course's encoder-decoder Transformer on the same date-translation task.
- ``TransformerCharLM``: a causal (GPT-style) Transformer character model, ``CharLM``'s data and loss.
- ``train_ner`` / ``load_ner_tagger``: named-entity recognition, a pretrained BERT (all-MiniLM-L6-v2) fine-tuned.
- ``train_qa`` / ``load_qa_reader``: extractive question answering, the same encoder fine-tuned.
"""

from __future__ import annotations

from .charlm import CharLM, TrainingHistory
from .date_translator import DateTrainingHistory, DateTranslator
from .emojifier import EmojifierV1, EmojifierV2, load_emojifier
from .music_lstm import MusicLSTM
from .ner_tagger import NER_RECIPE, evaluate_ner, load_ner_tagger, train_ner
from .qa_reader import QA_RECIPE, evaluate_qa, load_qa_reader, train_qa
from .transformer_charlm import TransformerCharLM
from .transformer_dates import DateTransformer
from .trigger_word import TriggerEvaluation, TriggerWordDetector

__all__ = [
    "CharLM",
    "EmojifierV1",
    "EmojifierV2",
    "MusicLSTM",
    "TrainingHistory",
    "load_emojifier",
    "DateTrainingHistory",
    "DateTranslator",
    "DateTransformer",
    "TransformerCharLM",
    "TriggerEvaluation",
    "TriggerWordDetector",
    "NER_RECIPE",
    "QA_RECIPE",
    "evaluate_ner",
    "evaluate_qa",
    "load_ner_tagger",
    "load_qa_reader",
    "train_ner",
    "train_qa",
]
