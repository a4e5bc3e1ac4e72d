"""Side-by-side table on one GPU: seqcore's cuda backend (CuPy arrays) vs PyTorch on CUDA (cuDNN, SDPA), float32.

Cases (all float32, one device, every peer in the same process and run):

- LSTM and GRU (GRU with ``reset_after=True``), (B,T,D,H) = (64,100,256,512) and (256,50,512,1024): seqcore's
  ``kernels.lstm_forward(x, h0, c0, W, U, b)`` / ``lstm_backward(cache, dy)`` (``gru_forward`` / ``gru_backward``)
  on CuPy arrays (the dispatch runs the cuda backend for them) against ``torch.nn.LSTM(D, H, batch_first=True)`` /
  ``torch.nn.GRU`` on CUDA (cuDNN).  Torch gets seqcore's Keras-layout weights: ``weight_ih = W.T``,
  ``weight_hh = U.T``, LSTM ``bias_ih = b``, ``bias_hh = 0`` (gates i, f, g, o in both); GRU gate blocks reordered
  from Keras z, r, h to torch r, z, n, ``bias_ih = b[0]``, ``bias_hh = b[1]`` (torch's ``(1-z)*n + z*h`` is Keras's
  ``z*h + (1-z)*h~``).  Modes: ``forward`` (torch under ``no_grad`` in eval mode) and ``forward+backward``
  (a fixed random dy at every output: seqcore dx, dh0[, dc0], dW, dU, db; torch ``y.backward(dy)`` with x, h0[, c0]
  and the weights as leaves, grads reset to None between calls).
- Attention, (B,h,L,d) = (8,16,2048,64), causal: ``kernels.attention_forward(q, k, v, causal=True)`` then
  ``attention_backward(cache, dout)`` against ``torch.nn.functional.scaled_dot_product_attention(q, k, v,
  is_causal=True)`` + ``out.backward(dout)``; a ``forward`` and a ``forward+backward`` row.  Torch runs twice: with
  its own choice of SDPA backend (``auto``; which one it took is read from the profiler's op names and printed)
  and forced to ``EFFICIENT_ATTENTION`` (``torch.nn.attention.sdpa_kernel``), the fused kernel that takes float32
  (FlashAttention and cuDNN attention take only 16-bit floats).  Target of the issue: within 1.5x of SDPA,
  torch / seqcore >= 0.67 (checked on the strict ratio of the forward+backward rows).

Torch runs in two settings, both timed in the same rounds: ``strict`` (``torch.backends.cudnn.allow_tf32 = False``
and ``torch.backends.cuda.matmul.allow_tf32 = False``: full float32 arithmetic, like seqcore's cuBLAS calls, the
like-for-like comparison) and ``default`` (the flags as found at start-up; out of the box cuDNN may use TF32 tensor
cores, cuBLAS matmuls do not).  Each torch call sets its flags first (a few microseconds).

Inputs are shared without copies: CuPy arrays, handed to torch with ``torch.from_dlpack``; torch's results come back
for comparison with ``cupy.from_dlpack``.

Validation first: seqcore's outputs (y, hT[, cT]; attention's out) and gradients (dx, dh0[, dc0], dW, dU, db after
mapping torch's back to the Keras layout; dq, dk, dv) must equal torch strict's within 1e-4 relative to each
array's largest magnitude, max|got - want| / max|want|, or the case is reported invalid and not timed.  Torch
default's error is shown too (TF32 rounds to 10 mantissa bits, so it may be larger); it does not gate the timing.

Timing: CUDA events on the current stream (``cupy.cuda.Event`` for seqcore, ``torch.cuda.Event`` for torch; both
libraries use the device's legacy default stream unless told otherwise, and the device is synchronized before each
sample), after ``--warmup`` calls of every peer.  A sample is ``reps`` back-to-back calls (enough for about
``--sample-ms``; the same reps for every peer of a row) divided by reps; ``--rounds`` samples per peer, the peers
alternating with the order rotated each round; the table gives medians and torch time / seqcore time (above 1:
seqcore is faster).

Work counted (matrix products only): LSTM/GRU forward ``2*B*T*(D+H)*G*H`` FLOPs (G = 4 LSTM, 3 GRU; the
element-wise gate math is ignored), forward+backward 3x that; attention forward ``4*B*h*L*L*d`` (the two products
q k^T and P v), halved when causal, forward+backward 3.5x forward (the backward's five products, the recomputed
scores included, counted as 2.5x; FlashAttention's convention).  "% FP32 peak" is seqcore's TFLOP/s over the device's
FP32 peak without tensor cores, from NVIDIA's H100 Tensor Core GPU datasheet: H100 SXM 67 TFLOP/s FP32 and 495
TFLOP/s TF32 tensor (989 with sparsity, halved for dense); H100 PCIe 51 and 378; H200 (SXM) taken as H100 SXM (the
same GH100 chip; NVIDIA's H200 datasheet lists the same 67 / 989-with-sparsity).  Any other device prints "n/a"
unless ``--peak-fp32`` gives its FP32 peak in TFLOP/s.

    PYTHONPATH=python python benchmarks/cuda_compare.py [--rounds 20] [--warmup 3] [--modes forward,forward+backward]
        [--cases "lstm;gru:64,100,256,512;attention:8,16,2048,64"] [--device 0] [--peak-fp32 TFLOPS] [--json out.json]

Meant to finish well within two minutes on an H100 with the defaults (an estimate from the work counted above,
not yet measured).  Needs a GPU, seqcore built with its cuda backend (seqcore._cuda), CuPy and a CUDA build of
torch; elsewhere it prints why it cannot run and exits with status 1.  Exit status 1 also when a case fails
validation or a peer raises (listed under the table).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

RNN_SIZES = ((64, 100, 256, 512), (256, 50, 512, 1024))
ATTENTION_SIZES = ((8, 16, 2048, 64),)
KINDS = ("lstm", "gru", "attention")
MODES = ("forward", "forward+backward")
RTOL = 1e-4
ATTENTION_TARGET = 1 / 1.5  # torch / seqcore at or above this: seqcore within 1.5x of SDPA
GATES = {"lstm": 4, "gru": 3}

# (name test, FP32 TFLOP/s without tensor cores, TF32 tensor TFLOP/s dense), NVIDIA's H100 datasheet; first match wins.
PEAKS: tuple[tuple[Callable[[str], bool], str, float, float], ...] = (
    (lambda n: "H100" in n and "PCIE" in n, "H100 PCIe", 51.0, 378.0),
    (lambda n: "H100" in n and "NVL" not in n, "H100 SXM", 67.0, 495.0),
    (lambda n: "H200" in n and "NVL" not in n, "H200 (as H100 SXM)", 67.0, 495.0),
)


class Case(NamedTuple):
    """One problem: ``kind`` lstm / gru (sizes B,T,D,H) or attention (sizes B,h,L,d, causal)."""

    kind: str
    sizes: tuple[int, int, int, int]

    @property
    def label(self) -> str:
        return f"{self.kind} {','.join(map(str, self.sizes))}"

    @property
    def ident(self) -> str:
        return f"{self.kind}-{'x'.join(map(str, self.sizes))}"


def default_cases() -> list[Case]:
    cases = [Case(kind, sizes) for kind in ("lstm", "gru") for sizes in RNN_SIZES]
    return cases + [Case("attention", sizes) for sizes in ATTENTION_SIZES]


def parse_cases(text: str | None) -> list[Case]:
    """``"lstm;gru:64,100,256,512;attention"``: a kind alone takes its default sizes.  None or "all": every case."""
    if text is None or text.strip().lower() == "all":
        return default_cases()
    cases: list[Case] = []
    for part in text.replace(" ", "").lower().split(";"):
        if not part:
            continue
        kind, _, sizes = part.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} in --cases; use {', '.join(KINDS)} (optionally kind:B,T,D,H)")
        if not sizes:
            cases += [c for c in default_cases() if c.kind == kind]
            continue
        try:
            values = tuple(int(v) for v in sizes.split(","))
        except ValueError:
            values = ()
        if len(values) != 4 or min(values) < 1:
            what = "B,h,L,d" if kind == "attention" else "B,T,D,H"
            raise ValueError(f"bad case {part!r}: expected {kind}:{what} with four positive integers")
        cases.append(Case(kind, values))  # type: ignore[arg-type]
    if not cases:
        raise ValueError(f"no cases in {text!r}")
    return cases


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"--modes takes a comma-separated subset of {', '.join(MODES)}, got {text!r}")
    return list(dict.fromkeys(modes))


def forward_flops(case: Case) -> float:
    if case.kind == "attention":
        B, h, L, d = case.sizes
        return 4.0 * B * h * L * L * d / 2  # causal: half the score matrix
    B, T, D, H = case.sizes
    return 2.0 * B * T * (D + H) * GATES[case.kind] * H


def flops(case: Case, mode: str) -> float:
    """Matrix-product FLOPs of one call (see the module docstring for the counting)."""
    factor = 1.0 if mode == "forward" else (3.5 if case.kind == "attention" else 3.0)
    return factor * forward_flops(case)


def peak_tflops(device_name: str, override_fp32: float | None = None) -> dict[str, Any]:
    """{"label", "fp32", "tf32"} for ``device_name`` (TFLOP/s, None when unknown)."""
    if override_fp32 is not None:
        return {"label": "--peak-fp32", "fp32": override_fp32, "tf32": None}
    name = device_name.upper()
    for test, label, fp32, tf32 in PEAKS:
        if test(name):
            return {"label": label, "fp32": fp32, "tf32": tf32}
    return {"label": "unknown device", "fp32": None, "tf32": None}


# ---------------------------------------------------------------- availability and settings


def unavailable_reason() -> str | None:
    """None when this benchmark can run here, else why not (one sentence)."""
    import seqcore

    reasons = []
    if not seqcore.cuda_available():
        reasons.append(str(seqcore.unavailable_reason("cuda")))
    try:
        import torch
    except ImportError as exc:
        reasons.append(f"torch is not installed (the peer): {exc}")
    else:
        if not torch.cuda.is_available():
            reasons.append(f"torch {torch.__version__} sees no CUDA device (a CPU-only build, or no GPU)")
    return "; ".join(reasons) or None


TORCH_DEFAULTS: dict[str, bool] = {}


def remember_torch_defaults() -> dict[str, bool]:
    """torch's TF32 flags as found before this script changed anything: the ``default`` setting."""
    import torch

    if not TORCH_DEFAULTS:
        TORCH_DEFAULTS["cudnn.allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        TORCH_DEFAULTS["cuda.matmul.allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    return dict(TORCH_DEFAULTS)


def set_tf32(setting: str) -> None:
    """``strict``: TF32 off in cuDNN and cuBLAS; ``default``: torch's flags as they were at start-up."""
    import torch

    defaults = remember_torch_defaults()
    strict = setting == "strict"
    torch.backends.cudnn.allow_tf32 = False if strict else defaults["cudnn.allow_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = False if strict else defaults["cuda.matmul.allow_tf32"]


@contextlib.contextmanager
def tf32(setting: str) -> Iterator[None]:
    set_tf32(setting)
    try:
        yield
    finally:
        set_tf32("default")


# ---------------------------------------------------------------- peers


class Peer(NamedTuple):
    """One timed contender: ``run()`` queues one call on the GPU; ``framework`` picks the event type."""

    name: str
    run: Callable[[], object]
    framework: str  # "cupy" (seqcore) or "torch"


def _rel_error(got: Any, want: Any) -> float:
    """max|got - want| / max|want| on the device, in float64; NaN or a shape mismatch is inf."""
    import cupy as cp

    got = cp.asarray(got, dtype=cp.float64)
    want = cp.asarray(want, dtype=cp.float64)
    if got.shape != want.shape:
        return math.inf
    if want.size == 0:
        return 0.0
    scale = float(cp.abs(want).max())
    diff = float(cp.abs(got - want).max())
    err = diff / scale if scale > 0 else diff
    return err if math.isfinite(err) else math.inf


def _from_torch(t: Any) -> Any:
    import cupy as cp

    return cp.from_dlpack(t.detach())


def _gate_index(kind: str, H: int) -> np.ndarray:
    """Column order turning Keras gate blocks into torch's and back (GRU swaps z and r; LSTM keeps i, f, g, o)."""
    idx = np.arange(GATES[kind] * H)
    if kind == "gru":
        idx = np.concatenate([idx[H : 2 * H], idx[:H], idx[2 * H :]])
    return idx


@dataclass
class Validation:
    errors: dict[str, float]  # per array, seqcore vs torch strict
    errors_default: dict[str, float]  # per array, seqcore vs torch default

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=math.inf)

    @property
    def max_error_default(self) -> float:
        return max(self.errors_default.values(), default=math.inf)

    @property
    def valid(self) -> bool:
        return self.max_error <= RTOL


class RecurrentWorkload:
    """LSTM or GRU inputs on the device, shared by seqcore (CuPy) and a torch module on the same GPU (DLPack)."""

    def __init__(self, case: Case, seed: int = 0) -> None:
        import cupy as cp
        import torch

        from seqcore import bench

        self.case = case
        kind = case.kind
        B, T, D, H = case.sizes
        p = bench.make_problem(kind, bench.Case(B, T, D, H), seed)
        self.x, self.h0, self.W, self.U, self.b, self.dy = (cp.asarray(a) for a in (p.x, p.h0, p.W, p.U, p.b, p.dy))
        self.c0 = cp.asarray(p.c0) if kind == "lstm" else None
        self.idx = cp.asarray(_gate_index(kind, H))

        device = torch.device("cuda", cp.cuda.Device().id)
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        self.module = cls(D, H, batch_first=True, device=device, dtype=torch.float32)
        w_ih = cp.ascontiguousarray(self.W[:, self.idx].T)
        w_hh = cp.ascontiguousarray(self.U[:, self.idx].T)
        if kind == "gru":
            b_ih, b_hh = cp.ascontiguousarray(self.b[0][self.idx]), cp.ascontiguousarray(self.b[1][self.idx])
        else:
            b_ih, b_hh = self.b, cp.zeros_like(self.b)
        with torch.no_grad():  # copied into the module's own (cuDNN-packed) weight buffer
            for param, value in zip(self._params(), (w_ih, w_hh, b_ih, b_hh)):
                param.copy_(torch.from_dlpack(value))
        # zero-copy views of seqcore's inputs; the [1,B,H] state views are leaves so that torch computes dh0, dc0
        self.tx = torch.from_dlpack(self.x).requires_grad_()
        self.th0 = torch.from_dlpack(self.h0[None]).requires_grad_()
        self.tc0 = torch.from_dlpack(self.c0[None]).requires_grad_() if self.c0 is not None else None
        self.tdy = torch.from_dlpack(self.dy)
        self.hx = (self.th0, self.tc0) if kind == "lstm" else self.th0
        self.leaves = [self.tx, self.th0, *([self.tc0] if self.tc0 is not None else []), *self._params()]
        self.torch = torch

    def _params(self) -> list[Any]:
        m = self.module
        return [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]

    # seqcore

    def seqcore_call(self, mode: str) -> dict[str, Any]:
        from seqcore import kernels

        if self.case.kind == "lstm":
            y, hT, cT, cache = kernels.lstm_forward(self.x, self.h0, self.c0, self.W, self.U, self.b)
            out = {"y": y, "hT": hT, "cT": cT}
            if mode != "forward":
                names = ("dx", "dh0", "dc0", "dW", "dU", "db")
                out.update(zip(names, kernels.lstm_backward(cache, self.dy)))
        else:
            y, hT, cache = kernels.gru_forward(self.x, self.h0, self.W, self.U, self.b, reset_after=True)
            out = {"y": y, "hT": hT}
            if mode != "forward":
                out.update(zip(("dx", "dh0", "dW", "dU", "db"), kernels.gru_backward(cache, self.dy)))
        return out

    # torch

    def torch_call(self, mode: str) -> tuple[Any, Any]:
        if mode == "forward":
            self.module.train(False)  # cuDNN's inference path: no reserve space kept for a backward
            with self.torch.no_grad():
                return self.module(self.tx, self.hx)
        self.module.train(True)
        for t in self.leaves:
            t.grad = None
        y, state = self.module(self.tx, self.hx)
        y.backward(self.tdy)
        return y, state

    def torch_outputs(self) -> dict[str, Any]:
        """Torch's forward+backward results in seqcore's (Keras) layout, as CuPy arrays."""
        import cupy as cp

        y, state = self.torch_call("forward+backward")
        lstm = self.case.kind == "lstm"
        hT, cT = state if lstm else (state, None)
        out = {"y": _from_torch(y), "hT": _from_torch(hT[0])}
        if lstm:
            out["cT"] = _from_torch(cT[0])
        out["dx"] = _from_torch(self.tx.grad)
        out["dh0"] = _from_torch(self.th0.grad[0])
        if lstm:
            out["dc0"] = _from_torch(self.tc0.grad[0])
        g_ih, g_hh, g_bih, g_bhh = (_from_torch(p.grad) for p in self._params())
        out["dW"] = g_ih.T[:, self.idx]
        out["dU"] = g_hh.T[:, self.idx]
        out["db"] = cp.stack([g_bih[self.idx], g_bhh[self.idx]]) if not lstm else g_bih
        return {k: cp.array(v) for k, v in out.items()}  # copies: the next call overwrites torch's buffers

    def validate(self) -> Validation:
        ours = self.seqcore_call("forward+backward")
        errors: dict[str, dict[str, float]] = {}
        for setting in ("strict", "default"):
            with tf32(setting):
                theirs = self.torch_outputs()
            errors[setting] = {k: _rel_error(ours[k], theirs[k]) for k in ours}
        return Validation(errors["strict"], errors["default"])

    def peers(self, mode: str) -> list[Peer]:
        def torch_peer(setting: str) -> Peer:
            def run() -> object:
                set_tf32(setting)
                return self.torch_call(mode)

            return Peer(f"torch {setting}", run, "torch")

        return [
            Peer("seqcore", lambda: self.seqcore_call(mode), "cupy"),
            torch_peer("strict"),
            torch_peer("default"),
        ]

    torch_variants = ("cuDNN",)


class AttentionWorkload:
    """Causal attention inputs on the device, shared by seqcore (CuPy) and torch's SDPA (DLPack)."""

    torch_variants = ("sdpa auto", "sdpa efficient")

    def __init__(self, case: Case, seed: int = 0) -> None:
        import cupy as cp
        import torch

        self.case = case
        rng = np.random.default_rng([seed, *case.sizes])
        self.q, self.k, self.v, self.dout = (
            cp.asarray(rng.standard_normal(case.sizes, dtype=np.float32)) for _ in range(4)
        )
        self.tq, self.tk, self.tv = (torch.from_dlpack(a).requires_grad_() for a in (self.q, self.k, self.v))
        self.tdout = torch.from_dlpack(self.dout)
        self.torch = torch

    def seqcore_call(self, mode: str) -> dict[str, Any]:
        from seqcore import kernels

        out, cache = kernels.attention_forward(self.q, self.k, self.v, causal=True)
        if mode == "forward":
            return {"out": out}
        dq, dk, dv = kernels.attention_backward(cache, self.dout)
        return {"out": out, "dq": dq, "dk": dk, "dv": dv}

    def _backend_scope(self, variant: str) -> Any:
        if variant == "sdpa efficient":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            return sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)
        return contextlib.nullcontext()

    def torch_call(self, mode: str, variant: str) -> Any:
        F = self.torch.nn.functional
        with self._backend_scope(variant):
            if mode == "forward":
                with self.torch.no_grad():
                    return F.scaled_dot_product_attention(self.tq, self.tk, self.tv, is_causal=True)
            for t in (self.tq, self.tk, self.tv):
                t.grad = None
            out = F.scaled_dot_product_attention(self.tq, self.tk, self.tv, is_causal=True)
            out.backward(self.tdout)
            return out

    def torch_outputs(self, variant: str) -> dict[str, Any]:
        import cupy as cp

        out = self.torch_call("forward+backward", variant)
        got = {"out": _from_torch(out), "dq": _from_torch(self.tq.grad)}
        got.update(dk=_from_torch(self.tk.grad), dv=_from_torch(self.tv.grad))
        return {k: cp.array(v) for k, v in got.items()}

    def validate(self, variant: str) -> Validation:
        ours = self.seqcore_call("forward+backward")
        errors: dict[str, dict[str, float]] = {}
        for setting in ("strict", "default"):
            with tf32(setting):
                theirs = self.torch_outputs(variant)
            errors[setting] = {k: _rel_error(ours[k], theirs[k]) for k in ours}
        return Validation(errors["strict"], errors["default"])

    def backend_picked(self, variant: str, setting: str) -> str:
        """Which SDPA implementation torch ran (its dispatcher op name, from the profiler), or 'unknown'."""
        try:
            from torch.profiler import ProfilerActivity, profile

            with tf32(setting), profile(activities=[ProfilerActivity.CPU]) as prof:
                self.torch_call("forward", variant)
            names = " ".join(e.key for e in prof.key_averages())
        except Exception as exc:  # the profiler is a nicety: never let it stop the benchmark
            return f"unknown ({type(exc).__name__})"
        for needle, label in (
            ("efficient_attention", "efficient"),
            ("flash_attention", "flash"),
            ("cudnn_attention", "cudnn"),
            ("attention_math", "math"),
            ("overrideable", "overrideable"),
        ):
            if needle in names:
                return label
        return "unknown"

    def peers(self, mode: str) -> list[Peer]:
        def torch_peer(variant: str, setting: str) -> Peer:
            def run() -> object:
                set_tf32(setting)
                return self.torch_call(mode, variant)

            return Peer(f"{variant} {setting}", run, "torch")

        peers = [Peer("seqcore", lambda: self.seqcore_call(mode), "cupy")]
        return peers + [torch_peer(v, s) for v in self.torch_variants for s in ("strict", "default")]


