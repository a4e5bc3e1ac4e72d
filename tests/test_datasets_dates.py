"""seqcore.datasets.dates: seeded generation, disjoint splits, formats, vocabularies, the week-year fix."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from seqcore.datasets import date_pairs, date_splits
from seqcore.datasets import dates as D

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_exported_and_does_not_import_the_engine():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(D))
    relative = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert relative == []  # datasets know nothing of nn or models
    assert D.date_pairs is date_pairs and D.date_splits is date_splits


def test_reproducible_with_a_seed_and_different_across_seeds():
    a, b = date_pairs(200, seed=7), date_pairs(200, seed=7)
    assert a == b
    assert date_pairs(200, seed=8) != a
    assert date_splits(100, 50, seed=3) == date_splits(100, 50, seed=3)
    assert date_pairs(0, seed=1) == []


def test_pairs_are_well_formed_and_labels_are_the_real_dates():
    pairs = date_pairs(2000, seed=0)
    lo, hi = D.DATE_RANGE
    for human, iso in pairs:
        assert ISO.match(iso)
        day = dt.date.fromisoformat(iso)  # a real calendar date
        assert lo <= day <= hi
        assert human == human.lower() and "," not in human  # the course's preprocessing
        assert 0 < len(human) <= D.TX
        assert all(c in D.HUMAN_VOCAB for c in human)  # the fixed vocabulary covers everything generated


def test_train_and_test_dates_never_overlap():
    train, test = date_splits(5000, 1000, seed=11)
    assert len(train) == 5000 and len(test) == 1000
    test_dates = {iso for _, iso in test}
    assert len(test_dates) == 1000  # distinct held-out dates
    assert test_dates.isdisjoint(iso for _, iso in train)


def test_formats_present():
    pairs = date_pairs(3000, seed=2, lowercase=False)
    texts = [h for h, _ in pairs]

    def share(pattern: str) -> float:
        return sum(bool(re.search(pattern, t)) for t in texts) / len(texts)

    assert share(r"^\d{1,2}/\d{1,2}/\d{2}$") > 0.01  # 'short' (en_US: M/d/yy)
    assert share(r"^\d{2}\.\d{2}\.\d{2}$") > 0.01  # dd.MM.yy
    assert share(r"^\d{1,2} \d{2} \d{2}$") > 0.01  # d MM yy
    assert share(r"^[A-Za-z]{3} \d{1,2} [A-Za-z]{3} \d{4}$") > 0.01  # "Tue 10 Jul 2007"
    assert share(r"^\d{1,2} [A-Za-z]{4,} \d{2}$") > 0.01  # "5 April 09"
    assert share(r"(?i)^(monday|tuesday|wednesday|thursday|friday|saturday|sunday), ") > 0.05  # 'full'
    assert share(r"(?i)\d(st|nd|rd|th) of ") > 0.01  # "21st of august 2016"
    assert share(r"(?i)^[a-z]+ \d{1,2}(st|nd|rd|th),? \d{4}$") > 0.01  # "march 3rd 2001"
    assert share(r"(?i)\b(1|2|3|21|22|23|31)th\b") > 0.0  # careless ordinals ("21th")
    assert share(r"^[A-Z0-9 ,./]+$") > 0.05 and any(re.search("[A-Z]", t) for t in texts)  # upper-case variants
    assert share(r"^[a-z0-9 ,./]+$") > 0.05  # lower-case variants
    months = {t.split()[1] for t in texts if re.match(r"^\d{1,2} [A-Za-z]+ \d{4}$", t)}
    assert {"december", "dec"} <= {m.lower() for m in months}  # full and abbreviated month names
    # the lower-cased default is the same draw, normalised
    assert [D.normalize_human(t) for t in texts] == [h for h, _ in date_pairs(3000, seed=2)]


def test_vocabularies_and_lengths():
    assert D.TX == 30 and D.TY == 10
    assert len(D.HUMAN_VOCAB) == 37 and D.HUMAN_VOCAB[-2:] == ("<unk>", "<pad>")
    assert D.MACHINE_VOCAB == tuple("-0123456789")
    assert len(set(D.HUMAN_VOCAB)) == 37
    ids = D.encode_human(["Saturday, May 9 2018", "21th of August 2016"])
    assert ids.shape == (2, 30) and ids.dtype == np.int64
    text = "saturday may 9 2018"
    assert [D.HUMAN_VOCAB[i] for i in ids[0, : len(text)]] == list(text)
    assert (ids[0, len(text) :] == D.HUMAN_VOCAB.index("<pad>")).all()
    assert D.encode_human([]).shape == (0, 30)
    y = D.encode_machine(["2018-05-09"])
    assert y.shape == (1, 10) and D.decode_machine(y) == ["2018-05-09"]
    oh = D.one_hot(ids, 37)
    assert oh.shape == (2, 30, 37) and (oh.sum(-1) == 1).all()


def test_unknown_characters_too_long_and_white_space():
    unk, pad = D.HUMAN_VOCAB.index("<unk>"), D.HUMAN_VOCAB.index("<pad>")
    ids = D.encode_human(["9 mai 2018!", "x" * 50, "  May   9,  2018  "])
    assert ids[0, 2] == D.HUMAN_VOCAB.index("m") and ids[0, 10] == unk  # '!' is unknown
    assert (ids[1] == D.HUMAN_VOCAB.index("<unk>")).all()  # 'x' is not in the vocabulary; cut to Tx, no crash
    assert D.normalize_human("  May   9,  2018  ") == "may 9 2018"
    assert (ids[2, len("may 9 2018") :] == pad).all()
    long = D.encode_human(["wednesday the 21st of september 2016"])  # 36 characters: the end is cut
    assert long.shape == (1, 30)


def test_week_year_fix_late_december_shows_its_own_year():
    late = dt.date(2018, 12, 31)  # ISO week 1 of 2019: babel's 'YYY' would print 2019
    for form in D.FORMATS + D.ORDINAL_FORMATS:
        text = D.render_date(late, form)
        assert "2019" not in text and "19" not in text.split()[-1][-2:], (form, text)
        assert "2018" in text or text.endswith("18"), (form, text)
    early = dt.date(2021, 1, 1)  # ISO week 53 of 2020
    assert D.render_date(early, "d MMMM y") == "1 January 2021"
    assert D.render_date(early, "dd.MM.yy") == "01.01.21"
    # every generated late-December / early-January text shows its label's year
    for human, iso in date_pairs(4000, seed=5):
        if iso[5:7] in ("12", "01") and (iso[8:] >= "25" or iso[8:] <= "07"):
            year = iso[:4]
            assert year in human or re.search(rf"(^|[ ./]){year[2:]}$", human), (human, iso)


def test_ordinals():
    assert [D.ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]  # fmt: skip
    assert D.ordinal(21, careless=True) == "21th"
    assert D.render_date(dt.date(2001, 3, 3), "MMMM {o} y") == "March 3rd 2001"
    assert D.render_date(dt.date(2016, 8, 21), "{o} of MMMM y", careless=True) == "21th of August 2016"


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: date_pairs(-1), ValueError, "n must be"),
        (lambda: date_pairs(1.5), ValueError, "n must be"),
        (lambda: date_pairs(3, seed="x"), TypeError, "seed must be"),
        (lambda: date_splits(10, 10**6), ValueError, "n_test must be below"),
        (lambda: D.encode_human("may 9 2018"), TypeError, "single str"),
        (lambda: D.encode_human([3]), TypeError, r"strings\[0\] must be a str"),
        (lambda: D.encode_human(["a"], tx=0), ValueError, "tx must be"),
        (lambda: D.encode_machine(["2018/05/09"]), ValueError, r"isos\[0\] must be an ISO date"),
        (lambda: D.render_date("2018-05-09", "long"), TypeError, "datetime.date"),
        (lambda: D.render_date(dt.date(2018, 5, 9), "YYYY"), ValueError, "form must be"),
        (lambda: D.one_hot(np.array([0, 40]), 37), ValueError, "ids must lie"),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
