"""The bleu_stats kernel: cpp and numba against the reference (any bytes, any grouping of references), the
reference against sacrebleu's per-segment statistics, accepted input forms, large and degenerate rows,
threads, and the argument checks."""

from __future__ import annotations

import random

import numpy as np
import pytest

import seqcore
from bleu_helpers import make_corpus
from helpers import ALL_BACKENDS, FAST_BACKENDS, Case, check_against_reference
from seqcore import kernels as K
from seqcore import use_backend

sacrebleu = pytest.importorskip("sacrebleu")


def pack(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    data = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return np.frombuffer(b"".join(data), np.uint8).copy(), offsets


def corpus_args(hyps: list[str], refs: list[list[str | None]]) -> dict:
    """The kernel's arguments for a corpus: references of hypothesis s in stream order, None dropped."""
    flat, counts = [], []
    for s in range(len(hyps)):
        mine = [stream[s] for stream in refs if stream[s] is not None]
        flat += mine
        counts.append(len(mine))
    hyp_text, hyp_offsets = pack(hyps)
    ref_text, ref_offsets = pack(flat)
    groups = np.zeros(len(hyps) + 1, np.int64)
    np.cumsum(counts, out=groups[1:])
    return dict(hyp_text=hyp_text, hyp_offsets=hyp_offsets, ref_text=ref_text, ref_offsets=ref_offsets,
                ref_groups=groups)  # fmt: skip


def random_bytes_args(seed: int, S: int, M: int) -> dict:
    """Random bytes over an alphabet dense in what the tokenizer treats specially, UTF-8 or not: whitespace
    sequences (and pieces of them), points, digits, hyphens, entities' characters, stray lead bytes."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(
        b" \t\n\r.,-<>&;'\"()0123456789abcqskiped"
        b"\xc2\x85\xa0\xe2\x80\x8a\xa8\xaf\xe1\x9a\xe3\x81\x9f\xf0\x9f\xed\xa0\x1c",
        np.uint8,
    )

    def texts(n: int) -> tuple[np.ndarray, np.ndarray]:
        lengths = rng.integers(0, 40, n)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return rng.choice(alphabet, int(offsets[-1])).astype(np.uint8), offsets

    hyp_text, hyp_offsets = texts(S)
    ref_text, ref_offsets = texts(M)
    cuts = np.sort(rng.integers(0, M + 1, max(S - 1, 0)))
    groups = np.concatenate([[0], cuts, [M]]).astype(np.int64)
    return dict(hyp_text=hyp_text, hyp_offsets=hyp_offsets, ref_text=ref_text, ref_offsets=ref_offsets,
                ref_groups=groups)  # fmt: skip


def stats_case(label: str, make_args, max_order: int, tokenize: str) -> Case:
    def make_inputs():
        return {k: v.copy() for k, v in make_args().items()}

    def forward(**args):
        return {"stats": K.bleu_stats(**args, max_order=max_order, tokenize=tokenize)}, None

    return Case(f"bleu_stats {label} max_order={max_order} tokenize={tokenize}", make_inputs, forward)


# ---------------------------------------------------------------- the backends agree


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("tokenize", ["13a", "none"])
@pytest.mark.parametrize("max_order", [1, 4, 7])
@pytest.mark.parametrize("seed", range(3))
def test_matches_reference_on_text(backend, seed, max_order, tokenize):
    hyps, refs = make_corpus(seed=seed, S=40, R=3, none_rate=0.3)
    case = stats_case(f"text seed={seed}", lambda: corpus_args(hyps, refs), max_order, tokenize)
    check_against_reference(case, backend)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("tokenize", ["13a", "none"])
@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_on_any_bytes(backend, seed, tokenize):
    """Invalid UTF-8, cut whitespace sequences, references grouped unevenly (some hypotheses have none)."""
    case = stats_case(f"bytes seed={seed}", lambda: random_bytes_args(seed, S=30, M=45), 1 + seed % 5, tokenize)
    check_against_reference(case, backend)


# ---------------------------------------------------------------- the reference is sacrebleu's statistics


@pytest.mark.parametrize("tokenize", ["13a", "none"])
@pytest.mark.parametrize("max_order", [2, 4])
def test_rows_are_sacrebleus_segment_statistics(tokenize, max_order):
    hyps, refs = make_corpus(seed=4, S=40, R=2, none_rate=0.3)
    with use_backend("reference"):
        stats = K.bleu_stats(**corpus_args(hyps, refs), max_order=max_order, tokenize=tokenize)
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize, max_ngram_order=max_order)
    for s, hyp in enumerate(hyps):
        mine = [[stream[s]] for stream in refs if stream[s] is not None]
        score = metric.corpus_score([hyp], mine)
        want = [score.sys_len, score.ref_len, *score.counts, *score.totals]
        assert stats[s].tolist() == want, f"segment {s}: {hyp!r} vs {mine!r}"


def test_tokenization_examples():
    """Token counts of lines whose 13a tokenization is known (sacrebleu's Tokenizer13a), each line scored
    against itself (token identity is checked against sacrebleu's statistics above)."""
    lines = {
        "Hello, world!": "Hello , world !",
        "It costs $3.14 (or 1,000.5)": "It costs $ 3.14 ( or 1,000.5 )",
        "e-mail 10-20 x-1": "e-mail 10 - 20 x-1",
        "&amp;lt;b&amp;gt; &quot;x&quot;": '< b > " x "',
        "abc<skipped>def -\nghi": "abcdef ghi",
        "U.S. e.g.,": "U . S . e . g . ,",
        "trailing-\n": "trailing-",
        "a\u00a0b\u3000c\x85d": "a b c d",
        "a.,5 x,.5 a..": "a . ,5 x , .5 a . .",  # a match never starts inside the previous one
        ".5 a. ,b -1 2-": ". 5 a . , b -1 2 -",
    }
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tok = Tokenizer13a()
    for line, want in lines.items():
        assert tok(line.rstrip()) == want, line  # the table itself is sacrebleu's view
        for backend in ALL_BACKENDS:
            with use_backend(backend):
                args = corpus_args([line], [[line]])
                row = K.bleu_stats(**args, max_order=4).tolist()[0]
            n = len(want.split())
            assert row[0] == row[1] == n and row[2:6] == row[6:10] == [max(0, n - k) for k in range(4)], (backend, line)


# ---------------------------------------------------------------- rows on every backend


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_degenerate_rows(backend):
    with use_backend(backend):
        empty = K.bleu_stats(b"", [0], b"", [0], [0])
        assert empty.shape == (0, 10) and empty.dtype == np.int64
        # no references: ref_len 0, no matches; an empty hypothesis: nothing at all
        stats = K.bleu_stats(b"a b c", [0, 5, 5], b"a b", [0, 3], [0, 0, 1], max_order=2)
        assert stats.tolist() == [[3, 0, 0, 0, 3, 2], [0, 2, 0, 0, 0, 0]]
        # ties between reference lengths go to the shorter; counts clip at the largest reference count
        stats = K.bleu_stats(b"a a a b", [0, 7], b"a b c" + b"a a d e f", [0, 5, 14], [0, 2], max_order=2)
        assert stats.tolist() == [[4, 3, 3, 2, 4, 3]]
        # a huge order on short text: only the orders that exist have totals
        stats = K.bleu_stats(b"x y", [0, 3], b"x y", [0, 3], [0, 1], max_order=1024)
        assert stats.shape == (1, 2050) and stats[0, :4].tolist() == [2, 2, 2, 1]
        assert stats[0, 1026:1028].tolist() == [2, 1] and not stats[0, 4:1026].any() and not stats[0, 1028:].any()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_large_rows(backend):
    """One long segment with many distinct tokens and one with many repeats: the hash tables grow and the
    counts stay exact."""
    rng = random.Random(0)
    words = [f"w{k}" for k in range(3000)]
    hyp = " ".join(rng.choice(words) for _ in range(6000))
    ref = " ".join(rng.choice(words) for _ in range(5000))
    repeated = "the " * 3000
    hyps, refs = [hyp, repeated, hyp], [[ref, "the the x " * 500, hyp]]
    with use_backend("reference"):
        want = K.bleu_stats(**corpus_args(hyps, refs))
    with use_backend(backend):
        got = K.bleu_stats(**corpus_args(hyps, refs))
    np.testing.assert_array_equal(got, want)
    assert got[2, 2:6].tolist() == got[2, 6:10].tolist()  # the segment against itself matches everything
    assert got[1, 2:6].tolist() == [1000, 500, 0, 0]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_input_forms(backend):
    """bytes, bytearray, memoryview, integer arrays of byte values, strided views and offsets of any integer
    dtype all mean the same."""
    args = corpus_args(*make_corpus(seed=1, S=12, R=2))
    with use_backend(backend):
        want = K.bleu_stats(**args)
        forms = [
            dict(args, hyp_text=args["hyp_text"].tobytes(), ref_text=bytearray(args["ref_text"].tobytes())),
            dict(args, hyp_text=memoryview(args["hyp_text"].tobytes())),
            dict(args, hyp_text=args["hyp_text"].astype(np.int64), ref_text=args["ref_text"].tolist()),
            dict(args, hyp_text=np.repeat(args["hyp_text"], 2)[::2]),
            dict(args, hyp_offsets=args["hyp_offsets"].astype(np.int32), ref_groups=args["ref_groups"].tolist()),
            dict(args, ref_offsets=args["ref_offsets"].astype(">i8")),
        ]
        for form in forms:
            np.testing.assert_array_equal(K.bleu_stats(**form), want)


def test_threads_give_the_same_rows():
    hyps, refs = make_corpus(seed=8, S=4000, R=2)
    args = corpus_args(hyps, refs)
    threads = seqcore.get_num_threads()
    try:
        with use_backend("cpp"):
            seqcore.set_num_threads(1)
            one = K.bleu_stats(**args)
            seqcore.set_num_threads(2)
            two = K.bleu_stats(**args)
    finally:
        seqcore.set_num_threads(threads)
    np.testing.assert_array_equal(one, two)
    with use_backend("reference"):
        np.testing.assert_array_equal(one[:300], K.bleu_stats(**corpus_args(hyps[:300], [r[:300] for r in refs])))


# ---------------------------------------------------------------- bad input


GOOD = dict(hyp_text=b"a b", hyp_offsets=[0, 3], ref_text=b"a c", ref_offsets=[0, 3], ref_groups=[0, 1])


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (dict(hyp_text="a b"), TypeError, r"hyp_text must be UTF-8 bytes or a uint8 array \(encode the str first\)"),
        (dict(hyp_text=None), TypeError, "hyp_text must be UTF-8 bytes or a uint8 array, got None"),
        (dict(ref_text=np.zeros(3)), TypeError, "ref_text must be UTF-8 bytes or a uint8 array, got dtype float64"),
        (dict(hyp_text=np.zeros((1, 3), np.uint8)), ValueError, "hyp_text must have 1 dimension"),
        (dict(hyp_text=[97, 256, 98]), ValueError, r"hyp_text must hold byte values in \[0, 255\], got 256"),
        (dict(hyp_offsets=[0, 4]), ValueError, r"hyp_offsets must rise from 0 to len\(hyp_text\) = 3, got 0 \.\. 4"),
        (dict(hyp_offsets=[0, 2, 1, 3]), ValueError, r"hyp_offsets must rise .* \(decreasing\)"),
        (dict(hyp_offsets=np.zeros(0, np.int64)), ValueError, r"hyp_offsets must have shape \(K\+1,\)"),
        (dict(hyp_offsets=[0.0, 3.0]), TypeError, "hyp_offsets must be an integer array, got dtype float64"),
        (dict(ref_offsets=[1, 3]), ValueError, r"ref_offsets must rise from 0 to len\(ref_text\) = 3, got 1 \.\. 3"),
        (dict(ref_groups=[0, 2]), ValueError, "ref_groups must rise from 0 to the number of references M = 1"),
        (dict(ref_groups=[0, 0, 1]), ValueError, r"ref_groups must have shape \(S\+1,\) = \(2,\), got \(3,\)"),
        (dict(max_order=0), ValueError, r"max_order must lie in \[1, 1024\], got 0"),
        (dict(max_order=1025), ValueError, r"max_order must lie in \[1, 1024\], got 1025"),
        (dict(max_order=True), TypeError, "max_order must be an int, got bool"),
        (dict(tokenize="intl"), ValueError, "tokenize must be '13a' or 'none', got 'intl'"),
        (dict(tokenize=None), TypeError, "tokenize must be a str, '13a' or 'none', got NoneType"),
    ],
)
def test_bad_arguments(backend, change, error, message):
    with use_backend(backend), pytest.raises(error, match=message):
        K.bleu_stats(**{**GOOD, **change})


def test_binding_checks_arguments_itself():
    """Code calling seqcore._core directly gets the same kind of errors, never a crash."""
    from seqcore import _core

    text, off = np.frombuffer(b"a b", np.uint8), np.array([0, 3], np.int64)
    ok = (text, off, text, off, np.array([0, 1], np.int64), 4, "13a")
    assert _core.bleu_stats(*ok).tolist() == [[2, 2, 2, 1, 0, 0, 2, 1, 0, 0]]
    bad = [
        ((text.astype(np.int64),) + ok[1:], TypeError, "hyp_text must have dtype uint8"),
        ((text,) + (np.array([0, 4], np.int64),) + ok[2:], ValueError, "hyp_offsets must rise from 0 to len"),
        (ok[:1] + (off.astype(np.int32),) + ok[2:], TypeError, "hyp_offsets must have dtype int64"),
        (ok[:4] + (np.array([0, 1, 1], np.int64),) + ok[5:], ValueError, r"ref_groups must have shape \(S\+1,\)"),
        (ok[:5] + (0, "13a"), ValueError, r"max_order must lie in \[1, 1024\]"),
        (ok[:6] + ("zh",), ValueError, "tokenize must be '13a' or 'none', got 'zh'"),
        (ok[:6] + (b"\xff\x00",), ValueError, r"got '\\xff\\x00'"),  # bytes shown escaped, never undecodable
        ((np.repeat(text, 2)[::2],) + ok[1:], ValueError, "hyp_text must be C-contiguous and aligned"),
        ((text[:, None],) + ok[1:], ValueError, "hyp_text must have 1 dimensions"),
    ]
    for args, error, message in bad:
        with pytest.raises(error, match=message):
            _core.bleu_stats(*args)
