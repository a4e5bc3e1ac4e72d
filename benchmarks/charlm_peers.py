"""The character-level language model in seqcore and the same model in PyTorch, with the same weights.

Shared by ``test_charlm.py`` (pytest-benchmark) and ``charlm_compare.py`` (one side-by-side table).
Workloads, each run the same way on both sides:

- ``course``: the course's training loop, one name per step: forward, summed cross-entropy, backward,
  every gradient clamped to [-5, 5], SGD(0.01).  Throughput in characters per second.
- ``batched``: mini-batches of 32 padded names, mean cross-entropy over the real characters, Adam
  with clipnorm 5.  (PyTorch runs the padding through the recurrence and masks it out of the loss;
  the real positions' values and gradients are the same.)
- ``sample``: names drawn one at a time, one character per step until the end-of-name character or
  50 characters (softmax at temperature 1), as the course samples.  Names per second.
- ``sample_batch``: 256 names drawn side by side.

``check_*`` functions validate a workload before anything is timed: same weights in, same loss,
gradients and updated weights out (float32, rtol 1e-4), or greedy samples that agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import seqcore
from seqcore import optim
from seqcore.datasets import dinosaur_names
from seqcore.models import CharLM
from seqcore.text import CharVocab

CELLS = ("rnn", "lstm", "gru")
UNITS = 50  # the course's n_a
EMBEDDING = None  # one-hot input, as the course
BATCH = 32
SAMPLE_BATCH = 256
MAX_LENGTH = 50


@dataclass(frozen=True)
class Setup:
    cell: str
    units: int = UNITS
    embedding_dim: int | None = EMBEDDING


def names() -> list[str]:
    return dinosaur_names()


def seqcore_model(setup: Setup, seed: int = 0) -> CharLM:
    return CharLM(
        CharVocab.from_text(names()), cell=setup.cell, units=setup.units, embedding_dim=setup.embedding_dim, seed=seed
    )


# ---------------------------------------------------------------- the PyTorch peer


def _torch_gates(cell: str, a: np.ndarray, H: int) -> np.ndarray:
    """Keras gate blocks along the last axis -> torch's order (GRU z, r, h -> r, z, n; others unchanged)."""
    if cell != "gru":
        return a
    z, r, h = a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]
    return np.concatenate([r, z, h], axis=-1)


def torch_model(model: CharLM) -> Any:
    """A torch.nn.Module computing the same logits as ``model`` from ids [B,T], weights copied from it."""
    import torch

    V = model.vocab.size
    kinds = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}

    class TorchCharLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.one_hot = model.embedding is None
            self.embedding = None if self.one_hot else torch.nn.Embedding(V, model.embedding_dim)
            width = V if self.one_hot else model.embedding_dim
            layers = []
            for u in model.units:
                layers.append(kinds[model.cell](width, u, batch_first=True))
                width = u
            self.rnns = torch.nn.ModuleList(layers)
            self.out = torch.nn.Linear(width, V)

        def inputs(self, ids: Any) -> Any:
            if self.one_hot:
                return torch.nn.functional.one_hot(ids, V).to(self.out.weight.dtype)
            return self.embedding(ids)

        def forward(self, ids: Any, states: list[Any] | None = None) -> tuple[Any, list[Any]]:
            h = self.inputs(ids)
            new_states = []
            for k, rnn in enumerate(self.rnns):
                h, s = rnn(h, None if states is None else states[k])
                new_states.append(s)
            return self.out(h), new_states

    peer = TorchCharLM()
    with torch.no_grad():
        if model.embedding is not None:
            peer.embedding.weight.copy_(torch.from_numpy(model.embedding.embeddings.data.copy()))
        for layer, rnn in zip(model.recurrent, peer.rnns):
            H = layer.units
            W, U, b = layer.kernel.data, layer.recurrent_kernel.data, layer.bias.data
            rnn.weight_ih_l0.copy_(torch.from_numpy(_torch_gates(model.cell, W, H).T.copy()))
            rnn.weight_hh_l0.copy_(torch.from_numpy(_torch_gates(model.cell, U, H).T.copy()))
            if model.cell == "gru":  # reset_after: separate input and recurrent biases
                rnn.bias_ih_l0.copy_(torch.from_numpy(_torch_gates("gru", b[0], H).copy()))
                rnn.bias_hh_l0.copy_(torch.from_numpy(_torch_gates("gru", b[1], H).copy()))
            else:
                rnn.bias_ih_l0.copy_(torch.from_numpy(b.copy()))
                rnn.bias_hh_l0.zero_()
                rnn.bias_hh_l0.requires_grad_(False)  # one bias, as Keras: a second would double its step
        peer.out.weight.copy_(torch.from_numpy(model.dense.kernel.data.T.copy()))
        peer.out.bias.copy_(torch.from_numpy(model.dense.bias.data.copy()))
    return peer


