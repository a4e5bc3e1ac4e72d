"""Short-time power spectral density, the readable version every backend is checked against."""

from __future__ import annotations

import numpy as np


def spectrogram(x, window, noverlap, scale):
    """x: [B,L] float32|float64; window: [W] float64; noverlap: samples shared by neighbouring frames;
    scale: 1 / (fs * sum(window**2)).  Returns the one-sided PSD [B,T,F] in x's dtype, T = (L-noverlap)//(W-noverlap),
    F = W//2+1: scale * |rfft(window * frame)|^2, doubled except at DC and (even W) Nyquist, which have no mirror."""
    nfft = window.shape[0]
    hop = nfft - noverlap
    B, L = x.shape
    T = (L - noverlap) // hop
    if B == 0:  # no clips: the frame index below would still be T*W entries, gigabytes for a long empty batch
        return np.zeros((0, T, nfft // 2 + 1), x.dtype)
    starts = np.arange(T) * hop
    frames = x.astype(np.float64)[:, starts[:, None] + np.arange(nfft)[None, :]]  # [B,T,W]
    spec = np.fft.rfft(frames * window, axis=-1)
    psd = (spec.real**2 + spec.imag**2) * scale
    last = nfft // 2 if nfft % 2 == 0 else nfft // 2 + 1
    psd[..., 1:last] *= 2.0
    return psd.astype(x.dtype, copy=False)
