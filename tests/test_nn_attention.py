"""nn.MultiHeadAttention, positional_encoding and the masks: closed forms, torch.nn.MultiheadAttention (forward and
every gradient, float64), keras.layers.MultiHeadAttention (Keras 3 on torch), bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

import seqcore
from seqcore import nn
from seqcore.autograd import Tensor

torch = pytest.importorskip("torch")

B, LQ, LK, D, H = 2, 5, 7, 8, 2  # key_dim = D // H so torch's MultiheadAttention has the same layout


def rand(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng([seed, *shape]).standard_normal(shape)


# ---------------------------------------------------------------- positional encoding and masks


def test_positional_encoding_closed_form():
    L, d = 11, 6
    pe = nn.positional_encoding(L, d, dtype="float64")
    assert pe.shape == (1, L, d) and pe.dtype == np.float64
    for pos in range(L):
        for i in range(d):
            angle = pos / 10000 ** (2 * (i // 2) / d)
            want = np.sin(angle) if i % 2 == 0 else np.cos(angle)
            assert pe[0, pos, i] == pytest.approx(want, abs=1e-12)
    assert nn.positional_encoding(3, 4).dtype == np.float32
    with pytest.raises(ValueError, match="d_model"):
        nn.positional_encoding(3, 0)


def test_masks_shapes_values_and_combination():
    seq = np.array([[5, 3, 0, 0], [1, 2, 3, 0]])
    pad = nn.create_padding_mask(seq)
    assert pad.shape == (2, 1, 4) and pad.dtype == np.bool_
    np.testing.assert_array_equal(pad[:, 0], seq != 0)
    look = nn.create_look_ahead_mask(4)
    assert look.shape == (1, 4, 4) and look.dtype == np.bool_
    np.testing.assert_array_equal(look[0], np.tril(np.ones((4, 4), bool)))
    both = pad & look
    assert both.shape == (2, 4, 4)
    assert both[1, 3].tolist() == [True, True, True, False] and both[0, 0].tolist() == [True, False, False, False]
    assert nn.create_padding_mask(np.array([[7, 9]]), pad=9).tolist() == [[[True, False]]]
    with pytest.raises(ValueError, match="seq"):
        nn.create_padding_mask(np.zeros(3))
    with pytest.raises(ValueError, match="size"):
        nn.create_look_ahead_mask(0)


# ---------------------------------------------------------------- torch.nn.MultiheadAttention


def _ours(Dq: int, Dkv: int, seed: int = 0) -> nn.MultiHeadAttention:
    seqcore.set_seed(seed)
    mha = nn.MultiHeadAttention(H, D // H, dtype="float64")
    mha.build((None, None, Dq), (None, None, Dkv))
    rng = np.random.default_rng(seed + 100)
    mha.set_weights([rng.standard_normal(w.shape) * 0.5 for w in mha.get_weights()])  # nonzero biases too
    return mha


def _torch_twin(mha: nn.MultiHeadAttention, Dq: int, Dkv: int):
    E = H * (D // H)
    assert Dq == E
    t = torch.nn.MultiheadAttention(E, H, bias=True, kdim=Dkv, vdim=Dkv, batch_first=True, dtype=torch.float64)
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = (w.data for w in mha.weights)
    with torch.no_grad():
        if t._qkv_same_embed_dim:
            stacked = np.concatenate([W.reshape(W.shape[0], -1).T for W in (Wq, Wk, Wv)])
            t.in_proj_weight.copy_(torch.from_numpy(stacked))
        else:
            for p, W in ((t.q_proj_weight, Wq), (t.k_proj_weight, Wk), (t.v_proj_weight, Wv)):
                p.copy_(torch.from_numpy(W.reshape(W.shape[0], -1).T))
        t.in_proj_bias.copy_(torch.from_numpy(np.concatenate([b.reshape(-1) for b in (bq, bk, bv)])))
        t.out_proj.weight.copy_(torch.from_numpy(Wo.reshape(-1, Wo.shape[-1]).T))
        t.out_proj.bias.copy_(torch.from_numpy(bo))
    return t


def _torch_grads(t) -> list[np.ndarray]:
    """torch's parameter gradients in the Keras layout and order of ours."""
    E = t.embed_dim
    if t._qkv_same_embed_dim:
        gq, gk, gv = t.in_proj_weight.grad.numpy().reshape(3, E, -1)
    else:
        gq, gk, gv = (p.grad.numpy() for p in (t.q_proj_weight, t.k_proj_weight, t.v_proj_weight))
    gb = t.in_proj_bias.grad.numpy().reshape(3, H, -1)
    go = t.out_proj.weight.grad.numpy()
    return [
        gq.T.reshape(-1, H, E // H),
        gb[0],
        gk.T.reshape(-1, H, E // H),
        gb[1],
        gv.T.reshape(-1, H, E // H),
        gb[2],
        go.T.reshape(H, E // H, -1),
        t.out_proj.bias.grad.numpy(),
    ]


CASES = {
    "self, no mask": dict(self_attn=True, mask=None, causal=False),
    "self, padding": dict(self_attn=True, mask="pad", causal=False),
    "self, causal": dict(self_attn=True, mask=None, causal=True),
    "self, causal & padding": dict(self_attn=True, mask="pad", causal=True),
    "cross Lq != Lk, padding": dict(self_attn=False, mask="pad", causal=False),
    "cross, full [B,Lq,Lk] mask": dict(self_attn=False, mask="full", causal=False),
    "cross, key differs from value": dict(self_attn=False, mask=None, causal=False, key=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_multihead_attention_forward_and_gradients(case):
    spec = CASES[case]
    Dkv = D if spec["self_attn"] else 6
    Lk = LQ if spec["self_attn"] else LK
    mha = _ours(D, Dkv)
    t = _torch_twin(mha, D, Dkv)
    xq = rand(1, B, LQ, D)
    xv = xq if spec["self_attn"] else rand(2, B, Lk, Dkv)
    xk = rand(3, B, Lk, Dkv) if spec.get("key") else xv
    mask = None  # ours: True = may attend, [B, Lq, Lk] broadcastable
    if spec["mask"] == "pad":
        mask = np.ones((B, 1, Lk), bool)
        mask[1, 0, Lk - 2 :] = False
    elif spec["mask"] == "full":
        mask = np.random.default_rng(5).random((B, LQ, Lk)) > 0.3
        mask[:, :, 0] = True  # no query row without a key (torch would give NaN)
    q_t = Tensor(xq, requires_grad=True)
    v_t = q_t if spec["self_attn"] else Tensor(xv, requires_grad=True)
    k_t = v_t if not spec.get("key") else Tensor(xk, requires_grad=True)
    out = mha(q_t, v_t, k_t, attention_mask=mask, use_causal_mask=spec["causal"])
    dy = rand(9, *out.shape)
    out.backward(dy)

    tq = torch.tensor(xq, requires_grad=True)
    tv = tq if spec["self_attn"] else torch.tensor(xv, requires_grad=True)
    tk = tv if not spec.get("key") else torch.tensor(xk, requires_grad=True)
    allowed = np.ones((B, LQ, Lk), bool) if mask is None else np.broadcast_to(mask, (B, LQ, Lk)).copy()
    if spec["causal"]:
        allowed &= np.tri(LQ, Lk, dtype=bool)
    attn_mask = torch.from_numpy(np.repeat(~allowed, H, axis=0))  # torch: True = NOT allowed, [B*h, Lq, Lk]
    want, _ = t(tq, tk, tv, attn_mask=attn_mask, need_weights=False)
    want.backward(torch.from_numpy(dy))

    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(q_t.grad, tq.grad.numpy(), rtol=1e-9, atol=1e-10)
    if not spec["self_attn"]:
        np.testing.assert_allclose(v_t.grad, tv.grad.numpy(), rtol=1e-9, atol=1e-10)
        if spec.get("key"):
            np.testing.assert_allclose(k_t.grad, tk.grad.numpy(), rtol=1e-9, atol=1e-10)
    for w, g in zip(mha.weights, _torch_grads(t)):
        np.testing.assert_allclose(w.grad, g, rtol=1e-9, atol=1e-10, err_msg=w.name)


def test_four_d_mask_and_implicit_masks_match_explicit_ones():
    mha = _ours(D, 6)
    xq, xv = rand(1, B, LQ, D), rand(2, B, LK, 6)
    keep = np.ones((B, LK), bool)
    keep[0, 4:] = False
    three = mha(xq, xv, attention_mask=keep[:, None, :])
    four = mha(xq, xv, attention_mask=keep[:, None, None, :])
    implicit = Tensor(xv)
    implicit._mask = keep  # as Embedding(mask_zero=True) leaves it
    np.testing.assert_allclose(four.data, three.data, rtol=0, atol=0)
    np.testing.assert_allclose(mha(xq, implicit).data, three.data, rtol=0, atol=0)
    ones = mha(xq, xv, attention_mask=keep[:, None, :].astype(np.float64))
    np.testing.assert_allclose(ones.data, three.data, rtol=0, atol=0)


def test_return_attention_scores_are_the_probabilities_without_gradient():
    mha = _ours(D, 6)
    xq, xv = rand(1, B, LQ, D), rand(2, B, LK, 6)
    mask = np.ones((B, 1, LK), bool)
    mask[1, 0, 3:] = False
    q_t = Tensor(xq, requires_grad=True)
    out, scores = mha(q_t, xv, attention_mask=mask, return_attention_scores=True)
    assert scores.shape == (B, H, LQ, LK) and not scores.requires_grad
    np.testing.assert_allclose(scores.data.sum(-1), 1.0, rtol=1e-12)
    assert np.all(scores.data[1, :, :, 3:] == 0)
    # the scores reproduce the output: out = merge(scores @ v) @ Wo + bo
    Wv, bv, Wo, bo = (w.data for w in mha.weights[4:])
    v = np.einsum("bld,dhk->bhlk", xv, Wv) + bv[None, :, None, :]
    want = np.einsum("bhqk,bhkv,hvo->bqo", scores.data, v, Wo) + bo
    np.testing.assert_allclose(out.data, want, rtol=1e-10, atol=1e-12)
    out_plain = mha(xq, xv, attention_mask=mask)
    np.testing.assert_allclose(out_plain.data, out.data, rtol=0, atol=0)


def test_lazy_scores_compute_only_when_read(monkeypatch):
    from seqcore.nn import attention as attn_mod

    calls = []
    real = attn_mod._attention_probabilities
    monkeypatch.setattr(attn_mod, "_attention_probabilities", lambda *a: calls.append(1) or real(*a))
    mha = _ours(D, D)
    x = rand(1, B, LQ, D)
    out, lazy = mha.attend(x, x, x, use_causal_mask=True)
    assert calls == [] and lazy.shape == (B, H, LQ, LQ) and not lazy.computed
    first = np.asarray(lazy)
    assert calls == [1] and np.all(np.triu(first[0, 0], 1) == 0)
    assert lazy.tensor() is lazy.tensor() and calls == [1]


def test_dropout_only_when_training_and_reproducible_with_the_seed():
    seqcore.set_seed(3)
    mha = nn.MultiHeadAttention(2, 4, dropout=0.5, dtype="float64")
    x = rand(1, B, LQ, D)
    a = mha(x, x)
    np.testing.assert_allclose(mha(x, x, training=False).data, a.data, rtol=0, atol=0)  # inference: no dropout
    seqcore.set_seed(7)
    t1 = mha(x, x, training=True).data
    seqcore.set_seed(7)
    t2 = mha(x, x, training=True).data
    assert not np.allclose(t1, a.data)
    np.testing.assert_array_equal(t1, t2)


def test_weights_layout_config_and_output_shape():
    mha = nn.MultiHeadAttention(3, 4, value_dim=5, output_shape=7, dtype="float64")
    out = mha(rand(1, 2, 3, 6), rand(2, 2, 4, 9))
    assert out.shape == (2, 3, 7)
    assert [w.shape for w in mha.weights] == [(6, 3, 4), (3, 4), (9, 3, 4), (3, 4), (9, 3, 5), (3, 5), (3, 5, 7), (7,)]
    assert [w.name.split("/", 1)[1] for w in mha.weights][::2] == [
        "query/kernel",
        "key/kernel",
        "value/kernel",
        "attention_output/kernel",
    ]
    config = mha.get_config()
    clone = nn.MultiHeadAttention.from_config({**config, "name": "clone"})
    assert clone.get_config() == {**config, "name": "clone"}
    no_bias = nn.MultiHeadAttention(2, 3, use_bias=False)
    no_bias(rand(1, 1, 2, 4), rand(1, 1, 2, 4))
    assert len(no_bias.weights) == 4


def test_bad_input_errors():
    mha = _ours(D, 6)
    xq, xv = rand(1, B, LQ, D), rand(2, B, LK, 6)
    with pytest.raises(ValueError, match="same batch size"):
        mha(xq, xv[:1])
    with pytest.raises(ValueError, match=r"attention_mask of shape \(2, 3, 7\) does not broadcast"):
        mha(xq, xv, attention_mask=np.ones((B, 3, LK), bool))
    with pytest.raises(ValueError, match="attention_mask must be boolean"):
        mha(xq, xv, attention_mask=np.full((B, 1, LK), 0.5))
    with pytest.raises(ValueError, match="value must have 6 features"):
        mha(xq, rand(2, B, LK, 5))
    with pytest.raises(ValueError, match=r"value must have shape \[B, L, D\]"):
        mha(xq, rand(2, B, 6))
    with pytest.raises(ValueError, match="same length"):
        mha(xq, xv, rand(3, B, LK - 1, 6))
    with pytest.raises(ValueError, match="num_heads"):
        nn.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="dropout"):
        nn.MultiHeadAttention(2, 4, dropout=1.0)
    with pytest.raises(TypeError, match="value is required"):
        mha(xq)


# ---------------------------------------------------------------- keras.layers.MultiHeadAttention


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras runs on {keras.backend.backend()}, this test wants torch")
    return keras


@pytest.mark.parametrize("causal", [False, True])
def test_matches_keras_multihead_attention(keras, causal):
    # Keras 3 on torch computes float64 in float32: agreement to float32 precision
    ours = nn.MultiHeadAttention(3, 4, value_dim=5, dtype="float64")
    xq, xv, xk = rand(1, B, LQ, 6), rand(2, B, LQ, 9), rand(3, B, LQ, 7)
    mask = np.ones((B, LQ, LQ), bool)
    mask[0, :, 3:] = False
    out, scores = ours(xq, xv, xk, attention_mask=mask, return_attention_scores=True, use_causal_mask=causal)
    theirs = keras.layers.MultiHeadAttention(3, 4, value_dim=5, dtype="float64")
    theirs(xq, xv, xk)  # build
    theirs.set_weights(ours.get_weights())  # the same order and layout
    k_out, k_scores = theirs(
        xq, xv, xk, attention_mask=mask, return_attention_scores=True, use_causal_mask=causal, training=False
    )
    k_out, k_scores = (np.asarray(keras.ops.convert_to_numpy(t)) for t in (k_out, k_scores))
    np.testing.assert_allclose(out.data, k_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores.data, k_scores, rtol=1e-5, atol=1e-6)


def test_functional_model_with_attention_saves_and_loads(tmp_path):
    q_in, v_in = nn.Input((LQ, D)), nn.Input((LK, 6))
    out, scores = nn.MultiHeadAttention(H, 3)(q_in, v_in, return_attention_scores=True)
    model = nn.Model([q_in, v_in], [out, scores])
    x = [rand(1, B, LQ, D).astype(np.float32), rand(2, B, LK, 6).astype(np.float32)]
    want = model(x)
    assert want[0].shape == (B, LQ, D) and want[1].shape == (B, H, LQ, LK)
    model.save(tmp_path / "m.safetensors")
    got = nn.load_model(tmp_path / "m.safetensors")(x)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.data, b.data)
