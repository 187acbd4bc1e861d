"""``nnkit mnist``: train MnistCNN at several depths and compare test accuracy per epoch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..data import load_mnist, load_mnist_sample
from ..experiments import compare_depths, depth_table, plot_depth_comparison
from ..optimizers import OPTIMIZER_NAMES
from ._common import save_figure, save_text, say


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mnist",
        help="train MnistCNN at depths 1-3 and compare accuracy",
        description="Train one MnistCNN per depth under identical settings and compare test "
        "accuracy against epoch. Uses the embedded 10,000/2,000-image sample unless --data "
        "(or $NNKIT_DATA with --full) points at the full MNIST files.",
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
    parser.add_argument("--plot", type=Path, default=None, help="write the comparison figure")
    parser.add_argument("--json", type=Path, default=None, help="write the histories as JSON")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: PyTorch's)")
    parser.add_argument(
        "--optimizer", choices=OPTIMIZER_NAMES, default="adam", help="optimizer (default adam)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.data is not None:
        train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
        source = f"MNIST from {args.data}"
    else:
        train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
        source = "embedded MNIST sample"
    say(f"data: {source} ({len(train):,} train / {len(test):,} test images)")
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
        progress=not args.quiet,
    )
    say("\n" + depth_table(histories))
    if args.plot is not None:
        save_figure(
            plot_depth_comparison(histories, title=f"MnistCNN depth comparison ({source})"),
            args.plot,
        )
        say(f"figure written to {args.plot}")
    if args.json is not None:
        payload = {str(d): h.to_dict() for d, h in histories.items()}
        save_text(args.json, json.dumps(payload, indent=2) + "\n")
        say(f"histories written to {args.json}")
    return 0
