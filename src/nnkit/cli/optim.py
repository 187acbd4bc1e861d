"""``nnkit optim``: optimizer paths on a 2-d surface, as the notes plotted them, done right."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..distributed import is_main_process
from ..optim_viz import (
    NOTES_OPTIMIZERS,
    animate,
    compare,
    plot,
    plot_values,
    save_trajectories,
)
from ..optimizers import OPTIMIZER_NAMES
from ..surfaces import SURFACE_NAMES
from ._common import FIGURE_FORMATS, check_output, save_figure, say, write_outputs


def _lr(text: str) -> float | str:
    if text == "tuned":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'tuned', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the learning rate must be positive, got {text}")
    return value


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "optim",
        help="plot optimizer trajectories on a 2-d surface",
        description="Trace optimizers from one start point on a 2-d surface and plot their "
        "paths on its contours (the notes: x^2 + y^2 from (1.0, 1.5), lr 0.1, 100 steps).",
    )
    parser.add_argument(
        "--fn",
        choices=SURFACE_NAMES,
        default="quadratic",
        help="surface (default quadratic, the notes' x^2 + y^2)",
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        choices=OPTIMIZER_NAMES,
        default=list(NOTES_OPTIMIZERS),
        metavar="NAME",
        help=f"optimizers to compare (default: {' '.join(NOTES_OPTIMIZERS)}; "
        f"choices: {', '.join(OPTIMIZER_NAMES)})",
    )
    parser.add_argument(
        "--lr",
        type=_lr,
        default=0.1,
        help="learning rate for all, or 'tuned' to grid-search each (default 0.1)",
    )
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
    parser.add_argument(
        "--start",
        type=float,
        nargs=2,
        default=None,
        metavar=("X", "Y"),
        help="start point (default: the surface's, (1.0, 1.5) for quadratic)",
    )
    parser.add_argument(
        "--kind",
        choices=("scatter", "line"),
        default="scatter",
        help="draw points (the notes' scatter) or lines",
    )
    parser.add_argument("--out", required=True, help="figure of the paths (PNG, SVG or PDF)")
    parser.add_argument("--values", default=None, help="also a figure of f against step")
    parser.add_argument("--gif", default=None, help="also an animated GIF of the paths")
    parser.add_argument("--json", default=None, help="also the trajectories as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    given: list[tuple[str, str | None]] = []  # each output is none of the ones before it
    for flag, path, formats in (
        ("--out", args.out, FIGURE_FORMATS),
        ("--values", args.values, FIGURE_FORMATS),
        ("--gif", args.gif, {"gif"}),
        ("--json", args.json, None),
    ):
        check_output(path, flag, formats=formats, inputs=given)
        given.append((f"the {flag} output", path))
    paths = compare(args.optimizers, fn=args.fn, start=args.start, lr=args.lr, steps=args.steps)
    for name, t in paths.items():
        status = "diverged" if t.diverged else f"f = {float(t.values[-1]):.3g}"
        say(f"{name:<9} lr {t.lr:<8.3g} end ({t.end[0]: .4g}, {t.end[1]: .4g})  {status}")
    outputs: list[tuple[str, str, Callable[[], object]]] = []
    if args.json and is_main_process():
        outputs.append(("trajectories", args.json, lambda: save_trajectories(paths, args.json)))
    outputs.append(("figure", args.out, lambda: save_figure(plot(paths, kind=args.kind), args.out)))
    if args.values:
        outputs.append(
            ("values figure", args.values, lambda: save_figure(plot_values(paths), args.values))
        )
    if args.gif and is_main_process():
        outputs.append(("animation", args.gif, lambda: animate(paths, args.gif)))
    return 1 if write_outputs(outputs) else 0
