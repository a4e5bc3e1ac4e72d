"""seqcore.datasets.conll: reading and writing CoNLL files, IOB1 -> IOB2, tag validation, clear errors."""

from __future__ import annotations

import os

import pytest

from seqcore.datasets import NERExample, iob1_to_iob2, read_conll, validate_tags, write_conll

# CoNLL-2003's layout (token POS chunk NER) and its IOB1 tags: "I-" starts an entity; "B-" only where an
# entity directly follows another of the same type ("B-LOC" below)
CONLL2003 = """\
-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Paris NNP B-NP I-LOC
Berlin NNP I-NP B-LOC
and CC O O
Rome NNP B-NP I-LOC
"""


def _write(tmp_path, text: str, name: str = "data.conll") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_reads_conll2003_iob1_as_iob2_and_skips_docstart(tmp_path):
    path = _write(tmp_path, CONLL2003)
    examples = read_conll(path)  # "auto" by default
    assert [e.tokens for e in examples] == [
        ("EU", "rejects", "German", "call", "."),
        ("Peter", "Blackburn"),
        ("Paris", "Berlin", "and", "Rome"),
    ]
    assert examples[0].tags == ("B-ORG", "O", "B-MISC", "O", "O")
    assert examples[1].tags == ("B-PER", "I-PER")
    assert examples[2].tags == ("B-LOC", "B-LOC", "O", "B-LOC")
    assert read_conll(path, scheme="IOB1") == examples
    assert examples[2].entities() == [("LOC", 0, 1), ("LOC", 1, 2), ("LOC", 3, 4)]


def test_iob2_scheme_refuses_iob1_input_naming_the_line(tmp_path):
    path = _write(tmp_path, CONLL2003)
    with pytest.raises(ValueError, match=r"data\.conll' line 3: 'I-ORG' after the sentence's start"):
        read_conll(path, scheme="IOB2")


def test_iob2_file_reads_the_same_under_every_scheme(tmp_path):
    text = "John B-PER\nSmith I-PER\nvisited O\nNew B-LOC\nYork I-LOC\n\nHe O\nleft O\n"
    path = _write(tmp_path, text)
    expected = [
        NERExample(("John", "Smith", "visited", "New", "York"), ("B-PER", "I-PER", "O", "B-LOC", "I-LOC")),
        NERExample(("He", "left"), ("O", "O")),
    ]
    for scheme in ("IOB2", "IOB1", "auto"):
        assert read_conll(path, scheme=scheme) == expected


def test_blank_runs_crlf_and_missing_final_blank_line(tmp_path):
    text = "\n\n-DOCSTART- O\nA B-X\nb I-X\n\n\n\n  \nc O\r\n-DOCSTART- O\nd B-Y"
    path = tmp_path / "odd.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    examples = read_conll(path)  # a pathlib.Path works too
    assert [(e.tokens, e.tags) for e in examples] == [
        (("A", "b"), ("B-X", "I-X")),
        (("c",), ("O",)),  # -DOCSTART- ends a sentence even without a blank line before it
        (("d",), ("B-Y",)),
    ]


def test_tag_column(tmp_path):
    path = _write(tmp_path, "Rome B-LOC NNP\nis O VBZ\n")
    assert read_conll(path, tag_column=1)[0].tags == ("B-LOC", "O")
    assert read_conll(path, tag_column=-2)[0].tags == ("B-LOC", "O")
    with pytest.raises(ValueError, match=r"line 1: 'NNP' is not a tag"):
        read_conll(path)
    with pytest.raises(ValueError, match="tag_column must not be 0"):
        read_conll(path, tag_column=0)
    with pytest.raises(ValueError, match=r"line 1: 3 column\(s\).*column 5"):
        read_conll(path, tag_column=5)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("A O\nB\n", 2, r"1 column\(s\) 'B'"),
        ("A O\n\nB O\nC PER\n", 4, "'PER' is not a tag"),
        ("A O\nB B-\n", 2, "'B-' is not a tag"),
        ("A O\nB E-PER\n", 2, "'E-PER' is not a tag"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, what):
    path = _write(tmp_path, text, "bad.conll")
    with pytest.raises(ValueError, match=rf"bad\.conll' line {line}: .*{what}"):
        read_conll(path)


def test_bad_arguments(tmp_path):
    path = _write(tmp_path, "A O\n")
    with pytest.raises(ValueError, match="scheme must be one of"):
        read_conll(path, scheme="BIOES")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        read_conll(3)
    with pytest.raises(TypeError, match="tag_column must be an int"):
        read_conll(path, tag_column=1.0)
    with pytest.raises(FileNotFoundError):
        read_conll(tmp_path / "missing.conll")


