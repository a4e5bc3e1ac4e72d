"""Shared pieces of the seqcore.pretrained tests: a tiny BERT directory (WordPiece tokenizer.json, config.json,
model.safetensors) that ``load_bert(dir)`` reads exactly like a real checkpoint, and tolerances.

The tiny model (hidden 16, 2 heads, 2 layers, 50 tokens) makes gradient checks, bad-input tests and short
fine-tuning runs take milliseconds; the real all-MiniLM-L6-v2 is used where numbers must match Hugging Face.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from seqcore.pretrained import BertConfig, BertModel, encoder_state_dict

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
#: 50 tokens: the specials, punctuation, whole words and a few continuation pieces ("##...")
TINY_VOCAB = [
    *SPECIALS,
    ".", ",", "?", "'", "-",
    "the", "a", "is", "in", "of", "to", "and", "at", "for", "on",
    "john", "mary", "smith", "paris", "london", "berlin", "acme", "corp", "lives", "works",
    "visited", "who", "where", "what", "city", "does", "new", "york", "born", "was",
    "cafe", "naive", "play", "##s", "##ed", "##ing", "##er", "##y", "un", "##known",
]  # fmt: skip
assert len(TINY_VOCAB) == 50 and len(set(TINY_VOCAB)) == 50

TINY_SIZES = {
    "vocab_size": len(TINY_VOCAB),
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
}


def tiny_config(**changes: Any) -> BertConfig:
    """The tiny BERT's config (dropout off unless asked: gradient checks want a deterministic network)."""
    fields = {**TINY_SIZES, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, **changes}
    return BertConfig(**fields)


def write_tiny_tokenizer(folder: Path) -> None:
    """tokenizer.json of a BERT-style uncased WordPiece tokenizer over TINY_VOCAB (the ``tokenizers`` package)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(TINY_VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    for s in SPECIALS:
        tok.add_special_tokens([s])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))


def random_bert(config: BertConfig, *, seed: int = 0, dtype: str = "float64", add_pooler: bool = True) -> BertModel:
    """A BertModel with seeded random weights of a useful scale (layer-norm gains near 1)."""
    model = BertModel(config, add_pooler=add_pooler, dtype=dtype)
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if v.name.endswith("/gamma"):
            v.data[...] = 1.0 + 0.1 * rng.standard_normal(v.shape)
        else:
            v.data[...] = 0.3 * rng.standard_normal(v.shape)
    return model


def write_tiny_model(
    folder: Path, *, seed: int = 0, prefix: str = "", config: BertConfig | None = None, add_pooler: bool = True
) -> Path:
    """A complete tiny BERT directory in ``folder``: config.json, model.safetensors (float32), tokenizer.json."""
    from safetensors.numpy import save_file

    config = config or tiny_config()
    model = random_bert(config, seed=seed, dtype="float32", add_pooler=add_pooler)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(encoder_state_dict(model, prefix=prefix), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    write_tiny_tokenizer(folder)
    return folder


def real_token_max_diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """max |a - b| over the positions where ``mask`` [N, L] is 1 (padding rows are arbitrary)."""
    keep = np.asarray(mask, dtype=bool)
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))[keep].max(initial=0.0))


@contextlib.contextmanager
def one_thread(*, torch_too: bool = False) -> Iterator[None]:
    """NumPy's BLAS (and torch's intra-op pool) on one thread while a module runs.

    The test machine has 2 cores shared with other jobs; a 2-thread GEMM whose second worker is descheduled waits
    for it at every barrier, which made a 30-token MiniLM forward pass 20-60x slower (2 s instead of 35 ms).  These
    tests check numbers, not speed, so one thread is the robust choice; the previous settings come back after.
    """
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn / scipy installs
            pass
        else:
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        if torch_too:
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, before)
        yield
