"""Figures of optimizer trajectories: :func:`plot`, :func:`plot_values`, :func:`animate`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .._atomic import atomic_path
from ..errors import InvalidArgumentError
from ..surfaces import SURFACES, Surface, SurfaceFn, SurfaceName, get_surface
from .trajectory import Trajectory

__all__ = ["animate", "plot", "plot_values"]

_GRID = 300
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _as_list(trajectories: Any) -> list[Trajectory]:
    if isinstance(trajectories, Trajectory):
        return [trajectories]
    items = list(trajectories.values()) if isinstance(trajectories, Mapping) else list(trajectories)
    if not items or not all(isinstance(t, Trajectory) for t in items):
        raise InvalidArgumentError("expected at least one Trajectory (from trace or compare)")
    return items


def _surface_for(
    items: list[Trajectory], fn: SurfaceName | SurfaceFn | Surface | None
) -> Surface | None:
    if fn is not None:
        return get_surface(fn)
    names = {t.fn for t in items}
    if len(names) == 1 and (name := names.pop()) in SURFACES:
        return SURFACES[name]
    return None


def _window(items: list[Trajectory], surface: Surface | None) -> tuple[float, float, float, float]:
    pts = np.concatenate([t.points for t in items]).astype(np.float64)
    if surface is None:
        x0, x1, y0, y1 = pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max()
    else:
        wx0, wx1, wy0, wy1 = surface.window
        cx, cy, hx, hy = (wx0 + wx1) / 2, (wy0 + wy1) / 2, wx1 - wx0, wy1 - wy0
        # grow to show every point, but at most to twice the surface's window each way
        x0 = max(min(wx0, pts[:, 0].min()), cx - hx)
        x1 = min(max(wx1, pts[:, 0].max()), cx + hx)
        y0 = max(min(wy0, pts[:, 1].min()), cy - hy)
        y1 = min(max(wy1, pts[:, 1].max()), cy + hy)
    pad_x, pad_y = max((x1 - x0) * 0.05, 1e-3), max((y1 - y0) * 0.05, 1e-3)
    return float(x0 - pad_x), float(x1 + pad_x), float(y0 - pad_y), float(y1 + pad_y)


def _contours(
    ax: Axes, surface: Surface, window: tuple[float, float, float, float], log: bool | None
) -> None:
    x0, x1, y0, y1 = window
    xs, ys = np.linspace(x0, x1, _GRID), np.linspace(y0, y1, _GRID)
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        z = surface(torch.from_numpy(gx), torch.from_numpy(gy)).numpy()
    floor = surface.minimum_value if surface.minimum_value is not None else float(z.min())
    gap = np.maximum(z - floor, 0.0)
    positive = gap[gap > 0]
    if log is None:
        log = positive.size > 0 and float(np.percentile(positive, 95)) > 100 * float(
            np.median(positive)
        )
    if log and positive.size:
        low = max(float(np.percentile(positive, 0.5)), float(positive.max()) * 1e-6)
        levels = np.geomspace(low, float(positive.max()), 24)
        ax.contour(
            gx,
            gy,
            np.maximum(gap, low),
            levels=levels,
            norm=LogNorm(),
            colors="0.6",
            linewidths=0.6,
        )
    else:
        ax.contour(gx, gy, gap, levels=20, colors="0.6", linewidths=0.6)


def _label(t: Trajectory) -> str:
    tag = " tuned" if t.tuned else ""
    return f"{t.optimizer} (lr {t.lr:.3g}{tag})" + (" — diverged" if t.diverged else "")


def _title(items: list[Trajectory], surface: Surface | None) -> str:
    name = surface.name if surface is not None else items[0].fn
    formula = f": $f = {surface.formula}$" if surface is not None and surface.formula else ""
    lrs = {t.lr for t in items}
    if any(t.tuned for t in items):
        lr_text = "tuned lr"
    elif len(lrs) == 1:
        lr_text = f"lr {lrs.pop():g}"
    else:
        lr_text = "lr per optimizer"
    steps = max(t.steps for t in items)
    return f"{name}{formula}\n{lr_text}, {steps} steps"


def _setup(
    ax: Axes,
    items: list[Trajectory],
    surface: Surface | None,
    *,
    contours: bool,
    log_contours: bool | None,
) -> None:
    window = _window(items, surface)
    if contours and surface is not None:
        _contours(ax, surface, window, log_contours)
    starts = {t.start for t in items}
    ax.scatter(
        [s[0] for s in starts],
        [s[1] for s in starts],
        marker="*",
        s=180,
        color="black",
        zorder=5,
        label="start",
    )
    if surface is not None and surface.minima:
        mx, my = zip(*surface.minima, strict=True)
        ax.scatter(
            mx,
            my,
            marker="X",
            s=110,
            color="crimson",
            zorder=5,
            label="minimum" if len(surface.minima) == 1 else "minima",
        )
    ax.set_xlim(window[0], window[1])
    ax.set_ylim(window[2], window[3])
    ax.set_aspect("equal")
    ax.set(xlabel="x", ylabel="y", title=_title(items, surface))


def _figure(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        if not isinstance(fig, Figure):
            raise InvalidArgumentError("ax must belong to a matplotlib Figure", parameter="ax")
        return fig, ax
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    return fig, fig.add_subplot()


def plot(
    trajectories: Mapping[str, Trajectory] | Iterable[Trajectory] | Trajectory,
    *,
    fn: SurfaceName | SurfaceFn | Surface | None = None,
    kind: Literal["scatter", "line"] = "scatter",
    contours: bool = True,
    log_contours: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The paths of (x, y), x horizontal and y vertical, on the surface's contour lines.

    Parameters
    ----------
    trajectories : mapping, iterable or Trajectory
        What :func:`~nnkit.optim_viz.compare` or :func:`~nnkit.optim_viz.trace` returned.
    fn : str, callable or Surface, optional
        The surface for the contours; by default the one the trajectories were traced on (a
        custom callable has to be passed again, since only its name is stored).
    kind : {"scatter", "line"}
        One dot per point (the notes' scatter plot) or a line with small markers.
    contours : bool
        Draw contour lines of the surface behind the paths.
    log_contours : bool, optional
        Space contour levels logarithmically; by default when the surface's values span
        several orders of magnitude (Rosenbrock, Beale, Himmelblau).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; a new Figure is made otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        Equal aspect, one colour per optimizer with a legend, the start (black star) and the
        known minima (red crosses) marked, and a title naming the surface, lr and steps. Not
        shown; save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> from nnkit.optim_viz import compare
    >>> fig = plot(compare(("sgd", "adam"), steps=20))
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('x', 'y')
    """
    if kind not in ("scatter", "line"):
        raise InvalidArgumentError(
            f"kind must be 'scatter' or 'line', got {kind!r}", parameter="kind"
        )
    items = _as_list(trajectories)
    surface = _surface_for(items, fn)
    fig, axes = _figure(ax)
    _setup(axes, items, surface, contours=contours, log_contours=log_contours)
    for i, t in enumerate(items):
        color = f"C{i % 10}"
        if kind == "scatter":
            axes.scatter(
                t.points[:, 0],
                t.points[:, 1],
                s=16,
                color=color,
                label=_label(t),
                marker=_MARKERS[i % len(_MARKERS)],
                zorder=3,
                alpha=0.8,
                edgecolors="none",
            )
        else:
            axes.plot(
                t.points[:, 0],
                t.points[:, 1],
                "-o",
                ms=2.5,
                lw=1.2,
                color=color,
                label=_label(t),
                zorder=3,
            )
    axes.legend(loc="best", fontsize="small", framealpha=0.85)
    return fig


