"""Peers and validation for the trigger-word inference benchmark (``test_trigger_inference.py``,
``trigger_compare.py``).

The model is the course's detector (``seqcore.models.TriggerWordDetector``, 523,329 parameters):
spectrogram frames [1, 5511, 101] -> Conv1D(196, 15, strides=4) -> BatchNorm -> ReLU -> GRU(128) ->
BatchNorm -> GRU(128) -> BatchNorm -> TimeDistributed(Dense(1, sigmoid)) -> [1, 1375] (dropout is
the identity at inference).  One call = one 10 s clip, batch 1, float32.

Workloads:

- ``features``: the network on features [1, 5511, 101].  seqcore: ``predict_proba``; torch: the same
  network in PyTorch (``nn.Conv1d``, ``nn.BatchNorm1d`` in eval mode with Keras's epsilon 1e-3,
  ``nn.GRU(batch_first=True)``, ``nn.Linear`` + sigmoid) under ``torch.inference_mode()``.
- ``samples``: end to end from 441,000 samples at 44.1 kHz.  seqcore: ``probabilities`` (load_clip,
  the spectrogram kernel, standardised log10, the network); torch: the same spectrogram with ``Tensor.unfold``,
  the periodic Hann window and ``torch.fft.rfft`` (scipy's one-sided PSD density, Fs = 8000), log10,
  then the network.

Weights: seqcore's, converted with ``seqcore.interop.layouts`` (Conv1D [K,C,F] -> [F,C,K]; GRU gate
blocks from Keras z, r, h to torch r, z, n, ``bias_ih = b[0]``, ``bias_hh = b[1]``, both
``reset_after=True``; Dense kernel transposed).  ``validate`` runs both peers on the same clip and
requires their probabilities to agree within ``ATOL`` before anything is timed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqcore.audio.constants import CLIP_SAMPLES, NFFT, NOVERLAP, SAMPLE_RATE, SPEC_FS
from seqcore.audio.features import LOG_POWER_MEAN, LOG_POWER_STD, POWER_FLOOR, features
from seqcore.interop import layouts
from seqcore.models import TriggerWordDetector

ATOL = 1e-4


def clip(seed: int = 0) -> np.ndarray:
    """10 s of audio with some structure: noise, tones switching on and off, a chirp."""
    rng = np.random.default_rng(seed)
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    x = 0.02 * rng.standard_normal(CLIP_SAMPLES)
    x += 0.2 * np.sin(2 * np.pi * 440 * t) * ((t % 1.3) < 0.5)
    x += 0.1 * np.sin(2 * np.pi * (300 + 200 * t) * t)
    return x.astype(np.float32)


def seqcore_model(seed: int = 0) -> TriggerWordDetector:
    """The course's detector with random weights and non-trivial BatchNorm statistics."""
    model = TriggerWordDetector(seed=seed)
    rng = np.random.default_rng(seed)
    for w in model.model.weights:
        if "moving_mean" in w.name:
            w.data[...] = rng.normal(0.0, 0.5, w.data.shape)
        elif "moving_variance" in w.name:
            w.data[...] = rng.uniform(0.5, 2.0, w.data.shape)
    return model


