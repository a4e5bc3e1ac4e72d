"""The jazz data set (seqcore.datasets.jazz) and the course's music model (seqcore.models.MusicLSTM)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import seqcore
from seqcore import nn
from seqcore.datasets.jazz import PROGRESSIONS, jazz_solos, realize_progression, training_windows
from seqcore.models.music_lstm import MusicLSTM
from seqcore.music import NoteToken, Vocabulary, chord_root, chord_tones, total_beats

# ---------------------------------------------------------------- data


def test_progressions_are_realized_in_any_key() -> None:
    assert realize_progression("ii-V-I", "Bb") == [
        ("Cm7", 4),
        ("F7", 4),
        ("Bbmaj7", 4),
        ("Bbmaj7", 4),
    ]
    assert realize_progression("minor-ii-V-i", "A")[:2] == [("Bm7b5", 4), ("E7b9", 4)]
    assert realize_progression("| Dm7 G7 | Cmaj7 |", "F", n_bars=3) == [
        ("Dm7", 2),
        ("G7", 2),
        ("Cmaj7", 4),
        ("Dm7", 2),
        ("G7", 2),
    ]
    assert realize_progression("| I7 bIII7 bVI7 bII7 |", "C") == [("C7", 1), ("Eb7", 1), ("Ab7", 1), ("Db7", 1)]
    for name in PROGRESSIONS:
        spans = realize_progression(name, "Eb")
        assert sum(d for _, d in spans) % 4 == 0
    with pytest.raises(ValueError, match="neither a known name"):
        realize_progression("bebop", "C")
    with pytest.raises(ValueError, match="key"):
        realize_progression("ii-V-I", "Cm")
    with pytest.raises(ValueError, match="evenly"):
        realize_progression("| Dm7 G7 C E F |", "C")
    with pytest.raises(ValueError, match="suffix"):
        realize_progression("| ii13 |", "C")


def test_jazz_solos_follow_the_grammar() -> None:
    solos = jazz_solos(12, n_bars=8, seed=1, keys=("C", "F", "Bb"))
    assert [s.key for s in solos[:4]] == ["C", "F", "Bb", "C"]
    on_strong_beats = 0
    for solo in solos:
        assert solo.n_bars == 8
        assert total_beats(solo.tokens) == 32
        assert all(60 <= t.pitch <= 84 for t in solo.tokens if t.pitch is not None)
        assert all((t.duration * 3).denominator == 1 for t in solo.tokens)  # the triplet-eighth (swing) grid
        assert not any(a.is_rest and b.is_rest for a, b in zip(solo.tokens, solo.tokens[1:]))
        beat = Fraction(0)
        for tok in solo.tokens:
            if tok.pitch is not None and beat.denominator == 1 and beat % 2 == 0:
                # notes on beats 1 and 3 are chord tones of the chord sounding
                tones = {(chord_root(tok.chord) + i) % 12 for i in chord_tones(tok.chord)}
                assert tok.pitch % 12 in tones, (str(tok), beat)
                on_strong_beats += 1
            beat += tok.duration
    assert on_strong_beats > 50
    notes = [t for s in solos for t in s.tokens if t.pitch is not None]
    assert len(notes) > 12 * 8 * 3  # a line, not a few notes
    durations = {t.duration for t in notes}
    assert {Fraction(1, 3), Fraction(2, 3), Fraction(1)} <= durations  # swung eighths and quarters


def test_jazz_solos_are_deterministic_and_seeded() -> None:
    a = jazz_solos(3, n_bars=4, progression="blues", seed=7)
    b = jazz_solos(3, n_bars=4, progression="blues", seed=7)
    c = jazz_solos(3, n_bars=4, progression="blues", seed=8)
    assert a == b and a != c
    assert [s.chords[0][0] for s in a] == ["C7", "F7", "Bb7"]
    with pytest.raises(ValueError, match="n_solos"):
        jazz_solos(0)
    with pytest.raises(ValueError, match="keys"):
        jazz_solos(1, keys="C")
    with pytest.raises(ValueError, match="pitch_range"):
        jazz_solos(1, pitch_range=(60, 65))
    with pytest.raises(ValueError, match="seed"):
        jazz_solos(1, seed=-1)


def test_training_windows_are_the_course_layout_shifted_by_one() -> None:
    seqs = [np.arange(10) % 7, np.array([3, 1, 4, 1, 5, 6])]
    X, Y = training_windows(seqs, Tx=5, n_values=8)
    assert X.shape == (6 + 2, 5, 8) and Y.shape == (5, 8, 8) and X.dtype == np.float32
    assert not X[:, 0].any()  # every window starts from the all-zero input, as in the course
    np.testing.assert_array_equal(Y[:-1], X[:, 1:].transpose(1, 0, 2))  # Y[t] = X[:, t + 1]
    np.testing.assert_array_equal(Y[:, 0].argmax(-1), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(Y[:, -1].argmax(-1), [1, 4, 1, 5, 6])  # the last window of the second sequence
    assert (X.sum(-1)[:, 1:] == 1).all() and (Y.sum(-1) == 1).all()
    X2, _ = training_windows(seqs, Tx=5, stride=2, max_windows=3)
    assert X2.shape == (3, 5, 7)
    X3, _ = training_windows(list(range(12)), Tx=4)  # one plain list of ids
    assert X3.shape == (9, 4, 12)
    with pytest.raises(ValueError, match="shorter than Tx=20"):
        training_windows(seqs, Tx=20)
    with pytest.raises(ValueError, match="n_values must be at least 7"):
        training_windows(seqs, Tx=3, n_values=5)
    with pytest.raises(ValueError, match="non-negative"):
        training_windows([np.array([1, -1, 2])], Tx=2)
    with pytest.raises(ValueError, match="int ids"):
        training_windows([np.array([0.5, 1.0])], Tx=2)


# ---------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def trained() -> tuple[MusicLSTM, np.ndarray, np.ndarray]:
    solos = jazz_solos(6, n_bars=4, seed=0)
    vocab = Vocabulary.build([s.tokens for s in solos])
    X, Y = training_windows([vocab.encode(s.tokens) for s in solos], Tx=12, n_values=len(vocab), max_windows=40)
    model = MusicLSTM(len(vocab), Tx=12, n_a=16, vocab=vocab, seed=0, info={"note": "test"})
    model.fit(X, Y, epochs=15, verbose=0)
    return model, X, Y


def test_music_lstm_is_the_course_model() -> None:
    model = MusicLSTM(90, seed=0)
    # Keras: LSTM 4 * (64 * (90 + 64) + 64) = 39,680 + Dense 64 * 90 + 90 = 5,850
    assert model.count_params() == 45_530
    keras_model = model.model
    assert [t.shape for t in keras_model.inputs] == [(None, 30, 90), (None, 64), (None, 64)]
    assert len(keras_model.outputs) == 30 and all(t.shape == (None, 90) for t in keras_model.outputs)
    kinds = [type(layer).__name__ for layer in keras_model.layers]
    assert kinds.count("LSTM") == 1 and kinds.count("Dense") == 1 and kinds.count("Reshape") == 1  # shared
    assert kinds.count("GetItem") == 30  # X[:, t, :] once per step
    lstm = keras_model.get_layer("lstm_cell")
    assert [w.shape for w in lstm.weights] == [(90, 256), (64, 256), (256,)]
    assert len(lstm._inbound) >= 30
    opt = keras_model.optimizer
    assert type(opt).__name__ == "Adam" and (opt.beta_1, opt.beta_2) == (0.9, 0.999)
    assert float(opt.learning_rate) == pytest.approx(0.01)
    x = np.zeros((2, 30, 90), np.float32)
    outs = keras_model.predict([x, np.zeros((2, 64)), np.zeros((2, 64))])
    assert len(outs) == 30 and outs[0].shape == (2, 90)
    np.testing.assert_allclose(outs[5].sum(-1), 1.0, rtol=1e-5)


def test_training_lowers_the_loss(trained: tuple[MusicLSTM, np.ndarray, np.ndarray]) -> None:
    model, X, Y = trained
    again = MusicLSTM(model.n_values, Tx=12, n_a=16, seed=0)
    history = again.fit(X, Y, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    zeros = np.zeros((len(X), 16), np.float32)
    trained_loss = model.model.evaluate([X, zeros, zeros], list(Y), verbose=0)
    assert (trained_loss[0] if isinstance(trained_loss, list) else trained_loss) < losses[0]


def test_generate_is_reproducible_under_a_seed(trained: tuple[MusicLSTM, np.ndarray, np.ndarray]) -> None:
    model = trained[0]
    a = model.generate(60, seed=3)
    assert a.dtype == np.int64 and a.shape == (60,) and 0 <= a.min() and a.max() < model.n_values
    np.testing.assert_array_equal(a, model.generate(60, seed=3))
    np.testing.assert_array_equal(a, model.generate(60, seed=np.random.default_rng(3)))
    assert not np.array_equal(a, model.generate(60, seed=4))
    hot = model.generate(200, temperature=5.0, seed=0)
    cold = model.generate(200, temperature=0.3, seed=0)
    assert len(set(hot.tolist())) > len(set(cold.tolist()))  # temperature spreads the choices


def test_temperature_to_zero_is_argmax(trained: tuple[MusicLSTM, np.ndarray, np.ndarray]) -> None:
    model = trained[0]
    greedy = model.generate(40, temperature=0)
    np.testing.assert_array_equal(greedy, model.generate(40, temperature=0, seed=123))  # no randomness left
    np.testing.assert_array_equal(greedy, model.generate(40, temperature=1e-6, seed=5))


def test_kernel_generation_equals_stepping_the_functional_graph(
    trained: tuple[MusicLSTM, np.ndarray, np.ndarray],
) -> None:
    model = trained[0]
    n, n_a, Ty = model.n_values, model.n_a, 25
    greedy = model.generate(Ty, temperature=0)
    # the course's inference model: the shared trained layers, argmax fed back through the graph
    inference = model.inference_model(Ty)
    zeros = np.zeros((1, n_a), np.float32)
    probs = inference.predict([np.zeros((1, 1, n), np.float32), zeros, zeros])
    np.testing.assert_array_equal([p[0].argmax() for p in probs], greedy)
    # the trained training graph, fed its own greedy choices (teacher forcing), picks the same values
    x = np.zeros((1, model.Tx, n), np.float32)
    for t in range(1, model.Tx):
        x[0, t, greedy[t - 1]] = 1
    outs = model.model.predict([x, zeros, zeros])
    np.testing.assert_array_equal([o[0].argmax() for o in outs], greedy[: model.Tx])
    # and sampled generation draws from exactly the graph's probabilities
    sampled = model.generate(8, seed=11)
    xs = np.zeros((1, model.Tx, n), np.float32)
    for t in range(1, 8):
        xs[0, t, sampled[t - 1]] = 1
    outs = model.model.predict([xs, zeros, zeros])
    rng = np.random.default_rng(11)
    for t in range(8):
        p = outs[t][0].astype(np.float64)
        assert rng.choice(n, p=p / p.sum()) == sampled[t]


def test_seed_tokens_prime_the_state(trained: tuple[MusicLSTM, np.ndarray, np.ndarray]) -> None:
    model = trained[0]
    assert model.vocab is not None
    primer_ids = model.generate(5, temperature=0)
    after = model.generate(6, temperature=0, seed_tokens=primer_ids)
    np.testing.assert_array_equal(after, model.generate(11, temperature=0)[5:])
    tokens = model.vocab.decode(primer_ids)
    np.testing.assert_array_equal(model.generate(6, temperature=0, seed_tokens=tokens), after)
    sampled = model.generate_tokens(10, seed=1)
    assert all(isinstance(t, NoteToken) and t in model.vocab for t in sampled)


def test_save_and_load_keep_weights_vocabulary_and_info(
    trained: tuple[MusicLSTM, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    model = trained[0]
    path = tmp_path / "music.safetensors"
    model.save(path)
    again = MusicLSTM.load(path)
    assert (again.n_values, again.Tx, again.n_a) == (model.n_values, model.Tx, model.n_a)
    assert again.vocab == model.vocab and again.info == {"note": "test"}
    np.testing.assert_array_equal(again.generate(50, seed=9), model.generate(50, seed=9))
    for mine, theirs in zip(model.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    plain = seqcore.load_model(path)  # an ordinary seqcore model file too
    assert plain.count_params() == model.count_params()
    # training continues from the saved optimizer state
    assert int(again.model.optimizer.iterations) == int(model.model.optimizer.iterations) > 0


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        MusicLSTM.load(tmp_path / "missing.safetensors")
    other = nn.Sequential([nn.Dense(2, input_shape=(3,))])
    other.save(tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a MusicLSTM"):
        MusicLSTM.load(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(ValueError, match="junk.safetensors"):
        MusicLSTM.load(tmp_path / "junk.safetensors")


def test_bad_arguments_are_named(trained: tuple[MusicLSTM, np.ndarray, np.ndarray]) -> None:
    model, X, Y = trained
    with pytest.raises(ValueError, match="n_values"):
        MusicLSTM(0)
    with pytest.raises(ValueError, match="vocab: has 1 tokens but n_values is 5"):
        MusicLSTM(5, vocab=Vocabulary([NoteToken(60, 1)]))
    with pytest.raises(TypeError, match="info"):
        MusicLSTM(5, info={"x": object()})
    with pytest.raises(ValueError, match=r"X: expected one-hot windows of shape \(m, 12, "):
        model.fit(X[:, :5], Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="Y: expected shape"):
        model.fit(X, Y.transpose(1, 0, 2), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(X, Y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(5, temperature=-1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(5, temperature=float("inf"))
    with pytest.raises(ValueError, match="length"):
        model.generate(0)
    with pytest.raises(ValueError, match="seed_tokens: ids must be in"):
        model.generate(5, seed_tokens=[model.n_values])
    with pytest.raises(ValueError, match="seed"):
        model.generate(5, seed=-2)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.generate(5, seed_tokens=[NoteToken(20, 1)])
    no_vocab = MusicLSTM(4, Tx=3, n_a=2)
    with pytest.raises(ValueError, match="no vocabulary"):
        no_vocab.generate_tokens(3)
