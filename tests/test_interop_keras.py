"""seqcore.interop.keras_h5 against real Keras 3 files (torch backend): read, load, write, and clear errors."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from seqcore import kernels as K
from seqcore.interop import keras_weight_names, load_keras_weights, read_keras_weights, write_keras_weights
from test_interop_fakes import Bidirectional, FakeModel, assert_same_weights, fake

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")
if keras.backend.backend() != "torch":  # pragma: no cover - keras was imported earlier with another backend
    pytest.skip(f"keras runs on {keras.backend.backend()}, these tests want torch", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # keras's own noise
L = keras.layers
T, V, E, F, H = 6, 13, 4, 5, 3


def build_keras(seed: int) -> keras.Model:
    """One model with every supported layer kind, random weights (positive BN variances)."""
    tokens = keras.Input((T,), dtype="int32", name="tokens")
    x = L.Embedding(V, E, name="emb")(tokens)
    x = L.Conv1D(F, 3, padding="same", name="conv")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.Bidirectional(L.LSTM(H, return_sequences=True), name="bi")(x)
    x = L.GRU(H, return_sequences=True, reset_after=True, name="gru_after")(x)
    x = L.GRU(H, return_sequences=True, reset_after=False, name="gru_before")(x)
    x = L.SimpleRNN(H, return_sequences=True, name="srnn")(x)
    x = L.Bidirectional(L.GRU(H, return_sequences=True, reset_after=False), name="bi_gru")(x)
    x = L.Dense(4, name="dense")(x)
    x = L.Dense(2, use_bias=False, name="logits")(x)
    model = keras.Model(tokens, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in weights])
        elif weights:
            layer.set_weights([rng.standard_normal(w.shape).astype(w.dtype) for w in weights])
    return model


def mirror(layer, copy: bool = False):
    """A fake seqcore layer shaped like a Keras layer (zeros, or a copy of its weights)."""
    if isinstance(layer, L.Bidirectional):
        return Bidirectional(layer.name, mirror(layer.forward_layer, copy), mirror(layer.backward_layer, copy))
    weights = [w if copy else np.zeros_like(w) for w in layer.get_weights()]
    attrs = {"reset_after": layer.reset_after} if isinstance(layer, L.GRU) else {}
    return fake(type(layer).__name__, layer.name, weights, **attrs)


def mirror_model(model: keras.Model, copy: bool = False) -> FakeModel:
    return FakeModel([mirror(layer, copy) for layer in model.layers if not isinstance(layer, L.InputLayer)])


def weighted_keras(model: keras.Model):
    return [layer for layer in model.layers if layer.get_weights()]


def assert_matches_keras(fakes: FakeModel, model: keras.Model) -> None:
    for layer in weighted_keras(model):
        ours = fakes.get_layer(layer.name).get_weights()
        theirs = layer.get_weights()
        assert len(ours) == len(theirs), layer.name
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b, err_msg=layer.name)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A Keras model and its weights saved as legacy full-model .h5, .weights.h5 and .keras."""
    root = tmp_path_factory.mktemp("keras")
    model = build_keras(seed=0)
    paths = {"legacy": root / "model.h5", "weights_h5": root / "model.weights.h5", "archive": root / "model.keras"}
    model.save(paths["legacy"])
    model.save_weights(paths["weights_h5"])
    model.save(paths["archive"])
    return model, paths


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("fmt", ["legacy", "weights_h5", "archive"])
def test_read_equals_keras_get_weights(saved, fmt):
    model, paths = saved
    read = read_keras_weights(paths[fmt])
    for layer in model.layers:
        arrays = [a for _, a in read[layer.name]]
        theirs = layer.get_weights()
        assert len(arrays) == len(theirs), f"{fmt}: {layer.name}"
        for a, b in zip(arrays, theirs):
            np.testing.assert_array_equal(a, b, err_msg=f"{fmt}: {layer.name}")
    if fmt == "legacy":
        assert [n for n, _ in read["bi"]][:2] == [
            "bi/forward_lstm/lstm_cell/kernel",
            "bi/forward_lstm/lstm_cell/recurrent_kernel",
        ]
        assert list(read) == [layer.name for layer in model.layers]  # the file's layer order
    else:
        assert [n for n, _ in read["bi"]][:4] == [
            "forward_layer/cell/vars/0",
            "forward_layer/cell/vars/1",
            "forward_layer/cell/vars/2",
            "backward_layer/cell/vars/0",
        ]


