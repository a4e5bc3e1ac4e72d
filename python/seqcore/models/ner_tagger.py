"""Named-entity recognition by fine-tuning a pretrained BERT (all-MiniLM-L6-v2 by default): the ``seqcore ner`` app.

``train_ner()`` fine-tunes ``pretrained.TokenClassifier`` with ``NER_RECIPE`` on generated news-like sentences
(``datasets.ner_sentences``: PER, ORG, LOC, DATE, MONEY) or on your own IOB2 examples (e.g. ``read_conll``), and
scores it on sentences it never saw: the generated "test" split, whose templates and names differ from training's,
or the test examples given.  It returns the model and a report (entity F1 as seqeval computes it, per-type scores,
timings).  ``save_pretrained(dir)`` writes a folder that Hugging Face's ``AutoModelForTokenClassification`` loads;
``load_ner_tagger()`` reads it back, by default from ``default_model_dir("ner")`` ($SEQCORE_HOME/models/ner-minilm).

    model, report = train_ner(train_size=500, epochs=1.0)
    model.tag("Laura Diaz joined Hartman Inc. in Boston on March 3, 2021.")
    # [{"entity_group": "PER", "word": "Laura Diaz", "start": 0, "end": 10, "score": 0.98}, ...]
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._config import set_seed
from ..datasets.conll import NERExample
from ..pretrained.bert import BertModel
from ..pretrained.finetune import FineTuneConfig
from ..pretrained.heads import TokenClassifier
from ..pretrained.hub import DEFAULT_MODEL
from ._home import saved_model_dir

__all__ = ["HOLD_OUT", "NER_RECIPE", "evaluate_ner", "labels_of", "load_ner_tagger", "train_ner"]

#: the default training recipe (the coordinator measures and tunes these numbers; the keys are the API).
#: train_size / test_size: generated sentences; max_length: word pieces a sentence; the rest: ``FineTuneConfig``.
#: found by a short search (docs/pretrained.md): more generated sentences seen once generalise to the test templates
#: better than fewer seen twice (2,000 x 2 epochs at 3e-4: F1 0.930; 4,000 x 1 at 1e-4: 0.968)
NER_RECIPE: dict[str, Any] = {
    "train_size": 4000,
    "test_size": 500,
    "epochs": 1.0,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "freeze_embeddings": True,
    "max_length": 128,
    "seed": 0,
}

#: the share of your own training examples kept aside for the score when no test examples are given
HOLD_OUT = 0.1

#: the recipe keys that are ``FineTuneConfig`` fields
_FIT_KEYS = ("epochs", "batch_size", "learning_rate", "warmup_ratio", "weight_decay", "freeze_embeddings", "seed")


def _recipe_with(defaults: dict[str, Any], overrides: dict[str, Any], caller: str) -> dict[str, Any]:
    """``defaults`` updated with ``overrides``; a key the recipe lacks is a TypeError listing the known ones."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise TypeError(f"{caller}: unknown recipe settings {unknown} (known: {sorted(defaults)})")
    return {**defaults, **overrides}


def _fine_tune_config(recipe: dict[str, Any], *, seconds: float | None, progress: bool) -> FineTuneConfig:
    """The recipe's training settings as a (validated) ``FineTuneConfig``."""
    if not isinstance(progress, bool):
        raise TypeError(f"progress: expected True or False, got {progress!r}")
    return FineTuneConfig(**{k: recipe[k] for k in _FIT_KEYS}, seconds=seconds, progress=progress)


def _check_size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def _load_encoder(encoder: Any) -> BertModel:
    """A model name / folder loaded as a float32 BertModel; a BertModel is used as is (and is fine-tuned in place)."""
    if isinstance(encoder, BertModel):
        return encoder
    if not isinstance(encoder, (str, os.PathLike)):
        raise TypeError(f"encoder: expected a model name, a folder or a BertModel, got {type(encoder).__name__}")
    from ..pretrained.loading import load_bert  # noqa: PLC0415

    return load_bert(encoder, dtype="float32")


def _capped_length(recipe: dict[str, Any], overrides: dict[str, Any], encoder: BertModel) -> int:
    """The recipe's max_length, lowered to the encoder's positions unless the caller asked for it explicitly (then
    the head refuses a length the encoder cannot hold)."""
    if "max_length" in overrides:
        return recipe["max_length"]
    return min(int(recipe["max_length"]), encoder.config.max_position_embeddings)


def _check_sizes(recipe: dict[str, Any], overrides: dict[str, Any], train: Any, test: Any) -> None:
    """train_size / test_size size the generated data only: giving one next to examples is an error."""
    for name, given in (("train_size", train), ("test_size", test)):
        if given is not None and name in overrides:
            raise ValueError(f"{name}: sizes the generated data, but {name[:-5]} examples were given")
        _check_size(name, recipe[name])


def _ner_examples(value: Any, what: str) -> list[NERExample]:
    """NERExamples, (tokens, tags) pairs or objects with .tokens/.tags, as NERExamples (IOB2 checked)."""
    if isinstance(value, (str, NERExample)) or not isinstance(value, Sequence):
        raise TypeError(f"{what}: expected a list of NERExample (or (tokens, tags) pairs), got {type(value).__name__}")
    out = []
    for i, ex in enumerate(value):
        if isinstance(ex, NERExample):
            out.append(ex)
            continue
        pair = (ex.tokens, ex.tags) if hasattr(ex, "tokens") and hasattr(ex, "tags") else ex
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"{what}[{i}]: expected a NERExample or a (tokens, tags) pair, got {type(ex).__name__}")
        try:
            out.append(NERExample(tuple(pair[0]), tuple(pair[1])))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what}[{i}]: {exc}") from None
    if not out:
        raise ValueError(f"{what}: expected at least one example")
    return out


