"""The ``nnkit`` command's first moments: a Ctrl-C while PyTorch and matplotlib load (the first
second or two) exits 130 with one line, as it does at any later moment.

This module and the package's ``__init__`` import nothing heavy, so the ``try`` below is in
force before the heavy imports start.
"""

from __future__ import annotations

import sys
import time

#: When the command started (as close to the interpreter's start as nnkit can see), for the
#: time reports of long commands.
STARTED = time.perf_counter()


def main() -> int:
    """The console script ``nnkit`` (and ``python -m nnkit``): :func:`nnkit.cli.main`."""
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("nnkit: interrupted", file=sys.stderr)
        return 130
    return cli_main(started=STARTED)
