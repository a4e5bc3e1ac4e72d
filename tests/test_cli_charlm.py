"""`seqcore dinos` and `seqcore charlm train|eval|sample` end to end, on small budgets."""

from __future__ import annotations

import re

import pytest

from seqcore.cli.main import main
from seqcore.models import CharLM

POEM = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date:
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
"""


def test_dinos_prints_loss_and_names_and_saves(tmp_path, capsys):
    path = tmp_path / "dinos.safetensors"
    code = main(["dinos", "--iterations", "300", "--print-every", "150", "--samples", "3", "--save", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    losses = [float(v) for v in re.findall(r"Iteration: \d+, Loss: ([0-9.]+)", out)]
    assert re.findall(r"Iteration: (\d+)", out) == ["1", "150", "300"]
    assert losses[0] == pytest.approx(23.07, abs=0.1)  # the course's starting value, -log(1/27) * 7
    names = [line for line in out.splitlines() if line and not line.startswith(("Iteration", "300 iter", "saved"))]
    assert len(names) == 9 and all(re.fullmatch(r"[A-Z][a-z]*", n) for n in names)
    model = CharLM.load(path)
    assert model.cell == "rnn" and model.units == [50] and model.embedding is None

    assert main(["charlm", "sample", str(path), "--n", "4", "--seed", "1", "--prefix", "tyr"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("tyr") for line in lines)


def test_charlm_train_eval_sample_on_any_text(tmp_path, capsys):
    text = tmp_path / "sonnet.txt"
    text.write_text(POEM)
    out = tmp_path / "poet.safetensors"
    code = main(
        [
            "charlm",
            "train",
            str(text),
            "--cell",
            "gru",
            "--units",
            "16,16",
            "--embedding",
            "8",
            "--seconds",
            "1",
            "--out",
            str(out),
            "--quiet",
            "--batch-size",
            "2",
        ]
    )
    report = capsys.readouterr().out
    assert code == 0, report
    assert "chars/s" in report and "saved to" in report
    assert main(["charlm", "eval", str(out), str(text)]) == 0
    line = capsys.readouterr().out
    nats = float(line.split()[0])
    assert 0 < nats < 5 and "nats per character" in line
    assert main(["charlm", "sample", str(out), "--n", "2", "--prefix", "Shall I", "--temperature", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and lines[0].startswith("Shall I")


def test_charlm_holdout_is_reported(tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]))
    code = main(
        [
            "charlm",
            "train",
            str(names),
            "--seconds",
            "0.5",
            "--holdout",
            "0.2",
            "--units",
            "8",
            "--out",
            str(tmp_path / "m.safetensors"),
            "--quiet",
        ]
    )
    assert code == 0
    assert re.search(r"held-out \(2 items\): [0-9.]+ nats/char", capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["charlm", "train", "{tmp}/missing.txt", "--out", "{tmp}/m"], "missing.txt"),
        (["charlm", "train", "{tmp}/ok.txt", "--out", "{tmp}/no/such/dir/m"], "does not exist"),
        (["charlm", "sample", "{tmp}/missing.model"], "no such file"),
        (["charlm", "sample", "{tmp}/ok.txt"], "ok.txt"),
        (["charlm", "train", "{tmp}/ok.txt", "--out", "{tmp}/m", "--holdout", "1.5"], "fraction"),
        (["charlm", "train", "{tmp}/ok.txt", "--out", "{tmp}/m", "--units", "0"], "positive integers"),
        (["dinos", "--iterations", "0"], "positive integer"),
        (["dinos", "--cell", "transformer"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "ok.txt").write_text("abc\ndef\n")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_eval_with_an_unseen_character_is_a_usage_error(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    (tmp_path / "a.txt").write_text("abc\nabd\n")
    (tmp_path / "b.txt").write_text("xyz\n")
    assert (
        main(
            [
                "charlm",
                "train",
                str(tmp_path / "a.txt"),
                "--seconds",
                "0.2",
                "--units",
                "4",
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["charlm", "eval", str(model), str(tmp_path / "b.txt")]) == 2
    assert "'x'" in capsys.readouterr().err
