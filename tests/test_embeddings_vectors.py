"""WordVectors on small synthetic vectors: file formats, search, analogies (vs NumPy and gensim), debiasing,
sentences_to_indices, Embedding.from_pretrained, and clear errors for bad input."""

from __future__ import annotations

import gzip
import json
import os
import zipfile

import numpy as np
import pytest

from seqcore import nn
from seqcore._atomic import CorruptFileError
from seqcore.embeddings import AnalogyResult, WordVectors, detect_format

WORDS = ["the", "king", "queen", "man", "woman", "prince", "princess", "boy", "girl", "apple", "King", "pear"]


@pytest.fixture(scope="module")
def wv() -> WordVectors:
    rng = np.random.default_rng(0)
    return WordVectors(WORDS, rng.standard_normal((len(WORDS), 8)).astype(np.float32))


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


# ---------------------------------------------------------------- construction and lookups


def test_basics(wv):
    assert len(wv) == 12 and wv.dim == 8 and "king" in wv and "kong" not in wv
    assert wv.index("queen") == 2 and wv.key_to_index["pear"] == 11
    np.testing.assert_array_equal(wv.vector("man"), wv.matrix[3])
    assert wv.matrix.dtype == np.float32 and wv.matrix.flags.c_contiguous
    np.testing.assert_array_equal(wv.indices(["man", "zzz", "boy"], unknown="skip"), [3, 7])
    np.testing.assert_array_equal(wv.indices(["man", "zzz"], unknown=-1), [3, -1])
    assert repr(wv) == "WordVectors(12 words x 8 dims)"


def test_float32_c_contiguous_matrix_is_kept():
    m = np.ones((3, 2), np.float32)
    assert WordVectors(["a", "b", "c"], m).matrix is m
    assert WordVectors(["a", "b", "c"], np.asfortranarray(m)).matrix.flags.c_contiguous


@pytest.mark.parametrize(
    ("words", "matrix", "match"),
    [
        (["a", "a"], np.ones((2, 2)), "unique, 'a'"),
        (["a", "b"], np.ones((3, 2)), "same length"),
        (["a"], np.ones(2), "2-d array"),
        (["a", 1], np.ones((2, 2)), "sequence of str"),
        ("ab", np.ones((2, 2)), "sequence of str"),
        (["a"], np.array([["x"]]), "real numbers"),
    ],
)
def test_bad_construction(words, matrix, match):
    with pytest.raises((ValueError, TypeError), match=match):
        WordVectors(words, matrix)


def test_unknown_word_errors(wv):
    with pytest.raises(KeyError, match="'kong' is not in the vocabulary"):
        wv.vector("kong")
    with pytest.raises(KeyError, match="did you mean 'pear'"):
        wv.index("PEAR")
    with pytest.raises(KeyError, match="zzz"):
        wv.indices(["man", "zzz"])
    with pytest.raises(TypeError, match="word must be a str"):
        wv.index(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown must be"):
        wv.indices(["man"], unknown="drop")


# ---------------------------------------------------------------- similarity and search vs NumPy


def test_similarity_matches_numpy(wv):
    a, b = wv.matrix[1].astype(np.float64), wv.matrix[2].astype(np.float64)
    assert wv.similarity("king", "queen") == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-12)
    assert wv.similarity(a, "queen") == pytest.approx(wv.similarity("king", "queen"))


