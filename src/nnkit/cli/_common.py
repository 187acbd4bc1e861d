"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import NoReturn

from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from .._atomic import atomic_write_bytes, atomic_write_text, unwritable
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


#: The formats a figure can be saved in, by file suffix (a name without one is a PNG).
FIGURE_FORMATS = frozenset(FigureCanvasBase.get_supported_filetypes())


def _figure_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix or "png"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): the same path once resolved
        return a.resolve() == b.resolve()


def check_output(
    path: str | os.PathLike[str] | None,
    flag: str,
    *,
    formats: Collection[str] | None = None,
    inputs: Sequence[tuple[str, str | os.PathLike[str] | None]] = (),
) -> None:
    """Before any long work: ``path`` is a regular file or a new path, not one of the
    command's ``inputs`` (``(what, path)``: a corpus, a model, an output of another flag), it
    can be written (its folder exists or can be made, and takes a file), and its suffix names
    one of ``formats``; else a :class:`UsageError` naming the flag. Under torchrun only rank 0
    writes, so only rank 0 looks at the folder."""
    if path is None:
        return
    p = Path(path)
    for what, other in inputs:
        if other is not None and _same_file(p, Path(other)):
            raise UsageError(
                f"argument {flag}: {p} is {what}, which this command reads or writes; "
                "give another file name"
            )
    if formats is not None and _figure_format(p) not in formats:
        raise UsageError(
            f"argument {flag}: cannot write {p}: unknown format {p.suffix!r}, expected one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    # under torchrun only rank 0 writes, so only rank 0 probes the folder
    problem = unwritable(p) if p.is_dir() or is_main_process() else None
    if problem is not None:
        raise UsageError(f"argument {flag}: {problem}")


def write_outputs(
    outputs: Sequence[tuple[str, str | os.PathLike[str], Callable[[], object]]],
) -> int:
    """Write every ``(what, path, write)`` in turn: one failing write does not stop the others
    (what was produced is kept); returns the number that failed, each reported on one line."""
    failed = 0
    for what, path, write in outputs:
        try:
            write()
        except (OSError, ValueError) as exc:
            failed += 1
            print(f"nnkit: error: could not write {what} to {path}: {exc}", file=sys.stderr)
        else:
            say(f"{what} written to {path}")
    return failed


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Save a figure atomically, in the format its suffix names (rank 0 only under torchrun)."""
    if not is_main_process():
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format=_figure_format(path), dpi=120)
    atomic_write_bytes(path, buffer.getvalue())


def save_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (rank 0 only under torchrun)."""
    if is_main_process():
        atomic_write_text(path, text)


def say(*parts: object) -> None:
    """Print a result line to stdout (rank 0 only under torchrun)."""
    if is_main_process():
        print(*parts, file=sys.stdout, flush=True)


def time_report(phases: Sequence[tuple[str, float]], started: float | None) -> str:
    """``time: 7.5 s in all: 1.9 s starting Python and PyTorch, 3.1 s training, ...``: where a
    command's seconds went, the phases in order, each over 0.05 s shown."""
    now = time.perf_counter()
    parts = [f"{seconds:.1f} s {what}" for what, seconds in phases if seconds >= 0.05]
    total = f"{now - started:.1f} s in all" if started is not None else "in the command"
    return f"time: {total}: " + ", ".join(parts)
