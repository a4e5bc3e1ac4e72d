"""Fine-tunable heads on a pretrained BERT: TokenClassifier (named-entity recognition) and SpanQA (extractive QA).

Both keep Hugging Face's architecture and weight names, so ``save_pretrained(dir)`` writes a directory that
``transformers.AutoModelForTokenClassification`` / ``AutoModelForQuestionAnswering`` load as is, and
``from_pretrained`` reads theirs.

- TokenClassifier: dropout -> Dense(num_labels) over every token.  A word's label sits on its FIRST word piece;
  the other pieces and the special tokens are ignored by the loss (Hugging Face's -100 convention).
- SpanQA: Dense(2) over every token gives start and end logits.  A context longer than ``max_length`` is cut into
  windows overlapping by ``doc_stride`` tokens; the answer is the best span (start + end logit) over all windows
  with end >= start, at most ``max_answer_length`` tokens, inside the context.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_path, atomic_write_text
from ..autograd import Tensor
from ..autograd import functional as F
from ..nn.core import Dense, Dropout
from .bert import BertModel
from .finetune import FineTuneConfig, FineTuneHistory, fine_tune
from .hub import DEFAULT_MODEL
from .loading import load_checkpoint
from .tokenizer import Batch
from .weights import encoder_state_dict

IGNORE = -100


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


def _save_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file  # noqa: PLC0415

    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata={"format": "pt"})


class _Head:
    """The parts both heads share: the encoder, a Dense over its hidden states, saving and loading."""

    architecture = ""
    head_name = ""

    def __init__(self, encoder: BertModel, units: int, *, dropout: float) -> None:
        self.encoder = _checked_encoder(encoder)
        self.tokenizer = encoder.tokenizer
        dt = encoder.dtype.name
        self.dropout = Dropout(dropout, dtype=dt) if dropout > 0 else None
        self.dense = Dense(units, kernel_initializer=_normal(0.02), dtype=dt)
        self.dense._maybe_build((None, encoder.config.hidden_size))

    # ---- the network
    def _hidden(self, batch: Any, *, training: bool) -> Tensor:
        return self.encoder(
            batch.input_ids, token_type_ids=batch.token_type_ids, attention_mask=batch.attention_mask,
            training=training,
        )  # fmt: skip

    def _logits(self, batch: Any, *, training: bool) -> Tensor:
        h = self._hidden(batch, training=training)
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        return self.dense(h)

    def logits(self, batch: Any) -> np.ndarray:
        """Inference logits [N, L, units] for a tokenizer ``Batch`` (the encoder's fast path)."""
        h = self.encoder.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask)
        return h @ self.dense.kernel.data + self.dense.bias.data

    def _variables(self) -> list[Any]:
        return [*self.encoder.trainable_weights, *self.dense.trainable_weights]

    @property
    def weights(self) -> list[Any]:
        return [*self.encoder.weights, *self.dense.weights]

    def _loss(self, batch: Any) -> Tensor:
        raise NotImplementedError

    def evaluate(self, examples: Sequence[Any], *, batch_size: int = 32) -> dict[str, float]:
        raise NotImplementedError

    def _train(self, full: Any, config: FineTuneConfig, validation: Sequence[Any] | None, desc: str) -> FineTuneHistory:
        """Fine-tune on the encoded examples ``full`` (encoded once; a batch is a subset of its rows, trimmed to
        its longest row), scoring ``validation`` after each epoch."""

        def batches(rng: np.random.Generator) -> list[Any]:
            order = rng.permutation(len(full))
            return [_subset(full, order[i : i + config.batch_size]) for i in range(0, len(order), config.batch_size)]

        evaluate = None if validation is None else (lambda: self.evaluate(validation))
        return fine_tune(self.encoder, self._variables, self._loss, batches, config, evaluate=evaluate, desc=desc)

    # ---- files
    def _config_dict(self) -> dict[str, Any]:
        d = self.encoder.config.to_dict()
        for key in ("id2label", "label2id", "num_labels", "seqcore"):
            d.pop(key, None)
        d["architectures"] = [self.architecture]
        return d

    def state_dict(self) -> dict[str, np.ndarray]:
        """Hugging Face names: ``bert.*`` for the encoder (no pooler: the heads don't use it) and the head's."""
        out = {k: v for k, v in encoder_state_dict(self.encoder, prefix="bert.").items() if ".pooler." not in k}
        out[f"{self.head_name}.weight"] = np.ascontiguousarray(self.dense.kernel.data.T)
        out[f"{self.head_name}.bias"] = self.dense.bias.data.copy()
        return out

    def save_pretrained(self, path: str | os.PathLike[str], *, dtype: Any = "float32") -> None:
        """config.json (with the head's settings), model.safetensors (HF names) and the tokenizer files, each
        written atomically."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}")
        _save_safetensors(out / "model.safetensors", {k: v.astype(dt) for k, v in self.state_dict().items()})
        atomic_write_text(out / "config.json", json.dumps(self._config_dict(), indent=2, sort_keys=True) + "\n")
        self.tokenizer.save(out)

    @classmethod
    def _load(cls, name_or_path: str | os.PathLike[str], dtype: Any) -> tuple[BertModel, dict[str, np.ndarray]]:
        encoder, rest, _ = load_checkpoint(name_or_path, dtype=dtype)
        return encoder, rest

    def _load_head(self, rest: dict[str, np.ndarray], source: str) -> None:
        w, b = rest.get(f"{self.head_name}.weight"), rest.get(f"{self.head_name}.bias")
        if w is None or b is None:
            raise ValueError(f"{source}: no {self.head_name}.weight / .bias (not a {self.architecture} checkpoint)")
        if w.shape != self.dense.kernel.shape[::-1] or b.shape != self.dense.bias.shape:
            raise ValueError(
                f"{source}: {self.head_name}.weight has shape {w.shape}, expected {self.dense.kernel.shape[::-1]}"
            )
        self.dense.kernel.data[...] = w.T
        self.dense.bias.data[...] = b


def _checked_encoder(encoder: Any) -> BertModel:
    if not isinstance(encoder, BertModel):
        raise TypeError(f"encoder: expected a seqcore.pretrained.BertModel, got {type(encoder).__name__}")
    if encoder.tokenizer is None:
        raise ValueError("encoder: it has no tokenizer (load it with seqcore.pretrained.load_bert)")
    return encoder


def _max_length(value: int | None, default: int, encoder: BertModel) -> int:
    """Tokens a row: ``default`` capped at the encoder's positions when not given; a given one must fit."""
    limit = encoder.config.max_position_embeddings
    if value is None:
        return min(default, limit)
    _positive_int("max_length", value)
    if value > limit:
        raise ValueError(f"max_length: at most max_position_embeddings = {limit}, got {value}")
    return value


