"""``nnkit summary``: what is in ``model.parameters()`` for MnistCNN."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..models import MnistCNN
from ..summary import parameter_table, summary
from ._common import say


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "summary",
        help="list the parameters and layers of MnistCNN",
        description="List model.parameters() of MnistCNN with the layer owning each tensor, "
        "then each layer's output shape and multiply-adds for one 28x28 image.",
    )
    parser.add_argument(
        "--depth",
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="number of conv blocks (default 2, the notes' Net)",
    )
    parser.add_argument("--batch", type=int, default=1, help="batch size of the probe input")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(func=run, flags={"input_size": "--batch"})


def run(args: argparse.Namespace) -> int:
    model = MnistCNN(args.depth)
    table = parameter_table(model)
    layers = summary(model, (args.batch, 1, 28, 28))
    if args.json:
        say(json.dumps({"parameters": table.to_dict(), "summary": layers.to_dict()}, indent=2))
    else:
        say(f"model.parameters() of MnistCNN(depth={args.depth}):\n")
        say(table)
        say("\nlayers:\n")
        say(layers)
    return 0