def make_workload(case: Case, seed: int = 0) -> RecurrentWorkload | AttentionWorkload:
    return AttentionWorkload(case, seed) if case.kind == "attention" else RecurrentWorkload(case, seed)


def torch_peer_name(case: Case, variant: str, setting: str) -> str:
    """The Peer.name of torch in ``variant`` ('cuDNN', 'sdpa auto', 'sdpa efficient') and ``setting``."""
    return f"torch {setting}" if case.kind != "attention" else f"{variant} {setting}"


# ---------------------------------------------------------------- timing


def synchronize() -> None:
    """Wait for all queued work on the device (both libraries' streams)."""
    import cupy as cp

    cp.cuda.Device().synchronize()


def time_sample(peer: Peer, reps: int) -> float:
    """Milliseconds per call over ``reps`` back-to-back calls, between CUDA events on the current stream."""
    synchronize()
    if peer.framework == "torch":
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            peer.run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / reps
    import cupy as cp

    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    for _ in range(reps):
        peer.run()
    end.record()
    end.synchronize()
    return cp.cuda.get_elapsed_time(start, end) / reps


def time_peers(peers: list[Peer], rounds: int, warmup: int, sample_ms: float) -> tuple[dict[str, list[float]], int]:
    """({peer name: per-call ms of each round}, reps): warm-up, then rounds alternating the peers."""
    for peer in peers:
        for _ in range(warmup):
            peer.run()
    synchronize()
    fastest = min(time_sample(peer, 1) for peer in peers)
    reps = max(1, min(100, math.ceil(sample_ms / max(fastest, 1e-3))))
    times: dict[str, list[float]] = {p.name: [] for p in peers}
    for r in range(rounds):
        shift = r % len(peers)
        for peer in peers[shift:] + peers[:shift]:
            times[peer.name].append(time_sample(peer, reps))
    set_tf32("default")
    return times, reps


