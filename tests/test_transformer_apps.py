"""DateTransformer and TransformerCharLM: data encoding, masks, teacher forcing, decoding through seqcore.decode,
short training runs, attention maps, files, and bad input.  Tiny configurations: seconds, not minutes."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore import CorruptFileError, decode, nn
from seqcore.datasets import dates as D
from seqcore.datasets.dinos import dinosaur_names
from seqcore.models import CharLM, DateTransformer, TransformerCharLM
from seqcore.models import transformer_dates as TD
from seqcore.text import CharVocab

TINY = {"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 32, "dropout_rate": 0.0}
PAIRS = [
    ("saturday may 9 2018", "2018-05-09"),
    ("3rd of march 2001", "2001-03-03"),
    ("21.08.16", "2016-08-21"),
    ("june 30 1995", "1995-06-30"),
]


@pytest.fixture(scope="module")
def tiny() -> DateTransformer:
    return DateTransformer(**TINY, seed=0)


@pytest.fixture(scope="module")
def trained() -> DateTransformer:
    """A tiny model after a few hundred examples: not accurate, but its outputs depend on the input."""
    model = DateTransformer(**TINY, seed=1)
    model.fit(D.date_pairs(256, seed=3), epochs=2, batch_size=32, warmup_steps=4, lr_scale=2.0)
    return model


# ---------------------------------------------------------------- encoding and masks


def test_source_encoding_trims_common_padding_and_masks_the_rest():
    src = TD.encode_source(["may 9 2018", "3rd of march 2001"])
    assert src.dtype == np.int64 and src.shape == (2, len("3rd of march 2001"))
    assert src[0, len("may 9 2018") :].tolist() == [TD.PAD] * (src.shape[1] - len("may 9 2018"))
    assert np.array_equal(TD.encode_source(["may 9 2018"], trim=False), D.encode_human(["may 9 2018"]))
    mask = TD.source_mask(src)
    assert mask.dtype == np.bool_ and mask.shape == (2, 1, src.shape[1])
    assert mask[0, 0].tolist() == [c != TD.PAD for c in src[0]]
    assert TD.encode_source([]).shape == (0, D.TX)


def test_teacher_forcing_shifts_the_target_right_behind_bos():
    dec_in, target = TD.encode_target(["2018-05-09", "1995-06-30"])
    assert np.array_equal(target, D.encode_machine(["2018-05-09", "1995-06-30"]))
    assert (dec_in[:, 0] == TD.BOS).all()
    assert np.array_equal(dec_in[:, 1:], target[:, :-1])
    assert TD.TARGET_VOCAB[TD.BOS] == "<bos>" and TD.BOS == len(D.MACHINE_VOCAB)


def test_the_model_gets_the_padding_and_look_ahead_masks(tiny, monkeypatch):
    seen = {}
    real = type(tiny.transformer).__call__

    def spy(self, inp, tar, **kwargs):
        seen.update(kwargs, inp=np.asarray(inp), tar=np.asarray(tar))
        return real(self, inp, tar, **kwargs)

    monkeypatch.setattr(type(tiny.transformer), "__call__", spy)
    src = TD.encode_source(["may 9 2018", "3rd of march 2001"])
    dec_in, _ = TD.encode_target(["2018-05-09", "2001-03-03"])
    tiny._forward(src, dec_in, training=False)
    assert np.array_equal(seen["enc_padding_mask"], src[:, None, :] != TD.PAD)
    assert np.array_equal(seen["dec_padding_mask"], seen["enc_padding_mask"])
    assert np.array_equal(seen["look_ahead_mask"], np.tril(np.ones((10, 10), bool))[None])
    assert seen["training"] is False


def test_padding_does_not_change_the_prediction(trained):
    """The source mask hides padding: a date alone and beside a longer one gives the same log-probs."""
    alone = trained.log_prob(["may 9 2018"], ["2018-05-09"])
    padded = trained.log_prob(["may 9 2018", "wednesday september 21st 2016"], ["2018-05-09", "2016-09-21"])
    assert alone[0] == pytest.approx(padded[0], abs=1e-4)


# ---------------------------------------------------------------- decoding


def test_greedy_equals_beam_width_one_and_log_prob_agrees(trained):
    texts = [h for h, _ in PAIRS]
    greedy = trained.translate(texts)
    assert greedy == trained.translate(texts, beam_width=1)
    best = trained.n_best(texts, 1, beam_width=1)
    assert [row[0][0] for row in best] == greedy
    assert np.allclose([row[0][1] for row in best], trained.log_prob(texts, greedy), atol=1e-4)
    assert all(len(iso) == 10 and set(iso) <= set(D.MACHINE_VOCAB) for iso in greedy)


def test_beam_search_n_best_is_ordered_and_at_least_as_likely_as_greedy(trained):
    texts = [h for h, _ in PAIRS]
    rows = trained.n_best(texts, 3, beam_width=4)
    greedy = trained.log_prob(texts, trained.translate(texts))
    for row, g in zip(rows, greedy):
        assert len(row) == 3 and len({iso for iso, _ in row}) == 3
        scores = [lp for _, lp in row]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] >= g - 1e-4
    beam = trained.translate(texts, beam_width=4)
    assert beam == [row[0][0] for row in rows]
    assert np.allclose([row[0][1] for row in rows], trained.log_prob(texts, beam), atol=1e-4)


def test_decoding_goes_through_seqcore_decode(tiny, monkeypatch):
    calls = []
    real_greedy, real_beam = decode.greedy, decode.beam_search
    monkeypatch.setattr(decode, "greedy", lambda *a, **k: calls.append("greedy") or real_greedy(*a, **k))
    monkeypatch.setattr(decode, "beam_search", lambda *a, **k: calls.append("beam") or real_beam(*a, **k))
    tiny.translate(["may 9 2018"])
    tiny.translate(["may 9 2018"], beam_width=2)
    assert calls == ["greedy", "beam"]


def test_translate_and_evaluate_on_a_few_pairs(trained):
    assert trained.translate([]) == []
    acc = trained.evaluate(PAIRS)
    got = trained.translate([h for h, _ in PAIRS])
    assert acc == np.mean([g == m for g, (_, m) in zip(got, PAIRS)])
    assert trained.evaluate(PAIRS, batch_size=3) == acc


# ---------------------------------------------------------------- training


def test_a_short_training_run_lowers_the_loss():
    model = DateTransformer(**TINY, seed=0)
    pairs = D.date_pairs(192, seed=5)
    before = -model.log_prob([h for h, _ in pairs], [m for _, m in pairs]).mean()
    history = model.fit(pairs, epochs=3, batch_size=32, warmup_steps=4, lr_scale=2.0, label_smoothing=0.0)
    after = -model.log_prob([h for h, _ in pairs], [m for _, m in pairs]).mean()
    assert history.steps == 18 and history.epochs == 3 and history.examples == 3 * 192
    assert len(history.losses) == 18 and np.isfinite(history.losses).all()
    assert after < before - 3.0  # nats over the 10 characters
    assert np.mean(history.losses[-6:]) < np.mean(history.losses[:6])


def test_fit_stops_on_steps_or_callback_and_keeps_the_best_validation():
    model = DateTransformer(**TINY, seed=0)
    pairs = D.date_pairs(64, seed=2)
    assert model.fit(pairs, epochs=None, steps=3, batch_size=16).steps == 3
    h = model.fit(pairs, epochs=5, batch_size=16, callback=lambda step, loss: step == 2)
    assert h.steps == 2 and h.epochs == 0
    h = model.fit(pairs, epochs=2, batch_size=32, validation=PAIRS)
    assert [s for s, _ in h.val_accuracy] == [2, 4]
    assert h.best_val_accuracy == max(a for _, a in h.val_accuracy)


def test_fit_is_reproducible_with_a_seed():
    pairs = D.date_pairs(64, seed=2)
    runs = []
    for _ in range(2):
        model = DateTransformer(**{**TINY, "dropout_rate": 0.1}, seed=4)
        runs.append(model.fit(pairs, epochs=1, batch_size=32, seed=9).losses)
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- attention maps and files


@pytest.mark.parametrize("block", ["cross", "self"])
def test_attention_map_shape_and_rows(trained, block):
    text = "Saturday, May 9 2018"
    w = trained.attention_map(text, block=block, head=2)
    read = D.normalize_human(text)
    assert w.shape == ((10, len(read)) if block == "cross" else (10, 10))
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5) and (w >= 0).all()
    if block == "self":
        assert np.allclose(np.triu(w, 1), 0.0)  # the look-ahead mask: no step looks ahead


def test_attention_map_png_is_written_atomically(trained, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "att.png"
    png.write_bytes(b"old")
    w = trained.attention_map("3rd of march 2001", png=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert w.shape == (10, len("3rd of march 2001"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["att.png"]  # no temporary file left


def test_save_load_round_trip(trained, tmp_path):
    path = tmp_path / "m.safetensors"
    trained.save(path)
    again = DateTransformer.load(path)
    assert again.config() == trained.config()
    texts = [h for h, _ in PAIRS]
    assert again.translate(texts) == trained.translate(texts)
    assert np.allclose(again.log_prob(texts, ["2018-05-09"] * 4), trained.log_prob(texts, ["2018-05-09"] * 4))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(CorruptFileError):
        DateTransformer.load(path)


def test_load_refuses_other_files(tmp_path):
    vocab = CharVocab.from_text(["abc"])
    path = tmp_path / "lm.safetensors"
    TransformerCharLM(vocab, num_layers=1, d_model=8, num_heads=2, dff=8, max_positions=8).save(path)
    with pytest.raises(ValueError, match="not a seqcore DateTransformer"):
        DateTransformer.load(path)


def test_date_transformer_bad_input(tiny):
    with pytest.raises(TypeError, match="texts must be a list of str"):
        tiny.translate("may 9 2018")
    with pytest.raises(ValueError, match="beam_width"):
        tiny.translate(["may 9 2018"], beam_width=0)
    with pytest.raises(ValueError, match="at most beam_width"):
        tiny.n_best(["may 9 2018"], 3, beam_width=2)
    with pytest.raises(ValueError, match="ISO date"):
        tiny.evaluate([("may 9 2018", "9 May 2018")])
    with pytest.raises(ValueError, match="empty"):
        tiny.evaluate([])
    with pytest.raises(ValueError, match="layer must lie in"):
        tiny.attention_map("may 9 2018", layer=2)
    with pytest.raises(ValueError, match="head must lie in"):
        tiny.attention_map("may 9 2018", head=3)
    with pytest.raises(ValueError, match="block must be"):
        tiny.attention_map("may 9 2018", block="encoder")
    with pytest.raises(ValueError, match="give epochs, steps, seconds"):
        tiny.fit(PAIRS, epochs=None)
    with pytest.raises(ValueError, match="label_smoothing"):
        tiny.fit(PAIRS, label_smoothing=1.0)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        DateTransformer(num_layers=1, d_model=10, num_heads=3, dff=8)
    with pytest.raises(ValueError, match="dropout_rate"):
        DateTransformer(**{**TINY, "dropout_rate": 1.0})


# ---------------------------------------------------------------- the character model


@pytest.fixture(scope="module")
def names() -> list[str]:
    return dinosaur_names()


def small_lm(vocab: CharVocab, **kw) -> TransformerCharLM:
    args = {"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 32, "max_positions": 32, "dropout": 0.0, "seed": 0}
    return TransformerCharLM(vocab, **{**args, **kw})


def test_charlm_encoding_is_charlms(names):
    vocab = CharVocab.from_text(names)
    items = names[:7]
    ours = small_lm(vocab).encode_items(items)
    theirs = CharLM(vocab, units=8, seed=0).encode_items(items)
    for a, b in zip(ours, theirs):
        assert np.array_equal(a, b)


def test_charlm_loss_definition_is_charlms(names):
    """evaluate = mean cross-entropy per predicted character (end of item included), padding excluded:
    computed by hand from the logits, and equal batch by batch or at once (padding does not leak)."""
    vocab = CharVocab.from_text(names)
    model = small_lm(vocab)
    items = ["ab", "abcdefgh", "rex"]
    by_hand, count = 0.0, 0
    for item in items:
        x, y, _ = model.encode_items([item])
        z = model.logits(x)[0].astype(np.float64)
        logp = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
        by_hand -= logp[np.arange(len(item) + 1), y[0]].sum()
        count += len(item) + 1
    assert model.evaluate(items) == pytest.approx(by_hand / count, rel=1e-6)
    assert model.evaluate(items, batch_size=1) == pytest.approx(model.evaluate(items), rel=1e-6)
    # CharLM's evaluate follows the same definition on its own logits
    lstm = CharLM(vocab, units=8, embedding_dim=4, seed=0)
    lx, ly, ll = lstm.encode_items(items)
    lz = lstm._logits(lx, ll)[0].astype(np.float64)
    lz -= lz.max(-1, keepdims=True)
    nll = np.log(np.exp(lz).sum(-1)) - np.take_along_axis(lz, ly[..., None], -1)[..., 0]
    mask = np.arange(lx.shape[1])[None] < ll[:, None]
    assert lstm.evaluate(items) == pytest.approx(nll[mask].sum() / mask.sum(), rel=1e-6)


def test_charlm_is_causal(names):
    model = small_lm(CharVocab.from_text(names))
    a = model.logits(np.array([[0, 1, 2, 3, 4]]))
    b = model.logits(np.array([[0, 1, 2, 9, 9]]))
    assert np.allclose(a[0, :3], b[0, :3], atol=1e-6) and not np.allclose(a[0, 3], b[0, 3])


def test_charlm_training_lowers_the_held_out_loss(names):
    model = small_lm(CharVocab.from_text(names), seed=1)
    train, held = names[:400], names[-60:]
    before = model.evaluate(held)
    history = model.fit(train, epochs=2, batch_size=32, warmup_steps=5, lr_scale=2.0, validation=held)
    assert history.steps == 26 and len(history.val_losses) == 2
    assert history.best_val_loss == pytest.approx(model.evaluate(held)) and history.best_val_loss < before - 0.5


def test_charlm_sampling_is_reproducible_with_a_seed(names):
    model = small_lm(CharVocab.from_text(names))
    a = model.sample(5, seed=3, top_k=5)
    assert a == model.sample(5, seed=3, top_k=5)
    assert a != model.sample(5, seed=4, top_k=5)
    assert all(s.startswith("ab") for s in model.sample(4, prefix="ab", seed=1))
    assert all(len(s) <= 6 for s in model.sample(6, max_length=6, seed=2))
    greedy = model.sample(3, temperature=0)
    assert greedy[0] == greedy[1] == greedy[2]


def test_charlm_save_load_round_trip(names, tmp_path):
    model = small_lm(CharVocab.from_text(names))
    model.fit(names[:64], steps=2)
    path = tmp_path / "lm.safetensors"
    model.save(path)
    again = TransformerCharLM.load(path)
    assert again.config() == model.config()
    assert again.evaluate(names[:20]) == pytest.approx(model.evaluate(names[:20]), rel=1e-6)
    assert again.sample(3, seed=5) == model.sample(3, seed=5)


def test_charlm_bad_input(names):
    vocab = CharVocab.from_text(names)
    model = small_lm(vocab, max_positions=8)
    with pytest.raises(ValueError, match="at most max_positions - 1 = 7"):
        model.evaluate(["tyrannosaurus"])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.evaluate(["T-rex"])
    with pytest.raises(TypeError, match="a single str"):
        model.fit("rex", steps=1)
    with pytest.raises(ValueError, match="empty"):
        model.evaluate([])
    with pytest.raises(ValueError, match="give epochs, steps, seconds"):
        model.fit(["rex"])
    with pytest.raises(ValueError, match="max_length must be at most"):
        model.sample(1, max_length=8)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(1, temperature=-1.0)
    with pytest.raises(ValueError, match="end-of-item"):
        model.sample(1, prefix="a\nb")
    with pytest.raises(TypeError, match="CharVocab"):
        TransformerCharLM(list("abc"))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        TransformerCharLM(vocab, d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="ids must lie in"):
        model.logits(np.array([[0, vocab.size]]))
    assert nn.create_look_ahead_mask(3).shape == (1, 3, 3)