# ---------------------------------------------------------------- workloads


def course_items(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    pool = names()
    return [pool[k] for k in rng.integers(0, len(pool), size=n)]


def characters(items: list[str]) -> int:
    """Predicted characters (each name's end included): the unit of training throughput."""
    return sum(len(item) + 1 for item in items)


def seqcore_course(model: CharLM, items: list[str]) -> Any:
    """The course loop over ``items`` (in order; no sampling)."""
    opt = optim.SGD(learning_rate=0.01, clipvalue=5.0)
    variables = model.trainable_weights()
    encoded = [model.encode_items([item])[:2] for item in items]  # as fit_course does, and torch_course
    ones = [np.ones(x.shape) for x, _ in encoded]

    def run() -> None:
        for (x, y), w in zip(encoded, ones):
            _, grads = model._forward_backward(x, y, None, w)
            opt.apply_gradients(zip(grads, variables))

    return run


def torch_course(peer: Any, model: CharLM, items: list[str]) -> Any:
    import torch

    params = [p for p in peer.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01)
    batches = []
    for item in items:
        x, y, _ = model.encode_items([item])
        batches.append((torch.from_numpy(x), torch.from_numpy(y)))

    def run() -> None:
        for x, y in batches:
            opt.zero_grad()
            logits, _ = peer(x)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
            )
            loss.backward()
            for p in params:
                p.grad.clamp_(-5.0, 5.0)
            opt.step()

    return run


def batched_items(n_batches: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pool = names()
    return [[pool[k] for k in rng.integers(0, len(pool), size=BATCH)] for _ in range(n_batches)]


def seqcore_batched(model: CharLM, batches: list[list[str]]) -> Any:
    opt = optim.Adam(learning_rate=0.005, clipnorm=5.0)
    variables = model.trainable_weights()

    data = []
    for items in batches:  # encoded up front, as torch_batched does
        x, y, lengths = model.encode_items(items)
        mask = (np.arange(x.shape[1])[None, :] < lengths[:, None]).astype(np.float64)
        data.append((x, y, lengths, mask / mask.sum()))

    def run() -> None:
        for x, y, lengths, w in data:
            _, grads = model._forward_backward(x, y, lengths, w)
            opt.apply_gradients(zip(grads, variables))

    return run


def torch_batched(peer: Any, model: CharLM, batches: list[list[str]]) -> Any:
    import torch

    params = [p for p in peer.parameters() if p.requires_grad]
    # Keras adds epsilon to sqrt(v), torch to sqrt(v / (1 - beta_2**t)): this is Keras's 1e-7 in torch's
    # formula at step 1, the step check_training compares (it changes no work that is timed)
    opt = torch.optim.Adam(params, lr=0.005, eps=1e-7 / math.sqrt(1.0 - 0.999))
    data = []
    for items in batches:
        x, y, lengths = model.encode_items(items)
        mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
        data.append((torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)))

    def run() -> None:
        for x, y, mask in data:
            opt.zero_grad()
            logits, _ = peer(x)
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
            loss = (losses * mask).sum() / mask.sum()
            loss.backward()
            for p in params:  # Keras clipnorm: each gradient's own norm
                torch.nn.utils.clip_grad_norm_([p], 5.0)
            opt.step()

    return run


def seqcore_sample(model: CharLM, n: int, batch_size: int, seed: int = 0) -> Any:
    return lambda: model.sample(n, batch_size=batch_size, max_length=MAX_LENGTH, seed=seed)


