"""Synthesised speech, backgrounds and the course's training examples (seqcore.audio)."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import audio, kernels
from seqcore.audio import synthesis

pytestmark = pytest.mark.skipif(not audio.speech_available(), reason="espeak-ng is not available")


@pytest.fixture(scope="module")
def words():
    rng = np.random.default_rng(0)
    combos = audio.style_splits().train
    acts = [audio.speak("activate", combos, rng) for _ in range(4)]
    negs = [audio.speak(w, combos, rng) for w in ("hello", "banana", "window")]
    return acts, negs


# ---------------------------------------------------------------- speech


def test_synthesize_gives_trimmed_float32_speech():
    x = audio.synthesize("activate", audio.VoiceStyle("en-us", "m1", rate=170), seed=3)
    assert x.dtype == np.float32 and x.ndim == 1
    assert 0.3 < x.size / audio.SAMPLE_RATE < 1.5  # one word
    peak = np.max(np.abs(x))
    assert 0.05 < peak <= 1.0
    assert np.abs(x[0]) >= 0.0 and np.max(np.abs(x[-200:])) > 0.0  # trimmed: speech reaches the last samples


def test_every_english_accent_speaks():
    accents = audio.english_voices()
    assert {"en", "en-us", "en-gb-scotland"} <= set(accents) and len(accents) >= 6
    assert "" in audio.voice_variants() and len(audio.voice_variants()) > 20
    for accent in accents:
        assert audio.synthesize("seven", audio.VoiceStyle(accent, "f2"), seed=1).size > 1000


def test_slower_rate_gives_longer_speech():
    slow = audio.synthesize("remember", audio.VoiceStyle(rate=100), seed=1)
    fast = audio.synthesize("remember", audio.VoiceStyle(rate=300), seed=1)
    assert slow.size > 1.5 * fast.size


@pytest.mark.parametrize(
    "kwargs, match",
    [({"rate": 50}, "rate"), ({"pitch": 101}, "pitch"), ({"amplitude": -1}, "amplitude"), ({"rate": 1.5}, "rate")],
)
def test_voice_style_checks_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        audio.VoiceStyle(**kwargs)


def test_synthesize_bad_input():
    with pytest.raises(ValueError, match="text"):
        audio.synthesize("  ")
    with pytest.raises(TypeError, match="style"):
        audio.synthesize("hello", "en-us")
    with pytest.raises(ValueError, match="not known"):
        audio.synthesize("hello", audio.VoiceStyle("xx-nowhere"))


# ---------------------------------------------------------------- backgrounds


@pytest.mark.parametrize("kind", audio.BACKGROUND_KINDS)
def test_backgrounds(kind):
    x = audio.make_background(kind, np.random.default_rng(1), level_db=-30.0)
    assert x.shape == (audio.CLIP_SAMPLES,) and x.dtype == np.float32 and np.all(np.isfinite(x))
    assert 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))) == pytest.approx(-30.0, abs=0.5)


def test_background_bad_input():
    with pytest.raises(ValueError, match="kind"):
        audio.make_background("rain", np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        audio.make_background("white", 0)


# ---------------------------------------------------------------- examples


def test_labels_start_one_step_after_each_trigger_word(words):
    acts, negs = words
    seen = 0
    for seed in range(30):
        bg = audio.make_background("pink", np.random.default_rng(seed))
        ex = audio.synthesize_example(bg, acts, negs, np.random.default_rng(seed))
        expected = np.zeros(audio.TY, dtype=np.float32)
        ends = []
        for _first, last, kind in ex.segments:
            if kind != "activate":
                continue
            end_step = int(last * audio.TY / audio.CLIP_SAMPLES)  # the step holding the word's last sample
            assert audio.label_start(last) == end_step + 1
            expected[end_step + 1 : end_step + 1 + audio.LABEL_STEPS] = 1.0
            ends.append(last / audio.SAMPLE_RATE)
            seen += 1
        np.testing.assert_array_equal(ex.y, expected)
        assert ex.trigger_ends == sorted(ends)
    assert seen > 20


def test_segments_never_overlap_and_hold_the_words(words):
    acts, negs = words
    lengths = {c.size for c in acts} | {c.size for c in negs}
    for seed in range(30):
        bg = np.zeros(audio.CLIP_SAMPLES, dtype=np.float32)
        ex = audio.synthesize_example(bg, acts, negs, np.random.default_rng(seed))
        assert len([s for s in ex.segments if s[2] == "activate"]) <= 4
        assert len([s for s in ex.segments if s[2] == "negative"]) <= 2
        for (_a0, a1, _), (b0, _b1, _) in zip(ex.segments, ex.segments[1:]):
            assert a1 < b0  # sorted, inclusive ends: strictly apart
        for first, last, _ in ex.segments:
            assert last - first + 1 in lengths
            assert np.any(ex.samples[first : last + 1] != 0.0)
        covered = np.zeros(audio.CLIP_SAMPLES, bool)
        for first, last, _ in ex.segments:
            covered[first : last + 1] = True
        assert not np.any(ex.samples[~covered])  # silence outside the words: nothing else was added


def test_example_with_no_words_is_the_background():
    bg = audio.make_background("white", np.random.default_rng(0))
    ex = audio.synthesize_example(bg, [], [], np.random.default_rng(0))
    np.testing.assert_array_equal(ex.samples, bg)
    assert not ex.y.any() and ex.trigger_ends == [] and ex.segments == []


def test_words_that_cannot_fit_are_left_out_without_hanging():
    long = np.full(audio.CLIP_SAMPLES - 10, 0.1, dtype=np.float32)
    ex = audio.synthesize_example(np.zeros(audio.CLIP_SAMPLES, np.float32), [long], [long], np.random.default_rng(2))
    assert len(ex.segments) <= 1


def test_labels_are_cut_at_the_last_step():
    # a word 9.9 s long ends within the last 0.1 s: its 50 ones would run past step 1375
    word = np.full(audio.CLIP_SAMPLES - 4410, 0.1, dtype=np.float32)
    bg = np.zeros(audio.CLIP_SAMPLES, dtype=np.float32)
    for seed in range(10):
        ex = audio.synthesize_example(bg, [word], [], np.random.default_rng(seed))
        for _, last, _ in ex.segments:
            start = audio.label_start(last)
            assert start > audio.TY - audio.LABEL_STEPS
            assert ex.y[start:].all() and not ex.y[:start].any()


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((np.zeros(100, np.float32), [], []), ValueError, "background"),
        ((np.zeros(audio.CLIP_SAMPLES, np.float32), np.zeros(10), []), TypeError, "activates"),
        ((np.zeros(audio.CLIP_SAMPLES, np.float32), [np.zeros((2, 5))], []), ValueError, r"activates\[0\]"),
        ((np.zeros(audio.CLIP_SAMPLES, np.float32), [], [np.array([np.nan])]), ValueError, r"negatives\[0\]"),
    ],
)
def test_synthesize_example_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        audio.synthesize_example(*args, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        audio.synthesize_example(np.zeros(audio.CLIP_SAMPLES, np.float32), [], [], 3)


# ---------------------------------------------------------------- styles and data sets


def test_style_splits_are_disjoint_and_repeatable():
    s = audio.style_splits(0)
    assert s == audio.style_splits(0)
    train, dev, unseen = set(s.train), set(s.dev), set(s.unseen_voice)
    assert train and dev and unseen
    assert not train & dev and not train & unseen and not dev & unseen
    train_variants = {v for _, v, _ in s.train} | {v for _, v, _ in s.dev}
    assert not train_variants & set(s.unseen_variants)
    assert "" in train_variants  # each accent's own voice is always trained on
    assert len(dev) / (len(dev) + len(train)) == pytest.approx(0.2, abs=0.01)


def test_make_dataset_is_a_function_of_the_seed():
    a = audio.make_dataset(3, seed=7, keep_audio=True)
    b = audio.make_dataset(3, seed=7, workers=2, keep_audio=True)
    c = audio.make_dataset(3, seed=8)
    assert a.X.shape == (3, audio.TX, audio.N_FREQ) and a.Y.shape == (3, audio.TY, 1)
    assert a.X.dtype == np.float32 and a.Y.dtype == np.float32 and a.audio.shape == (3, audio.CLIP_SAMPLES)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.trigger_ends == b.trigger_ends and len(a.trigger_ends) == 3
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.X, audio.features_batch(list(a.audio)))
    for i in range(3):  # the labels follow from the trigger words' ends alone
        expected = np.zeros(audio.TY, dtype=np.float32)
        for t in a.trigger_ends[i]:
            start = audio.label_start(round(t * audio.SAMPLE_RATE))
            expected[start : start + audio.LABEL_STEPS] = 1.0
        np.testing.assert_array_equal(a.Y[i, :, 0], expected)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n": 0}, ValueError, "n"),
        ({"n": 2, "workers": 0}, ValueError, "workers"),
        ({"n": 2, "seed": -1}, ValueError, "seed"),
        ({"n": 2, "word": ""}, ValueError, "word"),
        ({"n": 2, "negative_words": ["activate"]}, ValueError, "negative_words"),
        ({"n": 2, "styles": []}, ValueError, "styles"),
    ],
)
def test_make_dataset_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        audio.make_dataset(**kwargs)


# ---------------------------------------------------------------- features and the spectrogram on real audio


@pytest.mark.parametrize("backend", ["reference", "numba", "cpp"])
def test_spectrogram_matches_scipy_on_synthesised_speech(words, backend):
    signal = pytest.importorskip("scipy.signal")
    pytest.importorskip("numba") if backend == "numba" else None
    acts, negs = words
    bg = audio.make_background("babble", np.random.default_rng(4))
    x = audio.synthesize_example(bg, acts, negs, np.random.default_rng(4)).samples.astype(np.float64)
    _, _, expected = signal.spectrogram(
        x, fs=8000, window="hann", nperseg=200, noverlap=120, detrend=False, scaling="density", mode="psd"
    )
    previous = seqcore.get_backend()
    seqcore.set_backend(backend)
    try:
        got = kernels.spectrogram(x)
    finally:
        seqcore.set_backend(previous)
    assert got.shape == (audio.TX, audio.N_FREQ)
    np.testing.assert_allclose(got, expected.T, rtol=1e-5, atol=0)


def test_features_shapes_rates_and_silence():
    x = np.zeros(audio.CLIP_SAMPLES, np.float32)
    f = audio.features(x)
    assert f.shape == (audio.TX, audio.N_FREQ) and f.dtype == np.float32
    floor = (np.float32(np.log10(np.float32(audio.POWER_FLOOR))) - np.float32(audio.LOG_POWER_MEAN)) / np.float32(
        audio.LOG_POWER_STD
    )
    np.testing.assert_allclose(f, floor, rtol=1e-6)  # silence: the floor, not -inf
    assert audio.features(np.zeros(16000 * 10, np.float32), 16000).shape == (audio.TX, audio.N_FREQ)
    assert audio.features(np.zeros(150, np.float32)).shape == (0, audio.N_FREQ)
    pcm = (np.random.default_rng(0).uniform(-0.5, 0.5, 4000) * 32767).astype(np.int16)
    np.testing.assert_allclose(audio.features(pcm), audio.features(pcm / 32768.0), rtol=1e-5)
    with pytest.raises(ValueError, match="mono"):
        audio.features(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="one length"):
        audio.features_batch([np.zeros(1000), np.zeros(999)])


def test_band_limit_removes_what_a_lower_rate_cannot_hold():
    x = np.random.default_rng(0).uniform(-0.5, 0.5, audio.CLIP_SAMPLES).astype(np.float32)
    y = synthesis.band_limit(x, 16000)
    assert y.shape == x.shape and y.dtype == np.float32
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(y.size, 1 / audio.SAMPLE_RATE)
    assert spec[f > 9000].sum() < 1e-3 * spec[f < 7500].sum()  # the filter leaves -30 dB or less above
    shares = [
        synthesis.random_example(np.random.default_rng(s), audio.style_splits().train) for s in range(12)
    ]  # about 30% of examples are band-limited; all are well-formed
    assert all(ex.samples.shape == (audio.CLIP_SAMPLES,) and np.all(np.isfinite(ex.samples)) for ex in shares)
