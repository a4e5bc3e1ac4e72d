"""`seqcore trigger detect|train|evaluate` end to end with small model files, and its usage errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from seqcore.audio import speech_available
from seqcore.audio.constants import CLIP_SAMPLES, N_FREQ, SAMPLE_RATE
from seqcore.audio.wav import read_wav, write_wav
from seqcore.cli.main import main
from seqcore.models import TriggerWordDetector
from seqcore.models import trigger_word as tw


def _model_file(path, bias: float | None = None) -> str:
    """A small randomly initialised model; ``bias`` sets the output's bias (+20: always fires, -20: never)."""
    model = TriggerWordDetector(seed=0, filters=8, units=8)
    if bias is not None:
        model.model.get_layer("output").layer.bias.data[...] = bias
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def clip_wav(tmp_path_factory) -> str:
    """A synthesised 10 s example (espeak-ng speech over a background) as a 16-bit WAV."""
    from seqcore.audio.synthesis import random_example, style_splits

    if not speech_available():
        pytest.skip("espeak-ng cannot be loaded here")

    example = random_example(np.random.default_rng(7), style_splits().train)
    path = tmp_path_factory.mktemp("clips") / "clip.wav"
    write_wav(path, example.samples, SAMPLE_RATE)
    return str(path)


def test_detect_prints_times_and_writes_chimes(tmp_path, clip_wav, capsys):
    model = _model_file(tmp_path / "always.safetensors", bias=20.0)
    out = tmp_path / "chimed.wav"
    assert main(["trigger", "detect", clip_wav, "--model", model, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    times = tw.step_times(tw.output_steps(CLIP_SAMPLES))
    expected = [f"{times[k]:.3f}" for k in range(75, times.shape[0], 76)]  # the chime rule on constant 1
    assert lines[: len(expected)] == expected
    assert lines[len(expected)] == f"{len(expected)} detections of 'activate' in {clip_wav} (10.00 s, threshold 0.5)"
    assert lines[-1] == f"wrote the audio with {len(expected)} chimes to {out}"
    original, rate = read_wav(clip_wav)
    chimed, out_rate = read_wav(out)
    assert out_rate == rate and chimed.shape == original.shape
    first = round(float(expected[0]) * rate)
    assert np.allclose(chimed[:first], original[:first])  # untouched before the first chime
    assert np.abs(chimed[first : first + 4410] - original[first : first + 4410]).max() > 0.1  # a chime there
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically


def test_detect_nothing_and_other_rates(tmp_path, capsys):
    model = _model_file(tmp_path / "never.safetensors", bias=-20.0)
    rng = np.random.default_rng(0)
    stereo = (0.1 * rng.standard_normal((16000 * 3, 2))).astype(np.float32)
    wav = tmp_path / "stereo16k.wav"
    import scipy.io.wavfile

    scipy.io.wavfile.write(wav, 16000, (stereo * 32767).astype(np.int16))
    out = tmp_path / "out.wav"
    assert main(["trigger", "detect", str(wav), "--model", model, "--out", str(out), "--threshold", "0.9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"0 detections of 'activate' in {wav} (3.00 s, threshold 0.9)"
    samples, rate = read_wav(out)
    assert rate == 16000 and samples.shape == (48000,)  # the input's rate, downmixed to mono


def test_detect_png(tmp_path, clip_wav, capsys):
    pytest.importorskip("matplotlib", reason="--png needs matplotlib")
    model = _model_file(tmp_path / "m.safetensors")
    png = tmp_path / "fig.png"
    assert main(["trigger", "detect", clip_wav, "--model", model, "--png", str(png), "--threshold", "0.2"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"drew waveform, spectrogram and probabilities to {png}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


def test_missing_matplotlib_names_the_plot_extra(tmp_path, clip_wav, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    model = _model_file(tmp_path / "m.safetensors")
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["trigger", "detect", clip_wav, "--model", model, "--png", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "seqcore[plot]" in err


def test_no_shipped_model_is_a_usage_error(tmp_path, clip_wav, capsys, monkeypatch):
    monkeypatch.setattr(tw, "SHIPPED", tmp_path / "missing.safetensors")
    tw._pretrained.cache_clear()
    try:
        assert main(["trigger", "detect", clip_wav]) == 2
    finally:
        tw._pretrained.cache_clear()
    err = capsys.readouterr().err
    assert "seqcore trigger train" in err and "--model" in err and "Traceback" not in err


def test_usage_errors(tmp_path, clip_wav, capsys):
    model = _model_file(tmp_path / "m.safetensors")
    bad_model = tmp_path / "bad.safetensors"
    bad_model.write_bytes(b"not a safetensors file")
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")
    cases = [
        (["trigger"], "ACTION"),
        (["trigger", "detect", str(tmp_path / "missing.wav"), "--model", model], "no such file"),
        (["trigger", "detect", str(not_wav), "--model", model], "not a WAV file"),
        (["trigger", "detect", clip_wav, "--model", str(tmp_path / "none.safetensors")], "no such file"),
        (["trigger", "detect", clip_wav, "--model", str(bad_model)], str(bad_model)),
        (["trigger", "detect", clip_wav, "--model", model, "--threshold", "1.5"], "probability in [0, 1]"),
        (["trigger", "detect", clip_wav, "--model", model, "--threshold", "nan"], "probability in [0, 1]"),
        (["trigger", "detect", clip_wav, "--model", model, "--out", "/nonexistent/x.wav"], "does not exist"),
        (["trigger", "detect", clip_wav, "--model", model, "--out", clip_wav], "must not be the input"),
        (["trigger", "train"], "--examples"),
        (["trigger", "train", "--examples", "0"], "positive integer"),
        (["trigger", "train", "--examples", "2", "--seed", "-1"], "--seed must be >= 0"),
        (["trigger", "train", "--examples", "2", "--out", "/nonexistent/m.safetensors"], "does not exist"),
        (["trigger", "train", "--examples", "2", "--dropout", "1"], "fraction"),
        (["trigger", "evaluate", "--model", str(tmp_path / "none.safetensors")], "no such file"),
        (["trigger", "evaluate", "--clips", "0"], "positive integer"),
        (["trigger", "evaluate", "--model", model, "--tolerance", "-1"], "number >= 0"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)


def _fake_dataset(calls: list):
    """make_dataset's contract with short clips (95 frames, 21 output steps): the CLI's train and evaluate
    paths without synthesising 10 s of speech per clip."""
    from seqcore.audio.synthesis import TriggerData

    def make_dataset(n, seed=0, *, word="activate", styles=None, workers=1, progress=None, **kwargs):
        calls.append({"n": n, "seed": seed, "word": word, "styles": styles, "workers": workers})
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, 95, N_FREQ)).astype(np.float32) - 8.0
        Y = np.zeros((n, 21, 1), dtype=np.float32)
        Y[:, 10:15] = 1.0
        if progress is not None:
            progress(n)
        return TriggerData(X=X, Y=Y, trigger_ends=[[0.03] for _ in range(n)], word=word, seed=seed)

    return make_dataset


def test_train_and_evaluate(tmp_path, capsys, monkeypatch):
    from seqcore.audio import synthesis

    calls: list = []
    monkeypatch.setattr(synthesis, "make_dataset", _fake_dataset(calls))
    splits = synthesis.style_splits()
    path = tmp_path / "trained.safetensors"
    argv = ["trigger", "train", "--examples", "6", "--dev-clips", "3", "--epochs", "2", "--batch-size", "3",
            "--filters", "4", "--units", "4", "--workers", "2", "--seed", "5", "--out", str(path),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "synthesising 6 training clips and 3 dev clips" in out
    assert re.search(r"training [\d,]+ parameters on 6 clips for 2 epochs", out)
    assert re.search(r"trained 2 epoch\(s\); final training loss \d+\.\d{4}", out)
    assert re.search(r"dev set: 3 clips \(threshold 0.5, tolerance 0.5 s\)\n  frames: precision .*\n  events: ", out)
    assert out.rstrip().endswith(f"saved to {path}")
    assert calls[0] == {"n": 6, "seed": 5, "word": "activate", "styles": splits.train, "workers": 2}
    assert calls[1]["n"] == 3 and calls[1]["styles"] == splits.dev and calls[1]["seed"] != 5
    model = TriggerWordDetector.load(path)
    assert (model.filters, model.units, model.word) == (4, 4, "activate")

    calls.clear()
    assert main(["trigger", "evaluate", "--model", str(path), "--clips", "4", "--seed", "9", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "'activate' detector, threshold 0.5, event tolerance 0.5 s"
    assert out[1].split() == ["set", "clips", "frame", "F1", "event", "P", "event", "R", "event", "F1", "events"]
    assert out[2].startswith("dev styles") and out[3].startswith("unseen voices")
    for line in out[2:4]:
        assert re.search(
            r"\s4\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d+ hits, \d+ false alarms, \d+ misses", line
        )
    assert [(c["n"], c["seed"], c["styles"]) for c in calls] == [(4, 9, splits.dev), (4, 9, splits.unseen_voice)]


@pytest.mark.skipif(not speech_available(), reason="espeak-ng cannot be loaded here")
def test_train_with_real_synthesis(tmp_path, capsys):
    """Two clips each way through espeak-ng and the spectrogram: the real data path, kept tiny."""
    path = tmp_path / "m.safetensors"
    argv = ["trigger", "train", "--examples", "2", "--dev-clips", "2", "--epochs", "1", "--filters", "2",
            "--units", "2", "--out", str(path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "dev set: 2 clips" in capsys.readouterr().out and path.is_file()
