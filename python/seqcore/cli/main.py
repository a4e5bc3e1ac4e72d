"""Entry point of the ``seqcore`` command: parse arguments, dispatch to a subcommand, map errors to exit codes.

Exit codes: 0 success, 1 the command ran but found a problem (e.g. a backend
failed validation), 2 a usage error (bad option, bad case spec, unknown
backend), 130 interrupted.  User mistakes print one line to stderr, never a
traceback.  This module never exits the interpreter itself: ``main`` returns the
code and the console-script wrapper (or ``python -m seqcore``) exits with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from . import bench as bench_command
from . import bleu as bleu_command
from . import charlm as charlm_command
from . import dates as dates_command
from . import demo as demo_command
from . import dinos as dinos_command
from . import emojify as emojify_command
from . import glove as glove_command
from . import info as info_command
from . import jazz as jazz_command
from . import ner as ner_command
from . import qa as qa_command
from . import transformer as transformer_command
from . import trigger as trigger_command
from . import word2vec as word2vec_command


def build_parser() -> argparse.ArgumentParser:
    """The ``seqcore`` parser with its subcommands."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="seqcore",
        description="seqcore: fast RNN/LSTM/GRU kernels and a Keras-like training API for sequence models.",
    )
    parser.add_argument("--version", action="version", version=f"seqcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench_command.add_parser(sub)
    bleu_command.add_parser(sub)
    charlm_command.add_parser(sub)
    dates_command.add_parser(sub)
    demo_command.add_parser(sub)
    dinos_command.add_parser(sub)
    emojify_command.add_parser(sub)
    info_command.add_parser(sub)
    jazz_command.add_parser(sub)
    ner_command.add_parser(sub)
    qa_command.add_parser(sub)
    transformer_command.add_parser(sub)
    trigger_command.add_parser(sub)
    word2vec_command.add_parser(sub)
    glove_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqcore`` with ``argv`` (default: sys.argv[1:]); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse reports bad usage (code 2) and --help/--version (code 0) this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except bench_command.UsageError as exc:
        print(f"seqcore {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqcore {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `seqcore info | head`: stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
