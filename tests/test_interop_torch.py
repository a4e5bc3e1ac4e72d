"""seqcore.interop.torch: torch state_dicts into and out of seqcore models (float64, checked numerically)."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore import kernels as K
from seqcore.interop import load_torch_state_dict, torch_state_dict
from test_interop_fakes import (
    FakeModel,
    assert_same_weights,
    bidirectional,
    dense,
    fake,
    recurrent,
    zeros_like_layer,
)

torch = pytest.importorskip("torch")
nn = torch.nn

RTOL, ATOL = 1e-10, 1e-12
KEYS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
TORCH_RNN = {"LSTM": nn.LSTM, "GRU": nn.GRU, "SimpleRNN": nn.RNN}
B, T, D, H = 3, 5, 4, 6


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """float64 with every parameter and buffer random (biases distinct in ih and hh; variances positive)."""
    torch.manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn_like(p))
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    return module.eval()


def close(actual, expected, what: str) -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def empty_recurrent(kind: str, name: str, d: int, h: int, reset_after: bool = True):
    return zeros_like_layer(recurrent(kind, name, d, h, np.random.default_rng(0), reset_after=reset_after))


def empty_bidirectional(kind: str, name: str, d: int, h: int):
    return zeros_like_layer(bidirectional(kind, name, d, h, np.random.default_rng(0)))


def run_direction(kind: str, x: np.ndarray, weights: list[np.ndarray], reverse: bool = False) -> np.ndarray:
    """y [B,T,H] of one seqcore recurrent layer with zero initial state."""
    h0 = np.zeros((x.shape[0], weights[1].shape[0]))
    if kind == "LSTM":
        return K.lstm_forward(x, h0, h0, *weights, reverse=reverse)[0]
    if kind == "GRU":
        return K.gru_forward(x, h0, *weights, reset_after=weights[2].ndim == 2, reverse=reverse)[0]
    return K.rnn_forward(x, h0, *weights, reverse=reverse)[0]


def run_stack(kind: str, layers: list, x: np.ndarray, bidir: bool) -> np.ndarray:
    for layer in layers:
        if bidir:
            fwd = run_direction(kind, x, layer.forward_layer.get_weights())
            bwd = run_direction(kind, x, layer.backward_layer.get_weights(), reverse=True)
            x = np.concatenate([fwd, bwd], axis=-1)
        else:
            x = run_direction(kind, x, layer.get_weights())
    return x


# ---------------------------------------------------------------- (a) torch -> ours, numerically


@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_two_layer_rnn_reproduces_torch(kind, bidir):
    extra = {"nonlinearity": "tanh"} if kind == "SimpleRNN" else {}
    module = randomize(TORCH_RNN[kind](D, H, num_layers=2, batch_first=True, bidirectional=bidir, **extra), seed=1)
    width = 2 * H if bidir else H
    make = empty_bidirectional if bidir else empty_recurrent
    layers = [make(kind, "rnn0", D, H), make(kind, "rnn1", width, H)]
    model = FakeModel(layers)

    load_torch_state_dict(model, module.state_dict())  # by order: torch layer 0, then layer 1

    x = np.random.default_rng(2).standard_normal((B, T, D))
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0]
    close(run_stack(kind, layers, x, bidir), expected, f"{kind} bidirectional={bidir}")

    again = FakeModel([zeros_like_layer(layer) for layer in layers])
    load_torch_state_dict(again, module.state_dict(), mapping={"rnn0": ("", 0), "rnn1": ("", 1)})
    for a, b in zip(layers, again.layers):
        assert_same_weights(a, b)


def test_model_with_every_layer_kind_reproduces_torch():
    """Embedding -> Conv1d -> BatchNorm1d -> LayerNorm -> LSTM -> Linear, loaded by order and by mapping."""
    V, E, F, Kw = 11, 4, 5, 3

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(V, E)
            self.conv = nn.Conv1d(E, F, Kw)
            self.bn = nn.BatchNorm1d(F)
            self.ln = nn.LayerNorm(F)
            self.rnn = nn.LSTM(F, H, batch_first=True)
            self.fc = nn.Linear(H, 2)

        def forward(self, tokens):
            x = self.emb(tokens).transpose(1, 2)  # [B,E,T]
            x = self.bn(self.conv(x)).transpose(1, 2)  # [B,T',F]
            y, _ = self.rnn(self.ln(x))
            return self.fc(y)

    net = randomize(Net(), seed=3)
    zeros = np.zeros
    layers = [
        fake("Embedding", "embedding", [zeros((V, E))]),
        fake("Conv1D", "conv1d", [zeros((Kw, E, F)), zeros(F)]),
        fake("BatchNormalization", "batch_normalization", [zeros(F)] * 4),
        fake("LayerNormalization", "layer_normalization", [zeros(F)] * 2),
        empty_recurrent("LSTM", "lstm", F, H),
        fake("Dense", "dense", [zeros((H, 2)), zeros(2)], units=2, use_bias=True),
    ]
    model = FakeModel(layers)
    load_torch_state_dict(model, net.state_dict())

    tokens = np.random.default_rng(4).integers(0, V, size=(B, T + Kw))
    with torch.no_grad():
        expected = net(torch.from_numpy(tokens))

    emb, conv, bn, ln, lstm, fc = (layer.get_weights() for layer in layers)
    x = emb[0][tokens]  # [B,T+K-1,E]
    windows = np.stack([x[:, k : k + T + 1] for k in range(Kw)], axis=2)  # [B,T',K,E]
    x = np.einsum("btkc,kcf->btf", windows, conv[0]) + conv[1]
    gamma, beta, mean, var = bn
    x = (x - mean) / np.sqrt(var + net.bn.eps) * gamma + beta
    mu, sigma2 = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    x = (x - mu) / np.sqrt(sigma2 + net.ln.eps) * ln[0] + ln[1]
    y = run_direction("LSTM", x, lstm) @ fc[0] + fc[1]
    close(y, expected, "Embedding/Conv1D/BN/LN/LSTM/Dense")

    again = FakeModel([zeros_like_layer(layer) for layer in layers])
    mapping = dict(zip((layer.name for layer in layers), ("emb", "conv", "bn", "ln", "rnn", "fc")))
    load_torch_state_dict(again, net.state_dict(), mapping=mapping)
    for a, b in zip(layers, again.layers):
        assert_same_weights(a, b)


def test_single_layer_takes_a_bare_state_dict_and_tensors_or_arrays():
    module = randomize(nn.GRU(D, H, batch_first=True), seed=5)
    layer = empty_recurrent("GRU", "gru", D, H)
    as_numpy = {k: v.numpy() for k, v in module.state_dict().items()}
    load_torch_state_dict(layer, as_numpy)
    x = np.random.default_rng(6).standard_normal((B, T, D))
    with torch.no_grad():
        close(run_direction("GRU", x, layer.get_weights()), module(torch.from_numpy(x))[0], "GRU from NumPy")
    other = empty_recurrent("GRU", "gru", D, H)
    load_torch_state_dict(other, module.state_dict())
    assert_same_weights(layer, other)


def test_float32_state_dict_is_cast_to_the_layer_dtype():
    module = nn.Linear(D, 3)
    layer = fake("Dense", "dense", [np.zeros((D, 3)), np.zeros(3)])
    load_torch_state_dict(layer, module.state_dict())
    kernel, bias = layer.get_weights()
    assert kernel.dtype == np.float64
    np.testing.assert_array_equal(kernel, module.weight.detach().numpy().T.astype(np.float64))


def test_torch_without_biases_loads_zero_biases():
    module = randomize(nn.LSTM(D, H, bias=False, batch_first=True), seed=7)
    layer = recurrent("LSTM", "lstm", D, H, np.random.default_rng(1))
    load_torch_state_dict(layer, module.state_dict())
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(4 * H))
    x = np.random.default_rng(8).standard_normal((B, T, D))
    with torch.no_grad():
        close(run_direction("LSTM", x, layer.get_weights()), module(torch.from_numpy(x))[0], "LSTM bias=False")


# ---------------------------------------------------------------- (b) ours -> torch, round trip exact


def test_export_loads_into_torch_and_round_trips_exactly():
    rng = np.random.default_rng(9)
    layers = [
        bidirectional("LSTM", "bi", D, H, rng),
        recurrent("GRU", "gru", 2 * H, H, rng, reset_after=True),
        recurrent("SimpleRNN", "srnn", H, H, rng),
        dense("dense", H, 3, rng),
        dense("logits", 3, 2, rng, use_bias=False),
    ]
    model = FakeModel(layers)
    mapping = {"bi": "lstm", "gru": "gru", "srnn": "rnn", "dense": "fc", "logits": "out"}
    sd = torch_state_dict(model, mapping)
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert sd["lstm.weight_ih_l0_reverse"].shape == (4 * H, D)
    np.testing.assert_array_equal(sd["lstm.bias_hh_l0"], np.zeros(4 * H))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(D, H, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(2 * H, H, batch_first=True)
            self.rnn = nn.RNN(H, H, batch_first=True)
            self.fc = nn.Linear(H, 3)
            self.out = nn.Linear(3, 2, bias=False)

        def forward(self, x):
            return self.out(self.fc(self.rnn(self.gru(self.lstm(x)[0])[0])[0]))

    net = Net().double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})  # strict: every key, no extra

    x = np.random.default_rng(10).standard_normal((B, T, D))
    bi = layers[0]
    y = np.concatenate(
        [
            run_direction("LSTM", x, bi.forward_layer.get_weights()),
            run_direction("LSTM", x, bi.backward_layer.get_weights(), reverse=True),
        ],
        axis=-1,
    )
    y = run_direction("SimpleRNN", run_direction("GRU", y, layers[1].get_weights()), layers[2].get_weights())
    y = (y @ layers[3].get_weights()[0] + layers[3].get_weights()[1]) @ layers[4].get_weights()[0]
    with torch.no_grad():
        close(y, net(torch.from_numpy(x)), "exported model in torch")

    back = FakeModel([zeros_like_layer(layer) for layer in layers])
    load_torch_state_dict(back, net.state_dict(), mapping=mapping)
    for a, b in zip(layers, back.layers):
        assert_same_weights(a, b)


def test_export_names_and_multi_layer_mapping():
    rng = np.random.default_rng(11)
    l0, l1 = recurrent("LSTM", "l0", D, H, rng), recurrent("LSTM", "l1", H, H, rng)
    bn = fake("BatchNormalization", "bn", [rng.standard_normal(H), rng.standard_normal(H), np.zeros(H), np.ones(H)])
    model = FakeModel([l0, l1, bn])
    assert list(torch_state_dict(model))[:4] == ["l0.weight_ih_l0", "l0.weight_hh_l0", "l0.bias_ih_l0", "l0.bias_hh_l0"]
    assert "bn.num_batches_tracked" in torch_state_dict(model)
    assert list(torch_state_dict(l0)) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]

    sd = torch_state_dict(model, {"l0": ("rnn", 0), "l1": ("rnn", 1), "bn": "norm"})
    rnn = nn.LSTM(D, H, num_layers=2, batch_first=True).double()
    rnn.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in sd.items() if k.startswith("rnn.")})
    norm = nn.BatchNorm1d(H).double()
    norm.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in sd.items() if k.startswith("norm.")})
    np.testing.assert_array_equal(norm.weight.detach().numpy(), bn.get_weights()[0])

    with pytest.raises(
        ValueError, match=r"'l0' \(LSTM\) and 'l1' \(LSTM\) would both write torch key 'rnn.weight_ih_l0'"
    ):
        torch_state_dict(model, {"l0": "rnn", "l1": "rnn"})


def test_gru_reset_after_false_cannot_be_exported():
    layer = recurrent("GRU", "old_gru", D, H, np.random.default_rng(12), reset_after=False)
    with pytest.raises(ValueError, match=r"'old_gru' \(GRU\).*reset_after=False.*no torch equivalent"):
        torch_state_dict(layer)
    with pytest.raises(ValueError, match=r"'old_gru' \(GRU\).*reset_after=False"):
        load_torch_state_dict(layer, nn.GRU(D, H).state_dict())


# ---------------------------------------------------------------- (d) clear errors


def test_shape_mismatch_names_layer_key_and_both_shapes():
    layer = empty_recurrent("LSTM", "lstm", D, H)
    sd = nn.LSTM(D, H + 1).state_dict()
    with pytest.raises(ValueError) as err:
        load_torch_state_dict(FakeModel([layer]), sd, mapping={"lstm": ""})
    msg = str(err.value)
    assert "'lstm' (LSTM)" in msg and "'weight_ih_l0'" in msg
    assert f"({4 * (H + 1)}, {D})" in msg and f"({4 * H}, {D})" in msg


def test_order_matching_refuses_kind_and_count_mismatches():
    rng = np.random.default_rng(13)
    model = FakeModel([recurrent("LSTM", "lstm", D, H, rng), dense("dense", H, 2, rng)])
    swapped = {**{f"fc.{k}": v for k, v in nn.Linear(H, 2).state_dict().items()}}
    swapped.update({f"rnn.{k}": v for k, v in nn.LSTM(D, H).state_dict().items()})
    with pytest.raises(ValueError, match=r"'lstm' \(LSTM\) is paired with torch module 'fc'.*Linear.*mapping"):
        load_torch_state_dict(model, swapped)
    with pytest.raises(ValueError, match=r"2 weighted layers .* 1 torch modules"):
        load_torch_state_dict(model, nn.LSTM(D, H).state_dict())
    gru = {f"rnn.{k}": v for k, v in nn.GRU(D, H).state_dict().items()}
    gru.update({f"fc.{k}": v for k, v in nn.Linear(H, 2).state_dict().items()})
    with pytest.raises(ValueError, match=r"looks like a GRU, not a unidirectional LSTM"):
        load_torch_state_dict(model, gru)
    bi = {f"rnn.{k}": v for k, v in nn.LSTM(D, H, bidirectional=True).state_dict().items()}
    bi.update({f"fc.{k}": v for k, v in nn.Linear(2 * H, 2).state_dict().items()})
    with pytest.raises(ValueError, match=r"bidirectional LSTM, not a unidirectional LSTM"):
        load_torch_state_dict(model, bi)


def test_strict_lists_unused_keys_and_nothing_changes_on_error():
    rng = np.random.default_rng(14)
    layer = dense("dense", D, 3, rng, use_bias=False)
    before = layer.get_weights()
    sd = {"fc.weight": np.ones((3, D)), "fc.bias": np.ones(3), "extra.weight": np.ones(2)}
    with pytest.raises(ValueError, match=r"not used by any layer.*\['fc.bias', 'extra.weight'\]"):
        load_torch_state_dict(FakeModel([layer]), sd, mapping={"dense": "fc"})
    assert_same_weights(layer, fake("Dense", "dense", before))
    load_torch_state_dict(FakeModel([layer]), sd, mapping={"dense": "fc"}, strict=False)
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((D, 3)))


def test_mapping_errors():
    rng = np.random.default_rng(15)
    model = FakeModel([recurrent("LSTM", "lstm", D, H, rng), dense("dense", H, 2, rng)])
    sd = {f"rnn.{k}": v for k, v in nn.LSTM(D, H).state_dict().items()}
    with pytest.raises(ValueError, match=r"mapping names layer 'nope'.*\['lstm', 'dense'\]"):
        load_torch_state_dict(model, sd, mapping={"nope": "rnn"})
    with pytest.raises(TypeError, match=r"mapping\['lstm'\] must be a torch prefix"):
        load_torch_state_dict(model, sd, mapping={"lstm": ("rnn", "0")})
    with pytest.raises(ValueError, match=r"layer index applies only to recurrent layers"):
        load_torch_state_dict(model, sd, mapping={"dense": ("fc", 1)})
    with pytest.raises(ValueError, match=r"'dense' \(Dense\): the state_dict has no torch module 'dense'"):
        load_torch_state_dict(model, sd, mapping={"lstm": "rnn"})
    load_torch_state_dict(model, sd, mapping={"lstm": "rnn"}, strict=False)  # dense left as it is
    with pytest.raises(ValueError, match=r"no torch module 'rnn' layer 1"):
        load_torch_state_dict(model, sd, mapping={"lstm": ("rnn", 1)}, strict=False)


def test_missing_key_and_unsupported_layer():
    layer = empty_recurrent("SimpleRNN", "rnn", D, H)
    sd = dict(nn.RNN(D, H).state_dict())
    del sd["weight_hh_l0"]
    with pytest.raises(ValueError, match=r"'rnn' \(SimpleRNN\): torch key 'weight_hh_l0' is missing.*\(6, 6\)"):
        load_torch_state_dict(layer, sd, mapping={"rnn": ""})
    odd = fake("Attention", "att", [np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"'att' \(Attention\) has no torch counterpart"):
        torch_state_dict(odd)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        load_torch_state_dict(layer, [1, 2])


def test_importing_interop_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, seqcore.interop; assert 'torch' not in sys.modules and 'h5py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ})
