"""The numba backend: the reference's kernels compiled with numba, matrix products through BLAS.

Importing it without numba installed raises ImportError, and seqcore falls
back to the reference backend.  The compiled kernels are cached on disk
(``cache=True``), so only the first use of each kernel and dtype compiles.
"""

import numba  # first: without numba this module must fail to import

from ..reference.spectrogram import spectrogram  # Numba has no FFT: the NumPy reference (seqcore info says so)
from .attention import attention_backward, attention_forward, gelu_backward, gelu_forward
from .beam import beam_search_step, gather_rows
from .bleu import bleu_stats
from .clip import clip_by_global_norm, clip_by_value
from .conv import conv1d_backward, conv1d_forward
from .embedding import embedding_backward, embedding_forward
from .norm import batch_norm_backward, batch_norm_forward, layer_norm_backward, layer_norm_forward
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .recurrent import (
    gru_backward,
    gru_cell,
    gru_forward,
    lstm_backward,
    lstm_cell,
    lstm_forward,
    rnn_backward,
    rnn_cell,
    rnn_forward,
)
from .similarity import topk_dot
from .softmax import (
    log_softmax,
    log_softmax_backward,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
)
from .words import glove_cooccurrence, glove_train, word2vec_sgns_train

NAME = "numba"

#: kernels this backend runs through another implementation, and why (``seqcore info`` prints them)
KERNEL_NOTES = {"spectrogram": "numba backend uses the NumPy reference (no FFT in Numba)"}


def set_num_threads(n: int) -> None:
    """Size of numba's thread pool, capped at the NUMBA_NUM_THREADS it was started with.

    No kernel of this backend runs on that pool: next to OpenBLAS, whose workers
    spin for a while after each product, numba's workers made a step kernel 20x
    slower (measured on 2 cores).  The element-wise loops run vectorized on the
    calling thread; the matrix products use NumPy's BLAS and its own thread
    count (OPENBLAS_NUM_THREADS and the like).
    """
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def get_num_threads() -> int:
    return numba.get_num_threads()


__all__ = [
    "adagrad_update",
    "adam_update",
    "attention_backward",
    "attention_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "bleu_stats",
    "beam_search_step",
    "KERNEL_NOTES",
    "NAME",
    "clip_by_global_norm",
    "clip_by_value",
    "conv1d_backward",
    "conv1d_forward",
    "embedding_backward",
    "embedding_forward",
    "gather_rows",
    "gelu_backward",
    "gelu_forward",
    "get_num_threads",
    "glove_cooccurrence",
    "glove_train",
    "gru_backward",
    "gru_cell",
    "gru_forward",
    "layer_norm_backward",
    "layer_norm_forward",
    "log_softmax",
    "log_softmax_backward",
    "lstm_backward",
    "lstm_cell",
    "lstm_forward",
    "rmsprop_update",
    "rnn_backward",
    "rnn_cell",
    "rnn_forward",
    "set_num_threads",
    "sgd_update",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "spectrogram",
    "topk_dot",
    "word2vec_sgns_train",
]
