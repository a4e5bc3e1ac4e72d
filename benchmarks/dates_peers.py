"""Peers and validation for the date-translation training-step benchmark (``test_dates.py``, ``dates_compare.py``).

The model is the course's attention model (``seqcore.models.DateTranslator``, 52,960 parameters):
one-hot chars [B, 30, 37] -> Bidirectional(LSTM(32)) -> for each of 10 output steps: attention
(RepeatVector, Concatenate, Dense(10, tanh), Dense(1, relu), softmax over time, Dot) -> LSTM(64) step ->
Dense(11, softmax); loss: categorical cross-entropy summed over the 10 outputs, mean over the batch.

Peers (one step = forward, loss, backward, Adam update on a batch of 100, the course's batch size):

- ``seqcore``: ``DateTranslator.model.train_on_batch`` -- the engine's functional graph and tape.
- ``torch``: the same network in PyTorch (``nn.LSTM(bidirectional=True)``, ``nn.LSTMCell``,
  ``nn.Linear``), ``F.cross_entropy`` on the logits, ``torch.optim.Adam``.  As in ``engine_peers``,
  the LSTM ``bias_hh`` tensors are frozen at zero (Keras has one bias) and torch's epsilon is Keras's
  ``1e-7`` rewritten for torch's formula (``1e-7 / sqrt(1 - beta_2)``), so both take the same step.

Validation (``check_step``): both start from the same weights (seqcore's initialisation converted with
``seqcore.interop.layouts``), take one step on the same batch, and must agree on the loss and on every
updated weight to ``RTOL`` (float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqcore.datasets.dates import date_pairs
from seqcore.interop import layouts
from seqcore.models import DateTranslator

BATCH, LR, BETA_2, KERAS_EPS = 100, 0.005, 0.999, 1e-7
TORCH_EPS = KERAS_EPS / math.sqrt(1.0 - BETA_2)
RTOL = 2e-4


@dataclass
class Batch:
    x: list[np.ndarray]  # [X, s0, c0] for the seqcore model
    y: list[np.ndarray]  # Ty one-hot rows [B, 11]
    labels: np.ndarray  # [B, Ty] ids


def batches(n: int, seed: int = 0) -> list[Batch]:
    """``n`` training batches of ``BATCH`` generated dates."""
    model = DateTranslator(seed=None)
    pairs = date_pairs(n * BATCH, seed=seed)
    out = []
    for k in range(n):
        chunk = pairs[k * BATCH : (k + 1) * BATCH]
        y = model.targets([m for _, m in chunk])
        out.append(Batch(model.inputs([h for h, _ in chunk]), y, np.stack([t.argmax(-1) for t in y], axis=1)))
    return out


def seqcore_model(seed: int = 0) -> DateTranslator:
    return DateTranslator(seed=seed, learning_rate=LR)


def seqcore_step(model: DateTranslator, batch: Batch) -> float:
    return float(model.model.train_on_batch(batch.x, batch.y))


def torch_model(model: DateTranslator) -> tuple[Any, Any]:
    """(module, optimizer): a torch copy of ``model``'s current weights."""
    import torch

    class TorchDates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.LSTM(37, 32, batch_first=True, bidirectional=True)
            self.dense_tanh = torch.nn.Linear(128, 10)
            self.dense_relu = torch.nn.Linear(10, 1)
            self.post = torch.nn.LSTMCell(64, 64)
            self.out = torch.nn.Linear(64, 11)

        def forward(self, x: Any) -> Any:
            a, _ = self.encoder(x)  # [B, Tx, 64]
            s = c = a.new_zeros(x.shape[0], 64)
            logits = []
            for _ in range(10):
                both = torch.cat([a, s[:, None, :].expand(-1, a.shape[1], -1)], dim=-1)
                energies = torch.relu(self.dense_relu(torch.tanh(self.dense_tanh(both))))
                alpha = torch.softmax(energies, dim=1)  # [B, Tx, 1]
                context = torch.bmm(alpha.transpose(1, 2), a)[:, 0]  # [B, 64]
                s, c = self.post(context, (s, c))
                logits.append(self.out(s))
            return torch.stack(logits, dim=1)  # [B, Ty, 11]

    net = TorchDates()
    layer = model.model.get_layer
    enc = layer("encoder")
    tensors: dict[str, np.ndarray] = {}
    for sub, suffix in ((enc.forward_layer, ""), (enc.backward_layer, "_reverse")):
        w_ih, w_hh, b_ih, b_hh = layouts.lstm_to_torch(*(v.data for v in sub.weights))
        tensors.update({f"encoder.weight_ih_l0{suffix}": w_ih, f"encoder.weight_hh_l0{suffix}": w_hh,
                        f"encoder.bias_ih_l0{suffix}": b_ih, f"encoder.bias_hh_l0{suffix}": b_hh})  # fmt: skip
    w_ih, w_hh, b_ih, b_hh = layouts.lstm_to_torch(*(v.data for v in layer("post_attention_lstm").weights))
    tensors.update({"post.weight_ih": w_ih, "post.weight_hh": w_hh, "post.bias_ih": b_ih, "post.bias_hh": b_hh})
    dense = (("attention_dense_tanh", "dense_tanh"), ("attention_dense_relu", "dense_relu"), ("output", "out"))
    for ours, theirs in dense:
        w, b = layouts.linear_to_torch(*(v.data for v in layer(ours).weights))
        tensors.update({f"{theirs}.weight": w, f"{theirs}.bias": b})
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()})
    trainable = []
    for name, p in net.named_parameters():
        if "bias_hh" in name:
            p.requires_grad_(False)  # Keras has one LSTM bias: a second trainable one would move twice as far
        else:
            trainable.append(p)
    opt = torch.optim.Adam(trainable, lr=LR, betas=(0.9, BETA_2), eps=TORCH_EPS)
    return net, opt


def torch_step(peer: tuple[Any, Any], batch: Batch) -> float:
    import torch
    import torch.nn.functional as F

    net, opt = peer
    x = torch.from_numpy(batch.x[0])
    y = torch.from_numpy(batch.labels)
    opt.zero_grad()
    logits = net(x)
    loss = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1), reduction="sum") / x.shape[0]
    loss.backward()
    opt.step()
    return float(loss.item())


def _close(name: str, got: np.ndarray, want: np.ndarray) -> None:
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    bound = RTOL * (float(np.max(np.abs(want))) + 1e-12)
    if err > bound:
        raise AssertionError(f"{name}: max |torch - seqcore| = {err:.3g} > {bound:.3g}")


def check_step(seed: int = 0) -> None:
    """Both peers from the same weights, one step on the same batch: same loss, same updated weights."""
    model = seqcore_model(seed)
    peer = torch_model(model)
    batch = batches(1, seed=seed + 1)[0]
    loss_ours, loss_theirs = seqcore_step(model, batch), torch_step(peer, batch)
    if abs(loss_ours - loss_theirs) > RTOL * abs(loss_ours):
        raise AssertionError(f"loss: seqcore {loss_ours} vs torch {loss_theirs}")
    after = torch_model(model)[0].state_dict()  # seqcore's updated weights in torch's layout
    for name, value in peer[0].state_dict().items():
        _close(name, value.numpy(), after[name].numpy())
