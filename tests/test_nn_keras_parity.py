"""seqcore.nn layers and losses against Keras 3 (torch backend), float64, with identical weights.

Keras 3.15 on the torch backend rounds float64 work to float32 in places, so values agree to ~1e-6.

Each Keras layer gets our layer's weights (``keras_layer.set_weights(ours.get_weights())``),
which also checks that our weight order and shapes are Keras's.

One intentional difference, asserted below so a change is noticed: with a padding mask and
``return_sequences=True``, a Keras RNN (default ``zero_output_for_mask=False``) repeats the
last real output at the padded positions, while seqcore writes zeros there (as Keras does
inside ``Bidirectional``, which forces ``zero_output_for_mask=True``).  Real positions and
final states agree.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from seqcore import kernels as K
from seqcore import losses, nn

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover - keras was imported earlier with another backend
    pytest.skip(f"keras runs on {keras.backend.backend()}, these tests want torch", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(autouse=True, scope="module")
def _reset_keras_names():
    """Leave Keras's automatic layer names as found: other modules' tests expect 'lstm', not 'lstm_12'."""
    yield
    keras.backend.clear_session()


L = keras.layers
F64 = "float64"
# Keras 3.15 on torch computes much of float64 in float32 (``keras.ops.matmul`` and the normalisations promote
# float64 to float32, as JAX does without x64), so agreement is to float32 precision: any semantic difference
# (gate order, masking, padding, merge) shows up orders of magnitude above it.
RTOL, ATOL = 2e-6, 1e-6
HAS_CONV = hasattr(K, "conv1d_forward")
NO_CONV = "seqcore.kernels lacks conv1d_forward (the conv1d kernel has not landed yet)"
B, T, D, H = 3, 5, 4, 3
IDS = np.array([[3, 1, 2, 5, 0], [2, 4, 0, 0, 0], [1, 1, 1, 1, 1]])  # post-padded with id 0
MASK = IDS != 0


def rand(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng([seed, *shape, 47]).standard_normal(shape)


def numpy(value):
    if isinstance(value, (list, tuple)):
        return [numpy(v) for v in value]
    if hasattr(value, "data") and not isinstance(value, (np.ndarray, torch.Tensor)):
        return np.asarray(value.data)  # a seqcore Tensor
    return np.asarray(keras.ops.convert_to_numpy(value))


def close(ours, theirs, what: str, rtol: float = RTOL) -> None:
    a, b = numpy(ours), numpy(theirs)
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), f"{what}: {len(a)} outputs, Keras gives {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{what}[{i}]", rtol)
        return
    assert a.shape == b.shape, f"{what}: shape {a.shape}, Keras {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=ATOL * max(1.0, float(np.abs(b).max(initial=0))), err_msg=what)


def twins(ours, theirs, *example, seed: int = 0, **kwargs):
    """Build both layers on ``example``, give ours seeded random weights and copy them into Keras's."""
    ours(*example, **kwargs)
    theirs(*example, **kwargs)
    rng = np.random.default_rng([seed, 53])
    new = []
    for v in ours.weights:
        new.append(rng.uniform(0.5, 1.5, v.shape) if "variance" in v.name else 0.6 * rng.standard_normal(v.shape))
    ours.set_weights(new)
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in new], "weight shapes differ from Keras's"
    theirs.set_weights(ours.get_weights())
    return ours, theirs


# ---------------------------------------------------------------- recurrent layers

KINDS = {
    "simple_rnn": (nn.SimpleRNN, L.SimpleRNN, {}),
    "lstm": (nn.LSTM, L.LSTM, {}),
    "gru_reset_after": (nn.GRU, L.GRU, {"reset_after": True}),
    "gru_reset_before": (nn.GRU, L.GRU, {"reset_after": False}),
}
CONFIGS = {  # return_sequences, return_state, go_backwards
    "last": (False, False, False),
    "sequences": (True, False, False),
    "sequences_state": (True, True, False),
    "state_backwards": (False, True, True),
    "sequences_backwards": (True, False, True),
    "all": (True, True, True),
}


