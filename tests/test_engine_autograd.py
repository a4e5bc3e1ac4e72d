"""seqcore.autograd: every elementary and fused op against central finite differences (float64), and the tape.

Each case is a function of leaf Tensors; ``gradcheck`` weighs its outputs with seeded random
arrays and compares the tape's gradient of that scalar with central differences, on the
reference and cpp kernel backends.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import ENGINE_BACKENDS, away_from, gradcheck
from seqcore import kernels as K
from seqcore import set_seed, use_backend
from seqcore.autograd import (
    Tensor,
    Variable,
    abs_,
    astype,
    clip,
    concatenate,
    enable_grad,
    exp,
    expand_dims,
    gather,
    getitem,
    is_grad_enabled,
    log,
    log_softmax,
    matmul,
    max_,
    maximum,
    mean,
    minimum,
    no_grad,
    power,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    sum_,
    swapaxes,
    tanh,
    transpose,
    where,
)
from seqcore.autograd import functional as F

HAS_CONV = hasattr(K, "conv1d_forward")
NO_CONV = "seqcore.kernels lacks conv1d_forward (the conv1d kernel has not landed yet)"


def arr(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng([seed, *shape, 31]).standard_normal(shape)


def positive(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng([seed, *shape, 37]).uniform(0.5, 2.0, shape)


# ---------------------------------------------------------------- elementary ops

COND = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, True]])
BOOL_ROWS = np.array([True, False, True, True])

# id -> (fn of leaf tensors, inputs)
ELEMENTARY = {
    # arithmetic, with broadcasting and Python scalars on either side
    "add": (lambda a, b: a + b, {"a": arr(1, 3, 4), "b": arr(2, 3, 4)}),
    "add_broadcast_row": (lambda a, b: a + b, {"a": arr(1, 3, 4), "b": arr(2, 4)}),
    "add_broadcast_both": (lambda a, b: a + b, {"a": arr(1, 2, 1, 4), "b": arr(2, 3, 1)}),
    "add_scalar": (lambda a: 2.5 + a + 1.0, {"a": arr(1, 3)}),
    "add_ndarray_left": (lambda a: np.ones((2, 3)) + a, {"a": arr(1, 3)}),
    "sub": (lambda a, b: a - b, {"a": arr(3, 2, 3), "b": arr(4, 2, 1)}),
    "rsub_scalar": (lambda a: 1.5 - a, {"a": arr(3, 4)}),
    "mul": (lambda a, b: a * b, {"a": arr(5, 3, 4), "b": arr(6, 3, 4)}),
    "mul_broadcast": (lambda a, b: a * b, {"a": arr(5, 2, 3, 1), "b": arr(6, 3, 4)}),
    "mul_same_tensor": (lambda a: a * a, {"a": arr(5, 4)}),
    "div": (lambda a, b: a / b, {"a": arr(7, 3, 4), "b": positive(8, 3, 4)}),
    "div_broadcast": (lambda a, b: a / b, {"a": arr(7, 3, 4), "b": positive(8, 3, 1)}),
    "rdiv_scalar": (lambda b: 2.0 / b, {"b": positive(8, 5)}),
    "neg": (lambda a: -a, {"a": arr(9, 3, 2)}),
    "power_scalar_exponent": (lambda a: a**3, {"a": arr(10, 3, 4)}),
    "power_tensor_exponent": (lambda a, b: power(a, b), {"a": positive(11, 3, 4), "b": arr(12, 4)}),
    "rpow": (lambda b: 2.0**b, {"b": arr(12, 3)}),
    # matmul in every NumPy form
    "matmul_2d": (lambda a, b: a @ b, {"a": arr(13, 3, 4), "b": arr(14, 4, 2)}),
    "matmul_1d_2d": (lambda a, b: a @ b, {"a": arr(13, 4), "b": arr(14, 4, 2)}),
    "matmul_2d_1d": (lambda a, b: a @ b, {"a": arr(13, 3, 4), "b": arr(14, 4)}),
    "matmul_1d_1d": (lambda a, b: matmul(a, b), {"a": arr(13, 4), "b": arr(14, 4)}),
    "matmul_batched_2d": (lambda a, b: a @ b, {"a": arr(13, 2, 3, 4), "b": arr(14, 4, 2)}),
    "matmul_1d_batched": (lambda a, b: a @ b, {"a": arr(13, 4), "b": arr(14, 2, 4, 3)}),
    "matmul_batched_1d": (lambda a, b: a @ b, {"a": arr(13, 2, 3, 4), "b": arr(14, 4)}),
    "matmul_broadcast_batch": (lambda a, b: a @ b, {"a": arr(13, 2, 1, 3, 4), "b": arr(14, 3, 4, 2)}),
    "rmatmul_ndarray": (lambda b: arr(15, 3, 4) @ b, {"b": arr(14, 4, 2)}),
    # reductions
    "sum_all": (lambda a: sum_(a), {"a": arr(16, 3, 4)}),
    "sum_axis": (lambda a: a.sum(axis=1), {"a": arr(16, 2, 3, 4)}),
    "sum_neg_axis_keepdims": (lambda a: sum_(a, -1, keepdims=True), {"a": arr(16, 2, 3, 4)}),
    "sum_axes_tuple": (lambda a: sum_(a, (-1, 0)), {"a": arr(16, 2, 3, 4)}),
    "mean_all": (lambda a: a.mean(), {"a": arr(17, 3, 4)}),
    "mean_axis_keepdims": (lambda a: mean(a, 0, keepdims=True), {"a": arr(17, 3, 4)}),
    "mean_axes_neg": (lambda a: mean(a, (0, -1)), {"a": arr(17, 2, 3, 4)}),
    "max_all": (lambda a: max_(a), {"a": arr(18, 3, 4)}),
    "max_axis": (lambda a: a.max(axis=-1), {"a": arr(18, 2, 3, 4)}),
    "max_axes_keepdims": (lambda a: max_(a, (0, 2), keepdims=True), {"a": arr(18, 2, 3, 4)}),
    # shapes
    "reshape": (lambda a: reshape(a, (4, -1)), {"a": arr(19, 2, 3, 2)}),
    "reshape_method_args": (lambda a: a.reshape(3, 4), {"a": arr(19, 2, 6)}),
    "transpose_default": (lambda a: transpose(a), {"a": arr(20, 2, 3, 4)}),
    "transpose_neg_axes": (lambda a: a.transpose(-1, 0, -2), {"a": arr(20, 2, 3, 4)}),
    "T": (lambda a: a.T, {"a": arr(20, 3, 4)}),
    "swapaxes_neg": (lambda a: swapaxes(a, -1, 0), {"a": arr(21, 2, 3, 4)}),
    "expand_dims": (lambda a: expand_dims(a, -1), {"a": arr(22, 3, 2)}),
    "expand_dims_front": (lambda a: expand_dims(a, 0), {"a": arr(22, 3, 2)}),
    "squeeze_axis": (lambda a: squeeze(a, 1), {"a": arr(23, 3, 1, 2, 1)}),
    "squeeze_all": (lambda a: squeeze(a), {"a": arr(23, 3, 1, 2, 1)}),
    "concatenate_last": (
        lambda a, b: concatenate([a, np.ones((2, 1)), b], axis=-1),
        {"a": arr(24, 2, 3), "b": arr(25, 2, 2)},
    ),
    "concatenate_first": (lambda a, b: concatenate([a, b, a], axis=0), {"a": arr(24, 2, 3), "b": arr(25, 1, 3)}),
    "stack_middle": (lambda a, b: stack([a, b], axis=1), {"a": arr(26, 2, 3), "b": arr(27, 2, 3)}),
    "stack_neg_axis": (lambda a, b: stack([a, b, a], axis=-1), {"a": arr(26, 2, 3), "b": arr(27, 2, 3)}),
    "split_sections_all_used": (lambda a: list(split(a, 3, axis=-1)), {"a": arr(28, 2, 6)}),
    "split_indices_some_unused": (lambda a: split(a, [1, 3], axis=0)[1], {"a": arr(28, 5, 2)}),
    "split_first_and_last_only": (lambda a: (lambda p: [p[0], p[2] * 2.0])(split(a, 3, axis=1)), {"a": arr(28, 2, 6)}),
    # indexing
    "getitem_slices": (lambda a: a[1:, ::2], {"a": arr(29, 3, 5)}),
    "getitem_negative_step": (lambda a: a[::-1, -1], {"a": arr(29, 3, 5)}),
    "getitem_ellipsis_int": (lambda a: a[..., 1], {"a": arr(29, 2, 3, 4)}),
    "getitem_newaxis": (lambda a: a[None, 0], {"a": arr(29, 3, 4)}),
    "getitem_fancy_repeated": (lambda a: a[[0, 2, 0, 0]], {"a": arr(30, 3, 2)}),
    "getitem_fancy_pairs_repeated": (lambda a: a[[0, 0, 1, 0], [2, 2, 0, 2]], {"a": arr(30, 3, 4)}),
    "getitem_fancy_mixed_slice": (lambda a: a[[1, 1, 0], 1:3], {"a": arr(30, 3, 4)}),
    "getitem_fancy_2d_index": (lambda a: a[np.array([[0, 1], [1, 1]])], {"a": arr(30, 3, 2)}),
    "getitem_bool_mask": (lambda a: a[BOOL_ROWS], {"a": arr(31, 4, 3)}),
    "getitem_tensor_index": (lambda a: getitem(a, Tensor(np.array([2, 2, 1]))), {"a": arr(31, 3, 2)}),
    "gather_axis0_repeated": (lambda a: gather(a, np.array([[0, 2], [2, 2]]), 0), {"a": arr(32, 3, 4)}),
    "gather_axis1": (lambda a: gather(a, np.array([3, 0, 3]), axis=1), {"a": arr(32, 2, 4, 3)}),
    "gather_neg_axis_neg_ids": (lambda a: gather(a, np.array([-1, 0, -1]), axis=-1), {"a": arr(32, 2, 4)}),
    "where": (lambda a, b: where(COND, a, b), {"a": arr(33, 3, 4), "b": arr(34, 3, 4)}),
    "where_broadcast": (lambda a, b: where(COND, a, b), {"a": arr(33, 3, 1), "b": arr(34, 4)}),
    "where_scalar_other": (lambda a: where(COND, 0.0, a), {"a": arr(33, 3, 4)}),
    # elementwise functions (inputs away from kinks and outside domains' edges)
    "exp": (lambda a: exp(a), {"a": arr(35, 3, 4)}),
    "log": (lambda a: log(a), {"a": positive(36, 3, 4)}),
    "sqrt": (lambda a: sqrt(a), {"a": positive(37, 3, 4)}),
    "abs": (lambda a: abs_(a), {"a": away_from(arr(38, 3, 4), [0.0])}),
    "tanh": (lambda a: tanh(a), {"a": arr(39, 3, 4)}),
    "sigmoid": (lambda a: sigmoid(a), {"a": arr(40, 3, 4, scale=4.0)}),
    "relu": (lambda a: relu(a), {"a": away_from(arr(41, 3, 4), [0.0])}),
    "methods_exp_log_tanh_sigmoid_relu": (
        lambda a: [a.exp(), (a * a + 1.0).log(), a.tanh(), a.sigmoid(), a.relu()],
        {"a": away_from(arr(42, 2, 3), [0.0])},
    ),
    "maximum": (lambda a, b: maximum(a, b), {"a": arr(43, 3, 4), "b": away_from(arr(44, 3, 4), [])}),
    "maximum_broadcast_scalar": (lambda a: maximum(a, 0.25), {"a": away_from(arr(43, 3, 4), [0.25])}),
    "minimum": (lambda a, b: minimum(a, b), {"a": arr(45, 3, 1), "b": arr(46, 4)}),
    "clip": (lambda a: clip(a, -0.5, 0.7), {"a": away_from(arr(47, 4, 5), [-0.5, 0.7])}),
    "softmax_last": (lambda a: softmax(a), {"a": arr(48, 3, 5)}),
    "softmax_axis0": (lambda a: softmax(a, 0), {"a": arr(48, 3, 5)}),
    "softmax_middle_axis": (lambda a: a.softmax(axis=1), {"a": arr(48, 2, 3, 4)}),
    "softmax_1d": (lambda a: softmax(a, -1), {"a": arr(48, 6)}),
    "log_softmax_last": (lambda a: log_softmax(a), {"a": arr(49, 3, 5)}),
    "log_softmax_middle_axis": (lambda a: a.log_softmax(axis=-2), {"a": arr(49, 2, 3, 4)}),
    "astype_same_precision": (lambda a: astype(a, np.float64) * 2.0, {"a": arr(50, 3, 2)}),
}


@pytest.mark.parametrize("case", list(ELEMENTARY), ids=list(ELEMENTARY))
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_elementary_op_gradients(backend, case):
    fn, inputs = ELEMENTARY[case]
    with use_backend(backend):
        gradcheck(fn, inputs, seed=len(case), what=f"{case} [{backend}]")


# ---------------------------------------------------------------- fused ops

B, T, D, H = 2, 4, 3, 2


def _lengths():
    return np.array([4, 2])


def _rnn_inputs(seed: int, gates: int, *, gru_bias: bool = False, cell: bool = False) -> dict[str, np.ndarray]:
    inputs = {
        "x": arr(seed, B, T, D),
        "h0": arr(seed + 1, B, H, scale=0.5),
        "W": arr(seed + 2, D, gates * H, scale=0.6),
        "U": arr(seed + 3, H, gates * H, scale=0.6),
        "b": arr(seed + 4, 2, gates * H, scale=0.3) if gru_bias else arr(seed + 4, gates * H, scale=0.3),
    }
    if cell:
        inputs["c0"] = arr(seed + 5, B, H, scale=0.5)
    return inputs


def _conv_inputs(bias: bool) -> dict[str, np.ndarray]:
    out = {"x": arr(60, 2, 7, 3), "W": arr(61, 3, 3, 2, scale=0.5)}
    if bias:
        out["b"] = arr(62, 2)
    return out


FUSED = {
    "linear": (lambda x, W, b: F.linear(x, W, b), {"x": arr(51, 2, 3, 4), "W": arr(52, 4, 3), "b": arr(53, 3)}),
    "linear_no_bias": (lambda x, W: F.linear(x, W), {"x": arr(51, 5, 4), "W": arr(52, 4, 3)}),
    "embedding": (lambda E: F.embedding(E, np.array([[1, 3, 1], [0, 1, 1]])), {"E": arr(54, 4, 3)}),
    "lstm_all_outputs": (
        lambda x, h0, c0, W, U, b: F.lstm(x, h0, c0, W, U, b),
        _rnn_inputs(70, 4, cell=True),
    ),
    "lstm_lengths_reverse": (
        lambda x, h0, c0, W, U, b: F.lstm(x, h0, c0, W, U, b, lengths=_lengths(), reverse=True),
        _rnn_inputs(71, 4, cell=True),
    ),
    "lstm_only_h_used": (
        lambda x, h0, c0, W, U, b: F.lstm(x, h0, c0, W, U, b, lengths=_lengths())[1],
        _rnn_inputs(72, 4, cell=True),
    ),
    "lstm_only_c_used": (
        lambda x, h0, c0, W, U, b: F.lstm(x, h0, c0, W, U, b)[2],
        _rnn_inputs(72, 4, cell=True),
    ),
    "gru_reset_after": (
        lambda x, h0, W, U, b: F.gru(x, h0, W, U, b, reset_after=True),
        _rnn_inputs(73, 3, gru_bias=True),
    ),
    "gru_reset_before_lengths_reverse": (
        lambda x, h0, W, U, b: F.gru(x, h0, W, U, b, reset_after=False, lengths=_lengths(), reverse=True),
        _rnn_inputs(74, 3),
    ),
    "gru_only_y_used": (
        lambda x, h0, W, U, b: F.gru(x, h0, W, U, b, lengths=_lengths())[0],
        _rnn_inputs(75, 3, gru_bias=True),
    ),
    "rnn": (lambda x, h0, W, U, b: F.rnn(x, h0, W, U, b), _rnn_inputs(76, 1)),
    "rnn_lengths_reverse": (
        lambda x, h0, W, U, b: F.rnn(x, h0, W, U, b, lengths=_lengths(), reverse=True),
        _rnn_inputs(77, 1),
    ),
    "softmax_cross_entropy_sparse": (
        lambda z: F.softmax_cross_entropy(z, np.array([[0, 3, 3], [1, 2, 0]])),
        {"z": arr(78, 2, 3, 4, scale=2.0)},
    ),
    "softmax_cross_entropy_dense": (
        lambda z: F.softmax_cross_entropy(z, softmax(Tensor(arr(79, 3, 4))).data),
        {"z": arr(78, 3, 4, scale=2.0)},
    ),
    "conv1d_stride_padding_dilation": (
        lambda x, W, b: F.conv1d(x, W, b, stride=2, padding=(1, 2), dilation=2),
        _conv_inputs(True),
    ),
    "conv1d_valid_no_bias": (lambda x, W: F.conv1d(x, W), _conv_inputs(False)),
    "batch_norm_2d": (
        lambda x, g, b: F.batch_norm(x, g, b, eps=1e-3)[0],
        {"x": arr(80, 5, 3), "g": positive(81, 3), "b": arr(82, 3)},
    ),
    "batch_norm_3d": (
        lambda x, g, b: F.batch_norm(x, g, b, eps=1e-2)[0],
        {"x": arr(80, 2, 3, 3), "g": positive(81, 3), "b": arr(82, 3)},
    ),
    "layer_norm": (
        lambda x, g, b: F.layer_norm(x, g, b, eps=1e-3),
        {"x": arr(83, 2, 3, 4), "g": positive(84, 4), "b": arr(85, 4)},
    ),
}


def _dropout(x):
    set_seed(5)  # the same mask on every call
    return F.dropout(x, 0.4, noise_shape=(None, 1, None))


FUSED["dropout_noise_shape"] = (_dropout, {"x": arr(86, 3, 4, 2)})


@pytest.mark.parametrize("case", list(FUSED), ids=list(FUSED))
@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_fused_op_gradients(backend, case):
    if case.startswith("conv1d") and not HAS_CONV:
        pytest.skip(NO_CONV)
    fn, inputs = FUSED[case]
    with use_backend(backend):
        gradcheck(fn, inputs, seed=len(case), what=f"{case} [{backend}]")


def test_dropout_mask_scales_and_zeroes():
    set_seed(3)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, 0.25)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_array_equal(y.data[kept], np.full(kept.sum(), 1 / 0.75))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)
    assert F.dropout(x, 0.0) is x


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_batch_norm_returns_batch_statistics(backend):
    x = arr(90, 4, 3, 2)
    with use_backend(backend):
        y, mu, var = F.batch_norm(Tensor(x), Tensor(np.ones(2)), Tensor(np.zeros(2)), eps=1e-3)
    np.testing.assert_allclose(mu, x.reshape(-1, 2).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(var, x.reshape(-1, 2).var(axis=0), rtol=1e-12)  # biased
    np.testing.assert_allclose(y.data, (x - mu) / np.sqrt(var + 1e-3), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- tape semantics


def test_tensor_used_twice_accumulates():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = (x * x + x * 3.0).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3.0)


def test_second_backward_adds_to_leaf_grads():
    x = Tensor(np.array([0.5, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * 4.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 4.0)


def test_diamond_graph():
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    a = x * 2.0
    b = exp(a)
    c = tanh(a)
    y = (b * c + a).sum()  # a feeds b, c and y directly
    y.backward()
    e, t = np.exp(2 * x.data), np.tanh(2 * x.data)
    np.testing.assert_allclose(x.grad, 2 * (e * t + e * (1 - t * t) + 1), rtol=1e-12)


def test_deep_chain_does_not_recurse():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**5000], rtol=1e-9)


def test_no_grad_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0 + 1.0
        z, _ = split(x, [1], axis=0)
        with enable_grad():
            w = x * 3.0
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y._node is None
    assert not z.requires_grad and z._node is None
    assert w.requires_grad and not w.is_leaf
    with pytest.raises(RuntimeError, match="does not require gradients"):
        y.sum().backward()

    @no_grad()
    def infer(t):
        return t * t

    assert not infer(x).requires_grad
    assert (x * x).requires_grad


def test_detach_stops_gradients():
    x = Tensor(np.array([1.5, -0.5]), requires_grad=True)
    y = (x.detach() * x).sum()  # d/dx treats the detached factor as a constant
    y.backward()
    np.testing.assert_allclose(x.grad, x.data)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, x.data)


def test_backward_needs_grad_for_non_scalar():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(ValueError, match="grad must be given"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(3))
    assert x.grad is None
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))
    with pytest.raises(RuntimeError):
        Tensor(np.ones(1)).backward()


def test_leaf_backward_and_untracked_inputs():
    x = Tensor(np.array([2.0]), requires_grad=True)
    x.backward()
    np.testing.assert_allclose(x.grad, [1.0])
    c = Tensor(np.array([4.0]))  # no requires_grad: no gradient collected
    y = x * c
    y.backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [5.0])
    with pytest.raises(TypeError, match="float"):
        Tensor(np.array([1, 2]), requires_grad=True)


def test_mixed_precision_grads_keep_input_dtype():
    rng = np.random.default_rng(0)
    x32 = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    w64 = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    b32 = Tensor(rng.standard_normal(2).astype(np.float32), requires_grad=True)
    y = x32 @ w64 + b32  # float64 result
    assert y.dtype == np.float64
    z = concatenate([astype(y, np.float32), x32[:, :2] * 2.0], axis=0)  # back to float32
    assert z.dtype == np.float32
    (z * 1.5).sum().backward()
    assert x32.grad.dtype == np.float32 and b32.grad.dtype == np.float32 and w64.grad.dtype == np.float64
    expected_x = 1.5 * np.ones((3, 2)) @ w64.data.T
    expected_x[:, :2] += 3.0
    np.testing.assert_allclose(x32.grad, expected_x, rtol=1e-6, atol=1e-6)  # float32 sums
    np.testing.assert_allclose(w64.grad, 1.5 * x32.data.astype(np.float64).T @ np.ones((3, 2)), rtol=1e-6)
    np.testing.assert_allclose(b32.grad, [4.5, 4.5], rtol=1e-6)


def test_astype_gradient_goes_back_to_the_source_dtype():
    x32 = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    w = np.array([0.1, 0.3])
    (astype(x32, np.float64) * w).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad, w.astype(np.float32))


def test_python_scalars_keep_float32():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y = 2.0 * x + 1.0 - x / 3.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_multi_output_node_with_unused_outputs():
    x = Tensor(np.arange(12.0).reshape(2, 6), requires_grad=True)
    a, _, c = split(x, 3, axis=1)  # the middle part is never used
    (a * 2.0 + c * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.array([[2, 2, 0, 0, 3, 3]] * 2, dtype=float))
    # a node none of whose outputs reach the loss runs no backward and adds nothing
    x.grad = None
    y = Tensor(np.ones(3), requires_grad=True)
    _ = split(x, 2, axis=0)
    (y * 2.0).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(y.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("backend", ENGINE_BACKENDS)
def test_lstm_unused_outputs_give_the_same_gradient_as_zero_weights(backend):
    inputs = _rnn_inputs(95, 4, cell=True)
    with use_backend(backend):
        leaves = {k: Tensor(v, requires_grad=True) for k, v in inputs.items()}
        _, h, _ = F.lstm(**leaves)
        h.sum().backward()
        grads_unused = {k: t.grad.copy() for k, t in leaves.items()}
        leaves = {k: Tensor(v, requires_grad=True) for k, v in inputs.items()}
        y, h, c = F.lstm(**leaves)
        ((y * 0.0).sum() + h.sum() + (c * 0.0).sum()).backward()
    for k, t in leaves.items():
        np.testing.assert_allclose(grads_unused[k], t.grad, rtol=1e-12, atol=1e-14, err_msg=k)


def test_max_ties_share_the_gradient():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    max_(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    maximum(x, Tensor(np.full((2, 3), 2.0))).sum().backward()  # ties go to the first argument
    np.testing.assert_allclose(x.grad, [[0, 1, 1], [1, 1, 1]])


def test_frozen_variable_collects_no_gradient():
    w = Variable(np.ones(3), name="w")
    frozen = Variable(np.ones(3), name="frozen", trainable=False)
    (w * frozen * 2.0).sum().backward()
    np.testing.assert_allclose(w.grad, [2.0, 2.0, 2.0])
    assert frozen.grad is None
    frozen.set_trainable(True)
    (w * frozen).sum().backward()
    np.testing.assert_allclose(frozen.grad, [1.0, 1.0, 1.0])


def test_leaf_grads_are_writable_and_not_shared():
    """Each leaf owns its .grad: no read-only broadcast view, no array shared with another leaf or the caller."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()
    x.grad *= 0.5  # a broadcast view would raise "read-only"
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 0.5))

    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    upstream = np.array([1.0, 2.0, 3.0])
    (a + b).backward(upstream)
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, upstream)
    a.grad += 1.0
    np.testing.assert_array_equal(b.grad, upstream)
    np.testing.assert_array_equal(upstream, [1.0, 2.0, 3.0])
