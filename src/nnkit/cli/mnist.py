"""``nnkit mnist``: train MnistCNN at several depths and compare validation accuracy (on the
MNIST test split, as in the notes) per epoch."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..data import load_mnist, load_mnist_sample, mnist_paths
from ..distributed import DEFAULT_TIMEOUT
from ..errors import DataNotFoundError
from ..experiments import compare_depths, depth_table, difference_lines, plot_depth_comparison
from ..optimizers import OPTIMIZER_NAMES
from ..recipes import RECIPE_NAMES, recipe
from ..runtime import Runtime
from ._common import FIGURE_FORMATS, check_output, save_figure, save_text, say, write_outputs


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mnist",
        help="train MnistCNN at depths 1-3 and compare accuracy",
        description="Train one MnistCNN per depth and seed under identical settings (nnkit's "
        "fast recipe unless --recipe notes) and compare validation accuracy, measured after "
        "every epoch on the MNIST test split as in the notes: a table with the mean "
        "± std over the seeds, parameters and mult-adds per depth, and for each pair of depths "
        "the paired difference with a 95% interval. Trains on the 10,000/2,000-image sample "
        "embedded in nnkit unless --data names a folder with the full MNIST files (for example "
        '--data "$NNKIT_DATA"). Ctrl-C stops the whole study, writes what finished and exits '
        "130.",
    )
    parser.add_argument(
        "--depth",
        type=int,
        nargs="+",
        choices=(1, 2, 3),
        default=[1, 2, 3],
        help="depths to compare (default: 1 2 3)",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPE_NAMES,
        default="fast",
        help="training settings: 'fast' is nnkit's fastest recipe for the device (on a CPU 2 "
        "epochs, batch 128, OneCycle Adam to 0.008, label smoothing 0.1), 'notes' the notes' "
        "settings (batch 32, Adam 0.001, 3 epochs); the flags below override it "
        "(default fast)",
    )
    parser.add_argument(
        "--seeds",
        type=_seeds,
        default=1,
        help="N: train every depth with seeds 0..N-1; a comma-separated list (7,11 or 7, for "
        "seed 7 alone): those seeds. Reports mean ± std and the paired differences between "
        "depths (default 1)",
    )
    parser.add_argument(
        "--match-params",
        action="store_true",
        help="widen or narrow each depth's convolutions so all have about depth 2's 116,234 "
        "parameters (deeper apart from bigger)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per run (default: the recipe's)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder with the full MNIST files (default: the embedded sample)",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="write the comparison figure (.png, .svg, .pdf...)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the study as JSON (settings, every run's history, the statistics)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="batch size (default: the recipe's)"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="(peak) learning rate (default: the recipe's)"
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZER_NAMES,
        default=None,
        help="optimizer (default: the recipe's, adam)",
    )
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"under torchrun: seconds to wait for a rank that stopped answering before the job "
        f"fails (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output (bars in a terminal, one line per epoch in a log)",
    )
    parser.set_defaults(func=run)


def _seeds(value: str) -> int | list[int]:
    """``5`` (seeds 0..4) or ``7,11`` / ``7,`` (those seeds); the library checks the values."""
    try:
        if "," not in value:
            return int(value)
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count N (seeds 0..N-1) or a comma-separated list of seeds such as 7,11 "
            f"(7, for seed 7 alone), got {value!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    data_files = [] if args.data is None else mnist_paths(args.data)
    inputs = [("an MNIST file of --data", path) for path in data_files]
    check_output(args.plot, "--plot", formats=FIGURE_FORMATS, inputs=inputs)
    check_output(args.json, "--json", inputs=[*inputs, ("the --plot figure", args.plot)])
    if args.data is not None:
        try:
            train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
        except DataNotFoundError as exc:
            raise DataNotFoundError(
                f"--data {args.data}: MNIST file {exc.missing} not found (looked in "
                f"{', '.join(exc.looked)}); pass --data a folder holding the four MNIST files "
                "(MNIST/raw/ inside it, or the folder itself; plain or gzipped), or leave out "
                "--data to train on the embedded sample",
                missing=exc.missing,
                looked=exc.looked,
            ) from None
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
    say(
        f"data: {source} ({len(train):,} training images; its {len(test):,} test images are "
        f"the validation data, as in the notes){note}"
    )
    chosen = recipe(args.recipe, args.device)
    overrides = {
        key: value
        for key, value in (
            ("batch_size", args.batch_size),
            ("lr", args.lr),
            ("optimizer", args.optimizer),
        )
        if value is not None
    }
    chosen = replace(
        chosen,
        runtime=replace(chosen.runtime or Runtime(), dist_timeout=args.dist_timeout),
        **overrides,
    )
    study = compare_depths(
        tuple(args.depth),
        epochs=args.epochs,
        seeds=args.seeds,
        train=train,
        val=test,
        recipe=chosen,
        match_params=args.match_params,
        device=args.device,
        progress=not args.quiet,
    )
    study.settings["recipe"] = args.recipe + (" (with overrides)" if overrides else "")
    shown = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                      for k, v in study.settings.items() if k != "recipe")  # fmt: skip
    say(f"\nrecipe: {study.settings['recipe']} ({shown})")
    say(depth_table(study))
    for line in difference_lines(study):
        say(line)
    outputs = []
    if args.json is not None:
        text = json.dumps(study.to_dict(), indent=2) + "\n"
        outputs.append(("study", args.json, lambda: save_text(args.json, text)))
    if args.plot is not None:
        data = "embedded sample" if args.data is None else "full MNIST"
        widths = ", matched parameters" if args.match_params else ""
        count = len(study.seeds)
        seeds = f"{count} seeds" if count > 1 else f"seed {study.seeds[0]}"
        title = f"MnistCNN depth study ({data}, recipe {args.recipe}, {seeds}{widths})"
        fig = plot_depth_comparison(study, title=title)
        outputs.append(("figure", args.plot, lambda: save_figure(fig, args.plot)))
    failed = write_outputs(outputs)
    if study.interrupted:
        say("interrupted: the table and the files hold the runs that finished")
        return 130
    return 1 if failed else 0
