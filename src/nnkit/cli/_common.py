"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import NoReturn

from matplotlib.figure import Figure

from .._atomic import atomic_write_bytes, atomic_write_text
from ..distributed import is_main_process
from ..errors import InvalidArgumentError


class UsageError(Exception):
    """Arguments that parse but make no sense together (exit status 2)."""


def argument_message(args: argparse.Namespace, exc: InvalidArgumentError) -> str:
    """The library's message for a bad argument, naming the command-line flag it came from.

    A subcommand maps library parameter names to its flags with ``set_defaults(flags={...})``;
    a parameter with a flag of the same name (``batch_size`` -> ``--batch-size``) needs no
    entry.
    """
    flags: dict[str, str] = getattr(args, "flags", {})
    parameter = exc.parameter
    flag = flags.get(parameter) if parameter else None
    if flag is None and parameter and parameter in vars(args):
        flag = "--" + parameter.replace("_", "-")
    return f"argument {flag}: {exc}" if flag else str(exc)


def make_parser_class() -> type[argparse.ArgumentParser]:
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    return Parser


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Save a figure atomically, in the format its suffix names (rank 0 only under torchrun)."""
    if not is_main_process():
        return
    buffer = io.BytesIO()
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else "png"
    fig.savefig(buffer, format=suffix, dpi=120)
    atomic_write_bytes(path, buffer.getvalue())


def save_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (rank 0 only under torchrun)."""
    if is_main_process():
        atomic_write_text(path, text)


def say(*parts: object) -> None:
    """Print a result line to stdout (rank 0 only under torchrun)."""
    if is_main_process():
        print(*parts, file=sys.stdout, flush=True)
