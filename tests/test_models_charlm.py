"""seqcore.models.CharLM: the fused training step against the tape, sampling, training, files, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import losses
from seqcore.autograd import Tensor
from seqcore.autograd import tensor as ops
from seqcore.datasets import dinosaur_names
from seqcore.models import CharLM
from seqcore.text import CharVocab

NAMES = dinosaur_names()
VOCAB = CharVocab.from_text(NAMES)
ITEMS = ["tyrannosaurus", "rex", "abc", "triceratops"]
ARCHS = [
    ("rnn", 7, None),
    ("lstm", 6, None),
    ("gru", 5, None),
    ("lstm", [6, 4], 3),
    ("gru", [5, 5], 4),
    ("rnn", 4, 3),
]


def _model(cell, units, emb, dtype="float64", seed=0) -> CharLM:
    return CharLM(VOCAB, cell=cell, units=units, embedding_dim=emb, dtype=dtype, seed=seed)


def _tape_loss(model: CharLM, items: list[str], reduction: str) -> tuple[float, list[np.ndarray]]:
    """The same loss through the engine's layers and autograd tape."""
    x, y, lengths = model.encode_items(items)
    for v in model.trainable_weights():
        v.zero_grad()
    h = model.embedding(x) if model.embedding is not None else Tensor(model.inputs(x))
    for layer in model.recurrent:
        h = layer(h, lengths=lengths)
    logits = model.dense(h)
    per = losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    mask = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float64)
    if reduction == "mean":
        mask /= mask.sum()
    loss = ops.sum_(per * Tensor(mask))
    loss.backward()
    return float(loss.data), [v.grad for v in model.trainable_weights()]


@pytest.mark.parametrize("backend", ["cpp", "numba", "reference"])
@pytest.mark.parametrize("cell,units,emb", ARCHS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_fused_step_matches_the_tape(backend, cell, units, emb, reduction):
    model = _model(cell, units, emb)
    with seqcore.use_backend(backend):
        loss, grads = model.loss_and_gradients(ITEMS, reduction=reduction)
        tape_loss, tape_grads = _tape_loss(model, ITEMS, reduction)
    assert loss == pytest.approx(tape_loss, rel=1e-12)
    assert len(grads) == len(tape_grads) == len(model.trainable_weights())
    for g, t, v in zip(grads, tape_grads, model.trainable_weights()):
        np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12, err_msg=v.name)


@pytest.mark.parametrize("cell,units,emb", ARCHS[:4])
def test_gradients_match_finite_differences(cell, units, emb):
    model = _model(cell, units, emb)
    _, grads = model.loss_and_gradients(ITEMS[:2], reduction="mean")
    rng = np.random.default_rng(1)
    eps = 1e-6
    for v, g in zip(model.trainable_weights(), grads):
        flat = v.data.reshape(-1)
        for k in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[k]
            flat[k] = old + eps
            up = model.loss_and_gradients(ITEMS[:2], reduction="mean")[0]
            flat[k] = old - eps
            down = model.loss_and_gradients(ITEMS[:2], reduction="mean")[0]
            flat[k] = old
            assert g.reshape(-1)[k] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8), v.name


def test_padding_is_masked_out():
    """A name's loss and gradients are the same alone and in a padded batch (weighted by its share)."""
    model = _model("lstm", 6, 3)
    alone, g_alone = model.loss_and_gradients(["rex"], reduction="sum")
    both, g_both = model.loss_and_gradients(["rex", "tyrannosaurus"], reduction="sum")
    other, g_other = model.loss_and_gradients(["tyrannosaurus"], reduction="sum")
    assert both == pytest.approx(alone + other, rel=1e-12)
    for a, b, c in zip(g_alone, g_other, g_both):
        np.testing.assert_allclose(a + b, c, rtol=1e-10, atol=1e-12)


