"""Trigger-word data synthesis rate (clips/s) under pytest-benchmark.

Each round builds a small data set with ``seqcore.audio.make_dataset`` (speech from espeak-ng, a generated
background, the course's insertion and labelling, features through the spectrogram kernel), once with one
worker and once with two.  Before timing, the data are checked: the same seed gives the same arrays for both
worker counts.  Clips per second land in ``extra_info``.  A worker process starts per chunk of 48 clips, so
small rounds include that start-up (about a second); the rate at scale is printed by ``seqcore trigger train``.

    pytest benchmarks/test_audio_synthesis.py --benchmark-only
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from seqcore import audio

CLIPS = 96  # two chunks, so two workers both have one

pytestmark = pytest.mark.skipif(not audio.speech_available(), reason="espeak-ng is not available")


@cache
def _validated() -> None:
    one = audio.make_dataset(4, seed=3, workers=1)
    two = audio.make_dataset(4, seed=3, workers=2)
    if not (np.array_equal(one.X, two.X) and np.array_equal(one.Y, two.Y)):
        raise AssertionError("make_dataset gave different data for 1 and 2 workers")
    if one.X.shape != (4, audio.TX, audio.N_FREQ) or not np.all(np.isfinite(one.X)):
        raise AssertionError(f"unexpected features: shape {one.X.shape}")


@pytest.mark.parametrize("workers", [1, 2])
def test_synthesis_rate(benchmark, workers):
    _validated()
    data = benchmark.pedantic(
        audio.make_dataset, args=(CLIPS,), kwargs={"seed": 0, "workers": workers}, rounds=2, iterations=1
    )
    assert len(data) == CLIPS
    benchmark.extra_info["clips_per_second"] = CLIPS / benchmark.stats.stats.mean
