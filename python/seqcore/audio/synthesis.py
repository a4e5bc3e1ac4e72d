"""Training examples for trigger-word detection, made the course's way from synthesised speech.

An example is a 10 s background with 0-4 trigger words and 0-2 other words spoken over it at random,
non-overlapping positions; its label has TY = 1375 steps, with 50 ones right after the end of each trigger word.

Voices.  A voice is an espeak-ng accent plus a variant; a *style* combination is (accent, variant, speed).
:func:`style_splits` divides them three ways: ``train``; ``dev``, whose combinations never occur in ``train``
(the same voices at other speeds); and ``unseen_voice``, whose variants never occur in ``train`` or ``dev``.
Pitch, pitch range, gain and a small speed perturbation are drawn per word on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np

from .._checks import positive_int
from .backgrounds import random_background
from .constants import CLIP_SAMPLES, CLIP_SECONDS, LABEL_STEPS, N_FREQ, SAMPLE_RATE, TX, TY
from .features import features_batch
from .speech import VoiceStyle, english_voices, synthesize, voice_variants

NEGATIVE_WORDS = (
    "hello", "music", "weather", "computer", "yellow", "morning", "banana", "seven", "window", "coffee",
    "garden", "remember", "tomorrow", "kitchen", "paper", "orange", "water", "happy", "listen", "telephone",
    "river", "summer", "basket", "pencil", "travel", "elephant", "chocolate", "dinner", "button", "silver",
    "monday", "picture", "forward", "letter", "station", "number", "evening", "animal", "table", "question",
)  # fmt: skip

RATES = (110, 130, 150, 170, 190, 210, 240, 270)  # words per minute; espeak's default is 175
# Recordings often come at lower rates; resampled to 44.1 kHz they have nothing above half their rate, a
# spectrum the detector never meets in full-band synthetic clips. A share of the examples is band-limited so.
RECORDING_RATES = (8000, 11025, 16000, 22050)
BAND_LIMITED_FRACTION = 0.3
MAX_ACTIVATES = 4
MAX_NEGATIVES = 2
_PLACEMENT_TRIES = 100
_CHUNK = 48  # examples per worker process; fixed, so the data do not depend on the number of workers

Combo = tuple[str, str, int]  # (accent, variant, rate)


@dataclass(frozen=True)
class StyleSplits:
    """Disjoint sets of (accent, variant, rate) combinations; see the module docstring."""

    train: tuple[Combo, ...]
    dev: tuple[Combo, ...]
    unseen_voice: tuple[Combo, ...]
    unseen_variants: tuple[str, ...]


def style_splits(seed: int = 0, *, dev_fraction: float = 0.2, unseen_fraction: float = 0.1) -> StyleSplits:
    """Split every English accent x variant x rate combination into train, dev and unseen-voice sets.

    ``unseen_fraction`` of the variants (never the accents' own default voice) are held out entirely; of the
    remaining combinations, ``dev_fraction`` go to dev.  The same seed gives the same split."""
    if not 0.0 < dev_fraction < 1.0 or not 0.0 < unseen_fraction < 1.0:
        raise ValueError(f"dev_fraction and unseen_fraction must lie in (0, 1), got {dev_fraction}, {unseen_fraction}")
    rng = np.random.default_rng([seed, 1])
    accents, variants = english_voices(), voice_variants()
    named = [v for v in variants if v]
    held = set(rng.permutation(named)[: max(1, round(unseen_fraction * len(named)))].tolist())
    seen = [v for v in variants if v not in held]
    combos = [(a, v, r) for a in accents for v in seen for r in RATES]
    order = rng.permutation(len(combos))
    n_dev = max(1, round(dev_fraction * len(combos)))
    dev = tuple(sorted(combos[i] for i in order[:n_dev]))
    train = tuple(sorted(combos[i] for i in order[n_dev:]))
    unseen = tuple((a, v, r) for a in accents for v in sorted(held) for r in RATES)
    return StyleSplits(train=train, dev=dev, unseen_voice=unseen, unseen_variants=tuple(sorted(held)))


def random_style(combos: Sequence[Combo], rng: np.random.Generator) -> VoiceStyle:
    accent, variant, rate = combos[int(rng.integers(len(combos)))]
    return VoiceStyle(
        accent=accent,
        variant=variant,
        rate=int(rate),
        pitch=int(rng.integers(25, 76)),
        pitch_range=int(rng.integers(30, 71)),
    )


def speak(word: str, combos: Sequence[Combo], rng: np.random.Generator) -> np.ndarray:
    """``word`` in a random style from ``combos``, then augmented: speed perturbed by 0.92-1.08 (resampling, so
    pitch moves with it, as in speech recognisers' speed perturbation) and scaled to a peak of -14 to -1 dBFS."""
    from scipy.signal import resample_poly

    clip = synthesize(word, random_style(combos, rng), seed=int(rng.integers(2**31)))
    if clip.size == 0:
        return clip
    down = int(rng.integers(92, 109))
    if down != 100:
        clip = resample_poly(clip, 100, down).astype(np.float32)
    peak = float(np.max(np.abs(clip)))
    gain = 10.0 ** (rng.uniform(-14.0, -1.0) / 20.0) / max(peak, 1e-9)
    return (clip * gain).astype(np.float32)


@dataclass
class Example:
    """One synthesised clip: ``samples`` float32 [441000] at 44.1 kHz, ``y`` float32 [1375] labels,
    ``trigger_ends`` the trigger words' last samples in seconds, ``segments`` (first, last sample, kind)."""

    samples: np.ndarray
    y: np.ndarray
    trigger_ends: list[float]
    segments: list[tuple[int, int, str]] = field(default_factory=list)


def label_start(end_sample: int) -> int:
    """The first output step labelled 1 for a trigger word whose last sample is ``end_sample``: one step after
    the step holding its end (the course's ``insert_ones``, computed in samples instead of milliseconds)."""
    return int(end_sample * TY / CLIP_SAMPLES) + 1


def _overlaps(start: int, stop: int, taken: list[tuple[int, int, str]]) -> bool:
    return any(start <= last and stop >= first for first, last, _ in taken)


def _place(length: int, taken: list[tuple[int, int, str]], rng: np.random.Generator) -> int | None:
    """A random first sample for a clip of ``length`` samples overlapping nothing in ``taken``; None when
    ``_PLACEMENT_TRIES`` draws all collide (the word is then left out, rather than looping forever)."""
    for _ in range(_PLACEMENT_TRIES):
        start = int(rng.integers(0, CLIP_SAMPLES - length + 1))
        if not _overlaps(start, start + length - 1, taken):
            return start
    return None


def _clip_list(name: str, clips: Sequence[Any]) -> list[np.ndarray]:
    if isinstance(clips, np.ndarray) or not isinstance(clips, Sequence):
        raise TypeError(f"{name} must be a list of 1-D sample arrays, got {type(clips).__name__}")
    out = []
    for i, c in enumerate(clips):
        a = np.asarray(c, dtype=np.float32)
        if a.ndim != 1 or not 0 < a.shape[0] <= CLIP_SAMPLES:
            raise ValueError(f"{name}[{i}] must be 1-D with 1 to {CLIP_SAMPLES} samples, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{i}] must be finite")
        out.append(a)
    return out


def synthesize_example(
    background: Any, activates: Sequence[Any], negatives: Sequence[Any], rng: np.random.Generator
) -> Example:
    """The course's ``create_training_example``: 0-4 clips drawn (with replacement) from ``activates`` and 0-2
    from ``negatives`` are added to ``background`` at random positions that never overlap; each trigger word's
    end is followed by 50 ones in ``y`` (cut at the last step).  Clips are 44.1 kHz; the sum is clipped to [-1, 1].
    Empty ``activates``/``negatives`` lists are allowed (then none of that kind is inserted)."""
    bg = np.asarray(background, dtype=np.float32)
    if bg.shape != (CLIP_SAMPLES,):
        raise ValueError(f"background must have shape ({CLIP_SAMPLES},) (10 s at 44.1 kHz), got {bg.shape}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    acts, negs = _clip_list("activates", activates), _clip_list("negatives", negatives)
    samples = bg.copy()
    y = np.zeros(TY, dtype=np.float32)
    segments: list[tuple[int, int, str]] = []
    ends: list[float] = []
    n_act = int(rng.integers(0, MAX_ACTIVATES + 1)) if acts else 0
    for i in rng.integers(0, max(len(acts), 1), size=n_act):
        clip = acts[int(i)]
        start = _place(clip.shape[0], segments, rng)
        if start is None:
            continue
        last = start + clip.shape[0] - 1
        samples[start : last + 1] += clip
        segments.append((start, last, "activate"))
        ends.append(last / SAMPLE_RATE)
        first = label_start(last)
        y[first : first + LABEL_STEPS] = 1.0
    n_neg = int(rng.integers(0, MAX_NEGATIVES + 1)) if negs else 0
    for i in rng.integers(0, max(len(negs), 1), size=n_neg):
        clip = negs[int(i)]
        start = _place(clip.shape[0], segments, rng)
        if start is None:
            continue
        samples[start : start + clip.shape[0]] += clip
        segments.append((start, start + clip.shape[0] - 1, "negative"))
    np.clip(samples, -1.0, 1.0, out=samples)
    order = np.argsort(ends)
    return Example(samples, y, [ends[i] for i in order], sorted(segments))


def random_example(
    rng: np.random.Generator,
    combos: Sequence[Combo],
    *,
    word: str = "activate",
    negative_words: Sequence[str] = NEGATIVE_WORDS,
) -> Example:
    """A complete random example: a background of a random kind, a pool of four spoken trigger words and three
    negatives in random styles from ``combos``, combined by :func:`synthesize_example`; 30% of the examples are
    then band-limited as if recorded at 8, 11.025, 16 or 22.05 kHz (:func:`band_limit`)."""
    background = random_background(rng, trigger_word=word)
    activates = [c for c in (speak(word, combos, rng) for _ in range(MAX_ACTIVATES)) if c.size]
    picks = rng.integers(0, len(negative_words), size=3)
    negatives = [c for c in (speak(negative_words[int(i)], combos, rng) for i in picks) if c.size]
    example = synthesize_example(background, activates, negatives, rng)
    if rng.random() < BAND_LIMITED_FRACTION:
        example.samples = band_limit(example.samples, int(rng.choice(RECORDING_RATES)))
    return example


def band_limit(samples: np.ndarray, rate: int) -> np.ndarray:
    """``samples`` (44.1 kHz) as if recorded at ``rate`` and resampled back: nothing above rate / 2 remains."""
    from .wav import resample

    out = resample(resample(samples, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: samples.shape[0]]
    if out.shape[0] < samples.shape[0]:
        out = np.pad(out, (0, samples.shape[0] - out.shape[0]))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@dataclass
class TriggerData:
    """A synthesised data set: ``X`` float32 [n, 5511, 101] features, ``Y`` float32 [n, 1375, 1] labels,
    ``trigger_ends`` per clip (seconds), and ``audio`` float32 [n, 441000] when asked for."""

    X: np.ndarray
    Y: np.ndarray
    trigger_ends: list[list[float]]
    word: str
    seed: int
    audio: np.ndarray | None = None

    def __len__(self) -> int:
        return self.X.shape[0]


def _make_chunk(
    indices: Sequence[int], seed: int, combos: Sequence[Combo], word: str, negative_words: Sequence[str], keep_audio
):
    X = np.empty((len(indices), TX, N_FREQ), dtype=np.float32)
    Y = np.empty((len(indices), TY, 1), dtype=np.float32)
    audio = np.empty((len(indices), CLIP_SAMPLES), dtype=np.float32) if keep_audio else None
    ends = []
    batch: list[np.ndarray] = []
    for j, i in enumerate(indices):
        # one generator per example, keyed by (seed, index): the data do not depend on how work is split
        ex = random_example(np.random.default_rng([seed, int(i)]), combos, word=word, negative_words=negative_words)
        Y[j, :, 0] = ex.y
        ends.append(ex.trigger_ends)
        batch.append(ex.samples)
        if audio is not None:
            audio[j] = ex.samples
        if len(batch) == 16 or j == len(indices) - 1:
            X[j + 1 - len(batch) : j + 1] = features_batch(batch)
            batch = []
    return X, Y, ends, audio


def make_dataset(
    n: int,
    seed: int = 0,
    *,
    word: str = "activate",
    styles: Sequence[Combo] | None = None,
    negative_words: Sequence[str] = NEGATIVE_WORDS,
    workers: int = 1,
    keep_audio: bool = False,
    progress: Any = None,
) -> TriggerData:
    """``n`` random examples as model-ready arrays (:class:`TriggerData`); ``styles`` defaults to
    ``style_splits().train``.  ``workers`` > 1 synthesises in that many processes; the result is the same for
    any ``workers`` (each example has its own seeded generator).  ``progress(done)`` is called as chunks finish."""
    n = positive_int("n", n)
    workers = positive_int("workers", workers)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word must be a non-empty string, got {word!r}")
    negative_words = tuple(negative_words)
    if not negative_words or not all(isinstance(w, str) and w.strip() for w in negative_words):
        raise ValueError("negative_words must be a non-empty list of non-empty strings")
    if word.lower() in (w.lower() for w in negative_words):
        raise ValueError(f"negative_words must not contain the trigger word {word!r}")
    combos = tuple(style_splits().train if styles is None else styles)
    if not combos:
        raise ValueError("styles must hold at least one (accent, variant, rate) combination")
    pieces = [list(range(i, min(i + _CHUNK, n))) for i in range(0, n, _CHUNK)]
    args = (seed, combos, word, negative_words, keep_audio)
    # filled in place as chunks arrive: concatenating would hold the features twice (2.2 MB per clip)
    X = np.empty((n, TX, N_FREQ), dtype=np.float32)
    Y = np.empty((n, TY, 1), dtype=np.float32)
    audio = np.empty((n, CLIP_SAMPLES), dtype=np.float32) if keep_audio else None
    ends: list[list[float]] = []

    def store(piece: list[int], result: Any) -> None:
        X[piece[0] : piece[-1] + 1], Y[piece[0] : piece[-1] + 1] = result[0], result[1]
        ends.extend(result[2])
        if audio is not None:
            audio[piece[0] : piece[-1] + 1] = result[3]
        if progress is not None:
            progress(len(piece))

    # Every chunk runs in a fresh process (spawned, so no thread pools or espeak-ng state are inherited):
    # espeak-ng carries state between utterances, and a fresh process per chunk makes the data a function
    # of the seed alone, whatever ``workers`` is.
    with get_context("spawn").Pool(min(workers, len(pieces)), maxtasksperchild=1) as pool:
        jobs = [pool.apply_async(_make_chunk, (p, *args)) for p in pieces]
        for p, job in zip(pieces, jobs):
            store(p, job.get())
    return TriggerData(X=X, Y=Y, trigger_ends=ends, word=word, seed=int(seed), audio=audio)


__all__ = [
    "CLIP_SECONDS",
    "Example",
    "band_limit",
    "NEGATIVE_WORDS",
    "StyleSplits",
    "TriggerData",
    "label_start",
    "make_dataset",
    "random_example",
    "speak",
    "style_splits",
    "synthesize_example",
]
