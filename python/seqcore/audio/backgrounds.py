"""Ten-second background clips, generated: the course's backgrounds were recordings we cannot ship.

Each kind stands for a room the detector must not fire in: steady noise of three colours, mains hum with
harmonics, near-silence with hiss, and babble (overlapping speech at a low level, never containing the trigger
word).  Levels are drawn per clip so the detector sees quiet and loud rooms.
"""

from __future__ import annotations

import numpy as np

from .constants import CLIP_SAMPLES, SAMPLE_RATE

BACKGROUND_KINDS = ("white", "pink", "brown", "hum", "hiss", "babble")

# babble is built from these, never from the trigger word (make_background refuses it as a babble word)
BABBLE_WORDS = (
    "the meeting starts at noon",
    "could you pass the salt please",
    "we went to the beach last week",
    "my phone is almost out of battery",
    "the train was late again",
    "let us order some pizza tonight",
    "have you seen my keys anywhere",
    "the weather looks nice outside",
    "i will call you back later",
    "this soup needs more pepper",
    "the children are playing football",
    "turn left after the bridge",
)


def _db(level_db: float) -> float:
    return float(10.0 ** (level_db / 20.0))


def _rms_normalise(x: np.ndarray, level_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return x if rms == 0.0 else x * (_db(level_db) / rms)


def _coloured(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, d=1.0 / SAMPLE_RATE)
    f[0] = f[1]
    spectrum *= f ** (-exponent / 2.0)
    return np.fft.irfft(spectrum, n)


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    mains = rng.choice([50.0, 60.0])
    x = np.zeros(n)
    for harmonic in range(1, 6):
        x += rng.uniform(0.2, 1.0) / harmonic * np.sin(2 * np.pi * mains * harmonic * t + rng.uniform(0, 2 * np.pi))
    pink = _coloured(rng, n, 1.0)
    return x + 0.05 * pink / max(float(np.std(pink)), 1e-12)


def _babble(rng: np.random.Generator, n: int, trigger_word: str | None) -> np.ndarray:
    from .speech import VoiceStyle, english_voices, synthesize, voice_variants

    accents, variants = english_voices(), voice_variants()
    x = np.zeros(n)
    for _ in range(int(rng.integers(6, 13))):
        phrase = BABBLE_WORDS[int(rng.integers(len(BABBLE_WORDS)))]
        if trigger_word and trigger_word.lower() in phrase.split():
            continue
        style = VoiceStyle(
            accent=accents[int(rng.integers(len(accents)))],
            variant=variants[int(rng.integers(len(variants)))],
            rate=int(rng.integers(140, 220)),
            pitch=int(rng.integers(20, 80)),
        )
        voice = synthesize(phrase, style, seed=int(rng.integers(2**31)))[:n]
        if voice.size == 0:
            continue
        start = int(rng.integers(0, n - voice.size + 1))
        x[start : start + voice.size] += voice * rng.uniform(0.3, 1.0)
    return x + 0.01 * rng.standard_normal(n)


def make_background(
    kind: str, rng: np.random.Generator, *, level_db: float | None = None, trigger_word: str | None = "activate"
) -> np.ndarray:
    """One 10 s background of ``kind`` (see ``BACKGROUND_KINDS``) at 44.1 kHz: float32 [441000].

    ``level_db`` is the RMS level in dB full scale; by default it is drawn per kind (hiss -60 to -45 dB, the rest
    -45 to -25 dB), so speech inserted at about -20 dB stays audible, as in the course's recordings."""
    if kind not in BACKGROUND_KINDS:
        raise ValueError(f"kind must be one of {BACKGROUND_KINDS}, got {kind!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n = CLIP_SAMPLES
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _coloured(rng, n, 1.0)
    elif kind == "brown":
        x = _coloured(rng, n, 2.0)
    elif kind == "hum":
        x = _hum(rng, n)
    elif kind == "hiss":
        x = np.diff(rng.standard_normal(n + 1))  # a first difference tilts white noise towards the highs
    else:
        x = _babble(rng, n, trigger_word)
    if level_db is None:
        level_db = float(rng.uniform(-60.0, -45.0) if kind == "hiss" else rng.uniform(-45.0, -25.0))
    return np.clip(_rms_normalise(x, level_db), -1.0, 1.0).astype(np.float32)


def random_background(rng: np.random.Generator, *, trigger_word: str | None = "activate") -> np.ndarray:
    """A background of a kind drawn uniformly from ``BACKGROUND_KINDS``."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    return make_background(kind, rng, trigger_word=trigger_word)
