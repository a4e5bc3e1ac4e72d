"""Audio for trigger-word detection: WAV files, synthesised speech and backgrounds, training examples, features.

Lower than ``seqcore.models``: it uses only ``seqcore.kernels`` (the spectrogram) and third-party packages
(scipy for WAV files and resampling, espeak-ng through the ``espeakng-loader`` wheel for speech).
"""

from .backgrounds import BACKGROUND_KINDS, make_background, random_background
from .chime import CHIME_PEAK, CHIME_SECONDS, chime, overlay_chimes
from .constants import (
    CLIP_SAMPLES,
    CLIP_SECONDS,
    LABEL_STEPS,
    N_FREQ,
    NFFT,
    NOVERLAP,
    REFRACTORY_STEPS,
    SAMPLE_RATE,
    SPEC_FS,
    STEP_SECONDS,
    TX,
    TY,
)
from .features import LOG_POWER_MEAN, LOG_POWER_STD, POWER_FLOOR, features, features_batch
from .speech import SpeechUnavailable, VoiceStyle, english_voices, speech_available, synthesize, voice_variants
from .synthesis import (
    NEGATIVE_WORDS,
    RATES,
    Example,
    StyleSplits,
    TriggerData,
    label_start,
    make_dataset,
    random_example,
    speak,
    style_splits,
    synthesize_example,
)
from .wav import load_clip, read_wav, resample, to_mono, write_wav

__all__ = [
    "BACKGROUND_KINDS",
    "CHIME_PEAK",
    "CHIME_SECONDS",
    "CLIP_SAMPLES",
    "CLIP_SECONDS",
    "Example",
    "LABEL_STEPS",
    "NEGATIVE_WORDS",
    "NFFT",
    "NOVERLAP",
    "N_FREQ",
    "LOG_POWER_MEAN",
    "LOG_POWER_STD",
    "POWER_FLOOR",
    "RATES",
    "REFRACTORY_STEPS",
    "SAMPLE_RATE",
    "SPEC_FS",
    "STEP_SECONDS",
    "SpeechUnavailable",
    "StyleSplits",
    "TX",
    "TY",
    "TriggerData",
    "VoiceStyle",
    "chime",
    "english_voices",
    "features",
    "features_batch",
    "label_start",
    "load_clip",
    "make_background",
    "make_dataset",
    "overlay_chimes",
    "random_background",
    "random_example",
    "read_wav",
    "resample",
    "speak",
    "speech_available",
    "style_splits",
    "synthesize",
    "synthesize_example",
    "to_mono",
    "voice_variants",
    "write_wav",
]
