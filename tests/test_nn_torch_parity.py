"""seqcore.nn layers and losses against PyTorch 2.13: forward values and input / weight gradients.

Weights are copied from the torch module and converted to the Keras layout by hand here
(transposes, GRU gate order r,z,n -> z,r,h, LSTM/RNN bias = bias_ih + bias_hh), independently
of seqcore.interop; torch's gradients are converted the same way before comparing.  Both
sides backpropagate J = sum_k <R_k, output_k> with the same seeded R_k.
float64 is compared to ~1e-10, float32 to ~1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import ENGINE_BACKENDS
from seqcore import kernels as K
from seqcore import losses, nn, use_backend
from seqcore.autograd import Tensor

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
rnn_utils = torch.nn.utils.rnn

DTYPES = [np.float64, np.float32]
TOL = {np.dtype(np.float64): (1e-10, 1e-11), np.dtype(np.float32): (2e-5, 2e-6)}  # rtol, atol * max(1, |expected|)
HAS_CONV = hasattr(K, "conv1d_forward")
NO_CONV = "seqcore.kernels lacks conv1d_forward (the conv1d kernel has not landed yet)"
B, T, D, H = 3, 5, 4, 3
LENGTHS = np.array([5, 2, 4])


def close(actual, expected, what: str, dtype=np.float64) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    actual = np.asarray(actual.data if isinstance(actual, Tensor) else actual)
    rtol, atol = TOL[np.dtype(dtype)]
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def rand(seed: int, *shape: int, dtype=np.float64, scale: float = 1.0) -> np.ndarray:
    return (scale * np.random.default_rng([seed, *shape, 43]).standard_normal(shape)).astype(dtype)


def randomize(module, seed: int):
    """Every parameter of a torch module random (biases distinct in ih and hh)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn_like(p))
    return module


