"""``nnkit mnist``: train MnistCNN at several depths and compare test accuracy per epoch."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ..data import load_mnist, load_mnist_sample
from ..distributed import DEFAULT_TIMEOUT
from ..experiments import compare_depths, depth_table, plot_depth_comparison
from ..optimizers import OPTIMIZER_NAMES
from ..runtime import Runtime
from ._common import FIGURE_FORMATS, check_output, save_figure, save_text, say, write_outputs


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mnist",
        help="train MnistCNN at depths 1-3 and compare accuracy",
        description="Train one MnistCNN per depth under identical settings and compare test "
        "accuracy against epoch. Trains on the 10,000/2,000-image sample embedded in nnkit "
        "unless --data names a folder with the full MNIST files (for example --data "
        '"$NNKIT_DATA"). Ctrl-C stops the whole comparison, writes what finished and exits 130.',
    )
    parser.add_argument(
        "--depth",
        type=int,
        nargs="+",
        choices=(1, 2, 3),
        default=[1, 2, 3],
        help="depths to compare (default: 1 2 3)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs per depth (default 3)")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder with the full MNIST files (default: the embedded sample)",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="write the comparison figure (.png, .svg, .pdf...)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the histories as JSON")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: PyTorch's)")
    parser.add_argument(
        "--optimizer", choices=OPTIMIZER_NAMES, default="adam", help="optimizer (default adam)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"under torchrun: seconds to wait for a rank that stopped answering before the job "
        f"fails (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.plot, "--plot", formats=FIGURE_FORMATS)
    check_output(args.json, "--json")
    if args.data is not None:
        train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
        source = f"MNIST from {args.data}"
        note = ""
    else:
        train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
        source = "embedded MNIST sample"
        note = (
            '; $NNKIT_DATA is set: pass --data "$NNKIT_DATA" to train on the full files'
            if os.environ.get("NNKIT_DATA")
            else "; pass --data DIR to train on the full MNIST files"
        )
    say(f"data: {source} ({len(train):,} train / {len(test):,} test images){note}")
    histories = compare_depths(
        tuple(args.depth),
        epochs=args.epochs,
        train=train,
        test=test,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        device=args.device,
        runtime=Runtime(dist_timeout=args.dist_timeout),
        progress=not args.quiet,
    )
    interrupted = len(histories) < len(args.depth) or any(h.interrupted for h in histories.values())
    say("\n" + depth_table(histories))
    outputs = []
    if args.json is not None:
        payload = {str(d): h.to_dict() for d, h in histories.items()}
        text = json.dumps(payload, indent=2) + "\n"
        outputs.append(("histories", args.json, lambda: save_text(args.json, text)))
    if args.plot is not None:
        fig = plot_depth_comparison(histories, title=f"MnistCNN depth comparison ({source})")
        outputs.append(("figure", args.plot, lambda: save_figure(fig, args.plot)))
    failed = write_outputs(outputs)
    if interrupted:
        say("interrupted: the table and the files hold the epochs that finished")
        return 130
    return 1 if failed else 0