def torch_sample(peer: Any, model: CharLM, n: int, batch_size: int, seed: int = 0, temperature: float = 1.0) -> Any:
    """What a PyTorch user writes: step the modules one character at a time under no_grad, draw with
    torch.multinomial, stop each row at the end-of-name character or MAX_LENGTH characters."""
    import torch

    eos = model.vocab.eos_id

    def draw(batch: int, gen: Any) -> list[list[int]]:
        ids = torch.full((batch, 1), eos, dtype=torch.int64)
        states = None
        steps = []
        alive = torch.ones(batch, dtype=torch.bool)
        for _ in range(MAX_LENGTH):
            logits, states = peer(ids, states)
            if temperature == 0.0:
                nxt = logits[:, -1].argmax(dim=-1)
            else:
                probs = torch.softmax(logits[:, -1] / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
            alive &= nxt != eos
            if not bool(alive.any()):
                break
            steps.append(nxt)
            ids = nxt[:, None]
        table = torch.stack(steps, dim=1).numpy() if steps else np.zeros((batch, 0), np.int64)
        rows = []
        for row in table:  # each row up to its first end-of-name
            ends = np.flatnonzero(row == eos)
            rows.append(row[: ends[0]] if ends.size else row)
        return rows

    def run() -> list[str]:
        gen = torch.Generator().manual_seed(seed)
        out: list[str] = []
        with torch.no_grad():
            for lo in range(0, n, batch_size):
                out.extend(model.vocab.decode(r) for r in draw(min(batch_size, n - lo), gen))
        return out

    return run


# ---------------------------------------------------------------- validation


def _close(what: str, ours: np.ndarray, theirs: np.ndarray, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    if not np.allclose(ours, theirs, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64))))
        raise AssertionError(f"{what}: seqcore and torch disagree (max abs difference {worst:.3g})")


def _torch_weights_as_keras(peer: Any, model: CharLM) -> list[np.ndarray]:
    """The peer's weights in seqcore's trainable-weight order and layout (for comparing updates)."""
    out = []
    if model.embedding is not None:
        out.append(peer.embedding.weight.detach().numpy())
    for layer, rnn in zip(model.recurrent, peer.rnns):
        H = layer.units
        W = _torch_gates(model.cell, rnn.weight_ih_l0.detach().numpy().T, H)  # the r/z swap is its own inverse
        U = _torch_gates(model.cell, rnn.weight_hh_l0.detach().numpy().T, H)
        bih, bhh = rnn.bias_ih_l0.detach().numpy(), rnn.bias_hh_l0.detach().numpy()
        b = np.stack([_torch_gates("gru", bih, H), _torch_gates("gru", bhh, H)]) if model.cell == "gru" else bih + bhh
        out += [W, U, b]
    out += [peer.out.weight.detach().numpy().T, peer.out.bias.detach().numpy()]
    return out


def check_training(setup: Setup, workload: str) -> None:
    """Steps of ``workload`` from the same weights (two of the course's SGD, Adam's first): the updated
    weights must agree."""
    model = seqcore_model(setup)
    peer = torch_model(model)
    if workload == "course":
        items = course_items(2, seed=1)
        ours, theirs = seqcore_course(model, items), torch_course(peer, model, items)
    else:
        batches = batched_items(1, seed=1)
        ours, theirs = seqcore_batched(model, batches), torch_batched(peer, model, batches)
    ours()
    theirs()
    for k, (a, b) in enumerate(zip(model.model.get_weights(), _torch_weights_as_keras(peer, model))):
        _close(f"{setup.cell} {workload}: weight {k} after the steps", a, b)


def check_sampling(setup: Setup) -> None:
    """Greedy names agree (temperature 0 takes sampling's randomness out of the comparison)."""
    import torch

    model = seqcore_model(setup)
    model.fit_course(names(), 300, n_samples=0)  # past near-uniform logits, whose argmax float32 noise could flip
    peer = torch_model(model)
    ours = model.sample(4, temperature=0.0, max_length=MAX_LENGTH, batch_size=1)
    with torch.no_grad():
        theirs = torch_sample(peer, model, 4, 1, temperature=0.0)()
    if ours != theirs:
        raise AssertionError(f"{setup.cell}: greedy samples differ: seqcore {ours} vs torch {theirs}")


def threads() -> int:
    return seqcore.get_num_threads()
