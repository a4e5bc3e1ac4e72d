"""seqcore.interop end to end with real seqcore layers and models (not fakes): same predictions after every trip.

- torch nn.LSTM/GRU/RNN(num_layers=2, bidirectional=True) + nn.Linear -> a seqcore Bidirectional stack + Dense
  through ``load_torch_state_dict``, and back through ``torch_state_dict`` into a fresh torch module.
- Keras 3 models saved as legacy full-model ``.h5``, ``.weights.h5`` and ``.keras`` -> ``load_keras_weights``
  into the equivalent seqcore model; and a seqcore model -> ``write_keras_weights`` -> Keras ``load_weights``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from seqcore import kernels as K
from seqcore import nn
from seqcore.autograd import no_grad
from seqcore.interop import load_keras_weights, load_torch_state_dict, torch_state_dict, write_keras_weights

torch = pytest.importorskip("torch")
tnn = torch.nn
rnn_utils = torch.nn.utils.rnn
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # keras / h5py noise

HAS_CONV = hasattr(K, "conv1d_forward")
NO_CONV = "seqcore.kernels lacks conv1d_forward (the conv1d kernel has not landed yet)"
B, T, D, H, O = 3, 6, 4, 5, 2
LENGTHS = np.array([6, 3, 5])


def predict(model, x, **kwargs) -> np.ndarray:
    with no_grad():
        return np.asarray(model(x, **kwargs).data)


# ---------------------------------------------------------------- PyTorch

TORCH_RNN = {"lstm": tnn.LSTM, "gru": tnn.GRU, "rnn": tnn.RNN}
OUR_RNN = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.SimpleRNN}


class TorchNet(tnn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.rnn = TORCH_RNN[kind](D, H, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = tnn.Linear(2 * H, O)

    def forward(self, x, lengths=None):
        if lengths is None:
            y, _ = self.rnn(x)
        else:
            packed = rnn_utils.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
            y, _ = self.rnn(packed)
            y, _ = rnn_utils.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.fc(y)


def torch_net(kind: str, seed: int, dtype=torch.float64) -> TorchNet:
    torch.manual_seed(seed)
    net = TorchNet(kind).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.4 * torch.randn_like(p))
    return net.eval()


def our_net(kind: str, dtype: str = "float64") -> nn.Model:
    inp = nn.Input((None, D), dtype=dtype)
    x = nn.Bidirectional(OUR_RNN[kind](H, return_sequences=True, dtype=dtype), name="bi1", dtype=dtype)(inp)
    x = nn.Bidirectional(OUR_RNN[kind](H, return_sequences=True, dtype=dtype), name="bi2", dtype=dtype)(x)
    return nn.Model(inp, nn.Dense(O, name="head", dtype=dtype)(x))


MAPPING = {"bi1": ("rnn", 0), "bi2": ("rnn", 1), "head": "fc"}


def run_torch(net, x, lengths=None) -> np.ndarray:
    with torch.no_grad():
        return net(torch.tensor(x), lengths).numpy()


def run_ours_with_lengths(model, x, lengths) -> np.ndarray:
    """The model's layers called one by one with explicit lengths (packed sequences in torch)."""
    h = x
    with no_grad():
        for name in ("bi1", "bi2"):
            h = model.get_layer(name)(h, lengths=lengths)
        return np.asarray(model.get_layer("head")(h).data)


