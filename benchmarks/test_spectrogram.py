"""The spectrogram of 100 ten-second clips under pytest-benchmark: seqcore (cpp backend) vs scipy.signal.spectrogram.

The clips are ``spectrogram_compare.make_clips`` (100 x 441,000 float64 samples by default; SEQCORE_SPECTROGRAM_CLIPS=N
changes the count), the settings the course's (nfft 200, noverlap 120, fs 8000, Hann).  Before anything is timed,
seqcore's result must equal scipy's, transposed to time-major, within 1e-5 relative at every bin.  The side-by-side
table with ratios is ``spectrogram_compare.py``; here each peer's clips per second go to ``extra_info``.

    pytest benchmarks/test_spectrogram.py --benchmark-only
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("scipy", reason="scipy is not installed (the peer)")

import spectrogram_compare as sc  # noqa: E402

CLIPS = int(os.environ.get("SEQCORE_SPECTROGRAM_CLIPS", "100"))


@cache
def _clips():
    return sc.make_clips(CLIPS, 10.0, seed=0)


@cache
def _validation() -> dict[str, float]:
    return sc.validate(_clips(), ["cpp", "reference"])


def test_equal_to_scipy():
    errors = _validation()
    print(f"\nlargest relative error against scipy: {errors}")
    assert all(e <= sc.RTOL for e in errors.values()), errors


@pytest.mark.parametrize("peer", ["seqcore-cpp", "scipy", "numpy-reference"])
def test_spectrogram(benchmark, peer):
    if not all(e <= sc.RTOL for e in _validation().values()):
        pytest.fail("seqcore's spectrogram differs from scipy's: not timed", pytrace=False)
    x = _clips()
    benchmark.group = f"spectrogram, {CLIPS} x 10 s clips"
    fn = {
        "seqcore-cpp": lambda: sc.run_seqcore(x, "cpp"),
        "scipy": lambda: sc.run_scipy(x),
        "numpy-reference": lambda: sc.run_seqcore(x, "reference"),
    }[peer]
    fn()  # warm-up (and the page faults of a first large allocation)
    benchmark.pedantic(fn, rounds=5 if peer == "seqcore-cpp" else 3, iterations=1)
    benchmark.extra_info.update({"clips": CLIPS, "clips_per_s": CLIPS / benchmark.stats.stats.median})