def test_most_similar_matches_numpy(wv):
    cos = _unit(wv.matrix) @ _unit(wv.matrix).T
    for i, w in enumerate(WORDS):
        got = wv.most_similar(w, topn=4)
        order = [j for j in np.argsort(-cos[i], kind="stable") if j != i][:4]
        assert [g[0] for g in got] == [WORDS[j] for j in order]
        np.testing.assert_allclose([g[1] for g in got], cos[i, order], atol=1e-6)
    batched = wv.most_similar(["king", wv.matrix[3], "girl"], topn=3)
    singles = [wv.most_similar("king", 3), wv.most_similar(wv.matrix[3], 3), wv.most_similar("girl", 3)]
    assert [[w for w, _ in r] for r in batched] == [[w for w, _ in r] for r in singles]
    np.testing.assert_allclose([[s for _, s in r] for r in batched], [[s for _, s in r] for r in singles], atol=1e-6)
    assert wv.most_similar(wv.matrix[3], topn=1)[0][0] == "man"  # a vector query excludes nothing
    assert all(w not in ("apple", "king") for w, _ in wv.most_similar("king", topn=11, exclude=["apple"]))
    assert len(wv.most_similar("king", topn=50)) == 11  # everything but the query
    assert wv.most_similar(np.stack([wv.matrix[0], wv.matrix[1]]), topn=2)[1][0][0] == "king"


def test_most_similar_bad_input(wv):
    with pytest.raises(ValueError, match="topn must be a positive int"):
        wv.most_similar("king", topn=0)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        wv.most_similar(np.ones(3))
    with pytest.raises(ValueError, match="non-zero"):
        wv.most_similar(np.zeros(8))
    with pytest.raises(TypeError, match="single str"):
        wv.most_similar("king", exclude="apple")


# ---------------------------------------------------------------- analogies


def _analogy_numpy(wv: WordVectors, a: str, b: str, c: str, method: str, topn: int) -> list[str]:
    n = _unit(wv.matrix)
    ia, ib, ic = (wv.index(w) for w in (a, b, c))
    if method == "3cosadd":
        score = n @ _unit(n[ib] - n[ia] + n[ic])
    else:
        cos = (n @ n[[ia, ib, ic]].T + 1) / 2
        score = cos[:, 1] * cos[:, 2] / (cos[:, 0] + 1e-6)
    score[[ia, ib, ic]] = -np.inf
    return [WORDS[j] for j in np.argsort(-score, kind="stable")[:topn]]


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogies_match_numpy(wv, method):
    triples = [("man", "woman", "king"), ("boy", "girl", "prince"), ("apple", "pear", "the"), ("king", "King", "man")]
    for a, b, c in triples:
        assert wv.analogy(a, b, c, method=method) == _analogy_numpy(wv, a, b, c, method, 1)[0]
        assert wv.analogy(a, b, c, topn=5, method=method) == _analogy_numpy(wv, a, b, c, method, 5)
    assert wv.analogies(triples, method=method) == [wv.analogy(*t, method=method) for t in triples]
    assert wv.analogies(triples, topn=2, method=method) == [wv.analogy(*t, topn=2, method=method) for t in triples]


def test_analogy_matches_gensim(wv):
    kv = _gensim(wv)
    for a, b, c in [("man", "woman", "king"), ("boy", "girl", "prince"), ("apple", "pear", "the")]:
        expect = [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=3)]
        assert wv.analogy(a, b, c, topn=3) == expect
        expect = [w for w, _ in kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=3)]
        assert wv.analogy(a, b, c, topn=3, method="3cosmul") == expect


def test_analogy_bad_input(wv):
    with pytest.raises(ValueError, match="method must be one of"):
        wv.analogy("man", "woman", "king", method="cosine")
    with pytest.raises(ValueError, match="triples"):
        wv.analogies([("man", "woman")])
    with pytest.raises(KeyError, match="kong"):
        wv.analogy("man", "woman", "kong")
    tiny = WordVectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="no word left"):
        tiny.analogy("a", "b", "c")


def _gensim(wv: WordVectors):
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors", reason="gensim (test extra) is not installed")
    kv = gensim_kv.KeyedVectors(wv.dim)
    kv.add_vectors(wv.words, np.asarray(wv.matrix))
    return kv


ANALOGY_FILE = """\
: royals
man woman king queen
MAN WOMAN KING QUEEN
boy girl prince princess
man woman king King
short line
man woman kong queen
: fruit
apple pear the king
apple pear man woman
the apple king pear
: empty
"""