@pytest.mark.parametrize("mapping", [MAPPING, None], ids=["mapping", "in_order"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_torch_to_seqcore(kind, mapping):
    net = torch_net(kind, seed=1)
    model = our_net(kind)
    before = [w.copy() for w in model.get_weights()]
    load_torch_state_dict(model, net.state_dict(), mapping=mapping)
    assert not np.allclose(before[0], model.get_weights()[0])
    x = np.random.default_rng(2).standard_normal((B, T, D))
    np.testing.assert_allclose(predict(model, x), run_torch(net, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        run_ours_with_lengths(model, x, LENGTHS), run_torch(net, x, LENGTHS), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_seqcore_to_torch(kind):
    model = our_net(kind)
    rng = np.random.default_rng(3)
    model.set_weights([0.4 * rng.standard_normal(w.shape) for w in model.get_weights()])
    state = torch_state_dict(model, mapping=MAPPING)
    net = torch_net(kind, seed=4)
    assert sorted(state) == sorted(net.state_dict())
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(5).standard_normal((B, T, D))
    np.testing.assert_allclose(run_torch(net, x), predict(model, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        run_torch(net, x, LENGTHS), run_ours_with_lengths(model, x, LENGTHS), rtol=1e-10, atol=1e-12
    )
    # and back again: the round trip reproduces our weights exactly
    other = our_net(kind)
    load_torch_state_dict(other, net.state_dict(), mapping=MAPPING)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-15)


def test_float32_torch_into_float32_model():
    net = torch_net("lstm", seed=6, dtype=torch.float32)
    model = our_net("lstm", dtype="float32")
    load_torch_state_dict(model, net.state_dict(), mapping=MAPPING)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    x = np.random.default_rng(7).standard_normal((B, T, D)).astype(np.float32)
    np.testing.assert_allclose(predict(model, x), run_torch(net, x), rtol=1e-5, atol=1e-6)


def test_float64_torch_state_into_float32_model_is_cast():
    net = torch_net("gru", seed=8)
    model = our_net("gru", dtype="float32")
    load_torch_state_dict(model, net.state_dict(), mapping=MAPPING)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    x = np.random.default_rng(9).standard_normal((B, T, D))
    np.testing.assert_allclose(predict(model, x.astype(np.float32)), run_torch(net, x), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not HAS_CONV, reason=NO_CONV)
def test_torch_conv_norm_embedding_model():
    """Embedding -> Conv1d -> BatchNorm1d (eval) -> LayerNorm -> Linear, channels moved where torch wants them."""
    V, E, F_ = 11, 4, 5

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(V, E)
            self.conv = tnn.Conv1d(E, F_, 3, padding=1)
            self.bn = tnn.BatchNorm1d(F_, eps=1e-3)
            self.ln = tnn.LayerNorm(F_, eps=1e-3)
            self.fc = tnn.Linear(F_, O)

        def forward(self, ids):
            h = self.conv(self.emb(ids).transpose(1, 2))
            return self.fc(self.ln(self.bn(h).transpose(1, 2)))

    torch.manual_seed(10)
    net = Net().double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn_like(p))
        net.bn.running_mean.copy_(torch.randn(F_, dtype=torch.float64))
        net.bn.running_var.copy_(0.5 + torch.rand(F_, dtype=torch.float64))
    model = nn.Sequential(
        [
            nn.Input((T,), dtype="int64"),
            nn.Embedding(V, E, dtype="float64"),
            nn.Conv1D(F_, 3, padding="same", dtype="float64"),
            nn.BatchNormalization(epsilon=1e-3, dtype="float64"),
            nn.LayerNormalization(epsilon=1e-3, dtype="float64"),
            nn.Dense(O, dtype="float64"),
        ]
    )
    load_torch_state_dict(model, net.state_dict())  # pairing by order, kinds checked
    ids = np.random.default_rng(11).integers(0, V, size=(B, T))
    with torch.no_grad():
        expected = net(torch.tensor(ids)).numpy()
    np.testing.assert_allclose(predict(model, ids), expected, rtol=1e-10, atol=1e-12)
    back = Net().double().eval()
    mapping = dict(zip((layer.name for layer in model.layers), ("emb", "conv", "bn", "ln", "fc")))
    state = torch_state_dict(model, mapping=mapping)
    assert sorted(state) == sorted(net.state_dict())
    back.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.tensor(ids)).numpy(), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- Keras


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
    keras = pytest.importorskip("keras")
    pytest.importorskip("h5py")
    if keras.backend.backend() != "torch":  # pragma: no cover
        pytest.skip(f"keras runs on {keras.backend.backend()}, these tests want torch")
    yield keras
    keras.backend.clear_session()  # automatic layer names back to 'lstm', ... for other modules' tests


V, E, C = 13, 4, 3
IDS = np.array([[3, 1, 2, 5, 0, 0], [2, 4, 7, 1, 9, 12], [6, 0, 0, 0, 0, 0]])  # post-padded with id 0


def keras_recurrent(keras, seed: int):
    L = keras.layers
    tokens = keras.Input((T,), dtype="int32")
    x = L.Embedding(V, E, mask_zero=True)(tokens)
    x = L.Bidirectional(L.GRU(H, return_sequences=True))(x)
    x = L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode="sum")(x)
    x = L.GRU(H, reset_after=False, return_sequences=True)(x)
    x = L.SimpleRNN(H)(x)
    model = keras.Model(tokens, L.Dense(C, activation="softmax")(x))
    randomize_keras(model, seed)
    return model


def our_recurrent():
    tokens = nn.Input((T,), dtype="int32")
    x = nn.Embedding(V, E, mask_zero=True)(tokens)
    x = nn.Bidirectional(nn.GRU(H, return_sequences=True))(x)
    x = nn.Bidirectional(nn.LSTM(H, return_sequences=True), merge_mode="sum")(x)
    x = nn.GRU(H, reset_after=False, return_sequences=True)(x)
    x = nn.SimpleRNN(H)(x)
    return nn.Model(tokens, nn.Dense(C, activation="softmax")(x))


def keras_conv(keras, seed: int):
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            L.Embedding(V, E),
            L.Conv1D(5, 3, padding="causal", activation="relu"),
            L.BatchNormalization(),
            L.LayerNormalization(),
            L.TimeDistributed(L.Dense(4, activation="tanh")),
            L.LSTM(H),
            L.Dense(C),
        ]
    )
    randomize_keras(model, seed)
    return model