def test_read_byte_str_and_chunked_attributes(tmp_path):
    path = tmp_path / "handmade.h5"
    kernel, bias = np.arange(6.0).reshape(2, 3), np.ones(3)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names0"] = np.array([b"first"])  # chunked, bytes
        f.attrs["layer_names1"] = np.array(["second"], dtype=h5py.string_dtype())  # str
        f.create_group("first").attrs["weight_names"] = np.array([b"first/kernel:0", b"first/bias:0"])
        f["first/first/kernel:0"] = kernel
        f["first/first/bias:0"] = bias
        f.create_group("second").attrs["weight_names"] = np.asarray([])
    read = read_keras_weights(path)
    assert list(read) == ["first", "second"] and read["second"] == []
    assert [n for n, _ in read["first"]] == ["first/kernel:0", "first/bias:0"]
    np.testing.assert_array_equal(read["first"][0][1], kernel)
    layer = fake("Dense", "d", [np.zeros((2, 3)), np.zeros(3)])
    load_keras_weights(FakeModel([layer]), path)
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


# ---------------------------------------------------------------- loading into seqcore layers


@pytest.mark.parametrize("by_name", [False, True], ids=["by_order", "by_name"])
@pytest.mark.parametrize("fmt", ["legacy", "weights_h5", "archive"])
def test_load_into_seqcore_layers(saved, fmt, by_name):
    model, paths = saved
    fakes = mirror_model(model)
    load_keras_weights(fakes, paths[fmt], by_name=by_name)
    assert_matches_keras(fakes, model)


