"""seqcore.audio.wav: WAV sub-formats in, 16-bit PCM out (atomically), downmixing, resampling, load_clip."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from seqcore._atomic import CorruptFileError
from seqcore.audio.constants import SAMPLE_RATE
from seqcore.audio.wav import load_clip, read_wav, resample, to_mono, write_wav


def riff(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, *, big_endian: bool = False) -> bytes:
    """A minimal WAV file built by hand: for sub-formats scipy cannot write, and for damaged headers."""
    order = ">" if big_endian else "<"
    align = channels * ((bits + 7) // 8)
    fmt = struct.pack(order + "HHIIHH", fmt_tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack(order + "I", len(fmt)) + fmt
    body += b"data" + struct.pack(order + "I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return (b"RIFX" if big_endian else b"RIFF") + struct.pack(order + "I", len(body)) + body


def scipy_wav(path: Path, rate: int, data: np.ndarray) -> Path:
    scipy.io.wavfile.write(path, rate, data)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- reading every sub-format


def test_uint8_is_centred_at_128(tmp_path: Path) -> None:
    raw = np.array([0, 64, 128, 192, 255], dtype=np.uint8)
    samples, rate = read_wav(scipy_wav(tmp_path / "u8.wav", 8000, raw))
    assert rate == 8000 and samples.dtype == np.float32 and samples.shape == (5,)
    np.testing.assert_array_equal(samples, [-1.0, -0.5, 0.0, 0.5, 127 / 128])


def test_int16_full_scale_is_32768(tmp_path: Path) -> None:
    raw = np.array([-32768, -16384, 0, 1, 32767], dtype=np.int16)
    samples, rate = read_wav(scipy_wav(tmp_path / "i16.wav", 16000, raw))
    assert rate == 16000 and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, raw / 32768.0)


def test_int32_full_scale_is_2_to_31(tmp_path: Path) -> None:
    raw = np.array([-(2**31), -(2**30), 0, 2**16, 2**31 - 1], dtype=np.int32)
    samples, _ = read_wav(scipy_wav(tmp_path / "i32.wav", 44100, raw))
    np.testing.assert_allclose(samples, raw / 2.0**31, rtol=1e-7, atol=0)


def test_hand_built_24_bit_file(tmp_path: Path) -> None:
    values = [-(2**23), -4096, -1, 0, 1, 2**22, 2**23 - 1]
    data = b"".join(struct.pack("<i", v)[:3] for v in values)
    path = tmp_path / "i24.wav"
    path.write_bytes(riff(1, 1, 22050, 24, data))
    samples, rate = read_wav(path)
    assert rate == 22050
    np.testing.assert_allclose(samples, np.array(values) / 2.0**23, rtol=1e-7, atol=0)


def test_big_endian_rifx_file(tmp_path: Path) -> None:
    values = [-32768, -3, 0, 5, 32767]
    path = tmp_path / "rifx.wav"
    path.write_bytes(riff(1, 1, 8000, 16, struct.pack(">5h", *values), big_endian=True))
    samples, _ = read_wav(path)
    np.testing.assert_array_equal(samples, np.array(values) / 32768.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_files_keep_their_values_even_beyond_full_scale(tmp_path: Path, dtype: type) -> None:
    raw = np.array([-1.5, -0.25, 0.0, 0.125, 0.999, 2.0], dtype=dtype)
    samples, rate = read_wav(scipy_wav(tmp_path / "f.wav", 48000, raw))
    assert rate == 48000 and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, raw.astype(np.float32))


def test_stereo_and_more_channels_are_averaged(tmp_path: Path) -> None:
    stereo = np.array([[1000, 3000], [-32768, 0], [200, 200]], dtype=np.int16)
    samples, _ = read_wav(scipy_wav(tmp_path / "st.wav", 8000, stereo))
    np.testing.assert_allclose(samples, stereo.mean(axis=1) / 32768.0, rtol=1e-7)
    quad = np.random.default_rng(0).uniform(-1, 1, (50, 4)).astype(np.float32)
    samples, _ = read_wav(scipy_wav(tmp_path / "quad.wav", 8000, quad))
    np.testing.assert_allclose(samples, quad.astype(np.float64).mean(axis=1), rtol=1e-6, atol=1e-7)
    wide = np.random.default_rng(1).uniform(-1, 1, (3, 100)).astype(np.float32)  # more channels than samples
    samples, _ = read_wav(scipy_wav(tmp_path / "wide.wav", 8000, wide))
    np.testing.assert_allclose(samples, wide.astype(np.float64).mean(axis=1), rtol=1e-6, atol=1e-7)


def test_silence_reads_as_zeros(tmp_path: Path) -> None:
    samples, _ = read_wav(scipy_wav(tmp_path / "quiet.wav", 8000, np.zeros(100, np.int16)))
    assert samples.shape == (100,) and not samples.any()


def test_path_like_and_bytes_paths_are_accepted(tmp_path: Path) -> None:
    path = scipy_wav(tmp_path / "p.wav", 8000, np.arange(4, dtype=np.int16))
    for given in (path, str(path), os.fsencode(str(path))):
        assert read_wav(given)[0].shape == (4,)


# ---------------------------------------------------------------- writing


def test_write_then_read_round_trips_to_16_bit_precision(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    x = (0.7 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "sine.wav"
    write_wav(path, x, 8000)
    rate, raw = scipy.io.wavfile.read(path)
    assert rate == 8000 and raw.dtype == np.int16 and raw.shape == (8000,)
    back, rate = read_wav(path)
    assert rate == 8000
    assert np.abs(back - x).max() <= 0.5 / 32768 + 1e-7


def test_16_bit_file_read_and_written_back_is_bit_identical(tmp_path: Path) -> None:
    raw = np.random.default_rng(1).integers(-32768, 32768, 1000).astype(np.int16)
    raw[:2] = [-32768, 32767]
    samples, rate = read_wav(scipy_wav(tmp_path / "a.wav", 11025, raw))
    write_wav(tmp_path / "b.wav", samples, rate)
    rate_b, raw_b = scipy.io.wavfile.read(tmp_path / "b.wav")
    assert rate_b == 11025
    np.testing.assert_array_equal(raw_b, raw)


def test_write_clips_to_full_scale_and_takes_n_by_1(tmp_path: Path) -> None:
    write_wav(tmp_path / "c.wav", np.array([[2.0], [-3.0], [1.0], [-1.0], [0.5]]), 8000)
    _, raw = scipy.io.wavfile.read(tmp_path / "c.wav")
    np.testing.assert_array_equal(raw, [32767, -32768, 32767, -32768, 16384])


def test_write_takes_integer_pcm_and_numpy_int_rates(tmp_path: Path) -> None:
    write_wav(tmp_path / "i.wav", np.array([0, 128, 255], dtype=np.uint8), np.int64(8000))
    rate, raw = scipy.io.wavfile.read(tmp_path / "i.wav")
    assert rate == 8000
    np.testing.assert_array_equal(raw, [-32768, 0, 32512])


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    write_wav(path, np.zeros(10), 8000)
    write_wav(path, np.full(3, 0.5), 16000)
    samples, rate = read_wav(path)
    assert rate == 16000 and samples.tolist() == [0.5] * 3
    assert leftovers(tmp_path) == ["x.wav"]


@pytest.mark.parametrize(
    ("samples", "rate", "error", "words"),
    [
        (np.array([0.1, np.nan]), 8000, ValueError, "finite"),
        (np.array([0.1, -np.inf]), 8000, ValueError, "finite"),
        (np.array([0.1, 0.2j]), 8000, TypeError, "complex"),
        (np.array([True, False]), 8000, TypeError, "bool"),
        (np.array(["a", "b"]), 8000, TypeError, "samples"),
        (np.zeros(0), 8000, ValueError, "empty"),
        (np.zeros((10, 2)), 8000, ValueError, "mono"),
        (np.zeros((2, 2, 2)), 8000, ValueError, "mono"),
        (np.zeros(10, dtype=np.uint16), 8000, TypeError, "uint16"),
        (None, 8000, TypeError, "samples"),
        (np.zeros(10), 0, ValueError, "sample_rate"),
        (np.zeros(10), -8000, ValueError, "sample_rate"),
        (np.zeros(10), 8000.0, ValueError, "sample_rate"),
        (np.zeros(10), True, ValueError, "sample_rate"),
        (np.zeros(10), "8000", ValueError, "sample_rate"),
        (np.zeros(10), 2**32, ValueError, "sample_rate"),
    ],
)
def test_write_refuses_bad_input_and_leaves_no_file(
    tmp_path: Path, samples: object, rate: object, error: type, words: str
) -> None:
    path = tmp_path / "old.wav"
    write_wav(path, np.full(4, 0.25), 8000)
    before = path.read_bytes()
    with pytest.raises(error, match=words):
        write_wav(path, samples, rate)  # type: ignore[arg-type]
    with pytest.raises(error):
        write_wav(tmp_path / "new.wav", samples, rate)  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == ["old.wav"]


def test_write_to_a_folder_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(IsADirectoryError, match="sub"):
        write_wav(tmp_path / "sub", np.zeros(4), 8000)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        write_wav(tmp_path / "nowhere" / "x.wav", np.zeros(4), 8000)
    with pytest.raises(TypeError, match="path"):
        write_wav(123, np.zeros(4), 8000)  # type: ignore[arg-type]
    assert leftovers(tmp_path) == ["sub"] and not any((tmp_path / "sub").iterdir())


def test_a_failing_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.wav"
    write_wav(path, np.full(4, 0.25), 8000)
    before = path.read_bytes()

    def half_then_fail(fh, rate, data):  # the disk fills up half way through
        fh.write(b"RIFF\0\0")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scipy.io.wavfile, "write", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_wav(path, np.zeros(100), 8000)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == ["keep.wav"]


# ---------------------------------------------------------------- damaged and missing files


def _bad_files() -> dict[str, bytes]:
    good = riff(1, 1, 8000, 16, np.arange(-50, 50, dtype="<i2").tobytes())
    return {
        "empty": b"",
        "text": b"this is not a wav file at all, only some words\n" * 3,
        "riff_not_wave": b"RIFF\x04\0\0\0AVI LIST",
        "header_cut": good[:30],
        "data_cut": good[:-40],
        "no_data_chunk": good[: good.index(b"data")],
        "no_samples": riff(1, 1, 8000, 16, b""),
        "zero_channels": riff(1, 0, 8000, 16, b"\0\0"),
        "zero_rate": riff(1, 1, 0, 16, b"\0\0"),
        "adpcm": riff(2, 1, 8000, 4, b"\0\0"),
        "odd_data_size": riff(1, 1, 8000, 16, b"\0\0\0"),
        "nan": riff(3, 1, 8000, 32, np.array([0.0, np.nan], "<f4").tobytes()),
        "inf": riff(3, 1, 8000, 64, np.array([0.0, 0.5, -np.inf], "<f8").tobytes()),
        "too_big_for_float32": riff(3, 1, 8000, 64, np.array([0.0, 1e300], "<f8").tobytes()),
    }


@pytest.mark.parametrize("kind", sorted(_bad_files()))
def test_damaged_files_raise_a_value_error_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(_bad_files()[kind])
    with pytest.raises(CorruptFileError, match=f"{kind}.wav") as info:
        read_wav(path)
    assert isinstance(info.value, ValueError)


def test_damaged_file_messages_say_what_is_wrong(tmp_path: Path) -> None:
    files = _bad_files()
    expected = {
        "empty": "empty",
        "text": "not a WAV file",
        "data_cut": "truncated",
        "no_samples": "no samples",
        "zero_rate": "sample rate",
        "nan": "finite",
        "adpcm": "ADPCM",
    }
    for kind, words in expected.items():
        path = tmp_path / f"{kind}.wav"
        path.write_bytes(files[kind])
        with pytest.raises(ValueError, match=words):
            read_wav(path)


def test_missing_file_folder_and_bad_path_types(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        read_wav(tmp_path / "nothing.wav")
    with pytest.raises(IsADirectoryError, match=str(tmp_path.name)):
        read_wav(tmp_path)
    with pytest.raises(TypeError, match="path"):
        read_wav(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty string"):
        read_wav("")


# ---------------------------------------------------------------- to_mono


def test_to_mono_averages_channels_and_scales_integer_pcm() -> None:
    np.testing.assert_array_equal(to_mono(np.array([[0.5, -0.5], [1.0, 0.0]])), [0.0, 0.5])
    np.testing.assert_array_equal(to_mono([0.25, 0.5]), np.float32([0.25, 0.5]))
    np.testing.assert_array_equal(to_mono(np.array([[-32768], [16384]], np.int16)), [-1.0, 0.5])
    np.testing.assert_array_equal(to_mono(np.array([-128, 64], np.int8)), [-1.0, 0.5])
    assert to_mono(np.zeros(5, np.float64)).dtype == np.float32
    # non-contiguous views are fine
    x = np.arange(20, dtype=np.float64).reshape(10, 2)[::2] / 100
    np.testing.assert_allclose(to_mono(x), x.mean(axis=1), rtol=1e-6)


@pytest.mark.parametrize(
    ("samples", "error", "words"),
    [
        (np.zeros((2, 44100)), ValueError, "transpose"),
        (np.zeros((2, 2, 2)), ValueError, "3-D"),
        (np.zeros((0, 2)), ValueError, "empty"),
        (np.array([1 + 1j]), TypeError, "complex"),
        (np.array([np.nan, 0]), ValueError, "finite"),
        (np.array([1e39, 0]), ValueError, "float32"),
        ("abc", TypeError, "samples"),
        ([[1.0], [2.0, 3.0]], TypeError, "samples"),
        (np.zeros(3, np.uint32), TypeError, "uint32"),
    ],
)
def test_to_mono_refuses_what_is_not_audio(samples: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        to_mono(samples)


# ---------------------------------------------------------------- resample


def _sine(freq: float, rate: int, seconds: float, amplitude: float = 0.8) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)


@pytest.mark.parametrize(("freq", "src"), [(440.0, 16000), (1000.0, 48000), (440.0, 8000), (3000.0, 22050)])
def test_resampled_sine_keeps_frequency_amplitude_and_phase(freq: float, src: int) -> None:
    x = _sine(freq, src, 0.5)
    y = resample(x, src, SAMPLE_RATE)
    assert y.dtype == np.float32 and y.shape == (SAMPLE_RATE // 2,)
    ideal = _sine(freq, SAMPLE_RATE, 0.5)
    middle = slice(2000, -2000)  # the filter's transients sit at the ends
    assert np.abs(y[middle] - ideal[middle]).max() < 2e-3
    assert abs(np.abs(y[middle]).max() - 0.8) < 2e-3
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[0])))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / y.shape[0] - freq) <= 2.0


def test_downsampling_removes_what_is_above_the_new_nyquist() -> None:
    x = _sine(20000.0, SAMPLE_RATE, 0.5)
    y = resample(x, SAMPLE_RATE, 16000)
    assert np.abs(y[500:-500]).max() < 0.01  # 20 kHz would alias to 4 kHz if not filtered


@pytest.mark.parametrize(
    ("n", "src", "dst", "expected"),
    [(1000, 16000, 44100, 2757), (48000, 48000, 44100, 44100), (1, 16000, 44100, 3), (7, 44100, 8000, 2)],
)
def test_resampled_lengths_are_ceil_n_up_over_down(n: int, src: int, dst: int, expected: int) -> None:
    assert resample(np.ones(n), src, dst).shape == (expected,)


def test_resample_at_the_same_rate_is_a_float32_copy() -> None:
    x = np.linspace(-1, 1, 11, dtype=np.float32)
    y = resample(x, 44100, 44100)
    assert y.dtype == np.float32 and y is not x
    np.testing.assert_array_equal(y, x)
    y[0] = 5
    assert x[0] == -1


def test_resample_keeps_channels_separate() -> None:
    x = np.stack([_sine(440, 16000, 0.1), _sine(880, 16000, 0.1)], axis=1)
    y = resample(x, 16000, 44100)
    assert y.shape == (4410, 2)
    np.testing.assert_allclose(y[:, 1], resample(x[:, 1], 16000, 44100), atol=1e-7)


@pytest.mark.parametrize(
    ("src", "dst", "words"),
    [
        (0, 44100, "orig_rate"),
        (-16000, 44100, "orig_rate"),
        (16000.0, 44100, "orig_rate"),
        (True, 44100, "orig_rate"),
        (16000, None, "target_rate"),
        (16000, "44100", "target_rate"),
        (999_999, 1_000_000_000, "round one of the rates"),
    ],
)
def test_resample_refuses_bad_rates(src: object, dst: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        resample(np.zeros(10), src, dst)  # type: ignore[arg-type]


def test_resample_refuses_bad_samples() -> None:
    with pytest.raises(ValueError, match="finite"):
        resample(np.array([0.0, np.inf]), 16000, 44100)
    with pytest.raises(ValueError, match="empty"):
        resample(np.zeros(0), 16000, 44100)
    with pytest.raises(ValueError, match="too many"):
        resample(np.zeros(10**6), 1, 1_000_000)


# ---------------------------------------------------------------- load_clip


def test_load_clip_from_a_16k_stereo_file(tmp_path: Path) -> None:
    left = _sine(440, 16000, 0.5, 0.4)
    stereo = np.stack([left, left], axis=1).astype(np.float32)
    path = scipy_wav(tmp_path / "s.wav", 16000, stereo)
    clip = load_clip(path)
    assert clip.dtype == np.float32 and clip.shape == (SAMPLE_RATE // 2,)
    ideal = _sine(440, SAMPLE_RATE, 0.5, 0.4)
    assert np.abs(clip[2000:-2000] - ideal[2000:-2000]).max() < 2e-3
    np.testing.assert_array_equal(load_clip(str(path)), clip)


def test_load_clip_from_arrays() -> None:
    x = _sine(440, 48000, 0.2)
    clip = load_clip(x, sample_rate=48000)
    assert clip.dtype == np.float32 and clip.shape == (8820,)
    np.testing.assert_array_equal(load_clip(np.stack([x, x], axis=1), 48000), clip)
    same = np.linspace(-0.5, 0.5, 100)
    np.testing.assert_array_equal(load_clip(same, SAMPLE_RATE), same.astype(np.float32))
    np.testing.assert_array_equal(load_clip(np.array([16384, -16384], np.int16), SAMPLE_RATE), [0.5, -0.5])


def test_load_clip_refuses_mixed_up_arguments(tmp_path: Path) -> None:
    path = scipy_wav(tmp_path / "c.wav", 16000, np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="sample_rate must be None"):
        load_clip(path, sample_rate=16000)
    with pytest.raises(ValueError, match="sample_rate .* required"):
        load_clip(np.zeros(100))
    with pytest.raises(ValueError, match="sample_rate"):
        load_clip(np.zeros(100), 0)
    with pytest.raises(TypeError, match="source"):
        load_clip(None, 16000)
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        load_clip(tmp_path / "gone.wav")
    with pytest.raises(ValueError, match="source"):
        load_clip(np.zeros((2, 2, 2)), 16000)


def test_extensible_and_rf64_files(tmp_path: Path) -> None:
    values = np.array([-32768, -7, 0, 9, 32767], dtype="<i2")
    guid_pcm = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 16000, 2, 16) + struct.pack("<HHI", 22, 16, 4) + guid_pcm
    data = values.tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    (tmp_path / "ext.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    samples, rate = read_wav(tmp_path / "ext.wav")
    assert rate == 8000
    np.testing.assert_array_equal(samples, values / 32768.0)

    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    riff_size = 4 + (8 + 28) + (8 + len(fmt)) + (8 + len(data))  # the real sizes live in the ds64 chunk
    ds64 = struct.pack("<QQQI", riff_size, len(data), len(values), 0)
    body = b"WAVE" + b"ds64" + struct.pack("<I", len(ds64)) + ds64 + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    rf64 = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body + b"data" + struct.pack("<I", 0xFFFFFFFF) + data
    assert len(rf64) == riff_size + 8
    (tmp_path / "rf64.wav").write_bytes(rf64)
    samples, rate = read_wav(tmp_path / "rf64.wav")
    assert rate == 8000
    np.testing.assert_array_equal(samples, values / 32768.0)
    (tmp_path / "rf64_cut.wav").write_bytes(rf64[:-4])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_wav(tmp_path / "rf64_cut.wav")
