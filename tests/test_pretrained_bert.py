"""seqcore.pretrained's BERT encoder: the real all-MiniLM-L6-v2 against Hugging Face's BertModel (float32 and
float64, both the layers path and the fused inference path, the pooler), the HF weight-name mapping (round trip,
``bert.`` prefix, old gamma/beta names, missing / extra / misshapen weights), gradients of a tiny random BERT
against central differences, bad input, BertConfig, and EncoderLayer's ``activation``."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from safetensors.numpy import load_file, save_file  # noqa: E402

from engine_helpers import gradcheck  # noqa: E402
from pretrained_helpers import (  # noqa: E402
    one_thread,
    random_bert,
    real_token_max_diff,
    tiny_config,
    write_tiny_model,
)
from seqcore import nn  # noqa: E402
from seqcore.pretrained import (  # noqa: E402
    BertConfig,
    BertModel,
    encoder_state_dict,
    load_bert,
    load_encoder_weights,
    model_dir,
)
from seqcore.pretrained.weights import split_prefix  # noqa: E402

SENTENCES = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog near the riverbank, twice.",
    "A",
    "Ünïcödé façade — naïve café in Zürich",
]
QUESTIONS = ["What is the capital of France?", "Who wrote it?", "Why?"]
CONTEXTS = [
    "Paris is the capital and the largest city of France.",
    "The novel was written by Jane Austen in 1813, long before the railways reached Hampshire.",
    "Because.",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread(torch_too=importlib.util.find_spec("torch") is not None):
        yield


@pytest.fixture(scope="module")
def minilm() -> BertModel:
    try:
        model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")
    return load_bert()


@pytest.fixture(scope="module")
def hf_bert(minilm):
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    return transformers.AutoModel.from_pretrained(str(minilm.source_dir)).eval()


def _batches(model: BertModel) -> list:
    tok = model.tokenizer
    return [
        tok(SENTENCES),  # mixed lengths: every row but the longest padded
        tok(QUESTIONS, CONTEXTS),  # pairs: token types 1 on the second segment
        tok(SENTENCES[1:2]),  # one row, no padding at all
    ]


def _hf_hidden(hf, batch, dtype=None):
    import torch

    with torch.no_grad():
        out = hf(
            input_ids=torch.tensor(batch.input_ids),
            attention_mask=torch.tensor(batch.attention_mask),
            token_type_ids=torch.tensor(batch.token_type_ids),
        )
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


# ---------------------------------------------------------------- the real checkpoint against Hugging Face


def test_load_bert_finds_the_packaged_model(minilm):
    c = minilm.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.vocab_size) == (384, 6, 12, 30522)
    assert minilm.tokenizer is not None and minilm.tokenizer.vocab_size == 30522
    assert minilm.pooler is not None
    assert all(v.dtype == np.float32 for v in minilm.weights)
    # 5 embedding weights + 16 per layer + the pooler's 2, every one tracked (and so trainable)
    assert len(minilm.weights) == 5 + 16 * 6 + 2
    assert model_dir("sentence-transformers/all-MiniLM-L6-v2") == minilm.source_dir


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "layers"])
def test_hidden_states_match_hugging_face(minilm, hf_bert, fast):
    for batch in _batches(minilm):
        want, _ = _hf_hidden(hf_bert, batch)
        got = minilm.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask, fast=fast)
        assert got.dtype == np.float32 and got.shape == want.shape
        assert real_token_max_diff(got, want, batch.attention_mask) < 1e-4


def test_pairs_use_token_types(minilm):
    batch = minilm.tokenizer(QUESTIONS, CONTEXTS)
    assert batch.token_type_ids.max() == 1
    with_types = minilm.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask)
    without = minilm.hidden_states(batch.input_ids, None, batch.attention_mask)
    assert real_token_max_diff(with_types, without, batch.attention_mask) > 1e-3


def test_float64_matches_hugging_face_in_float64(minilm, hf_bert):
    model = load_bert(dtype="float64")
    assert all(v.dtype == np.float64 for v in model.weights)
    hf64 = copy.deepcopy(hf_bert).double()
    for batch in _batches(model):
        want, want_pooled = _hf_hidden(hf64, batch)
        for fast in (True, False):
            got = model.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask, fast=fast)
            assert got.dtype == np.float64
            assert real_token_max_diff(got, want, batch.attention_mask) < 1e-9, f"fast={fast}"
        np.testing.assert_allclose(model.pooled(got).data, want_pooled, rtol=0, atol=1e-9)


def test_pooler_matches_hugging_face(minilm, hf_bert):
    batch = minilm.tokenizer(SENTENCES)
    _, want = _hf_hidden(hf_bert, batch)
    pooled = minilm.pooled(minilm.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask))
    assert pooled.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(pooled.data, want, rtol=0, atol=1e-5)


def test_padding_does_not_change_real_tokens(minilm):
    """A row alone and the same row padded in a batch give the same hidden states on its tokens."""
    tok = minilm.tokenizer
    alone = tok(SENTENCES[:1])
    padded = tok(SENTENCES[:1], pad_to=alone.input_ids.shape[1] + 7)
    a = minilm.hidden_states(alone.input_ids, alone.token_type_ids, alone.attention_mask)
    b = minilm.hidden_states(padded.input_ids, padded.token_type_ids, padded.attention_mask)
    np.testing.assert_allclose(b[:, : a.shape[1]], a, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- weights and their Hugging Face names


def _inputs():
    ids = np.array([[2, 20, 22, 28, 13, 23, 3], [2, 31, 28, 3, 0, 0, 0]])
    types = np.array([[0, 0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0]])
    mask = (np.arange(7)[None, :] < np.array([[7], [4]])).astype(np.int64)
    return ids, types, mask


def test_state_dict_round_trip_gives_equal_outputs():
    src, dst = random_bert(tiny_config(), seed=1), random_bert(tiny_config(), seed=2)
    ids, types, mask = _inputs()
    want = src.hidden_states(ids, types, mask)
    assert np.abs(dst.hidden_states(ids, types, mask) - want).max() > 1e-3
    state = encoder_state_dict(src)
    assert "encoder.layer.1.attention.self.query.weight" in state and "pooler.dense.weight" in state
    assert state["encoder.layer.0.intermediate.dense.weight"].shape == (32, 16)  # HF Linear: [out, in]
    assert all(a.flags.c_contiguous for a in state.values())
    load_encoder_weights(dst, state)
    np.testing.assert_array_equal(dst.hidden_states(ids, types, mask), want)
    np.testing.assert_array_equal(dst.pooled(want).data, src.pooled(want).data)
    for a, b in zip(encoder_state_dict(dst).values(), state.values()):
        np.testing.assert_array_equal(a, b)


def test_prefixed_and_old_names_load_the_same(tmp_path):
    plain = load_bert(write_tiny_model(tmp_path / "plain", seed=3), dtype="float64")
    prefixed = load_bert(write_tiny_model(tmp_path / "prefixed", seed=3, prefix="bert."), dtype="float64")
    old = write_tiny_model(tmp_path / "old", seed=3, prefix="bert.")
    renamed = {}
    for k, v in load_file(str(old / "model.safetensors")).items():
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        renamed[k] = v
    renamed["bert.embeddings.position_ids"] = np.arange(64, dtype=np.int64)[None]  # HF's buffer: ignored
    assert any(k.endswith("LayerNorm.gamma") for k in renamed)
    save_file(renamed, str(old / "model.safetensors"))
    old_model = load_bert(old, dtype="float64")
    ids, types, mask = _inputs()
    want = plain.hidden_states(ids, types, mask)
    np.testing.assert_array_equal(prefixed.hidden_states(ids, types, mask), want)
    np.testing.assert_array_equal(old_model.hidden_states(ids, types, mask), want)


def test_split_prefix_keeps_head_weights_apart():
    enc, rest = split_prefix(
        {"bert.encoder.layer.0.output.dense.bias": np.zeros(2), "classifier.weight": np.zeros((3, 2)),
         "embeddings.LayerNorm.gamma": np.ones(2)}
    )  # fmt: skip
    assert set(enc) == {"encoder.layer.0.output.dense.bias", "embeddings.LayerNorm.weight"}
    assert set(rest) == {"classifier.weight"}


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda s: s.pop("encoder.layer.1.output.dense.bias"),
            r"missing weights.*encoder\.layer\.1\.output\.dense\.bias",
        ),
        (
            lambda s: s.__setitem__("encoder.layer.2.output.dense.bias", np.zeros(16, np.float32)),
            r"no place in a 2-layer BERT.*encoder\.layer\.2\.output\.dense\.bias",
        ),
        (
            lambda s: s.__setitem__("encoder.layer.0.attention.self.query.weight", np.zeros((16, 8), np.float32)),
            r"encoder\.layer\.0\.attention\.self\.query\.weight has shape \(16, 8\)",
        ),
        (  # the same number of elements, transposed: still refused
            lambda s: s.__setitem__("encoder.layer.0.intermediate.dense.weight", np.zeros((16, 32), np.float32)),
            r"encoder\.layer\.0\.intermediate\.dense\.weight has shape \(16, 32\)",
        ),
    ],
    ids=["missing", "extra", "wrong-shape", "transposed"],
)
def test_bad_weights_name_the_weight(edit, match):
    state = encoder_state_dict(random_bert(tiny_config(), dtype="float32"))
    edit(state)
    model = BertModel(tiny_config())
    before = [v.data.copy() for v in model.weights]
    with pytest.raises(ValueError, match=match):
        load_encoder_weights(model, state)
    for v, b in zip(model.weights, before):  # every weight is checked before any is copied
        np.testing.assert_array_equal(v.data, b)


def test_checkpoint_without_pooler(tmp_path):
    model = load_bert(write_tiny_model(tmp_path / "m", add_pooler=False))
    assert model.pooler is None and not model.add_pooler
    ids, types, mask = _inputs()
    with pytest.raises(ValueError, match="no pooler"):
        model.pooled(model.hidden_states(ids, types, mask))


# ---------------------------------------------------------------- gradients of a tiny BERT


def test_gradients_match_finite_differences():
    model = random_bert(tiny_config(), seed=5)
    ids, types, mask = _inputs()
    first, second = model.encoder_layers
    variables = [
        model.embeddings.layer_norm.gamma,
        model.embeddings.token_type_embeddings.embeddings,
        first.mha.query_bias,
        first.mha.key_bias,
        second.mha.output_kernel,
        second.ffn_hidden.bias,
        second.layernorm2.beta,
    ]
    gradcheck(
        lambda: model(ids, token_type_ids=types, attention_mask=mask, training=False),
        variables=variables,
        what="tiny BertModel",
    )


def test_gradients_of_the_pooler_match_finite_differences():
    model = random_bert(tiny_config(), seed=6)
    ids, types, mask = _inputs()
    gradcheck(
        lambda: model.pooled(model(ids, token_type_ids=types, attention_mask=mask, training=False)),
        variables=[model.pooler.kernel, model.pooler.bias, model.encoder_layers[1].layernorm1.gamma],
        what="tiny BertModel pooler",
    )


def test_dropout_only_in_training():
    model = random_bert(tiny_config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.2), seed=7)
    assert model.encoder_layers[0].mha.dropout == pytest.approx(0.2)
    ids, types, mask = _inputs()
    a = model(ids, token_type_ids=types, attention_mask=mask, training=False).data
    np.testing.assert_allclose(model.hidden_states(ids, types, mask), a, rtol=0, atol=1e-12)
    b = model(ids, token_type_ids=types, attention_mask=mask, training=True).data
    assert np.abs(a - b).max() > 1e-3


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny() -> BertModel:
    return random_bert(tiny_config(), seed=8)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "layers"])
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_ids": np.zeros((1, 4))}, TypeError, "input_ids: expected integer ids"),
        ({"input_ids": np.zeros(4, int)}, ValueError, r"input_ids: expected shape \[B, L\]"),
        ({"input_ids": np.zeros((2, 0), int)}, ValueError, "input_ids: expected at least one token"),
        ({"input_ids": np.full((1, 4), 50)}, ValueError, "outside|must be in"),
        ({"input_ids": np.full((1, 4), -1)}, ValueError, "outside|must be in"),
        ({"input_ids": np.zeros((1, 65), int)}, ValueError, "max_position_embeddings = 64"),
        ({"attention_mask": np.full((2, 4), 2)}, ValueError, "attention_mask: expected 0/1"),
        ({"attention_mask": np.ones((2, 3), int)}, ValueError, "attention_mask: expected the shape of input_ids"),
        ({"attention_mask": np.ones((2, 4))}, TypeError, "attention_mask: expected integer ids"),
        ({"token_type_ids": np.ones((2, 5), int)}, ValueError, "token_type_ids: expected the shape of input_ids"),
        ({"token_type_ids": np.full((2, 4), 2)}, ValueError, r"outside|must be in \[0, 2\)"),
    ],
    ids=[
        "float-ids",
        "1-d",
        "no-tokens",
        "id-too-big",
        "negative-id",
        "too-long",
        "mask-values",
        "mask-shape",
        "float-mask",
        "types-shape",
        "type-too-big",
    ],  # fmt: skip
)
def test_bad_input_is_named(tiny, kwargs, error, match, fast):
    args = {"input_ids": np.array([[2, 5, 6, 3], [2, 7, 3, 0]]), **kwargs}
    with pytest.raises(error, match=match):
        tiny.hidden_states(args.pop("input_ids"), **args, fast=fast)


def test_lists_bools_and_empty_batches(tiny):
    ids = [[2, 5, 6, 3], [2, 7, 3, 0]]
    mask = np.array([[True] * 4, [True, True, True, False]])
    a = tiny.hidden_states(ids, attention_mask=mask, fast=True)
    b = tiny.hidden_states(ids, attention_mask=mask, fast=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert tiny.hidden_states(np.zeros((0, 3), int)).shape == (0, 3, 16)


def test_load_bert_errors(tmp_path):
    with pytest.raises(ValueError, match="dtype: expected float32 or float64"):
        load_bert(write_tiny_model(tmp_path / "m"), dtype="float16")
    with pytest.raises(FileNotFoundError, match="neither a directory nor a packaged model"):
        load_bert("no-such-model-anywhere")
    with pytest.raises(TypeError, match="name_or_path"):
        model_dir(42)  # type: ignore[arg-type]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_bert(empty)

    bad_json = write_tiny_model(tmp_path / "bad_json")
    (bad_json / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_bert(bad_json)

    roberta = write_tiny_model(tmp_path / "roberta")
    cfg = json.loads((roberta / "config.json").read_text())
    (roberta / "config.json").write_text(json.dumps({**cfg, "model_type": "roberta"}))
    with pytest.raises(ValueError, match="not a BERT model"):
        load_bert(roberta)

    vocab = write_tiny_model(tmp_path / "vocab")
    (vocab / "config.json").write_text(json.dumps({**cfg, "vocab_size": 60}))
    with pytest.raises(ValueError, match=r"word_embeddings.weight has shape \(50, 16\)"):
        load_bert(vocab)

    damaged = write_tiny_model(tmp_path / "damaged")
    (damaged / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{nonsense")
    with pytest.raises(ValueError, match="could not be read"):
        load_bert(damaged)

    no_weights = write_tiny_model(tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_bert(no_weights)


def test_tokenizer_and_config_must_agree(tmp_path):
    folder = write_tiny_model(tmp_path / "m")
    model = random_bert(tiny_config(vocab_size=40), dtype="float32")
    save_file(encoder_state_dict(model), str(folder / "model.safetensors"))
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "vocab_size": 40}))
    with pytest.raises(ValueError, match="tokenizer.json: 50 tokens.*vocab_size = 40"):
        load_bert(folder)


# ---------------------------------------------------------------- BertConfig


def test_config_round_trip_keeps_extra_keys():
    d = {**tiny_config().to_dict(), "architectures": ["BertModel"], "_name_or_path": "x", "initializer_range": 0.02}
    c = BertConfig.from_dict(d)
    assert c == tiny_config() and c.extra["architectures"] == ["BertModel"]
    assert BertConfig.from_dict(c.to_dict()).to_dict() == c.to_dict()
    assert c.head_size == 8 and c.activation == "gelu"
    assert c.replace(hidden_act="gelu_new").activation == "gelu_tanh"
    assert BertConfig.from_dict({"hidden_act": "relu"}).activation == "relu"


def test_config_from_real_file(minilm):
    c = BertConfig.from_file(Path(minilm.source_dir) / "config.json")
    assert c == minilm.config and c.extra["architectures"] == ["BertModel"]


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"hidden_size": 15}, "multiple of num_attention_heads"),
        ({"hidden_size": 0}, "hidden_size must be a positive int"),
        ({"num_hidden_layers": True}, "num_hidden_layers must be a positive int"),
        ({"vocab_size": 50.0}, "vocab_size must be a positive int"),
        ({"hidden_act": "swish"}, "hidden_act must be one of"),
        ({"layer_norm_eps": 0}, "layer_norm_eps"),
        ({"hidden_dropout_prob": 1.0}, r"hidden_dropout_prob must be in \[0, 1\)"),
        ({"attention_probs_dropout_prob": -0.1}, "attention_probs_dropout_prob"),
        ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ],
)
def test_config_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        BertConfig.from_dict({**tiny_config().to_dict(), **changes})


def test_config_from_dict_needs_a_dict():
    with pytest.raises(ValueError, match="expected a JSON object"):
        BertConfig.from_dict([1, 2])  # type: ignore[arg-type]


def test_model_config_round_trip():
    model = random_bert(tiny_config(), seed=9)
    clone = BertModel.from_config(model.get_config())
    assert clone.config == model.config and clone.add_pooler
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    clone.set_weights(model.get_weights())
    ids, types, mask = _inputs()
    np.testing.assert_array_equal(clone.hidden_states(ids, types, mask), model.hidden_states(ids, types, mask))


# ---------------------------------------------------------------- EncoderLayer's activation


def test_encoder_layer_activation_round_trip():
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    layer = nn.EncoderLayer(8, 2, 16, dropout_rate=0.0, activation="gelu", name="enc_gelu")
    assert layer.activation == "gelu" and layer.get_config()["activation"] == "gelu"
    clone = nn.EncoderLayer.from_config({**layer.get_config(), "name": "enc_gelu_clone"})
    assert clone.activation == "gelu"
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x, training=False).data, layer(x, training=False).data)
    relu = nn.EncoderLayer(8, 2, 16, dropout_rate=0.0, name="enc_relu")
    assert relu.activation == "relu" and relu.get_config()["activation"] == "relu"
    relu.set_weights(layer.get_weights())
    assert np.abs(relu(x, training=False).data - layer(x, training=False).data).max() > 1e-6
    assert nn.DecoderLayer(8, 2, 16, activation="gelu_tanh").get_config()["activation"] == "gelu_tanh"


@pytest.mark.parametrize("bad", ["swish", "GELU", None, 3])
def test_encoder_layer_bad_activation(bad):
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or 'gelu_tanh'"):
        nn.EncoderLayer(8, 2, 16, activation=bad)


def test_the_pad_vector_gets_no_gradient():
    """As Hugging Face's nn.Embedding(padding_idx=pad_token_id): fine-tuning never moves the [PAD] row."""
    model = random_bert(tiny_config(), seed=10)
    ids, types, mask = _inputs()  # row 1 ends in [PAD] (id 0) tokens
    model(ids, token_type_ids=types, attention_mask=mask, training=True).sum().backward()
    grad = model.embeddings.word_embeddings.embeddings.grad
    assert (grad[0] == 0).all() and np.abs(grad[2]).max() > 0
    other = random_bert(tiny_config(pad_token_id=None), seed=10)  # no pad token: every used row learns
    other(ids, token_type_ids=types, attention_mask=mask, training=True).sum().backward()
    assert np.abs(other.embeddings.word_embeddings.embeddings.grad[0]).max() > 0