def labels_of(examples: Sequence[NERExample]) -> list[str]:
    """The label set of a model trained on ``examples``: "O" first, then their other tags sorted."""
    tags = {t for ex in examples for t in ex.tags}
    return ["O", *sorted(tags - {"O"})]


def _hold_out(items: Sequence[Any], seed: int, *, key: Any = None) -> tuple[list[Any], list[Any]]:
    """(train, held out): a seeded ``HOLD_OUT`` share (at least one) of ``items`` kept aside.  ``key`` groups items
    that must stay on one side (the questions about one passage)."""
    keys = [i if key is None else key(x) for i, x in enumerate(items)]
    groups = list(dict.fromkeys(keys))
    if len(groups) < 2:
        raise ValueError(
            "train: too few examples to keep some aside for the score (give test examples, or more training ones)"
        )
    n_out = max(1, round(HOLD_OUT * len(groups)))
    order = np.random.default_rng(seed).permutation(len(groups))
    held = {groups[int(k)] for k in order[:n_out]}
    return [x for x, k in zip(items, keys) if k not in held], [x for x, k in zip(items, keys) if k in held]


def evaluate_ner(model: TokenClassifier, examples: Sequence[Any], *, batch_size: int = 32) -> dict[str, Any]:
    """Scores of ``model`` on IOB2 ``examples``: micro precision / recall / f1 over entities (seqeval's), token
    accuracy, ``per_type`` (``metrics.ner.classification_report(output_dict=True)``: each type and the averages),
    ``report_text`` (the same as text), ``test_examples`` and ``eval_seconds``."""
    from ..metrics.ner import accuracy_score, classification_report  # noqa: PLC0415

    if not isinstance(model, TokenClassifier):
        raise TypeError(f"model: expected a TokenClassifier, got {type(model).__name__}")
    examples = _ner_examples(examples, "examples")
    start = time.perf_counter()
    truth = [list(ex.tags) for ex in examples]
    pred = model.predict([list(ex.tokens) for ex in examples], batch_size=batch_size)
    seconds = time.perf_counter() - start
    # a type the model never predicts scores 0 quietly: the report shows it, a warning would only repeat it
    per_type = classification_report(truth, pred, output_dict=True, zero_division=0)
    micro = per_type["micro avg"]
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(accuracy_score(truth, pred)),
        "per_type": per_type,
        "report_text": classification_report(truth, pred, digits=3, zero_division=0),
        "test_examples": len(examples),
        "eval_seconds": seconds,
    }


def train_ner(
    *,
    train: Sequence[Any] | None = None,
    test: Sequence[Any] | None = None,
    encoder: str | os.PathLike[str] | BertModel = DEFAULT_MODEL,
    progress: bool = True,
    seconds: float | None = None,
    **recipe_overrides: Any,
) -> tuple[TokenClassifier, dict[str, Any]]:
    """Fine-tune ``encoder`` for NER with ``NER_RECIPE`` (keyword overrides of its keys) and score it.

    train: IOB2 examples (NERExample, (tokens, tags) pairs); default ``ner_sentences(train_size, seed)``.
    test: the examples scored; default the generated "test" split (``test_size`` sentences, seed + 1) for
    generated training data, a seeded ``HOLD_OUT`` share of ``train`` (kept out of training) for yours.
    encoder: a packaged model's name, a Hugging Face BERT folder, or a BertModel (fine-tuned in place).
    seconds: stop training after this much time.  Labels: ``NER_LABELS`` for generated data, else
    ``labels_of(train)``.

    Returns (model, report): ``evaluate_ner``'s scores plus steps, train_seconds (the fine-tuning alone),
    stopped_early, loss (the last step's), examples (trained on), labels and the recipe used.
    """
    from ..datasets.ner import NER_LABELS, ner_sentences  # noqa: PLC0415

    recipe = _recipe_with(NER_RECIPE, recipe_overrides, "train_ner")
    config = _fine_tune_config(recipe, seconds=seconds, progress=progress)
    _check_sizes(recipe, recipe_overrides, train, test)
    test = None if test is None else _ner_examples(test, "test")
    generated = train is None
    train = ner_sentences(recipe["train_size"], recipe["seed"]) if generated else _ner_examples(train, "train")
    labels = list(NER_LABELS) if generated else labels_of(train)
    if test is None and generated:
        test = ner_sentences(recipe["test_size"], recipe["seed"] + 1, split="test")
    elif test is None:
        train, test = _hold_out(train, recipe["seed"])

    bert = _load_encoder(encoder)
    set_seed(recipe["seed"])  # the head's initial weights: fit seeds only the batches and dropout
    model = TokenClassifier(bert, labels, max_length=_capped_length(recipe, recipe_overrides, bert))
    history = model.fit(train, config)
    report = evaluate_ner(model, test)
    report.update(
        steps=history.steps,
        train_seconds=history.seconds,
        stopped_early=history.stopped_early,
        loss=history.loss[-1],
        examples=len(train),
        labels=list(labels),
        recipe={**recipe, "max_length": model.max_length, "seconds": seconds},
    )
    return model, report


def load_ner_tagger(path: str | os.PathLike[str] | None = None) -> TokenClassifier:
    """The NER model saved in folder ``path`` (default ``default_model_dir("ner")``); a folder without a model is a
    FileNotFoundError saying how to make one."""
    return TokenClassifier.from_pretrained(saved_model_dir("ner", path))
