"""Benchmark engine: seqcore's recurrent kernels against each other and against PyTorch.

Importable, no command-line code (``seqcore bench`` in ``seqcore.cli.bench`` drives it)::

    from seqcore import bench
    rows = bench.run(bench.BenchConfig(cells=["lstm"], cases=bench.SMALL_CASES))
    print(bench.format_table(rows))

What is measured, per (cell, mode, case, peer):

- cells ``lstm``, ``gru`` (``reset_after=True``) and ``rnn``; float32 everywhere;
- modes ``forward`` (inference: the forward kernel only) and ``train`` (forward,
  then backprop through time of a random ``dy`` at every output);
- peers: the seqcore backends ``cpp``, ``numba``, ``reference`` (those that load;
  the others are skipped with the reason) and ``torch`` (``torch.nn.LSTM/GRU/RNN``,
  ``batch_first=True``, weights converted from seqcore's Keras layout) when
  ``import torch`` works.

Validation comes before timing: for every (cell, mode, case) each peer's outputs
(and gradients, in train mode) are compared against the reference backend run in
float64 on the same float32 inputs, with ``rtol`` (default 1e-4) relative to each
array's largest magnitude.  On large cases the check runs on the first few time
steps only (``validate_T``).  A peer that fails is reported as ``invalid`` and is
not timed.

Timing interleaves the peers in one process: after a warm-up, every round calls
each peer once (rotating the order), so slow drifts of a shared, noisy machine hit
all peers alike; the reported figure is the median over rounds.  The number of
rounds adapts to a time budget per (cell, mode, case) unless fixed.  The reference
backend is slow, so its rounds are capped (``reference_repeats``) and it can be
left out above a size (``skip_reference_above``).

Work is counted as GEMM FLOPs only: forward = 2*B*T*(D+H)*G*H with G = 4 (LSTM),
3 (GRU), 1 (RNN); train = 3 x forward.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from . import _backend, kernels

__all__ = [
    "CASES",
    "CELLS",
    "DEFAULT_PEAK_GFLOPS",
    "GATES",
    "MODES",
    "PEERS",
    "SMALL_CASES",
    "BenchConfig",
    "BenchError",
    "Case",
    "Problem",
    "Timings",
    "ValidationError",
    "cpu_info",
    "default_threads",
    "environment",
    "expected_outputs",
    "format_table",
    "gemm_flops",
    "keras_to_torch",
    "make_problem",
    "make_runner",
    "parse_cases",
    "parse_names",
    "peer_outputs",
    "peer_unavailable_reason",
    "plot_speedups",
    "require_matplotlib",
    "run",
    "save_json",
    "thread_scope",
    "time_interleaved",
    "validate_peer",
    "validation_T",
]

CELLS = ("lstm", "gru", "rnn")
MODES = ("forward", "train")
SEQCORE_PEERS = tuple(_backend.BACKENDS)  # cpp, numba, reference
PEERS = (*SEQCORE_PEERS, "torch")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
DEFAULT_PEAK_GFLOPS = 676.0
DEFAULT_RTOL = 1e-4
DTYPE = np.float32


class BenchError(ValueError):
    """A user mistake (bad case spec, unknown cell/mode/peer, missing optional tool): report it, no traceback."""


class ValidationError(RuntimeError):
    """A peer's outputs disagree with the reference."""


# ---------------------------------------------------------------- cases and work


class Case(NamedTuple):
    """Problem size: batch B, time steps T, input features D, hidden units H."""

    B: int
    T: int
    D: int
    H: int

    @property
    def label(self) -> str:
        return f"{self.B},{self.T},{self.D},{self.H}"


CASES = (Case(1, 100, 64, 128), Case(16, 30, 37, 50), Case(32, 100, 128, 256), Case(64, 50, 256, 512))
SMALL_CASES = CASES[:2]


def parse_cases(spec: str | Iterable[Case | Sequence[int]] | None) -> list[Case]:
    """``"small"``, ``"all"`` or ``"B,T,D,H;B,T,D,H"`` (or Case tuples) -> list of Case.  None means all."""
    if spec is None:
        return list(CASES)
    if not isinstance(spec, str):
        out = []
        for item in spec:
            values = tuple(item)
            if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
                raise BenchError(f"a case must be four positive integers (B, T, D, H), got {item!r}")
            out.append(Case(*(int(v) for v in values)))
        if not out:
            raise BenchError("no cases given")
        return out
    text = spec.strip().lower()
    if text == "small":
        return list(SMALL_CASES)
    if text == "all":
        return list(CASES)
    out = []
    for part in text.replace(" ", "").split(";"):
        if not part:
            continue
        fields = part.split(",")
        try:
            values = [int(f) for f in fields]
        except ValueError:
            values = []
        if len(values) != 4 or min(values) < 1:
            raise BenchError(
                f"bad case {part!r}: expected four positive integers B,T,D,H "
                f"(cases are 'small', 'all' or 'B,T,D,H;B,T,D,H', e.g. '16,30,37,50;1,100,64,128')"
            )
        out.append(Case(*values))
    if not out:
        raise BenchError(f"no cases in {spec!r}: use 'small', 'all' or 'B,T,D,H;B,T,D,H'")
    return out


