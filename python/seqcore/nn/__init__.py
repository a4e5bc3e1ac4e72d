"""Keras-like layers and models: ``from seqcore import nn``.

model = nn.Sequential([nn.Embedding(10000, 50), nn.LSTM(128), nn.Dense(5, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=3)
"""

from __future__ import annotations

from . import activations, callbacks, initializers
from .attention import (
    AttentionScores,
    AttentionWeights,
    MultiHeadAttention,
    create_look_ahead_mask,
    create_padding_mask,
    positional_encoding,
)
from .conv import Conv1D, GlobalAveragePooling1D, GlobalMaxPooling1D
from .core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GetItem,
    Lambda,
    Permute,
    RepeatVector,
    Reshape,
    Softmax,
    TimeDistributed,
)
from .device import to_device
from .layer import Input, InputLayer, KerasTensor, Layer, clear_session
from .merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .model import Model, Sequential
from .normalization import BatchNormalization, LayerNormalization
from .recurrent import GRU, LSTM, RNN, Bidirectional, SimpleRNN
from .saving import load_model
from .serialization import register_layer
from .transformer import Decoder, DecoderLayer, Encoder, EncoderLayer, Transformer

__all__ = [
    "to_device",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "Add",
    "AttentionScores",
    "AttentionWeights",
    "Average",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Decoder",
    "DecoderLayer",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Encoder",
    "EncoderLayer",
    "Flatten",
    "GetItem",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "Input",
    "InputLayer",
    "KerasTensor",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "Maximum",
    "Minimum",
    "Model",
    "MultiHeadAttention",
    "Multiply",
    "Permute",
    "RepeatVector",
    "Reshape",
    "Sequential",
    "SimpleRNN",
    "Softmax",
    "Subtract",
    "TimeDistributed",
    "Transformer",
    "activations",
    "callbacks",
    "clear_session",
    "create_look_ahead_mask",
    "create_padding_mask",
    "initializers",
    "load_model",
    "positional_encoding",
    "register_layer",
]
