"""seqcore.models.DateTranslator: the course's attention model, its shipped weights, save/load, training."""

from __future__ import annotations

import numpy as np
import pytest

from seqcore import decode, nn
from seqcore.datasets.dates import MACHINE_VOCAB, date_pairs, date_splits
from seqcore.models import DateTranslator
from seqcore.models.date_translator import SHIPPED

# (text, ISO): ordinals (also careless ones), upper case, dd.mm.yy, two-digit years either side of 2000,
# 'full' with its weekday (even a wrong one), the course's own examples, New Year, a leap day
TRICKY = [
    ("Saturday May 9 2018", "2018-05-09"),
    ("3rd of march 2001", "2001-03-03"),
    ("21th of August 2016", "2016-08-21"),
    ("March 3rd 2001", "2001-03-03"),
    ("March 3 2001", "2001-03-03"),
    ("1 March 2001", "2001-03-01"),
    ("3 May 1979", "1979-05-03"),
    ("Tue 10 Jul 2007", "2007-07-10"),
    ("5 April 09", "2009-04-05"),
    ("SUNDAY, DECEMBER 31, 2023", "2023-12-31"),
    ("Monday, December 31, 2018", "2018-12-31"),
    ("JAN 1ST 2000", "2000-01-01"),
    ("09.05.18", "2018-05-09"),
    ("31.12.99", "1999-12-31"),
    ("12/31/99", "1999-12-31"),
    ("5/9/18", "2018-05-09"),
    ("9 05 18", "2018-05-09"),
    ("Feb 29, 2000", "2000-02-29"),
    ("the 22nd of february 1985", "1985-02-22"),
    ("1st January 1970", "1970-01-01"),
    ("dec 25th 2039", "2039-12-25"),
    ("Wednesday September 21st 2016", "2016-09-21"),
    ("21, Aug 2016", "2016-08-21"),
    ("June 30, 1995", "1995-06-30"),
    ("  july 4   1976 ", "1976-07-04"),
]
FRESH_SEED = 20260101  # never used to train the shipped model (it was trained on date_splits(..., seed=0))


@pytest.fixture(scope="module")
def shipped() -> DateTranslator:
    return DateTranslator.pretrained()


def test_parameter_count_and_shared_layers():
    model = DateTranslator(seed=0)
    assert model.count_params() == 52_960
    assert len(model.model.outputs) == 10
    names = [layer.name for layer in model.model.layers]
    assert len(names) == len(set(names))  # each shared layer appears once ...
    shared = ["repeat_s", "concat_a_s", "attention_dense_tanh", "attention_dense_relu", "attention_weights",
              "context", "post_attention_lstm", "output"]  # fmt: skip
    for name in shared:  # ... and is called once per output step
        assert len(model.model.get_layer(name)._inbound) == 10, name
    assert isinstance(model.model.get_layer("encoder"), nn.Bidirectional)
    assert model.model.get_layer("encoder").forward_layer.units == 32
    assert model.model.get_layer("post_attention_lstm").units == 64
    assert model.model.input_names == ["X", "s0", "c0"]


def test_shipped_weights_are_small_float32(shipped):
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 250_000
    assert DateTranslator.pretrained() is shipped  # cached per process


def test_shipped_model_gets_tricky_formats_right(shipped):
    texts = [t for t, _ in TRICKY]
    assert shipped.translate(texts) == [iso for _, iso in TRICKY]


def test_shipped_model_on_a_fresh_generated_test_set(shipped):
    trained_on = {iso for _, iso in date_splits(20_000, 1_000, seed=0)[0]}  # the shipped model's training dates
    pairs = [p for p in date_pairs(4000, seed=FRESH_SEED) if p[1] not in trained_on][:1000]
    assert len(pairs) == 1000
    assert shipped.evaluate(pairs) >= 0.99
    upper = [(h.upper(), iso) for h, iso in pairs[:200]]  # case does not matter to the model
    assert shipped.translate([h for h, _ in upper]) == shipped.translate([h for h, _ in pairs[:200]])


