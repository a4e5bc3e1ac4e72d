"""Saving the heads in Hugging Face's format: TokenClassifier / SpanQA on the real all-MiniLM-L6-v2 with random
head weights, saved with ``save_pretrained``, load in ``transformers.AutoModelForTokenClassification`` /
``AutoModelForQuestionAnswering`` with the same logits and in ``AutoTokenizer`` with the same ids (windows
included); ``from_pretrained`` round trips; directories written by Hugging Face's ``save_pretrained`` load here;
errors.  TensorFlow loading is checked when TensorFlow is installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from safetensors.numpy import load_file, save_file  # noqa: E402

from pretrained_helpers import (  # noqa: E402
    TINY_SIZES,
    one_thread,
    real_token_max_diff,
    write_tiny_model,
    write_tiny_tokenizer,
)
from seqcore.pretrained import BertModel, load_bert, model_dir  # noqa: E402
from seqcore.pretrained.heads import SpanQA, TokenClassifier  # noqa: E402

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
WORDS = [["John", "Smith", "lives", "in", "Paris", "."], ["Ünïcödé", "façade"], ["Acme", "Corp", "hired", "Mary"]]
QUESTIONS = ["Where does John live?", "Who founded the company, and when?"]
CONTEXTS = [
    "John Smith lives in Paris, the capital of France, with his two cats.",
    " ".join(["The company was founded in 1998 by a group of engineers in Zürich."] * 12),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread(torch_too=True):
        yield


@pytest.fixture(scope="module")
def transformers():
    pytest.importorskip("torch")
    return pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def minilm() -> BertModel:
    try:
        model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")
    return load_bert()


def _random_head(head, seed: int) -> None:
    rng = np.random.default_rng(seed)
    head.dense.kernel.data[...] = rng.normal(0, 0.3, head.dense.kernel.shape)
    head.dense.bias.data[...] = rng.normal(0, 0.3, head.dense.bias.shape)


@pytest.fixture(scope="module")
def ner_dir(minilm, tmp_path_factory):
    tc = TokenClassifier(minilm, LABELS, max_length=64)
    _random_head(tc, 0)
    folder = tmp_path_factory.mktemp("ner")
    tc.save_pretrained(folder)
    return tc, folder


@pytest.fixture(scope="module")
def qa_dir(minilm, tmp_path_factory):
    qa = SpanQA(minilm, max_length=48, doc_stride=16, max_answer_length=12)
    _random_head(qa, 1)
    folder = tmp_path_factory.mktemp("qa")
    qa.save_pretrained(folder)
    return qa, folder


def _torch_inputs(batch):
    import torch

    return {
        "input_ids": torch.tensor(batch.input_ids),
        "attention_mask": torch.tensor(batch.attention_mask),
        "token_type_ids": torch.tensor(batch.token_type_ids),
    }


# ---------------------------------------------------------------- our files in transformers


def test_saved_files_and_config(ner_dir):
    tc, folder = ner_dir
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        assert (folder / name).is_file(), name
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["architectures"] == ["BertForTokenClassification"] and cfg["model_type"] == "bert"
    assert cfg["id2label"] == {str(i): x for i, x in enumerate(LABELS)}
    assert cfg["label2id"] == {x: i for i, x in enumerate(LABELS)}
    assert cfg["hidden_size"] == 384 and cfg["seqcore"] == {"max_length": 64}
    tensors = load_file(str(folder / "model.safetensors"))
    assert tensors["classifier.weight"].shape == (len(LABELS), 384)
    assert all(k.startswith(("bert.", "classifier.")) for k in tensors)
    assert not any(".pooler." in k for k in tensors) and all(v.dtype == np.float32 for v in tensors.values())


def test_token_classifier_loads_in_transformers(ner_dir, transformers):
    import torch

    tc, folder = ner_dir
    hf = transformers.AutoModelForTokenClassification.from_pretrained(str(folder)).eval()
    assert type(hf).__name__ == "BertForTokenClassification"
    assert hf.config.id2label == dict(enumerate(LABELS))
    batch = tc.encode(WORDS)
    with torch.no_grad():
        want = hf(**_torch_inputs(batch)).logits.numpy()
    assert real_token_max_diff(tc.logits(batch), want, batch.attention_mask) < 1e-4


def test_tokenizer_loads_in_transformers(ner_dir, transformers):
    tc, folder = ner_dir
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    texts = ["John Smith lives in Paris.", "Ünïcödé façade — naïve café", ""]
    ours = tc.tokenizer(texts)
    theirs = hf_tok(texts, padding=True, return_tensors="np")
    np.testing.assert_array_equal(ours.input_ids, theirs["input_ids"])
    np.testing.assert_array_equal(ours.attention_mask, theirs["attention_mask"])
    words = hf_tok(WORDS, is_split_into_words=True, padding=True)
    split = tc.encode(WORDS)
    assert words["input_ids"] == split.input_ids.tolist()
    assert [words.word_ids(i) for i in range(len(WORDS))] == split.word_ids


def test_span_qa_loads_in_transformers(qa_dir, transformers):
    import torch

    qa, folder = qa_dir
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["architectures"] == ["BertForQuestionAnswering"]
    assert cfg["seqcore"] == {"max_length": 48, "doc_stride": 16, "max_answer_length": 12}
    hf = transformers.AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    batch = qa.encode(QUESTIONS, CONTEXTS)
    assert len(batch) > len(QUESTIONS)  # the long context is cut into windows
    with torch.no_grad():
        out = hf(**_torch_inputs(batch))
    logits = qa.logits(batch)
    assert real_token_max_diff(logits[..., 0], out.start_logits.numpy(), batch.attention_mask) < 1e-4
    assert real_token_max_diff(logits[..., 1], out.end_logits.numpy(), batch.attention_mask) < 1e-4


def test_windows_equal_hugging_face_tokenizer_windows(qa_dir, transformers):
    qa, folder = qa_dir
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    ours = qa.encode(QUESTIONS, CONTEXTS)
    theirs = hf_tok(
        QUESTIONS, CONTEXTS, truncation="only_second", max_length=qa.max_length, stride=qa.doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
    )  # fmt: skip
    assert theirs["input_ids"] == ours.input_ids.tolist()
    assert theirs["token_type_ids"] == ours.token_type_ids.tolist()
    assert list(theirs["overflow_to_sample_mapping"]) == ours.sample.tolist()
    assert [[tuple(o) for o in row] for row in theirs["offset_mapping"]] == ours.offsets
    assert [theirs.sequence_ids(i) for i in range(len(ours))] == ours.sequence_ids


def test_from_pretrained_round_trip(ner_dir, qa_dir):
    tc, folder = ner_dir
    again = TokenClassifier.from_pretrained(folder)
    assert again.labels == LABELS and again.max_length == 64
    batch = tc.encode(WORDS)
    np.testing.assert_array_equal(again.logits(batch), tc.logits(batch))
    assert again.predict(WORDS) == tc.predict(WORDS)
    qa, qfolder = qa_dir
    qa2 = SpanQA.from_pretrained(qfolder)
    assert (qa2.max_length, qa2.doc_stride, qa2.max_answer_length) == (48, 16, 12)
    assert qa2.answer_batch(QUESTIONS, CONTEXTS) == qa.answer_batch(QUESTIONS, CONTEXTS)


def test_float64_save(ner_dir, tmp_path):
    tc, _ = ner_dir
    tc.save_pretrained(tmp_path, dtype="float64")
    assert all(v.dtype == np.float64 for v in load_file(str(tmp_path / "model.safetensors")).values())
    again = TokenClassifier.from_pretrained(tmp_path, dtype="float64")
    assert again.encoder.dtype == np.float64
    batch = tc.encode(WORDS[:1])
    assert real_token_max_diff(again.logits(batch), tc.logits(batch), batch.attention_mask) < 1e-5
    with pytest.raises(ValueError, match="dtype: expected float32 or float64"):
        tc.save_pretrained(tmp_path / "f16", dtype="float16")


# ---------------------------------------------------------------- Hugging Face's files here


def _hf_tiny(transformers, kind: str, folder):
    import torch

    torch.manual_seed(0)
    labels = {"id2label": {0: "O", 1: "B-PER", 2: "I-PER"}, "label2id": {"O": 0, "B-PER": 1, "I-PER": 2}}
    cfg = transformers.BertConfig(
        **TINY_SIZES, hidden_act="gelu", layer_norm_eps=1e-12, **(labels if kind == "ner" else {})
    )
    cls = transformers.BertForTokenClassification if kind == "ner" else transformers.BertForQuestionAnswering
    model = cls(cfg).eval()
    with torch.no_grad():  # HF initialises biases to zero and gains to one; make every weight matter
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(str(folder))
    write_tiny_tokenizer(folder)
    return model


@pytest.mark.parametrize("kind", ["ner", "qa"])
def test_a_directory_saved_by_hugging_face_loads(transformers, tmp_path, kind):
    import torch

    hf = _hf_tiny(transformers, kind, tmp_path)
    if kind == "ner":
        head = TokenClassifier.from_pretrained(tmp_path)
        assert head.labels == ["O", "B-PER", "I-PER"] and head.max_length == 64
        batch = head.encode([["john", "smith", "lives", "in", "paris"], ["mary"]])
        with torch.no_grad():
            want = hf(**_torch_inputs(batch)).logits.numpy()
        got = head.logits(batch)
    else:
        head = SpanQA.from_pretrained(tmp_path)
        assert head.max_length == 64
        head.doc_stride = 8
        batch = head.encode(["who lives in paris?"], ["john smith lives in paris and mary works at acme ."])
        with torch.no_grad():
            out = hf(**_torch_inputs(batch))
        want = np.stack([out.start_logits.numpy(), out.end_logits.numpy()], axis=-1)
        got = head.logits(batch)
    assert head.encoder.pooler is None
    assert real_token_max_diff(got, want, batch.attention_mask) < 1e-5


def test_tensorflow_loads_our_directory(ner_dir):
    pytest.importorskip("tensorflow")
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "TFAutoModelForTokenClassification"):
        pytest.skip(f"transformers {transformers.__version__} has no TensorFlow models (removed in 5.0)")
    tc, folder = ner_dir
    tf_model = transformers.TFAutoModelForTokenClassification.from_pretrained(str(folder), from_pt=True)
    batch = tc.encode(WORDS)
    want = tf_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, token_type_ids=batch.token_type_ids
    ).logits.numpy()
    assert real_token_max_diff(tc.logits(batch), want, batch.attention_mask) < 1e-4


# ---------------------------------------------------------------- errors


def test_loading_the_wrong_kind_of_directory(tmp_path, ner_dir):
    base = write_tiny_model(tmp_path / "base", add_pooler=False)
    with pytest.raises(ValueError, match="no id2label map"):
        TokenClassifier.from_pretrained(base)
    with pytest.raises(ValueError, match=r"no qa_outputs.weight / .bias \(not a BertForQuestionAnswering"):
        SpanQA.from_pretrained(base)

    cfg = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**cfg, "id2label": {"0": "O", "1": "B-PER"}}))
    with pytest.raises(ValueError, match=r"no classifier.weight / .bias"):
        TokenClassifier.from_pretrained(base)

    tensors = load_file(str(base / "model.safetensors"))
    tensors["classifier.weight"] = np.zeros((3, 16), np.float32)  # 3 labels, but id2label has 2
    tensors["classifier.bias"] = np.zeros(3, np.float32)
    save_file(tensors, str(base / "model.safetensors"))
    with pytest.raises(ValueError, match=r"classifier.weight has shape \(3, 16\), expected \(2, 16\)"):
        TokenClassifier.from_pretrained(base)
