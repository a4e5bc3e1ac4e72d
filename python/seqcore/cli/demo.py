"""``seqcore demo``: train, evaluate, save and reload a sequence classifier, then time a step against PyTorch."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import numpy as np


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "demo",
        help="train an LSTM classifier end to end (fit, evaluate, save, reload) and time a step against torch",
        description="Train a bidirectional-LSTM classifier on generated, padded token sequences with the Keras-like "
        "API (progress bar, validation, early stopping), check the held-out accuracy, save it to one safetensors "
        "file and reload it with bit-identical predictions, then time the course-sized training step "
        "(Embedding 10k x 50 -> LSTM 128 -> LSTM 128 -> Dense 5, batch 32, T=10, Adam) against PyTorch.",
    )
    p.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    p.add_argument("--seed", type=int, default=0, help="seqcore.set_seed value (default 0)")
    p.add_argument("--save", metavar="PATH", help="where to save the model (default: a temporary folder)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch timing")
    p.set_defaults(handler=run)
    return p


def _train(args: argparse.Namespace) -> int:
    import seqcore
    from seqcore import nn
    from seqcore.datasets import first_marker

    seqcore.set_seed(args.seed)
    x, y = first_marker(n=3000, length=20, vocab=50, padded=True, seed=args.seed)
    x_train, y_train, x_test, y_test = x[:2400], y[:2400], x[2400:], y[2400:]
    model = nn.Sequential(
        [
            nn.Embedding(50, 16, mask_zero=True, input_shape=(20,)),
            nn.Bidirectional(nn.LSTM(32, return_sequences=True)),
            nn.LSTM(32),
            nn.Dropout(0.1),
            nn.Dense(3, activation="softmax"),
        ]
    )
    model.summary()
    model.compile(
        optimizer=seqcore.optim.Adam(0.01, clipnorm=5.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    start = time.perf_counter()
    stop = nn.callbacks.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_split=0.1, callbacks=[stop], verbose=1)
    loss, acc = model.evaluate(x_test, y_test)
    print(f"trained in {time.perf_counter() - start:.1f}s; held-out loss {loss:.4f}, accuracy {acc:.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.save or os.path.join(tmp, "demo.safetensors")
        model.save(path)
        again = seqcore.load_model(path)
        same = np.array_equal(model.predict(x_test), again.predict(x_test))
        print(f"saved to {path} ({os.path.getsize(path):,} bytes); reloaded predictions bit-identical: {same}")
    return 0 if same else 1


def _time(fn: Any, repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _compare_with_torch() -> None:
    try:
        import torch
    except ImportError:
        print("torch is not installed: skipping the side-by-side step timing (pip install 'seqcore[torch]')")
        return
    import seqcore
    from seqcore import nn

    B, T, V, E, H, C = 32, 10, 10000, 50, 128, 5
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, size=(B, T)), rng.integers(0, C, size=B)
    model = nn.Sequential(
        [nn.Embedding(V, E), nn.LSTM(H, return_sequences=True), nn.LSTM(H), nn.Dense(C, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    class Peer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(V, E)
            self.l1 = torch.nn.LSTM(E, H, batch_first=True)
            self.l2 = torch.nn.LSTM(H, H, batch_first=True)
            self.out = torch.nn.Linear(H, C)

        def forward(self, ids: Any) -> Any:
            seq, _ = self.l1(self.emb(ids))
            _, (h, _) = self.l2(seq)
            return self.out(h[0])

    torch.set_num_threads(seqcore.get_num_threads())
    peer = Peer()
    opt = torch.optim.Adam(peer.parameters(), 1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(peer(xt), yt).backward()
        opt.step()

    ours = _time(lambda: model.train_on_batch(x, y), 30)
    time.sleep(0.2)
    theirs = _time(torch_step, 30)
    print(
        f"course-sized training step: seqcore {ours * 1e3:.2f} ms, torch {theirs * 1e3:.2f} ms "
        f"(torch / seqcore = {theirs / ours:.2f}x; see benchmarks/ for the full comparison)"
    )


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        from .bench import UsageError

        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    code = _train(args)
    if not args.no_torch:
        _compare_with_torch()
    return code
