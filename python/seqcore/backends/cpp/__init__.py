"""The cpp backend: seqcore._core, C++17 kernels on Eigen's GEMM with OpenMP threads.

This module only adapts calling conventions (caches in and out); argument checks
happen in seqcore.kernels and again, defensively, in the binding.
"""

from __future__ import annotations

import os

import numpy as np

from .._types import (
    BatchNormCache,
    Conv1DCache,
    GRUCache,
    LayerNormCache,
    LSTMCache,
    RNNCache,
    SoftmaxCrossEntropyCache,
)
from ..reference.spectrogram import spectrogram as _reference_spectrogram


def _load_core():
    """Import the extension with a short OpenBLAS spin time unless the user chose one.

    OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when the library loads: its idle workers
    spin 2**n cycles before sleeping, 2**28 (about 0.1 s) by default.  Ours only needs to
    bridge the microseconds between two steps of a recurrence; spinning longer steals a
    core from whatever runs next on a 2-core machine (PyTorch in a benchmark, NumPy's own
    OpenBLAS).  2**20 cycles is about 0.3 ms.  The variable is set only for the import.
    """
    key = "OPENBLAS_THREAD_TIMEOUT"
    chosen = key in os.environ
    if not chosen:
        os.environ[key] = "20"
    try:
        from ... import _core
    finally:
        if not chosen:
            del os.environ[key]
    return _core


_core = _load_core()

NAME = "cpp"

set_num_threads = _core.set_num_threads
get_num_threads = _core.get_num_threads
build_info = _core.build_info


def lstm_forward(x, h0, c0, W, U, b, lengths=None, reverse=False):
    y, hT, cT, gates, c = _core.lstm_forward(x, h0, c0, W, U, b, lengths, reverse)
    return y, hT, cT, LSTMCache(x, h0, c0, W, U, lengths, reverse, gates, c, y)


def lstm_backward(cache: LSTMCache, dy=None, dhT=None, dcT=None):
    k = cache
    return _core.lstm_backward(k.x, k.h0, k.c0, k.W, k.U, k.lengths, k.reverse, k.gates, k.c, k.y, dy, dhT, dcT)


def lstm_cell(x, h, c, W, U, b):
    return _core.lstm_cell(x, h, c, W, U, b)


def gru_forward(x, h0, W, U, b, reset_after=True, lengths=None, reverse=False):
    y, hT, gates, hr = _core.gru_forward(x, h0, W, U, b, reset_after, lengths, reverse)
    return y, hT, GRUCache(x, h0, W, U, lengths, reverse, reset_after, gates, hr, y)


def gru_backward(cache: GRUCache, dy=None, dhT=None):
    k = cache
    return _core.gru_backward(k.x, k.h0, k.W, k.U, k.reset_after, k.lengths, k.reverse, k.gates, k.hr, k.y, dy, dhT)


def gru_cell(x, h, W, U, b, reset_after=True):
    return _core.gru_cell(x, h, W, U, b, reset_after)


def rnn_forward(x, h0, W, U, b, lengths=None, reverse=False):
    y, hT = _core.rnn_forward(x, h0, W, U, b, lengths, reverse)
    return y, hT, RNNCache(x, h0, W, U, lengths, reverse, y)


def rnn_backward(cache: RNNCache, dy=None, dhT=None):
    k = cache
    return _core.rnn_backward(k.x, k.h0, k.W, k.U, k.lengths, k.reverse, k.y, dy, dhT)


def rnn_cell(x, h, W, U, b):
    return _core.rnn_cell(x, h, W, U, b)


softmax = _core.softmax
softmax_backward = _core.softmax_backward
log_softmax = _core.log_softmax
log_softmax_backward = _core.log_softmax_backward


def softmax_cross_entropy(logits, labels):
    loss, probs = _core.softmax_cross_entropy(logits, labels)
    return loss, SoftmaxCrossEntropyCache(probs, labels, labels.ndim == logits.ndim - 1)


def softmax_cross_entropy_backward(cache: SoftmaxCrossEntropyCache, dloss):
    return _core.softmax_cross_entropy_backward(cache.probs, cache.labels, dloss)


embedding_forward = _core.embedding_forward
embedding_backward = _core.embedding_backward
sgd_update = _core.sgd_update


def layer_norm_forward(x, gamma, beta, eps):
    y, xhat, mean, rstd = _core.layer_norm_forward(x, gamma, beta, eps)
    return y, LayerNormCache(xhat, mean, rstd, gamma)