def rnn_pair(kind: str, config: str):
    ours_cls, keras_cls, extra = KINDS[kind]
    seq, state, back = CONFIGS[config]
    kw = dict(return_sequences=seq, return_state=state, go_backwards=back, dtype=F64, **extra)
    return ours_cls(H, **kw), keras_cls(H, **kw)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent(kind, config):
    x = rand(1, B, T, D)
    ours, theirs = twins(*rnn_pair(kind, config), x, seed=len(kind))
    close(ours(x), theirs(x), f"{kind} {config}")


@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_initial_state(kind):
    x = rand(2, B, T, D)
    ours, theirs = twins(*rnn_pair(kind, "sequences_state"), x, seed=3)
    states = [rand(3 + i, B, H, scale=0.5) for i in range(2 if kind == "lstm" else 1)]
    close(ours(x, initial_state=states), theirs(x, initial_state=states), f"{kind} initial_state")


@pytest.mark.parametrize("config", ["last", "sequences_state", "state_backwards", "all"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_with_mask_zero(kind, config):
    """Embedding(mask_zero=True) -> RNN, post-padding: real positions and final states agree with Keras."""
    emb_ours, emb_keras = twins(
        nn.Embedding(6, D, mask_zero=True, dtype=F64), L.Embedding(6, D, mask_zero=True, dtype=F64), IDS, seed=4
    )
    ours, theirs = rnn_pair(kind, config)
    ours(emb_ours(IDS))
    ktokens = keras.Input((T,), dtype="int32")
    kmodel = keras.Model(ktokens, theirs(emb_keras(ktokens)))
    rng = np.random.default_rng(5)
    ours.set_weights([0.6 * rng.standard_normal(w.shape) for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    got = ours(emb_ours(IDS))
    want = numpy(kmodel(IDS))
    got, want = (got, want) if isinstance(want, list) else ([got], [want])
    seq, _, back = CONFIGS[config]
    if seq:
        y, ky = numpy(got[0]), want[0]
        real = MASK[:, ::-1] if back else MASK  # go_backwards outputs run from the end, padding first
        close(y[real], ky[real], f"{kind} {config}: real positions")
        if back:  # padded steps come first and output zeros on both sides
            close(y[~real], ky[~real], f"{kind} {config}: padded positions")
        else:  # documented difference: zeros here, Keras repeats each row's last real output
            assert np.all(y[~real] == 0)
            lengths = MASK.sum(axis=1)
            for r in range(B):
                close(
                    ky[r, lengths[r] :],
                    np.broadcast_to(ky[r, lengths[r] - 1], ky[r, lengths[r] :].shape),
                    "Keras repeats the last real output",
                )
        got, want = got[1:], want[1:]
    close(got, want, f"{kind} {config}: final output / states")


MERGE_MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=[str(m) for m in MERGE_MODES])
@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after"])
def test_bidirectional(kind, merge_mode, return_sequences):
    ours_cls, keras_cls, extra = KINDS[kind]
    x = rand(6, B, T, D)
    ours = nn.Bidirectional(
        ours_cls(H, return_sequences=return_sequences, dtype=F64, **extra), merge_mode=merge_mode, dtype=F64
    )
    theirs = L.Bidirectional(
        keras_cls(H, return_sequences=return_sequences, dtype=F64, **extra), merge_mode=merge_mode, dtype=F64
    )
    twins(ours, theirs, x, seed=7)
    close(ours(x), theirs(x), f"Bidirectional({kind}, {merge_mode})")


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=["concat", "None"])
@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru_reset_before"])
def test_bidirectional_masked_with_states(kind, merge_mode):
    """With a mask Keras's Bidirectional zeroes padded outputs too: everything agrees, states included."""
    ours_cls, keras_cls, extra = KINDS[kind]
    x = rand(8, B, T, D)
    kw = dict(return_sequences=True, return_state=True, dtype=F64, **extra)
    ours = nn.Bidirectional(ours_cls(H, **kw), merge_mode=merge_mode, dtype=F64)
    theirs = L.Bidirectional(keras_cls(H, **kw), merge_mode=merge_mode, dtype=F64)
    twins(ours, theirs, x, seed=9)
    close(ours(x, mask=MASK), theirs(x, mask=keras.ops.convert_to_tensor(MASK)), f"masked Bidirectional({kind})")


# ---------------------------------------------------------------- conv and normalization


@pytest.mark.skipif(not HAS_CONV, reason=NO_CONV)
@pytest.mark.parametrize(
    ("padding", "kernel_size", "strides", "dilation"),
    [
        ("valid", 3, 1, 1),
        ("valid", 3, 2, 1),
        ("same", 3, 1, 1),
        ("same", 4, 1, 1),
        ("same", 3, 2, 1),
        ("same", 4, 3, 1),
        ("same", 3, 1, 2),
        ("causal", 3, 1, 1),
        ("causal", 2, 1, 3),
        ("causal", 3, 2, 1),
    ],
)
def test_conv1d(padding, kernel_size, strides, dilation):
    x = rand(10, B, 9, D)
    kw = dict(strides=strides, padding=padding, dilation_rate=dilation, activation="tanh", dtype=F64)
    ours, theirs = twins(nn.Conv1D(2, kernel_size, **kw), L.Conv1D(2, kernel_size, **kw), x, seed=11)
    close(ours(x), theirs(x), f"Conv1D({padding}, k={kernel_size}, s={strides}, d={dilation})")


@pytest.mark.parametrize("shape", [(6, D), (B, T, D)], ids=["2d", "3d"])
def test_batch_normalization_inference_and_moving_update(shape):
    x = rand(12, *shape, scale=2.0) + 0.7
    kw = dict(momentum=0.9, epsilon=1e-3, dtype=F64)
    ours, theirs = twins(nn.BatchNormalization(**kw), L.BatchNormalization(**kw), x, seed=13)
    before = ours.get_weights()
    close(ours(x), theirs(x), "inference (moving statistics)")
    close(ours(x, training=True), theirs(x, training=True), "training (batch statistics)")
    after = ours.get_weights()
    assert not np.allclose(after[2], before[2]) and not np.allclose(after[3], before[3])  # the update happened
    close(after, theirs.get_weights(), "weights after one training call (moving mean, variance)")
    close(ours(x), theirs(x), "inference after the update")


def test_layer_normalization():
    x = rand(14, B, T, D, scale=2.0)
    kw = dict(epsilon=1e-3, dtype=F64)
    ours, theirs = twins(nn.LayerNormalization(**kw), L.LayerNormalization(**kw), x, seed=15)
    close(ours(x), theirs(x), "LayerNormalization")


# ---------------------------------------------------------------- merge and shape layers


@pytest.mark.parametrize(
    ("axes", "normalize", "shapes"),
    [
        (1, False, ((B, T, 1), (B, T, D))),
        (1, False, ((B, D), (B, D))),
        (2, False, ((B, T, D), (B, 2, D))),
        ((1, 2), False, ((B, D, T), (B, 2, D))),
        (1, True, ((B, T, 2), (B, T, D))),
    ],
)
def test_dot(axes, normalize, shapes):
    a, b = rand(16, *shapes[0]), rand(17, *shapes[1])
    ours, theirs = nn.Dot(axes=axes, normalize=normalize, dtype=F64), L.Dot(axes=axes, normalize=normalize, dtype=F64)
    close(ours([a, b]), theirs([a, b]), f"Dot(axes={axes}, normalize={normalize})")


def test_repeat_vector_and_concatenate():
    v = rand(18, B, D)
    close(nn.RepeatVector(T, dtype=F64)(v), L.RepeatVector(T, dtype=F64)(v), "RepeatVector")
    a, b = rand(19, B, T, 2), rand(20, B, T, 3)
    close(nn.Concatenate(dtype=F64)([a, b]), L.Concatenate(dtype=F64)([a, b]), "Concatenate")
    c = rand(21, B, 2, 3)
    close(nn.Concatenate(axis=1, dtype=F64)([b, c]), L.Concatenate(axis=1, dtype=F64)([b, c]), "Concatenate(1)")


def test_time_distributed_dense():
    x = rand(22, B, T, D)
    ours = nn.TimeDistributed(nn.Dense(2, activation="tanh", dtype=F64), dtype=F64)
    theirs = L.TimeDistributed(L.Dense(2, activation="tanh", dtype=F64), dtype=F64)
    twins(ours, theirs, x, seed=23)
    close(ours(x), theirs(x), "TimeDistributed(Dense)")


# ---------------------------------------------------------------- parameter counts


def test_sequential_summary_counts_match_keras():
    V, E, C = 50, 8, 5
    ours = nn.Sequential(
        [
            nn.Input((T,), dtype="int32"),
            nn.Embedding(V, E, mask_zero=True),
            nn.Bidirectional(nn.LSTM(H, return_sequences=True)),
            nn.LayerNormalization(),
            nn.GRU(H, reset_after=False, return_sequences=True),
            nn.BatchNormalization(),
            nn.SimpleRNN(H, return_sequences=True),
            nn.TimeDistributed(nn.Dense(4)),
            nn.GRU(H),
            nn.RepeatVector(2),
            nn.Dense(C, activation="softmax"),
        ]
    )
    theirs = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            L.Embedding(V, E, mask_zero=True),
            L.Bidirectional(L.LSTM(H, return_sequences=True)),
            L.LayerNormalization(),
            L.GRU(H, reset_after=False, return_sequences=True),
            L.BatchNormalization(),
            L.SimpleRNN(H, return_sequences=True),
            L.TimeDistributed(L.Dense(4)),
            L.GRU(H),
            L.RepeatVector(2),
            L.Dense(C, activation="softmax"),
        ]
    )
    lines: list[str] = []
    ours.summary(print_fn=lines.append)
    text = "\n".join(lines)

    def count(label: str) -> int:
        match = re.search(rf"{label} params: ([\d,]+)", text)
        assert match, f"summary has no '{label} params' line:\n{text}"
        return int(match.group(1).replace(",", ""))

    trainable = sum(int(np.prod(w.shape)) for w in theirs.trainable_weights)
    assert count("Total") == theirs.count_params()
    assert count("Trainable") == trainable
    assert count("Non-trainable") == theirs.count_params() - trainable == 2 * H  # BN's moving statistics
    assert [layer.count_params() for layer in ours.layers] == [layer.count_params() for layer in theirs.layers]
    rows = {line.split()[0]: line.split()[-1] for line in lines[4:] if line.startswith(" ") and line.strip()}
    for layer in ours.layers:  # every layer's row shows its count
        assert rows.get(layer.name) == str(layer.count_params()), f"row of {layer.name}:\n{text}"