def test_evaluate_is_mean_nats_per_character_with_the_end():
    model = _model("gru", 5, 3)
    loss, _ = model.loss_and_gradients(ITEMS, reduction="mean")
    assert model.evaluate(ITEMS, batch_size=3) == pytest.approx(loss, rel=1e-12)
    total = sum(model.loss_and_gradients([item], reduction="sum")[0] for item in ITEMS)
    assert model.evaluate(ITEMS) == pytest.approx(total / sum(len(i) + 1 for i in ITEMS), rel=1e-12)


# ---------------------------------------------------------------- sampling


@pytest.fixture(scope="module")
def trained() -> CharLM:
    model = CharLM(VOCAB, cell="lstm", units=32, embedding_dim=16, seed=0)
    model.fit(NAMES, epochs=3, batch_size=32, seed=0)
    return model


def test_sampling_is_reproducible_under_a_seed(trained):
    a = trained.sample(20, seed=3)
    assert a == trained.sample(20, seed=3)
    assert a != trained.sample(20, seed=4)
    assert trained.sample(5, seed=3, batch_size=1) == trained.sample(5, seed=3, batch_size=1)


def _greedy_by_whole_sequence(model: CharLM, prefix: str, limit: int) -> str:
    """Argmax decoding by rerunning the whole-sequence model (the tape's layers) on the growing text."""
    text = prefix
    with seqcore.no_grad():
        while len(text) < limit:
            x = np.concatenate([[model.vocab.eos_id], model.vocab.encode(text)])[None, :]
            logits = model.model(model.inputs(x)).data[0, -1]
            nxt = int(np.argmax(logits))
            if nxt == model.vocab.eos_id:
                break
            text += model.vocab.decode([nxt])
    return text


@pytest.mark.parametrize("prefix", ["", "tyr", "q"])
def test_temperature_zero_is_argmax_of_the_whole_sequence_model(trained, prefix):
    greedy = trained.sample(3, prefix=prefix, temperature=0.0)
    assert greedy == [_greedy_by_whole_sequence(trained, prefix, trained.max_item_length)] * 3
    assert trained.sample(2, prefix=prefix, temperature=1e-6, seed=1) == greedy[:2]
    assert trained.sample(2, prefix=prefix, top_k=1, seed=2) == greedy[:2]


def test_top_k_limits_the_choices(trained):
    probs_order = np.argsort(trained._step(np.array([VOCAB.eos_id]), _zero_states(trained))[0])[::-1]
    allowed = {VOCAB.decode([int(k)]) for k in probs_order[:3]}
    firsts = {name[0] for name in trained.sample(200, top_k=3, seed=0) if name}
    assert firsts <= allowed


def _zero_states(model: CharLM) -> list[list[np.ndarray]]:
    return [[np.zeros((1, u), model.dtype) for _ in range(2)] for u in model.units]


def test_samples_use_the_alphabet_and_end_properly(trained):
    alphabet = set(VOCAB.chars) - {VOCAB.eos}
    detailed = trained.sample_detailed(300, seed=0, max_length=50)
    for text, ended in detailed:
        assert set(text) <= alphabet
        assert len(text) <= 50
        assert ended or len(text) == 50
    assert sum(ended for _, ended in detailed) >= 290  # a trained model ends its names
    prefixed = trained.sample(20, prefix="ptero", seed=1)
    assert all(name.startswith("ptero") for name in prefixed)


def test_higher_temperature_spreads_the_samples(trained):
    cold = trained.sample(300, temperature=0.3, seed=0)
    hot = trained.sample(300, temperature=1.5, seed=0)
    assert trained.evaluate(cold) < trained.evaluate(NAMES) < trained.evaluate(hot)  # likelier when colder


# ---------------------------------------------------------------- training


def test_course_loop_drops_the_loss_quickly():
    model = CharLM(VOCAB, cell="rnn", units=50, seed=0)
    history = model.fit_course(NAMES, 3000, print_every=1000, n_samples=2, seed=0)
    per_char = np.array(history.raw_losses)
    first, last = per_char[:200].mean(), per_char[-500:].mean()
    assert last < 0.8 * first, (first, last)
    assert history.steps == 3000 and len(history.losses) == 3000
    assert [step for step, _ in history.samples] == [1, 1000, 2000, 3000]
    assert history.losses[0] == pytest.approx(-np.log(1 / 27) * 7, rel=0.02)


