"""``seqcore qa train|ask|evaluate`` end to end: the real all-MiniLM-L6-v2 fine-tuned for one step and asked, SQuAD
training and test files on a tiny random BERT folder (--encoder), and the usage errors (exit code 2, one line,
nothing trained)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pretrained_helpers import one_thread, write_tiny_model  # noqa: E402
from seqcore.cli.main import main  # noqa: E402
from seqcore.datasets import Answer, QAExample, write_squad  # noqa: E402
from seqcore.models import qa_reader  # noqa: E402

CONTEXTS = [
    ("john smith lives in paris.", [("who lives in paris?", "john smith"), ("where does john smith live?", "paris")]),
    ("mary works at acme corp in berlin.", [("where does mary work?", "acme corp")]),
    ("mary was born in london.", [("where was mary born?", "london")]),
    ("john visited new york.", [("who visited new york?", "john")]),
]


def examples(prefix: str, copies: int = 1) -> list[QAExample]:
    out = []
    for k in range(copies):
        for c, (context, qas) in enumerate(CONTEXTS):
            text = context + " the city is new." * k  # each copy another passage
            for q, (question, answer) in enumerate(qas):
                out.append(QAExample(f"{prefix}{k}-{c}-{q}", text, question, (Answer(answer, text.index(answer)),)))
    return out


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models" / "qa-minilm"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny"), seed=7, add_pooler=False)


@pytest.fixture(scope="module")
def squad_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("squad")
    write_squad(folder / "train.json", examples("t", copies=3))
    write_squad(folder / "test.json", examples("e"))
    return folder / "train.json", folder / "test.json"


@pytest.fixture(scope="module")
def tiny_model(tiny_dir, squad_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "qa"
    argv = ["qa", "train", "--encoder", str(tiny_dir), "--squad", str(squad_files[0]), "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def minilm() -> None:
    from seqcore.pretrained import model_dir

    try:
        model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")


def check_answer(context: str, out: str) -> None:
    """answer / score / span lines, the span being the answer's place in the context."""
    lines = out.splitlines()
    if lines == ["(no answer found in the context)"]:
        return
    assert len(lines) == 3, out
    answer = lines[0].removeprefix("answer: ")
    assert re.fullmatch(r"score: -?\d+\.\d\d \(start \+ end logit\)", lines[1])
    m = re.fullmatch(r"span: characters (\d+)-(\d+) of the context", lines[2])
    assert m and context[int(m[1]) : int(m[2])] == answer and answer


