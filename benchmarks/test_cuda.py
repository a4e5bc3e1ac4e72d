"""seqcore's cuda backend vs PyTorch on CUDA under pytest-benchmark: LSTM, GRU (cuDNN) and causal attention (SDPA).

The cases, peers and inputs are ``cuda_compare``'s: LSTM and GRU at (B,T,D,H) = (64,100,256,512) and
(256,50,512,1024), attention at (B,h,L,d) = (8,16,2048,64) causal; modes forward and forward+backward; float32 on
one GPU.  Peers: ``seqcore-cuda`` (the kernels on CuPy arrays), ``torch-strict`` (TF32 off in cuDNN and
cuBLAS) and ``torch-default`` (torch's flags as found); for attention these use SDPA's own choice of backend, and
``torch-strict-efficient`` / ``torch-default-efficient`` force EFFICIENT_ATTENTION.  Before anything of a case is
timed, seqcore's outputs and gradients must equal torch strict's within ``cuda_compare.RTOL`` relative to each
array's largest magnitude, or its tests fail untimed.

pytest-benchmark times on the host clock, so every timed call ends with a device synchronize: the figures include
launch overhead and one synchronization per call.  The side-by-side table with ratios, timed with CUDA events, is
``cuda_compare.py``.  Without a GPU, a CUDA build of torch or seqcore's cuda backend, every test is skipped with
the reason.

    PYTHONPATH=python pytest benchmarks/test_cuda.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import cuda_compare as cc  # noqa: E402

ROUNDS = 10

# peer id -> (torch variant, TF32 setting); None: seqcore
PEERS: dict[str, tuple[str, str] | None] = {
    "seqcore-cuda": None,
    "torch-strict": ("default", "strict"),
    "torch-default": ("default", "default"),
    "torch-strict-efficient": ("sdpa efficient", "strict"),
    "torch-default-efficient": ("sdpa efficient", "default"),
}


def _params() -> list[Any]:
    params = []
    for case in cc.default_cases():
        for mode in cc.MODES:
            for peer in PEERS:
                if peer.endswith("-efficient") and case.kind != "attention":
                    continue
                params.append(pytest.param(case, mode, peer, id=f"{case.ident}-{mode}-{peer}"))
    return params


@cache
def _skip_reason() -> str | None:
    return cc.unavailable_reason()


@cache
def _workload(case: cc.Case) -> Any:
    return cc.make_workload(case)


@cache
def _validated(case: cc.Case, variant: str) -> cc.Validation | str:
    """The case's validation, or why it could not run (e.g. torch refusing a forced SDPA backend)."""
    try:
        work = _workload(case)
        return work.validate(variant) if case.kind == "attention" else work.validate()
    except Exception as exc:  # reported as the test's failure, once per case and variant
        return f"{type(exc).__name__}: {exc}"


def _variant(case: cc.Case, name: str) -> str:
    if case.kind != "attention":
        return "cuDNN"
    return "sdpa auto" if name == "default" else name


@pytest.mark.parametrize(("case", "mode", "peer"), _params())
def test_cuda(benchmark, case: cc.Case, mode: str, peer: str) -> None:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(f"cannot run here: {reason}")
    import torch

    spec = PEERS[peer]
    variant = _variant(case, spec[0] if spec else "default")
    check = _validated(case, variant)
    if isinstance(check, str):
        pytest.fail(f"{case.label} ({variant}) could not be validated: {check}", pytrace=False)
    if not check.valid:
        worst = max(check.errors, key=check.errors.__getitem__)
        pytest.fail(f"seqcore's {worst} differs from torch strict's by {check.max_error:.1e}: not timed", pytrace=False)
    work = _workload(case)
    by_name = {p.name: p for p in work.peers(mode)}
    name = "seqcore" if spec is None else cc.torch_peer_name(case, variant, spec[1])
    run = by_name[name].run

    def call() -> None:
        run()
        torch.cuda.synchronize()

    benchmark.group = f"cuda {case.label} {mode}"
    for _ in range(3):  # warm-up: cuDNN plans, CuPy's memory pool, kernel loading
        call()
    try:
        benchmark.pedantic(call, rounds=ROUNDS, iterations=1)
    finally:
        cc.set_tf32("default")
    benchmark.extra_info.update(
        {
            "device": torch.cuda.get_device_name(),
            "gflop": cc.flops(case, mode) / 1e9,
            "max_rel_error_vs_torch_strict": check.max_error,
            "max_rel_error_vs_torch_default": check.max_error_default,
            "torch_variant": None if spec is None else variant,
            "tf32": None if spec is None else spec[1],
        }
    )
