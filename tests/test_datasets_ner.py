"""seqcore.datasets.ner: generated NER sentences -- reproducible, valid IOB2, every type, disjoint splits."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from seqcore.datasets import NER_LABELS, NERExample, ner_sentences, read_conll, validate_tags, write_conll
from seqcore.datasets import ner as N


def _entities(examples: list[NERExample]) -> list[tuple[str, str]]:
    return [(kind, " ".join(e.tokens[a:b])) for e in examples for kind, a, b in e.entities()]


def test_labels():
    assert NER_LABELS == (
        "O",
        "B-PER",
        "I-PER",
        "B-ORG",
        "I-ORG",
        "B-LOC",
        "I-LOC",
        "B-DATE",
        "I-DATE",
        "B-MONEY",
        "I-MONEY",
    )


def test_reproducible_and_seed_dependent():
    for split in ("train", "test"):
        a = ner_sentences(300, seed=4, split=split)
        assert len(a) == 300 and all(isinstance(e, NERExample) for e in a)
        assert ner_sentences(300, seed=4, split=split) == a
        assert ner_sentences(120, seed=4, split=split) == a[:120]  # a longer run extends a shorter one
        assert ner_sentences(300, seed=5, split=split) != a
    assert ner_sentences(0) == []
    assert ner_sentences(50) == ner_sentences(50, 0, split="train")


def test_templates_disjoint_between_splits_and_enough_of_them():
    assert len(N.TRAIN_TEMPLATES) >= 40 and len(N.TEST_TEMPLATES) >= 20
    assert len(set(N.TRAIN_TEMPLATES)) == len(N.TRAIN_TEMPLATES)
    assert len(set(N.TEST_TEMPLATES)) == len(N.TEST_TEMPLATES)
    assert set(N.TRAIN_TEMPLATES).isdisjoint(N.TEST_TEMPLATES)
    # not merely different strings: no test sentence has a training sentence's wording around its slots
    frames = {re.sub(r"\{[A-Z]+\}", "_", t) for t in N.TRAIN_TEMPLATES}
    assert frames.isdisjoint(re.sub(r"\{[A-Z]+\}", "_", t) for t in N.TEST_TEMPLATES)
    for template in N.TRAIN_TEMPLATES + N.TEST_TEMPLATES:
        slots = re.findall(r"\{([A-Z]+)\}", template)
        assert set(slots) <= set(N.SLOT_TYPES), template
        assert 1 <= sum(N.SLOT_TYPES[s] is not None for s in slots) <= 4, template


def test_every_sentence_is_valid_iob2_over_the_label_set():
    for split in ("train", "test"):
        for example in ner_sentences(2000, seed=1, split=split):
            assert validate_tags(example.tags) == example.tags
            assert set(example.tags) <= set(NER_LABELS)
            assert 1 <= len(example.entities()) <= 4
            assert all(t and not any(c.isspace() for c in t) for t in example.tokens)


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_entity_type_within_200_sentences(split):
    kinds = Counter(kind for kind, _ in _entities(ner_sentences(200, seed=0, split=split)))
    assert set(kinds) == {"PER", "ORG", "LOC", "DATE", "MONEY"}
    assert min(kinds.values()) >= 10


def test_values_look_like_their_types():
    examples = ner_sentences(3000, seed=2)
    values: dict[str, set[str]] = {}
    for kind, text in _entities(examples):
        values.setdefault(kind, set()).add(text)
    per = values["PER"]
    assert any(len(v.split()) == 1 for v in per)  # surnames alone
    assert any(len(v.split()) == 2 for v in per) and any(len(v.split()) == 3 for v in per)
    assert any(re.fullmatch(r"\w+ [A-Z] \. [\w'-]+", v) for v in per)  # "John A . Reyes"
    org = values["ORG"]
    assert any(v.endswith(" Inc .") for v in org) and any(v.endswith(" LLC") for v in org)
    assert any(" , " in v and " and " in v for v in org)  # "Reid , Shaw and Moss"
    date = values["DATE"]
    assert any(re.fullmatch(r"[A-Z][a-z]+ \d{1,2} , \d{4}", v) for v in date)  # March 3 , 2021
    assert any(re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", v) for v in date)  # 3 March 2021
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in date)  # 2021-03-03
    assert any(re.fullmatch(r"\d{4}", v) for v in date)  # a year alone
    money = values["MONEY"]
    assert any(re.fullmatch(r"\$ \d{1,3}(,\d{3})*", v) for v in money)  # $ 1,250
    assert any(re.fullmatch(r"\d+(\.\d)? million dollars", v) for v in money)
    assert any(re.fullmatch(r"EUR \S+( million| billion)?", v) for v in money)
    # numbers that are not money are tagged O
    plain = [t for e in examples for t, tag in zip(e.tokens, e.tags) if tag == "O" and re.fullmatch(r"[\d.,]+", t)]
    assert len(plain) > 100


def test_tokens_are_split_the_conll_way():
    assert N.tokenize("Acme Inc. paid $1,250 (about 4.5%) in the U.S., \"Smith's\" O'Neill-Ross said 2021-03-03.") == [
        "Acme",
        "Inc",
        ".",
        "paid",
        "$",
        "1,250",
        "(",
        "about",
        "4.5",
        "%",
        ")",
        "in",
        "the",
        "U.S.",
        ",",
        '"',
        "Smith",
        "'s",
        '"',
        "O'Neill-Ross",
        "said",
        "2021-03-03",
        ".",
    ]
    # a company name ending a sentence ends with one point, the entity's
    texts = [" ".join(e.tokens) for e in ner_sentences(3000, seed=3)]
    assert not any(t.endswith(". .") for t in texts)
    assert any(t.endswith(" .") for t in texts)


def test_splits_use_different_fillers():
    train = {text for kind, text in _entities(ner_sentences(2000, seed=0)) if kind == "LOC"}
    test = {text for kind, text in _entities(ner_sentences(2000, seed=0, split="test")) if kind == "LOC"}
    british_counties = {"Fife", "Kent", "Devon", "Essex", "Norfolk", "Suffolk", "Surrey", "Cornwall", "Dorset"}
    assert test & british_counties and not train & british_counties  # en_GB counties only in test
    assert len(train & test) < len(test) // 4  # mostly different values


def test_round_trip_through_conll(tmp_path):
    examples = ner_sentences(500, seed=9, split="test")
    path = tmp_path / "ner.conll"
    write_conll(path, examples)
    assert read_conll(path, scheme="IOB2") == examples


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        ner_sentences(-1)
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        ner_sentences(2.0)
    with pytest.raises(TypeError, match="seed must be an int"):
        ner_sentences(2, seed="0")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        ner_sentences(2, split="dev")
