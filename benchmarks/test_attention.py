"""Attention under pytest-benchmark: seqcore's native kernel vs torch's scaled_dot_product_attention, float32.

The cases and modes are ``attention_compare``'s (B,h,L,d in CASES; forward, forward+backward; causal or not).
Before anything is timed, seqcore's out, dq, dk, dv must equal torch's within ``attention_compare.RTOL`` (relative to
each array's largest magnitude).  The side-by-side table with ratios is ``attention_compare.py``.

    pytest benchmarks/test_attention.py --benchmark-only
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

torch = pytest.importorskip("torch", reason="torch is not installed (the peer)")

import attention_compare as ac  # noqa: E402


@cache
def _case(case: tuple[int, int, int, int], causal: bool):
    q, k, v, dout = ac.make_inputs(case)
    tensors = tuple(torch.from_numpy(a.copy()).requires_grad_() for a in (q, k, v))
    dout_t = torch.from_numpy(dout)
    ours = ac.seqcore_call(q, k, v, dout, causal, "forward+backward")
    theirs = ac.torch_call(tensors, dout_t, causal, "forward+backward")
    error = max(ac._error(a, b) for a, b in zip(ours, theirs))
    return (q, k, v, dout), (tensors, dout_t), error


@pytest.mark.parametrize("case", ac.CASES, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("mode", ac.MODES)
@pytest.mark.parametrize("peer", ["seqcore-cpp", "torch"])
def test_attention(benchmark, case, causal, mode, peer):
    (q, k, v, dout), (tensors, dout_t), error = _case(case, causal)
    if not error <= ac.RTOL:
        pytest.fail(f"seqcore's attention differs from torch's by {error:.1e}: not timed", pytrace=False)
    benchmark.group = f"attention {'x'.join(map(str, case))} {'causal' if causal else 'full'} {mode}"
    if peer == "seqcore-cpp":
        fn = lambda: ac.seqcore_call(q, k, v, dout, causal, mode)  # noqa: E731
    else:
        fn = lambda: ac.torch_call(tensors, dout_t, causal, mode)  # noqa: E731
    fn()
    benchmark.pedantic(fn, rounds=10, iterations=1)
    benchmark.extra_info.update({"max_rel_error_vs_torch": error})
