"""Speech from espeak-ng, driven through ctypes and synthesised to memory.

The library and its voice data come from the ``espeakng-loader`` wheel (a core dependency); where that is
missing, Debian's ``libespeak-ng1`` is used.  One engine per process: espeak-ng keeps global state, so calls are
serialised with a lock, and worker processes each start their own.

A voice is an accent (``en-us``, ``en-gb-scotland``, ...) plus a variant (``m3``, ``f2``, ``klatt``, ...), written
``"en-us+f2"`` as espeak-ng spells it.  A :class:`VoiceStyle` adds speed, pitch, pitch range and amplitude.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from dataclasses import dataclass

import numpy as np

from .constants import SAMPLE_RATE

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_EE_OK = 0

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class SpeechUnavailable(RuntimeError):
    """espeak-ng could not be loaded: neither the espeakng-loader wheel nor Debian's libespeak-ng is present."""


def _locate() -> tuple[str, str | None]:
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    found = ctypes.util.find_library("espeak-ng")
    if found is None:
        raise SpeechUnavailable(
            "espeak-ng was not found: install the espeakng-loader wheel (pip install espeakng-loader) "
            "or Debian's libespeak-ng1"
        )
    return found, None  # the library knows its own data directory


class _Engine:
    def __init__(self) -> None:
        library, data = _locate()
        self.lib = ctypes.CDLL(library)
        self.data_path = data
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode() if data else None, 0)
        if rate <= 0:
            raise SpeechUnavailable(f"espeak-ng failed to initialise (data directory {data!r})")
        self.rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept on self: ctypes must not free it while espeak holds it
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, n, _events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def voices(self) -> list[tuple[str, str]]:
        """(language, file name) of every voice the library lists; the file name is what selects it."""
        out = []
        listing = self.lib.espeak_ListVoices(None)
        i = 0
        while listing[i]:
            v = listing[i].contents
            # languages is a packed list: a priority byte, then a NUL-terminated name; the first is the main one
            lang = v.languages[1:].decode("utf-8", "replace") if v.languages else ""
            ident = (v.identifier or b"").decode("utf-8", "replace")
            out.append((lang, ident.rsplit("/", 1)[-1].lower()))
            i += 1
        return out

    def synthesize(
        self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, volume: int, seed: int | None = None
    ) -> np.ndarray:
        with self.lock:
            if seed is not None and hasattr(self.lib, "espeak_ng_SetRandSeed"):  # espeak-ng >= 1.52
                self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
            if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise ValueError(f"voice {voice!r} is not known to espeak-ng (see seqcore.audio.english_voices())")
            for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, volume)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            self._chunks = []
            encoded = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(encoded, len(encoded))
            status = self.lib.espeak_Synth(buf, len(encoded), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise RuntimeError(f"espeak-ng could not synthesise {text!r} (status {status})")
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0


_engine: _Engine | None = None
_engine_pid = -1
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine, _engine_pid
    with _engine_lock:
        if _engine is None or _engine_pid != os.getpid():
            _engine = _Engine()
            _engine_pid = os.getpid()
        return _engine


def speech_available() -> bool:
    """Whether espeak-ng can be loaded on this machine."""
    try:
        _get_engine()
    except (SpeechUnavailable, OSError):
        return False
    return True


# Shavian is an alphabet, not an accent: it reads Latin text like en-gb, so it would only duplicate that voice.
_NOT_ACCENTS = ("en-shaw",)


def english_voices() -> list[str]:
    """The English accents espeak-ng offers by voice file name, e.g. ``['en', 'en-029', 'en-gb-scotland', ...,
    'en-us-nyc']`` (``en`` is British English)."""
    names = {name for lang, name in _get_engine().voices() if lang == "en" or lang.startswith("en-")}
    return sorted(n for n in names if n not in _NOT_ACCENTS)


def voice_variants() -> list[str]:
    """The voice variants (``m1``..``m8``, ``f1``..``f5``, ``klatt``, ``whisper``, named voices, ...) found in the
    voice data's ``!v`` folder; the empty string is the accent's own default voice."""
    engine = _get_engine()
    folders = [engine.data_path] if engine.data_path else []
    folders += ["/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/share/espeak-ng-data", "/usr/lib/espeak-ng-data"]
    for folder in folders:
        path = os.path.join(folder, "voices", "!v")
        if os.path.isdir(path):
            return [""] + sorted(f for f in os.listdir(path) if not f.startswith("."))
    return [""]


@dataclass(frozen=True)
class VoiceStyle:
    """How a word is spoken: accent, variant, speed in words per minute (espeak's 80-450), pitch and pitch range
    (0-100, 50 is the voice's own), amplitude (0-200, 100 is normal)."""

    accent: str = "en-us"
    variant: str = ""
    rate: int = 175
    pitch: int = 50
    pitch_range: int = 50
    amplitude: int = 100

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}" if self.variant else self.accent

    def __post_init__(self) -> None:
        for name, low, high in (("rate", 80, 450), ("pitch", 0, 100), ("pitch_range", 0, 100), ("amplitude", 0, 200)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"VoiceStyle.{name} must be an int in [{low}, {high}], got {value!r}")


def trim_silence(samples: np.ndarray, threshold: float = 0.02, margin: int = 0) -> np.ndarray:
    """Drop the leading and trailing samples quieter than ``threshold`` x the peak (keeping ``margin`` samples),
    so a word's clip ends where the word does: its labels are placed from that end."""
    if samples.size == 0:
        return samples
    loud = np.flatnonzero(np.abs(samples) >= threshold * float(np.max(np.abs(samples))))
    if loud.size == 0:
        return samples[:0]
    start = max(int(loud[0]) - margin, 0)
    stop = min(int(loud[-1]) + 1 + margin, samples.size)
    return samples[start:stop]


def synthesize(
    text: str, style: VoiceStyle | None = None, *, sample_rate: int = SAMPLE_RATE, seed: int | None = None
) -> np.ndarray:
    """``text`` spoken in ``style``: float32 mono samples at ``sample_rate``, leading and trailing silence trimmed.

    espeak-ng renders at its own rate (22,050 Hz); the result is resampled with a polyphase filter
    (``scipy.signal.resample_poly``).  ``seed`` seeds espeak-ng's noise generator.  espeak-ng also carries a
    little state from one utterance to the next (its pitch flutter), so the same call gives the same samples
    only at the same point of a process's history: ``make_dataset`` runs each chunk of examples in a fresh
    process for that reason."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    style = VoiceStyle() if style is None else style
    if not isinstance(style, VoiceStyle):
        raise TypeError(f"style must be a VoiceStyle, got {type(style).__name__}")
    engine = _get_engine()
    raw = engine.synthesize(text, style.voice, style.rate, style.pitch, style.pitch_range, style.amplitude, seed)
    raw = trim_silence(raw, margin=int(0.005 * engine.rate))
    if raw.size == 0:
        return raw
    if sample_rate != engine.rate:
        from scipy.signal import resample_poly

        g = np.gcd(int(sample_rate), engine.rate)
        raw = resample_poly(raw, int(sample_rate) // g, engine.rate // g).astype(np.float32)
    return raw
