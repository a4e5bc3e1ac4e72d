"""``seqcore demo gradients``: the figure, the summary, usage errors, and the classifier demo left as it was."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from seqcore.cli import demo
from seqcore.cli.main import build_parser, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_writes_the_figure_and_prints_the_summary(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "gradients.png"
    assert main(["demo", "gradients", "--out", str(out), "--length", "30", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 30_000  # three panels of lines and text, not an empty canvas
    import matplotlib.image

    pixels = matplotlib.image.imread(str(out))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 1000
    assert pixels[..., :3].std() > 0.05  # drawn on, not blank
    colours = {tuple(p) for p in (pixels[::7, ::7, :3] * 255).astype(int).reshape(-1, 3)}
    assert len(colours) > 50  # the coloured curves are there
    assert [p for p in os.listdir(tmp_path)] == ["gradients.png"]  # no temporary file left beside it
    assert "||dL/dh_0|| / ||dL/dh_29|| at init" in text
    for cell in ("SimpleRNN", "LSTM", "GRU"):
        assert cell in text
    assert "global_clipnorm=1" in text and f"wrote {out}" in text


def test_overwrites_an_existing_file(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "g.png"
    out.write_bytes(b"old")
    assert main(["demo", "gradients", "--out", str(out), "--length", "10"]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--length", "1"], "--length must be between 2 and 200, got 1"),
        (["--length", "0"], "--length must be between 2 and 200, got 0"),
        (["--length", "100000"], "--length must be between 2 and 200, got 100000"),
        (["--epochs", "3"], "--epochs applies to the classifier demo only"),
        (["--save", "m.safetensors"], "--save applies to the classifier demo only"),
    ],
)
def test_bad_options(tmp_path, capsys, argv, message) -> None:
    code = main(["demo", "gradients", "--out", str(tmp_path / "g.png"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("seqcore demo: error: ") and message in err
    assert not (tmp_path / "g.png").exists()


def test_bad_out(tmp_path, capsys) -> None:
    missing = tmp_path / "no" / "such" / "g.png"
    assert main(["demo", "gradients", "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "does not exist" in err
    assert main(["demo", "gradients", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err


def test_not_an_integer_length_is_an_argparse_error(capsys) -> None:
    assert main(["demo", "gradients", "--length", "ten"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_missing_matplotlib_says_how_to_install(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["demo", "gradients", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "seqcore[plot]"' in err


def test_classifier_stays_the_default(capsys) -> None:
    parser = build_parser()
    args = parser.parse_args(["demo", "--no-torch"])
    assert args.which == "classifier" and args.no_torch and args.epochs is None and args.out is None
    assert parser.parse_args(["demo", "classifier", "--epochs", "2"]).epochs == 2
    assert main(["demo", "--out", "x.png"]) == 2  # gradient options are refused before any training
    assert "--out applies to 'seqcore demo gradients' only" in capsys.readouterr().err
    assert main(["demo", "--epochs", "0", "--no-torch"]) == 2
    assert "--epochs must be at least 1, got 0" in capsys.readouterr().err
    assert main(["demo", "sideways"]) == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_clipping_bounds_every_update_and_saves_the_rnn() -> None:
    free = demo.clipping_trace(50, 0, clip=None, steps=6)
    clipped = demo.clipping_trace(50, 0, clip=demo.CLIP, steps=6)
    # the same model and batches: the first gradient is the same, and it explodes
    assert free.norm[0] == clipped.norm[0] > 100 * demo.CLIP
    assert free.ratio_before == clipped.ratio_before > 10
    np.testing.assert_allclose(clipped.clipped_norm, np.minimum(clipped.norm, demo.CLIP), rtol=1e-5)
    assert np.all(clipped.update <= demo.EXPLODE_LR * demo.CLIP * (1 + 1e-5))
    # unclipped, SGD takes the whole step: it wrecks the recurrent kernel and the RNN saturates
    assert free.update[0] == pytest.approx(demo.EXPLODE_LR * free.norm[0], rel=1e-4)
    assert free.kernel_norm_after > 5 * free.kernel_norm_before
    assert free.ratio_after < 1e-6 < clipped.ratio_after
    assert clipped.kernel_norm_after < 1.5 * clipped.kernel_norm_before