# ---------------------------------------------------------------- losses


def keras_pred(values: np.ndarray, mask=None):
    t = torch.tensor(values)
    if mask is not None:
        t._keras_mask = torch.tensor(mask)
    return t


def loss_close(ours_loss, keras_loss, y_true, y_pred, *, mask=None, sample_weight=None, what=""):
    from seqcore.autograd import Tensor

    pred = Tensor(y_pred)
    if mask is not None:
        pred._mask = mask
    got = ours_loss(y_true, pred, sample_weight=sample_weight)
    want = keras_loss(y_true, keras_pred(y_pred, mask), sample_weight=sample_weight)
    close(got, want, what)


def probabilities(seed: int, *shape: int) -> np.ndarray:
    z = rand(seed, *shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


WEIGHTING = ["plain", "sample_weight", "mask", "mask_and_sample_weight"]


def weighting(kind: str):
    """(mask [B,T] or None, sample weights [B,T] or None)."""
    mask = (np.arange(T)[None, :] < np.array([5, 2, 4])[:, None]) if "mask" in kind else None
    sw = np.random.default_rng(60).uniform(0, 2, size=(B, T)) if "sample_weight" in kind else None
    return mask, sw


@pytest.mark.parametrize("weights", WEIGHTING)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_categorical_crossentropy(from_logits, weights):
    C = 4
    y_pred = rand(61, B, T, C, scale=2.0) if from_logits else probabilities(61, B, T, C)
    y_true = probabilities(62, B, T, C)  # soft targets
    mask, sw = weighting(weights)
    loss_close(
        losses.CategoricalCrossentropy(from_logits=from_logits),
        keras.losses.CategoricalCrossentropy(from_logits=from_logits, dtype=F64),
        y_true,
        y_pred,
        mask=mask,
        sample_weight=sw,
        what=f"categorical {from_logits} {weights}",
    )


@pytest.mark.parametrize("weights", WEIGHTING)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_sparse_categorical_crossentropy(from_logits, weights):
    C = 4
    y_pred = rand(63, B, T, C, scale=2.0) if from_logits else probabilities(63, B, T, C)
    ids = np.random.default_rng(64).integers(0, C, size=(B, T))
    mask, sw = weighting(weights)
    loss_close(
        losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype=F64),
        ids,
        y_pred,
        mask=mask,
        sample_weight=sw,
        what=f"sparse {from_logits} {weights}",
    )


