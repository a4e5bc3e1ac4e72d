"""seqcore.audio.chime: the synthesised chime and mixing it into clips."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore.audio.chime import CHIME_PEAK, CHIME_SECONDS, chime, overlay_chimes
from seqcore.audio.constants import SAMPLE_RATE


@pytest.mark.parametrize("rate", [SAMPLE_RATE, 16000, 8000, 48000])
def test_chime_length_peak_and_dtype(rate: int) -> None:
    c = chime(rate)
    assert c.dtype == np.float32 and c.ndim == 1
    assert c.shape == (round(CHIME_SECONDS * rate),)
    assert 0.3 <= c.shape[0] / rate <= 0.5
    assert np.isfinite(c).all()
    assert abs(float(np.abs(c).max()) - CHIME_PEAK) < 1e-6


def test_chime_default_rate_is_the_course_rate_and_is_deterministic() -> None:
    np.testing.assert_array_equal(chime(), chime(SAMPLE_RATE))
    assert chime().shape == (round(CHIME_SECONDS * SAMPLE_RATE),)


def test_chime_starts_and_ends_silently_and_decays() -> None:
    c = chime().astype(np.float64)
    assert c[0] == 0.0 and abs(c[-1]) < 1e-6  # no click at either end
    assert np.abs(c[:10]).max() < 0.05
    window = int(0.05 * SAMPLE_RATE)
    rms = [np.sqrt(np.mean(c[k : k + window] ** 2)) for k in range(0, c.shape[0] - window + 1, window)]
    assert rms[0] > 10 * rms[-1]
    assert all(later < earlier for earlier, later in zip(rms[1:], rms[2:]))  # after the attack, always quieter


def test_chime_is_pitched_at_880_hz() -> None:
    c = chime().astype(np.float64)
    n = 1 << 16
    spectrum = np.abs(np.fft.rfft(c, n))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / n - 880.0) < 2.0
    # nothing much above the third partial
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    assert spectrum[freqs > 4000].max() < 0.01 * spectrum.max()


def test_low_rates_drop_partials_that_would_alias_and_very_low_ones_are_refused() -> None:
    c = chime(3000).astype(np.float64)  # only 880 Hz fits under 0.9 * 1500 Hz
    spectrum = np.abs(np.fft.rfft(c, 1 << 14))
    freqs = np.fft.rfftfreq(1 << 14, 1 / 3000)
    # 1760 Hz would alias to 1240 Hz, 2640 Hz to 360 Hz
    assert spectrum[(freqs > 1100) | (freqs < 650)].max() < 0.02 * spectrum.max()
    assert chime(4000).shape == (1600,)
    with pytest.raises(ValueError, match="at least 1956 Hz"):
        chime(1955)


@pytest.mark.parametrize("rate", [0, -1, 44100.0, True, "44100", None, 10**9])
def test_chime_refuses_bad_rates(rate: object) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        chime(rate)  # type: ignore[arg-type]


# ---------------------------------------------------------------- overlay_chimes


def test_overlay_adds_a_chime_at_each_time_and_leaves_the_input_alone() -> None:
    rate = 16000
    x = np.full(rate * 2, 0.01, dtype=np.float32)
    y = overlay_chimes(x, rate, [0.0, 1.0])
    assert y.dtype == np.float32 and y.shape == x.shape and y is not x
    assert (x == np.float32(0.01)).all()
    c = chime(rate)
    n = c.shape[0]
    np.testing.assert_allclose(y[:n], 0.01 + c, atol=1e-6)
    np.testing.assert_allclose(y[rate : rate + n], 0.01 + c, atol=1e-6)
    np.testing.assert_allclose(y[n:rate], 0.01, atol=1e-7)
    np.testing.assert_allclose(y[rate + n :], 0.01, atol=1e-7)


def test_overlay_rounds_times_to_the_nearest_sample() -> None:
    rate = 8000
    y = overlay_chimes(np.zeros(rate), rate, [0.25 + 0.4 / rate])
    start = int(np.flatnonzero(y)[0])
    # the chime's first sample is 0 (its rise), so the first nonzero one is its second
    assert start == round(0.25 * rate) + 1


def test_a_chime_near_the_end_is_cut_off_and_times_outside_are_ignored() -> None:
    rate = 8000
    x = np.zeros(rate, dtype=np.float32)
    c = chime(rate)
    y = overlay_chimes(x, rate, [0.9, -0.5, 1.0, 3.0])
    start = round(0.9 * rate)
    np.testing.assert_allclose(y[start:], c[: rate - start], atol=1e-7)
    assert not y[:start].any()
    np.testing.assert_array_equal(overlay_chimes(x, rate, [-0.01, 1.0, 7.5]), x)
    np.testing.assert_array_equal(overlay_chimes(x, rate, []), x)
    np.testing.assert_array_equal(overlay_chimes(x, rate, np.array([])), x)


def test_overlapping_chimes_add_and_the_mix_is_clipped() -> None:
    rate = 8000
    y = overlay_chimes(np.zeros(rate), rate, [0.1, 0.1])
    np.testing.assert_allclose(y[800 : 800 + 3200], 2 * chime(rate), atol=1e-6)
    loud = overlay_chimes(np.full(rate, 0.9), rate, [0.0, 0.0, 0.0])
    assert loud.max() == 1.0 and loud.min() >= -1.0
    assert np.abs(overlay_chimes(np.full(rate, -0.95), rate, [0.2])).max() <= 1.0


def test_overlay_takes_integer_pcm_and_numpy_times() -> None:
    rate = 8000
    pcm = np.zeros(rate, dtype=np.int16)
    y = overlay_chimes(pcm, rate, np.array([0.5], dtype=np.float32))
    np.testing.assert_allclose(y[4000:7200], chime(rate), atol=1e-6)
    np.testing.assert_array_equal(overlay_chimes(pcm, np.int32(rate), (t for t in [0.5])), y)


@pytest.mark.parametrize(
    ("samples", "rate", "times", "error", "words"),
    [
        (np.zeros(100), 8000, 0.5, TypeError, r"wrap a single time: \[0.5\]"),
        (np.zeros(100), 8000, "0.5", TypeError, "times_seconds"),
        (np.zeros(100), 8000, [0.1, float("nan")], ValueError, r"times_seconds\[1\] must be finite"),
        (np.zeros(100), 8000, [0.1, "x"], TypeError, "times_seconds"),
        (np.zeros(100), 8000, [[0.1], [0.2]], ValueError, "flat list"),
        (np.zeros(100), 8000, [True], TypeError, r"times_seconds\[0\]"),
        (np.zeros(100), 8000, None, TypeError, "times_seconds"),
        (np.zeros((100, 2)), 8000, [0.1], ValueError, "mono"),
        (np.zeros(0), 8000, [0.1], ValueError, "empty"),
        (np.array([0.0, np.nan]), 8000, [0.1], ValueError, "finite"),
        (np.array([0j]), 8000, [0.1], TypeError, "complex"),
        (np.zeros(100), 0, [0.1], ValueError, "sample_rate"),
        (np.zeros(100), 8000.0, [0.1], ValueError, "sample_rate"),
    ],
)
def test_overlay_refuses_bad_input(samples: object, rate: object, times: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        overlay_chimes(samples, rate, times)  # type: ignore[arg-type]