def layer_norm_backward(cache: LayerNormCache, dy):
    return _core.layer_norm_backward(cache.xhat, cache.rstd, cache.gamma, dy)


def batch_norm_forward(x, gamma, beta, eps):
    y, xhat, mean, var, rstd = _core.batch_norm_forward(x, gamma, beta, eps)
    return y, mean, var, BatchNormCache(xhat, mean, rstd, gamma)


def batch_norm_backward(cache: BatchNormCache, dy):
    return _core.batch_norm_backward(cache.xhat, cache.rstd, cache.gamma, dy)


adam_update = _core.adam_update
rmsprop_update = _core.rmsprop_update
adagrad_update = _core.adagrad_update


def conv1d_forward(x, W, b, stride, padding, dilation):
    y = _core.conv1d_forward(x, W, b, stride, padding[0], padding[1], dilation)
    return y, Conv1DCache(x, W, b is not None, stride, padding, dilation)


def conv1d_backward(cache: Conv1DCache, dy):
    k = cache
    return _core.conv1d_backward(k.x, k.W, k.has_bias, k.stride, k.padding[0], k.padding[1], k.dilation, dy)


def _native(g: np.ndarray) -> bool:
    return g.flags.c_contiguous and g.flags.aligned


def clip_by_value(grads, min_value, max_value, inplace=False):
    out = []
    for g in grads:
        if not _native(g):  # a strided view the user wants changed in place: NumPy handles it
            out.append(np.clip(g, min_value, max_value, out=g if inplace else None))
            continue
        out.append(_core.clip_by_value(g, min_value, max_value, g if inplace else None))
    return out


def clip_by_global_norm(grads, max_norm, inplace=False):
    total = 0.0
    for g in grads:
        total += _core.sum_of_squares(g) if _native(g) else float(np.sum(np.square(g, dtype=np.float64)))
    norm = float(np.sqrt(total))
    factor = max_norm / norm if np.isfinite(norm) and norm > max_norm else 1.0
    out = []
    for g in grads:
        if not _native(g):
            if inplace:
                g *= g.dtype.type(factor)
                out.append(g)
            else:
                out.append(g * g.dtype.type(factor))
            continue
        out.append(_core.scale(g, factor, g if inplace else None))
    return out, norm


def topk_dot(matrix, queries, k, exclude=None):
    return _core.topk_dot(matrix, queries, k, exclude)


bleu_stats = _core.bleu_stats
word2vec_sgns_train = _core.word2vec_sgns_train
glove_cooccurrence = _core.glove_cooccurrence
glove_train = _core.glove_train


def beam_search_step(state, log_probs, rows, step, eos, length_norm):
    return _core.beam_search_step(*state, log_probs, rows, step, eos, length_norm)


gather_rows = _core.gather_rows

#: kissfft (behind the native spectrogram) has butterflies for the factors 2 to 5 and an O(p^2) one for any other
#: prime p: for an nfft with a prime factor above this, NumPy's FFT (the reference) is the faster by far (nfft = 1009,
#: a prime: 15x), and for a large prime the native call would run for hours
SPECTROGRAM_MAX_PRIME = 31

#: kernels this backend runs through another implementation, and when (``seqcore info`` prints them)
KERNEL_NOTES = {
    "spectrogram": f"an nfft with a prime factor above {SPECTROGRAM_MAX_PRIME} runs on the NumPy reference "
    "(kissfft's butterfly for such a factor p is O(p^2))"
}


def _largest_prime_factor(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1 if p == 2 else 2
    return max(largest, n)


def spectrogram(x, window, noverlap, scale):
    if _largest_prime_factor(window.shape[0]) > SPECTROGRAM_MAX_PRIME:
        return _reference_spectrogram(x, window, noverlap, scale)
    return _core.spectrogram(x, window, noverlap, scale)


def attention_forward(q, k, v, mask, causal, scale, dropout, seed):
    return _core.attention_forward(q, k, v, mask, causal, scale, dropout, seed)


def attention_backward(q, k, v, out, lse, mask, causal, scale, dropout, seed, dout):
    return _core.attention_backward(q, k, v, out, lse, mask, causal, scale, dropout, seed, dout)


def gelu_forward(x, approximate):
    return _core.gelu_forward(x, approximate)


def gelu_backward(x, dy, approximate):
    return _core.gelu_backward(x, dy, approximate)
