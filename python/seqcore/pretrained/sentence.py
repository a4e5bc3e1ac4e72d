"""SentenceEncoder: sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2.

Tokens -> BERT hidden states -> mean over the real tokens (the attention mask) -> L2 normalisation.  Sentences are
sorted by length so that each batch pads little, encoded in batches, and returned in the caller's order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from .bert import BertModel
from .hub import DEFAULT_MODEL
from .loading import load_bert

#: sentence-transformers' default when a model directory doesn't say (sentence_bert_config.json)
_DEFAULT_MAX_SEQ_LENGTH = 256
#: show a progress bar by default from this many sentences on
_PROGRESS_FROM = 2048


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of ``hidden`` [N,L,H] over the positions where ``attention_mask`` [N,L] is 1 -> [N,H]."""
    m = np.asarray(attention_mask, dtype=hidden.dtype)[:, :, None]
    summed = np.einsum("nlh,nlk->nh", hidden, m) if hidden.size else np.zeros(hidden.shape[::2], hidden.dtype)
    counts = np.maximum(m.sum(axis=1), 1e-9)
    return summed / counts


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class SentenceEncoder:
    """``SentenceEncoder("all-MiniLM-L6-v2").encode(sentences)`` -> float32 [N, 384], rows of unit length.

    model: a model name or directory (``load_bert``), or a loaded ``BertModel`` with its tokenizer.
    max_seq_length: tokens per sentence, [CLS]/[SEP] included (default: the directory's
    sentence_bert_config.json, else 256).
    """

    def __init__(self, model: str | os.PathLike[str] | BertModel = DEFAULT_MODEL, *, max_seq_length: int | None = None):
        self.model = model if isinstance(model, BertModel) else load_bert(model)
        if self.model.tokenizer is None:
            raise ValueError("model: this BertModel has no tokenizer (load it with seqcore.pretrained.load_bert)")
        limit = self.model.config.max_position_embeddings
        if max_seq_length is None:
            # a model with fewer positions than the default gets all it has (sentence-transformers caps it too)
            max_seq_length = min(_DEFAULT_MAX_SEQ_LENGTH, limit)
            source = getattr(self.model, "source_dir", None)
            cfg = None if source is None else source / "sentence_bert_config.json"
            if cfg is not None and cfg.is_file():
                with open(cfg, encoding="utf-8") as f:
                    max_seq_length = int(json.load(f).get("max_seq_length", max_seq_length))
        if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or not 4 <= max_seq_length <= limit:
            raise ValueError(f"max_seq_length: expected an int in [4, {limit}], got {max_seq_length!r}")
        self.max_seq_length = max_seq_length

    @property
    def dimension(self) -> int:
        return self.model.config.hidden_size

    def encode(
        self,
        sentences: Sequence[str] | str,
        batch_size: int = 32,
        *,
        show_progress_bar: bool | None = None,
        normalize: bool = True,
    ) -> np.ndarray:
        """Embeddings [N, H] float32 (a single string gives [H]).  normalize=False returns the mean-pooled
        vectors before L2 normalisation."""
        single = isinstance(sentences, str)
        items = [sentences] if single else sentences
        if not isinstance(items, Sequence):
            raise TypeError(f"sentences: expected a string or a list of strings, got {type(sentences).__name__}")
        items = list(items)
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise TypeError(f"sentences[{i}]: expected a string, got {type(s).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        H = self.dimension
        out = np.zeros((len(items), H), dtype=np.float32)
        if not items:
            return out[0] if single else out
        order = np.argsort([-len(s) for s in items], kind="stable")  # as sentence-transformers: longest first
        starts = range(0, len(items), batch_size)
        show = len(items) >= _PROGRESS_FROM if show_progress_bar is None else bool(show_progress_bar)
        if show:
            from tqdm.auto import tqdm  # noqa: PLC0415

            starts = tqdm(starts, desc="encode", unit="batch")
        tok = self.model.tokenizer
        for start in starts:
            idx = order[start : start + batch_size]
            batch = tok([items[i] for i in idx], max_length=self.max_seq_length)
            hidden = self.model.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask)
            pooled = mean_pool(hidden, batch.attention_mask)
            out[idx] = _l2_normalize(pooled) if normalize else pooled
        return out[0] if single else out

    def similarity(self, a: Sequence[str] | np.ndarray, b: Sequence[str] | np.ndarray) -> np.ndarray:
        """Cosine similarities [len(a), len(b)] of sentences (or of embeddings already computed)."""
        ea = a if isinstance(a, np.ndarray) else self.encode(list(a))
        eb = b if isinstance(b, np.ndarray) else self.encode(list(b))
        return _l2_normalize(np.atleast_2d(ea)) @ _l2_normalize(np.atleast_2d(eb)).T

    def __repr__(self) -> str:
        return f"SentenceEncoder(dimension={self.dimension}, max_seq_length={self.max_seq_length})"