def _spread(samples: list[float]) -> float | None:
    if len(samples) < 4:
        return None
    q = statistics.quantiles(samples, n=4)
    return (q[2] - q[0]) / statistics.median(samples)


# ---------------------------------------------------------------- the comparison


def environment(device_name: str, peak: dict[str, Any]) -> dict[str, Any]:
    import cupy as cp
    import torch

    import seqcore

    return {
        "device": device_name,
        "device_index": cp.cuda.Device().id,
        "peak_tflops": peak,
        "seqcore": getattr(seqcore, "__version__", None),
        "cupy": cp.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "numpy": np.__version__,
        "torch_tf32_defaults": remember_torch_defaults(),
        "cupy_stream": int(cp.cuda.get_current_stream().ptr),
        "torch_stream": int(torch.cuda.current_stream().cuda_stream),
        "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE"),
    }


def _base_row(case: Case, mode: str, variant: str) -> dict[str, Any]:
    return {
        "kind": case.kind,
        "case": list(case.sizes),
        "label": case.label,
        "mode": mode,
        "torch_impl": variant,
        "gflop": flops(case, mode) / 1e9,
        "status": "ok",
        "valid": False,
        "note": "",
    }


def _fill_times(row: dict[str, Any], case: Case, mode: str, times: dict[str, list[float]], peak: dict) -> None:
    work = flops(case, mode)
    variant = row["torch_impl"]
    names = {
        "seqcore": "seqcore",
        "torch_strict": torch_peer_name(case, variant, "strict"),
        "torch_default": torch_peer_name(case, variant, "default"),
    }
    for key, name in names.items():
        samples = times[name]
        median = statistics.median(samples)
        row[f"{key}_ms"] = median
        row[f"{key}_spread"] = _spread(samples)
        row[f"{key}_tflops"] = work / (median * 1e-3) / 1e12
        row[f"{key}_samples_ms"] = samples
        if peak["fp32"]:
            row[f"{key}_pct_fp32_peak"] = 100.0 * row[f"{key}_tflops"] / peak["fp32"]
    row["ratio_strict"] = row["torch_strict_ms"] / row["seqcore_ms"]
    row["ratio_default"] = row["torch_default_ms"] / row["seqcore_ms"]


