"""Extractive question answering by fine-tuning a pretrained BERT (all-MiniLM-L6-v2 by default): ``seqcore qa``.

``train_qa()`` fine-tunes ``pretrained.SpanQA`` with ``QA_RECIPE`` on generated passages and questions
(``datasets.qa_examples``) or on your own SQuAD v1.1 examples (``read_squad``), and scores it with SQuAD's exact
match and F1 (percentages) on questions it never saw: the generated "test" split, whose passage and question
wordings differ from training's, or the test examples given.  ``save_pretrained(dir)`` writes a folder that
Hugging Face's ``AutoModelForQuestionAnswering`` loads; ``load_qa_reader()`` reads it back, by default from
``default_model_dir("qa")`` ($SEQCORE_HOME/models/qa-minilm).

    model, report = train_qa(train_size=500, epochs=1.0)
    model.answer("Where was Laura Diaz born?", "Laura Diaz was born in Boston in 1971. ...")
    # {"answer": "Boston", "start": 23, "end": 29, "score": 15.2}
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from .._config import set_seed
from ..datasets.squad import QAExample
from ..pretrained.bert import BertModel
from ..pretrained.heads import SpanQA
from ..pretrained.hub import DEFAULT_MODEL
from ._home import saved_model_dir
from .ner_tagger import _capped_length, _check_sizes, _fine_tune_config, _hold_out, _load_encoder, _recipe_with

__all__ = ["QA_RECIPE", "evaluate_qa", "load_qa_reader", "train_qa"]

#: the default training recipe (the coordinator measures and tunes these numbers; the keys are the API).
#: train_size / test_size: generated questions; max_length: tokens a window; doc_stride: tokens consecutive windows
#: of a long passage share; max_answer_length: the longest answer in tokens; the rest: ``FineTuneConfig``.
#: found by a short search (docs/pretrained.md)
QA_RECIPE: dict[str, Any] = {
    "train_size": 6000,
    "test_size": 300,
    "epochs": 2.0,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "freeze_embeddings": True,
    "max_length": 256,
    "doc_stride": 64,
    "max_answer_length": 30,
    "seed": 0,
}


def _qa_examples(value: Any, what: str) -> list[QAExample]:
    if isinstance(value, (str, QAExample)) or not isinstance(value, Sequence):
        raise TypeError(f"{what}: expected a list of QAExample, got {type(value).__name__}")
    out = list(value)
    for i, ex in enumerate(out):
        if not isinstance(ex, QAExample):
            raise TypeError(f"{what}[{i}]: expected a QAExample, got {type(ex).__name__}")
    if not out:
        raise ValueError(f"{what}: expected at least one example")
    return out


def evaluate_qa(model: SpanQA, examples: Sequence[QAExample], *, batch_size: int = 32) -> dict[str, Any]:
    """SQuAD v1.1 exact_match and f1 (percentages, against every reference answer) of ``model`` on ``examples``,
    with test_examples and eval_seconds."""
    if not isinstance(model, SpanQA):
        raise TypeError(f"model: expected a SpanQA, got {type(model).__name__}")
    examples = _qa_examples(examples, "examples")
    start = time.perf_counter()
    scores = model.evaluate(examples, batch_size=batch_size)
    return {
        "exact_match": float(scores["exact_match"]),
        "f1": float(scores["f1"]),
        "test_examples": len(examples),
        "eval_seconds": time.perf_counter() - start,
    }


def answer_cap(bert: BertModel, train: Sequence[QAExample], limit: int) -> int:
    """Twice the longest training answer in word pieces, at most ``limit``: a reader fine-tuned on answers of at
    most k pieces has no evidence for spans of several sentences, which is what it returns when a start and an end
    are each likely but belong to different facts (seen on the generated test set: 6 of 32 errors at 30)."""
    tok = bert.tokenizer
    longest = max((len(tok.tokenize(ex.answers[0].text)) for ex in train), default=limit)
    return max(1, min(limit, 2 * longest))


def train_qa(
    *,
    train: Sequence[QAExample] | None = None,
    test: Sequence[QAExample] | None = None,
    encoder: str | os.PathLike[str] | BertModel = DEFAULT_MODEL,
    progress: bool = True,
    seconds: float | None = None,
    **recipe_overrides: Any,
) -> tuple[SpanQA, dict[str, Any]]:
    """Fine-tune ``encoder`` for extractive QA with ``QA_RECIPE`` (keyword overrides of its keys) and score it.

    train: QAExamples (the first answer of each is the target); default ``qa_examples(train_size, seed)``.
    test: the examples scored; default the generated "test" split (``test_size`` questions, seed + 1) for generated
    training data, a seeded ``HOLD_OUT`` share of ``train``'s passages (all their questions kept out of training)
    for yours.  encoder: a packaged model's name, a Hugging Face BERT folder, or a BertModel (fine-tuned in place).
    seconds: stop training after this much time.  max_answer_length (unless given): ``answer_cap`` of the training
    answers, at most the recipe's 30.

    Returns (model, report): exact_match, f1 (0-100), test_examples, eval_seconds, steps, train_seconds (the
    fine-tuning alone), stopped_early, loss (the last step's), examples (trained on) and the recipe used.
    """
    from ..datasets.qa import qa_examples  # noqa: PLC0415

    recipe = _recipe_with(QA_RECIPE, recipe_overrides, "train_qa")
    config = _fine_tune_config(recipe, seconds=seconds, progress=progress)
    _check_sizes(recipe, recipe_overrides, train, test)
    test = None if test is None else _qa_examples(test, "test")
    generated = train is None
    train = qa_examples(recipe["train_size"], recipe["seed"]) if generated else _qa_examples(train, "train")
    if test is None and generated:
        test = qa_examples(recipe["test_size"], recipe["seed"] + 1, split="test")
    elif test is None:
        train, test = _hold_out(train, recipe["seed"], key=lambda ex: ex.context)

    bert = _load_encoder(encoder)
    max_length = _capped_length(recipe, recipe_overrides, bert)
    stride = recipe["doc_stride"]
    if "doc_stride" not in recipe_overrides:
        stride = min(stride, max_length // 4)  # a shorter encoder's windows keep room for the question
    set_seed(recipe["seed"])  # the head's initial weights: fit seeds only the batches and dropout
    longest = answer_cap(bert, train, recipe["max_answer_length"])
    if "max_answer_length" not in recipe_overrides:
        recipe["max_answer_length"] = longest
    model = SpanQA(bert, max_length=max_length, doc_stride=stride, max_answer_length=recipe["max_answer_length"])
    history = model.fit(train, config)
    report = evaluate_qa(model, test)
    report.update(
        steps=history.steps,
        train_seconds=history.seconds,
        stopped_early=history.stopped_early,
        loss=history.loss[-1],
        examples=len(train),
        recipe={**recipe, "max_length": max_length, "doc_stride": stride, "seconds": seconds},
    )
    return model, report


def load_qa_reader(path: str | os.PathLike[str] | None = None) -> SpanQA:
    """The QA model saved in folder ``path`` (default ``default_model_dir("qa")``); a folder without a model is a
    FileNotFoundError saying how to make one."""
    return SpanQA.from_pretrained(saved_model_dir("qa", path))
