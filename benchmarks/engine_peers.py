"""Peers, validation and overhead probes for the training-step benchmark (``test_engine_step.py``).

The model (the issue's targets), the same in every peer::

    Embedding(10000, 50) -> LSTM(units, return_sequences=True) -> LSTM(units) -> Dense(5, softmax)
    sparse categorical cross-entropy, Adam(lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

Peers:

- ``cpp`` / ``numba``: a seqcore ``nn.Sequential`` on that backend; one step is
  ``model.train_on_batch(x, y)`` (forward, loss, backward, optimizer update).
- ``torch``: ``torch.nn.Embedding`` -> ``torch.nn.LSTM(batch_first=True)`` x2 (the second
  layer's final h) -> ``torch.nn.Linear``, ``F.cross_entropy`` on the logits,
  ``torch.optim.Adam``; one step is zero_grad, forward, loss, backward, ``opt.step()``,
  ``loss.item()``.  Two settings make it the *same* computation as Keras/seqcore
  (without them the first step's weights differ by up to ~1e-2 relative):

  * ``bias_hh_l0`` is frozen at zero.  Keras has one LSTM bias; torch has two that
    receive the same gradient, so with both trainable Adam moves their sum twice as far.
  * ``eps = 1e-7 / sqrt(1 - beta_2)``.  Keras adds epsilon to ``sqrt(v)`` and torch to
    ``sqrt(v / (1 - beta_2**t))``; this is Keras's epsilon written in torch's formula at
    step 1 (the step that is validated).  With ``eps=1e-7`` the elements whose gradient is
    below ~1e-5 get visibly different updates.  Neither setting changes the work timed.

Validation (``first_step_truth`` / ``validate``): every peer starts from the same initial
weights (a seqcore model's Keras initialisation, moved with ``seqcore.interop``), takes
one step on the same batch, and its loss and updated weights are compared with seqcore's
``reference`` backend run in float64 on the same inputs:
``|got - want| <= rtol * (|want| + max|want|)`` per array (the loss: relative), rtol 1e-4.

Engine overhead (``kernel_split``, ``profile_split``): how much of a seqcore step is spent
outside the native kernels (tape, layer dispatch, argument checks, optimizer bookkeeping).
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import math
import os
import pstats
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import seqcore
from seqcore import _backend, bench, interop, nn, optim

VOCAB, EMBED, CLASSES = 10000, 50, 5
LR, BETA_1, BETA_2, KERAS_EPS = 1e-3, 0.9, 0.999, 1e-7
TORCH_EPS = KERAS_EPS / math.sqrt(1.0 - BETA_2)
RTOL = 1e-4
PEERS = ("cpp", "numba", "torch")
SEQCORE_PEERS = ("cpp", "numba")
LAYER_NAMES = ("emb", "lstm1", "lstm2", "fc")  # also the torch module's attribute names


class StepCase(NamedTuple):
    """One training-step size: LSTM units, batch B, time steps T."""

    name: str
    units: int
    B: int
    T: int

    @property
    def label(self) -> str:
        return f"B={self.B},T={self.T},units={self.units}"


CASES = (StepCase("course", 128, 32, 10), StepCase("bigger", 256, 64, 100))


class ValidationError(AssertionError):
    """A peer's first step disagrees with the float64 reference."""


def peer_unavailable_reason(peer: str) -> str | None:
    """None when ``peer`` can run here, else why not."""
    return bench.peer_unavailable_reason(peer)


