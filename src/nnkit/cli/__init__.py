"""The ``nnkit`` command line: argparse front end, one module per subcommand.

The CLI only parses arguments and calls the library; everything it does is one library call.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._about import version_line
from .._device import resolve_device
from ..distributed import teardown
from ..errors import InvalidArgumentError, NnkitError
from . import data, mnist, optim, summary, text
from ._common import UsageError, argument_message, make_parser_class

__all__ = ["build_parser", "main"]

_COMMANDS = (data, mnist, optim, summary, text)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser_class = make_parser_class()
    parser = parser_class(
        prog="nnkit",
        description="nnkit: the classic first steps of deep learning as library calls.",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show the version and where it came from"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    sub.required = True
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


class _Version(argparse.Action):
    """``--version`` on one unwrapped line (argparse's own action wraps it at 80 columns)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_line())
        parser.exit()


def main(argv: Sequence[str] | None = None, *, started: float | None = None) -> int:
    """Run the CLI; returns the exit status: 0 done, 1 a bad file (one line naming it), 2 a bad
    argument (one line naming the flag), 130 Ctrl-C, at any moment, 141 when the reader of the
    output went away. Anything else is a bug and shows its traceback. ``started`` is the
    ``time.perf_counter()`` of the process's start, for the time reports (the console script
    passes it)."""
    try:
        args = build_parser().parse_args(argv)
        args.command_started = started
        return _run(args)
    except KeyboardInterrupt:
        print("nnkit: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    try:
        if getattr(args, "device", None) is not None:  # what the machine has, before any work
            resolve_device(args.device)
        status: int = args.func(args)
        teardown(wait_for_peers=True)  # under torchrun: leave together once every rank is done
    except UsageError as exc:
        print(f"nnkit: error: {exc}", file=sys.stderr)
        return 2
    except InvalidArgumentError as exc:
        print(f"nnkit: error: {argument_message(args, exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (nnkit ... | head): stop quietly, as cat does
        _silence_stdout()
        return 141
    except (NnkitError, OSError) as exc:  # a bad file, or one that cannot be read or written
        print(f"nnkit: error: {exc}", file=sys.stderr)
        return 1
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush finds no closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # a stdout without a descriptor: nothing to do
        pass
    finally:
        os.close(devnull)
