"""SentenceEncoder: all-MiniLM-L6-v2 sentence embeddings against sentence-transformers (long, empty and accented
sentences), output shape, dtype and norm, order under length sorting, batch-size independence, mean_pool, and bad
input (with a tiny model for the cheap cases)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pretrained_helpers import one_thread, random_bert, tiny_config, write_tiny_model  # noqa: E402
from seqcore.pretrained import SentenceEncoder, load_bert, mean_pool, model_dir  # noqa: E402

LONG = " ".join(["The committee reviewed the proposal in detail before voting on each amendment."] * 30)
SENTENCES = [
    "A man is playing a guitar.",
    "",
    LONG,  # far more than 256 tokens: truncated as sentence-transformers truncates it
    "Ünïcödé façade — naïve café in Zürich, 東京 and Ελλάδα!",
    "Short",
    "The new movie is awesome.",
    "   leading and trailing spaces   ",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread(torch_too=True):
        yield


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    try:
        model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")
    return SentenceEncoder()


@pytest.fixture(scope="module")
def st_embeddings(encoder) -> np.ndarray:
    st = pytest.importorskip("sentence_transformers")
    pytest.importorskip("torch")
    model = st.SentenceTransformer(str(encoder.model.source_dir), device="cpu")
    return np.asarray(model.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=False))


@pytest.fixture(scope="module")
def ours(encoder) -> np.ndarray:
    return encoder.encode(SENTENCES)


def test_matches_sentence_transformers(ours, st_embeddings, encoder):
    assert encoder.model.tokenizer(SENTENCES[2:3]).input_ids.shape[1] > 256  # the long one is really long
    assert ours.shape == st_embeddings.shape == (len(SENTENCES), 384)
    cos = np.sum(ours * st_embeddings, axis=1) / np.linalg.norm(st_embeddings, axis=1)
    assert np.all(1 - cos < 1e-5), 1 - cos
    np.testing.assert_allclose(ours, st_embeddings, rtol=0, atol=1e-5)


def test_shape_dtype_and_unit_norm(ours, encoder):
    assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    assert encoder.dimension == 384 and encoder.max_seq_length == 256  # from sentence_bert_config.json
    assert "384" in repr(encoder)


def test_order_is_kept_and_batch_size_does_not_matter(ours, encoder):
    one_at_a_time = encoder.encode(SENTENCES, batch_size=1)
    np.testing.assert_allclose(one_at_a_time, ours, rtol=0, atol=2e-6)
    three = encoder.encode(SENTENCES, batch_size=3)
    np.testing.assert_allclose(three, ours, rtol=0, atol=2e-6)
    reordered = encoder.encode(SENTENCES[::-1], batch_size=32)
    np.testing.assert_allclose(reordered[::-1], ours, rtol=0, atol=2e-6)


def test_single_string_and_empty_list(ours, encoder):
    one = encoder.encode(SENTENCES[0])
    assert one.shape == (384,) and one.dtype == np.float32
    np.testing.assert_allclose(one, ours[0], rtol=0, atol=2e-6)
    empty = encoder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert encoder.encode(("a", "tuple")).shape == (2, 384)


def test_unnormalised_vectors_are_the_mean_of_real_tokens(ours, encoder):
    raw = encoder.encode(SENTENCES[:2], normalize=False)
    batch = encoder.model.tokenizer(SENTENCES[:1], max_length=256)
    hidden = encoder.model.hidden_states(batch.input_ids, batch.token_type_ids, batch.attention_mask)
    np.testing.assert_allclose(raw[0], hidden[0].mean(axis=0), rtol=0, atol=1e-5)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), ours[:2], rtol=0, atol=2e-6)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_similarity(encoder, ours):
    sims = encoder.similarity(SENTENCES[:3], ours[:2])
    assert sims.shape == (3, 2)
    np.testing.assert_allclose(sims, ours[:3] @ ours[:2].T, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.diag(sims[:2]), 1.0, atol=1e-5)
    related = encoder.similarity(["A man plays the guitar."], ["Someone is playing an instrument.", "Stocks fell."])
    assert related[0, 0] > related[0, 1]


def test_mean_pool():
    hidden = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [0, 0, 0]])
    pooled = mean_pool(hidden, mask)
    np.testing.assert_allclose(pooled[0], hidden[0, :2].mean(axis=0))
    np.testing.assert_array_equal(pooled[1], [0.0, 0.0])  # no real token: zeros, not NaN
    assert mean_pool(np.zeros((0, 3, 2)), np.zeros((0, 3))).shape == (0, 2)


# ---------------------------------------------------------------- a tiny model: defaults and bad input


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> SentenceEncoder:
    model = load_bert(write_tiny_model(tmp_path_factory.mktemp("tiny")))
    return SentenceEncoder(model)


def test_tiny_model_defaults_to_its_positions(tiny_encoder):
    """No sentence_bert_config.json and only 64 positions: the default 256 is capped, not refused."""
    assert tiny_encoder.max_seq_length == 64
    out = tiny_encoder.encode(["john lives in paris", " ".join(["paris"] * 200)])
    assert out.shape == (2, 16) and np.isfinite(out).all()


def test_progress_bar_can_be_forced(tiny_encoder, capsys):
    pytest.importorskip("tqdm")
    tiny_encoder.encode(["a", "b", "c"], batch_size=1, show_progress_bar=True)
    assert "encode" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda e: e.encode(42), TypeError, "sentences: expected a string or a list of strings"),
        (lambda e: e.encode(s for s in ["a"]), TypeError, "sentences: expected a string or a list of strings"),
        (lambda e: e.encode(["ok", 3]), TypeError, r"sentences\[1\]: expected a string"),
        (lambda e: e.encode([b"bytes"]), TypeError, r"sentences\[0\]: expected a string"),
        (lambda e: e.encode(["ok"], batch_size=0), ValueError, "batch_size: expected a positive int"),
        (lambda e: e.encode(["ok"], batch_size=True), ValueError, "batch_size: expected a positive int"),
    ],
)
def test_bad_input(tiny_encoder, call, error, match):
    with pytest.raises(error, match=match):
        call(tiny_encoder)


@pytest.mark.parametrize("bad", [3, 65, 10.0, True])
def test_bad_max_seq_length(tiny_encoder, bad):
    with pytest.raises(ValueError, match=r"max_seq_length: expected an int in \[4, 64\]"):
        SentenceEncoder(tiny_encoder.model, max_seq_length=bad)


def test_a_model_without_tokenizer_is_refused():
    with pytest.raises(ValueError, match="no tokenizer"):
        SentenceEncoder(random_bert(tiny_config(), dtype="float32"))
