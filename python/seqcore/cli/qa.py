"""``seqcore qa train|ask|evaluate``: extractive question answering with a fine-tuned pretrained BERT.

``train`` fine-tunes all-MiniLM-L6-v2 on generated passages and questions (or a SQuAD v1.1 file), prints SQuAD's
exact match and F1 on questions it never saw and saves a Hugging Face folder (by default
$SEQCORE_HOME/models/qa-minilm); ``ask`` answers a question about a text; ``evaluate`` scores the saved model on a
SQuAD file.  The training options come from cli/ner.py.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._args import UsageError
from .ner import (
    add_training_options,
    check_data_options,
    load_encoder,
    load_saved,
    out_dir,
    print_saved,
    read_data,
    read_train_test,
    recipe_overrides,
    training_line,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``qa`` on the ``seqcore`` subparsers."""
    from ..models.qa_reader import QA_RECIPE

    p = subparsers.add_parser(
        "qa",
        help="extractive question answering: fine-tune a pretrained BERT (all-MiniLM-L6-v2), ask it, score it",
        description="Extractive question answering with a pretrained BERT fine-tuned to point at the answer span: "
        "'train' fine-tunes it (on generated passages and questions, or on a SQuAD v1.1 file) and saves it; 'ask' "
        "answers a question about a text; 'evaluate' scores the saved model on a SQuAD v1.1 file.",
    )
    sub = p.add_subparsers(dest="qa_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser(
        "train",
        help="fine-tune on generated questions (or a SQuAD file); print exact match and F1; save the model",
        description="Fine-tune the encoder for extractive QA, print SQuAD's exact match and F1 on questions never "
        "seen in training, and save the model as a Hugging Face folder (config.json, model.safetensors, "
        "tokenizer.json) that transformers' AutoModelForQuestionAnswering loads as it is.  Without --squad the "
        "data is generated: the test passages and questions are worded differently from the training ones.",
    )
    add_training_options(t, QA_RECIPE, "questions", "qa")
    t.add_argument("--squad", metavar="TRAIN.json", help="train on this SQuAD v1.1 file")
    t.add_argument(
        "--test-squad",
        metavar="TEST.json",
        help="with --squad: score on this SQuAD v1.1 file (default: a tenth of TRAIN.json's passages, held out)",
    )
    t.set_defaults(handler=run_train)

    a = sub.add_parser(
        "ask",
        help="answer --question about --context TEXT or --context-file FILE",
        description="Answer a question with the span of the context the saved model finds best; prints the "
        "answer, its score (start + end logit) and its character span in the context.",
    )
    a.add_argument("--question", required=True, help="the question")
    a.add_argument("--context", metavar="TEXT", help="the text holding the answer")
    a.add_argument("--context-file", metavar="FILE", help="read the text holding the answer from FILE (UTF-8)")
    a.add_argument("--model", metavar="DIR", help="the model folder (default the one `seqcore qa train` saves)")
    a.set_defaults(handler=run_ask)

    e = sub.add_parser(
        "evaluate",
        help="score the saved model on a SQuAD v1.1 file: exact match and F1",
        description="Score the saved model on the questions of a SQuAD v1.1 file with the official exact match "
        "and F1 (answers normalised: lower case, no punctuation or articles).",
    )
    e.add_argument("--squad", metavar="FILE", required=True, help="SQuAD v1.1 JSON file")
    e.add_argument("--model", metavar="DIR", help="the model folder (default the one `seqcore qa train` saves)")
    e.set_defaults(handler=run_evaluate)
    return p


def _scores_line(report: dict[str, Any]) -> str:
    return (
        f"exact match {report['exact_match']:.1f}, F1 {report['f1']:.1f} on {report['test_examples']:,} questions "
        "(SQuAD v1.1 scoring, percent)"
    )


def run_train(args: argparse.Namespace) -> int:
    from ..datasets.squad import read_squad
    from ..models.ner_tagger import HOLD_OUT
    from ..models.qa_reader import QA_RECIPE, train_qa

    check_data_options(args, "--squad", args.squad, "--test-squad", args.test_squad)
    out = out_dir(args, "qa")
    train, test = read_train_test(read_squad, "--squad", args.squad, "--test-squad", args.test_squad, "questions")
    overrides = recipe_overrides(args)
    encoder = load_encoder(args.encoder)
    if train is None:
        what = (
            f"{overrides.get('train_size', QA_RECIPE['train_size']):,} generated questions (scored on "
            f"{overrides.get('test_size', QA_RECIPE['test_size']):,} others, about unseen passages worded anew)"
        )
    elif test is None:
        what = f"{args.squad} ({len(train):,} questions; {HOLD_OUT:.0%} of the passages held out for the score)"
    else:
        what = f"{args.squad} ({len(train):,} questions; scored on the {len(test):,} of {args.test_squad})"
    print(f"fine-tuning {args.encoder} for extractive QA on {what} ...", flush=True)
    model, report = train_qa(
        train=train, test=test, encoder=encoder, progress=not args.quiet, seconds=args.seconds, **overrides
    )
    print(_scores_line(report))
    print(training_line(report, "questions"))
    model.save_pretrained(out)
    print_saved(out, "qa", "AutoModelForQuestionAnswering", "ask --question '...' --context '...'")
    return 0


def _context(args: argparse.Namespace) -> str:
    if args.context is not None and args.context_file is not None:
        raise UsageError("--context and --context-file both give the context; keep one")
    if args.context is None and args.context_file is None:
        raise UsageError("give the text holding the answer: --context TEXT or --context-file FILE")
    if args.context_file is not None:
        if not os.path.isfile(args.context_file):
            raise UsageError(f"--context-file {args.context_file!r}: no such file")
        try:
            with open(args.context_file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--context-file {args.context_file!r}: {exc}") from None
        option = "--context-file"
    else:
        text, option = args.context, "--context"
    if not text.strip():
        raise UsageError(f"{option}: the context is empty")
    return text


def run_ask(args: argparse.Namespace) -> int:
    from ..models.qa_reader import load_qa_reader

    if not args.question.strip():
        raise UsageError("--question is empty")
    context = _context(args)
    model = load_saved(load_qa_reader, args.model)
    try:
        found = model.answer(args.question, context)
    except ValueError as exc:  # a question longer than the model's window leaves no room for the context
        raise UsageError(f"--question: {exc}") from None
    if not found["answer"]:
        print("(no answer found in the context)")
        return 0
    print(f"answer: {found['answer']}")
    print(f"score: {found['score']:.2f} (start + end logit)")
    print(f"span: characters {found['start']}-{found['end']} of the context")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..datasets.squad import read_squad
    from ..models.qa_reader import evaluate_qa, load_qa_reader

    if not os.path.isfile(args.squad):
        raise UsageError(f"--squad {args.squad!r}: no such file")
    model = load_saved(load_qa_reader, args.model)
    examples = read_data(read_squad, "--squad", args.squad)
    if not examples:
        raise UsageError(f"--squad {args.squad!r}: no questions in the file")
    report = evaluate_qa(model, examples)
    print(_scores_line(report) + f", in {report['eval_seconds']:.1f}s")
    return 0