def make_batch(case: StepCase, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token ids x [B,T] and class ids y [B] (int64)."""
    rng = np.random.default_rng([seed, case.units, case.B, case.T])
    return rng.integers(0, VOCAB, (case.B, case.T)), rng.integers(0, CLASSES, (case.B,))


def seqcore_model(case: StepCase, dtype: str = "float32") -> nn.Sequential:
    """The compiled seqcore model (layers named ``LAYER_NAMES``)."""
    emb, l1, l2, fc = LAYER_NAMES
    model = nn.Sequential(
        [
            nn.Embedding(VOCAB, EMBED, name=emb, dtype=dtype),
            nn.LSTM(case.units, return_sequences=True, name=l1, dtype=dtype),
            nn.LSTM(case.units, name=l2, dtype=dtype),
            nn.Dense(CLASSES, activation="softmax", name=fc, dtype=dtype),
        ]
    )
    model.build((None, case.T))
    model.compile(
        optimizer=optim.Adam(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2, epsilon=KERAS_EPS),
        loss="sparse_categorical_crossentropy",
    )
    return model


def initial_weights(case: StepCase, seed: int = 0) -> dict[str, np.ndarray]:
    """Keras-initialised weights as a torch-layout state_dict of float32 NumPy arrays (LSTM bias_hh = 0)."""
    seqcore.set_seed(seed)
    return {k: np.asarray(v, dtype=np.float32) for k, v in interop.torch_state_dict(seqcore_model(case)).items()}


class SeqcorePeer:
    """A seqcore model on one backend; ``step()`` is ``model.train_on_batch(x, y)``."""

    def __init__(self, backend: str, case: StepCase, weights: Mapping[str, np.ndarray], dtype: str = "float32"):
        self.backend = backend
        self.module = _backend.load(backend)  # fails here, not in the timed loop
        self.model = seqcore_model(case, dtype)
        interop.load_torch_state_dict(self.model, weights)
        self.x, self.y = make_batch(case)

    def step(self) -> float:
        with _backend.use_backend(self.backend):
            return self.model.train_on_batch(self.x, self.y)

    def weights(self) -> dict[str, np.ndarray]:
        return dict(interop.torch_state_dict(self.model))


class TorchPeer:
    """The same model in PyTorch (CPU, float32); ``step()`` is one full optimizer step."""

    def __init__(self, case: StepCase, weights: Mapping[str, np.ndarray]):
        import torch
        import torch.nn.functional as F

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = torch.nn.Embedding(VOCAB, EMBED)
                self.lstm1 = torch.nn.LSTM(EMBED, case.units, batch_first=True)
                self.lstm2 = torch.nn.LSTM(case.units, case.units, batch_first=True)
                self.fc = torch.nn.Linear(case.units, CLASSES)

            def forward(self, ids: Any) -> Any:
                y, _ = self.lstm1(self.emb(ids))
                _, (h, _) = self.lstm2(y)
                return self.fc(h[-1])

        self.torch, self.F = torch, F
        self.net = Net()
        self.net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()})
        for lstm in (self.net.lstm1, self.net.lstm2):  # Keras has one bias: keep bias_hh at zero (module docs)
            lstm.bias_hh_l0.requires_grad_(False)
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(params, lr=LR, betas=(BETA_1, BETA_2), eps=TORCH_EPS)
        x, y = make_batch(case)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = self.F.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}


def make_peer(peer: str, case: StepCase, weights: Mapping[str, np.ndarray]) -> SeqcorePeer | TorchPeer:
    if peer == "torch":
        return TorchPeer(case, weights)
    if peer not in SEQCORE_PEERS:
        raise ValueError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    return SeqcorePeer(peer, case, weights)


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class Truth:
    """The first step in float64 (seqcore's reference backend) from ``weights``."""

    weights: dict[str, np.ndarray]  # initial weights, float32, torch layout
    loss: float
    updated: dict[str, np.ndarray]  # weights after the step, float64, torch layout


def first_step_truth(case: StepCase, seed: int = 0) -> Truth:
    weights = initial_weights(case, seed)
    ref = SeqcorePeer("reference", case, weights, dtype="float64")
    loss = ref.step()
    return Truth(weights, float(loss), ref.weights())


def _max_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / (|want| + max|want|): within rtol means allclose(atol = rtol * max|want|)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    diff = np.abs(got - want)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = float(np.max(diff / (np.abs(want) + scale))) if scale > 0 else float(np.max(diff, initial=0.0))
    return err if math.isfinite(err) else math.inf


def validate(peer: SeqcorePeer | TorchPeer, truth: Truth, rtol: float = RTOL) -> dict[str, float]:
    """Take the peer's first step and compare loss and updated weights with ``truth``.

    Returns {"loss_error", "weight_error", "worst_weight"}; raises ValidationError past rtol.
    Must be the peer's first step (its optimizer state is fresh).
    """
    loss = float(peer.step())
    loss_error = abs(loss - truth.loss) / max(abs(truth.loss), 1e-30)
    got = peer.weights()
    worst, worst_name = 0.0, ""
    for name, want in truth.updated.items():
        err = _max_error(got[name], want) if name in got else math.inf
        if err > worst or not worst_name:
            worst, worst_name = err, name
    name = f"seqcore {peer.backend}" if isinstance(peer, SeqcorePeer) else "torch"
    if not loss_error <= rtol:
        raise ValidationError(
            f"{name}: first-step loss {loss!r} differs from the float64 reference {truth.loss!r} "
            f"by {loss_error:.3g} relative (rtol {rtol:g})"
        )
    if not worst <= rtol:
        raise ValidationError(
            f"{name}: weight {worst_name!r} after the first step differs from the float64 reference by "
            f"{worst:.3g} (relative to its largest magnitude; rtol {rtol:g})"
        )
    return {"loss_error": loss_error, "weight_error": worst, "worst_weight": worst_name}


# ---------------------------------------------------------------- engine overhead

_NOT_KERNELS = {"NAME", "set_num_threads", "get_num_threads", "build_info"}


@contextlib.contextmanager
def _timed_kernels(module: types.ModuleType) -> Iterator[list[float]]:
    """Wrap every kernel of a backend module (what ``seqcore.kernels`` dispatches to) with a timer.

    Yields a one-item list holding the seconds spent inside them (outermost calls only);
    the module is restored on exit.
    """
    total, depth = [0.0], [0]

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return fn(*args, **kwargs)
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                total[0] += time.perf_counter() - t0
                depth[0] -= 1

        return timed

    originals = {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and name not in _NOT_KERNELS
        and isinstance(obj, (types.FunctionType, types.BuiltinFunctionType))
    }
    for name, fn in originals.items():
        setattr(module, name, wrap(fn))
    try:
        yield total
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def kernel_split(peer: SeqcorePeer, steps: int) -> dict[str, float]:
    """Time ``steps`` steps with the backend's kernels timed separately (no profiler).

    overhead = step wall time - time inside the backend's kernel functions (``seqcore._core``
    behind thin adapters for cpp; the jitted functions for numba).  Everything else in
    the step counts as engine overhead: tape, layer calls, argument checks in
    ``seqcore.kernels``, loss and optimizer bookkeeping, and the few NumPy operations the
    engine does itself (the 5-unit Dense layer's matmul among them).  Medians over steps.
    """
    walls, kerns = [], []
    with _timed_kernels(peer.module) as inside:
        for _ in range(steps):
            before = inside[0]
            t0 = time.perf_counter()
            peer.step()
            walls.append(time.perf_counter() - t0)
            kerns.append(inside[0] - before)
    wall = float(np.median(walls))
    overhead = float(np.median(np.subtract(walls, kerns)))
    return {
        "step_ms": wall * 1e3,
        "kernel_ms": float(np.median(kerns)) * 1e3,
        "overhead_ms": overhead * 1e3,
        "overhead_fraction": overhead / wall if wall > 0 else math.nan,
        "steps": steps,
    }


def _where(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    parts = filename.replace(os.sep, "/").split("/")
    if "seqcore" in parts:
        filename = "/".join(parts[len(parts) - 1 - parts[::-1].index("seqcore") :])
    else:
        filename = parts[-1]
    return f"{filename}:{line}({func})"


def profile_split(peer: SeqcorePeer, steps: int, top: int = 5) -> dict[str, Any]:
    """cProfile over ``steps`` steps: the share of total time that is tottime of Python functions.

    Time inside C builtins (``seqcore._core``, NumPy methods and ufuncs, other builtins)
    counts as kernel time.  The profiler's per-call cost lands on Python functions, and C
    work started by operators (``a @ b``) or by calling a numba dispatcher is charged to
    the Python caller, so this is an upper bound; meaningful for the cpp peer.
    Returns {"fraction", "python_ms", "total_ms", "top": ["file:line(func) x ms/step", ...]}
    or {"fraction": None, "error": ...} when another profiler is active.
    """
    prof = cProfile.Profile()
    try:
        prof.enable()
    except ValueError as exc:  # another profiling tool is active
        return {"fraction": None, "error": str(exc)}
    try:
        for _ in range(steps):
            peer.step()
    finally:
        prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    python = {key: v[2] for key, v in stats.items() if key[0] != "~"}  # '~': built-in (C) functions
    py_total = sum(python.values())
    ranked = sorted(python.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {
        "fraction": py_total / total if total > 0 else math.nan,
        "python_ms": py_total / steps * 1e3,
        "total_ms": total / steps * 1e3,
        "top": [f"{_where(key)} {tt / steps * 1e3:.3f} ms/step" for key, tt in ranked],
    }
