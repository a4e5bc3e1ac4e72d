"""seqcore.embeddings: pretrained word vectors, similarity search, analogies and debiasing.

``WordVectors`` holds a vocabulary and its [V,E] float32 matrix; ``WordVectors.pretrained()`` gives GloVe 6B 50-d
(the ``seqcore[glove]`` extra), ``WordVectors.load`` reads GloVe/word2vec text and binary files and seqcore's own
memory-mappable folder format; ``train_word2vec`` / ``train_glove`` learn vectors from a corpus.  See
``docs/embeddings.md`` and ``docs/word_training.md``.
"""

from __future__ import annotations

from .analogies import AnalogyResult, AnalogySection, read_analogy_file
from .debias import bias_direction_from_vectors, equalize_vectors, neutralize_vector
from .io import FORMATS, detect_format
from .train import train_glove, train_word2vec
from .vectors import PRETRAINED, WordVectors, default_cache_dir

__all__ = [
    "FORMATS",
    "PRETRAINED",
    "AnalogyResult",
    "AnalogySection",
    "WordVectors",
    "bias_direction_from_vectors",
    "default_cache_dir",
    "detect_format",
    "equalize_vectors",
    "neutralize_vector",
    "read_analogy_file",
    "train_glove",
    "train_word2vec",
]
