"""F.attention and F.gelu inside a small graph (projections, heads, GELU) against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import gradcheck
from helpers import ALL_BACKENDS, require_backend
from seqcore import use_backend
from seqcore.autograd import Tensor, matmul, no_grad, reshape, transpose
from seqcore.autograd import functional as F

B, L, S, D, HEADS = 2, 3, 4, 4, 2  # S: the key/value sequence's length


def arr(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng([seed, *shape, 47]).standard_normal(shape)


def heads(x: Tensor, W: Tensor, n: int) -> Tensor:
    """[B,n,D] @ [D,D] -> [B,HEADS,n,D/HEADS]."""
    return transpose(reshape(matmul(x, W), (B, n, HEADS, D // HEADS)), (0, 2, 1, 3))


def block(mask, causal: bool, dropout: float, approximate: str):
    def fn(x, mem, Wq, Wk, Wv):
        q, k, v = heads(x, Wq, L), heads(mem, Wk, S), heads(mem, Wv, S)
        a = F.attention(F.gelu(q, approximate), k, v, mask=mask, causal=causal, dropout=dropout, seed=11)
        return F.gelu(reshape(transpose(a, (0, 2, 1, 3)), (B, L, D)), approximate)

    return fn


INPUTS = {
    "x": arr(1, B, L, D),
    "mem": arr(2, B, S, D),
    "Wq": arr(3, D, D, scale=0.7),
    "Wk": arr(4, D, D, scale=0.7),
    "Wv": arr(5, D, D, scale=0.7),
}
PADDING = np.array([[True, True, True, False], [True, True, False, False]])[:, None, None, :]  # [B,1,1,S]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(
    ("mask", "causal", "dropout", "approximate"),
    [
        (None, False, 0.0, "none"),
        (PADDING, True, 0.0, "tanh"),
        (PADDING, False, 0.3, "none"),
        (None, True, 0.5, "tanh"),
    ],
    ids=["plain", "padding_causal", "padding_dropout", "causal_dropout"],
)
def test_graph_gradients(backend, mask, causal, dropout, approximate):
    require_backend(backend)
    with use_backend(backend):
        gradcheck(block(mask, causal, dropout, approximate), INPUTS, what=f"attention block [{backend}]")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_masked_keys_get_no_gradient(backend):
    """Keys and values a padding mask hides from every query receive exactly zero gradient."""
    require_backend(backend)
    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal((B, HEADS, n, 3)), requires_grad=True) for n in (L, S, S))
    with use_backend(backend):
        out = F.attention(q, k, v, mask=PADDING)
        (out * Tensor(rng.standard_normal(out.shape))).sum().backward()
    for t in (k, v):
        assert not t.grad[0, :, 3].any() and not t.grad[1, :, 2:].any()
        assert t.grad[0, :, :3].any()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_no_grad_and_dtype(backend):
    require_backend(backend)
    rng = np.random.default_rng(1)
    q, k, v = (Tensor(rng.standard_normal((1, 2, 3, 4)).astype(np.float32), requires_grad=True) for _ in range(3))
    with use_backend(backend):
        with no_grad():
            out = F.attention(q, k, v, causal=True)
        assert not out.requires_grad and out.dtype == np.float32
        y = F.gelu(F.attention(q, k, v, causal=True))
        y.sum().backward()
    assert q.grad.dtype == np.float32 and q.grad.shape == q.shape
