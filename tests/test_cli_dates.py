"""`seqcore dates` end to end: translation, --attention --png, --train/--out/--model, usage errors."""

from __future__ import annotations

import re

import pytest

from seqcore.cli.main import main


def test_translates_each_argument_on_its_own_line(capsys):
    assert main(["dates", "Saturday May 9 2018", "3rd of march 2001", "21th of August 2016"]) == 0
    assert capsys.readouterr().out.splitlines() == ["2018-05-09", "2001-03-03", "2016-08-21"]


def test_attention_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--png needs matplotlib")
    png = tmp_path / "att.png"
    assert main(["dates", "--attention", "Saturday May 9 2018", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"Saturday May 9 2018 -> 2018-05-09: attention map drawn to {png}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically


def test_missing_matplotlib_names_the_plot_extra(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["dates", "--attention", "may 9 2018", "--png", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "seqcore[plot]" in err


def test_train_save_and_use_the_model(tmp_path, capsys):
    path = tmp_path / "dates.safetensors"
    args = ["dates", "--train", "--examples", "200", "--epochs", "1", "--out", str(path), "--quiet", "may 9 2018"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "training on 200 generated dates (1,000 others held out) for 1 epochs" in out
    assert re.search(r"held-out exact-match accuracy: [0-9.]+% \(\d+/1000 dates never seen in training\)", out)
    assert f"saved to {path}" in out and path.is_file()
    assert re.fullmatch(r"[-0-9]{10}", out.rstrip().splitlines()[-1])  # the DATE, by the fresh model
    assert main(["dates", "--model", str(path), "3 may 1979", "x"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(re.fullmatch(r"[-0-9]{10}", line) for line in lines)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["dates"], "give one or more dates"),
        (["dates", "--attention", "may 9 2018"], "add --png"),
        (["dates", "--png", "a.png", "may 9 2018"], "--attention"),
        (["dates", "--epochs", "3", "may 9 2018"], "--epochs applies to --train only"),
        (["dates", "--out", "m.safetensors", "may 9 2018"], "--out applies to --train only"),
        (["dates", "--examples", "5", "may 9 2018"], "--examples applies to --train only"),
        (["dates", "--train", "--model", "m.safetensors"], "exclude each other"),
        (["dates", "--model", "/nonexistent/m.safetensors", "may 9 2018"], "no such file"),
        (["dates", "--train", "--out", "/nonexistent/folder/m.safetensors"], "does not exist"),
        (["dates", "--train", "--seed", "-1"], "--seed must be >= 0"),
        (["dates", "--n-best", "3"], "give one or more dates"),
        (["dates", "--n-best", "3", "--attention", "may 9 2018", "--png", "a.png"], "--n-best lists alternatives"),
        (["dates", "--n-best", "0", "may 9 2018"], "positive integer"),
    ],
)
def test_usage_errors(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_bad_option_values(capsys):
    assert main(["dates", "--train", "--epochs", "0"]) == 2
    assert "positive integer" in capsys.readouterr().err


def test_damaged_model_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert main(["dates", "--model", str(bad), "may 9 2018"]) == 2
    assert str(bad) in capsys.readouterr().err


def test_n_best_lists_alternatives_best_first(capsys):
    assert main(["dates", "--n-best", "3", "May 9 2018"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "May 9 2018" and len(lines) == 4
    assert lines[1].split()[0] == "2018-05-09"
    scores = [float(line.rsplit("=", 1)[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)


def test_error_analysis_counts(capsys):
    assert main(["dates", "--error-analysis", "50", "--seed", "7", "--beam-width", "2"]) == 0
    out = capsys.readouterr().out
    assert "error analysis of 50 examples (beam width 2" in out
    counts = {m[0]: int(m[1]) for m in re.findall(r"^\s+(correct|beam search|model)\s+(\d+)", out, re.M)}
    assert set(counts) == {"correct", "beam search", "model"}
    assert sum(counts.values()) == 50 and counts["correct"] >= 49