def parse_names(spec: str | Iterable[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    """Comma-separated (or iterable) names checked against ``allowed``; None means all of them, in that order."""
    if spec is None:
        return list(allowed)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in allowed:
            raise BenchError(f"unknown {what} {name!r}; choose from {', '.join(allowed)}")
        if name not in out:
            out.append(name)
    if not out:
        raise BenchError(f"no {what} given; choose from {', '.join(allowed)}")
    return out


def gemm_flops(cell: str, mode: str, case: Case) -> float:
    """GEMM FLOPs of one call: forward 2*B*T*(D+H)*G*H, train 3 x forward."""
    B, T, D, H = case
    forward = 2.0 * B * T * (D + H) * GATES[cell] * H
    return forward if mode == "forward" else 3.0 * forward


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """Inputs of one benchmark: Keras-layout weights (``x @ W + h @ U + b``), float32 unless converted."""

    cell: str
    case: Case
    x: np.ndarray  # [B,T,D]
    h0: np.ndarray  # [B,H]
    c0: np.ndarray | None  # [B,H] (LSTM only)
    W: np.ndarray  # [D,G*H]
    U: np.ndarray  # [H,G*H]
    b: np.ndarray  # [G*H], GRU reset_after: [2,3H]
    dy: np.ndarray  # [B,T,H] gradient at the outputs (train mode)

    def truncated(self, T: int) -> Problem:
        """The same weights on the first T time steps."""
        if T >= self.case.T:
            return self
        x = np.ascontiguousarray(self.x[:, :T])
        dy = np.ascontiguousarray(self.dy[:, :T])
        return replace(self, case=self.case._replace(T=T), x=x, dy=dy)

    def astype(self, dtype: Any) -> Problem:
        def conv(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.ascontiguousarray(a, dtype=dtype)

        return replace(
            self,
            x=conv(self.x),
            h0=conv(self.h0),
            c0=conv(self.c0),
            W=conv(self.W),
            U=conv(self.U),
            b=conv(self.b),
            dy=conv(self.dy),
        )


def make_problem(cell: str, case: Case, seed: int = 0) -> Problem:
    """Deterministic float32 inputs: x, h0, c0 ~ U(-1, 1); weights ~ U(-1/sqrt(H), 1/sqrt(H)) as torch initialises."""
    if cell not in GATES:
        raise BenchError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
    B, T, D, H = case
    G = GATES[cell]
    rng = np.random.default_rng([seed, CELLS.index(cell), *case])
    k = 1.0 / math.sqrt(H)

    def uniform(shape: tuple[int, ...], bound: float) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape).astype(DTYPE)

    b_shape = (2, 3 * H) if cell == "gru" else (G * H,)
    return Problem(
        cell=cell,
        case=case,
        x=uniform((B, T, D), 1.0),
        h0=uniform((B, H), 1.0),
        c0=uniform((B, H), 1.0) if cell == "lstm" else None,
        W=uniform((D, G * H), k),
        U=uniform((H, G * H), k),
        b=uniform(b_shape, k),
        dy=rng.standard_normal((B, T, H)).astype(DTYPE),
    )


# ---------------------------------------------------------------- peers


def peer_unavailable_reason(peer: str) -> str | None:
    """None when ``peer`` can run here, else why not."""
    if peer == "torch":
        return _torch_reason()
    if peer not in SEQCORE_PEERS:
        raise BenchError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    return _backend_reason(peer)


def _backend_reason(name: str) -> str | None:
    """Why seqcore backend ``name`` cannot load (None if it can); a backend raising anything counts as unavailable."""
    try:
        if not _backend.available(name):
            return _backend.unavailable_reason(name) or f"seqcore backend {name!r} is unavailable"
        if not hasattr(_backend.load(name), "NAME"):  # e.g. an empty folder imported as a namespace package
            return f"seqcore backend {name!r} is incomplete: its module defines no NAME (not written yet?)"
        return None
    except Exception as exc:  # a half-written backend may raise anything on import
        return f"seqcore backend {name!r} failed to load: {type(exc).__name__}: {exc}"


@lru_cache(maxsize=1)
def _torch_reason() -> str | None:
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"import torch failed: {exc}"
    return None


def _seqcore_call(backend: str, p: Problem, mode: str) -> dict[str, np.ndarray]:
    """Run one seqcore backend through the public kernels; forward outputs, plus gradients in train mode."""
    with _backend.use_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if p.cell == "lstm":
            y, hT, cT, cache = kernels.lstm_forward(p.x, p.h0, p.c0, p.W, p.U, p.b)
            out = {"y": y, "hT": hT, "cT": cT}
            if mode == "train":
                dx, dh0, dc0, dW, dU, db = kernels.lstm_backward(cache, p.dy)
                out.update(dx=dx, dh0=dh0, dc0=dc0, dW=dW, dU=dU, db=db)
        elif p.cell == "gru":
            y, hT, cache = kernels.gru_forward(p.x, p.h0, p.W, p.U, p.b, reset_after=True)
            out = {"y": y, "hT": hT}
            if mode == "train":
                dx, dh0, dW, dU, db = kernels.gru_backward(cache, p.dy)
                out.update(dx=dx, dh0=dh0, dW=dW, dU=dU, db=db)
        else:
            y, hT, cache = kernels.rnn_forward(p.x, p.h0, p.W, p.U, p.b)
            out = {"y": y, "hT": hT}
            if mode == "train":
                dx, dh0, dW, dU, db = kernels.rnn_backward(cache, p.dy)
                out.update(dx=dx, dh0=dh0, dW=dW, dU=dU, db=db)
    return out


def _seqcore_runner(backend: str, p: Problem, mode: str) -> Callable[[], object]:
    _backend.load(backend)  # fail now, not inside the timed loop
    if p.cell == "lstm":
        x, h0, c0, W, U, b, dy = p.x, p.h0, p.c0, p.W, p.U, p.b, p.dy
        if mode == "forward":

            def run() -> object:
                with _backend.use_backend(backend):
                    return kernels.lstm_forward(x, h0, c0, W, U, b)

        else:

            def run() -> object:
                with _backend.use_backend(backend):
                    cache = kernels.lstm_forward(x, h0, c0, W, U, b)[3]
                    return kernels.lstm_backward(cache, dy)

    elif p.cell == "gru":
        x, h0, W, U, b, dy = p.x, p.h0, p.W, p.U, p.b, p.dy
        if mode == "forward":

            def run() -> object:
                with _backend.use_backend(backend):
                    return kernels.gru_forward(x, h0, W, U, b, reset_after=True)

        else:

            def run() -> object:
                with _backend.use_backend(backend):
                    cache = kernels.gru_forward(x, h0, W, U, b, reset_after=True)[2]
                    return kernels.gru_backward(cache, dy)

    else:
        x, h0, W, U, b, dy = p.x, p.h0, p.W, p.U, p.b, p.dy
        if mode == "forward":

            def run() -> object:
                with _backend.use_backend(backend):
                    return kernels.rnn_forward(x, h0, W, U, b)

        else:

            def run() -> object:
                with _backend.use_backend(backend):
                    cache = kernels.rnn_forward(x, h0, W, U, b)[2]
                    return kernels.rnn_backward(cache, dy)

    return run


# torch keeps GRU gates in the order r, z, n; Keras/seqcore in z, r, h.  Swapping the
# first two blocks converts either way (the permutation is its own inverse).
def _gate_index(cell: str, H: int) -> np.ndarray:
    idx = np.arange(GATES[cell] * H)
    if cell == "gru":
        idx = np.concatenate([idx[H : 2 * H], idx[:H], idx[2 * H :]])
    return idx


def keras_to_torch(cell: str, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """seqcore (Keras) weights -> torch (weight_ih, weight_hh, bias_ih, bias_hh).

    LSTM: gates i, f, g, o in both; weight_ih = W.T, weight_hh = U.T, bias_ih + bias_hh = b.
    GRU (reset_after): z, r, h -> r, z, n; bias_ih = b[0], bias_hh = b[1], reordered.
    RNN: weight_ih = W.T, weight_hh = U.T, bias_ih = b.
    """
    H = U.shape[0]
    idx = _gate_index(cell, H)
    w_ih = np.ascontiguousarray(W[:, idx].T)
    w_hh = np.ascontiguousarray(U[:, idx].T)
    if cell == "gru":
        b_ih, b_hh = b[0][idx].copy(), b[1][idx].copy()
    else:
        b_ih, b_hh = b.copy(), np.zeros_like(b)
    return w_ih, w_hh, b_ih, b_hh


def _torch_grads_to_keras(
    cell: str, g_wih: np.ndarray, g_whh: np.ndarray, g_bih: np.ndarray, g_bhh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    H = g_whh.shape[1]
    idx = _gate_index(cell, H)
    dW = np.ascontiguousarray(g_wih.T[:, idx])
    dU = np.ascontiguousarray(g_whh.T[:, idx])
    db = np.stack([g_bih[idx], g_bhh[idx]]) if cell == "gru" else g_bih.copy()
    return dW, dU, db


def _torch_module(p: Problem) -> Any:
    import torch

    D, H = p.case.D, p.case.H
    if p.cell == "lstm":
        module = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float32)
    elif p.cell == "gru":
        module = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float32)
    else:
        module = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True, dtype=torch.float32)
    w_ih, w_hh, b_ih, b_hh = keras_to_torch(p.cell, p.W, p.U, p.b)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(w_ih))
        module.weight_hh_l0.copy_(torch.from_numpy(w_hh))
        module.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        module.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    return module


