"""``seqcore demo``: the end-to-end classifier demo (default), or ``seqcore demo gradients``.

``seqcore demo [classifier]`` trains, evaluates, saves and reloads a sequence classifier, then
times a step against PyTorch.  ``seqcore demo gradients`` shows vanishing and exploding
gradients: how much gradient reaches each time step of a SimpleRNN, an LSTM and a GRU at
initialization, and gradient clipping taming an exploding SimpleRNN (a PNG and a text summary).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._args import check_output_path, require_matplotlib

DEMOS = ("classifier", "gradients")
MAX_LENGTH = 200  # keeps the gradients demo to seconds (T=200: ~6 s); the effect is plain long before

# the gradients demo's task and models (tests build the same ones through these functions)
VOCAB, CLASSES, EMBED, UNITS, PROBE_BATCH = 20, 3, 16, 32, 256
CELLS = ("SimpleRNN", "LSTM", "GRU")
EXPLODE_GAIN, EXPLODE_LR, CLIP, TRAIN_STEPS, TRAIN_BATCH = 2.0, 0.1, 1.0, 40, 64


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "demo",
        help="train an LSTM classifier end to end (fit, evaluate, save, reload) and time a step against torch; "
        "'seqcore demo gradients' plots vanishing/exploding gradients",
        description="classifier (default): train a bidirectional-LSTM classifier on generated, padded token "
        "sequences with the Keras-like API (progress bar, validation, early stopping), check the held-out accuracy, "
        "save it to one safetensors file and reload it with bit-identical predictions, then time the course-sized "
        "training step (Embedding 10k x 50 -> LSTM 128 -> LSTM 128 -> Dense 5, batch 32, T=10, Adam) against "
        "PyTorch.  gradients: plot log10 ||dL/dh_t|| against the time step t for a SimpleRNN, an LSTM and a GRU of "
        "the same size at initialization on a long-dependency task, and the global gradient norm of an exploding "
        "SimpleRNN before and after clipping, to a PNG (needs matplotlib), with a text summary.",
    )
    p.add_argument(
        "which", nargs="?", default="classifier", choices=DEMOS, help="which demo to run (default: classifier)"
    )
    p.add_argument("--epochs", type=int, default=None, help="classifier: training epochs (default 6)")
    p.add_argument("--seed", type=int, default=0, help="seqcore.set_seed value (default 0)")
    p.add_argument("--save", metavar="PATH", help="classifier: where to save the model (default: a temporary folder)")
    p.add_argument("--no-torch", action="store_true", help="classifier: skip the PyTorch timing")
    p.add_argument("--out", metavar="PATH", default=None, help="gradients: the PNG to write (default gradients.png)")
    p.add_argument("--length", type=int, default=None, help="gradients: sequence length T (default 50)")
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


def _run_classifier(args: argparse.Namespace) -> int:
    from .bench import UsageError

    for option, value in (("--out", args.out), ("--length", args.length)):
        if value is not None:
            raise UsageError(f"{option} applies to 'seqcore demo gradients' only")
    if args.epochs is None:
        args.epochs = 6
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    code = _train(args)
    if not args.no_torch:
        _compare_with_torch()
    return code


# ---------------------------------------------------------------- seqcore demo gradients


def gradient_task(length: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradients demo's long-dependency task: first_marker sequences of ``length`` tokens."""
    from seqcore.datasets import first_marker

    return first_marker(n=n, length=length, vocab=VOCAB, classes=CLASSES, seed=seed)