def _compare_with_gensim(wv: WordVectors, path: str, **kwargs) -> AnalogyResult:
    kv = _gensim(wv)
    ours = wv.evaluate_analogies(path, **kwargs)
    score, sections = kv.evaluate_word_analogies(path, **kwargs)
    got = [(s.name, s.correct, s.incorrect) for s in [*ours.sections, ours.total]]
    assert got == [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections]
    assert ours.accuracy == pytest.approx(score)
    return ours


@pytest.mark.parametrize("restrict_vocab", [300000, 10, 6])
@pytest.mark.parametrize("case_insensitive", [True, False])
def test_evaluate_analogies_matches_gensim(wv, tmp_path, restrict_vocab, case_insensitive):
    path = tmp_path / "analogies.txt"
    path.write_text(ANALOGY_FILE)
    res = _compare_with_gensim(wv, str(path), restrict_vocab=restrict_vocab, case_insensitive=case_insensitive)
    assert res.questions == 8  # "short line" is skipped silently, as in gensim
    assert res.section("empty").total == 0 and res.section("empty").accuracy == 0.0
    assert res.skipped >= 1  # "kong"
    assert "Total accuracy" in str(res) and res.as_dict()["royals"]["skipped"] >= 1


def test_evaluate_analogies_cosmul_and_planted_answers(tmp_path):
    # vectors built so that b - a + c lands exactly on the expected word
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 16))
    words = ["a", "b", "c", "d", "x", "y"]
    base[3] = base[1] - base[0] + base[2]
    wv = WordVectors(words, base.astype(np.float32))
    path = tmp_path / "q.txt"
    path.write_text(": s\na b c d\n")
    for method in ("3cosadd", "3cosmul"):
        res = wv.evaluate_analogies(path, method=method)
        assert (res.total.correct, res.total.total, res.method) == (1, 1, method)