class _TorchPeer:
    """A torch RNN module holding the problem's weights, with leaf input tensors for backprop."""

    def __init__(self, p: Problem, mode: str) -> None:
        import torch

        self.torch = torch
        self.cell = p.cell
        self.mode = mode
        self.module = _torch_module(p)
        self.params = [
            self.module.weight_ih_l0,
            self.module.weight_hh_l0,
            self.module.bias_ih_l0,
            self.module.bias_hh_l0,
        ]
        train = mode == "train"
        self.x = torch.from_numpy(p.x.copy()).requires_grad_(train)
        self.h0 = torch.from_numpy(p.h0[None].copy()).requires_grad_(train)
        self.c0 = torch.from_numpy(p.c0[None].copy()).requires_grad_(train) if p.c0 is not None else None
        self.hx = (self.h0, self.c0) if p.cell == "lstm" else self.h0
        self.dy = torch.from_numpy(p.dy.copy())
        self.leaves = [self.x, self.h0, *([self.c0] if self.c0 is not None else []), *self.params]

    def forward(self) -> tuple[Any, Any]:
        with self.torch.no_grad():
            return self.module(self.x, self.hx)

    def train(self) -> tuple[Any, Any]:
        for t in self.leaves:
            t.grad = None
        y, state = self.module(self.x, self.hx)
        y.backward(self.dy)
        return y, state

    def runner(self) -> Callable[[], object]:
        return self.forward if self.mode == "forward" else self.train

    def outputs(self) -> dict[str, np.ndarray]:
        y, state = self.runner()()
        hT, cT = state if self.cell == "lstm" else (state, None)
        out = {"y": y.detach().numpy().copy(), "hT": hT[0].detach().numpy().copy()}
        if cT is not None:
            out["cT"] = cT[0].detach().numpy().copy()
        if self.mode == "train":
            out["dx"] = self.x.grad.numpy().copy()
            out["dh0"] = self.h0.grad[0].numpy().copy()
            if self.c0 is not None:
                out["dc0"] = self.c0.grad[0].numpy().copy()
            grads = [q.grad.numpy() for q in self.params]
            out["dW"], out["dU"], out["db"] = _torch_grads_to_keras(self.cell, *grads)
        return out


