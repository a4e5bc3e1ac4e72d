"""``seqcore ner train|tag|evaluate`` end to end: the real all-MiniLM-L6-v2 fine-tuned for one step and used to tag
and score, CoNLL training and test files on a tiny random BERT folder (--encoder), the options reaching the recipe,
and the usage errors (exit code 2, one line, nothing trained)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pretrained_helpers import one_thread, write_tiny_model  # noqa: E402
from seqcore.cli.main import main  # noqa: E402
from seqcore.models import ner_tagger  # noqa: E402

CONLL = """-DOCSTART- -X- O O

John NNP B-NP I-PER
Smith NNP I-NP I-PER
lives VBZ B-VP O
in IN B-PP O
Paris NNP B-NP I-LOC
. . O O

Mary NNP B-NP I-PER
works VBZ B-VP O
at IN B-PP O
Acme NNP B-NP I-ORG
Corp NNP I-NP I-ORG
"""
SENTENCES = [
    ("John Smith visited Berlin", "B-PER I-PER O B-LOC"),
    ("Mary works for Acme", "B-PER O O B-ORG"),
    ("Who was born in London ?", "O O O O B-LOC O"),
    ("Acme Corp is in New York", "B-ORG I-ORG O O B-LOC I-LOC"),
    ("Mary Smith lives in Paris", "B-PER I-PER O O B-LOC"),
] * 3
ENTITY_LINE = re.compile(r"^([A-Z]+) +(.+) \((\d+)-(\d+)\)  (\d\.\d\d)$")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models" / "ner-minilm"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny"), seed=5, add_pooler=False)


@pytest.fixture(scope="module")
def conll_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("conll")
    train, test = folder / "train.txt", folder / "test.txt"
    lines = [
        "\n".join(f"{w} {t}" for w, t in zip(words.split(), tags.split())) + "\n" for words, tags in SENTENCES
    ]  # fmt: skip
    train.write_text("\n".join(lines), encoding="utf-8")
    test.write_text(CONLL, encoding="utf-8")
    return train, test


@pytest.fixture(scope="module")
def tiny_model(tiny_dir, conll_files, tmp_path_factory) -> Path:
    """A model folder trained (one epoch) on the tiny encoder through the CLI."""
    out = tmp_path_factory.mktemp("model") / "ner"
    argv = ["ner", "train", "--encoder", str(tiny_dir), "--conll", str(conll_files[0]), "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def minilm() -> None:
    from seqcore.pretrained import model_dir

    try:
        model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")


def check_entities(text: str, lines: list[str]) -> None:
    """Every line an entity of ``text`` (type, words, span, score) or "(no entities)"."""
    if lines == ["(no entities)"]:
        return
    for line in lines:
        m = ENTITY_LINE.match(line)
        assert m, line
        kind, word, start, end, score = m.groups()
        assert text[int(start) : int(end)] == word and 0.0 <= float(score) <= 1.0
        assert kind in {"PER", "ORG", "LOC", "DATE", "MONEY"}


def test_minilm_train_tag_evaluate_round_trip(home, conll_files, capsys):
    minilm()
    argv = ["ner", "train", "--train-size", "16", "--test-size", "8", "--batch-size", "8", "--seconds", "0.2"]
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning all-MiniLM-L6-v2 for NER on 16 generated sentences (scored on 8 others" in out
    assert re.search(r"^ +precision +recall +f1-score +support$", out, re.M) and "micro avg" in out
    assert re.search(
        r"^entity F1 \d\.\d{3} \(precision \d\.\d{3}, recall \d\.\d{3}\), token accuracy \d\.\d{3} on 8 sentences$",
        out,
        re.M,
    )
    assert re.search(
        r"^trained \d+ steps? on 16 sentences in [\d.]+s( \(stopped by --seconds\))?, last loss", out, re.M
    )
    assert f"saved to {home} (" in out and "AutoModelForTokenClassification" in out
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in home.iterdir()}
    assert not [p.name for p in home.iterdir() if p.name.startswith(".")]  # atomic writes leave no temp files
    config = json.loads((home / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"] and len(config["id2label"]) == 11

    text = "Laura Diaz joined Hartman Inc. in Boston on March 3, 2021."
    assert main(["ner", "tag", text]) == 0  # the default model folder, under $SEQCORE_HOME
    check_entities(text, capsys.readouterr().out.splitlines())

    assert main(["ner", "evaluate", "--conll", str(conll_files[1])]) == 0
    out = capsys.readouterr().out
    assert "micro avg" in out and re.search(r"token accuracy \d\.\d{3} on 2 sentences$", out, re.M)


def test_conll_training_with_a_test_file_and_held_out(tiny_dir, conll_files, tmp_path, capsys):
    train, test = conll_files
    out_dir = tmp_path / "a" / "b"  # created
    argv = ["ner", "train", "--encoder", str(tiny_dir), "--conll", str(train), "--test-conll", str(test)]
    assert main([*argv, "--epochs", "1", "--batch-size", "4", "--out", str(out_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"on {train} (15 sentences; scored on the 2 of {test})" in out
    assert re.search(r"^trained 4 steps on 15 sentences", out, re.M)
    assert "try: seqcore ner tag 'Laura Diaz" in out and f"--model {str(out_dir)!r}" in out
    labels = json.loads((out_dir / "config.json").read_text())["id2label"]
    assert [labels[str(i)] for i in range(len(labels))] == ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]

    assert main(["ner", "train", "--encoder", str(tiny_dir), "--conll", str(train), "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "(15 sentences; 10% of them held out for the score)" in out
    assert re.search(r"trained \d+ steps? on 13 sentences", out) and re.search(r"on 2 sentences$", out, re.M)


def test_tag_several_texts(tiny_model, capsys):
    texts = ["John Smith lives in Paris", "Mary works at Acme Corp in Berlin"]
    assert main(["ner", "tag", *texts, "--model", str(tiny_model)]) == 0
    blocks = capsys.readouterr().out.rstrip("\n").split("\n\n")
    assert len(blocks) == 2
    for text, block in zip(texts, blocks):
        header, *lines = block.splitlines()
        assert header == f"# {text}" and lines
        check_entities(text, lines)


def test_options_reach_the_recipe(home, monkeypatch, capsys):
    seen = {}

    def fake_train_ner(**kwargs):
        seen.clear()
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before saving: the options are what this test is about

    monkeypatch.setattr(ner_tagger, "train_ner", fake_train_ner)
    monkeypatch.setattr("seqcore.cli.ner.load_encoder", lambda name: f"<{name}>")
    argv = ["ner", "train", "--train-size", "7", "--test-size", "3", "--epochs", "0.5", "--lr", "3e-5"]
    argv += ["--batch-size", "2", "--seconds", "9", "--no-freeze-embeddings", "--seed", "4", "--encoder", "X"]
    assert main(argv) == 130
    assert seen == {
        "train": None, "test": None, "encoder": "<X>", "progress": True, "seconds": 9.0, "train_size": 7,
        "test_size": 3, "epochs": 0.5, "learning_rate": 3e-5, "batch_size": 2, "seed": 4, "freeze_embeddings": False,
    }  # fmt: skip
    assert main(["ner", "train", "--quiet"]) == 130
    assert seen["progress"] is False and "freeze_embeddings" not in seen and "epochs" not in seen
    assert not home.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["ner", "tag", "some text"], "no NER model in"),
        (["ner", "tag", "x", "--model", "MISSING"], "train one first with `seqcore ner train --out"),
        (["ner", "evaluate", "--conll", "MISSING"], "no such file"),
        (["ner", "train", "--test-conll", "TEST"], "add --conll TRAIN"),
        (["ner", "train", "--conll", "TRAIN", "--train-size", "5"], "drop one"),
        (["ner", "train", "--conll", "TRAIN", "--test-size", "5"], "--test-size sizes the generated test data"),
        (["ner", "train", "--conll", "MISSING"], "--conll"),
        (["ner", "train", "--conll", "TRAIN", "--test-conll", "MISSING"], "--test-conll"),
        (["ner", "train", "--conll", "EMPTY"], "no sentences in the file"),
        (["ner", "train", "--conll", "BAD"], "line 1"),
        (["ner", "train", "--out", "TRAIN"], "is a file; give a folder"),
        (["ner", "train", "--encoder", "no-such-model"], "--encoder 'no-such-model'"),
    ],
)
def test_usage_errors_say_one_line(argv, words, home, conll_files, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("\n-DOCSTART- -X- O O\n\n")
    (tmp_path / "bad.txt").write_text("John X-PER\n")
    names = {
        "TRAIN": conll_files[0], "TEST": conll_files[1], "MISSING": tmp_path / "nothing" / "x",
        "EMPTY": tmp_path / "empty.txt", "BAD": tmp_path / "bad.txt",
    }  # fmt: skip
    assert main([str(names.get(a, a)) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("seqcore ner: error: ") and len(err.splitlines()) == 1, err
    assert words in err and "Traceback" not in err
    assert "fine-tuning" not in captured.out and not home.exists()


def test_evaluate_errors_with_a_model(tiny_model, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("John\n")
    assert main(["ner", "evaluate", "--conll", str(bad), "--model", str(tiny_model)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--conll" in err and "line 1" in err
    not_ner = tmp_path / "qa"
    not_ner.mkdir()
    (not_ner / "config.json").write_text("{}")
    assert main(["ner", "tag", "x", "--model", str(not_ner)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["ner"], "required: ACTION"),
        (["ner", "tag"], "required: TEXT"),
        (["ner", "evaluate"], "required: --conll"),
        (["ner", "train", "--epochs", "0"], "expected a positive number, got '0'"),
        (["ner", "train", "--lr", "2"], "expected a learning rate in (0, 1], got '2'"),
        (["ner", "train", "--seed", "-1"], "expected an integer >= 0"),
        (["ner", "train", "--batch-size", "x"], "expected a positive integer"),
        (["ner", "train", "--seconds", "-3"], "expected a positive number"),
    ],
)
def test_bad_numbers_and_missing_arguments(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err.splitlines()[-1] and "Traceback" not in err