@pytest.mark.parametrize(
    ("iob1", "iob2"),
    [
        ([], []),
        (["O", "O"], ["O", "O"]),
        (["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]),
        (["O", "I-LOC", "I-LOC"], ["O", "B-LOC", "I-LOC"]),
        (["I-LOC", "B-LOC", "I-LOC"], ["B-LOC", "B-LOC", "I-LOC"]),  # two adjacent same-type entities
        (["I-LOC", "I-PER", "I-PER"], ["B-LOC", "B-PER", "I-PER"]),  # a type change starts an entity
        (["B-ORG", "I-ORG", "O", "B-ORG"], ["B-ORG", "I-ORG", "O", "B-ORG"]),  # IOB2 input is unchanged
        (["I-MISC", "O", "I-MISC"], ["B-MISC", "O", "B-MISC"]),
    ],
)
def test_iob1_to_iob2(iob1, iob2):
    assert iob1_to_iob2(iob1) == tuple(iob2)
    assert validate_tags(iob1_to_iob2(iob1)) == tuple(iob2)
    assert iob1_to_iob2(iob2) == tuple(iob2)  # idempotent


def test_validate_tags():
    assert validate_tags(["B-PER", "I-PER", "O", "B-LOC"]) == ("B-PER", "I-PER", "O", "B-LOC")
    with pytest.raises(ValueError, match=r"tags\[0\]: 'I-PER' after the sentence's start"):
        validate_tags(["I-PER"])
    with pytest.raises(ValueError, match=r"tags\[2\]: 'I-ORG' after 'I-PER'"):
        validate_tags(["B-PER", "I-PER", "I-ORG"])
    with pytest.raises(ValueError, match=r"tags\[1\]: 'X' is not a tag"):
        validate_tags(["O", "X"])
    with pytest.raises(ValueError, match=r"tags\[0\]: must be a str"):
        validate_tags([None])
    with pytest.raises(TypeError, match="single str"):
        validate_tags("O")
    with pytest.raises(TypeError, match="single str"):
        iob1_to_iob2("O")
    with pytest.raises(ValueError, match=r"tags\[1\]: 'S-PER' is not a tag"):
        iob1_to_iob2(["O", "S-PER"])


def test_ner_example_checks_itself():
    example = NERExample(["a", "b"], ["B-X", "I-X"])  # lists are stored as tuples
    assert example.tokens == ("a", "b") and example.tags == ("B-X", "I-X")
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        NERExample(("a", "b"), ("O",))
    with pytest.raises(ValueError, match="at least one token"):
        NERExample((), ())
    with pytest.raises(ValueError, match=r"tokens\[1\] must be a non-empty str"):
        NERExample(("a", ""), ("O", "O"))
    with pytest.raises(ValueError, match=r"'I-X' after 'O'"):
        NERExample(("a", "b"), ("O", "I-X"))
    with pytest.raises(TypeError, match="tokens must be a tuple of str"):
        NERExample("ab", ("O", "O"))
    with pytest.raises(AttributeError):
        example.tags = ("O", "O")  # frozen


def test_write_then_read_round_trip(tmp_path):
    examples = [
        NERExample(
            ("Acme", "Inc", ".", "hired", "Ann", "O'Neill", "."),
            ("B-ORG", "I-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"),
        ),
        NERExample(("Paris", "Berlin"), ("B-LOC", "B-LOC")),
        NERExample(("Ünïcode", "€", "300"), ("B-MISC", "B-MONEY", "I-MONEY")),
    ]
    path = tmp_path / "out.conll"
    write_conll(path, examples)
    assert read_conll(path, scheme="IOB2") == examples
    assert read_conll(path) == examples
    assert path.read_text(encoding="utf-8").startswith("Acme B-ORG\nInc I-ORG\n")
    write_conll(path, [])  # an empty data set is an empty file
    assert path.read_text() == "" and read_conll(path) == []


def test_write_is_atomic_and_refuses_unwritable_tokens(tmp_path):
    path = tmp_path / "keep.conll"
    write_conll(path, [NERExample(("old",), ("O",))])
    before = path.read_bytes()
    for token in ("two words", "tab\there", "-DOCSTART-"):
        with pytest.raises(ValueError, match=r"examples\[1\]\.tokens\[0\]"):
            write_conll(path, [NERExample(("fine",), ("O",)), NERExample((token,), ("O",))])
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.conll"]  # no temporary file left behind
    with pytest.raises(TypeError, match=r"examples\[0\] must be a NERExample"):
        write_conll(path, [("a", "O")])
    with pytest.raises(TypeError, match="single NERExample"):
        write_conll(path, NERExample(("a",), ("O",)))
    with pytest.raises(FileNotFoundError):
        write_conll(tmp_path / "no" / "such.conll", [])
