"""BertTokenizer: padded batches (mask, token types, offsets), truncation, question/context pairs cut into
overlapping windows (stride, ``sample``, the whole question in every window), pre-split words (word ids), saving,
and errors.  A tiny WordPiece tokenizer.json written with the ``tokenizers`` package keeps it fast; a few checks
use the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from pretrained_helpers import TINY_VOCAB, write_tiny_tokenizer  # noqa: E402
from seqcore.pretrained import Batch, BertTokenizer, model_dir  # noqa: E402

QUESTION = "who lives in paris?"
CONTEXT = (
    "john smith lives in paris and mary works at acme corp in berlin . "
    "the city of london is new . mary was born in new york and john works for acme ."
)


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> BertTokenizer:
    folder = tmp_path_factory.mktemp("tok")
    write_tiny_tokenizer(folder)
    return BertTokenizer.from_dir(folder)


def _real_ids(tok: BertTokenizer, batch: Batch, r: int) -> list[int]:
    return [int(i) for i, m in zip(batch.input_ids[r], batch.attention_mask[r]) if m]


# ---------------------------------------------------------------- single texts


def test_padding_mask_types_and_offsets(tok):
    texts = ["John Smith lives in Paris.", "Mary", "", "the city of London, naïve café"]
    b = tok(texts)
    assert isinstance(b, Batch) and len(b) == 4
    n, L = b.input_ids.shape
    assert b.input_ids.dtype == b.attention_mask.dtype == b.token_type_ids.dtype == np.int64
    lengths = b.attention_mask.sum(axis=1)
    assert L == lengths.max() and list(lengths) == [8, 3, 2, 9]
    assert (b.token_type_ids == 0).all()
    for r, text in enumerate(texts):
        ids = _real_ids(tok, b, r)
        assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
        assert (b.input_ids[r, lengths[r] :] == tok.pad_id).all()
        assert b.word_ids[r][0] is None and b.word_ids[r][lengths[r] - 1] is None
        assert all(w is None for w in b.word_ids[r][lengths[r] :])
        assert all(s is None for s in b.sequence_ids[r][lengths[r] :])
        assert all(b.sequence_ids[r][t] == 0 for t in range(1, lengths[r] - 1))
        for t in range(L):
            start, end = b.offsets[r][t]
            if t == 0 or t >= lengths[r] - 1:
                assert (start, end) == (0, 0)  # specials and padding
                continue
            piece = tok.convert_ids_to_tokens([b.input_ids[r, t]])[0].removeprefix("##")
            if piece != "[UNK]":  # lower-cased and accent-stripped, the span is the piece's own text
                assert tok.tokenize(text[start:end])[0].removeprefix("##") == piece
    assert b.sample.tolist() == [0, 1, 2, 3]


def test_offsets_slice_accented_text(tok):
    text = "Naïve Café"
    b = tok([text])
    spans = [text[s:e] for s, e in b.offsets[0][1:-1]]
    assert spans == ["Naïve", "Café"]
    assert tok.tokenize(text) == ["naive", "cafe"]


def test_truncation_and_pad_to(tok):
    long = " ".join(["paris"] * 40)
    b = tok([long, "mary"], max_length=10)
    assert b.input_ids.shape == (2, 10)
    assert b.input_ids[0, -1] == tok.sep_id and b.attention_mask[0].all()
    padded = tok(["mary"], pad_to=12)
    assert padded.input_ids.shape == (1, 12) and padded.attention_mask.sum() == 3
    assert len(padded.offsets[0]) == len(padded.word_ids[0]) == 12
    with pytest.raises(ValueError, match="pad_to: 2 is shorter than the longest encoded row"):
        tok(["mary smith"], pad_to=2)


def test_truncation_does_not_stick(tok):
    long = " ".join(["paris"] * 40)
    tok([long], max_length=5)
    assert tok([long]).input_ids.shape == (1, 42)
    with pytest.raises(ValueError):
        tok([QUESTION], [CONTEXT], max_length=6)
    assert tok([long]).input_ids.shape == (1, 42)


def test_tokenize_decode_and_ids(tok):
    assert tok.vocab_size == len(TINY_VOCAB)
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id) == (0, 1, 2, 3)
    assert tok.tokenize("Playing unknown") == ["play", "##ing", "un", "##known"]
    b = tok(["Playing unknown"])
    assert tok.convert_ids_to_tokens(b.input_ids[0]) == ["[CLS]", "play", "##ing", "un", "##known", "[SEP]"]
    assert tok.decode(b.input_ids[0]) == "playing unknown"
    assert tok.decode(b.input_ids[0], skip_special_tokens=False).startswith("[CLS]")
    assert tok.convert_ids_to_tokens([10_000]) == ["[UNK]"]


def test_empty_batch(tok):
    b = tok([])
    assert b.input_ids.shape == (0, 0) and len(b) == 0 and b.sample.shape == (0,)


# ---------------------------------------------------------------- pairs and windows


def test_pairs_types_and_sequence_ids(tok):
    b = tok(["who lives in paris?", "where?"], ["john lives in paris.", "in berlin"])
    assert b.sample.tolist() == [0, 1]
    for r in range(2):
        n = int(b.attention_mask[r].sum())
        seq = b.sequence_ids[r][:n]
        sep = [t for t in range(n) if b.input_ids[r, t] == tok.sep_id]
        assert len(sep) == 2 and sep[1] == n - 1
        assert all(s == 0 for s in seq[1 : sep[0]]) and all(s == 1 for s in seq[sep[0] + 1 : n - 1])
        assert (b.token_type_ids[r, : sep[0] + 1] == 0).all() and (b.token_type_ids[r, sep[0] + 1 : n] == 1).all()
        assert (b.token_type_ids[r, n:] == 0).all()


@pytest.mark.parametrize("max_length, stride", [(16, 3), (20, 0), (14, 4), (32, 10)])
def test_windows_overlap_by_stride_and_keep_the_question(tok, max_length, stride):
    questions = [QUESTION, "where?", "who works at acme corp?"]
    contexts = [CONTEXT, "in berlin", CONTEXT[:60]]
    b = tok(questions, contexts, max_length=max_length, stride=stride)
    assert b.input_ids.shape[1] <= max_length and (b.attention_mask.sum(axis=1) <= max_length).all()
    assert b.sample.tolist() == sorted(b.sample.tolist())  # windows of one input are adjacent
    for i, (q, c) in enumerate(zip(questions, contexts)):
        rows = np.flatnonzero(b.sample == i)
        assert len(rows) >= 1
        want_question, want_context = tok.tokenize(q), tok.tokenize(c)
        spans = []
        for r in rows:
            n = int(b.attention_mask[r].sum())
            seq = b.sequence_ids[r][:n]
            question = [b.input_ids[r, t] for t in range(n) if seq[t] == 0]
            assert tok.convert_ids_to_tokens(question) == want_question  # the whole question, every window
            ctx = [t for t in range(n) if seq[t] == 1]
            spans.append([b.offsets[r][t] for t in ctx])
        # consecutive windows share exactly `stride` context tokens, and together they cover the whole context
        for a, nxt in zip(spans, spans[1:]):
            assert len([o for o in a if o in nxt]) == stride
            if stride:
                assert a[-stride:] == nxt[:stride]
            else:
                assert a[-1][1] <= nxt[0][0]
        covered = sorted({o for window in spans for o in window})
        assert len(covered) == len(want_context)
        assert [tok.tokenize(c[s:e])[0].removeprefix("##") for s, e in covered] == [
            p.removeprefix("##") for p in want_context
        ]


def test_windows_count(tok):
    one = tok([QUESTION], [CONTEXT], max_length=512)
    many = tok([QUESTION], [CONTEXT], max_length=16, stride=2)
    assert len(one) == 1 and len(many) > 3 and (many.sample == 0).all()


# ---------------------------------------------------------------- pre-split words


def test_split_words_word_ids(tok):
    words = [["John", "Smith's", "playing"], ["Paris"], []]
    b = tok(words, is_split_into_words=True)
    assert b.word_ids[0][:8] == [None, 0, 1, 1, 1, 2, 2, None]
    assert tok.convert_ids_to_tokens(b.input_ids[0][:8]) == [
        "[CLS]", "john", "smith", "'", "[UNK]", "play", "##ing", "[SEP]",
    ]  # fmt: skip
    assert b.word_ids[1][:3] == [None, 0, None]
    assert b.attention_mask[2].sum() == 2  # no words: [CLS] [SEP]
    for r, ws in enumerate(words):  # offsets are inside each word
        for t, w in enumerate(b.word_ids[r]):
            if w is not None:
                s, e = b.offsets[r][t]
                assert 0 <= s < e <= len(ws[w])
    # tuples of words are fine too
    assert tok([("a", "city")], is_split_into_words=True).input_ids.shape == (1, 4)


def test_split_words_truncation_drops_trailing_words(tok):
    words = [["paris"] * 30]
    b = tok(words, is_split_into_words=True, max_length=8)
    assert [w for w in b.word_ids[0] if w is not None] == list(range(6))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda t: t("a string"), TypeError, "texts: expected a list of strings"),
        (lambda t: t(None), TypeError, "texts: expected a list of strings"),
        (lambda t: t(["ok", 5]), TypeError, r"texts\[1\]: expected a string"),
        (lambda t: t([["a", "b"]]), TypeError, r"texts\[0\]: expected a string"),
        (lambda t: t(["ab"], is_split_into_words=True), TypeError, r"texts\[0\]: expected a list of words"),
        (lambda t: t([["a", 1]], is_split_into_words=True), TypeError, r"texts\[0\]: expected a list of words"),
        (lambda t: t(["a"], max_length=3), ValueError, "max_length: expected an int >= 4"),
        (lambda t: t(["a"], max_length=True), ValueError, "max_length: expected an int >= 4"),
        (lambda t: t(["a"], max_length=8.0), ValueError, "max_length: expected an int >= 4"),
        (lambda t: t(["a"], stride=-1), ValueError, "stride: expected an int >= 0"),
        (lambda t: t(["a"], "b"), TypeError, "pairs: expected a list of strings"),
        (lambda t: t(["a"], ["b", "c"]), ValueError, r"pairs: expected one per text \(1\), got 2"),
        (lambda t: t(["a"], [3]), TypeError, r"pairs\[0\]: expected a string"),
        (lambda t: t([QUESTION], [CONTEXT], max_length=7), ValueError, "max_length: 7 leaves no room"),
        (lambda t: t([QUESTION], [CONTEXT], max_length=12, stride=4), ValueError, "stride: 4 must be smaller"),
        (lambda t: t([["a"]], ["b"], is_split_into_words=True), ValueError, "is_split_into_words"),
        (lambda t: t(["a"], pad_to="8"), ValueError, "pad_to: expected"),
    ],
)
def test_errors(tok, call, error, match):
    with pytest.raises(error, match=match):
        call(tok)


def test_from_dir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        BertTokenizer.from_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{broken")
    with pytest.raises(ValueError, match="could not be read"):
        BertTokenizer.from_dir(tmp_path)


def test_a_vocabulary_without_specials_is_refused(tmp_path):
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]")).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match=r"no \[PAD\] token"):
        BertTokenizer.from_dir(tmp_path)


# ---------------------------------------------------------------- saving; the real tokenizer


def test_save_round_trip(tok, tmp_path):
    tok.save(tmp_path / "out")
    again = BertTokenizer.from_dir(tmp_path / "out")
    b1, b2 = tok([QUESTION], [CONTEXT], max_length=16, stride=2), again([QUESTION], [CONTEXT], max_length=16, stride=2)
    np.testing.assert_array_equal(b1.input_ids, b2.input_ids)
    assert b1.offsets == b2.offsets


@pytest.fixture(scope="module")
def real() -> BertTokenizer:
    try:
        folder = model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        pytest.skip(f"the packaged model is not installed: {e}")
    return BertTokenizer.from_dir(folder)


def test_real_tokenizer_pads_to_the_longest_not_to_128(real):
    """all-MiniLM-L6-v2's tokenizer.json pads every text to 128 and truncates at 128; batches here do neither."""
    assert json.loads((real.source_dir / "tokenizer.json").read_text())["padding"] is not None
    b = real(["Hello world!", "Hi"])
    assert b.input_ids.shape == (2, 5)
    assert b.input_ids[0].tolist() == [101, 7592, 2088, 999, 102]
    assert real([" ".join(["word"] * 300)]).input_ids.shape == (1, 302)


def test_real_tokenizer_save_copies_companion_files(real, tmp_path):
    real.save(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "vocab.txt").read_bytes() == (real.source_dir / "vocab.txt").read_bytes()
    again = BertTokenizer.from_dir(tmp_path)
    np.testing.assert_array_equal(again(["Héllo wörld"]).input_ids, real(["Héllo wörld"]).input_ids)


def test_threads_do_not_see_each_others_truncation(tok):
    """Truncation is a setting of the shared Rust tokenizer and encode_batch releases the GIL."""
    from concurrent.futures import ThreadPoolExecutor

    long = [" ".join(["paris"] * 60)] * 8

    def work(k: int) -> tuple[int, int]:
        if k % 3 == 0:
            return k, tok(long, max_length=8).input_ids.shape[1]
        if k % 3 == 1:
            return k, tok(long).input_ids.shape[1]
        return k, len(tok([QUESTION], [CONTEXT], max_length=16, stride=2))

    want = {0: 8, 1: 62, 2: len(tok([QUESTION], [CONTEXT], max_length=16, stride=2))}
    with ThreadPoolExecutor(4) as pool:
        for k, got in pool.map(work, range(90)):
            assert got == want[k % 3], k
