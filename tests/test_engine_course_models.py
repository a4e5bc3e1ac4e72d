"""The course's models build with this API and have the parameter counts their Keras summaries print."""

from __future__ import annotations

import numpy as np

from seqcore import nn


def test_emojifier_v2_parameter_counts() -> None:
    emb = nn.Embedding.from_pretrained(np.zeros((400001, 50), np.float32))
    s = nn.Input(shape=(10,), dtype="int32")
    x = nn.LSTM(128, return_sequences=True)(emb(s))
    x = nn.LSTM(128)(nn.Dropout(0.5)(x))
    out = nn.Activation("softmax")(nn.Dense(5)(nn.Dropout(0.5)(x)))
    model = nn.Model(s, out)
    assert model.count_params() == 20_223_927
    assert sum(w.size for w in model.trainable_weights) == 223_877


def test_attention_translation_model_parameter_count_and_shared_layers() -> None:
    Tx, Ty, n_a, n_s, human_vocab, machine_vocab = 30, 10, 32, 64, 37, 11
    repeator, concatenator = nn.RepeatVector(Tx), nn.Concatenate(axis=-1)
    densor1, densor2 = nn.Dense(10, activation="tanh"), nn.Dense(1, activation="relu")
    activator, dotor = nn.Softmax(axis=1), nn.Dot(axes=1)
    post_lstm, output_layer = nn.LSTM(n_s, return_state=True), nn.Dense(machine_vocab, activation="softmax")
    X = nn.Input(shape=(Tx, human_vocab))
    s0, c0 = nn.Input(shape=(n_s,), name="s0"), nn.Input(shape=(n_s,), name="c0")
    a = nn.Bidirectional(nn.LSTM(n_a, return_sequences=True))(X)
    s, c, outputs = s0, c0, []
    for _ in range(Ty):
        energies = densor2(densor1(concatenator([a, repeator(s)])))
        context = dotor([activator(energies), a])
        _, s, c = post_lstm(context, initial_state=[s, c])
        outputs.append(output_layer(s))
    model = nn.Model([X, s0, c0], outputs)
    assert model.count_params() == 52_960
    assert len(model.outputs) == Ty


def test_trigger_word_model_parameter_counts() -> None:
    X_input = nn.Input(shape=(5511, 101))
    x = nn.Conv1D(196, 15, strides=4)(X_input)
    x = nn.Dropout(0.8)(nn.Activation("relu")(nn.BatchNormalization()(x)))
    x = nn.BatchNormalization()(nn.Dropout(0.8)(nn.GRU(128, return_sequences=True)(x)))
    x = nn.Dropout(0.8)(nn.BatchNormalization()(nn.Dropout(0.8)(nn.GRU(128, return_sequences=True)(x))))
    out = nn.TimeDistributed(nn.Dense(1, activation="sigmoid"))(x)
    model = nn.Model(X_input, out)
    assert model.outputs[0].shape == (None, 1375, 1)
    assert model.count_params() == 523_329
    assert sum(w.size for w in model.non_trainable_weights) == 904