def make_runner(peer: str, problem: Problem, mode: str) -> Callable[[], object]:
    """A no-argument callable running one call of ``peer`` (forward, or forward + backward) on ``problem``."""
    _check_mode(mode)
    if peer == "torch":
        return _TorchPeer(problem, mode).runner()
    if peer not in SEQCORE_PEERS:
        raise BenchError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    return _seqcore_runner(peer, problem, mode)


def peer_outputs(peer: str, problem: Problem, mode: str) -> dict[str, np.ndarray]:
    """Named outputs of one call (y, hT[, cT]; in train mode also dx, dh0[, dc0], dW, dU, db), Keras layout."""
    _check_mode(mode)
    if peer == "torch":
        return _TorchPeer(problem, mode).outputs()
    if peer not in SEQCORE_PEERS:
        raise BenchError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    return _seqcore_call(peer, problem, mode)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise BenchError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


# ---------------------------------------------------------------- validation


def validation_T(case: Case, cell: str, validate_T: int | None = None, full_gflop: float = 1.0) -> int:
    """Time steps validated: ``validate_T`` if given, else all of T unless the case is large (then 8)."""
    if validate_T is not None:
        return max(1, min(case.T, int(validate_T)))
    if gemm_flops(cell, "train", case) <= full_gflop * 1e9:
        return case.T
    return min(case.T, 8)


def expected_outputs(problem: Problem) -> dict[str, np.ndarray]:
    """Ground truth: the reference backend in float64 on the (float32) inputs, train mode (all outputs)."""
    return _seqcore_call("reference", problem.astype(np.float64), "train")


def _max_error(got: np.ndarray, want: np.ndarray) -> float:
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    scale = float(np.max(np.abs(want)))
    diff = np.abs(got - want)
    # |got - want| <= rtol * (|want| + max|want|): allclose with atol = rtol * max|want|
    with np.errstate(invalid="ignore", divide="ignore"):
        err = float(np.max(diff / (np.abs(want) + scale))) if scale > 0 else float(np.max(diff))
    return err if math.isfinite(err) else math.inf  # NaN or Inf outputs: a failure


def validate_peer(
    peer: str,
    problem: Problem,
    mode: str,
    expected: Mapping[str, np.ndarray] | None = None,
    rtol: float = DEFAULT_RTOL,
) -> float:
    """Check ``peer``'s outputs against ``expected`` (default: :func:`expected_outputs`).

    Returns the largest error over all outputs, relative to each array's largest
    magnitude; raises ValidationError naming the worst output when it exceeds rtol
    (NaN/Inf count as an infinite error).
    """
    if expected is None:
        expected = expected_outputs(problem)
    got = peer_outputs(peer, problem, mode)
    worst, worst_name = 0.0, ""
    for name, value in got.items():
        if name not in expected:
            continue
        err = _max_error(value, expected[name])
        if err > worst or not worst_name:
            worst, worst_name = err, name
    if worst > rtol:
        B, T, D, H = problem.case
        raise ValidationError(
            f"{peer} {problem.cell} {mode} B,T,D,H={B},{T},{D},{H}: output {worst_name!r} differs from the "
            f"float64 reference by {worst:.3g} (relative to its largest magnitude; rtol {rtol:g})"
        )
    return worst


# ---------------------------------------------------------------- timing


class Timings(NamedTuple):
    """What :func:`time_interleaved` measured."""

    seconds: dict[str, list[float]]  # per runner: one sample (seconds per call) per round it ran in
    number: dict[str, int]  # per runner: back-to-back calls averaged into one sample


def time_interleaved(
    runners: Mapping[str, Callable[[], object]],
    *,
    budget_s: float = 2.0,
    repeats: int | None = None,
    min_repeats: int = 5,
    max_repeats: int = 200,
    warmup: int = 2,
    caps: Mapping[str, int] | None = None,
    min_sample_s: float = 1e-3,
    settle_s: float = 0.0,
) -> Timings:
    """Seconds per call of each runner, sampled round-robin.

    After ``warmup`` untimed calls each, every round times each runner once,
    rotating the order so no runner always follows the same one.  A sample is the
    mean over ``number`` back-to-back calls, ``number`` chosen from the fastest
    warm-up call so a sample lasts at least ``min_sample_s`` (steadier on tiny
    cases).  ``repeats`` fixes the number of rounds; otherwise rounds continue
    until ``budget_s`` has passed, within [min_repeats, max_repeats].  ``caps``
    limits some runners (the slow reference) to fewer rounds.  Returns the samples
    (seconds per call) and the calls per sample of each runner.

    ``settle_s``: before each runner's turn, pause this long and make one untimed
    call.  Peers bring their own thread pools (PyTorch's OpenMP, NumPy's OpenBLAS
    behind numba and the reference, seqcore's OpenBLAS), whose idle workers spin
    for up to ~0.1 s after a call; on a 2-core machine the next peer's turn would
    otherwise run against them and pay for its predecessor.
    """
    names = list(runners)
    caps = dict(caps or {})
    fastest: dict[str, float] = {}
    for name in names:
        fn = runners[name]
        for _ in range(max(1, warmup)):
            t0 = time.perf_counter()
            fn()
            elapsed = max(time.perf_counter() - t0, 1e-7)
            fastest[name] = min(fastest.get(name, elapsed), elapsed)
    number = {n: max(1, min(10_000, int(min_sample_s / fastest[n]))) for n in names}
    limit = max(1, int(repeats)) if repeats is not None else max(min_repeats, max_repeats)
    floor = limit if repeats is not None else min_repeats
    samples: dict[str, list[float]] = {n: [] for n in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    try:
        for r in range(limit):
            if r >= floor and time.perf_counter() - start >= budget_s:
                break
            k = r % len(names) if names else 0
            for name in names[k:] + names[:k]:
                if len(samples[name]) >= caps.get(name, limit):
                    continue
                fn, n = runners[name], number[name]
                if settle_s > 0:
                    time.sleep(settle_s)
                    fn()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - t0) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timings(samples, number)


