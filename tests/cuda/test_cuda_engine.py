"""The engine on a GPU: dispatch by array type, to_device, and fit/train steps giving the CPU's losses.

Every test here runs only where the cuda backend loads (tests/cuda/conftest.py).  The parity
tests train the same model from the same weights on the CPU (cpp backend) and on the GPU and
compare the losses step by step to 1e-4, as the issue asks of a small LSTM and a small
Transformer.
"""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import kernels, losses, nn, optim
from seqcore.autograd import functional as F

cp = pytest.importorskip("cupy")


def test_dispatch_follows_the_arrays():
    x = np.random.default_rng(0).standard_normal((3, 7))
    host = kernels.softmax(x)
    dev = kernels.softmax(cp.asarray(x))
    assert isinstance(host, np.ndarray) and isinstance(dev, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(dev), host, rtol=1e-12)
    # the backend chosen by name takes host arrays and gives host arrays back
    with seqcore.use_backend("cuda"):
        again = kernels.softmax(x)
    assert isinstance(again, np.ndarray)
    np.testing.assert_allclose(again, host, rtol=1e-12)


def test_in_place_updates_reach_the_callers_arrays_on_both_sides():
    rng = np.random.default_rng(1)
    p, g = rng.standard_normal(10), rng.standard_normal(10)
    m, v = np.zeros(10), np.zeros(10)
    want = p.copy()
    kernels.adam_update(want, g, m.copy(), v.copy(), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1)
    dev = [cp.asarray(a) for a in (p, g, m, v)]
    kernels.adam_update(dev[0], dev[1], dev[2], dev[3], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1)
    np.testing.assert_allclose(cp.asnumpy(dev[0]), want, rtol=1e-12)
    host = p.copy()
    with seqcore.use_backend("cuda"):
        kernels.adam_update(host, g, m.copy(), v.copy(), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1)
    np.testing.assert_allclose(host, want, rtol=1e-12)


def test_to_device_round_trip_keeps_weights_and_outputs():
    seqcore.set_seed(0)
    model = nn.Sequential([nn.LSTM(8, return_sequences=True), nn.Dense(3)])
    x = np.random.default_rng(2).standard_normal((4, 5, 6)).astype(np.float32)
    want = model.predict(x)
    before = model.get_weights()
    assert seqcore.to_device(model, "cuda") is model
    assert all(isinstance(w.data, cp.ndarray) for w in model.weights)
    got = model.predict(x)  # host data in, host results out, computed on the GPU
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    seqcore.to_device(model, "cpu")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def _lstm_model(seed: int) -> nn.Model:
    seqcore.set_seed(seed)
    model = nn.Sequential([nn.Embedding(20, 8), nn.LSTM(16, return_sequences=True), nn.GRU(12), nn.Dense(5)])
    model.build((None, 9))
    return model


def test_lstm_training_gives_the_cpu_losses():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, size=(64, 9))
    y = rng.integers(0, 5, size=64)
    cpu, gpu = _lstm_model(4), _lstm_model(5)
    gpu.set_weights(cpu.get_weights())
    seqcore.to_device(gpu, "cuda")
    for model in (cpu, gpu):
        model.compile(optimizer=optim.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    curve: dict[str, list[float]] = {"cpu": [], "gpu": []}
    for name, model in (("cpu", cpu), ("gpu", gpu)):
        for start in range(0, 64, 16):
            curve[name].append(model.train_on_batch(x[start : start + 16], y[start : start + 16]))
    np.testing.assert_allclose(curve["gpu"], curve["cpu"], rtol=1e-4)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_lstm_fit_on_cupy_data():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 20, size=(64, 9))
    y = rng.integers(0, 5, size=64)
    cpu, gpu = _lstm_model(7), _lstm_model(8)
    gpu.set_weights(cpu.get_weights())
    seqcore.to_device(gpu, "cuda")
    results = []
    for model, data in ((cpu, (x, y)), (gpu, (cp.asarray(x), cp.asarray(y)))):
        model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        results.append(model.fit(*data, batch_size=16, epochs=2, shuffle=False, verbose=0))
    np.testing.assert_allclose(results[1].history["loss"], results[0].history["loss"], rtol=1e-4)


def _transformer(seed: int) -> nn.Transformer:
    seqcore.set_seed(seed)
    return nn.Transformer(2, 32, 4, 64, 12, 12, 10, dropout_rate=0.0)


def test_transformer_training_gives_the_cpu_losses():
    rng = np.random.default_rng(9)
    src = rng.integers(3, 12, size=(16, 6))
    tar_in = np.concatenate([np.ones((16, 1), int), src[:, :-1]], axis=1)
    look = nn.create_look_ahead_mask(6)
    cpu, gpu = _transformer(10), _transformer(11)
    cpu(src, tar_in, False, None, look, None)
    gpu(src, tar_in, False, None, look, None)
    gpu.set_weights(cpu.get_weights())
    seqcore.to_device(gpu, "cuda")
    curve: dict[str, list[float]] = {}
    for name, model, s, t in (("cpu", cpu, src, tar_in), ("gpu", gpu, cp.asarray(src), cp.asarray(tar_in))):
        opt = optim.Adam(learning_rate=3e-3)
        curve[name] = []
        for _ in range(8):
            logits, _ = model(s, t, True, None, look, None)
            loss = F.softmax_cross_entropy(logits, s).mean()
            loss.backward()
            opt.apply_gradients([(w.grad, w) for w in model.trainable_weights])
            for w in model.trainable_weights:
                w.grad = None
            curve[name].append(loss.item())
    np.testing.assert_allclose(curve["gpu"], curve["cpu"], rtol=1e-4)


def _table_step(xp):
    """A decoder whose log-probs depend on the previous token and on a per-row state, on ``xp``'s device."""
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((7, 7)) * 2
    table = xp.asarray(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))

    def step(prev, state):
        bias, count = state
        lp = table[xp.asarray(prev)] + 0.0 * bias[:, None]
        return lp, (bias, count + 1)

    return step


def test_decoding_with_a_gpu_step_function_gives_the_host_results():
    from seqcore import decode

    bias, count = np.zeros(3), np.zeros(3, np.int64)
    for search in (
        lambda step, state: decode.beam_search(step, state, beam_width=3, max_len=6, bos=0, eos=6, n_best=2),
        lambda step, state: decode.greedy(step, state, max_len=6, bos=0, eos=6),
    ):
        want = search(_table_step(np), (bias, count))
        got = search(_table_step(cp), (cp.asarray(bias), cp.asarray(count)))
        assert repr(got) == repr(want)