def plot_values(
    trajectories: Mapping[str, Trajectory] | Iterable[Trajectory] | Trajectory,
    *,
    ax: Axes | None = None,
) -> Figure:
    """f minus its minimum against step, on a log scale, one line per optimizer.

    Gaps below ``1e-30`` (exact zeros included) are drawn at ``1e-30``, so one run that lands
    exactly on the minimum does not stretch the axis over hundreds of decades. Where the minimum
    value is unknown (custom callables), f itself is drawn (log scale when every value is
    positive, symmetric log otherwise).

    Examples
    --------
    >>> from nnkit.optim_viz import compare
    >>> fig = plot_values(compare(("sgd", "adagrad"), steps=20))
    >>> fig.axes[0].get_yscale()
    'log'
    """
    items = _as_list(trajectories)
    fig, axes = _figure(ax)
    floors = [SURFACES[t.fn].minimum_value if t.fn in SURFACES else None for t in items]
    known = all(f is not None for f in floors)
    tiny = 1e-30
    for i, (t, floor) in enumerate(zip(items, floors, strict=True)):
        values = t.values.astype(np.float64)
        shown = np.maximum(values - floor, tiny) if floor is not None else values
        axes.plot(np.arange(len(values)), shown, color=f"C{i % 10}", label=_label(t))
    all_positive = all(bool((t.values > 0).all()) for t in items)
    axes.set_yscale("log" if known or all_positive else "symlog")
    axes.set(
        xlabel="step",
        ylabel="f - f(minimum)" if known else "f",
        title=f"{items[0].fn}: value against step",
    )
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small")
    return fig


def animate(
    trajectories: Mapping[str, Trajectory] | Iterable[Trajectory] | Trajectory,
    path: str | os.PathLike[str],
    *,
    fn: SurfaceName | SurfaceFn | Surface | None = None,
    fps: int = 15,
    max_frames: int = 120,
    contours: bool = True,
) -> Path:
    """Write a GIF of the paths growing step by step (matplotlib's Pillow writer).

    Parameters
    ----------
    trajectories, fn, contours
        As in :func:`plot`.
    path : str or os.PathLike
        Where to write the GIF; written to a temporary file first, then renamed.
    fps : int
        Frames per second.
    max_frames : int
        At most this many frames (long runs advance several steps per frame).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nnkit.optim_viz import compare
    >>> out = animate(compare(("sgd",), steps=5), pathlib.Path(tempfile.mkdtemp()) / "a.gif")
    >>> out.read_bytes()[:6]
    b'GIF89a'
    """
    if fps < 1 or max_frames < 1:
        raise InvalidArgumentError(
            f"fps and max_frames must be positive, got {fps} and {max_frames}"
        )
    items = _as_list(trajectories)
    surface = _surface_for(items, fn)
    fig, axes = _figure(None)
    _setup(axes, items, surface, contours=contours, log_contours=None)
    lines = [
        axes.plot([], [], "-o", ms=2.5, lw=1.2, color=f"C{i % 10}", label=_label(t))[0]
        for i, t in enumerate(items)
    ]
    axes.legend(loc="best", fontsize="small", framealpha=0.85)
    longest = max(len(t.points) for t in items)
    frames = np.unique(np.linspace(1, longest, min(max_frames, longest)).round().astype(int))

    def update(k: int) -> list[Any]:
        for line, t in zip(lines, items, strict=True):
            line.set_data(t.points[:k, 0], t.points[:k, 1])
        return lines

    animation = FuncAnimation(fig, update, frames=frames, blit=False)
    with atomic_path(path, suffix=".gif") as tmp:
        animation.save(tmp, writer=PillowWriter(fps=fps))
    return Path(path)