def test_batched_fit_learns_and_respects_the_time_budget():
    model = CharLM(VOCAB, cell="gru", units=32, embedding_dim=8, seed=0)
    before = model.evaluate(NAMES[:100])
    history = model.fit(NAMES[100:], seconds=1.5, batch_size=64)
    assert history.seconds < 3.0
    assert model.evaluate(NAMES[:100]) < before - 0.3
    stopped = model.fit(NAMES, epochs=5, callback=lambda step, loss: step >= 3)
    assert stopped.steps == 3


# ---------------------------------------------------------------- files and bad input


def test_save_and_load_round_trip(tmp_path, trained):
    path = tmp_path / "dinos.safetensors"
    trained.save(path)
    again = CharLM.load(path)
    assert again.vocab == trained.vocab and again.cell == "lstm" and again.units == [32]
    assert again.sample(10, seed=5) == trained.sample(10, seed=5)
    assert again.evaluate(NAMES[:50]) == trained.evaluate(NAMES[:50])
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    with pytest.raises(seqcore.CorruptFileError):
        CharLM.load(tmp_path / "bad.safetensors")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharLM(VOCAB, cell="transformer")
    with pytest.raises(ValueError, match="units"):
        CharLM(VOCAB, units=0)
    with pytest.raises(TypeError, match="vocab"):
        CharLM("abc")
    model = CharLM(VOCAB, cell="rnn", units=4)
    with pytest.raises(TypeError, match="single str"):
        model.fit_course("tyrannosaurus", 10)
    with pytest.raises(ValueError, match="empty"):
        model.fit([], epochs=1)
    with pytest.raises(ValueError, match="epochs, seconds"):
        model.fit(NAMES)
    with pytest.raises(ValueError, match="'Q'"):
        model.sample(1, prefix="Q")
    with pytest.raises(ValueError, match="temperature"):
        model.sample(1, temperature=-1.0)
    with pytest.raises(ValueError, match="max_length"):
        model.sample(1, prefix="abc", max_length=3)
    with pytest.raises(ValueError, match="top_k"):
        model.sample(1, top_k=0)
    with pytest.raises(ValueError, match="'B'"):
        model.evaluate(["Bad"])


def test_dropout_step_matches_finite_differences_under_one_mask():
    """With the same dropout masks (a reseeded generator) the loss is a function of the weights: its
    gradient must be the fused step's."""
    model = _model("lstm", [5, 4], 3)
    model.dropout = 0.4
    x, y, lengths = model.encode_items(ITEMS[:3])
    w = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float64)

    def run() -> tuple[float, list[np.ndarray]]:
        return model._forward_backward(x, y, lengths, w, np.random.default_rng(7))

    loss, grads = run()
    assert loss != pytest.approx(model._forward_backward(x, y, lengths, w)[0])  # the masks do something
    eps = 1e-6
    for v, g in zip(model.trainable_weights(), grads):
        flat = v.data.reshape(-1)
        for k in np.random.default_rng(2).choice(flat.size, size=min(3, flat.size), replace=False):
            old = flat[k]
            flat[k] = old + eps
            up = run()[0]
            flat[k] = old - eps
            down = run()[0]
            flat[k] = old
            assert g.reshape(-1)[k] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8), v.name


def test_validation_keeps_the_best_weights():
    model = CharLM(VOCAB, cell="lstm", units=32, embedding_dim=8, seed=0)
    history = model.fit(NAMES[100:400], epochs=12, batch_size=16, validation=NAMES[:100])
    scores = [score for _, score in history.val_losses]
    assert len(scores) == 12
    assert history.best_val_loss == min(scores)
    assert model.evaluate(NAMES[:100]) == pytest.approx(min(scores), rel=1e-12)
    assert min(scores) < scores[0]