def torch_dtype(dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def leaf(a: np.ndarray) -> Tensor:
    return Tensor(a.copy(), requires_grad=True)


def tleaf(a: np.ndarray):
    return torch.tensor(a.copy(), requires_grad=True)


def ours_backward(outs, weights) -> None:
    total = None
    for o, w in zip(outs, weights):
        term = (o * w.astype(o.dtype)).sum()
        total = term if total is None else total + term
    total.backward()


def torch_backward(outs, weights) -> None:
    sum((o * torch.tensor(w, dtype=o.dtype)).sum() for o, w in zip(outs, weights)).backward()


# ---------------------------------------------------------------- Dense, Embedding


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_dense_vs_linear(backend, dtype):
    lin = randomize(tnn.Linear(D, 2).to(torch_dtype(dtype)), 1)
    layer = nn.Dense(2, dtype=np.dtype(dtype).name)
    x = rand(1, B, T, D, dtype=dtype)
    layer(x)
    layer.set_weights([lin.weight.detach().numpy().T, lin.bias.detach().numpy()])
    R = rand(2, B, T, 2)
    with use_backend(backend):
        xo = leaf(x)
        y = layer(xo)
        ours_backward([y], [R])
    xt = tleaf(x)
    yt = lin(xt)
    torch_backward([yt], [R])
    assert y.dtype == dtype
    close(y, yt, "y", dtype)
    close(xo.grad, xt.grad, "dx", dtype)
    close(layer.kernel.grad, lin.weight.grad.T, "dkernel", dtype)
    close(layer.bias.grad, lin.bias.grad, "dbias", dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_embedding_vs_torch(backend, dtype):
    emb = randomize(tnn.Embedding(7, 3).to(torch_dtype(dtype)), 2)
    layer = nn.Embedding(7, 3, dtype=np.dtype(dtype).name)
    ids = np.random.default_rng(3).integers(0, 7, size=(B, T))
    layer(ids)
    layer.set_weights([emb.weight.detach().numpy()])
    R = rand(4, B, T, 3)
    with use_backend(backend):
        y = layer(ids)
        ours_backward([y], [R])
    yt = emb(torch.tensor(ids))
    torch_backward([yt], [R])
    close(y, yt, "y", dtype)
    close(layer.embeddings.grad, emb.weight.grad, "dembeddings", dtype)


# ---------------------------------------------------------------- recurrent

TORCH_RNN = {"lstm": tnn.LSTM, "gru": tnn.GRU, "rnn": tnn.RNN}
OUR_RNN = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.SimpleRNN}


def gru_order(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """torch r, z, n blocks -> Keras z, r, h."""
    r, z, n = np.split(a, 3, axis=axis)
    return np.concatenate([z, r, n], axis=axis)


def keras_layout(kind: str, w_ih, w_hh, b_ih, b_hh, *, grads: bool = False):
    """(kernel, recurrent_kernel, bias) in Keras's layout from one torch direction (or its gradients)."""
    if kind == "gru":
        return gru_order(w_ih.T), gru_order(w_hh.T), np.stack([gru_order(b_ih), gru_order(b_hh)])
    if grads:  # bias = bias_ih + bias_hh: both get the bias gradient
        np.testing.assert_allclose(b_ih, b_hh, rtol=1e-5, atol=1e-6)  # equal up to torch's float32 sums
        return w_ih.T, w_hh.T, b_ih
    return w_ih.T, w_hh.T, b_ih + b_hh


def direction(module, k: int, suffix: str, grads: bool = False):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    params = [getattr(module, f"{n}_l{k}{suffix}") for n in names]
    return [(p.grad if grads else p).detach().numpy() for p in params]


def our_stack(kind: str, module, num_layers: int, bidirectional: bool, dtype) -> list:
    """Our layers equivalent to ``module`` (return_sequences and return_state), with its weights copied."""
    layers = []
    width = D
    for k in range(num_layers):
        rnn = OUR_RNN[kind](H, return_sequences=True, return_state=True, dtype=np.dtype(dtype).name)
        layer = nn.Bidirectional(rnn, dtype=np.dtype(dtype).name) if bidirectional else rnn
        layer(np.zeros((1, 2, width), dtype=dtype))
        weights = list(keras_layout(kind, *direction(module, k, "")))
        if bidirectional:
            weights += keras_layout(kind, *direction(module, k, "_reverse"))
        layer.set_weights(weights)
        layers.append(layer)
        width = 2 * H if bidirectional else H
    return layers


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "packed"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_recurrent_vs_torch(backend, kind, bidirectional, num_layers, lengths, dtype):
    extra = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    module = TORCH_RNN[kind](D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra)
    module = randomize(module.to(torch_dtype(dtype)), 5)
    layers = our_stack(kind, module, num_layers, bidirectional, dtype)
    n_dir = 2 if bidirectional else 1
    x = rand(6, B, T, D, dtype=dtype)
    R_y = rand(7, B, T, n_dir * H)
    R_h = rand(8, num_layers * n_dir, B, H)
    R_c = rand(9, num_layers * n_dir, B, H)

    # ours: y of the top layer, and each layer's final h (and c), forward direction first
    with use_backend(backend):
        xo = leaf(x)
        h, finals_h, finals_c = xo, [], []
        for layer in layers:
            out = layer(h, lengths=lengths)
            h, states = out[0], out[1:]
            if kind == "lstm":
                pairs = [states[i : i + 2] for i in range(0, len(states), 2)]
                finals_h += [p[0] for p in pairs]
                finals_c += [p[1] for p in pairs]
            else:
                finals_h += list(states)
        outs, weights = [h, *finals_h], [R_y, *R_h]
        if kind == "lstm":
            outs, weights = outs + finals_c, weights + list(R_c)
        ours_backward(outs, weights)

    xt = tleaf(x)
    if lengths is None:
        yt, final = module(xt)
    else:
        packed = rnn_utils.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        yt, final = module(packed)
        yt, _ = rnn_utils.pad_packed_sequence(yt, batch_first=True, total_length=T)
    ht, ct = final if kind == "lstm" else (final, None)
    touts, tweights = [yt, *ht], [R_y, *R_h]
    if kind == "lstm":
        touts, tweights = touts + list(ct), tweights + list(R_c)
    torch_backward(touts, tweights)

    what = f"{kind} bi={bidirectional} layers={num_layers} lengths={lengths is not None} {np.dtype(dtype)}"
    close(h, yt, f"{what}: y", dtype)
    for i, (a, b) in enumerate(zip(finals_h, ht)):
        close(a, b, f"{what}: h_n[{i}]", dtype)
    for i, (a, b) in enumerate(zip(finals_c, ct if ct is not None else [])):
        close(a, b, f"{what}: c_n[{i}]", dtype)
    close(xo.grad, xt.grad, f"{what}: dx", dtype)
    for k, layer in enumerate(layers):
        ours = [v.grad for v in layer.weights]
        theirs = list(keras_layout(kind, *direction(module, k, "", grads=True), grads=True))
        if bidirectional:
            theirs += keras_layout(kind, *direction(module, k, "_reverse", grads=True), grads=True)
        for v, a, b in zip(layer.weights, ours, theirs):
            close(a, b, f"{what}: d{v.name}", dtype)


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_lstm_initial_state_vs_torch(backend):
    module = randomize(tnn.LSTM(D, H, batch_first=True).double(), 10)
    (layer,) = our_stack("lstm", module, 1, False, np.float64)
    x, h0, c0 = rand(11, B, T, D), rand(12, B, H), rand(13, B, H)
    R = [rand(14, B, T, H), rand(15, B, H), rand(16, B, H)]
    with use_backend(backend):
        xo, h0o, c0o = leaf(x), leaf(h0), leaf(c0)
        outs = layer(xo, initial_state=[h0o, c0o], lengths=LENGTHS)
        ours_backward(outs, R)
    xt, h0t, c0t = tleaf(x), tleaf(h0[None]), tleaf(c0[None])
    packed = rnn_utils.pack_padded_sequence(xt, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    yt, (ht, ct) = module(packed, (h0t, c0t))
    yt, _ = rnn_utils.pad_packed_sequence(yt, batch_first=True, total_length=T)
    torch_backward([yt, ht[0], ct[0]], R)
    for name, a, b in zip(("y", "h", "c"), outs, (yt, ht[0], ct[0])):
        close(a, b, name)
    close(xo.grad, xt.grad, "dx")
    close(h0o.grad, h0t.grad[0], "dh0")
    close(c0o.grad, c0t.grad[0], "dc0")


# ---------------------------------------------------------------- Conv1D


@pytest.mark.skipif(not HAS_CONV, reason=NO_CONV)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")  # torch's own note
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize(
    ("padding", "kernel_size", "strides", "dilation"),
    [
        ("valid", 3, 1, 1),
        ("valid", 2, 2, 1),
        ("valid", 3, 1, 2),
        ("same", 3, 1, 1),
        ("same", 4, 1, 1),
        ("same", 3, 1, 2),
    ],
)
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_conv1d_vs_torch(backend, padding, kernel_size, strides, dilation, dtype):
    conv = tnn.Conv1d(D, 2, kernel_size, stride=strides, padding=padding, dilation=dilation)
    conv = randomize(conv.to(torch_dtype(dtype)), 17)
    layer = nn.Conv1D(
        2, kernel_size, strides=strides, padding=padding, dilation_rate=dilation, dtype=np.dtype(dtype).name
    )
    x = rand(18, B, 9, D, dtype=dtype)
    layer(x)
    layer.set_weights([conv.weight.detach().numpy().transpose(2, 1, 0), conv.bias.detach().numpy()])
    xt = tleaf(x)
    yt = conv(xt.transpose(1, 2)).transpose(1, 2)  # torch is channels first
    R = rand(19, *yt.shape)
    torch_backward([yt], [R])
    with use_backend(backend):
        xo = leaf(x)
        y = layer(xo)
        ours_backward([y], [R])
    close(y, yt, "y", dtype)
    close(xo.grad, xt.grad, "dx", dtype)
    close(layer.kernel.grad, conv.weight.grad.permute(2, 1, 0), "dkernel", dtype)
    close(layer.bias.grad, conv.bias.grad, "dbias", dtype)


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_batch_norm_training_vs_torch(backend, rank, dtype):
    """Training mode: batch statistics.  torch's momentum m is Keras's 1 - m."""
    F_ = 4
    bn = randomize(tnn.BatchNorm1d(F_, eps=1e-3, momentum=0.01).to(torch_dtype(dtype)), 20)
    layer = nn.BatchNormalization(momentum=0.99, epsilon=1e-3, dtype=np.dtype(dtype).name)
    shape = (6, F_) if rank == 2 else (B, T, F_)
    x = rand(21, *shape, dtype=dtype, scale=2.0) + np.asarray(0.5, dtype)
    layer(x)
    layer.set_weights([bn.weight.detach().numpy(), bn.bias.detach().numpy(), np.zeros(F_), np.ones(F_)])
    R = rand(22, *shape)
    with use_backend(backend):
        xo = leaf(x)
        y = layer(xo, training=True)
        ours_backward([y], [R])
    bn.train()
    xt = tleaf(x)
    yt = bn(xt) if rank == 2 else bn(xt.transpose(1, 2)).transpose(1, 2)
    torch_backward([yt], [R])
    close(y, yt, "y", dtype)
    close(xo.grad, xt.grad, "dx", dtype)
    close(layer.gamma.grad, bn.weight.grad, "dgamma", dtype)
    close(layer.beta.grad, bn.bias.grad, "dbeta", dtype)
    close(layer.moving_mean.data, bn.running_mean, "moving_mean", dtype)
    # Keras (and seqcore) update the moving variance with the biased batch variance, torch with the unbiased one
    n = x.size // F_
    unbiased = (bn.running_var.detach().numpy() - 0.99) / 0.01
    close(layer.moving_variance.data, 0.99 + 0.01 * unbiased * (n - 1) / n, "moving_variance (biased)", dtype)


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_batch_norm_inference_vs_torch_eval(backend):
    F_ = 4
    bn = randomize(tnn.BatchNorm1d(F_, eps=1e-3).double(), 23)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(F_, dtype=torch.float64))
        bn.running_var.copy_(0.5 + torch.rand(F_, dtype=torch.float64))
    layer = nn.BatchNormalization(epsilon=1e-3, dtype="float64")
    x = rand(24, 6, F_)
    layer(x)
    layer.set_weights([p.detach().numpy() for p in (bn.weight, bn.bias, bn.running_mean, bn.running_var)])
    R = rand(25, 6, F_)
    with use_backend(backend):
        xo = leaf(x)
        y = layer(xo, training=False)
        ours_backward([y], [R])
    bn.eval()
    xt = tleaf(x)
    yt = bn(xt)
    torch_backward([yt], [R])
    close(y, yt, "y")
    close(xo.grad, xt.grad, "dx")
    close(layer.gamma.grad, bn.weight.grad, "dgamma")
    close(layer.beta.grad, bn.bias.grad, "dbeta")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_layer_norm_vs_torch(backend, dtype):
    ln = randomize(tnn.LayerNorm(D, eps=1e-5).to(torch_dtype(dtype)), 26)
    layer = nn.LayerNormalization(epsilon=1e-5, dtype=np.dtype(dtype).name)
    x = rand(27, B, T, D, dtype=dtype, scale=3.0)
    layer(x)
    layer.set_weights([ln.weight.detach().numpy(), ln.bias.detach().numpy()])
    R = rand(28, B, T, D)
    with use_backend(backend):
        xo = leaf(x)
        y = layer(xo)
        ours_backward([y], [R])
    xt = tleaf(x)
    yt = ln(xt)
    torch_backward([yt], [R])
    close(y, yt, "y", dtype)
    close(xo.grad, xt.grad, "dx", dtype)
    close(layer.gamma.grad, ln.weight.grad, "dgamma", dtype)
    close(layer.beta.grad, ln.bias.grad, "dbeta", dtype)


# ---------------------------------------------------------------- losses


def _loss_pair(ours_fn, torch_fn, logits: np.ndarray, backend: str, mask=None, dtype=np.float64):
    with use_backend(backend):
        z = leaf(logits)
        if mask is not None:
            z._mask = mask
        loss = ours_fn(z)
        loss.backward()
    zt = tleaf(logits)
    lt = torch_fn(zt)
    lt.backward()
    assert loss.shape == ()
    close(loss, lt, "loss", dtype)
    close(z.grad, zt.grad, "dlogits", dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_sparse_cross_entropy_vs_torch(backend, dtype):
    logits = rand(30, 6, 5, dtype=dtype, scale=2.0)
    ids = np.random.default_rng(31).integers(0, 5, size=6)
    _loss_pair(
        lambda z: losses.SparseCategoricalCrossentropy(from_logits=True)(ids, z),
        lambda z: TF.cross_entropy(z, torch.tensor(ids)),
        logits,
        backend,
        dtype=dtype,
    )


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_masked_sequence_cross_entropy_vs_ignore_index(backend):
    """A padding mask on [B,T] positions is torch's ignore_index: the mean over the real positions only."""
    C = 5
    logits = rand(32, B, T, C, scale=2.0)
    ids = np.random.default_rng(33).integers(0, C, size=(B, T))
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    ignored = np.where(mask, ids, -100)
    _loss_pair(
        lambda z: losses.SparseCategoricalCrossentropy(from_logits=True)(ids, z),
        lambda z: TF.cross_entropy(z.transpose(1, 2), torch.tensor(ignored), ignore_index=-100),
        logits,
        backend,
        mask=mask,
    )


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_probability_cross_entropy_of_softmax_output_vs_torch(backend):
    """Dense(softmax) output into the probability form: the fused logits path equals torch's cross_entropy."""
    C = 4
    x = rand(34, 6, D)
    dense = nn.Dense(C, activation="softmax", dtype="float64")
    dense(x)
    W, b = rand(35, D, C), rand(36, C)
    dense.set_weights([W, b])
    ids = np.random.default_rng(37).integers(0, C, size=6)
    with use_backend(backend):
        loss = losses.CategoricalCrossentropy()(np.eye(C)[ids], dense(x))
        loss.backward()
        loss_sparse = losses.SparseCategoricalCrossentropy()(ids, dense(x))
    Wt, bt = tleaf(W), tleaf(b)
    lt = TF.cross_entropy(torch.tensor(x) @ Wt + bt, torch.tensor(ids))
    lt.backward()
    close(loss, lt, "loss")
    close(loss_sparse, lt, "sparse loss")
    close(dense.kernel.grad, Wt.grad, "dkernel")
    close(dense.bias.grad, bt.grad, "dbias")


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_label_smoothing_vs_torch(backend):
    C = 5
    logits = rand(38, 7, C, scale=2.0)
    ids = np.random.default_rng(39).integers(0, C, size=7)
    _loss_pair(
        lambda z: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(np.eye(C)[ids], z),
        lambda z: TF.cross_entropy(z, torch.tensor(ids), label_smoothing=0.1),
        logits,
        backend,
    )


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_sample_weighted_cross_entropy_vs_torch(backend):
    """Keras's sum_over_batch_size: sum(loss * weight) / number of samples (not / sum of weights)."""
    C = 4
    logits = rand(40, 6, C)
    ids = np.random.default_rng(41).integers(0, C, size=6)
    w = np.random.default_rng(42).uniform(0, 2, size=6)
    _loss_pair(
        lambda z: losses.SparseCategoricalCrossentropy(from_logits=True)(ids, z, sample_weight=w),
        lambda z: (TF.cross_entropy(z, torch.tensor(ids), reduction="none") * torch.tensor(w)).mean(),
        logits,
        backend,
    )


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_binary_cross_entropy_vs_torch(backend):
    logits = rand(43, 6, 3, scale=3.0)
    targets = np.random.default_rng(44).uniform(0, 1, size=(6, 3))
    _loss_pair(
        lambda z: losses.BinaryCrossentropy(from_logits=True)(targets, z),
        lambda z: TF.binary_cross_entropy_with_logits(z, torch.tensor(targets)),
        logits,
        backend,
    )
    probs = 1 / (1 + np.exp(-logits))
    _loss_pair(
        lambda p: losses.BinaryCrossentropy()(targets, p),
        lambda p: TF.binary_cross_entropy(p, torch.tensor(targets)),
        probs,
        backend,
    )