def test_outputs_log_probs_and_attention(shipped):
    texts = ["Saturday May 9 2018", "3rd of march 2001", "x" * 60, ""]
    lp = shipped.output_log_probs(texts)
    assert lp.shape == (4, 10, 11) and lp.dtype == np.float64
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-12)
    probs = np.stack(shipped.model.predict(shipped.inputs(texts)), axis=1)  # the model's own softmax
    np.testing.assert_allclose(np.exp(lp), probs, atol=1e-5)
    att = shipped.attention(texts)
    assert att.shape == (4, 10, 30)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    assert (att >= 0).all()
    got = shipped.translate(texts)  # too long or empty input: an answer of the right shape, never a crash
    assert got[:2] == ["2018-05-09", "2001-03-03"] and all(len(g) == 10 for g in got)
    assert shipped.translate(texts[:1], beam_width=4) == got[:1]
    # the year's digits look at the year: output steps 0-3 put most weight on the input's last four chars
    year_weight = att[0, :4, len("saturday may 9 ") : len("saturday may 9 2018")].sum(-1)
    assert (year_weight > 0.5).all()


def test_empty_input_and_bad_input(shipped):
    assert shipped.translate([]) == []
    assert shipped.output_log_probs([]).shape == (0, 10, 11)
    assert shipped.attention([]).shape == (0, 10, 30)
    with pytest.raises(TypeError, match="single str"):
        shipped.translate("May 9 2018")
    with pytest.raises(TypeError, match=r"strings\[1\] must be a str"):
        shipped.translate(["May 9 2018", 2018])
    with pytest.raises(TypeError, match="must be a list of str"):
        shipped.translate(5)
    with pytest.raises(ValueError, match="beam_width must be a positive int"):
        shipped.translate(["May 9 2018"], beam_width=0)
    with pytest.raises(ValueError, match="pairs is empty"):
        shipped.evaluate([])
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(str, str\) pair"):
        shipped.evaluate([("May 9 2018",)])
    with pytest.raises(TypeError, match="single tuple"):
        shipped.evaluate(("May 9 2018", "2018-05-09"))
    with pytest.raises(ValueError, match="ISO date"):
        shipped.evaluate([("May 9 2018", "9 May 2018")])


def test_save_load_round_trip(tmp_path, shipped):
    path = tmp_path / "dates.safetensors"
    shipped.save(path)
    again = DateTranslator.load(path)
    texts = [t for t, _ in TRICKY[:8]]
    np.testing.assert_array_equal(again.output_log_probs(texts), shipped.output_log_probs(texts))
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically


def test_load_rejects_foreign_and_damaged_files(tmp_path):
    from seqcore import CorruptFileError
    from seqcore.models import CharLM
    from seqcore.text import CharVocab

    other = tmp_path / "charlm.safetensors"
    CharLM(CharVocab.from_text(["ab"]), units=4, seed=0).save(other)
    with pytest.raises(ValueError, match="not a seqcore DateTranslator file"):
        DateTranslator.load(other)
    import json

    from seqcore.nn.saving import _read, _write

    tensors, metadata = _read(SHIPPED)
    cfg = json.loads(metadata["config"])
    cfg["human_vocab"] = cfg["human_vocab"][::-1]  # weights made for another character order
    _write(tmp_path / "other.safetensors", tensors, {**metadata, "config": json.dumps(cfg)})
    with pytest.raises(ValueError, match="another configuration"):
        DateTranslator.load(tmp_path / "other.safetensors")
    damaged = tmp_path / "damaged.safetensors"
    data = bytearray(SHIPPED.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        DateTranslator.load(damaged)


def test_a_short_training_run_lowers_the_loss():
    train, test = date_splits(250, 100, seed=3)  # batches of 100, 100 and 50
    model = DateTranslator(seed=1)
    before = model.loss(train)
    seen = []
    history = model.fit(train, epochs=2, validation=test[:50], callback=lambda step, loss: seen.append(loss))
    assert history.steps == 6 and history.epochs == 2 and history.examples == 500
    assert seen == history.losses and len(seen) == 6 and all(np.isfinite(seen))
    assert 0 < min(seen) and max(seen) < 2 * before
    assert model.loss(train) < before
    assert [s for s, _ in history.val_accuracy] == [3, 6] and history.best_val_accuracy is not None
    assert history.final_loss == seen[-1] and history.seconds > 0


def test_step_losses_are_recovered_from_the_engines_running_mean():
    from seqcore.models.date_translator import DateTrainingHistory, _Stepper

    history = DateTrainingHistory()
    stepper = _Stepper(history, None, None, 250, 100)  # batches of 100, 100 and 50
    for epoch in range(2):
        stepper.on_epoch_begin(epoch)
        for batch, mean in enumerate([2.0, (200 + 400) / 200, (200 + 400 + 50) / 250]):  # steps: 2, 4, 1
            stepper.on_train_batch_end(batch, {"loss": mean})
    assert history.losses == pytest.approx([2.0, 4.0, 1.0] * 2)
    assert history.steps == 6 and history.examples == 500


def test_fit_stops_on_request_and_checks_its_arguments():
    train = date_pairs(300, seed=4)
    model = DateTranslator(seed=2)
    history = model.fit(train, epochs=5, callback=lambda step, loss: step == 2)
    assert history.steps == 2 and history.epochs == 0
    with pytest.raises(ValueError, match="give epochs, seconds or both"):
        model.fit(train, epochs=None)
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        model.fit(train, seconds=-1)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.fit(train, batch_size=0)


# ---------------------------------------------------------------- decoding through seqcore.decode


def _enumerated_best(log_probs: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The n most likely strings of one input by brute force over the Ty independent steps' top-3 tokens."""
    import itertools

    top = [np.argsort(-row)[:3] for row in log_probs]
    scored = [(float(sum(log_probs[t, tok] for t, tok in enumerate(c))), c) for c in itertools.product(*top)]
    scored.sort(key=lambda item: -item[0])
    return [("".join(MACHINE_VOCAB[i] for i in c), lp) for lp, c in scored[:n]]


def test_beam_search_n_best_is_exact_and_agrees_with_greedy(shipped):
    texts = ["1/10/14", "Saturday May 9 2018", "3rd of march 2001", "dd"]
    lists = shipped.n_best(texts, 3)
    log_probs = shipped.output_log_probs(texts)
    for text, got, lp in zip(texts, lists, log_probs):
        want = _enumerated_best(lp, 3)
        assert [iso for iso, _ in got] == [iso for iso, _ in want], text
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)
        # another batch (three copies of one input) runs the float32 model with other GEMM blockings
        np.testing.assert_allclose(
            shipped.log_prob([text] * 3, [iso for iso, _ in got]), [s for _, s in got], rtol=1e-5, atol=1e-6
        )
    greedy = shipped.translate(texts)
    assert [row[0][0] for row in lists] == greedy == shipped.translate(texts, beam_width=5)
    assert shipped.beam_search(texts, beam_width=4) == greedy
    assert shipped.n_best([], 2) == [] and shipped.translate([], beam_width=3) == []
    with pytest.raises(ValueError, match="beam_width"):
        shipped.n_best(texts, 3, beam_width=2)
    with pytest.raises(TypeError, match="x"):
        shipped.log_prob("May 9 2018", ["2018-05-09"])
    with pytest.raises(ValueError, match="same length"):
        shipped.log_prob(texts, ["2018-05-09"])


def test_error_analysis_blames_the_model_for_a_runner_up(shipped):
    texts = ["Saturday May 9 2018", "3rd of march 2001", "1/10/14"]
    right = [iso for iso, _ in (row[0] for row in shipped.n_best(texts, 2))]
    runner_up = [row[1][0] for row in shipped.n_best(texts, 2)]
    report = decode.error_analysis(shipped, texts, right, beam_width=3)
    assert report.counts == {"correct": 3, "beam search": 0, "model": 0}
    # with the runner-up as the "right" answer, the model prefers its own output: the model is at fault
    report = decode.error_analysis(shipped, texts, runner_up, beam_width=3)
    assert report.counts == {"correct": 0, "beam search": 0, "model": 3}
    one = decode.error_analysis(shipped, texts[0], runner_up[0], beam_width=3)
    assert one.verdict == "model" and one.records[0].log_p_star < one.records[0].log_p_hat
