"""seqcore.interop.layouts: each reorder/transpose, both directions, and its argument checks (NumPy only)."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore.interop import layouts as LY

D, H = 3, 2
rng = np.random.default_rng(0)


def rand(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def test_reorder_gate_blocks_moves_whole_blocks():
    a = np.repeat(np.array([10, 20, 30]), H)[None, :]  # r r z z n n
    np.testing.assert_array_equal(LY.gru_gates_torch_to_keras(a), [[20, 20, 10, 10, 30, 30]])
    np.testing.assert_array_equal(LY.gru_gates_keras_to_torch(LY.gru_gates_torch_to_keras(a)), a)
    col = a.T  # gates along axis 0
    np.testing.assert_array_equal(LY.gru_gates_torch_to_keras(col, axis=0)[:, 0], [20, 20, 10, 10, 30, 30])
    with pytest.raises(ValueError, match="permutations of the same distinct gate letters"):
        LY.reorder_gate_blocks(a, "rzn", "zrh")
    with pytest.raises(ValueError, match=r"does not split into 3 gate blocks"):
        LY.reorder_gate_blocks(np.zeros(7), "rzn", "zrn")


def test_lstm_round_trip_and_bias_sum():
    w_ih, w_hh, b_ih, b_hh = rand(4 * H, D), rand(4 * H, H), rand(4 * H), rand(4 * H)
    kernel, recurrent, bias = LY.lstm_from_torch(w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_array_equal(kernel, w_ih.T)
    np.testing.assert_array_equal(recurrent, w_hh.T)
    np.testing.assert_array_equal(bias, b_ih + b_hh)
    back = LY.lstm_to_torch(kernel, recurrent, bias)
    np.testing.assert_array_equal(back[0], w_ih)
    np.testing.assert_array_equal(back[2], b_ih + b_hh)
    np.testing.assert_array_equal(back[3], np.zeros(4 * H))
    assert back[0].flags.c_contiguous and not np.shares_memory(back[0], kernel)
    assert LY.lstm_to_torch(kernel, recurrent)[2:] == (None, None)
    np.testing.assert_array_equal(LY.lstm_from_torch(w_ih, w_hh)[2], np.zeros(4 * H))


def test_gru_round_trip_reorders_gates_and_stacks_biases():
    w_ih, w_hh, b_ih, b_hh = rand(3 * H, D), rand(3 * H, H), rand(3 * H), rand(3 * H)
    kernel, recurrent, bias = LY.gru_from_torch(w_ih, w_hh, b_ih, b_hh)
    assert kernel.shape == (D, 3 * H) and recurrent.shape == (H, 3 * H) and bias.shape == (2, 3 * H)
    np.testing.assert_array_equal(kernel[:, :H], w_ih[H : 2 * H].T)  # Keras z = torch's second block
    np.testing.assert_array_equal(kernel[:, H : 2 * H], w_ih[:H].T)  # Keras r = torch's first block
    np.testing.assert_array_equal(bias[1, 2 * H :], b_hh[2 * H :])  # candidate stays last
    for got, want in zip(LY.gru_to_torch(kernel, recurrent, bias), (w_ih, w_hh, b_ih, b_hh)):
        np.testing.assert_array_equal(got, want)


def test_gru_reset_after_false_has_no_torch_form():
    kernel, recurrent = rand(D, 3 * H), rand(H, 3 * H)
    with pytest.raises(ValueError, match=r"reset_after=False \(bias shape \(6,\)\) has no torch equivalent"):
        LY.gru_to_torch(kernel, recurrent, rand(3 * H))
    with pytest.raises(ValueError, match="reset_after=False"):
        LY.gru_to_torch(kernel, recurrent, rand(2, 3 * H), reset_after=False)


def test_rnn_linear_conv_embedding_norms_round_trip():
    k, u, b = LY.rnn_from_torch(rand(H, D), rand(H, H), np.ones(H), np.ones(H))
    np.testing.assert_array_equal(b, 2 * np.ones(H))
    np.testing.assert_array_equal(LY.rnn_from_torch(*LY.rnn_to_torch(k, u, b))[0], k)

    weight, bias = rand(4, D), rand(4)
    kernel, kb = LY.linear_from_torch(weight, bias)
    assert kernel.shape == (D, 4)
    np.testing.assert_array_equal(LY.linear_to_torch(kernel, kb)[0], weight)
    assert LY.linear_from_torch(weight)[1] is None

    conv = rand(5, D, 3)  # [F,C,K]
    ck, cb = LY.conv1d_from_torch(conv, rand(5))
    assert ck.shape == (3, D, 5)
    np.testing.assert_array_equal(ck[1, 2, 4], conv[4, 2, 1])
    np.testing.assert_array_equal(LY.conv1d_to_torch(ck, cb)[0], conv)

    table = rand(7, 4)
    np.testing.assert_array_equal(LY.embedding_to_torch(LY.embedding_from_torch(table)), table)

    g, beta = LY.layer_norm_from_torch(rand(4))
    np.testing.assert_array_equal(beta, np.zeros(4))
    np.testing.assert_array_equal(LY.layer_norm_to_torch(g, beta)[0], g)

    stats = [rand(4) for _ in range(4)]
    for got, want in zip(LY.batch_norm_to_torch(*LY.batch_norm_from_torch(*stats)), stats):
        np.testing.assert_array_equal(got, want)


def test_argument_errors_name_the_argument_and_shapes():
    with pytest.raises(ValueError, match=r"weight_hh must have shape \(4H, H\) = \(8, 2\), got \(8, 3\)"):
        LY.lstm_from_torch(rand(8, D), rand(8, 3))
    with pytest.raises(ValueError, match=r"weight_ih must have shape \(3H, D\) = \(6, D\), got \(4, 3\)"):
        LY.gru_from_torch(rand(4, D), rand(6, 2))
    with pytest.raises(ValueError, match=r"bias_hh must have shape \(H,\) = \(2,\), got \(3,\)"):
        LY.rnn_from_torch(rand(H, D), rand(H, H), rand(H), rand(3))
    with pytest.raises(ValueError, match=r"kernel must have shape \(D, 4H\) = \(D, 8\), got \(3, 6\)"):
        LY.lstm_to_torch(rand(3, 6), rand(2, 8))
    with pytest.raises(ValueError, match=r"bias must have shape \(2, 3H\) = \(2, 6\), got \(2, 7\)"):
        LY.gru_to_torch(rand(D, 6), rand(2, 6), rand(2, 7))
    with pytest.raises(ValueError, match="weight must have 3 dimensions, got shape"):
        LY.conv1d_from_torch(rand(2, 2))
    with pytest.raises(ValueError, match=r"running_var must have shape \(F,\) = \(4,\), got \(5,\)"):
        LY.batch_norm_from_torch(rand(4), rand(4), rand(4), rand(5))
    with pytest.raises(TypeError, match="weight_hh must be an array, got None"):
        LY.lstm_from_torch(rand(8, D), None)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    w = torch.randn(4, D, dtype=torch.bfloat16, requires_grad=True)
    kernel, _ = LY.linear_from_torch(w)
    np.testing.assert_array_equal(kernel, w.detach().float().numpy().T)