def _normal(std: float) -> Any:
    from ..nn import initializers  # noqa: PLC0415

    return initializers.RandomNormal(stddev=std)


# ==================================================================== named-entity recognition


def allowed_transitions(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """IOB2 constraints as (start_ok [C], after_ok [C_prev, C]): I-X may only follow B-X or I-X and never starts
    a sentence.  Labels outside the IOB2 form are unconstrained."""
    C = len(labels)
    start_ok = np.ones(C, dtype=bool)
    after_ok = np.ones((C, C), dtype=bool)
    for j, lab in enumerate(labels):
        if lab.startswith("I-"):
            kind = lab[2:]
            start_ok[j] = False
            after_ok[:, j] = [p in (f"B-{kind}", f"I-{kind}") for p in labels]
    return start_ok, after_ok


def viterbi(log_probs: np.ndarray, start_ok: np.ndarray, after_ok: np.ndarray) -> list[int]:
    """The highest-scoring label sequence (sum of per-word log-probabilities) obeying the transition constraints:
    log_probs [n, C] -> n label ids."""
    n, C = log_probs.shape
    score = np.where(start_ok, log_probs[0], -np.inf)
    penalty = np.where(after_ok, 0.0, -np.inf)
    back = np.zeros((n, C), dtype=np.int64)
    for i in range(1, n):
        total = score[:, None] + penalty  # [prev, next]
        back[i] = total.argmax(axis=0)
        score = total[back[i], np.arange(C)] + log_probs[i]
    path = [int(score.argmax())]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


def _words_and_tags(examples: Iterable[Any]) -> tuple[list[list[str]], list[list[str]]]:
    words, tags = [], []
    for i, ex in enumerate(examples):
        toks, tgs = (ex.tokens, ex.tags) if hasattr(ex, "tokens") else ex
        if len(toks) != len(tgs):
            raise ValueError(f"examples[{i}]: {len(toks)} tokens but {len(tgs)} tags")
        words.append(list(toks))
        tags.append(list(tgs))
    return words, tags


class TokenClassifier(_Head):
    """NER on a pretrained BERT.  ``TokenClassifier.from_encoder("all-MiniLM-L6-v2", labels)``; ``fit(examples)``
    with examples of ``tokens`` + IOB2 ``tags``; ``predict(list of word lists)``; ``tag(text)`` -> entities;
    ``evaluate(examples)`` -> seqeval-equal entity scores; ``save_pretrained`` / ``from_pretrained``."""

    architecture = "BertForTokenClassification"
    head_name = "classifier"

    def __init__(self, encoder: BertModel, labels: Sequence[str], *, max_length: int | None = None) -> None:
        """max_length: word pieces a sentence, [CLS]/[SEP] included (default 128, or the encoder's positions if
        fewer)."""
        labels = list(labels)
        if not labels or len(set(labels)) != len(labels) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"labels: expected distinct label strings, got {labels!r}")
        encoder = _checked_encoder(encoder)
        self.max_length = _max_length(max_length, 128, encoder)
        super().__init__(encoder, len(labels), dropout=encoder.config.hidden_dropout_prob)
        self.labels = labels
        self.label2id = {x: i for i, x in enumerate(labels)}

    @classmethod
    def from_encoder(
        cls, name_or_path: str | os.PathLike[str] | BertModel = DEFAULT_MODEL, labels: Sequence[str] = (), **kw: Any
    ) -> TokenClassifier:
        """A new head (weights N(0, 0.02), as BERT initialises it) on a pretrained encoder."""
        encoder = name_or_path if isinstance(name_or_path, BertModel) else cls._load(name_or_path, "float32")[0]
        return cls(encoder, labels, **kw)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], *, dtype: Any = "float32") -> TokenClassifier:
        """A fine-tuned model saved by ``save_pretrained`` (or by Hugging Face's BertForTokenClassification)."""
        encoder, rest = cls._load(path, dtype)
        id2label = encoder.config.extra.get("id2label")
        if not isinstance(id2label, dict) or not id2label:
            raise ValueError(f"{path}: config.json has no id2label map (not a token-classification model)")
        labels = [id2label[k] for k in sorted(id2label, key=int)]
        settings = encoder.config.extra.get("seqcore", {})
        max_length = settings.get("max_length") if isinstance(settings, dict) else None
        model = cls(encoder, labels, max_length=None if max_length is None else int(max_length))
        model._load_head(rest, str(path))
        return model

    def _config_dict(self) -> dict[str, Any]:
        d = super()._config_dict()
        d["id2label"] = {str(i): x for i, x in enumerate(self.labels)}
        d["label2id"] = dict(self.label2id)
        d["seqcore"] = {"max_length": self.max_length}
        return d

    # ---- data
    def encode(self, words: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None = None) -> Any:
        """A tokenizer Batch of word lists; with ``tags``, ``batch.labels`` [N, L]: the tag id on each word's
        first piece, -100 elsewhere."""
        batch = self.tokenizer(words, max_length=self.max_length, is_split_into_words=True)
        if tags is not None:
            labels = np.full(batch.input_ids.shape, IGNORE, dtype=np.int64)
            for r, wids in enumerate(batch.word_ids):
                prev = None
                for t, w in enumerate(wids):
                    if w is not None and w != prev:
                        tag = tags[r][w]
                        if tag not in self.label2id:
                            raise ValueError(f"tags[{r}][{w}]: {tag!r} is not one of the labels {self.labels}")
                        labels[r, t] = self.label2id[tag]
                    prev = w
            batch.labels = labels
        return batch

    def _loss(self, batch: Any) -> Tensor:
        logits = self._logits(batch, training=True)
        keep = batch.labels != IGNORE
        per = F.softmax_cross_entropy(logits, np.where(keep, batch.labels, 0), mask=keep)
        return per.sum() * (1.0 / max(int(keep.sum()), 1))

    def fit(
        self,
        examples: Sequence[Any],
        config: FineTuneConfig | None = None,
        *,
        validation: Sequence[Any] | None = None,
        **overrides: Any,
    ) -> FineTuneHistory:
        """Fine-tune on ``examples`` (objects with .tokens/.tags, or (tokens, tags) pairs).  ``config`` (or keyword
        overrides of its fields) sets the recipe; ``validation`` is scored (entity F1) after every epoch."""
        config = _with_overrides(config or FineTuneConfig(), overrides)
        words, tags = _words_and_tags(examples)
        if not words:
            raise ValueError("examples: expected at least one example")
        return self._train(self.encode(words, tags), config, validation, "ner")

    # ---- inference
    def _word_log_probs(self, batch: Any, logits: np.ndarray, r: int, n_words: int) -> np.ndarray:
        """[n_words, C] log-softmax of each word's first piece (uniform for a word cut off by max_length)."""
        out = np.full((n_words, len(self.labels)), -np.log(len(self.labels)))
        prev = None
        for t, w in enumerate(batch.word_ids[r]):
            if w is not None and w != prev:
                z = logits[r, t].astype(np.float64)
                out[w] = z - z.max() - np.log(np.exp(z - z.max()).sum())
            prev = w
        return out

    def _decode(self, logp: np.ndarray, constrained: bool) -> list[int]:
        if not constrained:
            return [int(k) for k in logp.argmax(-1)]
        return viterbi(logp, *self._transitions)

    def predict(
        self, words: Sequence[Sequence[str]], *, batch_size: int = 32, constrained: bool = True
    ) -> list[list[str]]:
        """IOB2 tags for each word of each word list (a word cut off by max_length gets "O").

        constrained: the most probable tag sequence in which I-X only follows B-X or I-X (Viterbi over each word's
        log-probabilities), rather than each word's most probable tag, which can leave a stray I-X that seqeval
        reads as an entity of its own."""
        out: list[list[str]] = []
        for start in range(0, len(words), batch_size):
            chunk = [list(w) for w in words[start : start + batch_size]]
            batch = self.encode(chunk)
            logits = self.logits(batch)
            for r in range(len(chunk)):
                if not chunk[r]:
                    out.append([])
                    continue
                ids = self._decode(self._word_log_probs(batch, logits, r, len(chunk[r])), constrained)
                out.append([self.labels[k] for k in ids])
        return out

    @property
    def _transitions(self) -> tuple[np.ndarray, np.ndarray]:
        return allowed_transitions(self.labels)

    def tag(self, text: str | Sequence[str], *, constrained: bool = True) -> Any:
        """Entities in raw text: a list of {"entity_group", "score", "word", "start", "end"} (character offsets,
        as Hugging Face's pipeline with aggregation "simple"; score: the mean probability of the entity's words'
        tags); a list of texts gives a list of such lists.  Words are the tokenizer's (split at spaces and
        punctuation)."""
        from ..metrics.ner import get_entities  # noqa: PLC0415

        single = isinstance(text, str)
        if not single and not isinstance(text, Sequence):
            raise TypeError(f"text: expected a string or a list of strings, got {type(text).__name__}")
        texts = [text] if single else list(text)
        results = []
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text: expected a string, got {type(t).__name__}")
            batch = self.tokenizer([t], max_length=self.max_length)
            spans: list[tuple[int, int]] = []  # each word's characters, from its pieces
            prev = None
            for i, w in enumerate(batch.word_ids[0]):
                if w is None:
                    continue
                s, e = batch.offsets[0][i]
                if w != prev:
                    spans.append((s, e))
                else:
                    spans[-1] = (spans[-1][0], e)
                prev = w
            if not spans:
                results.append([])
                continue
            # the pre-tokenizer numbers words from 0 in order, so word w is spans[w]
            logp = self._word_log_probs(batch, self.logits(batch), 0, len(spans))
            ids = self._decode(logp, constrained)
            word_tags = [self.labels[k] for k in ids]
            word_scores = [float(np.exp(logp[i, k])) for i, k in enumerate(ids)]
            entities = []
            for kind, a, b in get_entities(word_tags):
                start, end = spans[a][0], spans[b][1]
                entities.append(
                    {"entity_group": kind, "score": float(np.mean(word_scores[a : b + 1])), "word": t[start:end],
                     "start": start, "end": end}
                )  # fmt: skip
            results.append(entities)
        return results[0] if single else results

    def evaluate(self, examples: Sequence[Any], *, batch_size: int = 32) -> dict[str, float]:
        """Entity-level precision / recall / F1 (micro, as seqeval) and token accuracy."""
        from ..metrics.ner import accuracy_score, f1_score, precision_score, recall_score  # noqa: PLC0415

        words, tags = _words_and_tags(examples)
        pred = self.predict(words, batch_size=batch_size)
        return {
            "precision": float(precision_score(tags, pred)),
            "recall": float(recall_score(tags, pred)),
            "f1": float(f1_score(tags, pred)),
            "accuracy": float(accuracy_score(tags, pred)),
        }