@pytest.mark.parametrize("weights", ["plain", "sample_weight", "mask"])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_binary_crossentropy(from_logits, weights):
    z = rand(65, B, T, 2, scale=2.0)
    y_pred = z if from_logits else 1 / (1 + np.exp(-z))
    y_true = np.random.default_rng(66).uniform(0, 1, size=(B, T, 2))
    mask, sw = weighting(weights)
    loss_close(
        losses.BinaryCrossentropy(from_logits=from_logits),
        keras.losses.BinaryCrossentropy(from_logits=from_logits, dtype=F64),
        y_true,
        y_pred,
        mask=mask,
        sample_weight=sw,
        what=f"binary {from_logits} {weights}",
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_label_smoothing(smoothing):
    C = 5
    z = rand(67, 6, C, scale=2.0)
    y_true = np.eye(C)[np.random.default_rng(68).integers(0, C, size=6)]
    loss_close(
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing),
        keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing, dtype=F64),
        y_true,
        z,
        what="categorical label smoothing",
    )
    b_true = np.random.default_rng(69).integers(0, 2, size=(6, 3)).astype(float)
    loss_close(
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing),
        keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing, dtype=F64),
        b_true,
        z[:, :3],
        what="binary label smoothing",
    )


def test_per_sample_weights_on_sequence_losses_broadcast_over_time():
    """Extension: seqcore accepts one weight per sample [B] for per-position losses [B,T] (Keras 3's Loss raises);
    it equals Keras with the weights broadcast to [B,T]."""
    C = 4
    z = rand(72, B, T, C)
    ids = np.random.default_rng(73).integers(0, C, size=(B, T))
    mask, _ = weighting("mask")
    sw = np.random.default_rng(74).uniform(0, 2, size=B)
    from seqcore.autograd import Tensor

    pred = Tensor(z)
    pred._mask = mask
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(ids, pred, sample_weight=sw)
    want = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64)(
        ids, keras_pred(z, mask), sample_weight=np.broadcast_to(sw[:, None], (B, T))
    )
    close(got, want, "per-sample weights")


