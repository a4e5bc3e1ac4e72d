"""WAV files in and out, channel downmixing and resampling: the one door audio comes in through.

Everything here hands back mono ``float32`` samples with full scale at ±1, whatever the file held:

* 8-bit WAV is unsigned with silence at 128: ``(x - 128) / 128``;
* signed PCM (16-, 24- and 32-bit; scipy hands 24-bit data back left-justified in int32) is
  divided by its container's full scale, ``2**15`` or ``2**31``, so a file read and written back
  as 16-bit is bit-identical;
* float WAV (32- or 64-bit) keeps its values, also beyond ±1; NaN or infinite samples are refused.

Several channels are averaged into one: the course's clips are mono, and averaging keeps a
centred source at its level.  :func:`load_clip` is what detectors and command-line tools call:
a path or an array in, mono 44.1 kHz ``float32`` out.
"""

from __future__ import annotations

import io
import math
import os
import struct
from typing import Any, Union

import numpy as np

from .._atomic import CorruptFileError, atomic_open
from .._checks import positive_int
from .constants import SAMPLE_RATE

__all__ = ["load_clip", "read_wav", "resample", "to_mono", "write_wav"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_MAX_WAV_RATE = 2**32 - 1  # the header's sample-rate field is a 32-bit unsigned int
# resample_poly designs a filter about 20 * max(up, down) taps long; beyond this the design alone
# takes seconds and the memory grows without bound, and no real pair of rates reduces that badly
_MAX_RESAMPLE_FACTOR = 2**20
_MAX_RESAMPLED_LENGTH = 2**31


# ---------------------------------------------------------------- samples as float


def _wavfile() -> Any:
    import scipy.io.wavfile  # on first use: keeps `import seqcore.models` fast

    return scipy.io.wavfile


def _pcm_scale(dtype: np.dtype, what: str) -> tuple[float, float]:
    """(offset, full scale) turning integer PCM of ``dtype`` into floats in [-1, 1)."""
    if dtype == np.uint8:
        return 128.0, 128.0
    if np.issubdtype(dtype, np.signedinteger):
        full = float(2 ** (8 * dtype.itemsize - 1))
        return 0.0, full
    raise TypeError(
        f"{what}: unsigned {dtype} is not a PCM sample format; give floats in [-1, 1], uint8 (silence at 128) "
        "or signed int16/int32 PCM"
    )


def _as_float64(samples: Any, what: str) -> np.ndarray:
    """``samples`` as a float64 array, integer PCM scaled to [-1, 1), with clear errors for what is not audio."""
    if isinstance(samples, (str, bytes)) or samples is None:
        raise TypeError(f"{what}: expected an array of audio samples, got {type(samples).__name__}")
    try:
        arr = np.asarray(samples)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(f"{what}: expected an array of audio samples, could not make one ({exc})") from None
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        kind = "complex" if np.issubdtype(arr.dtype, np.complexfloating) else str(arr.dtype)
        raise TypeError(f"{what}: expected real float or integer PCM samples, got dtype {kind}")
    if arr.size == 0:
        raise ValueError(f"{what}: expected at least one sample, got an empty array of shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        offset, full = _pcm_scale(arr.dtype, what)
        out = arr.astype(np.float64)
        if offset:
            out -= offset
        out /= full
        return out
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), out.shape)
        where = first[0] if out.ndim == 1 else first
        raise ValueError(f"{what}: expected finite samples, found {out[first]} at index {where}")
    return out


def _to_float32(x: np.ndarray, what: str) -> np.ndarray:
    if x.dtype != np.float32:
        peak = float(np.abs(x).max())
        if peak > float(np.finfo(np.float32).max):
            raise ValueError(f"{what}: samples beyond float32's range (largest magnitude {peak:.3g})")
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_layout(arr: np.ndarray, what: str) -> None:
    """[n] or [n, channels] (scipy's layout), with a hint for the [channels, n] layout other libraries use."""
    if arr.ndim not in (1, 2):
        raise ValueError(f"{what}: expected shape [n] or [n, channels], got {arr.ndim}-D shape {arr.shape}")
    if arr.ndim == 2:
        n, channels = arr.shape
        if channels > 64 and channels > n:
            raise ValueError(
                f"{what}: got shape {arr.shape}, which reads as {channels} channels of {n} samples; expected "
                f"[n, channels] (scipy's layout); for a [channels, n] array pass its transpose"
            )


def _mono64(samples: Any, what: str) -> np.ndarray:
    arr = _as_float64(samples, what)
    _check_layout(arr, what)
    return arr if arr.ndim == 1 else arr.mean(axis=1)


