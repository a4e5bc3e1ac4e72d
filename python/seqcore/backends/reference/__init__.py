"""The reference backend: readable NumPy, the ground truth in tests."""

from .clip import clip_by_global_norm, clip_by_value
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
from .softmax import (
    log_softmax,
    log_softmax_backward,
    softmax,
    softmax_backward,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
)

NAME = "reference"

__all__ = [
    "clip_by_global_norm",
    "clip_by_value",
    "gru_backward",
    "gru_cell",
    "gru_forward",
    "log_softmax",
    "log_softmax_backward",
    "lstm_backward",
    "lstm_cell",
    "lstm_forward",
    "rnn_backward",
    "rnn_cell",
    "rnn_forward",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
]