# ==================================================================== extractive question answering


class SpanQA(_Head):
    """Extractive QA on a pretrained BERT.  ``SpanQA.from_encoder("all-MiniLM-L6-v2")``; ``fit(examples)`` with
    examples of ``question``, ``context`` and ``answers`` (text + character start); ``answer(question, context)``;
    ``evaluate(examples)`` -> SQuAD exact match / F1; ``save_pretrained`` / ``from_pretrained``."""

    architecture = "BertForQuestionAnswering"
    head_name = "qa_outputs"

    def __init__(
        self, encoder: BertModel, *, max_length: int | None = None, doc_stride: int = 64, max_answer_length: int = 30
    ) -> None:
        """max_length: tokens a window (default 256, or the encoder's positions if fewer); doc_stride: tokens
        shared by consecutive windows; max_answer_length: the longest answer in tokens."""
        super().__init__(encoder, 2, dropout=0.0)
        self.max_length = _max_length(max_length, 256, encoder)
        self.doc_stride = _positive_int("doc_stride", doc_stride)
        self.max_answer_length = _positive_int("max_answer_length", max_answer_length)

    @classmethod
    def from_encoder(cls, name_or_path: str | os.PathLike[str] | BertModel = DEFAULT_MODEL, **kw: Any) -> SpanQA:
        encoder = name_or_path if isinstance(name_or_path, BertModel) else cls._load(name_or_path, "float32")[0]
        return cls(encoder, **kw)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], *, dtype: Any = "float32") -> SpanQA:
        encoder, rest = cls._load(path, dtype)
        settings = encoder.config.extra.get("seqcore", {})
        model = cls(encoder, **{k: int(v) for k, v in settings.items() if k in _QA_SETTINGS})
        model._load_head(rest, str(path))
        return model

    def _config_dict(self) -> dict[str, Any]:
        d = super()._config_dict()
        d["seqcore"] = {k: getattr(self, k) for k in _QA_SETTINGS}
        return d

    # ---- data
    def encode(self, questions: Sequence[str], contexts: Sequence[str]) -> Any:
        """Question/context windows: a tokenizer Batch whose ``sample`` says which pair each row came from."""
        return self.tokenizer(questions, contexts, max_length=self.max_length, stride=self.doc_stride)

    def _targets(self, batch: Any, answers: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Start/end token of each row's answer (character span answers[sample]); (0, 0), the [CLS] token, for a
        window that does not contain the whole answer."""
        n = len(batch)
        starts = np.zeros(n, dtype=np.int64)
        ends = np.zeros(n, dtype=np.int64)
        for r in range(n):
            a, b = answers[int(batch.sample[r])]
            ctx = [t for t, s in enumerate(batch.sequence_ids[r]) if s == 1]
            if not ctx:
                continue
            offs = batch.offsets[r]
            if offs[ctx[0]][0] > a or offs[ctx[-1]][1] < b:
                continue
            starts[r] = max(t for t in ctx if offs[t][0] <= a)
            ends[r] = min(t for t in ctx if offs[t][1] >= b)
        return starts, ends

    def _loss(self, batch: Any) -> Tensor:
        logits = self._logits(batch, training=True)  # [B, L, 2]
        start = F.softmax_cross_entropy(logits[:, :, 0], batch.start_positions)
        end = F.softmax_cross_entropy(logits[:, :, 1], batch.end_positions)
        return (start.mean() + end.mean()) * 0.5

    def fit(
        self,
        examples: Sequence[Any],
        config: FineTuneConfig | None = None,
        *,
        validation: Sequence[Any] | None = None,
        **overrides: Any,
    ) -> FineTuneHistory:
        """Fine-tune on ``examples`` (objects with .question, .context and .answers, each answer with .text and
        .start; the first answer is the target).  ``validation`` is scored (exact match, F1) after each epoch."""
        config = _with_overrides(config or FineTuneConfig(), overrides)
        if not examples:
            raise ValueError("examples: expected at least one example")
        spans = []
        for i, ex in enumerate(examples):
            if not ex.answers:
                raise ValueError(f"examples[{i}]: no answer to train on")
            a = ex.answers[0]
            if ex.context[a.start : a.start + len(a.text)] != a.text:
                raise ValueError(f"examples[{i}]: the answer {a.text!r} is not at character {a.start} of the context")
            spans.append((a.start, a.start + len(a.text)))
        full = self.encode([ex.question for ex in examples], [ex.context for ex in examples])
        full.start_positions, full.end_positions = self._targets(full, spans)
        return self._train(full, config, validation, "qa")

    # ---- inference
    def answer_batch(
        self, questions: Sequence[str], contexts: Sequence[str], *, batch_size: int = 32
    ) -> list[dict[str, Any]]:
        """The best answer for each (question, context): {"answer", "start", "end", "score"} (character offsets
        in the context; score = start logit + end logit)."""
        if len(questions) != len(contexts):
            raise ValueError(f"contexts: expected one per question ({len(questions)}), got {len(contexts)}")
        best: list[dict[str, Any]] = [
            {"answer": "", "start": 0, "end": 0, "score": -np.inf} for _ in range(len(questions))
        ]
        for first in range(0, len(questions), batch_size):
            qs, cs = list(questions[first : first + batch_size]), list(contexts[first : first + batch_size])
            batch = self.encode(qs, cs)
            logits = self.logits(batch)
            for r in range(len(batch)):
                i = int(batch.sample[r])
                cand = self._best_span(logits[r, :, 0], logits[r, :, 1], batch.sequence_ids[r])
                if cand is not None and cand[2] > best[first + i]["score"]:
                    s, e, score = cand
                    a, b = batch.offsets[r][s][0], batch.offsets[r][e][1]
                    best[first + i] = {"answer": cs[i][a:b], "start": a, "end": b, "score": float(score)}
        return best

    def _best_span(self, start: np.ndarray, end: np.ndarray, seq_ids: list[Any]) -> tuple[int, int, float] | None:
        ctx = np.array([s == 1 for s in seq_ids])
        if not ctx.any():
            return None
        s_logit = np.where(ctx, start, -np.inf)
        e_logit = np.where(ctx, end, -np.inf)
        L = len(seq_ids)
        # score[i, j] = s[i] + e[j] for i <= j < i + max_answer_length
        i = np.arange(L)[:, None]
        j = np.arange(L)[None, :]
        valid = (j >= i) & (j < i + self.max_answer_length)
        scores = np.where(valid, s_logit[:, None] + e_logit[None, :], -np.inf)
        k = int(np.argmax(scores))
        s, e = divmod(k, L)
        if not np.isfinite(scores[s, e]):
            return None
        return s, e, float(scores[s, e])

    def answer(self, question: str, context: str) -> dict[str, Any]:
        """The best answer span of ``context`` for ``question`` (see ``answer_batch``)."""
        if not isinstance(question, str) or not isinstance(context, str):
            raise TypeError("question, context: expected strings")
        return self.answer_batch([question], [context])[0]

    def predict(self, examples: Sequence[Any], *, batch_size: int = 32) -> dict[str, str]:
        """{example id: predicted answer text}."""
        found = self.answer_batch([ex.question for ex in examples], [ex.context for ex in examples],
                                  batch_size=batch_size)  # fmt: skip
        return {ex.id: f["answer"] for ex, f in zip(examples, found)}

    def evaluate(self, examples: Sequence[Any], *, batch_size: int = 32) -> dict[str, float]:
        """SQuAD v1.1 exact match and F1 (percentages, the official normalisation)."""
        from ..metrics.squad import squad_evaluate  # noqa: PLC0415

        pred = self.predict(examples, batch_size=batch_size)
        refs = {ex.id: [a.text for a in ex.answers] for ex in examples}
        return {k: float(v) for k, v in squad_evaluate(refs, pred).items()}


_QA_SETTINGS = ("max_length", "doc_stride", "max_answer_length")


def _subset(batch: Any, rows: np.ndarray) -> Any:
    """Rows of a Batch (with any label arrays), trimmed to the longest row's length."""
    L = int(batch.attention_mask[rows].sum(axis=1).max()) if len(rows) else 0
    sub = Batch(
        batch.input_ids[rows, :L], batch.token_type_ids[rows, :L], batch.attention_mask[rows, :L],
        [batch.offsets[r][:L] for r in rows], [batch.word_ids[r][:L] for r in rows],
        [batch.sequence_ids[r][:L] for r in rows], batch.sample[rows],
    )  # fmt: skip
    for extra in ("labels",):
        if hasattr(batch, extra):
            setattr(sub, extra, getattr(batch, extra)[rows, :L])
    for extra in ("start_positions", "end_positions"):
        if hasattr(batch, extra):
            setattr(sub, extra, getattr(batch, extra)[rows])
    return sub


def _with_overrides(config: FineTuneConfig, overrides: dict[str, Any]) -> FineTuneConfig:
    """``config`` with keyword overrides of its fields; an unknown name is a TypeError listing the known ones."""
    if not isinstance(config, FineTuneConfig):
        raise TypeError(f"config: expected a FineTuneConfig, got {type(config).__name__}")
    names = {f.name for f in dataclasses.fields(FineTuneConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"fit: unknown settings {unknown} (FineTuneConfig has {sorted(names)})")
    return dataclasses.replace(config, **overrides)


__all__ = ["IGNORE", "SpanQA", "TokenClassifier", "allowed_transitions", "viterbi"]