def default_threads() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def thread_scope(threads: int, torch_too: bool = True) -> Iterator[int]:
    """Run the block with ``threads`` threads in seqcore's cpp/numba backends, torch and (if threadpoolctl is
    installed) NumPy's BLAS; restore the previous counts afterwards.  Yields the count in effect."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise BenchError(f"threads must be a positive integer, got {threads!r}")
    threads = min(threads, os.cpu_count() or threads)
    with contextlib.ExitStack() as stack:
        for name in ("cpp", "numba"):
            if _backend_reason(name) is None:
                module = _backend.load(name)
                getter = getattr(module, "get_num_threads", None)
                setter = getattr(module, "set_num_threads", None)
                if getter is not None and setter is not None:
                    try:
                        previous = getter()
                        setter(threads)
                    except Exception as exc:  # a half-written backend must not stop the others
                        warnings.warn(f"could not set {name} threads: {exc}", RuntimeWarning, stacklevel=3)
                    else:
                        stack.callback(setter, previous)
        if torch_too and _torch_reason() is None:
            import torch

            previous_torch = torch.get_num_threads()
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, previous_torch)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            stack.enter_context(threadpool_limits(limits=threads))
        yield threads


# ---------------------------------------------------------------- the run


@dataclass
class BenchConfig:
    """What to run and how.  Name lists accept strings ('lstm,gru') or sequences; None = everything."""

    cells: Sequence[str] | str | None = None
    modes: Sequence[str] | str | None = None
    cases: Sequence[Case] | str | None = None
    peers: Sequence[str] | str | None = None
    threads: int | None = None  # None: every CPU this process may use
    repeats: int | None = None  # fixed rounds; None: fit to budget_s
    budget_s: float = 2.0  # timing budget per (cell, mode, case)
    min_repeats: int = 5
    max_repeats: int = 200
    warmup: int = 2
    reference_repeats: int = 3  # at most this many rounds for the (slow) reference backend
    reference_full_gflop: float = 1.0  # ... on cases needing more GFLOP per call than this
    skip_reference_above: float | None = None  # GFLOP per call above which the reference is not timed at all
    validate_T: int | None = None  # time steps validated; None: all, but 8 on large cases
    validate_full_gflop: float = 1.0
    rtol: float = DEFAULT_RTOL
    peak_gflops: float = DEFAULT_PEAK_GFLOPS
    seed: int = 0
    min_sample_s: float = 1e-3  # a timed sample averages enough calls to last this long
    settle_s: float = 0.15  # pause + one untimed call before each peer's turn (idle thread pools go quiet)

    @classmethod
    def quick(cls, **overrides: Any) -> BenchConfig:
        """A fast smoke run: the small cases, short budget, few rounds."""
        settings: dict[str, Any] = {
            "cases": SMALL_CASES,
            "budget_s": 0.3,
            "min_repeats": 3,
            "max_repeats": 30,
            "warmup": 1,
        }
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)

    def resolved(self) -> BenchConfig:
        """A copy with names and cases parsed and checked (raises BenchError)."""
        for name in ("budget_s", "peak_gflops", "rtol", "min_sample_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise BenchError(f"{name} must be a positive number, got {value!r}")
        for name in ("repeats", "threads", "validate_T"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BenchError(f"{name} must be a positive integer, got {value!r}")
        for name in ("min_repeats", "max_repeats", "reference_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchError(f"{name} must be a positive integer, got {value!r}")
        if self.warmup < 0:
            raise BenchError(f"warmup must be >= 0, got {self.warmup!r}")
        return replace(
            self,
            cells=parse_names(self.cells, CELLS, "cell"),
            modes=parse_names(self.modes, MODES, "mode"),
            cases=parse_cases(self.cases),
            peers=parse_names(self.peers, PEERS, "backend"),
            threads=self.threads or default_threads(),
            max_repeats=max(self.max_repeats, self.min_repeats),
        )


def _row(cell: str, mode: str, case: Case, peer: str, threads: int, status: str, note: str = "") -> dict[str, Any]:
    return {
        "cell": cell,
        "mode": mode,
        "case": case.label,
        "B": case.B,
        "T": case.T,
        "D": case.D,
        "H": case.H,
        "peer": peer,
        "status": status,  # ok | skipped | invalid | error
        "note": note,
        "threads": threads,
        "dtype": "float32",
        "gflop": gemm_flops(cell, mode, case) / 1e9,
        "median_ms": None,
        "min_ms": None,
        "p25_ms": None,
        "p75_ms": None,
        "repeats": 0,
        "number": 0,
        "gflops": None,
        "peak_fraction": None,
        "speedup_vs_torch": None,
        "speedup_vs_reference": None,
        "validation_error": None,
        "validation_T": None,
        "load_1m": None,  # 1-minute load average of the machine when this group was timed
    }


def run(config: BenchConfig | None = None, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Validate, then time every (cell, mode, case, peer); one dict row each (see the module docstring).

    Rows of peers that cannot run have ``status`` 'skipped' and the reason in ``note``;
    peers whose outputs disagree with the reference are 'invalid' and not timed.
    """
    cfg = (config or BenchConfig()).resolved()
    say = progress or (lambda message: None)
    peers: list[str] = list(cfg.peers)  # type: ignore[arg-type]
    reasons = {peer: peer_unavailable_reason(peer) for peer in peers}
    runnable = [p for p in peers if reasons[p] is None]
    if not runnable:
        detail = "; ".join(f"{p}: {reasons[p]}" for p in peers)
        raise BenchError(f"none of the requested peers can run here ({detail})")
    rows: list[dict[str, Any]] = []
    with thread_scope(int(cfg.threads), torch_too="torch" in runnable) as threads, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # backend fallback notices
        for cell in cfg.cells:  # type: ignore[union-attr]
            for case in cfg.cases:  # type: ignore[union-attr]
                problem = make_problem(cell, case, cfg.seed)
                vT = validation_T(case, cell, cfg.validate_T, cfg.validate_full_gflop)
                vproblem = problem.truncated(vT)
                say(f"{cell} B,T,D,H={case.label}: computing the float64 reference (T={vT})")
                expected = expected_outputs(vproblem)
                for mode in cfg.modes:  # type: ignore[union-attr]
                    rows.extend(
                        _bench_group(cfg, cell, mode, case, problem, vproblem, expected, peers, reasons, threads, say)
                    )
    return rows