def compare(
    cases: list[Case],
    modes: list[str],
    rounds: int,
    warmup: int = 3,
    sample_ms: float = 10.0,
    seed: int = 0,
    peak_fp32: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Validate and time every case; the rows and the environment, JSON-ready."""
    import cupy as cp

    remember_torch_defaults()
    device_name = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"]
    device_name = device_name.decode() if isinstance(device_name, bytes) else str(device_name)
    peak = peak_tflops(device_name, peak_fp32)
    say = progress or (lambda _msg: None)
    rows: list[dict[str, Any]] = []
    for case in cases:
        say(f"{case.label}: setting up and validating")
        try:
            work = make_workload(case, seed)
        except Exception as exc:  # a peer that cannot even start: report it, go on with the others
            for mode in modes:
                rows.append(_base_row(case, mode, "-") | {"status": "error", "note": f"{type(exc).__name__}: {exc}"})
            continue
        for variant in work.torch_variants:
            try:
                if isinstance(work, AttentionWorkload):
                    check = work.validate(variant)
                    picked = {s: work.backend_picked(variant, s) for s in ("strict", "default")}
                else:
                    check, picked = work.validate(), None
            except Exception as exc:
                for mode in modes:
                    note = f"{type(exc).__name__}: {exc}"
                    rows.append(_base_row(case, mode, variant) | {"status": "error", "note": note})
                continue
            for mode in modes:
                row = _base_row(case, mode, variant)
                row.update(
                    valid=check.valid,
                    max_error=check.max_error,
                    errors=check.errors,
                    max_error_torch_default=check.max_error_default,
                    errors_torch_default=check.errors_default,
                )
                if picked is not None:
                    row["sdpa_backend"] = picked
                rows.append(row)
                if not check.valid:
                    row["status"] = "invalid"
                    worst = max(check.errors, key=check.errors.__getitem__)
                    row["note"] = f"{worst} differs from torch strict by {check.max_error:.1e} (> {RTOL:g}): not timed"
                    continue
                say(f"{case.label} {mode} ({variant}): timing")
                peers = work.peers(mode)
                if isinstance(work, AttentionWorkload):  # this row's torch variant only, seqcore timed alongside
                    wanted = {
                        "seqcore",
                        torch_peer_name(case, variant, "strict"),
                        torch_peer_name(case, variant, "default"),
                    }
                    peers = [p for p in peers if p.name in wanted]
                try:
                    times, reps = time_peers(peers, rounds, warmup, sample_ms)
                except Exception as exc:
                    row.update(status="error", note=f"{type(exc).__name__}: {exc}")
                    continue
                finally:
                    set_tf32("default")
                row.update(rounds=rounds, reps=reps)
                _fill_times(row, case, mode, times, peak)
        del work
        cp.get_default_memory_pool().free_all_blocks()
    return {"meta": environment(device_name, peak), "rows": rows}


# ---------------------------------------------------------------- report


def _num(value: Any, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def format_report(result: dict[str, Any]) -> str:
    meta, rows = result["meta"], result["rows"]
    peak = meta["peak_tflops"]
    peak_text = (
        f"FP32 peak {peak['fp32']:g} TFLOP/s ({peak['label']}"
        + (f"; TF32 tensor {peak['tf32']:g} dense" if peak.get("tf32") else "")
        + ")"
        if peak["fp32"]
        else "FP32 peak n/a (device not in the table; --peak-fp32 sets it)"
    )
    defaults = meta["torch_tf32_defaults"]
    lines = [
        f"device: {meta['device']} (cuda:{meta['device_index']}); {peak_text}",
        f"seqcore {meta['seqcore']} cuda backend on CuPy {meta['cupy']}; torch {meta['torch']} "
        f"(CUDA {meta['torch_cuda']}, cuDNN {meta['cudnn']}); float32",
        f"torch strict: cudnn.allow_tf32 = cuda.matmul.allow_tf32 = False; torch default: cudnn.allow_tf32 = "
        f"{defaults['cudnn.allow_tf32']}, cuda.matmul.allow_tf32 = {defaults['cuda.matmul.allow_tf32']}",
        "ratio = torch ms / seqcore ms (above 1: seqcore faster); medians over rounds of CUDA-event timed samples",
        "",
    ]
    header = (
        f"{'case':<24} {'mode':<17} {'torch impl':<15} {'seqcore ms':>10} {'strict ms':>10} {'ratio':>7} "
        f"{'default ms':>10} {'ratio':>7} {'TFLOP/s':>8} {'% FP32':>7}  valid (max rel. error)"
    )
    lines += [header, "-" * len(header)]
    problems = []
    for row in rows:
        head = f"{row['label']:<24} {row['mode']:<17} {row['torch_impl']:<15}"
        if row["status"] != "ok":
            verdict = "ERROR" if row["status"] == "error" else f"NO {row['max_error']:.1e}"
            lines.append(f"{head} {'not timed':>10} {'':>10} {'':>7} {'':>10} {'':>7} {'':>8} {'':>7}  {verdict}")
            problems.append(f"{row['label']} {row['mode']} ({row['torch_impl']}): {row['note']}")
            continue
        pct = _num(row.get("seqcore_pct_fp32_peak"), ".1f", "%") if peak["fp32"] else "n/a"
        lines.append(
            f"{head} {row['seqcore_ms']:>10.3f} {row['torch_strict_ms']:>10.3f} {row['ratio_strict']:>6.2f}x "
            f"{row['torch_default_ms']:>10.3f} {row['ratio_default']:>6.2f}x {row['seqcore_tflops']:>8.2f} "
            f"{pct:>7}  yes {row['max_error']:.1e}"
        )
    notes = []
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        key = (row["label"], row["torch_impl"])
        if key in seen or row["status"] == "error":
            continue
        seen.add(key)
        picked = row.get("sdpa_backend")
        if picked:
            notes.append(
                f"{row['label']} {row['torch_impl']}: torch ran SDPA backend {picked['strict']} (strict), "
                f"{picked['default']} (default)"
            )
        notes.append(
            f"{row['label']} {row['torch_impl']}: max rel. error of seqcore vs torch strict {row['max_error']:.1e}, "
            f"vs torch default {row['max_error_torch_default']:.1e}"
        )
    targets = [r for r in rows if r["kind"] == "attention" and r["mode"] == "forward+backward" and "ratio_strict" in r]
    for r in targets:
        met = "met" if r["ratio_strict"] >= ATTENTION_TARGET else "NOT met"
        notes.append(
            f"target (attention fwd+bwd within 1.5x of SDPA, torch/seqcore >= {ATTENTION_TARGET:.2f}) vs "
            f"{r['torch_impl']} strict: {r['ratio_strict']:.2f}x, {met}"
        )
    if meta["cupy_stream"] != 0 or meta["torch_stream"] != 0:
        notes.append(
            f"note: streams are not both the legacy default (CuPy {meta['cupy_stream']:#x}, torch "
            f"{meta['torch_stream']:#x}); each peer is timed on its own library's current stream"
        )
    if meta.get("NVIDIA_TF32_OVERRIDE") is not None:
        notes.append(f"NVIDIA_TF32_OVERRIDE={meta['NVIDIA_TF32_OVERRIDE']} is set: it overrides the TF32 flags")
    if notes:
        lines += [""] + notes
    if problems:
        lines += ["", "not timed:"] + [f"  {p}" for p in problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cases", help='kind[:sizes];... e.g. "lstm;gru:64,100,256,512;attention" (default: all)')
    parser.add_argument("--modes", default=",".join(MODES), help="forward,forward+backward (default both)")
    parser.add_argument("--rounds", type=int, default=20, help="timed samples per peer and row (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per peer before timing (default 3)")
    parser.add_argument("--sample-ms", type=float, default=10.0, help="about how long one sample lasts (default 10)")
    parser.add_argument("--device", type=int, default=0, help="CUDA device index (default 0)")
    parser.add_argument("--peak-fp32", type=float, help="the device's FP32 peak in TFLOP/s (default: from the table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the rows and the environment to this file (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        cases = parse_cases(args.cases)
        modes = parse_modes(args.modes)
    except ValueError as exc:
        parser.error(str(exc))
    if args.rounds < 1 or args.warmup < 0 or not args.sample_ms > 0 or args.device < 0:
        parser.error("--rounds must be >= 1, --warmup >= 0, --sample-ms > 0 and --device >= 0")
    if args.peak_fp32 is not None and not args.peak_fp32 > 0:
        parser.error("--peak-fp32 must be a positive number of TFLOP/s")

    reason = unavailable_reason()
    if reason is not None:
        sys.exit(f"cuda_compare: cannot run here: {reason}")
    import cupy as cp
    import torch

    if args.device >= cp.cuda.runtime.getDeviceCount():
        sys.exit(f"cuda_compare: no CUDA device {args.device} (this machine has {cp.cuda.runtime.getDeviceCount()})")
    cp.cuda.Device(args.device).use()
    torch.cuda.set_device(args.device)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    result = compare(cases, modes, args.rounds, args.warmup, args.sample_ms, args.seed, args.peak_fp32, progress)
    result["meta"]["args"] = vars(args)
    print(format_report(result))
    if args.json:
        from seqcore._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0 if all(r["status"] == "ok" for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