def test_evaluate_analogies_bad_files(wv, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("man woman king queen\n: s\n")
    with pytest.raises(ValueError, match="before the first"):
        wv.evaluate_analogies(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no ': SECTION NAME' header"):
        wv.evaluate_analogies(path)
    path.write_bytes(b": s\nman \xff king queen\n")
    with pytest.raises(ValueError, match="line 2 is not UTF-8"):
        wv.evaluate_analogies(path)
    with pytest.raises(ValueError, match="restrict_vocab must be a positive int"):
        wv.evaluate_analogies(path, restrict_vocab=0)
    with pytest.raises(FileNotFoundError):
        wv.evaluate_analogies(tmp_path / "missing.txt")


# ---------------------------------------------------------------- files


def _same(a: WordVectors, b: WordVectors) -> None:
    assert a.words == b.words
    np.testing.assert_array_equal(np.asarray(a.matrix), np.asarray(b.matrix))


def test_own_format_round_trip_is_memory_mapped(wv, tmp_path):
    counted = WordVectors(wv.words, wv.matrix, counts=np.arange(len(wv), 0, -1))
    counted.save(tmp_path / "vecs")
    assert sorted(os.listdir(tmp_path / "vecs")) == ["counts.npy", "header.json", "vectors.npy", "vocab.txt"]
    assert (tmp_path / "vecs" / "vocab.txt").read_text(encoding="utf-8").splitlines() == WORDS
    back = WordVectors.load(tmp_path / "vecs")
    _same(back, wv)
    assert isinstance(back.matrix, np.memmap) and not back.matrix.flags.writeable
    np.testing.assert_array_equal(back.counts, counted.counts)
    assert detect_format(tmp_path / "vecs") == "seqcore"
    assert not isinstance(WordVectors.load(tmp_path / "vecs", mmap=False).matrix, np.memmap)
    assert back.most_similar("king", 3) == wv.most_similar("king", 3)  # read-only map: search still works


def test_own_format_unicode_words(tmp_path):
    words = ["café", "naïve", "日本", "a b", "x\u2028y"]
    wv = WordVectors(words, np.eye(5, 3, dtype=np.float32))
    wv.save(tmp_path / "u")
    assert WordVectors.load(tmp_path / "u").words == words
    with pytest.raises(ValueError, match="line breaks"):
        WordVectors(["a\nb"], np.ones((1, 2))).save(tmp_path / "nl")


@pytest.mark.parametrize("name", ["v.txt", "v.txt.gz", "v.zip"])
def test_glove_text_round_trip(wv, tmp_path, name):
    path = tmp_path / name
    if name.endswith(".zip"):
        wv.save_glove(tmp_path / "inner.txt")
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(tmp_path / "inner.txt", "glove.6B.8d.txt")
    else:
        wv.save_glove(path)
    assert detect_format(path) == "glove"
    _same(WordVectors.load(path), wv)  # %.9g: float32 round-trips exactly
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).decode().startswith("the ")


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_round_trip_and_gensim_reads_it(wv, tmp_path, binary):
    path = tmp_path / ("v.bin" if binary else "v.w2v.txt")
    wv.save_word2vec_format(path, binary=binary)
    assert detect_format(path) == ("word2vec-binary" if binary else "word2vec")
    _same(WordVectors.load(path), wv)
    kv = _gensim(wv).load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == wv.words
    np.testing.assert_array_equal(kv.vectors, wv.matrix)


def test_word2vec_binary_from_gensim_detected_without_extension(wv, tmp_path):
    kv = _gensim(wv)
    kv.save_word2vec_format(str(tmp_path / "g.dat"), binary=True)
    kv.save_word2vec_format(str(tmp_path / "g.txt"), binary=False)
    _same(WordVectors.load(tmp_path / "g.dat"), wv)
    loaded = WordVectors.load(tmp_path / "g.txt")
    assert loaded.words == wv.words
    np.testing.assert_allclose(loaded.matrix, wv.matrix, rtol=1e-5, atol=1e-6)  # gensim writes %f-ish text


def test_glove_words_with_spaces_and_crlf(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(b"hello 1 2\r\nat home 3 4.5\r\n\r\nx -1e-3 0\r\n")
    wv = WordVectors.load(path)
    assert wv.words == ["hello", "at home", "x"]
    np.testing.assert_array_equal(wv.matrix, np.array([[1, 2], [3, 4.5], [-1e-3, 0]], np.float32))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"a 1 2\nb 1\n", "line 2: expected a word and 2 numbers"),
        (b"a 1 2\nb 1 x\n", "line 2: not a number"),
        (b"a 1 2\na 3 4\n", "unique, 'a'"),
        (b"3 2\na 1 2\nb 3 4\n", "header promises 3 words, found 2"),
        (b"\xff\xfe 1 2\n", "not UTF-8"),
        (b"word\n", "expected 'word v1 ... vE'"),
    ],
)
def test_bad_text_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        WordVectors.load(path)


def test_bad_binary_zip_gz_and_folders(wv, tmp_path):
    wv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        WordVectors.load(tmp_path / "cut.bin")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"a 1 2\n")[:-6])
    with pytest.raises(CorruptFileError, match="damaged gzip"):
        WordVectors.load(tmp_path / "bad.gz")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.writestr("a.vec", "a 1\n")
        zf.writestr("b.vec", "b 1\n")
    with pytest.raises(CorruptFileError, match="exactly one file"):
        WordVectors.load(tmp_path / "two.zip")
    with pytest.raises(FileNotFoundError, match="not found"):
        WordVectors.load(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="format must be one of"):
        WordVectors.load(tmp_path / "v.bin", format="fasttext")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CorruptFileError, match="no header.json"):
        WordVectors.load(tmp_path / "empty_dir")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        wv.save(tmp_path / "file")