def _bench_group(
    cfg: BenchConfig,
    cell: str,
    mode: str,
    case: Case,
    problem: Problem,
    vproblem: Problem,
    expected: Mapping[str, np.ndarray],
    peers: Sequence[str],
    reasons: Mapping[str, str | None],
    threads: int,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    group = {p: _row(cell, mode, case, p, threads, "ok") for p in peers}
    flops = gemm_flops(cell, mode, case)
    runners: dict[str, Callable[[], object]] = {}
    for peer in peers:
        row = group[peer]
        if reasons[peer] is not None:
            row.update(status="skipped", note=str(reasons[peer]))
            continue
        if peer == "reference" and cfg.skip_reference_above is not None and flops > cfg.skip_reference_above * 1e9:
            row.update(
                status="skipped",
                note=f"reference not timed above {cfg.skip_reference_above:g} GFLOP per call "
                f"(this case: {flops / 1e9:.3g}); see --skip-reference-above",
            )
            continue
        say(f"{cell} {mode} B,T,D,H={case.label}: validating {peer}")
        try:
            row["validation_error"] = validate_peer(peer, vproblem, mode, expected, cfg.rtol)
            row["validation_T"] = vproblem.case.T
            runners[peer] = make_runner(peer, problem, mode)
        except ValidationError as exc:
            row.update(status="invalid", note=str(exc))
        except Exception as exc:  # a crashing backend must not take the other peers down
            row.update(status="error", note=f"{peer} raised {type(exc).__name__}: {exc}")
    if not runners:
        return list(group.values())
    caps = {}
    if "reference" in runners and flops > cfg.reference_full_gflop * 1e9:
        caps["reference"] = cfg.reference_repeats
    say(f"{cell} {mode} B,T,D,H={case.label}: timing {', '.join(runners)}")
    load = _load_average()
    try:
        timings = time_interleaved(
            runners,
            budget_s=cfg.budget_s,
            repeats=cfg.repeats,
            min_repeats=cfg.min_repeats,
            max_repeats=cfg.max_repeats,
            warmup=cfg.warmup,
            caps=caps,
            min_sample_s=cfg.min_sample_s,
            settle_s=cfg.settle_s,
        )
    except Exception as exc:
        for peer in runners:
            group[peer].update(status="error", note=f"timing failed: {type(exc).__name__}: {exc}")
        return list(group.values())
    for peer, times in timings.seconds.items():
        ms = np.asarray(times) * 1e3
        median = float(np.median(ms))
        row = group[peer]
        row.update(
            median_ms=median,
            min_ms=float(ms.min()),
            p25_ms=float(np.percentile(ms, 25)),
            p75_ms=float(np.percentile(ms, 75)),
            repeats=len(times),
            number=timings.number[peer],
            load_1m=load,
            gflops=flops / (median * 1e-3) / 1e9,
        )
        row["peak_fraction"] = row["gflops"] / cfg.peak_gflops
        if peer in caps:
            row["note"] = f"reference capped at {caps[peer]} rounds (slow)"
    for base, key in (("torch", "speedup_vs_torch"), ("reference", "speedup_vs_reference")):
        base_ms = group.get(base, {}).get("median_ms")
        if base_ms:
            for row in group.values():
                if row["median_ms"]:
                    row[key] = base_ms / row["median_ms"]
    return list(group.values())


# ---------------------------------------------------------------- reporting


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on Windows
        return None


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def format_table(rows: Sequence[Mapping[str, Any]], peak_gflops: float | None = None) -> str:
    """Plain-text table of the timed rows, grouped by (cell, mode, case), then notes on skipped/invalid peers."""
    headers = [
        "cell",
        "mode",
        "B,T,D,H",
        "peer",
        "median ms",
        "spread",
        "vs torch",
        "vs ref",
        "GFLOP/s",
        "% peak",
        "reps",
        "max err",
    ]
    table: list[list[str] | None] = []
    last_group = None
    for r in rows:
        if r.get("status") != "ok" or r.get("median_ms") is None:
            continue
        key = (r["cell"], r["mode"], r["case"])
        if last_group is not None and key != last_group:
            table.append(None)
        last_group = key
        med = r["median_ms"]
        spread = None
        if r.get("p25_ms") is not None and med and r.get("repeats", 0) >= 4:
            spread = 100.0 * (r["p75_ms"] - r["p25_ms"]) / med
        err = r.get("validation_error")
        err_text = "-" if err is None else f"{err:.1e}"
        if err is not None and r.get("validation_T") not in (None, r["T"]):
            err_text += f" (T={r['validation_T']})"
        table.append(
            [
                r["cell"],
                r["mode"],
                r["case"],
                r["peer"],
                _fmt(med, ".3f"),
                _fmt(spread, ".0f", "%"),
                _fmt(r.get("speedup_vs_torch"), ".2f", "x"),
                _fmt(r.get("speedup_vs_reference"), ".2f", "x"),
                _fmt(r.get("gflops"), ".2f"),
                _fmt(None if r.get("peak_fraction") is None else 100 * r["peak_fraction"], ".2f", "%"),
                str(r.get("repeats", "")),
                err_text,
            ]
        )
    widths = [len(h) for h in headers]
    for line in table:
        if line:
            widths = [max(w, len(c)) for w, c in zip(widths, line)]
    right = {4, 5, 6, 7, 8, 9, 10}

    def render(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    out = []
    threads = {r.get("threads") for r in rows if r.get("threads")}
    head = "seqcore bench: float32"
    if threads:
        head += f", threads={','.join(str(t) for t in sorted(threads))}"
    if peak_gflops:
        head += f", peak={peak_gflops:g} GFLOP/s"
    out.append(head + "; median ms over interleaved rounds, vs X = X's ms / this ms (>1: faster than X)")
    out.append(render(headers))
    out.append(render(["-" * w for w in widths]))
    for line in table:
        out.append("" if line is None else render(line))
    if not table:
        out.append("(nothing was timed)")
    loads = [r["load_1m"] for r in rows if r.get("load_1m") is not None]
    cpus = os.cpu_count() or 1
    if loads and max(loads) > 1.5 * cpus:
        out.append("")
        out.append(
            f"warning: the 1-minute load average reached {max(loads):.1f} on {cpus} CPUs while timing: other "
            "processes competed for the CPUs, so times are noisy (see spread); compare ratios, or rerun on a "
            "quiet machine or with fewer --threads"
        )
    notes = _notes(rows)
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out)


def _notes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Skipped / invalid / failed peers, one line per distinct (status, peer, reason)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        status = str(r.get("status"))
        if status in ("skipped", "invalid", "error"):
            groups.setdefault((status, r["peer"], str(r.get("note", ""))), []).append(
                f"{r['cell']}/{r['mode']}/{r['case']}"
            )
    out: list[str] = []
    for wanted, title in (
        ("skipped", "Skipped:"),
        ("invalid", "Failed validation (not timed):"),
        ("error", "Raised (not timed):"),
    ):
        lines = []
        for (status, peer, note), where in groups.items():
            if status != wanted:
                continue
            scope = "; ".join(where) if len(where) <= 3 else f"{len(where)} benchmarks"
            lines.append(f"  {peer} [{scope}]: {note}")
        if lines:
            out.append(title)
            out.extend(lines)
    return out


def environment() -> dict[str, Any]:
    """Versions, backends, threads, CPU and (when the extension loads) seqcore._core.build_info()."""
    import seqcore

    info: dict[str, Any] = {
        "seqcore": getattr(seqcore, "__version__", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numba": _dist_version("numba"),
        "torch": _dist_version("torch"),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            info["active_backend"] = _backend.get_backend()
            info["active_backend_error"] = None
        except Exception as exc:  # no loadable backend, a bad SEQCORE_BACKEND, a half-written backend
            info["active_backend"] = None
            info["active_backend_error"] = f"{type(exc).__name__}: {exc}"
    info["backend_warnings"] = [str(w.message) for w in caught]
    info["backends"] = {
        name: {"available": reason is None, "reason": reason, "notes": _kernel_notes(name) if reason is None else {}}
        for name, reason in ((name, _backend_reason(name)) for name in (*SEQCORE_PEERS, *_backend.DEVICE_BACKENDS))
    }
    info["cuda"] = cuda_info()
    try:
        info["threads"] = seqcore.get_num_threads()
    except Exception as exc:
        info["threads"] = None
        info["threads_error"] = f"{type(exc).__name__}: {exc}"
    info["cpu"] = cpu_info()
    try:
        core = importlib.import_module("seqcore._core")
    except Exception as exc:  # ImportError mostly; a broken build may raise others
        info["build_info"] = None
        info["build_info_error"] = f"seqcore._core is not importable: {exc}"
    else:
        try:
            build = core.build_info()
            info["build_info"] = {str(k): _jsonable(v) for k, v in dict(build).items()}
            info["build_info_error"] = None
        except Exception as exc:  # an old or partial extension
            info["build_info"] = None
            info["build_info_error"] = f"seqcore._core.build_info() failed: {type(exc).__name__}: {exc}"
    return info


def cuda_info() -> dict[str, Any]:
    """Whether seqcore._cuda was built (and how), whether the cuda backend runs here, and the devices it sees."""
    out: dict[str, Any] = {"built": importlib.util.find_spec("seqcore._cuda") is not None, "usable": False}
    if not out["built"]:
        out["reason"] = "seqcore was built without the CUDA backend (no CUDA compiler or cuBLAS at build time)"
        return out
    try:
        extension = importlib.import_module("seqcore._cuda")
        out["build_info"] = {str(k): _jsonable(v) for k, v in dict(extension.build_info()).items()}
    except Exception as exc:  # a missing libcublas, most likely; the backend's loader may still preload it
        out["build_info_error"] = f"{type(exc).__name__}: {exc}"
    out["reason"] = _backend_reason("cuda")
    out["usable"] = out["reason"] is None
    if out["usable"]:
        backend = _backend.load("cuda")
        import cupy  # noqa: PLC0415  (the backend loaded, so CuPy is there)

        out["cupy"] = cupy.__version__
        out["devices"] = [
            {str(k): _jsonable(v) for k, v in dict(backend.device_properties(i)).items()}
            for i in range(cupy.cuda.runtime.getDeviceCount())
        ]
    return out


def _kernel_notes(name: str) -> dict[str, str]:
    """{kernel: note} for the kernels backend ``name`` runs through another implementation (its KERNEL_NOTES)."""
    notes = getattr(_backend.load(name), "KERNEL_NOTES", None)
    return {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


_FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16")


def cpu_info() -> dict[str, Any]:
    """CPU model, logical CPUs and SIMD features (from /proc/cpuinfo on Linux; 'features' None elsewhere)."""
    info: dict[str, Any] = {
        "model": platform.processor() or platform.machine() or None,
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": default_threads(),
        "features": None,
        "features_source": None,
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return info
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and info["model"] in (None, "", platform.machine()):
            info["model"] = value.strip()
        elif key in ("flags", "features") and not flags:  # x86 'flags', arm 'Features'
            flags = set(value.split())
    if flags:
        info["features"] = {name: name in flags for name in _FEATURES}
        info["features_source"] = "/proc/cpuinfo"
    return info


def _atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], binary: bool) -> None:
    """Call ``write(fh)`` on a file that replaces ``path`` only once complete (see ``seqcore._atomic``)."""
    from ._atomic import atomic_open  # noqa: PLC0415  (kept local: only result files need it)

    with atomic_open(path, "wb" if binary else "w") as fh:
        write(fh)


def save_json(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], meta: Mapping[str, Any] | None = None
) -> None:
    """Write ``{"meta": ..., "rows": [...]}`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    doc = {"meta": dict(meta or {}), "rows": [dict(r) for r in rows]}

    def write(fh: Any) -> None:
        json.dump(doc, fh, indent=2, default=_json_default, allow_nan=True)
        fh.write("\n")

    _atomic_write(path, write, binary=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def require_matplotlib() -> Any:
    """Import matplotlib with the non-interactive Agg backend; BenchError if it is not installed."""
    try:
        import matplotlib
    except ImportError as exc:
        raise BenchError(f"drawing a PNG needs matplotlib (pip install matplotlib): {exc}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_speedups(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], baseline: str = "torch") -> None:
    """Bar chart of each peer's speed-up vs ``baseline`` (one panel per cell x mode, bars per case), saved as PNG."""
    key = f"speedup_vs_{baseline}"
    timed = [r for r in rows if r.get("status") == "ok" and r.get(key) is not None and r["peer"] != baseline]
    if not timed:
        raise BenchError(f"no speed-ups vs {baseline} to plot (was {baseline} among the peers and timed?)")
    plt = require_matplotlib()
    from matplotlib import ticker

    cells = [c for c in CELLS if any(r["cell"] == c for r in timed)]
    modes = [m for m in MODES if any(r["mode"] == m for r in timed)]
    peers = [p for p in PEERS if any(r["peer"] == p for r in timed)]
    colors = {"cpp": "tab:blue", "numba": "tab:orange", "reference": "tab:gray", "torch": "tab:red"}
    fig, axes = plt.subplots(
        len(cells), len(modes), figsize=(5.5 * len(modes), 3.2 * len(cells)), squeeze=False, constrained_layout=True
    )
    for i, cell in enumerate(cells):
        for j, mode in enumerate(modes):
            ax = axes[i][j]
            sub = [r for r in timed if r["cell"] == cell and r["mode"] == mode]
            cases = list(dict.fromkeys(r["case"] for r in sub))
            width = 0.8 / max(1, len(peers))
            for k, peer in enumerate(peers):
                values = {r["case"]: r[key] for r in sub if r["peer"] == peer}
                xs = [n + (k - (len(peers) - 1) / 2) * width for n in range(len(cases))]
                ys = [values.get(c, 0.0) for c in cases]
                bars = ax.bar(xs, ys, width, label=peer, color=colors.get(peer))
                for bar, value in zip(bars, ys):
                    if value:
                        ax.annotate(
                            f"{value:.0f}" if value >= 10 else f"{value:.2g}",
                            (bar.get_x() + bar.get_width() / 2, value),
                            ha="center",
                            va="bottom",
                            fontsize=7,
                        )
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}x"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_xticks(range(len(cases)))
            ax.set_xticklabels(cases, fontsize=8)
            ax.set_title(f"{cell} {mode}")
            ax.set_ylabel(f"speed-up vs {baseline}")
            ax.set_xlabel("B,T,D,H")
            if i == 0 and j == 0:
                ax.legend(fontsize=8)
    threads = sorted({r.get("threads") for r in timed if r.get("threads")})
    fig.suptitle(f"seqcore speed-up vs {baseline} (float32, threads={','.join(map(str, threads))}; >1 is faster)")

    def write(fh: Any) -> None:
        fig.savefig(fh, format="png", dpi=110)

    try:
        _atomic_write(path, write, binary=True)
    finally:
        plt.close(fig)
