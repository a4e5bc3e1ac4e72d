"""seqcore.nn layers (float64): gradients with respect to inputs and every trainable weight vs finite differences.

Each layer is built on a first call, given seeded random weights, then checked with
``gradcheck``: the tape's gradient of J = sum_k <R_k, output_k> against central
differences, on the reference and cpp kernel backends.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import ENGINE_BACKENDS, away_from, gradcheck, randomize_weights, trainable
from seqcore import kernels as K
from seqcore import nn, set_seed, use_backend
from seqcore.autograd import Tensor
from seqcore.autograd import tensor as ops

F64 = "float64"
B, T, D, H = 2, 4, 3, 2
IDS = np.array([[3, 1, 2, 0], [2, 4, 0, 0]])  # post-padded with id 0
LENGTHS = np.array([4, 2])
HAS_CONV = hasattr(K, "conv1d_forward")
NO_CONV = "seqcore.kernels lacks conv1d_forward (the conv1d kernel has not landed yet)"


def arr(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng([seed, *shape, 41]).standard_normal(shape)


def built(layer, *example, seed: int = 0, **kwargs):
    """``layer`` after one call on ``example`` (building it), with seeded random weights."""
    layer(*example, **kwargs)
    randomize_weights(layer, seed)
    return layer


def check_layer(backend: str, layer, fn, inputs, *, seed: int = 0, extra=()):
    with use_backend(backend):
        grads = gradcheck(fn, inputs, [*trainable(layer), *extra], seed=seed, what=f"{layer.name} [{backend}]")
    for v in layer.weights:
        if not v.requires_grad:
            assert v.grad is None, f"{v.name} is not trainable but collected a gradient"
    return grads


# ---------------------------------------------------------------- core layers


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize(
    ("activation", "use_bias", "shape"),
    [("tanh", True, (B, T, D)), (None, False, (5, D)), ("softmax", True, (B, D)), ("swish", True, (B, D))],
)
def test_dense(backend, activation, use_bias, shape):
    x = arr(1, *shape)
    layer = built(nn.Dense(3, activation=activation, use_bias=use_bias, dtype=F64), x, seed=1)
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_embedding(backend):
    layer = built(nn.Embedding(6, 3, dtype=F64), IDS, seed=2)
    grads = check_layer(backend, layer, lambda: layer(IDS), {})
    assert np.all(grads[layer.embeddings.name][5] == 0)  # id 5 never looked up


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_embedding_from_pretrained(backend):
    matrix = arr(3, 6, 3)
    frozen = nn.Embedding.from_pretrained(matrix)
    assert not trainable(frozen) and frozen.embeddings.dtype == np.float64
    out = frozen(IDS)
    assert not out.requires_grad
    layer = nn.Embedding.from_pretrained(matrix, trainable=True, mask_zero=True)
    np.testing.assert_array_equal(layer.get_weights()[0], matrix)
    check_layer(backend, layer, lambda: layer(IDS), {})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Activation("tanh", dtype=F64),
        lambda: nn.Activation("softplus", dtype=F64),
        lambda: nn.Softmax(axis=1, dtype=F64),
        lambda: nn.Reshape((2, -1), dtype=F64),
        lambda: nn.Flatten(dtype=F64),
        lambda: nn.Permute((2, 1), dtype=F64),
        lambda: nn.Lambda(lambda t: ops.tanh(t) * t[:, :1], dtype=F64),
        lambda: nn.GlobalMaxPooling1D(dtype=F64),
        lambda: nn.GlobalAveragePooling1D(dtype=F64),
    ],
    ids=["tanh", "softplus", "softmax_axis1", "reshape", "flatten", "permute", "lambda", "gmaxpool", "gavgpool"],
)
def test_weightless_layers(backend, make):
    layer = make()
    x = arr(4, B, T, D)
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_global_average_pooling_with_mask(backend):
    emb = built(nn.Embedding(6, 3, mask_zero=True, dtype=F64), IDS, seed=5)
    pool = nn.GlobalAveragePooling1D(dtype=F64)
    out = pool(emb(IDS))
    np.testing.assert_allclose(out.data[1], emb.get_weights()[0][[2, 4]].mean(axis=0), rtol=1e-12)
    check_layer(backend, emb, lambda: pool(emb(IDS)), {})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_dropout_training(backend):
    layer = nn.Dropout(0.3, noise_shape=(None, 1, None), dtype=F64)
    x = arr(6, B, T, D)

    def fn(x):
        set_seed(11)
        return layer(x, training=True)

    grads = check_layer(backend, layer, fn, {"x": x})
    assert np.any(grads["x"] == 0) and np.any(grads["x"] != 0)
    np.testing.assert_array_equal(layer(x, training=False).data, x)  # inference: identity
    np.testing.assert_array_equal(layer(x).data, x)  # the default learning phase is inference


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_repeat_vector(backend):
    layer = nn.RepeatVector(3, dtype=F64)
    check_layer(backend, layer, lambda x: layer(x), {"x": arr(7, B, D)})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_time_distributed_dense(backend):
    x = arr(8, B, T, D)
    layer = built(nn.TimeDistributed(nn.Dense(2, activation="tanh", dtype=F64), dtype=F64), x, seed=8)
    assert len(trainable(layer)) == 2
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


# ---------------------------------------------------------------- merge layers

MERGES = {
    "add": lambda: nn.Add(dtype=F64),
    "subtract": lambda: nn.Subtract(dtype=F64),
    "multiply": lambda: nn.Multiply(dtype=F64),
    "average": lambda: nn.Average(dtype=F64),
    "maximum": lambda: nn.Maximum(dtype=F64),
    "minimum": lambda: nn.Minimum(dtype=F64),
    "concatenate": lambda: nn.Concatenate(dtype=F64),
    "concatenate_axis1": lambda: nn.Concatenate(axis=1, dtype=F64),
}


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("name", list(MERGES))
def test_merge_layers(backend, name):
    layer = MERGES[name]()
    a, b = arr(9, B, T, D), arr(10, B, T, D)
    check_layer(backend, layer, lambda a, b: layer([a, b]), {"a": a, "b": b})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_merge_three_inputs(backend):
    layer = nn.Average(dtype=F64)
    inputs = {"a": arr(11, B, D), "b": arr(12, B, D), "c": arr(13, B, D)}
    check_layer(backend, layer, lambda a, b, c: layer([a, b, c]), inputs)


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize(
    ("axes", "normalize", "shapes"),
    [
        (1, False, ((B, T, 1), (B, T, D))),  # attention context [B,1,D]
        (1, False, ((B, D), (B, D))),
        ((2, 2), False, ((B, T, D), (B, 2, D))),
        ((1, 2), False, ((B, D, T), (B, 2, D))),
        (-1, True, ((B, D), (B, D))),
        (1, True, ((B, T, 2), (B, T, D))),
    ],
)
def test_dot(backend, axes, normalize, shapes):
    layer = nn.Dot(axes=axes, normalize=normalize, dtype=F64)
    inputs = {"a": arr(14, *shapes[0]), "b": arr(15, *shapes[1])}
    check_layer(backend, layer, lambda a, b: layer([a, b]), inputs)


# ---------------------------------------------------------------- conv and normalization


@pytest.mark.skipif(not HAS_CONV, reason=NO_CONV)
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize(
    ("padding", "strides", "dilation"),
    [("valid", 1, 1), ("same", 1, 1), ("same", 2, 1), ("causal", 1, 2), ("valid", 2, 2), ("same", 1, 2)],
)
def test_conv1d(backend, padding, strides, dilation):
    x = arr(16, B, 7, D)
    layer = nn.Conv1D(2, 3, strides=strides, padding=padding, dilation_rate=dilation, activation="tanh", dtype=F64)
    layer = built(layer, x, seed=16)
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("training", [True, False], ids=["batch_stats", "moving_stats"])
@pytest.mark.parametrize("shape", [(6, D), (B, T, D)], ids=["2d", "3d"])
def test_batch_normalization(backend, training, shape):
    x = arr(17, *shape, scale=2.0) + 1.0
    layer = built(nn.BatchNormalization(dtype=F64), x, seed=17)
    assert len(trainable(layer)) == 2  # gamma, beta; the moving statistics are not trainable
    check_layer(backend, layer, lambda x: layer(x, training=training), {"x": x})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("shape", [(5, 4), (B, T, D)], ids=["2d", "3d"])
def test_layer_normalization(backend, shape):
    x = arr(18, *shape)
    layer = built(nn.LayerNormalization(epsilon=1e-4, dtype=F64), x, seed=18)
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


# ---------------------------------------------------------------- recurrent layers

RNN_KINDS = {
    "simple_rnn": lambda **kw: nn.SimpleRNN(H, dtype=F64, **kw),
    "lstm": lambda **kw: nn.LSTM(H, dtype=F64, **kw),
    "gru": lambda **kw: nn.GRU(H, dtype=F64, **kw),
    "gru_reset_before": lambda **kw: nn.GRU(H, reset_after=False, dtype=F64, **kw),
}
RNN_CONFIGS = [
    "last",
    "sequences",
    "state",
    "sequences_state",
    "initial_state",
    "go_backwards",
    "go_backwards_lengths",
    "lengths",
    "mask_zero",
]


def _n_states(layer) -> int:
    return 2 if isinstance(layer, nn.LSTM) else 1


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("config", RNN_CONFIGS)
@pytest.mark.parametrize("kind", list(RNN_KINDS))
def test_recurrent(backend, kind, config):
    kwargs = {
        "sequences": {"return_sequences": True},
        "state": {"return_state": True},
        "sequences_state": {"return_sequences": True, "return_state": True},
        "initial_state": {"return_sequences": True},
        "go_backwards": {"return_sequences": True, "go_backwards": True},
        "go_backwards_lengths": {"return_sequences": True, "go_backwards": True, "return_state": True},
        "lengths": {"return_sequences": True, "return_state": True},
        "mask_zero": {"return_sequences": True, "return_state": True},
    }.get(config, {})
    layer = RNN_KINDS[kind](**kwargs)
    x = arr(20, B, T, D)
    seed = len(kind) + len(config)
    if config == "mask_zero":
        emb = built(nn.Embedding(6, D, mask_zero=True, dtype=F64), IDS, seed=seed)
        layer = built(layer, emb(IDS), seed=seed)
        out = layer(emb(IDS))
        assert np.all(out[0].data[1, 2:] == 0)  # padded steps give zero outputs
        np.testing.assert_allclose(out[1].data[1], out[0].data[1, 1], rtol=1e-12)  # the state at the last real step
        check_layer(backend, layer, lambda: layer(emb(IDS)), {}, extra=trainable(emb), seed=seed)
        return
    layer = built(layer, x, seed=seed)
    if config == "initial_state":
        states = {f"s{i}": arr(21 + i, B, H, scale=0.5) for i in range(_n_states(layer))}
        check_layer(backend, layer, lambda x, **s: layer(x, initial_state=list(s.values())), {"x": x, **states})
        return
    if config in ("lengths", "go_backwards_lengths"):
        check_layer(backend, layer, lambda x: layer(x, lengths=LENGTHS), {"x": x}, seed=seed)
        return
    check_layer(backend, layer, lambda x: layer(x), {"x": x}, seed=seed)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_mask_equals_lengths(kind):
    """A mask from Embedding(mask_zero=True) runs exactly as the same lengths passed explicitly."""
    emb = built(nn.Embedding(6, D, mask_zero=True, dtype=F64), IDS, seed=3)
    layer = built(RNN_KINDS[kind](return_sequences=True, return_state=True), emb(IDS), seed=4)
    masked = layer(emb(IDS))
    explicit = layer(Tensor(emb(IDS).data), lengths=(IDS != 0).sum(axis=1))
    unmasked = layer(Tensor(emb(IDS).data))
    for a, b in zip(masked, explicit):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13, atol=1e-15)
    assert not np.allclose(masked[1].data, unmasked[1].data)  # the mask did change the final states
    assert masked[0]._mask is not None and np.array_equal(masked[0]._mask, IDS != 0)


def test_go_backwards_reverses_outputs():
    x = arr(25, B, T, D)
    fwd = built(nn.GRU(H, return_sequences=True, dtype=F64), x, seed=5)
    bwd = nn.GRU(H, return_sequences=True, go_backwards=True, dtype=F64)
    bwd(x)
    bwd.set_weights(fwd.get_weights())
    np.testing.assert_allclose(bwd(x).data, fwd(x[:, ::-1]).data, rtol=1e-12, atol=1e-14)


MERGE_MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=[str(m) for m in MERGE_MODES])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_merge_modes(backend, kind, merge_mode):
    x = arr(26, B, T, D)
    layer = nn.Bidirectional(RNN_KINDS[kind](return_sequences=True), merge_mode=merge_mode, dtype=F64)
    layer = built(layer, x, seed=len(str(merge_mode)))
    assert len(trainable(layer)) == 6
    check_layer(backend, layer, lambda x: layer(x), {"x": x})


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("config", ["last_state", "lengths", "mask_zero", "initial_state"])
def test_bidirectional_variants(backend, config):
    x = arr(27, B, T, D)
    seq = config != "last_state"
    layer = nn.Bidirectional(nn.LSTM(H, return_sequences=seq, return_state=True, dtype=F64), dtype=F64)
    if config == "mask_zero":
        emb = built(nn.Embedding(6, D, mask_zero=True, dtype=F64), IDS, seed=6)
        layer = built(layer, emb(IDS), seed=7)
        check_layer(backend, layer, lambda: layer(emb(IDS)), {}, extra=trainable(emb))
        return
    layer = built(layer, x, seed=8)
    if config == "lengths":
        check_layer(backend, layer, lambda x: layer(x, lengths=LENGTHS), {"x": x})
    elif config == "initial_state":
        states = {f"s{i}": arr(30 + i, B, H, scale=0.5) for i in range(4)}
        check_layer(backend, layer, lambda x, **s: layer(x, initial_state=list(s.values())), {"x": x, **states})
    else:
        check_layer(backend, layer, lambda x: layer(x), {"x": x})


# ---------------------------------------------------------------- models


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_functional_model_with_shared_layer_in_a_loop(backend):
    """One Dense applied three times (shared weights), plus a second branch merged back in."""
    inp = nn.Input((T, D), dtype=F64)
    shared = nn.Dense(D, activation="tanh", dtype=F64, name="shared")
    h = inp
    outs = []
    for _ in range(3):
        h = shared(h)
        outs.append(nn.GlobalAveragePooling1D(dtype=F64)(h))
    rnn = nn.GRU(H, dtype=F64)(h)
    merged = nn.Concatenate(dtype=F64)([*outs, rnn])
    model = nn.Model(inp, nn.Dense(2, dtype=F64)(merged))
    assert sum(layer is shared for layer in model.layers) == 1
    x = arr(40, B, T, D)
    model(x)
    for layer in model.layers:
        if layer.weights:
            randomize_weights(layer, len(layer.name))
    assert len(trainable(model)) == 2 + 3 + 2
    with use_backend(backend):
        grads = gradcheck(lambda x: model(x), {"x": x}, trainable(model), what=f"shared-loop model [{backend}]")
    assert np.any(grads[shared.kernel.name] != 0)


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_sequential_embedding_lstm_dense(backend):
    model = nn.Sequential(
        [
            nn.Embedding(6, D, mask_zero=True, dtype=F64),
            nn.LSTM(H, return_sequences=True, dtype=F64),
            nn.TimeDistributed(nn.Dense(3, activation="softmax", dtype=F64), dtype=F64),
        ]
    )
    model(IDS)
    randomize_weights(model, 9)
    with use_backend(backend):
        gradcheck(lambda: model(IDS), {}, trainable(model), what=f"sequential [{backend}]")


def test_frozen_layer_gets_no_gradients():
    x = arr(41, B, D)
    layer = built(nn.Dense(2, dtype=F64), x, seed=1)
    layer.trainable = False
    assert trainable(layer) == [] and layer.trainable_weights == []
    x_t = Tensor(x, requires_grad=True)
    layer(x_t).sum().backward()
    assert layer.kernel.grad is None and layer.bias.grad is None
    np.testing.assert_allclose(x_t.grad, np.tile(layer.kernel.data.sum(axis=1), (B, 1)))


def test_float32_layer_casts_float64_inputs():
    layer = nn.Dense(2, dtype="float32")
    x = Tensor(away_from(arr(42, B, D), [0.0]), requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64 and layer.kernel.grad.dtype == np.float32


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
@pytest.mark.parametrize("name", ["multiply", "maximum", "minimum"])
def test_masked_merge_gradients(backend, name):
    """Multiply / Maximum / Minimum with masks (Keras 3): masked entries defer to the other input."""
    layer = MERGES[name]()
    masks = (IDS != 0, np.array([[1, 1, 1, 1], [1, 0, 0, 0]], dtype=bool))

    def fn(a, b):
        a._mask, b._mask = masks
        return layer([a, b])

    a, b = arr(50, B, T, D), away_from(arr(51, B, T, D), [])
    check_layer(backend, layer, fn, {"a": a, "b": b})
    out = fn(Tensor(a), Tensor(b))
    np.testing.assert_array_equal(out._mask, masks[0] | masks[1])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_list_inputs_carry_initial_state(kind):
    """``layer([x, *initial_state])`` (the Keras 2 form) equals ``layer(x, initial_state=...)``, eager and symbolic."""
    x = arr(52, B, T, D)
    states = [arr(53 + i, B, H) for i in range(2 if kind == "lstm" else 1)]
    layer = RNN_KINDS[kind](return_sequences=True)
    as_list = layer([x, *states])  # builds the layer from a list of shapes
    randomize_weights(layer, 54)
    np.testing.assert_array_equal(layer([x, *states]).data, layer(x, initial_state=states).data)
    assert as_list.shape == (B, T, H)
    inputs = [nn.Input((T, D), dtype=F64), *(nn.Input((H,), dtype=F64) for _ in states)]
    model = nn.Model(inputs, RNN_KINDS[kind](return_sequences=True)(inputs))
    assert model([x, *states]).shape == (B, T, H)
