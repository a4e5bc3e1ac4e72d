"""`seqcore bleu` end to end: the score line equals sacrebleu's, JSON, sentence level, options, and file errors
reported in one line (exit code 2, no traceback)."""

from __future__ import annotations

import json
import re

import pytest

from bleu_helpers import make_corpus
from seqcore.cli.main import main

sacrebleu = pytest.importorskip("sacrebleu")


def write_corpus(tmp_path, hyps, refs):
    """The corpus as files of one segment per line (segments holding a newline are joined with a space)."""

    def clean(lines):
        return [line.replace("\n", " ").replace("\r", " ") for line in lines]

    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(clean(hyps)) + "\n", encoding="utf-8")
    paths = []
    for k, stream in enumerate(refs):
        path = tmp_path / f"ref{k}.txt"
        path.write_text("\n".join(clean(stream)) + "\n", encoding="utf-8")
        paths.append(str(path))
    return str(hyp), paths, clean(hyps), [clean(stream) for stream in refs]


def run(capsys, *argv):
    code = main(["bleu", *argv])
    out, err = capsys.readouterr()
    return code, out, err


OPTIONS = [  # (command-line options, the same as sacrebleu.corpus_bleu arguments)
    ([], {}),
    (["--lowercase"], {"lowercase": True}),
    (["--tokenize", "none"], {"tokenize": "none"}),
    (["--smooth-method", "floor", "--smooth-value", "0.2"], {"smooth_method": "floor", "smooth_value": 0.2}),
    (["--smooth-method", "add-k"], {"smooth_method": "add-k"}),
    (["--smooth-method", "none", "--effective-order"], {"smooth_method": "none", "use_effective_order": True}),
    (["-lc", "-tok", "none", "-s", "exp"], {"lowercase": True, "tokenize": "none"}),
]


@pytest.mark.parametrize("R", [1, 2])
@pytest.mark.parametrize(("options", "kwargs"), OPTIONS)
def test_score_line_equals_sacrebleu(tmp_path, capsys, R, options, kwargs):
    hyps, refs = make_corpus(seed=R, S=30, R=R)
    hyp, ref_paths, hyps, refs = write_corpus(tmp_path, hyps, refs)
    code, out, err = run(capsys, hyp, *ref_paths, *options)
    assert code == 0, err
    assert out == sacrebleu.corpus_bleu(hyps, refs, **kwargs).format() + "\n"


def test_tokenized_input_warns_in_one_line(tmp_path, capsys):
    hyp, ref_paths, _, _ = write_corpus(tmp_path, ["the cat sat ."] * 120, [["the cat sat."] * 120])
    code, out, err = run(capsys, hyp, *ref_paths)
    assert code == 0 and out.startswith("BLEU = ")
    assert err.startswith("seqcore bleu: warning: 120 hypotheses end in a tokenized period") and err.count("\n") == 1
    code, out, err = run(capsys, hyp, *ref_paths, "--force")
    assert code == 0 and err == ""


def test_json_and_score_only(tmp_path, capsys):
    hyps, refs = make_corpus(seed=3, S=20, R=2)
    hyp, ref_paths, hyps, refs = write_corpus(tmp_path, hyps, refs)
    theirs = sacrebleu.corpus_bleu(hyps, refs)
    code, out, _ = run(capsys, hyp, *ref_paths, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["name"] == "BLEU" and doc["score"] == round(theirs.score, 2)
    assert doc["nrefs"] == "2" and doc["tok"] == "13a" and doc["case"] == "mixed" and doc["smooth"] == "exp"
    assert doc["verbose_score"] == theirs.format().split(" ", 3)[3]
    assert doc["signature"].startswith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:seqcore-")
    code, out, _ = run(capsys, hyp, *ref_paths, "-b", "-w", "4")
    assert code == 0 and out == f"{theirs.score:.4f}\n"


def test_sentence_level(tmp_path, capsys):
    hyps, refs = make_corpus(seed=4, S=15, R=2)
    hyp, ref_paths, hyps, refs = write_corpus(tmp_path, hyps, refs)
    code, out, _ = run(capsys, hyp, *ref_paths, "--sentence-level")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(hyps)
    for k, line in enumerate(lines):
        assert line == sacrebleu.sentence_bleu(hyps[k], [stream[k] for stream in refs]).format()
    code, out, _ = run(capsys, hyp, *ref_paths, "-sl", "-f", "json")
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == len(hyps) and all(d["eff"] == "yes" for d in docs)


def test_lines_are_split_at_newline_only(tmp_path, capsys):
    """As sacrebleu reads files: \\r and other line separators stay inside a segment; a missing final newline
    is fine; an empty line is an empty segment."""
    (tmp_path / "h.txt").write_bytes("a b\r\nc\u2028d\n\nlast".encode())
    (tmp_path / "r.txt").write_bytes(b"a b\nc d\nx\nlast\n")
    code, out, err = run(capsys, str(tmp_path / "h.txt"), str(tmp_path / "r.txt"))
    theirs = sacrebleu.corpus_bleu(["a b\r", "c\u2028d", "", "last"], [["a b", "c d", "x", "last"]])
    assert code == 0 and out == theirs.format() + "\n", err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: ["missing.txt", str(d / "r.txt")], "'missing.txt': no such file"),
        (lambda d: [str(d / "h.txt"), str(d / "nope.txt")], "nope.txt': no such file"),
        (lambda d: [str(d / "h.txt"), str(d / "short.txt")], "short.txt' has 1 lines but .*h.txt' has 2"),
        (lambda d: [str(d / "h.txt"), str(d / "r.txt"), str(d / "short.txt")], "short.txt' has 1 lines"),
        (lambda d: [str(d / "bad.txt"), str(d / "r.txt")], "bad.txt' is not UTF-8 text: invalid byte 0xff at byte off"),
        (lambda d: [str(d / "empty.txt"), str(d / "empty.txt")], "empty.txt' has no lines"),
        (lambda d: [str(d), str(d / "r.txt")], "is a folder"),
    ],
)  # fmt: skip
def test_file_errors_are_one_line(tmp_path, capsys, make, message):
    (tmp_path / "h.txt").write_text("a b\nc d\n")
    (tmp_path / "r.txt").write_text("a b\nc e\n")
    (tmp_path / "short.txt").write_text("a b\n")
    (tmp_path / "bad.txt").write_bytes(b"a \xff b\nc\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    code, out, err = run(capsys, *make(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("seqcore bleu: error: ") and len(err.splitlines()) == 1, err
    assert re.search(message, err), err


@pytest.mark.parametrize(
    "argv",
    [["h.txt"], ["h.txt", "r.txt", "--tokenize", "intl"], ["h.txt", "r.txt", "--smooth-method", "exp2"],
     ["h.txt", "r.txt", "--smooth-value", "-1"], ["h.txt", "r.txt", "--max-ngram-order", "0"],
     ["h.txt", "r.txt", "--width", "x"]],
)  # fmt: skip
def test_usage_errors(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and "Traceback" not in err and "usage:" in err