def test_mse_mae():
    y_true, y_pred = rand(70, B, T, 2), rand(71, B, T, 2)
    mask, sw = weighting("mask_and_sample_weight")
    loss_close(
        losses.MeanSquaredError(),
        keras.losses.MeanSquaredError(dtype=F64),
        y_true,
        y_pred,
        mask=mask,
        sample_weight=sw,
        what="mse",
    )
    loss_close(
        losses.MeanAbsoluteError(),
        keras.losses.MeanAbsoluteError(dtype=F64),
        y_true,
        y_pred,
        sample_weight=sw,
        what="mae",
    )


def test_softmax_output_uses_logits_unlike_keras_clipping():
    """Documented difference: for a softmax output seqcore's probability CE uses the logits (as TF-Keras does),
    so a confidently wrong prediction costs its true -log p; Keras 3 clips p at 1e-7 (a cap of ~16.1)."""
    logits = np.array([[30.0, 0.0, -5.0], [0.5, 0.1, -0.2]])
    softmax = nn.Softmax(dtype=F64)
    p = softmax(logits)
    ids = np.array([1, 2])
    ours = losses.SparseCategoricalCrossentropy()(ids, p).item()
    keras_value = float(numpy(keras.losses.SparseCategoricalCrossentropy(dtype=F64)(ids, torch.tensor(p.data))))
    exact = float(np.mean([30.0 + np.log1p(np.exp(-30) + np.exp(-35)), -np.log(p.data[1, 2])]))
    np.testing.assert_allclose(ours, exact, rtol=1e-12)
    assert keras_value < ours - 5  # Keras's clipped value
    np.testing.assert_allclose(keras_value, np.mean([-np.log(1e-7), -np.log(p.data[1, 2])]), rtol=1e-6)


