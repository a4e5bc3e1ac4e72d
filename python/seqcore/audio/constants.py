"""The course's fixed sizes for trigger-word detection, in one place."""

SAMPLE_RATE = 44100  # Hz, the course's clips
CLIP_SECONDS = 10
CLIP_SAMPLES = SAMPLE_RATE * CLIP_SECONDS  # 441000
# The course draws its spectrogram with matplotlib's specgram(NFFT=200, Fs=8000, noverlap=120) on the raw
# 44.1 kHz samples: Fs only labels the axes and scales the density, the frames are 200 samples long.
NFFT = 200
NOVERLAP = 120
SPEC_FS = 8000.0
TX = (CLIP_SAMPLES - NOVERLAP) // (NFFT - NOVERLAP)  # 5511 spectrogram frames
N_FREQ = NFFT // 2 + 1  # 101 bins
TY = 1375  # output steps of the detector (Conv1D kernel 15, stride 4 over TX)
LABEL_STEPS = 50  # ones right after each trigger word
REFRACTORY_STEPS = 75  # at most one chime per this many output steps
STEP_SECONDS = CLIP_SECONDS / TY