def test_minilm_train_ask_evaluate_round_trip(home, squad_files, tmp_path, capsys):
    minilm()
    argv = ["qa", "train", "--train-size", "16", "--test-size", "8", "--batch-size", "8", "--seconds", "0.2"]
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning all-MiniLM-L6-v2 for extractive QA on 16 generated questions (scored on 8 others" in out
    assert re.search(r"^exact match \d+\.\d, F1 \d+\.\d on 8 questions \(SQuAD v1\.1 scoring, percent\)$", out, re.M)
    assert re.search(r"^trained \d+ steps? on 16 questions in [\d.]+s", out, re.M)
    assert f"saved to {home} (" in out and "AutoModelForQuestionAnswering" in out
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in home.iterdir()}
    config = json.loads((home / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]

    context = "Laura Diaz was born in Boston in 1971. She has lived in Paris since 2004."
    assert main(["qa", "ask", "--question", "Where was Laura Diaz born?", "--context", context]) == 0
    check_answer(context, capsys.readouterr().out)
    file = tmp_path / "context.txt"
    file.write_text(context + "\n", encoding="utf-8")
    assert main(["qa", "ask", "--question", "Where does she live?", "--context-file", str(file)]) == 0
    check_answer(context + "\n", capsys.readouterr().out)

    assert main(["qa", "evaluate", "--squad", str(squad_files[1])]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(
        r"exact match \d+\.\d, F1 \d+\.\d on 5 questions \(SQuAD v1\.1 scoring, percent\), in [\d.]+s\n", out
    )


def test_squad_training_with_a_test_file_and_held_out(tiny_dir, squad_files, tmp_path, capsys):
    train, test = squad_files
    out_dir = tmp_path / "qa"
    argv = ["qa", "train", "--encoder", str(tiny_dir), "--squad", str(train), "--test-squad", str(test)]
    assert main([*argv, "--epochs", "1", "--out", str(out_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"on {train} (15 questions; scored on the 5 of {test})" in out
    assert re.search(r"on 5 questions \(SQuAD", out) and f"--model {str(out_dir)!r}" in out
    assert (out_dir / "model.safetensors").is_file()

    assert main(["qa", "train", "--encoder", str(tiny_dir), "--squad", str(train), "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "(15 questions; 10% of the passages held out for the score)" in out
    # one of the 12 passages held out, with its one or two questions
    assert re.search(r"trained \d+ steps? on 1[34] questions", out) and re.search(r"on [12] questions \(", out)


def test_ask_the_tiny_model(tiny_model, capsys):
    context = "john smith lives in paris."
    assert (
        main(["qa", "ask", "--question", "who lives in paris?", "--context", context, "--model", str(tiny_model)]) == 0
    )
    check_answer(context, capsys.readouterr().out)


def test_options_reach_the_recipe(home, monkeypatch):
    seen = {}

    def fake_train_qa(**kwargs):
        seen.clear()
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(qa_reader, "train_qa", fake_train_qa)
    monkeypatch.setattr("seqcore.cli.qa.load_encoder", lambda name: f"<{name}>")
    argv = ["qa", "train", "--train-size", "7", "--test-size", "3", "--epochs", "2", "--lr", "1e-4"]
    argv += ["--batch-size", "2", "--no-freeze-embeddings", "--seed", "1", "--quiet"]
    assert main(argv) == 130
    assert seen == {
        "train": None, "test": None, "encoder": "<all-MiniLM-L6-v2>", "progress": False, "seconds": None,
        "train_size": 7, "test_size": 3, "epochs": 2.0, "learning_rate": 1e-4, "batch_size": 2, "seed": 1,
        "freeze_embeddings": False,
    }  # fmt: skip
    assert not home.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["qa", "ask", "--question", "q?", "--context", "c"], "no QA model in"),
        (["qa", "ask", "--question", "q?", "--context", "c", "--model", "MISSING"], "seqcore qa train --out"),
        (["qa", "ask", "--question", "q?", "--context", "c", "--context-file", "TRAIN"], "keep one"),
        (["qa", "ask", "--question", "q?"], "--context TEXT or --context-file FILE"),
        (["qa", "ask", "--question", "q?", "--context", "  "], "the context is empty"),
        (["qa", "ask", "--question", " ", "--context", "c"], "--question is empty"),
        (["qa", "ask", "--question", "q?", "--context-file", "MISSING"], "no such file"),
        (["qa", "evaluate", "--squad", "MISSING"], "no such file"),
        (["qa", "train", "--test-squad", "TEST"], "add --squad TRAIN"),
        (["qa", "train", "--squad", "TRAIN", "--train-size", "5"], "drop one"),
        (["qa", "train", "--squad", "NOTJSON"], "is not valid JSON"),
        (["qa", "train", "--squad", "EMPTY"], "no questions in the file"),
        (["qa", "train", "--squad", "TRAIN", "--test-squad", "NOTJSON"], "--test-squad"),
        (["qa", "train", "--out", "TRAIN"], "is a file; give a folder"),
        (["qa", "train", "--encoder", "MISSING"], "--encoder"),
    ],
)
def test_usage_errors_say_one_line(argv, words, home, squad_files, tmp_path, capsys):
    (tmp_path / "not.json").write_text("{")
    (tmp_path / "empty.json").write_text('{"data": []}')
    names = {
        "TRAIN": squad_files[0], "TEST": squad_files[1], "MISSING": tmp_path / "nothing" / "x",
        "NOTJSON": tmp_path / "not.json", "EMPTY": tmp_path / "empty.json",
    }  # fmt: skip
    assert main([str(names.get(a, a)) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("seqcore qa: error: ") and len(err.splitlines()) == 1, err
    assert words in err and "Traceback" not in err
    assert "fine-tuning" not in captured.out and not home.exists()


def test_a_question_too_long_for_the_window(tiny_model, capsys):
    question = " ".join(["who"] * 70) + "?"  # the tiny model's windows hold 64 tokens
    assert main(["qa", "ask", "--question", question, "--context", "john", "--model", str(tiny_model)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--question: max_length" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["qa"], "required: ACTION"),
        (["qa", "ask", "--context", "c"], "required: --question"),
        (["qa", "evaluate"], "required: --squad"),
        (["qa", "train", "--epochs", "-1"], "expected a positive number"),
        (["qa", "train", "--lr", "0"], "expected a learning rate in (0, 1]"),
        (["qa", "train", "--train-size", "0"], "expected a positive integer"),
    ],
)
def test_bad_numbers_and_missing_arguments(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err.splitlines()[-1] and "Traceback" not in err
