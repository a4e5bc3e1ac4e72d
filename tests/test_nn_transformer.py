"""nn.EncoderLayer / DecoderLayer against a PyTorch re-implementation (same weights, post-norm, eps 1e-6, float64,
forward and every gradient); Encoder / Decoder / Transformer shapes, the lazy attention weights, dropout, a short
overfit run and saving."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import nn, optim
from seqcore.autograd import Tensor
from seqcore.autograd import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

B, L, LS, DM, HEADS, DFF = 2, 5, 6, 8, 2, 12


def rand(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng([seed, *shape]).standard_normal(shape)


def _randomise(layer: nn.Layer, seed: int) -> None:
    """Nonzero biases and non-unit layer-norm gains, so every weight matters."""
    rng = np.random.default_rng(seed)
    layer.set_weights([w + 0.3 * rng.standard_normal(w.shape) for w in layer.get_weights()])


# ---------------------------------------------------------------- a PyTorch re-implementation


def _leaves(layer: nn.Layer) -> dict[str, torch.Tensor]:
    return {w.name: torch.tensor(w.data, requires_grad=True) for w in layer.weights}


def _torch_mha(p, mha, xq, xkv, allowed):
    """Keras-layout multi-head attention in torch; ``allowed`` [B|1, Lq, Lk] bool or None (True = may attend)."""
    W = [p[w.name] for w in mha.weights]
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = W
    q = torch.einsum("bld,dhk->bhlk", xq, Wq) + bq[None, :, None, :]
    k = torch.einsum("bld,dhk->bhlk", xkv, Wk) + bk[None, :, None, :]
    v = torch.einsum("bld,dhk->bhlk", xkv, Wv) + bv[None, :, None, :]
    s = q @ k.transpose(-1, -2) / np.sqrt(mha.key_dim)
    if allowed is not None:
        s = s.masked_fill(~torch.from_numpy(np.asarray(allowed))[:, None], float("-inf"))
    a = torch.softmax(s, dim=-1)
    return torch.einsum("bhqk,bhkv,hvo->bqo", a, v, Wo) + bo, a


def _torch_ln(p, ln, x):
    return TF.layer_norm(x, (x.shape[-1],), p[ln.gamma.name], p[ln.beta.name], eps=ln.epsilon)


def _torch_ffn(p, layer, x):
    h = torch.relu(x @ p[layer.ffn_hidden.kernel.name] + p[layer.ffn_hidden.bias.name])
    return h @ p[layer.ffn_output.kernel.name] + p[layer.ffn_output.bias.name]


def torch_encoder_layer(p, layer, x, mask):
    a, _ = _torch_mha(p, layer.mha, x, x, mask)
    x1 = _torch_ln(p, layer.layernorm1, x + a)
    return _torch_ln(p, layer.layernorm2, x1 + _torch_ffn(p, layer, x1))


def torch_decoder_layer(p, layer, x, enc, look_ahead, padding):
    a1, s1 = _torch_mha(p, layer.mha1, x, x, look_ahead)
    q1 = _torch_ln(p, layer.layernorm1, x + a1)
    a2, s2 = _torch_mha(p, layer.mha2, q1, enc, padding)
    q2 = _torch_ln(p, layer.layernorm2, q1 + a2)
    return _torch_ln(p, layer.layernorm3, q2 + _torch_ffn(p, layer, q2)), s1, s2


def _check_grads(layer, p, tol=1e-9):
    for w in layer.weights:
        np.testing.assert_allclose(w.grad, p[w.name].grad.numpy(), rtol=tol, atol=1e-11, err_msg=w.name)


def test_encoder_layer_matches_torch():
    seqcore.set_seed(0)
    layer = nn.EncoderLayer(DM, HEADS, DFF, dropout_rate=0.1, dtype="float64")
    _randomise(layer, 1)
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    mask = nn.create_padding_mask(ids)
    x = Tensor(rand(2, B, L, DM), requires_grad=True)
    out = layer(x, False, mask)  # the course's positional call: (x, training, mask)
    dy = rand(3, *out.shape)
    out.backward(dy)
    p = _leaves(layer)
    tx = torch.tensor(x.data, requires_grad=True)
    want = torch_encoder_layer(p, layer, tx, mask)
    want.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    _check_grads(layer, p)


def test_decoder_layer_matches_torch_and_its_scores():
    seqcore.set_seed(0)
    layer = nn.DecoderLayer(DM, HEADS, DFF, dropout_rate=0.1, dtype="float64")
    _randomise(layer, 2)
    tar = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    src = np.array([[3, 4, 5, 6, 0, 0], [1, 2, 3, 4, 5, 6]])
    look = nn.create_look_ahead_mask(L) & nn.create_padding_mask(tar)
    pad = nn.create_padding_mask(src)
    x = Tensor(rand(4, B, L, DM), requires_grad=True)
    enc = Tensor(rand(5, B, LS, DM), requires_grad=True)
    out, block1, block2 = layer(x, enc, training=False, look_ahead_mask=look, padding_mask=pad)
    dy = rand(6, *out.shape)
    out.backward(dy)
    p = _leaves(layer)
    tx, tenc = torch.tensor(x.data, requires_grad=True), torch.tensor(enc.data, requires_grad=True)
    want, s1, s2 = torch_decoder_layer(p, layer, tx, tenc, look, pad)
    want.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(enc.grad, tenc.grad.numpy(), rtol=1e-9, atol=1e-11)
    _check_grads(layer, p)
    assert block1.shape == (B, HEADS, L, L) and block2.shape == (B, HEADS, L, LS)
    np.testing.assert_allclose(np.asarray(block1), s1.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(block2), s2.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the stacks and the Transformer


def _transformer(seed: int = 0, dropout_rate: float = 0.1, **kw) -> nn.Transformer:
    seqcore.set_seed(seed)
    return nn.Transformer(2, 16, 2, 32, 20, 11, 12, dropout_rate=dropout_rate, **kw)


def _batch():
    inp = np.array([[3, 4, 5, 6, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
    tar = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    enc_mask = nn.create_padding_mask(inp)
    look = nn.create_look_ahead_mask(tar.shape[1]) & nn.create_padding_mask(tar)
    return inp, tar, enc_mask, look, enc_mask


def test_shapes_and_attention_weight_keys():
    model = _transformer()
    inp, tar, *masks = _batch()
    logits, weights = model(inp, tar, False, *masks)
    assert logits.shape == (2, 5, 11)
    assert list(weights) == [
        "decoder_layer1_block1_self_att",
        "decoder_layer1_block2_decenc_att",
        "decoder_layer2_block1_self_att",
        "decoder_layer2_block2_decenc_att",
    ]
    assert weights["decoder_layer2_block1_self_att"].shape == (2, 2, 5, 5)
    assert weights["decoder_layer1_block2_decenc_att"].shape == (2, 2, 5, 7)
    enc = model.encoder(inp, training=False, mask=masks[0])
    assert enc.shape == (2, 7, 16)
    dec, w = model.decoder(tar, enc, training=False, look_ahead_mask=masks[1], padding_mask=masks[2])
    assert dec.shape == (2, 5, 16) and len(w) == 4
    assert len(model.encoder.enc_layers) == 2 and len(model.decoder.dec_layers) == 2
    # padded keys get no attention; the look-ahead mask hides the future
    np.testing.assert_array_equal(np.asarray(w["decoder_layer1_block2_decenc_att"])[0, :, :, 4:], 0)
    assert np.all(np.triu(np.asarray(w["decoder_layer1_block1_self_att"])[1, 0], 1) == 0)


def test_attention_weights_are_lazy(monkeypatch):
    from seqcore.nn import attention as attn_mod

    calls = []
    real = attn_mod._attention_probabilities
    monkeypatch.setattr(attn_mod, "_attention_probabilities", lambda *a: calls.append(1) or real(*a))
    model = _transformer()
    inp, tar, *masks = _batch()
    logits, weights = model(inp, tar, True, *masks)
    F.softmax_cross_entropy(logits, tar).mean().backward()
    assert calls == []  # a training step computes no attention probabilities
    first = weights["decoder_layer2_block2_decenc_att"]
    assert calls == [1] and weights["decoder_layer2_block2_decenc_att"] is first and calls == [1]
    assert not first.requires_grad


def test_dropout_changes_training_outputs_only():
    model = _transformer(dropout_rate=0.3)
    inp, tar, *masks = _batch()
    a, _ = model(inp, tar, False, *masks)
    b, _ = model(inp, tar, False, *masks)
    np.testing.assert_array_equal(a.data, b.data)
    c, _ = model(inp, tar, True, *masks)
    d, _ = model(inp, tar, True, *masks)
    assert not np.allclose(c.data, a.data) and not np.allclose(c.data, d.data)


def test_overfits_a_toy_copy_task():
    seqcore.set_seed(1)
    model = nn.Transformer(1, 32, 2, 64, 12, 12, 10, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    src = rng.integers(3, 12, size=(16, 6))
    tar_in = np.concatenate([np.ones((16, 1), int), src[:, :-1]], axis=1)  # 1 = start token
    look = nn.create_look_ahead_mask(6)
    opt = optim.Adam(learning_rate=3e-3)
    losses = []
    for _ in range(60):
        logits, _ = model(src, tar_in, True, None, look, None)
        loss = F.softmax_cross_entropy(logits, src).mean()
        loss.backward()
        opt.apply_gradients([(w.grad, w) for w in model.trainable_weights])
        for w in model.trainable_weights:
            w.grad = None
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0], losses[::10]


def test_save_and_load_round_trip(tmp_path):
    model = _transformer(seed=4)
    _randomise(model, 5)
    inp, tar, *masks = _batch()
    want, _ = model(inp, tar, False, *masks)
    model.save(tmp_path / "t.safetensors")
    loaded = nn.load_model(tmp_path / "t.safetensors")
    assert isinstance(loaded, nn.Transformer) and loaded.get_config() == {**model.get_config(), "name": loaded.name}
    got, _ = loaded(inp, tar, False, *masks)
    np.testing.assert_array_equal(got.data, want.data)
    model.save_weights(tmp_path / "w.safetensors")
    other = _transformer(seed=9)
    other.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(other(inp, tar, False, *masks)[0].data, want.data)
    layer = nn.EncoderLayer(8, 2, 16, name="enc_a")
    clone = nn.EncoderLayer.from_config({**layer.get_config(), "name": "enc_b"})
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]


def test_bad_input():
    model = _transformer()
    inp, tar, *masks = _batch()
    with pytest.raises(ValueError, match="max_positions"):
        model(np.ones((2, 13), int), tar)
    with pytest.raises(ValueError, match="tar must be token ids"):
        model(inp, tar[:1])
    with pytest.raises(ValueError, match="does not broadcast"):
        model(inp, tar, False, np.ones((2, 1, 3), bool))
    layer = nn.DecoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match="enc_output must have shape"):
        layer(np.zeros((2, 3, 8)), np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match="d_model"):
        nn.EncoderLayer(8, 2, 16)(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="dropout_rate"):
        nn.Encoder(1, 8, 2, 16, 10, 10, dropout_rate=1.5)
