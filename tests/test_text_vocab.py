"""CharVocab and read_items: the course's Dinosaur Island char_to_ix / ix_to_char, made strict."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqcore.datasets import dinos_path, dinosaur_names
from seqcore.text import CharVocab, read_items


@pytest.fixture(scope="module")
def dino_vocab() -> CharVocab:
    return CharVocab.from_text(dinosaur_names())


# -- the course's alphabet ------------------------------------------------------------------
def test_dino_vocab_matches_course_char_to_ix(dino_vocab):
    assert dino_vocab.size == len(dino_vocab) == 27
    assert dino_vocab.chars == ["\n", *"abcdefghijklmnopqrstuvwxyz"]
    assert dino_vocab.eos_id == dino_vocab.char_to_ix["\n"] == 0
    assert dino_vocab.char_to_ix["a"] == 1
    assert dino_vocab.char_to_ix["z"] == 26
    assert dino_vocab.ix_to_char == {i: c for i, c in enumerate(sorted(set("".join(dinosaur_names())) | {"\n"}))}
    assert dino_vocab.unk_id is None


def test_round_trip_on_dino_names(dino_vocab):
    for name in dinosaur_names():
        ids = dino_vocab.encode(name)
        assert ids.dtype == np.int64 and ids.shape == (len(name),)
        assert dino_vocab.decode(ids) == name
    text = "\n".join(dinosaur_names())
    assert dino_vocab.decode(dino_vocab.encode(text)) == text


def test_from_text_string_and_items_agree():
    assert CharVocab.from_text("abc\nba") == CharVocab.from_text(["abc", "ba"]) == CharVocab("cba")
    assert CharVocab(["b", "a", "a"]).chars == ["\n", "a", "b"]  # duplicates merged, eos added


def test_eos_only_alphabet_is_allowed():
    v = CharVocab([])
    assert v.chars == ["\n"] and v.size == 1 and v.decode(v.encode_item("")) == "\n"


def test_custom_eos():
    v = CharVocab("ab", eos=".")
    assert v.chars == [".", "a", "b"] and v.eos_id == 0
    assert "\n" not in v and "." in v and "a" in v


# -- encode / decode ------------------------------------------------------------------------
def test_unseen_character_error_names_char_position_and_alphabet(dino_vocab):
    with pytest.raises(ValueError, match=r"character 'X' at position 3 .*alphabet: '\\nabc.*unk="):
        dino_vocab.encode("rexXy")


def test_unseen_character_error_abbreviates_long_alphabet():
    v = CharVocab([chr(c) for c in range(0x100, 0x200)])
    with pytest.raises(ValueError, match=r"\.\.\. \(257 characters\)") as info:
        v.encode("a")
    assert len(str(info.value)) < 400


def test_unk_maps_unseen_characters():
    v = CharVocab.from_text(["abc"], unk="<unk>")
    assert v.size == 5 and v.unk_id == 4 and v.unk == "<unk>"
    assert v.encode("aZc").tolist() == [1, 4, 3]
    assert v.decode([1, 4, 3]) == "a<unk>c"
    assert v.ix_to_char[4] == "<unk>" and "<unk>" not in v.char_to_ix


def test_unk_must_not_collide_with_alphabet():
    with pytest.raises(ValueError, match="unk='a'"):
        CharVocab("abc", unk="a")
    with pytest.raises(ValueError, match="unk"):
        CharVocab("abc", unk="")


def test_encode_item_appends_eos(dino_vocab):
    ids = dino_vocab.encode_item("rex")
    assert ids.dtype == np.int64
    assert ids.tolist() == [18, 5, 24, 0]
    with pytest.raises(ValueError, match="end-of-item"):
        dino_vocab.encode_item("rex\n")


def test_decode_stop_at_eos(dino_vocab):
    ids = np.array([3, 1, 0, 2, 0], dtype=np.int32)
    assert dino_vocab.decode(ids) == "ca\nb\n"
    assert dino_vocab.decode(ids, stop_at_eos=True) == "ca"
    assert dino_vocab.decode([0, 1], stop_at_eos=True) == ""
    assert dino_vocab.decode([], stop_at_eos=True) == ""


def test_decode_bad_ids(dino_vocab):
    with pytest.raises(ValueError, match=r"id 27 at position 1 .*0\.\.26"):
        dino_vocab.decode([1, 27])
    with pytest.raises(ValueError, match=r"id -1 .*0\.\.26"):
        dino_vocab.decode(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        dino_vocab.decode([1.0])
    with pytest.raises(TypeError, match="integers"):
        dino_vocab.decode(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        dino_vocab.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="ids"):
        dino_vocab.decode("abc")


def test_bad_constructor_input():
    with pytest.raises(ValueError, match=r"chars .*'ab' at index 1"):
        CharVocab(["a", "ab"])
    with pytest.raises(TypeError, match=r"chars .*int at index 0"):
        CharVocab([1])
    with pytest.raises(TypeError, match="chars"):
        CharVocab(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eos"):
        CharVocab("ab", eos="<eos>")
    with pytest.raises(TypeError, match="text items"):
        CharVocab.from_text(["ab", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="encode: text"):
        CharVocab("ab").encode(b"ab")  # type: ignore[arg-type]


def test_eq_hash_repr():
    a, b = CharVocab("abc"), CharVocab("cab")
    assert a == b and hash(a) == hash(b)
    assert a != CharVocab("abc", unk="<unk>") and a != CharVocab("abc", eos=".") and a != CharVocab("ab")
    assert a != "abc"
    assert repr(a) == "CharVocab(size=4, chars='\\nabc', eos='\\n', unk=None)"


# -- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize("unk", [None, "<unk>", "?"])
def test_config_round_trip(dino_vocab, unk):
    v = CharVocab(dino_vocab.chars, unk=unk)
    config = json.loads(json.dumps(v.to_config()))
    restored = CharVocab.from_config(config)
    assert restored == v and restored.char_to_ix == v.char_to_ix and restored.ix_to_char == v.ix_to_char


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda c: c.pop("chars"), "missing key"),
        (lambda c: c.update(extra=1), "unexpected key"),
        (lambda c: c.update(chars="abc"), r"config\['chars'\]"),
        (lambda c: c.update(chars=["\n", "ab"]), r"config\['chars'\]"),
        (lambda c: c.update(chars=["\n", "b", "a"]), "sorted and unique"),
        (lambda c: c.update(chars=["\n", "a", "a"]), "sorted and unique"),
        (lambda c: c.update(chars=["a", "b"]), "does not contain eos"),
        (lambda c: c.update(eos=""), r"config\['eos'\]"),
        (lambda c: c.update(unk=3), r"config\['unk'\]"),
        (lambda c: c.update(size=99), r"config\['size'\] is 99"),
    ],
)
def test_damaged_config_is_rejected(damage, match):
    config = CharVocab("ab").to_config()
    damage(config)
    with pytest.raises(ValueError, match=match):
        CharVocab.from_config(config)
    with pytest.raises(TypeError, match="config must be a dict"):
        CharVocab.from_config(["not", "a", "dict"])  # type: ignore[arg-type]


# -- read_items -----------------------------------------------------------------------------
def test_read_items_crlf_blank_lines_and_trailing_space(tmp_path):
    p = tmp_path / "items.txt"
    p.write_bytes(b"alpha\r\n\r\n  beta  \r\n\n\t\ngamma")
    assert read_items(p) == ["alpha", "  beta", "gamma"]
    assert read_items(str(p)) == ["alpha", "  beta", "gamma"]


def test_read_items_keeps_case_and_unicode_and_drops_bom(tmp_path):
    p = tmp_path / "poem.txt"
    p.write_text("\ufeffShall I compare thee\nTo a summer’s day?\n", encoding="utf-8")
    assert read_items(p) == ["Shall I compare thee", "To a summer’s day?"]


def test_read_items_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        read_items(missing)


def test_read_items_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_items(tmp_path)


def test_read_items_binary_file(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(b"abc\n\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match=r"blob\.bin.*not UTF-8.*0xff at byte offset 4"):
        read_items(p)
    p.write_bytes(b"ab\x00cd")
    with pytest.raises(ValueError, match=r"NUL byte at byte offset 2"):
        read_items(p)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"  \r\n\t\n"])
def test_read_items_empty_file(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="has no non-empty lines"):
        read_items(p)


def test_read_items_bad_path_type():
    with pytest.raises(TypeError, match="path must be"):
        read_items(3)  # type: ignore[arg-type]


def test_read_items_on_dinos_builds_course_vocab():
    assert CharVocab.from_text(read_items(dinos_path())).size == 27


# -- properties -----------------------------------------------------------------------------
@given(text=st.text(max_size=200))
def test_round_trip_any_text(text):
    v = CharVocab.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == np.int64 and len(ids) == len(text)
    assert v.decode(ids) == text
    assert CharVocab.from_config(json.loads(json.dumps(v.to_config()))) == v


@given(items=st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=20), max_size=10))
def test_encode_item_then_decode_stop_at_eos(items):
    v = CharVocab.from_text(items, unk="<unk>")
    for item in items:
        assert v.decode(v.encode_item(item), stop_at_eos=True) == item