# ---------------------------------------------------------------- masks through merge layers and optional weights

MASK_A = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
MASK_B = np.array([[1, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
MERGE_MASK_CASES = {
    "add_both": (lambda m: m.Add(dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "add_one": (lambda m: m.Add(dtype=F64), (B, T, D), (B, T, D), (MASK_A, None)),
    "average_both": (lambda m: m.Average(dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "subtract_one": (lambda m: m.Subtract(dtype=F64), (B, T, D), (B, T, D), (None, MASK_B)),
    "multiply_both": (lambda m: m.Multiply(dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "multiply_one": (lambda m: m.Multiply(dtype=F64), (B, T, D), (B, T, D), (MASK_A, None)),
    "maximum_both": (lambda m: m.Maximum(dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "maximum_second": (lambda m: m.Maximum(dtype=F64), (B, T, D), (B, T, D), (None, MASK_B)),
    "minimum_first": (lambda m: m.Minimum(dtype=F64), (B, T, D), (B, T, D), (MASK_A, None)),
    "minimum_both": (lambda m: m.Minimum(dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "concat_both": (lambda m: m.Concatenate(dtype=F64), (B, T, D), (B, T, 2), (MASK_A, MASK_B)),
    "concat_one": (lambda m: m.Concatenate(dtype=F64), (B, T, D), (B, T, 2), (None, MASK_B)),
    "concat_time": (lambda m: m.Concatenate(axis=1, dtype=F64), (B, T, D), (B, 2, D), (MASK_A, None)),
    "concat_time_both": (lambda m: m.Concatenate(axis=1, dtype=F64), (B, T, D), (B, T, D), (MASK_A, MASK_B)),
    "dot": (lambda m: m.Dot(axes=1, dtype=F64), (B, T, 1), (B, T, D), (MASK_A, MASK_A)),
}


@pytest.mark.parametrize("case", list(MERGE_MASK_CASES))
def test_merge_output_masks_match_keras(case):
    """Keras 3: elementwise merges OR the masks (None if one is missing), and Multiply / Maximum / Minimum let
    masked entries defer to the other inputs; Concatenate joins the masks along its axis (a missing mask counts
    as all True) and reduces over features; Dot drops the mask."""
    from seqcore.autograd import Tensor

    make, shape_a, shape_b, masks = MERGE_MASK_CASES[case]
    arrays = [rand(80, *shape_a), rand(81, *shape_b)]
    ours_in, keras_in = [], []
    for a, m in zip(arrays, masks):
        t, k = Tensor(a), torch.tensor(a)
        if m is not None:
            t._mask, k._keras_mask = m, torch.tensor(m)
        ours_in.append(t)
        keras_in.append(k)
    ours = make(nn)(ours_in)
    theirs = make(L)(keras_in)
    close(ours, theirs, f"{case} values")
    want = getattr(theirs, "_keras_mask", None)
    if want is None:
        assert ours._mask is None, f"{case}: Keras gives no mask, seqcore gives {ours._mask}"
    else:
        assert ours._mask is not None, f"{case}: Keras gives a mask, seqcore none"
        np.testing.assert_array_equal(np.asarray(ours._mask), want.numpy(), err_msg=f"{case} mask")


@pytest.mark.parametrize(
    "options",
    [{"center": False}, {"scale": False}, {"center": False, "scale": False}],
    ids=["no_center", "no_scale", "neither"],
)
@pytest.mark.parametrize("kind", ["BatchNormalization", "LayerNormalization"])
def test_normalization_without_center_or_scale(kind, options):
    """Keras creates no beta without center and no gamma without scale: the same weights, counts and outputs."""
    x = rand(82, B, T, D, scale=2.0) + 0.3
    ours, theirs = twins(getattr(nn, kind)(dtype=F64, **options), getattr(L, kind)(dtype=F64, **options), x, seed=83)
    assert ours.count_params() == theirs.count_params()
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    close(ours(x), theirs(x), f"{kind}{options}")
    if kind == "BatchNormalization":
        close(ours(x, training=True), theirs(x, training=True), f"{kind}{options} training")
        close(ours.get_weights(), theirs.get_weights(), f"{kind}{options} moving statistics")