def test_loaded_recurrent_weights_reproduce_keras_outputs(tmp_path):
    """Keras LSTM, GRU (reset_after True and False) and SimpleRNN outputs from seqcore's kernels."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, T, E)).astype(np.float32)
    inp = keras.Input((T, E))
    layers = [
        L.LSTM(H, return_sequences=True, name="lstm"),
        L.GRU(H, return_sequences=True, reset_after=True, name="gru_after"),
        L.GRU(H, return_sequences=True, reset_after=False, name="gru_before"),
        L.SimpleRNN(H, return_sequences=True, name="srnn"),
    ]
    model = keras.Model(inp, [layer(inp) for layer in layers])
    for layer in layers:
        layer.set_weights([0.5 * rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
    expected = [keras.ops.convert_to_numpy(y) for y in model(x)]
    model.save_weights(tmp_path / "rnn.weights.h5")
    fakes = mirror_model(model)
    load_keras_weights(fakes, tmp_path / "rnn.weights.h5")
    x64, h0 = x.astype(np.float64), np.zeros((2, H))
    for layer, want in zip(layers, expected):
        W, U, b = (w.astype(np.float64) for w in fakes.get_layer(layer.name).get_weights())
        if isinstance(layer, L.LSTM):
            y = K.lstm_forward(x64, h0, h0, W, U, b)[0]
        elif isinstance(layer, L.GRU):
            y = K.gru_forward(x64, h0, W, U, b, reset_after=layer.reset_after)[0]
        else:
            y = K.rnn_forward(x64, h0, W, U, b)[0]
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5, err_msg=layer.name)


# ---------------------------------------------------------------- writing, read back by Keras


@pytest.mark.parametrize("by_name", [False, True], ids=["by_order", "by_name"])
def test_written_file_loads_into_keras(saved, tmp_path, by_name):
    model, paths = saved
    path = tmp_path / "ours.h5"
    write_keras_weights(path, mirror_model(model, copy=True))
    fresh = build_keras(seed=1)
    fresh.load_weights(path, by_name=by_name) if by_name else fresh.load_weights(path)
    for a, b in zip(weighted_keras(model), weighted_keras(fresh)):
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(x, y, err_msg=a.name)


def test_written_file_has_keras_names_and_reads_back(saved, tmp_path):
    model, paths = saved
    fakes = mirror_model(model, copy=True)
    path = tmp_path / "ours.h5"
    write_keras_weights(path, fakes)
    ours, theirs = read_keras_weights(path), read_keras_weights(paths["legacy"])
    for layer in fakes.layers:
        assert [n for n, _ in ours[layer.name]] == [n for n, _ in theirs[layer.name]] == keras_weight_names(layer)
    again = mirror_model(model)
    load_keras_weights(again, path)
    for a, b in zip(fakes.layers, again.layers):
        assert_same_weights(a, b)
    assert sorted(os.listdir(tmp_path)) == ["ours.h5"]  # no temporary file left behind


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"previous contents")
    bad = fake("Dense", "dense", [np.array([object(), object()], dtype=object)])
    with pytest.raises(TypeError):
        write_keras_weights(path, FakeModel([bad]))
    assert path.read_bytes() == b"previous contents"
    assert sorted(os.listdir(tmp_path)) == ["w.h5"]
    dup = FakeModel([fake("Dense", "d", [np.zeros(1)]), fake("Dense", "d", [np.zeros(1)])])
    with pytest.raises(ValueError, match="'d' repeats"):
        write_keras_weights(path, dup)


def test_written_file_has_ordinary_permissions(tmp_path):
    path = tmp_path / "w.h5"
    write_keras_weights(path, FakeModel([fake("Dense", "d", [np.ones((2, 2))])]))
    reference = tmp_path / "plain"
    reference.write_bytes(b"")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


# ---------------------------------------------------------------- (d) mismatches and damaged files


def test_shape_mismatch_names_layer_weight_and_shapes(saved):
    model, paths = saved
    fakes = mirror_model(model)
    i = [layer.name for layer in fakes.layers].index("dense")
    fakes.layers[i] = fake("Dense", "dense", [np.zeros((2 * H, 7)), np.zeros(7)])
    for fmt in ("legacy", "weights_h5"):
        with pytest.raises(ValueError) as err:
            load_keras_weights(fakes, paths[fmt])
        msg = str(err.value)
        assert "'dense' (Dense)" in msg and "'dense/kernel'" in msg, msg
        assert f"expected shape ({2 * H}, 7)" in msg and f"found ({2 * H}, 4)" in msg, msg
    # nothing was changed by the failed loads
    assert not any(np.any(w) for layer in fakes.layers for w in layer.get_weights())
    with pytest.warns(UserWarning, match="'dense' \\(Dense\\)"):
        load_keras_weights(fakes, paths["legacy"], skip_mismatch=True)
    np.testing.assert_array_equal(
        fakes.get_layer("logits").get_weights()[0], model.get_layer("logits").get_weights()[0]
    )


def test_gru_reset_after_mismatch_explains_the_bias(saved):
    model, paths = saved
    fakes = mirror_model(model)
    i = [layer.name for layer in fakes.layers].index("gru_before")
    keras_gru = model.get_layer("gru_before")
    W, U, _ = keras_gru.get_weights()
    fakes.layers[i] = fake("GRU", "gru_before", [W, U, np.zeros((2, 3 * H), np.float32)], reset_after=True)
    with pytest.raises(ValueError, match=r"'gru_before' \(GRU\), weight 'gru_before/gru_cell/bias'.*reset_after"):
        load_keras_weights(fakes, paths["legacy"], by_name=True)


def test_layer_count_mismatch(saved):
    model, paths = saved
    fakes = mirror_model(model)
    fakes.layers.pop()  # drop logits
    with pytest.raises(ValueError, match=r"10 layers with weights .* file has 11"):
        load_keras_weights(fakes, paths["legacy"])
    with pytest.raises(ValueError, match=r"file layers \['dense_1'\] match no layer"):
        load_keras_weights(fakes, paths["weights_h5"])
    load_keras_weights(fakes, paths["legacy"], by_name=True)  # by name, the extra file layer is skipped
    for layer in fakes.layers:
        for a, b in zip(layer.get_weights(), model.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=layer.name)


def test_damaged_and_foreign_files(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="no such Keras weights file"):
        read_keras_weights(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(os.urandom(2048))
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_keras_weights(junk)
    truncated = tmp_path / "truncated.h5"
    data = Path(saved[1]["legacy"]).read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="truncated.h5"):
        read_keras_weights(truncated)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a Keras weights file"):
        read_keras_weights(empty)
    dangling = tmp_path / "dangling.h5"
    with h5py.File(dangling, "w") as f:
        f.attrs["layer_names"] = np.array([b"d", b"gone"])
        f.create_group("d").attrs["weight_names"] = np.array([b"d/kernel"])
    with pytest.raises(ValueError, match="lists weight 'd/kernel' but holds no such dataset"):
        read_keras_weights(dangling)
    del_group = tmp_path / "nogroup.h5"
    with h5py.File(del_group, "w") as f:
        f.attrs["layer_names"] = np.array([b"gone"])
    with pytest.raises(ValueError, match="lists layer 'gone' but the file has no group"):
        read_keras_weights(del_group)
    not_keras = tmp_path / "other.keras"
    with zipfile.ZipFile(not_keras, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="without model.weights.h5"):
        read_keras_weights(not_keras)
