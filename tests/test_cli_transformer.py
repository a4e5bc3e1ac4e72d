"""`seqcore transformer dates|charlm` end to end with tiny budgets, and their usage errors."""

from __future__ import annotations

import re

import pytest

from seqcore.cli.main import main
from seqcore.datasets.dinos import dinos_path


def test_dates_trains_reports_both_models_saves_and_draws(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--png needs matplotlib")
    model, png = tmp_path / "t.safetensors", tmp_path / "att.png"
    argv = ["transformer", "dates", "--train-size", "64", "--held-out", "40", "--steps", "2", "--quiet"]
    argv += ["--save", str(model)]
    argv += ["--attention", "3rd of march 2001", "--png", str(png), "--head", "2", "may 9 2018"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "on 64 generated dates (40 others held out, 6 more to keep the best epoch) for 2 steps" in out
    assert re.search(r"trained 2 steps \(128 examples", out)
    assert re.search(
        r"held-out exact-match accuracy \(40 dates never seen in training, greedy\): Transformer [0-9.]+%", out
    )
    assert re.search(r"LSTM attention model \(DateTranslator.pretrained\(\)\) on the same dates: [0-9.]+%", out)
    assert f"saved to {model}" in out and model.is_file()
    assert re.search(r"^may 9 2018 -> [-0-9]{10}$", out, re.M)
    assert re.search(r"cross-attention of decoder layer 2, head 2 \(10x17\) drawn to", out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["att.png", "t.safetensors"]  # atomic: no temp files

    argv = ["transformer", "dates", "--model", str(model), "--held-out", "20", "--no-compare", "--beam-width", "2"]
    assert main([*argv, "june 30 1995"]) == 0
    out = capsys.readouterr().out
    assert "beam width 2" in out and "LSTM" not in out and re.search(r"june 30 1995 -> [-0-9]{10}", out)


def test_charlm_trains_both_models_and_samples(tmp_path, capsys):
    path = tmp_path / "lm.safetensors"
    argv = ["transformer", "charlm", str(dinos_path()), "--seconds", "30", "--steps", "2", "--layers", "1"]
    argv += ["--holdout", "0.05"]
    argv += ["--d-model", "16", "--heads", "2", "--dff", "16", "--lstm-units", "8", "--samples", "3", "--quiet"]
    assert main([*argv, "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Transformer \([0-9,]+ parameters\): 2 steps", out)
    assert re.search(r"LSTM \([0-9,]+ parameters\): 2 steps", out)
    assert re.search(r"held-out loss \(\d+ items\): Transformer \d\.\d{4} nats/char, LSTM \d\.\d{4} nats/char", out)
    assert len(out.rstrip().splitlines()[-1].removeprefix("samples: ").split(" | ")) == 3
    assert path.is_file()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["transformer"], "required: DEMO"),
        (["transformer", "dates", "--attention", "may 9 2018"], "add --png"),
        (["transformer", "dates", "--png", "a.png"], "--attention"),
        (["transformer", "dates", "--head", "2"], "add --attention"),
        (["transformer", "dates", "--block", "encoder"], "invalid choice"),
        (["transformer", "dates", "--seed", "-1"], "--seed must be >= 0"),
        (["transformer", "dates", "--steps", "0"], "positive integer"),
        (["transformer", "dates", "--model", "/nonexistent/m.safetensors"], "no such file"),
        (["transformer", "dates", "--model", "m.safetensors", "--steps", "3"], "--steps trains a model"),
        (["transformer", "dates", "--save", "/nonexistent/folder/m.safetensors"], "does not exist"),
        (["transformer", "charlm", "/nonexistent/names.txt"], "no such file"),
        (["transformer", "charlm", "FILE", "--d-model", "10", "--heads", "4"], "multiple of --heads"),
        (["transformer", "charlm", "FILE", "--samples", "-1"], "--samples must be >= 0"),
        (["transformer", "charlm", "FILE", "--holdout", "1.5"], "fraction"),
    ],
)
def test_usage_errors(argv, words, capsys):
    argv = [str(dinos_path()) if a == "FILE" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_layer_and_head_beyond_the_model_are_usage_errors(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    argv = ["transformer", "dates", "--train-size", "16", "--held-out", "4", "--steps", "1", "--quiet", "--no-compare"]
    argv += ["--attention", "may 9 2018", "--png", str(tmp_path / "a.png")]
    assert main([*argv, "--layer", "3"]) == 2
    assert "--layer must lie in 1..2" in capsys.readouterr().err
