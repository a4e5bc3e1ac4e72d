"""The detector's input: the course's spectrogram, in log power."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import kernels
from .constants import N_FREQ, NFFT, NOVERLAP, SAMPLE_RATE, SPEC_FS
from .wav import resample, to_mono

# Power below this is treated as silence: about -120 dB under a full-scale sine's density, far under any 16-bit
# recording's noise floor, so digital silence gives a finite feature.
POWER_FLOOR = 1e-12
# log10 power of the synthesised training clips has about this mean and spread; removing them gives the
# convolution zero-mean, unit-scale input.  Left at -9, the input's mean dominated the convolution's output,
# which then drifted faster than BatchNormalization's moving statistics could follow (inference broke while
# training loss fell).
LOG_POWER_MEAN = -9.0
LOG_POWER_STD = 1.5


def _log_power(psd: np.ndarray) -> np.ndarray:
    out = np.log10(psd + np.float32(POWER_FLOOR)).astype(np.float32, copy=False)
    out -= np.float32(LOG_POWER_MEAN)
    out /= np.float32(LOG_POWER_STD)
    return out


def _samples(samples: Any) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono, shape [n], got {x.shape} (seqcore.audio.to_mono downmixes)")
    return to_mono(x)  # integer arrays are PCM, scaled to full scale +-1 the way read_wav scales them


def features(samples: Any, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 [T, 101]: standardised log power, ``(log10(psd + POWER_FLOOR) - LOG_POWER_MEAN) / LOG_POWER_STD``,
    where psd is the one-sided power spectral density of ``samples`` with the course's settings (200-sample Hann
    frames every 80 samples at 44.1 kHz, density scaled as for Fs=8000).

    The course feeds raw power; its range spans ten decades, and log power trains far more reliably (docs/audio.md).
    Other sample rates are resampled to 44.1 kHz first.  A 10 s clip gives T = 5511; a clip shorter than one frame
    (200 samples) gives T = 0.
    """
    x = _samples(samples)
    if sample_rate != SAMPLE_RATE:
        x = resample(x, sample_rate, SAMPLE_RATE)
    if x.shape[0] < NFFT:
        return np.zeros((0, N_FREQ), dtype=np.float32)
    psd = kernels.spectrogram(x, nfft=NFFT, noverlap=NOVERLAP, fs=SPEC_FS, window="hann")
    return _log_power(psd)


def features_batch(clips: Sequence[Any], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 [N, T, 101] for clips of one length (10 s clips give [N, 5511, 101]), in one batched kernel call."""
    if len(clips) == 0:
        raise ValueError("clips must hold at least one clip")
    xs = [_samples(c) for c in clips]
    if len({x.shape[0] for x in xs}) != 1:
        raise ValueError(f"clips must all have one length, got lengths {sorted({x.shape[0] for x in xs})}")
    if sample_rate != SAMPLE_RATE:
        return np.stack([features(x, sample_rate) for x in xs])
    if xs[0].shape[0] < NFFT:
        return np.zeros((len(xs), 0, N_FREQ), dtype=np.float32)
    psd = kernels.spectrogram(np.stack(xs), nfft=NFFT, noverlap=NOVERLAP, fs=SPEC_FS, window="hann")
    return _log_power(psd)