def to_mono(samples: Any) -> np.ndarray:
    """One channel from ``samples`` [n] or [n, channels] (scipy's layout): the channels' average, float32 [n].

    Float samples keep their values; integer samples are taken as PCM and scaled to [-1, 1)
    as :func:`read_wav` does (uint8 around 128, signed ints by their full scale).  Empty,
    non-finite, complex, bool or non-numeric samples are refused with a ValueError/TypeError.
    """
    return _to_float32(_mono64(samples, "to_mono: samples"), "to_mono: samples")


# ---------------------------------------------------------------- reading


def _path_name(path: Any, func: str) -> str:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}: {path!r}")
    name = os.fspath(path)
    name = os.fsdecode(name) if isinstance(name, bytes) else name
    if not name:
        raise ValueError(f"{func}: path is an empty string; expected a WAV file's path")
    return name


def _check_complete(raw: bytes, name: str) -> None:
    """Refuse what is not a RIFF/WAVE file, and files cut short inside their sample data.

    scipy only warns about a short data chunk and returns what it found, which would pass a
    damaged download off as a shorter clip.
    """
    if not raw:
        raise CorruptFileError(f"read_wav: {name!r} is empty (0 bytes); expected a WAV file")
    form = raw[:4]
    if len(raw) < 12 or form not in (b"RIFF", b"RIFX", b"RF64") or raw[8:12] != b"WAVE":
        raise CorruptFileError(
            f"read_wav: {name!r} is not a WAV file (expected a RIFF/WAVE header, the file starts with {raw[:12]!r})"
        )
    order = ">" if form == b"RIFX" else "<"
    rf64_data_size = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk = raw[pos : pos + 4]
        (size,) = struct.unpack(order + "I", raw[pos + 4 : pos + 8])
        if chunk == b"ds64" and pos + 24 <= len(raw):  # RF64 keeps the real 64-bit sizes here
            (rf64_data_size,) = struct.unpack("<Q", raw[pos + 16 : pos + 24])
        if chunk == b"data":
            if form == b"RF64" and size == 0xFFFFFFFF and rf64_data_size is not None:
                size = rf64_data_size
            present = len(raw) - (pos + 8)
            if size > present:
                raise CorruptFileError(
                    f"read_wav: {name!r} is truncated: its data chunk declares {size} bytes of samples "
                    f"but only {present} are present"
                )
            return
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    raise CorruptFileError(f"read_wav: {name!r} is truncated or damaged: it has no complete 'data' chunk (samples)")


def read_wav(path: PathLike) -> tuple[np.ndarray, int]:
    """The samples of a WAV file as mono float32 [n] with full scale ±1, and its sample rate in Hz.

    Reads 8-bit unsigned, 16-, 24- and 32-bit signed PCM and 32-/64-bit float WAV (also
    WAVE_FORMAT_EXTENSIBLE and RF64) through ``scipy.io.wavfile``.  Integer PCM is scaled by its
    container's full scale (8-bit around its centre 128); float data keeps its values, even
    beyond ±1.  Files with several channels are downmixed by averaging them (the course's clips
    are mono).  Silence comes back as zeros.

    Raises FileNotFoundError for a missing file, IsADirectoryError for a folder, and
    :class:`~seqcore._atomic.CorruptFileError` (a ValueError) naming the file for one that is not
    a WAV file, is truncated or damaged, holds no samples, declares a sample rate of 0 or holds
    NaN or infinite float samples.
    """
    name = _path_name(path, "read_wav")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_wav: no such file: {name!r} (expected a WAV file)") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"read_wav: {name!r} is a folder, not a WAV file") from None
    _check_complete(raw, name)
    try:
        rate, data = _wavfile().read(io.BytesIO(raw))
    except MemoryError:
        raise
    except Exception as exc:  # scipy's parser raises ValueError, struct.error, ZeroDivisionError, ... on bad headers
        raise CorruptFileError(f"read_wav: {name!r} is not a readable WAV file ({type(exc).__name__}: {exc})") from None
    if data.size == 0:
        raise CorruptFileError(f"read_wav: {name!r} holds no samples (an empty data chunk)")
    if rate <= 0:
        raise CorruptFileError(f"read_wav: {name!r} declares a sample rate of {rate} Hz; expected a positive rate")
    what = f"read_wav: {name!r}"
    try:
        full = _as_float64(data, what)
    except (TypeError, ValueError) as exc:  # NaN or infinite float samples, or an integer type PCM does not have
        raise CorruptFileError(str(exc)) from None
    # scipy's layout is always [n, channels]: no guessing about transposed arrays here
    mono = full if full.ndim == 1 else full.mean(axis=1)
    try:
        return _to_float32(mono, what), int(rate)
    except ValueError as exc:
        raise CorruptFileError(str(exc)) from None


