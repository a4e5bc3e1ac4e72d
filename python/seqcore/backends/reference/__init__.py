"""The reference backend: readable NumPy, the ground truth in tests."""

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
from .spectrogram import spectrogram
from .words import glove_cooccurrence, glove_train, word2vec_sgns_train

NAME = "reference"

__all__ = [
    "adagrad_update",
    "adam_update",
    "attention_backward",
    "attention_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "bleu_stats",
    "beam_search_step",
    "clip_by_global_norm",
    "clip_by_value",
    "conv1d_backward",
    "conv1d_forward",
    "embedding_backward",
    "embedding_forward",
    "gather_rows",
    "gelu_backward",
    "gelu_forward",
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
    "sgd_update",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "spectrogram",
    "topk_dot",
    "word2vec_sgns_train",
]