def our_conv():
    return nn.Sequential(
        [
            nn.Input((T,), dtype="int32"),
            nn.Embedding(V, E),
            nn.Conv1D(5, 3, padding="causal", activation="relu"),
            nn.BatchNormalization(),
            nn.LayerNormalization(),
            nn.TimeDistributed(nn.Dense(4, activation="tanh")),
            nn.LSTM(H),
            nn.Dense(C),
        ]
    )


def randomize_keras(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in weights])
        elif weights:
            layer.set_weights([(0.6 * rng.standard_normal(w.shape)).astype(w.dtype) for w in weights])


MODELS = {"recurrent": (keras_recurrent, our_recurrent), "conv": (keras_conv, our_conv)}


def _models(keras, which: str, seed: int):
    if which == "conv" and not HAS_CONV:
        pytest.skip(NO_CONV)
    make_keras, make_ours = MODELS[which]
    kmodel = make_keras(keras, seed)
    return kmodel, make_ours()


def keras_predict(keras, kmodel, ids) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(kmodel(ids, training=False)))


@pytest.mark.parametrize("fmt", ["model.h5", "model.weights.h5", "model.keras"])
@pytest.mark.parametrize("which", list(MODELS))
def test_keras_file_into_seqcore(keras, tmp_path, which, fmt):
    kmodel, ours = _models(keras, which, seed=20)
    path = tmp_path / fmt
    if fmt == "model.weights.h5":
        kmodel.save_weights(path)
    else:
        kmodel.save(path)
    load_keras_weights(ours, path)
    expected = keras_predict(keras, kmodel, IDS)
    np.testing.assert_allclose(predict(ours, IDS), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which", list(MODELS))
def test_legacy_h5_by_name(keras, tmp_path, which):
    kmodel, _ = _models(keras, which, seed=21)
    path = tmp_path / "model.h5"
    kmodel.save(path)
    ours = MODELS[which][1]()
    mine, theirs = ([layer for layer in m.layers if type(layer).__name__ != "InputLayer"] for m in (ours, kmodel))
    assert [type(a).__name__ for a in mine] == [type(b).__name__ for b in theirs]
    for a, b in reversed(list(zip(mine, theirs))):  # Keras's names, so by_name pairs them (and order cannot)
        a.name = b.name
    load_keras_weights(ours, path, by_name=True)
    np.testing.assert_allclose(predict(ours, IDS), keras_predict(keras, kmodel, IDS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which", list(MODELS))
def test_seqcore_to_keras(keras, tmp_path, which):
    kmodel, ours = _models(keras, which, seed=22)
    ours(IDS)
    rng = np.random.default_rng(23)
    for layer in ours.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in weights])
        elif weights:
            layer.set_weights([0.6 * rng.standard_normal(w.shape) for w in weights])
    path = tmp_path / "ours.h5"
    write_keras_weights(path, ours)
    kmodel.load_weights(path)
    np.testing.assert_allclose(keras_predict(keras, kmodel, IDS), predict(ours, IDS), rtol=1e-5, atol=1e-6)
    # and seqcore reads its own file back into a fresh model
    fresh = MODELS[which][1]()
    load_keras_weights(fresh, path)
    for a, b in zip(fresh.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- normalization without gamma or beta


def _norm_model(dtype: str = "float64") -> nn.Sequential:
    return nn.Sequential(
        [
            nn.Input((T, D), dtype=dtype),
            nn.BatchNormalization(scale=False, epsilon=1e-3, dtype=dtype),
            nn.LayerNormalization(center=False, epsilon=1e-3, dtype=dtype),
            nn.Dense(O, dtype=dtype),
        ]
    )


class TorchNorm(tnn.Module):
    def __init__(self):
        super().__init__()
        self.bn = tnn.BatchNorm1d(D, eps=1e-3)
        self.ln = tnn.LayerNorm(D, eps=1e-3, bias=False)
        self.fc = tnn.Linear(D, O)

    def forward(self, x):
        return self.fc(self.ln(self.bn(x.transpose(1, 2)).transpose(1, 2)))


def test_torch_round_trip_without_gamma_or_beta():
    """BatchNormalization(scale=False) <-> BatchNorm1d with weight 1; LayerNormalization(center=False) <->
    LayerNorm(bias=False)."""
    model = _norm_model()
    assert [len(layer.get_weights()) for layer in model.layers] == [3, 1, 2]
    rng = np.random.default_rng(30)
    model.layers[0].set_weights([rng.standard_normal(D), rng.standard_normal(D), rng.uniform(0.5, 1.5, D)])
    model.layers[1].set_weights([rng.standard_normal(D)])
    model.layers[2].set_weights([rng.standard_normal((D, O)), rng.standard_normal(O)])

    def mapping(m):
        return dict(zip((layer.name for layer in m.layers), ("bn", "ln", "fc")))

    state = torch_state_dict(model, mapping=mapping(model))
    net = TorchNorm().double().eval()
    assert sorted(state) == sorted(net.state_dict())
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, strict=True)
    x = rng.standard_normal((B, T, D))
    with torch.no_grad():
        expected = net(torch.tensor(x)).numpy()
    np.testing.assert_allclose(predict(model, x), expected, rtol=1e-10, atol=1e-12)
    fresh = _norm_model()
    load_torch_state_dict(fresh, net.state_dict(), mapping=mapping(fresh))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with torch.no_grad():
        net.bn.weight.mul_(2.0)  # a scale the layer cannot hold
    with pytest.raises(ValueError, match="scale=False"):
        load_torch_state_dict(fresh, net.state_dict(), mapping=mapping(fresh))


def test_keras_round_trip_without_gamma_or_beta(keras, tmp_path):
    L = keras.layers
    kmodel = keras.Sequential(
        [
            keras.Input((T, D)),
            L.BatchNormalization(center=False),
            L.LayerNormalization(scale=False),
            L.BatchNormalization(scale=False, center=False),
            L.Dense(O),
        ]
    )
    randomize_keras(kmodel, 31)
    ours = nn.Sequential(
        [
            nn.Input((T, D)),
            nn.BatchNormalization(center=False),
            nn.LayerNormalization(scale=False),
            nn.BatchNormalization(scale=False, center=False),
            nn.Dense(O),
        ]
    )
    x = np.random.default_rng(32).standard_normal((B, T, D)).astype(np.float32)
    for fmt in ("model.h5", "model.weights.h5"):
        path = tmp_path / fmt
        kmodel.save_weights(path) if fmt.endswith(".weights.h5") else kmodel.save(path)
        load_keras_weights(ours, path)
        expected = np.asarray(keras.ops.convert_to_numpy(kmodel(x, training=False)))
        np.testing.assert_allclose(predict(ours, x), expected, rtol=1e-5, atol=1e-6, err_msg=fmt)
    rng = np.random.default_rng(33)
    for layer in ours.layers:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    write_keras_weights(tmp_path / "ours.h5", ours)
    kmodel.load_weights(tmp_path / "ours.h5")
    expected = np.asarray(keras.ops.convert_to_numpy(kmodel(x, training=False)))
    np.testing.assert_allclose(predict(ours, x), expected, rtol=1e-5, atol=1e-6)


def test_torch_batch_norm_without_affine():
    bn = tnn.BatchNorm1d(D, eps=1e-3, affine=False).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(D, dtype=torch.float64))
        bn.running_var.copy_(0.5 + torch.rand(D, dtype=torch.float64))
    layer = nn.BatchNormalization(scale=False, center=False, epsilon=1e-3, dtype="float64")
    x = np.random.default_rng(34).standard_normal((B, D))
    layer(x)
    assert len(layer.get_weights()) == 2
    load_torch_state_dict(layer, bn.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose(predict(layer, x), bn(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
    assert sorted(torch_state_dict(layer)) == sorted(bn.state_dict())


def test_keras_weight_names_without_gamma_or_beta():
    from seqcore.interop import keras_weight_names

    ln = nn.LayerNormalization(scale=False, name="ln")
    ln(np.zeros((1, D)))
    bn = nn.BatchNormalization(center=False, name="bn")
    bn(np.zeros((1, D)))
    assert keras_weight_names(ln) == ["ln/beta"]
    assert keras_weight_names(bn) == ["bn/gamma", "bn/moving_mean", "bn/moving_variance"]
