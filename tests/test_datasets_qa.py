"""seqcore.datasets.qa: generated extractive QA -- exact spans, every kind, disjoint wording, distractors."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from seqcore.datasets import QAExample, qa_examples
from seqcore.datasets import qa as Q
from seqcore.datasets.ner import Filler


def _pattern(template: str) -> re.Pattern[str]:
    """A question template as a regex: each {slot} any text."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z", re.S)


def test_reproducible_seed_dependent_ids_unique():
    for split in ("train", "test"):
        a = qa_examples(200, seed=3, split=split)
        assert len(a) == 200 and all(isinstance(e, QAExample) for e in a)
        assert qa_examples(200, seed=3, split=split) == a
        assert qa_examples(200, seed=4, split=split) != a
        assert [e.id for e in a] == [f"{split}-{k:06d}" for k in range(200)]
    assert qa_examples(0) == []
    assert qa_examples(7, 0) == qa_examples(7, seed=0, split="train")


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_answer_is_an_exact_span(split):
    examples = qa_examples(1500, seed=1, split=split)
    for e in examples:
        assert len(e.answers) == 1
        a = e.answers[0]
        assert e.context[a.start : a.start + len(a.text)] == a.text
        assert a.text == a.text.strip() and a.text
        assert e.question.endswith(("?", "."))
    # one to three questions a passage, next to each other
    runs = Counter(e.context for e in examples)
    assert max(runs.values()) <= 3 and len(runs) < len(examples)
    seen: list[str] = []
    for e in examples:
        if not seen or seen[-1] != e.context:
            assert e.context not in seen
            seen.append(e.context)


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_question_kind_is_asked_in_its_split_wording(split):
    pairs = Q._generate(1500, seed=2, split=split)
    kinds = Counter(kind for _, kind in pairs)
    assert set(kinds) == set(Q.QUESTION_KINDS)
    assert min(kinds.values()) >= 20
    wordings = Q.TRAIN_QUESTIONS if split == "train" else Q.TEST_QUESTIONS
    used: set[str] = set()
    for example, kind in pairs:
        matches = [t for t in wordings[kind] if _pattern(t).match(example.question)]
        assert matches, (kind, example.question)
        used.update(matches)
    assert used == {t for ts in wordings.values() for t in ts}  # every paraphrase occurs


def test_splits_share_no_wording_but_ask_the_same_kinds():
    assert set(Q.TRAIN_QUESTIONS) == set(Q.TEST_QUESTIONS) == set(Q.QUESTION_KINDS)
    train_q = [t for ts in Q.TRAIN_QUESTIONS.values() for t in ts]
    test_q = [t for ts in Q.TEST_QUESTIONS.values() for t in ts]
    assert set(train_q).isdisjoint(test_q)
    assert len(set(train_q)) == len(train_q) and len(set(test_q)) == len(test_q)
    assert all(len(Q.TRAIN_QUESTIONS[k]) >= 2 and len(Q.TEST_QUESTIONS[k]) >= 2 for k in Q.QUESTION_KINDS)
    assert set(Q.TRAIN_SENTENCES).isdisjoint(Q.TEST_SENTENCES)


def _frame(template: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(p) for p in re.split(r"\{\w+\}", template)), re.S)


@pytest.mark.parametrize("split", ["train", "test"])
def test_passages_are_written_with_their_splits_sentences_only(split):
    own = [_frame(t) for t in (Q.TRAIN_SENTENCES if split == "train" else Q.TEST_SENTENCES)]
    other = [_frame(t) for t in (Q.TEST_SENTENCES if split == "train" else Q.TRAIN_SENTENCES)]
    fill = Filler(("en_GB", "en_US"), "frames")
    for k in range(150):
        text, _, _, sentences = Q._passage(Q.SUBJECTS[k % 3], split, fill)
        assert " ".join(sentences) == text
        for sentence in sentences:
            assert any(f.fullmatch(sentence) for f in own), sentence
            assert not any(f.fullmatch(sentence) for f in other), sentence


@pytest.mark.parametrize("subject", Q.SUBJECTS)
def test_test_passages_carry_same_type_distractors(subject):
    fill = Filler(("en_GB", "en_US"), "distractors")
    for _ in range(30):
        text, facts, starts, sentences = Q._passage(subject, "test", fill)
        assert 3 <= len(sentences) <= 6
        for slot, start in starts.items():
            assert text[start : start + len(facts[slot])] == facts[slot]
        if subject == "person":  # two cities, two dates
            assert {"birth_city", "residence", "birth_date", "join_date"} <= set(starts)
            assert facts["birth_city"] != facts["residence"]
        elif subject == "company":  # two cities, two people, three years
            assert {"hq_city", "office_city", "founder", "ceo", "founded_year", "ipo_year"} <= set(starts)
            assert facts["office_year"] in text
        else:  # two cities, two years
            assert {"twin_city", "city_founded"} <= set(starts)
            assert facts["bridge_year"] in text and facts["bridge_year"] != facts["city_founded"]


def test_train_passages_have_three_to_six_sentences_with_and_without_distractors():
    fill = Filler(("en_US",), "train-sizes")
    sizes, with_residence = Counter(), Counter()
    for k in range(300):
        subject = Q.SUBJECTS[k % 3]
        text, facts, starts, sentences = Q._passage(subject, "train", fill)
        sizes[len(sentences)] += 1
        if subject == "person":
            with_residence["residence" in starts] += 1
    assert set(sizes) <= {3, 4, 5, 6} and len(sizes) >= 3
    assert with_residence[True] > 10 and with_residence[False] > 10


def test_offsets_are_recorded_not_searched(monkeypatch):
    # every city the same: birthplace, home and employer all "Springfield"; each answer must still point
    # at the sentence stating its own fact
    monkeypatch.setattr(Filler, "city", lambda self: "Springfield")
    monkeypatch.setattr(Q, "_distinct", lambda draw, *avoid: draw())
    pairs = Q._generate(400, seed=0, split="test")
    checked = 0
    for example, kind in pairs:
        if kind in ("birth_city", "residence", "hq_city", "office_city"):
            a = example.answers[0]
            assert a.text == "Springfield" and example.context.count("Springfield") >= 2
            sentence_end = example.context.find(".", a.start)
            sentence = example.context[example.context.rfind(". ", 0, a.start) + 1 : sentence_end]
            if kind == "residence":
                assert re.search(r"home|resides", sentence), sentence
            if kind == "office_city":
                assert re.search(r"office|expanded", sentence), sentence
            checked += 1
    assert checked > 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        qa_examples(-3)
    with pytest.raises(TypeError, match="seed must be an int"):
        qa_examples(3, seed=None)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        qa_examples(3, split="validation")
