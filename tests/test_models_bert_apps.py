"""The NER and QA applications (models/ner_tagger.py, models/qa_reader.py) on a tiny random BERT folder: the
recipes' keys, the default data, held-out scoring of your own data, the reports, saving and loading through the
model home ($SEQCORE_HOME), and bad arguments.  The real all-MiniLM-L6-v2 runs in tests/test_cli_ner.py and
tests/test_cli_qa.py; here only the plumbing is checked, in milliseconds a step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pretrained_helpers import one_thread, write_tiny_model  # noqa: E402
from seqcore.datasets import NER_LABELS, Answer, NERExample, QAExample  # noqa: E402
from seqcore.models import (  # noqa: E402
    NER_RECIPE,
    QA_RECIPE,
    evaluate_ner,
    evaluate_qa,
    load_ner_tagger,
    load_qa_reader,
    train_ner,
    train_qa,
)
from seqcore.models._home import default_model_dir, seqcore_home  # noqa: E402
from seqcore.models.ner_tagger import HOLD_OUT, _hold_out, labels_of  # noqa: E402
from seqcore.pretrained import load_bert  # noqa: E402
from seqcore.pretrained.heads import SpanQA, TokenClassifier  # noqa: E402

TINY = {"train_size": 24, "test_size": 8, "epochs": 1.0, "batch_size": 8}

NER = [
    (["John", "Smith", "lives", "in", "Paris", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["Mary", "works", "at", "Acme", "Corp", "in", "Berlin"], ["B-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC"]),
    (["Who", "visited", "New", "York", "?"], ["O", "O", "B-LOC", "I-LOC", "O"]),
    (["Mary", "Smith", "was", "born", "in", "London"], ["B-PER", "I-PER", "O", "O", "O", "B-LOC"]),
    (["John", "works", "for", "Acme"], ["B-PER", "O", "O", "B-ORG"]),
] * 2


def qa(qid: str, question: str, context: str, answer: str) -> QAExample:
    return QAExample(qid, context, question, (Answer(answer, context.index(answer)),))


QA = [
    qa("a1", "who lives in paris?", "john smith lives in paris.", "john smith"),
    qa("a2", "where does john smith live?", "john smith lives in paris.", "paris"),
    qa("b1", "where does mary work?", "mary works at acme corp in berlin.", "acme corp"),
    qa("c1", "where was mary born?", "mary was born in london.", "london"),
    qa("d1", "who visited new york?", "john visited new york.", "john"),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny"), seed=3, add_pooler=False)


# ==================================================================== the model home


def test_model_home_follows_seqcore_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path / "h"))
    assert seqcore_home() == tmp_path / "h"
    assert default_model_dir("ner") == tmp_path / "h" / "models" / "ner-minilm"
    assert default_model_dir("qa") == tmp_path / "h" / "models" / "qa-minilm"
    assert not (tmp_path / "h").exists()  # naming the folder creates nothing
    for unset in (None, ""):
        if unset is None:
            monkeypatch.delenv("SEQCORE_HOME")
        else:
            monkeypatch.setenv("SEQCORE_HOME", unset)
        monkeypatch.setenv("HOME", str(tmp_path / "me"))
        assert default_model_dir("ner") == tmp_path / "me" / ".seqcore" / "models" / "ner-minilm"
    monkeypatch.setenv("SEQCORE_HOME", "~/elsewhere")
    assert seqcore_home() == tmp_path / "me" / "elsewhere"


@pytest.mark.parametrize("app", ["", "../x", "a b", 3, None])
def test_model_home_refuses_odd_app_names(app):
    with pytest.raises(ValueError, match="app: expected a short name"):
        default_model_dir(app)


def test_recipes_have_the_agreed_keys():
    assert set(NER_RECIPE) == {
        "train_size", "test_size", "epochs", "batch_size", "learning_rate", "warmup_ratio", "weight_decay",
        "freeze_embeddings", "max_length", "seed",
    }  # fmt: skip
    assert set(QA_RECIPE) == set(NER_RECIPE) | {"doc_stride", "max_answer_length"}


# ==================================================================== NER


def test_train_ner_on_generated_data_reports_everything(tiny_dir):
    model, report = train_ner(encoder=tiny_dir, progress=False, **TINY)
    assert isinstance(model, TokenClassifier) and model.labels == list(NER_LABELS)
    assert model.max_length == 64  # the recipe's 128, lowered to the tiny encoder's positions
    assert report["steps"] == 3 and report["examples"] == 24 and report["test_examples"] == 8
    assert report["labels"] == list(NER_LABELS) and not report["stopped_early"]
    for key in ("f1", "precision", "recall", "accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["train_seconds"] > 0 and report["eval_seconds"] > 0 and np.isfinite(report["loss"])
    types = {"DATE", "LOC", "MONEY", "ORG", "PER"} & set(report["per_type"])
    assert types and {"micro avg", "macro avg", "weighted avg"} <= set(report["per_type"])
    assert report["per_type"]["micro avg"]["f1-score"] == pytest.approx(report["f1"])
    assert "precision" in report["report_text"] and "micro avg" in report["report_text"]
    assert report["recipe"] == {**NER_RECIPE, **TINY, "max_length": 64, "seconds": None}
    # the same scores as the head's own evaluate, on the same (generated test) sentences
    again = evaluate_ner(model, _generated_test(8, NER_RECIPE["seed"] + 1))
    assert again["f1"] == pytest.approx(report["f1"]) and again["accuracy"] == pytest.approx(report["accuracy"])


def _generated_test(n: int, seed: int) -> list[NERExample]:
    from seqcore.datasets import ner_sentences

    return ner_sentences(n, seed, split="test")


def test_evaluate_ner_matches_the_heads_scores(tiny_dir):
    model = TokenClassifier.from_encoder(load_bert(tiny_dir), NER_LABELS)
    data = _generated_test(6, 5)
    ours, heads = evaluate_ner(model, data), model.evaluate(data)
    for key in ("precision", "recall", "f1", "accuracy"):
        assert ours[key] == pytest.approx(heads[key])
    assert ours["test_examples"] == 6


def test_train_ner_holds_out_a_share_of_your_data(tiny_dir):
    model, report = train_ner(train=NER, encoder=tiny_dir, progress=False, epochs=1.0, batch_size=4)
    held = max(1, round(HOLD_OUT * len(NER)))
    assert report["test_examples"] == held and report["examples"] == len(NER) - held
    assert model.labels == labels_of([NERExample(w, t) for w, t in NER])
    assert model.labels == ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]
    # seeded: the same split again
    assert train_ner(train=NER, encoder=tiny_dir, progress=False, epochs=0.1)[1]["test_examples"] == held


def test_train_ner_with_given_test_data_and_seconds(tiny_dir):
    test = [NERExample(["Paris", "Smith"], ["B-LOC", "B-PER"])]
    _, report = train_ner(train=NER, test=test, encoder=tiny_dir, progress=False, epochs=50.0, seconds=1e-3)
    assert report["examples"] == len(NER) and report["test_examples"] == 1
    assert report["stopped_early"] and report["steps"] >= 1 and report["recipe"]["seconds"] == 1e-3


def test_saved_ner_model_loads_from_the_home(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no NER model in .*ner-minilm.*seqcore ner train`"):
        load_ner_tagger()
    with pytest.raises(FileNotFoundError, match="--out"):
        load_ner_tagger(tmp_path / "elsewhere")
    model, _ = train_ner(train=NER, encoder=tiny_dir, progress=False, epochs=1.0)
    model.save_pretrained(default_model_dir("ner"))
    again = load_ner_tagger()
    assert again.labels == model.labels and again.max_length == model.max_length
    words = [w for w, _ in NER]
    assert again.predict(words) == model.predict(words)
    assert sorted(p.name for p in default_model_dir("ner").iterdir()) == [
        "config.json", "model.safetensors", "tokenizer.json",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"learning_rates": 1e-3}, TypeError, r"unknown recipe settings \['learning_rates'\]"),
        ({"train": NER, "train_size": 5}, ValueError, "train_size: sizes the generated data"),
        ({"test": NER, "test_size": 5}, ValueError, "test_size: sizes the generated data"),
        ({"train_size": 0}, ValueError, "train_size: expected a positive int"),
        ({"test_size": 2.5}, ValueError, "test_size: expected a positive int"),
        ({"seed": -1}, ValueError, "seed"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"seconds": -1.0}, ValueError, "seconds"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"train": "John B-PER"}, TypeError, "train: expected a list of NERExample"),
        ({"train": []}, ValueError, "train: expected at least one example"),
        ({"train": [(["a"], ["I-PER", "X"])]}, ValueError, r"train\[0\]"),
        ({"train": [3]}, TypeError, r"train\[0\]: expected a NERExample"),
        ({"train": NER[:1]}, ValueError, "too few examples to keep some aside"),
        ({"encoder": 3}, TypeError, "encoder: expected a model name"),
        ({"encoder": "no-such-model"}, FileNotFoundError, "neither a directory nor a packaged model"),
        ({"max_length": 128}, ValueError, "max_length: at most max_position_embeddings = 64"),
    ],
)
def test_train_ner_bad_arguments(tiny_dir, kwargs, error, match):
    base = {"encoder": tiny_dir, "progress": False, **({} if {"train", "test"} & set(kwargs) else TINY)}
    with pytest.raises(error, match=match):
        train_ner(**{**base, **kwargs})


def test_evaluate_ner_bad_arguments(tiny_dir):
    with pytest.raises(TypeError, match="model: expected a TokenClassifier"):
        evaluate_ner("model", NER)
    model = TokenClassifier.from_encoder(load_bert(tiny_dir), NER_LABELS)
    with pytest.raises(ValueError, match="examples: expected at least one"):
        evaluate_ner(model, [])


# ==================================================================== QA


def test_train_qa_on_generated_data_reports_everything(tiny_dir):
    model, report = train_qa(encoder=tiny_dir, progress=False, **TINY)
    assert isinstance(model, SpanQA)
    # the recipe's window, lowered to the tiny encoder's 64 positions, and a stride that leaves room for questions
    assert (model.max_length, model.doc_stride) == (64, 16)
    # twice the longest training answer (generated answers are a few word pieces), never above the recipe's
    assert 2 <= model.max_answer_length <= QA_RECIPE["max_answer_length"] and model.max_answer_length % 2 == 0
    assert report["recipe"]["max_answer_length"] == model.max_answer_length
    assert report["steps"] >= 3 and report["examples"] == 24 and report["test_examples"] == 8  # windows >= questions
    assert 0.0 <= report["exact_match"] <= 100.0 and 0.0 <= report["f1"] <= 100.0
    assert report["train_seconds"] > 0 and report["eval_seconds"] > 0 and not report["stopped_early"]
    assert report["recipe"] == {
        **QA_RECIPE, **TINY, "max_length": 64, "doc_stride": 16, "seconds": None,
        "max_answer_length": model.max_answer_length,
    }  # fmt: skip


def test_train_qa_holds_out_whole_passages(tiny_dir):
    data = QA * 2  # a passage's questions (the same context) must not end up on both sides
    data = [QAExample(f"{ex.id}-{k}", ex.context, ex.question, ex.answers) for k, ex in enumerate(data)]
    kept, held = _hold_out(data, 0, key=lambda ex: ex.context)
    assert held and not {ex.context for ex in kept} & {ex.context for ex in held}
    assert len({ex.context for ex in held}) == max(1, round(HOLD_OUT * 4)) and len(kept) + len(held) == len(data)
    _, report = train_qa(train=data, encoder=tiny_dir, progress=False, epochs=1.0, batch_size=4)
    assert (report["examples"], report["test_examples"]) == (len(kept), len(held))


def test_saved_qa_model_round_trip(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no QA model in .*qa-minilm.*seqcore qa train`"):
        load_qa_reader()
    model, report = train_qa(train=QA, test=QA[:2], encoder=tiny_dir, progress=False, epochs=1.0, doc_stride=8)
    assert report["examples"] == len(QA) and report["test_examples"] == 2 and model.doc_stride == 8
    model.save_pretrained(tmp_path / "qa")
    again = load_qa_reader(tmp_path / "qa")
    assert (again.max_length, again.doc_stride) == (model.max_length, model.doc_stride)
    assert again.answer(QA[0].question, QA[0].context) == model.answer(QA[0].question, QA[0].context)
    assert evaluate_qa(again, QA[:2])["f1"] == pytest.approx(report["f1"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"doc_strides": 3}, TypeError, "unknown recipe settings"),
        ({"train": QA, "train_size": 3}, ValueError, "train_size: sizes the generated data"),
        ({"train": [QA[0], "x"]}, TypeError, r"train\[1\]: expected a QAExample"),
        ({"train": QA[0]}, TypeError, "train: expected a list of QAExample"),
        ({"train": QA[:2]}, ValueError, "too few examples"),  # one passage: nothing to hold out
        ({"test": []}, ValueError, "test: expected at least one example"),
        ({"max_answer_length": 0}, ValueError, "max_answer_length"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_train_qa_bad_arguments(tiny_dir, kwargs, error, match):
    base = {"encoder": tiny_dir, "progress": False, **({} if {"train", "test"} & set(kwargs) else TINY)}
    with pytest.raises(error, match=match):
        train_qa(**{**base, **kwargs})


def test_evaluate_qa_bad_arguments(tiny_dir):
    with pytest.raises(TypeError, match="model: expected a SpanQA"):
        evaluate_qa(TokenClassifier.from_encoder(load_bert(tiny_dir), ["O"]), QA)
    with pytest.raises(TypeError, match=r"examples\[0\]: expected a QAExample"):
        evaluate_qa(SpanQA.from_encoder(load_bert(tiny_dir)), [("q", "c")])


def test_a_given_bert_model_is_fine_tuned_in_place(tiny_dir):
    bert = load_bert(tiny_dir)
    before = bert.encoder_layers[-1].weights[0].data.copy()
    model, _ = train_ner(train=NER, encoder=bert, progress=False, epochs=3.0, learning_rate=1e-2)
    assert model.encoder is bert and not np.array_equal(before, bert.encoder_layers[-1].weights[0].data)


def test_paths_as_strings_work(tiny_dir, tmp_path):
    model, _ = train_ner(train=NER, encoder=str(tiny_dir), progress=False, epochs=0.2)
    model.save_pretrained(str(tmp_path / "m"))
    assert isinstance(load_ner_tagger(str(tmp_path / "m")), TokenClassifier)
    assert Path(tmp_path / "m" / "config.json").is_file()


def test_the_same_seed_gives_the_same_model(tiny_dir):
    import seqcore

    runs = []
    for draw in (1, 2):  # whatever seqcore's generator did before, the recipe's seed decides
        seqcore.set_seed(draw)
        model, report = train_ner(train=NER, test=NER[:2], encoder=tiny_dir, progress=False, epochs=1.0)
        runs.append((model.dense.kernel.data.copy(), report["loss"]))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    qa_runs = []
    for draw in (1, 2):
        seqcore.set_seed(draw)
        qa_runs.append(train_qa(train=QA, test=QA[:1], encoder=tiny_dir, progress=False, epochs=1.0)[1]["loss"])
    assert qa_runs[0] == qa_runs[1]


def test_answer_cap_is_twice_the_longest_training_answer_and_an_override_wins(tiny_dir):
    from seqcore.models.qa_reader import answer_cap

    bert = load_bert(tiny_dir)
    longest = max(len(bert.tokenizer.tokenize(ex.answers[0].text)) for ex in QA)
    assert answer_cap(bert, QA, 30) == min(30, 2 * longest)
    assert answer_cap(bert, QA, 1) == 1
    model, report = train_qa(train=QA, encoder=tiny_dir, progress=False, epochs=1.0, max_answer_length=3)
    assert model.max_answer_length == 3 == report["recipe"]["max_answer_length"]