def torch_model(model: TriggerWordDetector) -> Any:
    """The same network in PyTorch, in eval mode, holding ``model``'s weights."""
    import torch

    get = model.model.get_layer
    conv, gru_1, gru_2 = get("conv"), get("gru_1"), get("gru_2")
    filters, units, n_freq = conv.filters, gru_1.units, conv.kernel.shape[1]

    class TorchTrigger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(n_freq, filters, conv.kernel_size, stride=conv.strides)
            self.conv_norm = torch.nn.BatchNorm1d(filters, eps=get("conv_norm").epsilon)
            self.gru_1 = torch.nn.GRU(filters, units, batch_first=True)
            self.gru_1_norm = torch.nn.BatchNorm1d(units, eps=get("gru_1_norm").epsilon)
            self.gru_2 = torch.nn.GRU(units, units, batch_first=True)
            self.gru_2_norm = torch.nn.BatchNorm1d(units, eps=get("gru_2_norm").epsilon)
            self.output = torch.nn.Linear(units, 1)

        def forward(self, x: Any) -> Any:  # x [B, T, F] -> [B, steps]
            h = torch.relu(self.conv_norm(self.conv(x.transpose(1, 2))))  # [B, filters, steps]
            h, _ = self.gru_1(h.transpose(1, 2))
            h = self.gru_1_norm(h.transpose(1, 2))
            h, _ = self.gru_2(h.transpose(1, 2))
            h = self.gru_2_norm(h.transpose(1, 2)).transpose(1, 2)
            return torch.sigmoid(self.output(h))[..., 0]

    peer = TorchTrigger()
    state: dict[str, np.ndarray] = {}
    w, b = layouts.conv1d_to_torch(*conv.get_weights())
    state.update({"conv.weight": w, "conv.bias": b})
    for name in ("conv_norm", "gru_1_norm", "gru_2_norm"):
        leaves = ("weight", "bias", "running_mean", "running_var")
        state.update(
            {f"{name}.{leaf}": v for leaf, v in zip(leaves, layouts.batch_norm_to_torch(*get(name).get_weights()))}
        )
    for name, layer in (("gru_1", gru_1), ("gru_2", gru_2)):
        leaves = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        state.update({f"{name}.{leaf}": v for leaf, v in zip(leaves, layouts.gru_to_torch(*layer.get_weights()))})
    w, b = layouts.linear_to_torch(*get("output").layer.get_weights())
    state.update({"output.weight": w, "output.bias": b})
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    for name in ("conv_norm", "gru_1_norm", "gru_2_norm"):
        tensors[f"{name}.num_batches_tracked"] = torch.tensor(0)
    peer.load_state_dict(tensors, strict=True)
    return peer.eval()


def torch_forward(peer: Any, x: Any) -> Any:
    """Probabilities [B, steps] of features ``x`` [B, T, 101] (a torch tensor)."""
    return peer(x)


def torch_features(samples: Any) -> Any:
    """Standardised log10 of scipy's one-sided PSD density (Hann, nfft 200, overlap 120, Fs 8000) + the floor,
    [T, 101], as ``seqcore.audio.features`` computes it."""
    import torch

    window = torch.hann_window(NFFT, periodic=True, dtype=samples.dtype)
    frames = samples.unfold(0, NFFT, NFFT - NOVERLAP) * window  # [T, nfft]
    power = torch.fft.rfft(frames).abs().square() / (SPEC_FS * window.square().sum())
    power[:, 1:-1] *= 2.0  # one-sided: every bin but DC and (nfft even) Nyquist stands for two
    return (torch.log10(power + POWER_FLOOR) - LOG_POWER_MEAN) / LOG_POWER_STD


def torch_end_to_end(peer: Any, samples: Any) -> Any:
    """Probabilities [steps] of one clip's samples (a float32 torch tensor at 44.1 kHz)."""
    return peer(torch_features(samples)[None])[0]


def seqcore_features(model: TriggerWordDetector, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X, batch_size=1)


def seqcore_end_to_end(model: TriggerWordDetector, samples: np.ndarray) -> np.ndarray:
    return model.probabilities(samples, SAMPLE_RATE)[1]


def validate(model: TriggerWordDetector, peer: Any, samples: np.ndarray) -> dict[str, float]:
    """Largest |seqcore - torch| of the probabilities from features and from samples; AssertionError
    above ``ATOL`` (nothing is timed then)."""
    import torch

    X = features(samples)[None]
    with torch.inference_mode():
        theirs_f = torch_forward(peer, torch.from_numpy(X)).numpy()
        theirs_s = torch_end_to_end(peer, torch.from_numpy(samples)).numpy()
        theirs_x = torch_features(torch.from_numpy(samples)).numpy()
    errors = {
        "features": float(np.max(np.abs(seqcore_features(model, X) - theirs_f))),
        "samples": float(np.max(np.abs(seqcore_end_to_end(model, samples) - theirs_s))),
        "log power": float(np.max(np.abs(X[0] - theirs_x))),
    }
    bad = {k: v for k, v in errors.items() if k != "log power" and not v <= ATOL}
    if bad:
        raise AssertionError(f"seqcore and torch disagree beyond {ATOL}: {bad}")
    return errors
