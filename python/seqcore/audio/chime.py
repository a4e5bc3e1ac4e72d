"""The chime a trigger-word detector plays where it hears the word, and mixing it into a clip.

The chime is synthesised here (no sound file ships with seqcore): three harmonic partials of
A5 (880, 1760 and 2640 Hz), each decaying exponentially, the higher ones faster, as a struck
bell or glass does.  A 4 ms rise avoids a click at the onset and a 20 ms fade a cut at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np

from .._checks import positive_int
from .constants import SAMPLE_RATE
from .wav import _as_float64, _to_float32

__all__ = ["CHIME_PEAK", "CHIME_SECONDS", "chime", "overlay_chimes"]

CHIME_SECONDS = 0.4
CHIME_PEAK = 0.5  # leaves headroom for the speech it is mixed into

_FUNDAMENTAL_HZ = 880.0
# (multiple of the fundamental, relative amplitude, decay time constant in seconds)
_PARTIALS = ((1.0, 1.0, 0.12), (2.0, 0.5, 0.07), (3.0, 0.25, 0.04))
_ATTACK_SECONDS = 0.004
_RELEASE_SECONDS = 0.02
# partials this close to the Nyquist frequency would alias into lower, unrelated tones
_NYQUIST_MARGIN = 0.9
_MAX_RATE = 1_000_000  # far above any audio rate; keeps a typo from allocating gigabytes


def chime(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A short bell-like chime, float32 [round(CHIME_SECONDS * sample_rate)], peak ``CHIME_PEAK``.

    Partials at or above 90% of the Nyquist frequency are left out, so low sample rates give a
    purer tone rather than aliases; rates below about 2 kHz, where even the 880 Hz fundamental
    does not fit, are refused.  The same ``sample_rate`` always gives the same samples.
    """
    rate = positive_int("chime: sample_rate", sample_rate)
    if rate > _MAX_RATE:
        raise ValueError(f"chime: sample_rate must be at most {_MAX_RATE} Hz, got {rate}")
    limit = _NYQUIST_MARGIN * rate / 2
    if _FUNDAMENTAL_HZ >= limit:
        need = math.floor(2 * _FUNDAMENTAL_HZ / _NYQUIST_MARGIN) + 1
        raise ValueError(
            f"chime: sample_rate must be at least {need} Hz for an {_FUNDAMENTAL_HZ:g} Hz chime, got {rate}"
        )
    n = round(CHIME_SECONDS * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    for multiple, amplitude, tau in _PARTIALS:
        freq = multiple * _FUNDAMENTAL_HZ
        if freq < limit:
            out += amplitude * np.exp(-t / tau) * np.sin(2 * np.pi * freq * t)
    # raised-cosine ramps: a hard start or stop would click
    rise = max(1, round(_ATTACK_SECONDS * rate))
    fall = max(1, round(_RELEASE_SECONDS * rate))
    out[:rise] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    out[n - fall :] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(fall) + 1) / fall)
    out *= CHIME_PEAK / np.abs(out).max()
    return out.astype(np.float32)


def _times(times_seconds: Any) -> list[float]:
    if isinstance(times_seconds, (Real, np.generic, str, bytes)) or not isinstance(
        times_seconds, (Iterable, np.ndarray)
    ):
        raise TypeError(
            f"overlay_chimes: times_seconds must be a list of times in seconds, got {type(times_seconds).__name__}"
            + (f" (wrap a single time: [{times_seconds!r}])" if isinstance(times_seconds, Real) else "")
        )
    try:
        arr = np.asarray(times_seconds if isinstance(times_seconds, np.ndarray) else list(times_seconds))
    except ValueError:  # ragged nesting
        raise TypeError("overlay_chimes: times_seconds must be a flat list of times in seconds") from None
    if arr.ndim != 1 and arr.size:
        raise ValueError(f"overlay_chimes: times_seconds must be a flat list of times, got shape {arr.shape}")
    out = []
    for k, value in enumerate(arr.tolist()):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"overlay_chimes: times_seconds[{k}] must be a number of seconds, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"overlay_chimes: times_seconds[{k}] must be finite, got {value!r}")
        out.append(float(value))
    return out


def overlay_chimes(samples: Any, sample_rate: int, times_seconds: Iterable[float]) -> np.ndarray:
    """A copy of mono ``samples`` [n] with a :func:`chime` starting at each of ``times_seconds``, float32 [n].

    A chime starts at the sample nearest its time and is simply added to the audio (several
    may overlap); the sum is clipped to [-1, 1].  A chime starting inside the clip but running
    past its end is cut off there; times before 0 or at or after the clip's end are ignored.
    ``samples`` itself is left unchanged.
    """
    what = "overlay_chimes: samples"
    x = _as_float64(samples, what)
    if x.ndim != 1:
        raise ValueError(f"{what}: expected mono samples of shape [n], got shape {x.shape}")
    rate = positive_int("overlay_chimes: sample_rate", sample_rate)
    times = _times(times_seconds)
    n = x.shape[0]
    starts = [round(t * rate) for t in times if t >= 0]
    starts = [s for s in starts if s < n]
    if starts:
        bell = chime(rate).astype(np.float64)
        for s in starts:
            stop = min(n, s + bell.shape[0])
            x[s:stop] += bell[: stop - s]
    np.clip(x, -1.0, 1.0, out=x)
    return _to_float32(x, what)
