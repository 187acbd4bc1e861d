"""nnkit data info: where MNIST is looked for, what was found, whether it verifies."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..data import default_data_root, find_mnist_files, load_mnist_sample
from ._common import say


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("data", help="inspect the MNIST data", description=__doc__)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    info = actions.add_parser(
        "info",
        help="show where data is looked for and whether it verifies",
        description="Show where MNIST is looked for, which files were found and whether their "
        "SHA-256 digests match the official release, and the embedded sample's size.",
    )
    info.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder to inspect (default: $NNKIT_DATA, then the user cache)",
    )
    info.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    root = args.root if args.root is not None else default_data_root()
    if args.root is not None:
        origin = "--root"
    elif os.environ.get("NNKIT_DATA"):
        origin = "from $NNKIT_DATA"
    else:
        origin = "the user cache; NNKIT_DATA is not set"
    say(f"MNIST folder: {root} ({origin})")
    statuses = find_mnist_files(root)
    for s in statuses:
        if s.path is None:
            say(f"  {s.name:<26} missing")
        else:
            say(f"  {s.name:<26} {'ok' if s.verified else 'BAD'}  {s.path}  {s.message}")
    train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
    say(f"embedded sample: {len(train):,} training and {len(test):,} test images (verified)")
    found = sum(s.path is not None for s in statuses)
    if found == 0:
        say(
            "full MNIST not found: copy the four MNIST files into a folder (MNIST/raw/ inside "
            "it, or the folder itself; plain or gzipped) and pass --root DIR or set NNKIT_DATA=DIR"
        )
    return 1 if any(s.verified is False for s in statuses) else 0
