"""Peers and validation for the Transformer training-step benchmark (``test_transformer_step.py``,
``transformer_compare.py``).

The model is the course's Transformer (``seqcore.nn.Transformer``, post-norm): 2 encoder and 2 decoder layers,
d_model 128, 4 heads (key_dim = d_model by default, as the course's ``MultiHeadAttention(num_heads, key_dim=d_model)``;
``KEY_DIM`` = 32 gives the original paper's d_model / h split), dff
512, dropout 0.1, source vocabulary 40, target vocabulary 12; batches of 64 sentences of 30 source ids -> 10 target
ids with random lengths (padding id 0), the encoder padding mask, the look-ahead mask AND the target padding mask.
One step = forward, mean cross-entropy of the logits over the real target tokens, backward, Adam update.

Peers:

- ``seqcore``: ``nn.Transformer`` called on the ids and masks, ``functional.softmax_cross_entropy`` with the target
  mask, ``optim.Adam.apply_gradients``.
- ``torch``: the same network written with ``torch.nn`` (``Linear``, ``Embedding``, ``LayerNorm``, ``Dropout``) and
  ``F.scaled_dot_product_attention`` (its fused CPU kernel, dropout on the probabilities), ``torch.optim.Adam`` with
  Keras's epsilon rewritten for torch's formula (as in ``dates_peers``).

Validation (``check_step``): both start from the same weights (seqcore's, converted), dropout 0, one step on the
same batch: the same loss and the same updated weights to ``RTOL`` (float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import seqcore
from seqcore import nn, optim
from seqcore.autograd import functional as F

LAYERS, D_MODEL, HEADS, DFF = 2, 128, 4, 512
KEY_DIM = D_MODEL  # per head, the course's choice; transformer_compare.py --key-dim 32 gives the d_model/h split
SRC_VOCAB, TAR_VOCAB, SRC_LEN, TAR_LEN, BATCH = 40, 12, 30, 10, 64
DROPOUT, LR, BETA_2, KERAS_EPS = 0.1, 1e-3, 0.999, 1e-7
TORCH_EPS = KERAS_EPS / math.sqrt(1.0 - BETA_2)
RTOL = 2e-4


@dataclass
class Batch:
    inp: np.ndarray  # [B, Ls] source ids, 0 = padding
    tar_in: np.ndarray  # [B, Lt] decoder input ids (start token first)
    tar_out: np.ndarray  # [B, Lt] the ids to predict
    enc_mask: np.ndarray  # [B, 1, Ls] bool
    look_ahead: np.ndarray  # [B, Lt, Lt] bool
    weight: np.ndarray  # [B, Lt] 1 at real target tokens


def batches(n: int, seed: int = 0) -> list[Batch]:
    """``n`` batches of random sentences with random lengths, post-padded with 0."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        inp = rng.integers(1, SRC_VOCAB, size=(BATCH, SRC_LEN))
        inp[np.arange(SRC_LEN)[None, :] >= rng.integers(SRC_LEN // 2, SRC_LEN + 1, size=(BATCH, 1))] = 0
        tar = rng.integers(2, TAR_VOCAB, size=(BATCH, TAR_LEN + 1))
        tar[:, 0] = 1  # start token
        tar[np.arange(TAR_LEN + 1)[None, :] > rng.integers(TAR_LEN // 2, TAR_LEN + 1, size=(BATCH, 1))] = 0
        tar_in, tar_out = tar[:, :-1], tar[:, 1:]
        look = nn.create_look_ahead_mask(TAR_LEN) & nn.create_padding_mask(tar_in)
        out.append(Batch(inp, tar_in, tar_out, nn.create_padding_mask(inp), look, (tar_out != 0).astype(np.float32)))
    return out


# ---------------------------------------------------------------- seqcore


def seqcore_model(seed: int = 0, dropout: float = DROPOUT) -> tuple[nn.Transformer, optim.Adam]:
    seqcore.set_seed(seed)
    model = nn.Transformer(
        LAYERS, D_MODEL, HEADS, DFF, SRC_VOCAB, TAR_VOCAB, max(SRC_LEN, TAR_LEN), dropout, key_dim=KEY_DIM
    )
    return model, optim.Adam(learning_rate=LR, beta_2=BETA_2, epsilon=KERAS_EPS)


def seqcore_step(peer: tuple[nn.Transformer, optim.Adam], batch: Batch) -> float:
    model, opt = peer
    logits, _ = model(batch.inp, batch.tar_in, True, batch.enc_mask, batch.look_ahead, batch.enc_mask)
    loss = F.softmax_cross_entropy(logits, batch.tar_out, mask=batch.weight).sum() / float(batch.weight.sum())
    loss.backward()
    weights = model.trainable_weights
    opt.apply_gradients([(w.grad, w) for w in weights])
    for w in weights:
        w.grad = None
    return float(loss.item())


# ---------------------------------------------------------------- torch


def _torch_classes() -> Any:
    import torch
    import torch.nn.functional as TF

    class MHA(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            inner = HEADS * KEY_DIM
            self.q, self.k, self.v = (torch.nn.Linear(D_MODEL, inner) for _ in range(3))
            self.o = torch.nn.Linear(inner, D_MODEL)
            self.p = DROPOUT_P[0]

        def forward(self, xq: Any, xkv: Any, mask: Any) -> Any:
            B, Lq, _ = xq.shape
            Lk = xkv.shape[1]
            q = self.q(xq).view(B, Lq, HEADS, KEY_DIM).transpose(1, 2)
            k = self.k(xkv).view(B, Lk, HEADS, KEY_DIM).transpose(1, 2)
            v = self.v(xkv).view(B, Lk, HEADS, KEY_DIM).transpose(1, 2)
            p = self.p if self.training else 0.0
            o = TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            return self.o(o.transpose(1, 2).reshape(B, Lq, HEADS * KEY_DIM))

    def ffn() -> Any:
        return torch.nn.Sequential(torch.nn.Linear(D_MODEL, DFF), torch.nn.ReLU(), torch.nn.Linear(DFF, D_MODEL))

    def norm() -> Any:
        return torch.nn.LayerNorm(D_MODEL, eps=1e-6)

    class EncoderLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha, self.ffn, self.ln1, self.ln2 = MHA(), ffn(), norm(), norm()
            self.drop1, self.drop2 = torch.nn.Dropout(DROPOUT_P[0]), torch.nn.Dropout(DROPOUT_P[0])

        def forward(self, x: Any, mask: Any) -> Any:
            x = self.ln1(x + self.drop1(self.mha(x, x, mask)))
            return self.ln2(x + self.drop2(self.ffn(x)))

    class DecoderLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha1, self.mha2, self.ffn = MHA(), MHA(), ffn()
            self.ln1, self.ln2, self.ln3 = norm(), norm(), norm()
            self.drops = torch.nn.ModuleList(torch.nn.Dropout(DROPOUT_P[0]) for _ in range(3))

        def forward(self, x: Any, enc: Any, look: Any, pad: Any) -> Any:
            x = self.ln1(x + self.drops[0](self.mha1(x, x, look)))
            x = self.ln2(x + self.drops[1](self.mha2(x, enc, pad)))
            return self.ln3(x + self.drops[2](self.ffn(x)))

    class Transformer(torch.nn.Module):
        def __init__(self, pos: np.ndarray) -> None:
            super().__init__()
            self.src_emb = torch.nn.Embedding(SRC_VOCAB, D_MODEL)
            self.tar_emb = torch.nn.Embedding(TAR_VOCAB, D_MODEL)
            self.enc = torch.nn.ModuleList(EncoderLayer() for _ in range(LAYERS))
            self.dec = torch.nn.ModuleList(DecoderLayer() for _ in range(LAYERS))
            self.final = torch.nn.Linear(D_MODEL, TAR_VOCAB)
            self.drop_src, self.drop_tar = torch.nn.Dropout(DROPOUT_P[0]), torch.nn.Dropout(DROPOUT_P[0])
            self.register_buffer("pos", torch.from_numpy(pos))

        def forward(self, inp: Any, tar: Any, enc_mask: Any, look: Any) -> Any:
            scale = math.sqrt(D_MODEL)
            x = self.drop_src(self.src_emb(inp) * scale + self.pos[:, : inp.shape[1]])
            for layer in self.enc:
                x = layer(x, enc_mask)
            y = self.drop_tar(self.tar_emb(tar) * scale + self.pos[:, : tar.shape[1]])
            for layer in self.dec:
                y = layer(y, x, look, enc_mask)
            return self.final(y)

    return Transformer


DROPOUT_P = [DROPOUT]  # the torch modules read it when built (validation builds them with 0)


def torch_model(peer: tuple[nn.Transformer, optim.Adam], dropout: float = DROPOUT) -> tuple[Any, Any]:
    """(module, optimizer): a torch copy of the seqcore model's current weights."""
    import torch

    model = peer[0]
    DROPOUT_P[0] = dropout
    net = _torch_classes()(model.encoder._pos_encoding)
    DROPOUT_P[0] = DROPOUT
    state: dict[str, np.ndarray] = {}

    def linear(prefix: str, kernel: np.ndarray, bias: Any) -> None:
        """kernel: [in, out] (Keras) -> torch's weight [out, in]."""
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = kernel.T, bias.data.reshape(-1)

    def mha(prefix: str, layer: Any) -> None:
        for name, k, b in (
            ("q", layer.query_kernel, layer.query_bias),
            ("k", layer.key_kernel, layer.key_bias),
            ("v", layer.value_kernel, layer.value_bias),
        ):
            linear(f"{prefix}.{name}", k.data.reshape(k.shape[0], -1), b)  # [D,h,kd] -> [D, h*kd]
        o = layer.output_kernel
        linear(f"{prefix}.o", o.data.reshape(-1, o.shape[-1]), layer.output_bias)  # [h,vd,D] -> [h*vd, D]

    def block(prefix: str, layer: Any, mhas: list[tuple[str, Any]], norms: list[tuple[str, Any]]) -> None:
        for name, m in mhas:
            mha(f"{prefix}.{name}", m)
        linear(f"{prefix}.ffn.0", layer.ffn_hidden.kernel.data, layer.ffn_hidden.bias)
        linear(f"{prefix}.ffn.2", layer.ffn_output.kernel.data, layer.ffn_output.bias)
        for name, ln in norms:
            state[f"{prefix}.{name}.weight"], state[f"{prefix}.{name}.bias"] = ln.gamma.data, ln.beta.data

    state["src_emb.weight"] = model.encoder.embedding.embeddings.data
    state["tar_emb.weight"] = model.decoder.embedding.embeddings.data
    for i, layer in enumerate(model.encoder.enc_layers):
        block(f"enc.{i}", layer, [("mha", layer.mha)], [("ln1", layer.layernorm1), ("ln2", layer.layernorm2)])
    for i, layer in enumerate(model.decoder.dec_layers):
        norms = [("ln1", layer.layernorm1), ("ln2", layer.layernorm2), ("ln3", layer.layernorm3)]
        block(f"dec.{i}", layer, [("mha1", layer.mha1), ("mha2", layer.mha2)], norms)
    linear("final", model.final_layer.kernel.data, model.final_layer.bias)
    state["pos"] = model.encoder._pos_encoding
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()})
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, BETA_2), eps=TORCH_EPS)
    return net, opt


def torch_step(peer: tuple[Any, Any], batch: Batch) -> float:
    import torch
    import torch.nn.functional as TF

    net, opt = peer
    inp, tar_in = torch.from_numpy(batch.inp), torch.from_numpy(batch.tar_in)
    enc_mask = torch.from_numpy(batch.enc_mask[:, None])  # [B,1,1,Ls]: True = may attend (SDPA's convention)
    look = torch.from_numpy(batch.look_ahead[:, None])
    target = torch.from_numpy(np.where(batch.tar_out == 0, -100, batch.tar_out))  # -100: ignored
    opt.zero_grad()
    logits = net(inp, tar_in, enc_mask, look)
    loss = TF.cross_entropy(logits.reshape(-1, TAR_VOCAB), target.reshape(-1), ignore_index=-100)
    loss.backward()
    opt.step()
    return float(loss.item())


# ---------------------------------------------------------------- validation


def check_step(seed: int = 0) -> None:
    """Both peers from the same weights, dropout 0, one batch: the same loss and the same gradients of every weight.

    Gradients, not Adam-updated weights: Adam's first step is about +-LR per element whatever the gradient's size,
    so weights whose exact gradient is ~0 (the key biases': softmax ignores a per-row shift) move by rounding noise.
    """
    import torch
    import torch.nn.functional as TF

    ours = seqcore_model(seed, dropout=0.0)
    net, _ = torch_model(ours, dropout=0.0)
    batch = batches(1, seed=seed + 1)[0]
    model = ours[0]
    logits, _ = model(batch.inp, batch.tar_in, True, batch.enc_mask, batch.look_ahead, batch.enc_mask)
    loss = F.softmax_cross_entropy(logits, batch.tar_out, mask=batch.weight).sum() / float(batch.weight.sum())
    loss.backward()
    target = torch.from_numpy(np.where(batch.tar_out == 0, -100, batch.tar_out))
    t_logits = net(
        torch.from_numpy(batch.inp),
        torch.from_numpy(batch.tar_in),
        torch.from_numpy(batch.enc_mask[:, None]),
        torch.from_numpy(batch.look_ahead[:, None]),
    )
    t_loss = TF.cross_entropy(t_logits.reshape(-1, TAR_VOCAB), target.reshape(-1), ignore_index=-100)
    t_loss.backward()
    if abs(loss.item() - t_loss.item()) > RTOL * abs(loss.item()):
        raise AssertionError(f"loss: seqcore {loss.item()} vs torch {t_loss.item()}")
    for w in model.weights:  # seqcore's gradients in torch's layout: convert them as if they were the weights
        w.data, w.grad = w.grad, w.data
    try:
        ours_grads = torch_model(ours, dropout=0.0)[0].state_dict()
    finally:
        for w in model.weights:
            w.data, w.grad = w.grad, None
    for name, p in net.named_parameters():
        got, want = ours_grads[name].numpy(), p.grad.numpy()
        err = float(np.max(np.abs(got - want)))
        if err > 10 * RTOL * float(np.max(np.abs(want))) + 1e-7:
            raise AssertionError(f"gradient of {name}: max |torch - seqcore| = {err:.3g}")
