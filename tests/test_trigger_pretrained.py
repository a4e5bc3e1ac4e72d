"""The shipped trigger-word model on synthesised speech it never heard, and on WAV files of every kind."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io.wavfile

from seqcore import audio
from seqcore.cli.main import main
from seqcore.models import TriggerWordDetector
from seqcore.models import trigger_word as tw

pytestmark = [
    pytest.mark.skipif(not tw.SHIPPED.is_file(), reason="the shipped trigger-word model is not there yet"),
    pytest.mark.skipif(not audio.speech_available(), reason="espeak-ng is not available"),
]


@pytest.fixture(scope="module")
def model():
    return TriggerWordDetector.pretrained()


@pytest.fixture(scope="module")
def spoken():
    """A 10 s clip of a voice never used in training: two trigger words and one other word over pink noise."""
    rng = np.random.default_rng(11)
    combos = audio.style_splits().unseen_voice
    bg = audio.make_background("pink", rng, level_db=-40.0)
    acts = [audio.speak("activate", combos, rng) for _ in range(2)]
    neg = [audio.speak("banana", combos, rng)]
    clip = bg.copy()
    ends = []
    for start, word in ((1.5, acts[0]), (6.0, acts[1])):
        first = int(start * audio.SAMPLE_RATE)
        clip[first : first + word.size] += word
        ends.append((first + word.size - 1) / audio.SAMPLE_RATE)
    first = int(3.8 * audio.SAMPLE_RATE)
    clip[first : first + neg[0].size] += neg[0]
    return np.clip(clip, -1, 1), ends


def _matches(times, ends, tolerance=0.5):
    return sum(any(0.0 <= t - e <= tolerance for t in times) for e in ends)


def test_detects_an_unseen_voice_and_ignores_other_words(model, spoken):
    clip, ends = spoken
    times = model.detect(clip, audio.SAMPLE_RATE)
    assert _matches(times, ends) == 2
    assert len(times) == 2  # "banana" and the noise gave nothing


def test_other_rates_and_a_long_clip(model, spoken):
    clip, ends = spoken
    clip16 = audio.resample(clip, audio.SAMPLE_RATE, 16000)
    assert _matches(model.detect(clip16, 16000), ends) == 2
    # 30 s: the clip, 10 s of its background's quiet, the clip again; the detector slides over it
    long = np.concatenate([clip, np.zeros(audio.CLIP_SAMPLES, np.float32), clip])
    times = model.detect(long, audio.SAMPLE_RATE)
    assert _matches(times, ends + [e + 20.0 for e in ends]) == 4 and len(times) == 4


def _pcm16(x):
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)


def _write(path, data, rate=audio.SAMPLE_RATE):
    scipy.io.wavfile.write(path, rate, data)
    return str(path)


def test_cli_detect_on_every_kind_of_wav(tmp_path, spoken, capsys):
    clip, ends = spoken
    pcm16 = _pcm16(clip)
    files = {
        "u8": _write(tmp_path / "u8.wav", np.round(clip * 127 + 128).astype(np.uint8)),
        "s16": _write(tmp_path / "s16.wav", pcm16),
        "s32": _write(tmp_path / "s32.wav", pcm16.astype(np.int32) << 16),
        "f32": _write(tmp_path / "f32.wav", clip.astype(np.float32)),
        "f64": _write(tmp_path / "f64.wav", clip.astype(np.float64)),
        "stereo": _write(tmp_path / "stereo.wav", np.stack([pcm16, pcm16], axis=1)),
        "22k": _write(
            tmp_path / "22k.wav", np.round(audio.resample(clip, 44100, 22050) * 32767).astype(np.int16), 22050
        ),
    }
    # 24-bit PCM: scipy reads it but does not write it; build the file by hand
    pcm24 = (pcm16.astype(np.int32) << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    header = (
        b"RIFF" + (36 + len(pcm24)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (44100).to_bytes(4, "little")
        + (44100 * 3).to_bytes(4, "little") + (3).to_bytes(2, "little") + (24).to_bytes(2, "little")
        + b"data" + len(pcm24).to_bytes(4, "little")
    )  # fmt: skip
    (tmp_path / "s24.wav").write_bytes(header + pcm24)
    files["s24"] = str(tmp_path / "s24.wav")
    for name, path in files.items():
        out = tmp_path / f"{name}_chimed.wav"
        assert main(["trigger", "detect", path, "--out", str(out)]) == 0, name
        lines = capsys.readouterr().out.splitlines()
        times = [float(line) for line in lines if line.replace(".", "", 1).isdigit()]
        assert _matches(times, ends) == 2 and len(times) == 2, (name, lines)
        chimed, rate = audio.read_wav(str(out))
        assert chimed.shape[0] == audio.read_wav(path)[0].shape[0] and np.all(np.isfinite(chimed))


def test_cli_detect_silence_and_tiny_files(tmp_path, capsys):
    for name, data in (("silent", np.zeros(audio.CLIP_SAMPLES, np.int16)), ("tiny", np.zeros(50, np.int16))):
        path = _write(tmp_path / f"{name}.wav", data)
        assert main(["trigger", "detect", path]) == 0
        assert "0 detections" in capsys.readouterr().out