def test_own_format_detects_mismatched_or_damaged_files(wv, tmp_path):
    wv.save(tmp_path / "v")
    (tmp_path / "v" / "vocab.txt").write_text("\n".join(reversed(WORDS)) + "\n")
    with pytest.raises(CorruptFileError, match="does not match header.json"):
        WordVectors.load(tmp_path / "v")
    wv.save(tmp_path / "v")
    header = json.loads((tmp_path / "v" / "header.json").read_text())
    (tmp_path / "v" / "header.json").write_text(json.dumps({**header, "dim": 9}))
    with pytest.raises(CorruptFileError, match="header says 12 x 9"):
        WordVectors.load(tmp_path / "v")
    wv.save(tmp_path / "v")
    (tmp_path / "v" / "vectors.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(CorruptFileError, match="damaged .npy"):
        WordVectors.load(tmp_path / "v")
    (tmp_path / "v" / "header.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="damaged header"):
        WordVectors.load(tmp_path / "v")


def test_saves_are_atomic(wv, tmp_path, monkeypatch):
    """A failing write leaves the previous files intact and no temporary files behind."""
    wv.save(tmp_path / "v")
    before = {p: (tmp_path / "v" / p).read_bytes() for p in os.listdir(tmp_path / "v")}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        WordVectors(WORDS, np.zeros((12, 8), np.float32)).save(tmp_path / "v")
    assert {p: (tmp_path / "v" / p).read_bytes() for p in os.listdir(tmp_path / "v")} == before


# ---------------------------------------------------------------- debiasing


def test_neutralize_makes_word_orthogonal(wv):
    g = wv.bias_direction(("man", "woman"))
    np.testing.assert_allclose(g, wv.matrix[4].astype(np.float64) - wv.matrix[3])
    e = wv.neutralize("king", g)
    assert abs(e @ g / np.linalg.norm(e) / np.linalg.norm(g)) < 1e-6
    new = wv.neutralized(["king", "apple"], g)
    assert abs(new.similarity("king", g)) < 1e-6 and abs(new.similarity("apple", g)) < 1e-6
    np.testing.assert_array_equal(new.vector("queen"), wv.vector("queen"))
    assert abs(wv.similarity("king", g)) > 1e-3  # the original is unchanged
    assert new.words is wv.words


def test_equalize_gives_equal_and_opposite_projections(wv):
    g = wv.bias_direction(("man", "woman"))
    e1, e2 = wv.equalize(("boy", "girl"), g)
    p1, p2 = e1 @ g / np.linalg.norm(g), e2 @ g / np.linalg.norm(g)
    assert p1 == pytest.approx(-p2, abs=1e-9) and abs(p1) > 1e-3
    assert np.linalg.norm(e1) == pytest.approx(np.linalg.norm(e2), rel=1e-9)
    orth = lambda e: e - (e @ g) / (g @ g) * g  # noqa: E731
    np.testing.assert_allclose(orth(e1), orth(e2), atol=1e-9)
    new = wv.equalized([("boy", "girl"), ("prince", "princess")], g)
    np.testing.assert_allclose(new.vector("boy"), e1.astype(np.float32))
    assert new.similarity("prince", g) == pytest.approx(-new.similarity("princess", g), abs=1e-5)


def test_bias_direction_from_several_pairs_is_first_pc(wv):
    pairs = [("man", "woman"), ("boy", "girl"), ("king", "queen"), ("prince", "princess")]
    g = wv.bias_direction(pairs)
    rows = []
    for a, b in pairs:
        ea, eb = wv.matrix[wv.index(a)].astype(np.float64), wv.matrix[wv.index(b)].astype(np.float64)
        mu = (ea + eb) / 2
        rows += [ea - mu, eb - mu]
    rows = np.array(rows)
    _, _, vt = np.linalg.svd(rows - rows.mean(axis=0))
    assert np.linalg.norm(g) == pytest.approx(1.0)
    assert abs(g @ vt[0]) == pytest.approx(1.0, abs=1e-9)
    assert sum((wv.matrix[wv.index(b)] - wv.matrix[wv.index(a)]) @ g for a, b in pairs) > 0  # points a -> b


def test_debias_bad_input(wv):
    with pytest.raises(ValueError, match=r"g must be a bias direction of shape \(8,\)"):
        wv.neutralize("king", np.ones(3))
    with pytest.raises(ValueError, match="non-zero"):
        wv.neutralize("king", np.zeros(8))
    with pytest.raises(ValueError, match="pairs must be"):
        wv.bias_direction([])
    with pytest.raises(ValueError, match="pair must be"):
        wv.equalize(("boy",), np.ones(8))  # type: ignore[arg-type]


# ---------------------------------------------------------------- models


def test_sentences_to_indices(wv):
    ids = wv.sentences_to_indices(["The King  ate an APPLE", "", "girl boy girl boy girl", ["man", "Zzz", "pear"]], 4)
    assert ids.dtype == np.int64 and ids.shape == (4, 4)
    np.testing.assert_array_equal(
        ids,
        [
            [1, 2, 10, 0],  # the king apple (unknown "ate", "an" skipped), padded with 0
            [0, 0, 0, 0],  # empty sentence
            [9, 8, 9, 8],  # truncated to max_len
            [4, 12, 0, 0],
        ],
    )
    np.testing.assert_array_equal(wv.sentences_to_indices(["the king ate"], 4, unknown=0), [[1, 2, 0, 0]])
    np.testing.assert_array_equal(wv.sentences_to_indices(np.array(["King"]), 2, lowercase=False), [[11, 0]])
    with pytest.raises(KeyError, match="'ate' of sentence 0"):
        wv.sentences_to_indices(["the king ate"], 4, unknown="error")
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        wv.sentences_to_indices(["the"], 0)
    with pytest.raises(TypeError, match="single str"):
        wv.sentences_to_indices("the king", 3)


def test_embedding_matrix_and_from_pretrained(wv):
    m = wv.embedding_matrix()
    assert m.shape == (13, 8) and not m[0].any()
    np.testing.assert_array_equal(m[1:], wv.matrix)
    assert wv.embedding_matrix(pad_row=False) is wv.matrix
    layer = nn.Embedding.from_pretrained(wv)
    assert (layer.input_dim, layer.output_dim, layer.mask_zero, layer.trainable) == (13, 8, True, False)
    ids = wv.sentences_to_indices(["king queen", "apple"], 3)
    out = layer(ids).data
    np.testing.assert_array_equal(out[0, 1], wv.vector("queen"))
    np.testing.assert_array_equal(out[1, 1:], 0)
    pair = nn.Embedding.from_pretrained((np.asarray(wv.matrix), wv.words), mask_zero=False, trainable=True)
    assert (pair.input_dim, pair.mask_zero, pair.trainable) == (13, False, True)
    plain = nn.Embedding.from_pretrained(np.asarray(wv.matrix))  # arrays: unchanged behaviour
    assert (plain.input_dim, plain.mask_zero) == (12, False)


@pytest.mark.parametrize("case_insensitive", [True, False])
def test_evaluate_analogies_skips_case_variants_of_the_question_like_gensim(tmp_path, case_insensitive):
    """A case variant of c ("King") that is the nearest candidate is passed over when case-insensitive."""
    rng = np.random.default_rng(2)
    m = rng.standard_normal((7, 16))
    man, woman, king = m[0], m[1], m[2]
    m[3] = woman - man + king + 0.3 * rng.standard_normal(16)  # queen: close
    m[4] = woman - man + king  # King: the exact answer vector
    wv = WordVectors(["man", "woman", "king", "queen", "King", "x", "y"], m.astype(np.float32))
    path = tmp_path / "q.txt"
    path.write_text(": s\nman woman king queen\nman woman king King\n")
    res = _compare_with_gensim(wv, str(path), case_insensitive=case_insensitive)
    assert res.total.correct == 1