# ---------------------------------------------------------------- writing


def _check_rate(value: Any, what: str, limit: int) -> int:
    rate = positive_int(what, value)
    if rate > limit:
        raise ValueError(f"{what} must be at most {limit} Hz, got {rate}")
    return rate


def write_wav(path: PathLike, samples: Any, sample_rate: int) -> None:
    """Write mono ``samples`` ([n] or [n, 1]) as a 16-bit PCM WAV file, atomically.

    Samples are clipped to [-1, 1] and scaled by 32768 (so +1 becomes 32767, the largest
    16-bit value), rounding to the nearest step: a 16-bit file read with :func:`read_wav` and
    written back is bit-identical.  Integer samples are taken as PCM and scaled as in
    :func:`to_mono`.  Samples must be real and finite, ``sample_rate`` a positive int; both
    are checked before anything is written.  The file appears complete or not at all
    (``seqcore._atomic``): on any error an existing file keeps its old contents.
    """
    _path_name(path, "write_wav")
    what = "write_wav: samples"
    x = _as_float64(samples, what)
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
        raise ValueError(f"{what}: expected mono samples of shape [n] or [n, 1], got shape {x.shape}")
    rate = _check_rate(sample_rate, "write_wav: sample_rate", _MAX_WAV_RATE)
    pcm = np.clip(np.rint(x.reshape(-1) * 32768.0), -32768, 32767).astype("<i2")
    with atomic_open(path, "wb") as fh:
        _wavfile().write(fh, rate, pcm)


# ---------------------------------------------------------------- resampling and loading


def resample(samples: Any, orig_rate: int, target_rate: int) -> np.ndarray:
    """``samples`` ([n] or [n, channels]) resampled from ``orig_rate`` to ``target_rate`` Hz, as float32.

    Uses ``scipy.signal.resample_poly`` with ``up / down = target_rate / orig_rate`` reduced by
    their gcd (16 kHz -> 44.1 kHz is 441/160): a polyphase FIR low-pass with a Kaiser window
    (beta 5, scipy's default), zero phase, so the output is aligned with the input and has
    ``ceil(n * up / down)`` samples.  Equal rates return a float32 copy.  Computed in float64.
    Rates must be positive ints; a pair whose ratio does not reduce below 2**20 (e.g. 999999
    and 1000000 Hz) is refused, since its filter alone would take seconds to design.
    """
    what = "resample: samples"
    x = _as_float64(samples, what)
    _check_layout(x, what)
    src = positive_int("resample: orig_rate", orig_rate)
    dst = positive_int("resample: target_rate", target_rate)
    if src == dst:
        return _to_float32(x, what)  # x is already a private float64 copy, so this is a new array
    g = math.gcd(src, dst)
    up, down = dst // g, src // g
    if max(up, down) > _MAX_RESAMPLE_FACTOR:
        raise ValueError(
            f"resample: {src} Hz -> {dst} Hz reduces to up/down = {up}/{down}, beyond the supported "
            f"{_MAX_RESAMPLE_FACTOR}; round one of the rates (e.g. to a multiple of 100 Hz)"
        )
    n_out = -(-x.shape[0] * up // down)
    if n_out > _MAX_RESAMPLED_LENGTH:
        raise ValueError(f"resample: {x.shape[0]} samples at {src} Hz -> {dst} Hz would give {n_out} samples; too many")
    from scipy.signal import resample_poly  # here, not at import: scipy.signal takes about a second to load

    return _to_float32(resample_poly(x, up, down, axis=0), what)


def load_clip(source: Any, sample_rate: int | None = None) -> np.ndarray:
    """Audio from a WAV file or an array as mono float32 [n] at ``SAMPLE_RATE`` (44.1 kHz).

    ``source`` is a path (``sample_rate`` must then be None: the file's own rate is used) or
    samples [n] or [n, channels] (``sample_rate``, their rate in Hz, is then required).  The
    channels are averaged (:func:`to_mono`), and the result resampled with :func:`resample`.
    Every detector and command-line entry reads audio through this function.
    """
    if isinstance(source, (str, bytes, os.PathLike)):
        if sample_rate is not None:
            raise ValueError(
                f"load_clip: sample_rate must be None when source is a file path (the file's own rate is used), "
                f"got {sample_rate!r}"
            )
        mono, rate = read_wav(source)
        return resample(mono, rate, SAMPLE_RATE)
    if sample_rate is None:
        raise ValueError("load_clip: sample_rate (Hz) is required when source is an array of samples")
    rate = positive_int("load_clip: sample_rate", sample_rate)
    mono = _mono64(source, "load_clip: source")
    return resample(mono, rate, SAMPLE_RATE)