def gradient_model(cell: str, seed: int, *, unit_inputs: bool = True, recurrent_gain: float = 1.0) -> Any:
    """Embedding(20, 16) -> ``cell``(32) -> Dense(3) logits, compiled with sparse cross-entropy (SGD).

    ``unit_inputs`` draws the embeddings from N(0, 1), inputs of unit scale as one-hot tokens or
    trained embeddings give; otherwise Keras's default uniform(-0.05, 0.05).  ``recurrent_gain``
    scales the orthogonal recurrent kernel (above 1: gradients explode).
    """
    import seqcore
    from seqcore import nn
    from seqcore.nn import initializers

    seqcore.set_seed(seed)
    emb: dict[str, Any] = {"embeddings_initializer": initializers.RandomNormal(stddev=1.0)} if unit_inputs else {}
    rec = {"recurrent_initializer": initializers.Orthogonal(gain=recurrent_gain)}
    model = nn.Sequential([nn.Embedding(VOCAB, EMBED, **emb), getattr(nn, cell)(UNITS, **rec), nn.Dense(CLASSES)])
    model.build((None, None))  # weights now, from this seed, whatever runs before the first call
    model.compile(
        optimizer=seqcore.optim.SGD(EXPLODE_LR), loss=seqcore.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def norms_at_init(length: int, seed: int, *, unit_inputs: bool = True) -> dict[str, np.ndarray]:
    """||dL/dh_t|| for t = 0..length-1 of each cell at initialization, on one batch of the task."""
    from seqcore.diagnostics import gradient_norms

    x, y = gradient_task(length, PROBE_BATCH, seed)
    return {cell: gradient_norms(gradient_model(cell, seed, unit_inputs=unit_inputs), (x, y)) for cell in CELLS}


@dataclass
class ClipTrace:
    """Per training step of the exploding SimpleRNN: gradient norms, update sizes and losses."""

    norm: np.ndarray  # global gradient norm before clipping
    clipped_norm: np.ndarray  # ... after clipping
    update: np.ndarray  # ||weights after - weights before||
    loss: np.ndarray
    ratio_before: float  # ||dL/dh_0|| / ||dL/dh_{T-1}|| on the probe batch before training
    ratio_after: float  # ... after the last step
    kernel_norm_before: float  # spectral norm of the recurrent kernel
    kernel_norm_after: float


def clipping_trace(length: int, seed: int, *, clip: float | None, steps: int = TRAIN_STEPS) -> ClipTrace:
    """Train the exploding SimpleRNN (recurrent kernel 2 x orthogonal) with SGD, clipping to ``clip`` or not."""
    import seqcore
    from seqcore.diagnostics import gradient_norms, train_step_norms

    model = gradient_model("SimpleRNN", seed, unit_inputs=False, recurrent_gain=EXPLODE_GAIN)
    model.compile(
        optimizer=seqcore.optim.SGD(EXPLODE_LR, global_clipnorm=clip),
        loss=seqcore.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = gradient_task(length, steps * TRAIN_BATCH, seed + 1)
    probe = gradient_task(length, PROBE_BATCH, seed)
    kernel = model.layers[1].recurrent_kernel

    def ratio() -> float:
        norms = gradient_norms(model, probe)
        return float(norms[0] / norms[-1])

    ratio_before, kernel_before = ratio(), float(np.linalg.norm(kernel.data.astype(np.float64), 2))
    rows = []
    for k in range(steps):
        idx = slice(k * TRAIN_BATCH, (k + 1) * TRAIN_BATCH)
        before = [v.data.astype(np.float64) for v in model.trainable_weights]
        step = train_step_norms(model, (x[idx], y[idx]))
        moved = math.sqrt(
            sum(float(np.sum((v.data.astype(np.float64) - b) ** 2)) for v, b in zip(model.trainable_weights, before))
        )
        rows.append((step.norm, step.clipped_norm, moved, step.loss))
    cols = np.asarray(rows, dtype=np.float64).T
    return ClipTrace(
        norm=cols[0],
        clipped_norm=cols[1],
        update=cols[2],
        loss=cols[3],
        ratio_before=ratio_before,
        ratio_after=ratio(),
        kernel_norm_before=kernel_before,
        kernel_norm_after=float(np.linalg.norm(kernel.data.astype(np.float64), 2)),
    )


def _log10(values: np.ndarray) -> np.ndarray:
    """log10 with NaN (a gap in the plot) where a norm underflowed to 0."""
    out = np.full(values.shape, np.nan)
    np.log10(values, out=out, where=values > 0)
    return out


def _require_matplotlib() -> Any:
    return require_matplotlib("the figure")


def _plot(
    path: str,
    length: int,
    unit: dict[str, np.ndarray],
    small: dict[str, np.ndarray],
    free: ClipTrace,
    clipped: ClipTrace,
) -> None:
    from seqcore._atomic import atomic_open

    plt = _require_matplotlib()
    colors = {"SimpleRNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    ax = axes[0]
    t = np.arange(length)
    for cell in CELLS:
        ax.plot(t, _log10(unit[cell]), color=colors[cell], label=f"{cell}, inputs ~ N(0, 1)")
        ax.plot(t, _log10(small[cell]), color=colors[cell], linestyle="--", label=f"{cell}, Keras default embeddings")
    ax.set_xlabel("time step t")
    ax.set_ylabel("log10 ||dL/dh_t||")
    ax.set_title(f"gradient reaching each step, at initialization (T={length})", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)

    steps = np.arange(1, len(free.norm) + 1)
    ax = axes[1]
    ax.semilogy(steps, free.norm, color="tab:gray", marker=".", label="no clipping")
    ax.semilogy(steps, clipped.norm, color="tab:red", marker=".", label="clipped run, before clipping")
    ax.semilogy(steps, clipped.clipped_norm, color="tab:blue", marker=".", label="clipped run, after clipping")
    ax.axhline(CLIP, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("training step")
    ax.set_ylabel("global gradient norm")
    ax.set_title(f"exploding SimpleRNN (recurrent kernel {EXPLODE_GAIN:g} x orthogonal)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)

    ax = axes[2]
    ax.semilogy(steps, free.update, color="tab:gray", marker=".", label="no clipping")
    ax.semilogy(steps, clipped.update, color="tab:blue", marker=".", label=f"global_clipnorm={CLIP:g}")
    ax.set_xlabel("training step")
    ax.set_ylabel("||weights after - weights before||")
    ax.set_title(f"size of each SGD update (learning rate {EXPLODE_LR:g})", fontsize=10)
    ax.legend(fontsize=7)
    ax.text(
        0.97,
        0.55,
        f"without clipping, step 1 moves the weights by {free.update[0]:.3g}:\n"
        f"recurrent kernel norm {free.kernel_norm_before:.3g} -> {free.kernel_norm_after:.3g}, the RNN saturates\n"
        f"and ||dL/dh_0|| / ||dL/dh_{length - 1}|| goes {free.ratio_before:.2g} -> {free.ratio_after:.2g}\n"
        f"(clipped: {clipped.ratio_before:.2g} -> {clipped.ratio_after:.2g} in {len(clipped.norm)} steps)",
        transform=ax.transAxes,
        ha="right",
        va="center",
        fontsize=7,
    )
    ax.grid(alpha=0.3)
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)


def _run_gradients(args: argparse.Namespace) -> int:
    from .bench import UsageError

    for option, value in (("--epochs", args.epochs), ("--save", args.save)):
        if value is not None:
            raise UsageError(f"{option} applies to the classifier demo only, not to 'seqcore demo gradients'")
    length = 50 if args.length is None else args.length
    if not 2 <= length <= MAX_LENGTH:
        raise UsageError(f"--length must be between 2 and {MAX_LENGTH}, got {length}")
    out = "gradients.png" if args.out is None else args.out
    check_output_path(out, "--out")
    _require_matplotlib()  # before the work, so a missing extra fails at once
    start = time.perf_counter()
    unit = norms_at_init(length, args.seed, unit_inputs=True)
    small = norms_at_init(length, args.seed, unit_inputs=False)
    free = clipping_trace(length, args.seed, clip=None)
    clipped = clipping_trace(length, args.seed, clip=CLIP)
    last = length - 1
    print(f"first_marker, T={length}, batch {PROBE_BATCH}, {UNITS} units; ||dL/dh_0|| / ||dL/dh_{last}|| at init:")
    print(f"  {'cell':<10} {'inputs ~ N(0, 1)':>17} {'Keras default embeddings':>25}")
    for cell in CELLS:
        a, b = unit[cell][0] / unit[cell][-1], small[cell][0] / small[cell][-1]
        print(f"  {cell:<10} {a:>17.2e} {b:>25.2e}")
    n_clipped = int(np.sum(clipped.norm > CLIP))
    print(
        f"exploding SimpleRNN (recurrent kernel {EXPLODE_GAIN:g} x orthogonal: ||dL/dh_0|| / ||dL/dh_{last}|| = "
        f"{free.ratio_before:.2e}), SGD lr {EXPLODE_LR:g}, {len(free.norm)} steps:"
    )
    for name, tr in (("no clipping", free), (f"global_clipnorm={CLIP:g}", clipped)):
        print(
            f"  {name:<18} gradient norm {tr.norm[0]:.2e} at step 1, largest update {tr.update.max():.2e}, "
            f"recurrent kernel norm {tr.kernel_norm_before:.3g} -> {tr.kernel_norm_after:.3g}, "
            f"ratio after: {tr.ratio_after:.2e}, final loss {tr.loss[-1]:.3f}"
        )
    print(
        f"  clipping was active on {n_clipped}/{len(clipped.norm)} steps "
        f"(norm {clipped.norm.min():.2e}..{clipped.norm.max():.2e} before clipping)"
    )
    try:
        _plot(out, length, unit, small, free, clipped)
    except OSError as exc:
        raise UsageError(f"could not write --out {out!r}: {exc}") from None
    print(f"wrote {out} in {time.perf_counter() - start:.1f}s")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.which == "gradients":
        return _run_gradients(args)
    return _run_classifier(args)
