"""Audio for trigger-word detection: speech synthesis, backgrounds, WAV files, features."""

from .constants import CLIP_SAMPLES, CLIP_SECONDS, N_FREQ, NFFT, NOVERLAP, SAMPLE_RATE, SPEC_FS, TX, TY

__all__ = ["CLIP_SAMPLES", "CLIP_SECONDS", "N_FREQ", "NFFT", "NOVERLAP", "SAMPLE_RATE", "SPEC_FS", "TX", "TY"]
