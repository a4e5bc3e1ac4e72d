"""seqcore.models.TriggerWordDetector: the course's architecture, causality, sliding windows, the chime rule,
evaluation, training, save/load and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore import CorruptFileError, nn
from seqcore.audio.constants import CLIP_SAMPLES, N_FREQ, REFRACTORY_STEPS, SAMPLE_RATE, TX, TY
from seqcore.audio.features import features
from seqcore.metrics import DetectionScores, frame_scores
from seqcore.models import TriggerEvaluation, TriggerWordDetector
from seqcore.models import trigger_word as tw
from seqcore.nn.saving import _write


@pytest.fixture(scope="module")
def course() -> TriggerWordDetector:
    return TriggerWordDetector(seed=0)


@pytest.fixture(scope="module")
def tiny() -> TriggerWordDetector:
    return TriggerWordDetector("hey seqcore", seed=1, filters=8, units=6, dropout=0.2)


def _noise(seconds: float, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Noise with a loud burst every 1.7 s, so that outputs move over time."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = 0.02 * rng.standard_normal(n)
    t = np.arange(n) / rate
    x += 0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 1.7) < 0.4)
    return x.astype(np.float32)


# ---------------------------------------------------------------- architecture


def test_course_architecture(course):
    assert course.count_params() == 523_329
    kinds = [type(layer).__name__ for layer in course.model.layers]
    assert kinds == [
        "InputLayer", "Conv1D", "BatchNormalization", "Activation", "Dropout", "GRU", "Dropout",
        "BatchNormalization", "GRU", "Dropout", "BatchNormalization", "Dropout", "TimeDistributed",
    ]  # fmt: skip
    conv = course.model.get_layer("conv")
    assert (conv.filters, conv.kernel_size, conv.strides) == (196, 15, 4)
    for name in ("gru_1", "gru_2"):
        gru = course.model.get_layer(name)
        assert gru.units == 128 and gru.return_sequences and gru.reset_after
    assert all(layer.rate == 0.8 for layer in course.model.layers if isinstance(layer, nn.Dropout))
    assert course.model.get_layer("output").layer.units == 1
    assert course.word == "activate" and course.model.optimizer.learning_rate == pytest.approx(1e-3)
    assert course.model.compiled_loss[0].name == "binary_crossentropy"


def test_shapes(course):
    X = np.zeros((2, TX, N_FREQ), dtype=np.float32)
    p = course.predict_proba(X)
    assert p.shape == (2, TY) and p.dtype == np.float32
    assert np.all((p > 0) & (p < 1))
    assert course.model.predict(X[:1]).shape == (1, TY, 1)
    assert course.predict_proba(np.zeros((3, 700, N_FREQ))).shape == (3, (700 - 15) // 4 + 1)
    assert course.predict_proba(np.zeros((0, TX, N_FREQ))).shape == (0, TY)
    assert tw.output_steps(CLIP_SAMPLES) == TY and tw.output_steps(1319) == 0 and tw.output_steps(1320) == 1


def test_step_times_follow_the_labels():
    from seqcore.audio.synthesis import label_start

    times = tw.step_times(TY)
    assert times[0] == pytest.approx(1320 / SAMPLE_RATE)
    assert np.allclose(np.diff(times), 320 / SAMPLE_RATE)
    # the first step labelled 1 after a word never lies before the word's end (a detection there counts)
    for end_sample in range(0, CLIP_SAMPLES - 1, 997):
        k = label_start(end_sample)
        if k < TY:
            assert end_sample / SAMPLE_RATE <= times[k] <= end_sample / SAMPLE_RATE + 0.05


# ---------------------------------------------------------------- causality and windows


def test_padding_after_the_end_changes_no_earlier_output(course):
    x = _noise(10.0)
    X = features(x)[None]
    full = course.predict_proba(X)[0]
    part = course.predict_proba(X[:, :3001])[0]
    assert np.allclose(part, full[: part.shape[0]], atol=1e-6)
    # a 4 s clip, padded to 10 s inside probabilities, agrees with the first 4 s of the 10 s clip
    n = 4 * SAMPLE_RATE + 123
    times, probs = course.probabilities(x[:n], SAMPLE_RATE)
    assert probs.shape == (tw.output_steps(n),) and times.shape == probs.shape
    assert np.allclose(probs, full[: probs.shape[0]], atol=1e-6)
    # and a whole 10 s clip is exactly one pass over its features
    times10, probs10 = course.probabilities(x, SAMPLE_RATE)
    assert probs10.shape == (TY,) and np.allclose(probs10, full, atol=1e-6)
    assert np.array_equal(times10, tw.step_times(TY))


def _memoryless_grus(model: TriggerWordDetector) -> None:
    """Make each GRU's output depend on the current step only: update gate shut (z = sigmoid(-30) ~ 0),
    no recurrent weights.  Then windows must agree with one pass exactly, whatever the warm-up."""
    for name in ("gru_1", "gru_2"):
        gru = model.model.get_layer(name)
        H = gru.units
        gru.kernel.data[:, :H] = 0.0
        gru.recurrent_kernel.data[...] = 0.0
        gru.bias.data[:, :H] = 0.0
        gru.bias.data[0, :H] = -30.0


def test_long_clip_windows_are_stitched_exactly():
    model = TriggerWordDetector(seed=2, filters=16, units=8)
    _memoryless_grus(model)
    for seconds in (10.02, 17.5, 26.3):  # 2, 3 and 4 windows
        x = _noise(seconds, seed=3)
        times, probs = model.probabilities(x, SAMPLE_RATE)
        steps = tw.output_steps(x.shape[0])
        assert probs.shape == times.shape == (steps,)
        assert np.array_equal(times, tw.step_times(steps)) and times[-1] <= x.shape[0] / SAMPLE_RATE
        one_pass = model.predict_proba(features(x)[None])[0]
        assert one_pass.shape == (steps,)
        assert np.allclose(probs, one_pass, atol=1e-5), seconds  # no step missing, doubled or shifted at the joins


def test_long_clip_windows_agree_with_one_pass(course):
    x = _noise(26.3, seed=3)
    times, probs = course.probabilities(x, SAMPLE_RATE)
    one_pass = course.predict_proba(features(x)[None])[0]
    assert probs.shape == one_pass.shape == (tw.output_steps(x.shape[0]),)
    # the first window is the one pass; each later window's GRUs start from zeros and have had 2.5 s of
    # warm-up to forget that (random weights forget slowly: about 1% is left after 2.5 s)
    assert np.allclose(probs[:TY], one_pass[:TY], atol=1e-6)
    assert np.max(np.abs(probs - one_pass)) < 0.05
    assert np.mean(np.abs(probs - one_pass)) < 0.01


# ---------------------------------------------------------------- the chime rule


def test_fire_steps_course_rule():
    always = np.full(400, 0.9)
    # the counter starts at 0: nothing in the first 75 steps; then at most one firing per 76 steps
    assert tw.fire_steps(always) == [75, 151, 227, 303, 379]
    assert tw.fire_steps(always, refractory_steps=0) == list(range(400))
    p = np.zeros(600)
    p[10:20] = 0.9  # too early
    p[100:150] = 0.9  # one word: one firing at its first step
    p[160:170] = 0.9  # 60 steps after the last firing: refractory
    p[300] = 0.51
    p[400] = 0.5  # not above 0.5
    assert tw.fire_steps(p) == [100, 300]
    assert tw.fire_steps(p, threshold=0.6) == [100]
    assert tw.fire_steps(p, refractory_steps=50) == [100, 160, 300]
    assert tw.fire_steps(p[:, None]) == [100, 300]  # [T, 1] as the model outputs it
    assert tw.fire_steps(np.zeros(0)) == []
    assert tw.fire_steps(p, threshold=1.0) == []


def test_fire_steps_matches_the_course_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(1375) ** 3
        count, expected = 0, []
        for i in range(p.shape[0]):  # the course's chime_on_activate, step by step
            count += 1
            if p[i] > 0.5 and count > REFRACTORY_STEPS:
                expected.append(i)
                count = 0
        assert tw.fire_steps(p) == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": float("nan")}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
        ({"refractory_steps": -1}, ValueError, "refractory_steps"),
        ({"refractory_steps": 7.5}, ValueError, "refractory_steps"),
    ],
)
def test_fire_steps_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        tw.fire_steps(np.zeros(10), **kwargs)


def test_fire_steps_bad_probabilities():
    with pytest.raises(ValueError, match="shape"):
        tw.fire_steps(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="NaN"):
        tw.fire_steps(np.array([0.1, np.nan]))


def test_detect_uses_the_chime_rule_on_the_probabilities(tiny, monkeypatch):
    probs = np.zeros(500, dtype=np.float32)
    probs[[80, 120, 200, 420]] = 0.9
    times = tw.step_times(500)
    monkeypatch.setattr(tiny, "probabilities", lambda samples, sample_rate=None: (times, probs))
    assert tiny.detect(np.zeros(10), 44100) == [times[80], times[200], times[420]]
    assert tiny.detect(np.zeros(10), 44100, refractory_steps=10) == [times[k] for k in (80, 120, 200, 420)]
    assert tiny.detect(np.zeros(10), 44100, threshold=0.95) == []
    with pytest.raises(ValueError, match="threshold"):
        tiny.detect(np.zeros(10), 44100, threshold=-0.1)


def test_detect_end_to_end_with_a_model_that_always_fires():
    model = TriggerWordDetector(seed=0, filters=4, units=4)
    model.model.get_layer("output").layer.bias.data[...] = 20.0  # sigmoid(20 + small) = 1
    x = _noise(21.0)
    times = model.detect(x, SAMPLE_RATE)
    steps = tw.step_times(tw.output_steps(x.shape[0]))
    assert times == [float(steps[k]) for k in range(75, steps.shape[0], 76)]
    assert model.detect(x, SAMPLE_RATE, threshold=1.0) == []


# ---------------------------------------------------------------- evaluation


def test_evaluate_events(tiny, monkeypatch):
    N, steps = 3, 400
    X = np.zeros((N, 15 + 4 * (steps - 1), N_FREQ), dtype=np.float32)
    times = tw.step_times(steps)
    Y = np.zeros((N, steps, 1), dtype=np.float32)
    probs = np.zeros((N, steps), dtype=np.float32)
    ends = [[times[99] - 0.01, times[299] - 0.01], [], [times[199]]]
    Y[0, 100:150] = Y[0, 300:350] = 1.0
    Y[2, 200:250] = 1.0
    probs[0, 100:140] = 0.9  # found the first word, missed the second
    probs[1, 150:160] = 0.8  # a false alarm where there is no word
    probs[2, 200:260] = 0.7  # found it; frames 250-259 are false positives
    monkeypatch.setattr(tiny, "predict_proba", lambda X, batch_size=8: probs)
    report = tiny.evaluate_events(X, Y, ends)
    assert isinstance(report, TriggerEvaluation)
    assert report.frame == frame_scores(Y, probs) == DetectionScores(tp=90, fp=20, fn=60)
    assert report.event == DetectionScores(tp=2, fp=1, fn=1)
    assert report.detections == [[times[100]], [times[150]], [times[200]]]
    assert report.clips == 3 and report.threshold == 0.5 and report.tolerance == 0.5
    assert report.as_dict()["event"]["recall"] == pytest.approx(2 / 3)
    assert "events: precision 0.667, recall 0.667" in report.summary()
    assert tiny.evaluate_events(X, Y, ends, threshold=0.75).event == DetectionScores(tp=1, fp=1, fn=2)
    assert tiny.evaluate_events(X, Y, ends, tolerance=0.0).event == DetectionScores(tp=0, fp=3, fn=3)


def test_evaluate_events_runs_the_model(tiny):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 200, N_FREQ)).astype(np.float32)
    Y = np.zeros((2, 47, 1), dtype=np.float32)
    report = tiny.evaluate_events(X, Y, [[], []])
    assert report.frame.tp == report.frame.fn == 0 and report.event.tp == 0
    with pytest.raises(ValueError, match="one list of times per clip"):
        tiny.evaluate_events(X, Y, [[]])
    with pytest.raises(ValueError, match=r"Y must have shape \[2, 47, 1\]"):
        tiny.evaluate_events(X, Y[:, :40], [[], []])


# ---------------------------------------------------------------- training


def _toy_data(n: int, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A loud band in a few frames; the label is 1 on the steps right after it."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, frames, N_FREQ)).astype(np.float32) * 0.1 - 8.0
    steps = (frames - 15) // 4 + 1
    Y = np.zeros((n, steps, 1), dtype=np.float32)
    for i in range(n):
        f = int(rng.integers(20, frames - 60))
        X[i, f : f + 8, 10:30] += 6.0
        k = (f + 8) // 4
        Y[i, k : k + 6] = 1.0
    return X, Y


def test_fit_through_the_engine():
    model = TriggerWordDetector(seed=0, filters=8, units=8, dropout=0.1, learning_rate=0.03)
    X, Y = _toy_data(16, 255, 0)
    vx, vy = _toy_data(4, 255, 1)
    before = model.model.evaluate(X, Y, batch_size=16)[0]
    history = model.fit(X, Y[..., 0], epochs=6, batch_size=4, validation_data=(vx, vy), verbose=0, seed=0)
    assert len(history.history["loss"]) == 6 and len(history.history["val_loss"]) == 6
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    # in inference mode too (BatchNormalization's moving statistics lag behind the batch statistics)
    assert model.model.evaluate(X, Y, batch_size=16)[0] < 0.7 * before


def test_fit_stops_on_time():
    model = TriggerWordDetector(seed=0, filters=4, units=4)
    X, Y = _toy_data(8, 95, 0)
    history = model.fit(X, Y, epochs=50, batch_size=2, seconds=1e-6, verbose=0)
    assert len(history.history["loss"]) == 1  # stopped after the first step


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"Y": np.zeros((8, 20, 1))}, ValueError, r"Y must have shape \[8, 21, 1\]"),
        ({"Y": np.full((8, 21, 1), 2.0)}, ValueError, "labels in"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"seconds": -1.0}, ValueError, "seconds"),
        ({"validation_data": np.zeros(3)}, ValueError, "validation_data"),
        ({"X": np.zeros((0, 95, N_FREQ))}, ValueError, "no clips"),
    ],
)
def test_fit_bad_arguments(kwargs, error, words):
    model = TriggerWordDetector(seed=0, filters=4, units=4)
    X, Y = _toy_data(8, 95, 0)
    args = {"X": X, "Y": Y, "epochs": 1, **kwargs}
    with pytest.raises(error, match=words):
        model.fit(args.pop("X"), args.pop("Y"), verbose=0, **args)


# ---------------------------------------------------------------- files


def _perturb(model: TriggerWordDetector, seed: int) -> None:
    """Non-trivial BatchNormalization statistics, so a round trip that dropped them would show."""
    rng = np.random.default_rng(seed)
    for w in model.model.weights:
        if "moving" in w.name:
            w.data[...] = rng.uniform(0.5, 1.5, w.data.shape).astype(w.data.dtype)


def test_save_load_round_trip(tiny, tmp_path):
    _perturb(tiny, 0)
    path = tmp_path / "tiny.safetensors"
    tiny.save(path)
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically
    loaded = TriggerWordDetector.load(path)
    assert loaded.word == "hey seqcore" and loaded.config() == tiny.config()
    assert (loaded.filters, loaded.units, loaded.dropout) == (8, 6, 0.2)
    X = np.random.default_rng(0).standard_normal((2, 300, N_FREQ)).astype(np.float32)
    assert np.array_equal(loaded.predict_proba(X), tiny.predict_proba(X))
    for a, b in zip(loaded.model.get_weights(), tiny.model.get_weights()):
        assert np.array_equal(a, b)
    half = tmp_path / "half.safetensors"
    tiny.save(half, dtype="float16")
    assert np.allclose(TriggerWordDetector.load(half).predict_proba(X), tiny.predict_proba(X), atol=1e-2)
    with pytest.raises(ValueError, match="dtype"):
        tiny.save(tmp_path / "x.safetensors", dtype="int8")


def test_load_refuses_damaged_and_foreign_files(tiny, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CorruptFileError):
        TriggerWordDetector.load(bad)
    other = tmp_path / "other.safetensors"
    _write(other, {"000": np.zeros(3, dtype=np.float32)}, {"format": "seqcore.date_translator"})
    with pytest.raises(ValueError, match="not a seqcore TriggerWordDetector file"):
        TriggerWordDetector.load(other)
    broken = tmp_path / "broken.safetensors"
    _write(broken, {"000": np.zeros(3, dtype=np.float32)}, {"format": tw.FORMAT, "version": "1", "config": "{}"})
    with pytest.raises(CorruptFileError, match="damaged"):
        TriggerWordDetector.load(broken)
    with pytest.raises(FileNotFoundError):
        TriggerWordDetector.load(tmp_path / "missing.safetensors")


def test_pretrained_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(tw, "SHIPPED", tmp_path / "trigger_word.safetensors")
    tw._pretrained.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="seqcore trigger train"):
            TriggerWordDetector.pretrained()
    finally:
        tw._pretrained.cache_clear()


@pytest.mark.skipif(not tw.SHIPPED.is_file(), reason="the shipped trigger-word model is not there yet")
def test_pretrained_loads_the_shipped_model():
    model = TriggerWordDetector.pretrained()
    assert TriggerWordDetector.pretrained() is model  # cached per process
    assert model.word == "activate" and model.count_params() == 523_329
    times, probs = model.probabilities(np.zeros(CLIP_SAMPLES, dtype=np.float32), SAMPLE_RATE)
    assert probs.shape == (TY,) and np.all(np.isfinite(probs))
    assert model.detect(np.zeros(CLIP_SAMPLES, dtype=np.float32), SAMPLE_RATE) == []  # silence has no trigger word


# ---------------------------------------------------------------- inputs


def test_silent_short_and_resampled_clips(tiny):
    times, probs = tiny.probabilities(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    assert probs.shape == (tw.output_steps(3 * SAMPLE_RATE),) and np.all(np.isfinite(probs))
    for n in (1, 199, 200, 1319):  # shorter than one output step's 30 ms: empty, not an error
        t, p = tiny.probabilities(np.full(n, 0.1, dtype=np.float32), SAMPLE_RATE)
        assert t.shape == p.shape == (0,)
        assert tiny.detect(np.full(n, 0.1, dtype=np.float32), SAMPLE_RATE) == []
    assert tiny.probabilities(np.zeros(1320), SAMPLE_RATE)[1].shape == (1,)
    # a 16 kHz clip is resampled: times stay in seconds
    t16, p16 = tiny.probabilities(_noise(3.0, rate=16000), 16000)
    assert p16.shape == (tw.output_steps(3 * SAMPLE_RATE),) and t16[-1] <= 3.0


def test_stereo_is_averaged(tiny):
    x = _noise(2.0)
    stereo = np.stack([x, 0.5 * x], axis=1)
    assert np.allclose(tiny.probabilities(stereo, SAMPLE_RATE)[1], tiny.probabilities(0.75 * x, SAMPLE_RATE)[1])


def test_wav_path(tiny, tmp_path):
    from seqcore.audio.wav import write_wav

    x = _noise(2.0)
    path = tmp_path / "clip.wav"
    write_wav(path, x, SAMPLE_RATE)
    t, p = tiny.probabilities(str(path))
    assert np.allclose(p, tiny.probabilities(x, SAMPLE_RATE)[1], atol=1e-3)


@pytest.mark.parametrize(
    ("samples", "rate", "error"),
    [
        (np.zeros(0, dtype=np.float32), SAMPLE_RATE, ValueError),
        (np.array([0.0, np.nan, 0.1] * 1000), SAMPLE_RATE, ValueError),
        (np.zeros(5000), "44100", ValueError),
        (np.zeros(5000), 44100.5, ValueError),
        (np.zeros(5000), None, ValueError),
        (np.zeros(5000), 0, ValueError),
        (np.zeros((5000, 2, 2)), SAMPLE_RATE, ValueError),
        (np.array(["a"] * 5000), SAMPLE_RATE, TypeError),
        (None, SAMPLE_RATE, TypeError),
    ],
)
def test_bad_clips_raise_clear_errors(tiny, samples, rate, error):
    with pytest.raises(error):
        tiny.probabilities(samples, rate)
    with pytest.raises(error):
        tiny.detect(samples, rate)


@pytest.mark.parametrize(
    ("X", "error", "words"),
    [
        (np.zeros((TX, N_FREQ)), ValueError, r"X\[None\]"),
        (np.zeros((1, TX, 100)), ValueError, "shape"),
        (np.zeros((1, 14, N_FREQ)), ValueError, "at least 15 frames"),
        (np.full((1, 20, N_FREQ), np.nan), ValueError, "NaN"),
        ("features", TypeError, "spectrogram features"),
        (np.zeros((1, 20, N_FREQ), dtype=complex), TypeError, "real numbers"),
    ],
)
def test_predict_proba_bad_features(tiny, X, error, words):
    with pytest.raises(error, match=words):
        tiny.predict_proba(X)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"word": ""}, "word"),
        ({"dropout": 1.0}, "dropout"),
        ({"filters": 0}, "filters"),
        ({"units": 2.5}, "units"),
    ],
)
def test_constructor_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        TriggerWordDetector(**kwargs)


def test_the_same_network_as_pytorch(course):
    """The forward pass equals the course's network written in PyTorch, with the weights copied over."""
    torch = pytest.importorskip("torch")
    from seqcore.interop import layouts

    _perturb(course, 1)
    get = course.model.get_layer

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    conv = torch.nn.Conv1d(N_FREQ, 196, 15, stride=4)
    conv.weight.data, conv.bias.data = (t(a) for a in layouts.conv1d_to_torch(*get("conv").get_weights()))
    norms, grus = {}, {}
    for name, width in (("conv_norm", 196), ("gru_1_norm", 128), ("gru_2_norm", 128)):
        norms[name] = torch.nn.BatchNorm1d(width, eps=1e-3).eval()  # Keras's epsilon
        g, b, mean, var = layouts.batch_norm_to_torch(*get(name).get_weights())
        norms[name].weight.data, norms[name].bias.data = t(g), t(b)
        norms[name].running_mean.data, norms[name].running_var.data = t(mean), t(var)
    for name, width in (("gru_1", 196), ("gru_2", 128)):
        grus[name] = torch.nn.GRU(width, 128, batch_first=True)
        w_ih, w_hh, b_ih, b_hh = layouts.gru_to_torch(*get(name).get_weights())  # gates z, r, h -> r, z, n
        g = grus[name]
        g.weight_ih_l0.data, g.weight_hh_l0.data, g.bias_ih_l0.data, g.bias_hh_l0.data = map(
            t, (w_ih, w_hh, b_ih, b_hh)
        )
    dense = torch.nn.Linear(128, 1)
    dense.weight.data, dense.bias.data = (t(a) for a in layouts.linear_to_torch(*get("output").layer.get_weights()))

    X = features(_noise(10.0))[None]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch 1: a second thread only waits at barriers on a busy machine
    try:
        with torch.no_grad():
            h = torch.relu(norms["conv_norm"](conv(t(X).transpose(1, 2))))
            h, _ = grus["gru_1"](h.transpose(1, 2))
            h, _ = grus["gru_2"](norms["gru_1_norm"](h.transpose(1, 2)).transpose(1, 2))
            h = norms["gru_2_norm"](h.transpose(1, 2)).transpose(1, 2)
            theirs = torch.sigmoid(dense(h))[..., 0].numpy()
    finally:
        torch.set_num_threads(threads)
    assert np.allclose(course.predict_proba(X), theirs, atol=1e-4)


def test_init_output_bias_sets_the_prior_log_odds():
    model = TriggerWordDetector(filters=4, units=4, seed=0)
    Y = np.zeros((2, 100, 1), np.float32)
    Y[:, :20] = 1.0  # a prior of 0.2
    bias = model.init_output_bias(Y)
    assert bias == pytest.approx(np.log(0.2 / 0.8))
    X = np.random.default_rng(0).standard_normal((1, 60, 101)).astype(np.float32)
    dense = model.model.get_layer("output").layer
    dense.set_weights([np.zeros_like(dense.get_weights()[0]), dense.get_weights()[1]])
    np.testing.assert_allclose(model.predict_proba(X), 0.2, rtol=1e-5)  # zero kernel: the prior everywhere
    for bad in (np.zeros((0, 5)), np.array([2.0]), np.array([np.nan])):
        with pytest.raises(ValueError, match="Y"):
            model.init_output_bias(bad)
