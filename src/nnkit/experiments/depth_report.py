"""A :class:`~nnkit.experiments.depth.DepthStudy` as a table, sentences and a figure."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from matplotlib.figure import Figure

from .._validate import one_of
from .depth import DepthStudy, Spread

__all__ = ["depth_table", "difference_lines", "plot_depth_comparison"]

Band = Literal["std", "minmax"]


def _pm(spread: Spread | None, scale: float, digits: int) -> str:
    """``mean ± std``; one seed has no spread, so its value stands alone."""
    if spread is None:
        return "-"
    if spread.n == 1:
        return f"{scale * spread.mean:.{digits}f}"
    return f"{scale * spread.mean:.{digits}f} ± {scale * spread.std:.{digits}f}"


def depth_table(study: DepthStudy) -> str:
    """The summary table: sizes (parameters, multiply-adds per image), last-epoch validation
    accuracy and loss (mean ± std over the seeds, with the range of the accuracy), and the
    training seconds per epoch.

    Examples
    --------
    >>> from nnkit.history import EpochRecord, History
    >>> runs = {2: [History([EpochRecord(1, 0.3, 0.9, 0.2, 0.95, seconds=2.0)]),
    ...             History([EpochRecord(1, 0.3, 0.9, 0.1, 0.97, seconds=2.0)])]}
    >>> study = DepthStudy(runs, [0, 1], 1, {2: (16, 32)}, {2: 116234}, {2: 1234567})
    >>> print(depth_table(study))
    depth  channels       params   MACs  seeds  val acc (%)    [min, max]      val loss       s/ep
        2  16, 32        116,234  1.23M      2  96.00 ± 1.41   [95.00, 97.00]  0.150 ± 0.071   2.0

    One seed has no spread to show:

    >>> one = DepthStudy({2: runs[2][:1]}, [0], 1, {2: (16, 32)}, {2: 116234}, {2: 1234567})
    >>> print(depth_table(one).splitlines()[1])
        2  16, 32        116,234  1.23M      1  95.00          -               0.200           2.0
    """
    header = (
        f"{'depth':>5}  {'channels':<11}  {'params':>9}  {'MACs':>6}  {'seeds':>5}  "
        f"{'val acc (%)':<13}  {'[min, max]':<14}  {'val loss':<13}  {'s/ep':>4}"
    )
    lines = [header]
    for depth in study.depths:
        acc = study.final(depth)
        loss = study.final(depth, "val_loss")
        span = "-" if acc is None or acc.n == 1 else f"[{100 * acc.min:.2f}, {100 * acc.max:.2f}]"
        seconds = study.seconds_per_epoch(depth)
        widths = ", ".join(str(c) for c in study.channels[depth])
        macs = f"{study.macs[depth] / 1e6:.2f}M"
        lines.append(
            f"{depth:>5}  {widths:<11}  {study.params[depth]:>9,}  {macs:>6}  "
            f"{0 if acc is None else acc.n:>5}  {_pm(acc, 100, 2):<13}  {span:<14}  "
            f"{_pm(loss, 1, 3):<13}  {'-' if seconds is None else f'{seconds:.1f}':>4}"
        )
    return "\n".join(lines)


def difference_lines(study: DepthStudy) -> list[str]:
    """One sentence per pair of depths: the paired difference of last-epoch validation accuracy.

    Examples
    --------
    >>> from nnkit.history import EpochRecord, History
    >>> def run(acc): return History([EpochRecord(1, 0.3, 0.9, 0.2, acc, seconds=1.0)])
    >>> runs = {1: [run(0.980), run(0.981), run(0.982)], 2: [run(0.984), run(0.986), run(0.985)]}
    >>> study = DepthStudy(runs, [0, 1, 2], 1, {1: (16,), 2: (16, 32)}, {1: 1, 2: 2}, {1: 1, 2: 2})
    >>> difference_lines(study)
    ['depth 1 vs depth 2: -0.40 ± 0.25 points (95% interval, 3 paired seeds): a real gap']
    """
    return [d.sentence() for d in study.differences()]


def plot_depth_comparison(
    study: DepthStudy, *, band: Band = "minmax", title: str | None = None
) -> Figure:
    """Validation accuracy against epoch, the mean over seeds with a band per depth, beside the
    parameter counts and multiply-adds of each depth.

    Parameters
    ----------
    study : DepthStudy
        As returned by :func:`~nnkit.experiments.compare_depths`.
    band : {"minmax", "std"}
        The band around each mean: the range over the seeds, or ± one standard deviation.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels; not shown. Save with ``fig.savefig("depth.png")``.

    Examples
    --------
    >>> from nnkit.history import EpochRecord, History
    >>> runs = {2: [History([EpochRecord(1, 0.3, 0.9, 0.2, 0.95),
    ...                      EpochRecord(2, 0.1, 0.97, 0.1, 0.98)])]}
    >>> fig = plot_depth_comparison(DepthStudy(runs, [0], 2, {2: (16, 32)}, {2: 116234}, {2: 9}))
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['epoch', 'depth (conv blocks)']
    """
    one_of(band, "band", ("minmax", "std"))
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    acc_ax, size_ax = fig.subplots(1, 2, width_ratios=(2, 1))
    for depth in study.depths:
        spreads = study.per_epoch(depth)
        if not spreads:
            continue
        epochs = np.arange(1, len(spreads) + 1)
        mean = np.array([100 * s.mean for s in spreads])
        if band == "std":
            low = mean - np.array([100 * s.std for s in spreads])
            high = mean + np.array([100 * s.std for s in spreads])
        else:
            low = np.array([100 * s.min for s in spreads])
            high = np.array([100 * s.max for s in spreads])
        n = spreads[-1].n
        (line,) = acc_ax.plot(epochs, mean, "o-", label=f"depth {depth} ({n} seeds)")
        acc_ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    what = "range over seeds" if band == "minmax" else "± 1 std over seeds"
    acc_ax.set(
        xlabel="epoch", ylabel="validation accuracy (%)", title=f"validation accuracy: mean, {what}"
    )
    acc_ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(title="conv blocks")
    depths = study.depths
    params = [study.params[d] / 1000 for d in depths]
    bars = size_ax.bar([str(d) for d in depths], params, color="0.6")
    for bar, depth in zip(bars, depths, strict=True):
        label = f"{study.params[depth]:,}\n{study.macs[depth] / 1e6:.2f}M mult-adds"
        size_ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    size_ax.set(
        xlabel="depth (conv blocks)",
        ylabel="parameters (thousands)",
        title="size of each depth",
        ylim=(0, 1.25 * max(params) if params and not math.isnan(max(params)) else 1),
    )
    fig.suptitle(title or "MnistCNN: validation accuracy against depth")
    return fig
