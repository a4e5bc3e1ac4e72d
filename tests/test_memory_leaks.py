"""Long loops of native (cpp backend) forward/backward calls leave the resident set size where it was.

Each family runs a few thousand calls after a warm-up and compares RSS before and after.  What RSS can and
cannot see, and why THRESHOLD separates a leak from allocator noise:

- After the warm-up every buffer a call needs sits in some free list (NumPy's small-block cache, glibc's
  bins, the kernels' thread_local scratch, OpenBLAS's buffers, numba's and pybind11's caches), so a steady
  loop reuses memory and RSS moves by a few pages at most.
- Freed memory stays resident until the allocator returns it, and a leak can quietly reuse resident free
  pages that earlier calls or tests left behind (70 MB of leaked arrays showed up as 5 MB that way).  So the
  baseline is taken after malloc_trim(0), which hands free memory back to the system, and a few steps, which
  fault one step's working set back in (without them that alone read as up to 1 MiB of "growth").  Measured
  this way, every family here grows by 0.004 MiB or less.
- THRESHOLD = 4 MiB is far above that noise.  Each step allocates a fresh input of ``unit`` bytes that the call
  reads, and its outputs and cache are at least as large, so a leak of one array per call (an output the
  binding keeps a reference to, a cache never freed, an input whose reference count is never dropped) adds
  calls * unit >= 4 * THRESHOLD; ``test_the_measurement_sees_a_leak`` checks the instrument.  Leaks smaller
  than an array per call (a few bytes of bookkeeping) are below what RSS resolves in seconds: that is the
  LeakSanitizer / valgrind build's job.
- Arrays reused by every call (weights, states) would not grow RSS if a reference to them leaked, so their
  reference counts are compared instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Callable

import numpy as np
import pytest

import seqcore
from helpers import require_backend
from seqcore import kernels as K
from seqcore import nn, use_backend

MIB = 1 << 20
THRESHOLD = 4 * MIB
UNIT = 16 * 1024  # bytes of the fresh input each call gets
CALLS = 2048  # CALLS * UNIT = 32 MiB = 8 * THRESHOLD
F32 = np.float32


def _under_address_sanitizer() -> bool:
    return hasattr(ctypes.CDLL(None), "__asan_init")


pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm (Linux)"),
    # ASan keeps freed memory in quarantine (256 MB by default), so RSS grows by design; under the sanitizer
    # build, LeakSanitizer (tools/leak_check.py) does this job instead.
    pytest.mark.skipif(_under_address_sanitizer(), reason="RSS includes AddressSanitizer's quarantine"),
]


def _malloc_trim() -> Callable[[], None]:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: the baseline may then include reusable free memory
        trim = None
    return (lambda: trim(0)) if trim else (lambda: None)


TRIM = _malloc_trim()
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(step: Callable[[], object], *, calls: int = CALLS, warmup: int | None = None, reused=()) -> int:
    """RSS growth in bytes over ``calls`` steps after ``warmup`` ones; also checks ``reused`` arrays' refcounts."""
    for _ in range(warmup if warmup is not None else max(50, calls // 10)):
        step()
    gc.collect()
    refs = refcounts(reused)
    TRIM()
    for _ in range(5):  # fault the working set of one step back in: it is not growth
        step()
    gc.collect()
    before = rss()
    for _ in range(calls):
        step()
    gc.collect()
    after = rss()
    assert refcounts(reused) == refs, f"reference counts of the reused arrays went from {refs} to {refcounts(reused)}"
    return after - before


def refcounts(arrays) -> list[int]:
    return [sys.getrefcount(a) for a in arrays]


def assert_no_leak(family: str, step: Callable[[], object], *, unit: int = UNIT, calls: int = CALLS, reused=()):
    assert calls * unit >= 4 * THRESHOLD, "the loop is too short for a one-array-per-call leak to stand out"
    with use_backend("cpp"):
        grew = growth(step, calls=calls, reused=reused)
    print(f"{family}: RSS {grew / MIB:+.3f} MiB over {calls} calls")
    assert grew < THRESHOLD, f"{family}: RSS grew {grew / MIB:.1f} MiB over {calls} calls"


@pytest.fixture(autouse=True)
def _cpp():
    require_backend("cpp")


def fresh(shape, seed: int = 0) -> Callable[[], np.ndarray]:
    """A maker of fresh copies of one seeded float32 array (a copy is what a leaked reference would keep alive)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(F32).copy


def test_the_measurement_sees_a_leak():
    """The instrument itself: keeping one UNIT-sized array per call is reported as a leak."""
    kept = []
    make = fresh((UNIT // 4,))

    def leaky():
        kept.append(make())

    with use_backend("cpp"):
        grew = growth(leaky, calls=CALLS)
    assert grew > THRESHOLD, f"a leak of {CALLS * UNIT / MIB:.0f} MiB showed as {grew / MIB:.1f} MiB"


# B*T*D floats = UNIT bytes for x; y, dy and dx are as large or larger
B, T, D, H = 16, 16, 16, 32


@pytest.mark.parametrize(("kind", "reset_after"), [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)])
def test_recurrent(kind, reset_after):
    rng = np.random.default_rng(1)
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    x = fresh((B, T, D))
    assert x().nbytes == UNIT
    h0 = (0.5 * rng.standard_normal((B, H))).astype(F32)
    W = (rng.standard_normal((D, G * H)) / 4).astype(F32)
    U = (rng.standard_normal((H, G * H)) / 6).astype(F32)
    b = np.zeros((2, G * H) if kind == "gru" and reset_after else G * H, F32)
    lengths = rng.integers(0, T + 1, B)
    dy = rng.standard_normal((B, T, H)).astype(F32)

    def step():
        xs = x()
        if kind == "lstm":
            y, hT, cT, cache = K.lstm_forward(xs, h0, h0, W, U, b, lengths=lengths)
            K.lstm_backward(cache, dy, hT, cT)
            K.lstm_cell(xs[:, 0], h0, h0, W, U, b)
        elif kind == "gru":
            y, hT, cache = K.gru_forward(xs, h0, W, U, b, reset_after=reset_after, lengths=lengths, reverse=True)
            K.gru_backward(cache, dy, hT)
            K.gru_cell(xs[:, 0], h0, W, U, b, reset_after=reset_after)
        else:
            y, hT, cache = K.rnn_forward(xs, h0, W, U, b, lengths=lengths)
            K.rnn_backward(cache, dy, None)
            K.rnn_cell(xs[:, 0], h0, W, U, b)

    assert_no_leak(f"recurrent {kind} reset_after={reset_after}", step, reused=(h0, W, U, b, lengths, dy))


def test_softmax_and_cross_entropy():
    N, C = 64, 64
    logits = fresh((N, C))
    assert logits().nbytes == UNIT
    rng = np.random.default_rng(2)
    ids = rng.integers(0, C, N)
    target = rng.uniform(0, 1, (N, C)).astype(F32)
    dy = rng.standard_normal((N, C)).astype(F32)

    def step():
        x = logits()
        K.softmax_backward(K.softmax(x), dy)
        K.log_softmax_backward(K.log_softmax(x), dy)
        for labels in (ids, target):
            _, cache = K.softmax_cross_entropy(x, labels)
            K.softmax_cross_entropy_backward(cache)

    assert_no_leak("softmax / cross-entropy", step, reused=(ids, target, dy))


def test_layer_and_batch_norm():
    N, F = 64, 64
    x = fresh((N, F))
    rng = np.random.default_rng(3)
    gamma, beta = np.ones(F, F32), np.zeros(F, F32)
    dy = rng.standard_normal((N, F)).astype(F32)

    def step():
        xs = x()
        _, cache = K.layer_norm_forward(xs, gamma, beta, eps=1e-3)
        K.layer_norm_backward(cache, dy)
        _, _, _, cache = K.batch_norm_forward(xs, gamma, beta, eps=1e-3)
        K.batch_norm_backward(cache, dy)

    assert_no_leak("layer / batch norm", step, reused=(gamma, beta, dy))


def test_conv1d():
    Bc, Tc, Cc, Kc, Fc = 8, 64, 8, 3, 16  # x: 16 KiB; y, dy: [8, 64, 16] with "same" padding, 32 KiB
    x = fresh((Bc, Tc, Cc))
    assert x().nbytes == UNIT
    rng = np.random.default_rng(4)
    W = (rng.standard_normal((Kc, Cc, Fc)) / 5).astype(F32)
    b = np.zeros(Fc, F32)
    dy = rng.standard_normal((Bc, Tc, Fc)).astype(F32)
    dy_strided = rng.standard_normal((Bc, (Tc + 2 - 2 * (Kc - 1) - 1) // 2 + 1, Fc)).astype(F32)

    def step():
        _, cache = K.conv1d_forward(x(), W, b, padding=(1, 1))
        K.conv1d_backward(cache, dy)
        _, cache = K.conv1d_forward(x(), W, None, stride=2, dilation=2, padding=(2, 0))  # no bias, strided
        K.conv1d_backward(cache, dy_strided)

    assert_no_leak("conv1d", step, reused=(W, b, dy, dy_strided))


def test_embedding():
    V, E = 100, 32
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((V, E)).astype(F32)
    ids = rng.integers(0, V, (16, 16)).copy  # 2 KiB of ids; the rows they gather, [16, 16, 32] floats, 32 KiB
    dy = fresh((16, 16, E))
    assert dy().nbytes == 2 * UNIT

    def step():
        i = ids()
        K.embedding_forward(weights, i)
        K.embedding_backward(i, dy(), V)

    assert_no_leak("embedding", step, reused=(weights,))


def test_beam_search():
    log_probs = np.random.default_rng(9).standard_normal((8, 512))
    log_probs = (-np.abs(log_probs)).astype(F32).copy  # A = 4 rows of K = 2 beams, V = 512
    assert log_probs().nbytes == UNIT
    norm = np.arange(1.0, 4.0) ** 0.7
    from seqcore import _core

    def step():
        lp = log_probs()
        parents = K.beam_search_step(K.BeamState.initial(4, 2, 3), lp, np.arange(4), 0, eos=0, length_norm=norm)
        K.gather_rows(lp, parents.reshape(-1))
        lp[5, 7] = np.nan  # raised after the kernel's scratch and the output were allocated
        with pytest.raises(ValueError):
            _core.beam_search_step(*K.BeamState.initial(4, 2, 3), lp, np.arange(4), 0, 0, norm)

    assert_no_leak("beam search", step, reused=(norm,))


def test_optimizer_updates_and_clipping():
    shape = (64, 64)
    grad = fresh(shape, seed=6)
    assert grad().nbytes == UNIT
    rng = np.random.default_rng(7)
    param = rng.standard_normal(shape).astype(F32)
    state = {n: np.zeros(shape, F32) for n in ("vel", "m", "v", "vhat", "rv", "buf", "mg")}
    acc = np.full(shape, 0.1, F32)

    def step():
        g = grad()
        K.sgd_update(param, g, state["vel"], lr=1e-3, momentum=0.9, nesterov=True)
        K.adam_update(
            param, g, state["m"], state["v"], lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, step=3, vhat=state["vhat"]
        )
        K.rmsprop_update(param, g, state["rv"], state["buf"], lr=1e-3, rho=0.9, momentum=0.5, eps=1e-7, mg=state["mg"])
        K.adagrad_update(param, g, acc, lr=1e-3, eps=1e-7)
        K.clip_by_value([g], -0.5, 0.5)
        K.clip_by_global_norm([g, g], 1.0)

    assert_no_leak("optimizer updates / clipping", step, reused=(param, acc, *state.values()))


def test_error_paths():
    """Calls the binding rejects (a caller bypassing seqcore.kernels) must free what they took."""
    from seqcore import _core

    x = fresh((B, T, D))
    rng = np.random.default_rng(8)
    h0 = np.zeros((B, H), F32)
    W = rng.standard_normal((D, 4 * H)).astype(F32)
    U_bad = rng.standard_normal((H, 4 * H - 1)).astype(F32)
    b = np.zeros(4 * H, F32)

    def step():
        xs = x()
        with pytest.raises(ValueError):
            _core.lstm_forward(xs, h0, h0, W, U_bad, b, None, False)
        with pytest.raises(TypeError):
            _core.softmax(xs.astype(np.float16))
        with pytest.raises(ValueError):
            K.softmax_cross_entropy(xs, np.full(xs.shape[:-1], D, np.int64))  # a class id out of range

    assert_no_leak("error paths", step, reused=(h0, W, U_bad, b))


def _model():
    seqcore.set_seed(0)
    model = nn.Sequential([nn.Embedding(50, 8), nn.LayerNormalization(), nn.LSTM(8), nn.Dense(3)])
    model.compile(
        optimizer=seqcore.optim.Adam(0.01, global_clipnorm=1.0),
        loss=seqcore.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# The batch is the fresh array of a model step (its activations are larger: [64, 32, 8] floats after the
# embedding); a step that kept its tape, its batch or a metric's arrays alive would show.
BATCH = (64, 32)


def test_model_train_on_batch():
    model = _model()
    rng = np.random.default_rng(9)
    x = rng.integers(0, 50, BATCH).copy
    y = rng.integers(0, 3, BATCH[0])

    def step():
        model.train_on_batch(x(), y)

    assert_no_leak("nn train_on_batch", step, calls=CALLS // 2, unit=x().nbytes, reused=(y,))


def test_model_fit():
    model = _model()
    rng = np.random.default_rng(11)
    x = rng.integers(0, 50, (2 * BATCH[0], BATCH[1])).copy  # two batches a fit
    y = rng.integers(0, 3, 2 * BATCH[0])

    def step():
        model.fit(x(), y, batch_size=BATCH[0], epochs=1, verbose=0, shuffle=True)

    assert_no_leak("nn fit", step, calls=CALLS // 4, unit=x().nbytes, reused=(y,))
