"""Optimizer trajectories on 2-d surfaces: trace, compare, tune, save, plot and animate.

The study notes minimise z(x, y) = x^2 + y^2 from (1.0, 1.5) with six ``torch.optim``
optimizers at lr 0.1 for 100 steps and scatter the path of (x, y). :func:`trace` does that
computation exactly (the very same ``torch.optim`` arithmetic, float32 by default), keeps the start
point the notes lost, and stops cleanly when a run diverges; :func:`plot` draws the paths on the
surface's contours.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import torch

from ._atomic import atomic_write_text
from ._optim_plot import animate, plot, plot_values
from .optimizers import OPTIMIZER_NAMES, build_optimizer
from .surfaces import Surface, SurfaceFn, get_surface

__all__ = [
    "DEFAULT_LR_GRID",
    "NOTES_OPTIMIZERS",
    "Trajectory",
    "animate",
    "compare",
    "load_trajectories",
    "plot",
    "plot_values",
    "save_trajectories",
    "trace",
    "tune_lr",
]

#: The six optimizers the notes compare.
NOTES_OPTIMIZERS: tuple[str, ...] = ("sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw")
#: Learning rates tried by ``lr="tuned"``: 31 values, log-spaced from 1e-4 to 10.
DEFAULT_LR_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, 1, 31))

OptimizerArg = str | type[torch.optim.Optimizer]


@dataclass
class Trajectory:
    """The path of one optimizer on one surface.

    Attributes
    ----------
    optimizer : str
        Its name (``"adam"``, or the class name for a class).
    fn : str
        The surface's name.
    lr : float
        The learning rate used.
    points : numpy.ndarray
        ``(k + 1, 2)``: the start, then (x, y) after each of the ``k`` steps taken
        (``k == steps`` unless the run diverged).
    values : numpy.ndarray
        ``(k + 1,)``: f at each point.
    steps : int
        Steps asked for.
    settings : dict
        The optimizer's other keyword arguments.
    dtype : str
        ``"float32"`` or ``"float64"``.
    diverged : bool
        True when a coordinate or f became NaN or infinite; ``points`` ends at the last finite
        point.
    evaluations : int
        Number of times f was evaluated (LBFGS evaluates several times per step).
    tuned : bool
        True when ``lr`` was picked by :func:`tune_lr`.
    """

    optimizer: str
    fn: str
    lr: float
    points: np.ndarray
    values: np.ndarray
    steps: int
    settings: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    diverged: bool = False
    evaluations: int = 0
    tuned: bool = False

    @property
    def start(self) -> tuple[float, float]:
        """The start point."""
        return float(self.points[0, 0]), float(self.points[0, 1])

    @property
    def end(self) -> tuple[float, float]:
        """The last (finite) point."""
        return float(self.points[-1, 0]), float(self.points[-1, 1])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of floats); :meth:`from_dict` reverses it exactly."""
        return {
            "optimizer": self.optimizer,
            "fn": self.fn,
            "lr": self.lr,
            "steps": self.steps,
            "settings": self.settings,
            "dtype": self.dtype,
            "diverged": self.diverged,
            "evaluations": self.evaluations,
            "tuned": self.tuned,
            "points": self.points.tolist(),
            "values": self.values.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        """Rebuild from :meth:`to_dict`'s output."""
        dtype = np.float64 if data.get("dtype") == "float64" else np.float32
        try:
            return cls(
                optimizer=str(data["optimizer"]),
                fn=str(data["fn"]),
                lr=float(data["lr"]),
                points=np.asarray(data["points"], dtype=dtype).reshape(-1, 2),
                values=np.asarray(data["values"], dtype=dtype),
                steps=int(data["steps"]),
                settings=dict(data.get("settings", {})),
                dtype=str(data.get("dtype", "float32")),
                diverged=bool(data.get("diverged", False)),
                evaluations=int(data.get("evaluations", 0)),
                tuned=bool(data.get("tuned", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Trajectory dictionary: {exc}") from exc


def _optimizer_name(optimizer: OptimizerArg) -> str:
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZER_NAMES:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZER_NAMES)} "
                "or a torch.optim.Optimizer subclass"
            )
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer.__name__
    raise TypeError(
        f"optimizer must be a name or a torch.optim.Optimizer subclass, got {optimizer!r}"
    )


def _check_start(start: Sequence[float]) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in start)
    except (TypeError, ValueError):
        raise ValueError(f"start must be two numbers (x, y), got {start!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"start must be finite, got {start!r}")
    return x, y


def trace(
    optimizer: OptimizerArg,
    *,
    fn: str | SurfaceFn | Surface = "quadratic",
    start: Sequence[float] | None = None,
    lr: float = 0.1,
    steps: int = 100,
    dtype: torch.dtype = torch.float32,
    **optimizer_kwargs: Any,
) -> Trajectory:
    """Run an optimizer on a surface and record every point, the start included.

    This is exactly the notes' loop: (x, y) are two one-element tensors with
    ``requires_grad=True``, and every step is ``zero_grad``, ``f(x, y).backward()``,
    ``optimizer.step()`` of a real ``torch.optim`` optimizer. Closure-based optimizers (LBFGS)
    get a closure, and one recorded step is one ``optimizer.step(closure)`` call.

    Parameters
    ----------
    optimizer : str or torch.optim.Optimizer subclass
        ``"sgd"``, ``"momentum"`` (SGD, momentum 0.9), ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adadelta"``, ``"adam"``, ``"adamw"``, ``"lbfgs"``, or a class.
    fn : str, callable or Surface
        A name from :data:`nnkit.surfaces.SURFACE_NAMES` or ``f(x, y) -> tensor`` written with
        torch operations.
    start : (float, float), optional
        The start point; by default the surface's (``(1.0, 1.5)`` for ``"quadratic"``).
    lr : float
        Learning rate.
    steps : int
        Number of optimizer steps.
    dtype : torch.dtype
        ``torch.float32`` (as in the notes) or ``torch.float64``.
    **optimizer_kwargs
        Passed to the optimizer (``momentum=0.5``, ``betas=(0.8, 0.9)``...).

    Returns
    -------
    Trajectory
        ``points`` of shape ``(steps + 1, 2)`` and ``values`` of shape ``(steps + 1,)``, fewer
        when the run diverged (then ``diverged`` is True).

    Examples
    --------
    >>> t = trace("sgd", lr=0.1, steps=3)
    >>> t.points.shape, t.start
    ((4, 2), (1.0, 1.5))
    >>> [round(float(v), 4) for v in t.points[:, 0]]  # x <- x - 0.1 * 2x
    [1.0, 0.8, 0.64, 0.512]
    """
    name = _optimizer_name(optimizer)
    surface = get_surface(fn)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(lr, int | float) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    x0, y0 = _check_start(surface.start if start is None else start)
    x = torch.tensor([x0], dtype=dtype, requires_grad=True)
    y = torch.tensor([y0], dtype=dtype, requires_grad=True)
    if isinstance(optimizer, str):
        opt = build_optimizer(optimizer, [x, y], lr=lr, **optimizer_kwargs)
    else:
        opt = cast(Any, optimizer)([x, y], lr=lr, **optimizer_kwargs)
    evaluations = 0

    def evaluate() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        value = surface(x, y)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ValueError(
                f"surface {surface.name!r} must return a one-element tensor for one-element "
                f"inputs, got {type(value).__name__} {getattr(value, 'shape', '')}"
            )
        return value.sum()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = evaluate()
        value.backward()  # type: ignore[no-untyped-call]
        return value

    points = [(x0, y0)]
    with torch.no_grad():
        values = [float(evaluate())]
    diverged = False
    closure_based = isinstance(opt, torch.optim.LBFGS)
    for _ in range(steps):
        if closure_based:
            opt.step(closure)  # type: ignore[arg-type]
        else:
            closure()
            opt.step()
        point = (float(x.detach()[0]), float(y.detach()[0]))
        with torch.no_grad():
            value = float(evaluate())
        if not all(math.isfinite(v) for v in (*point, value)):
            diverged = True
            break
        points.append(point)
        values.append(value)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return Trajectory(
        optimizer=name,
        fn=surface.name,
        lr=float(lr),
        points=np.asarray(points, dtype=np_dtype),
        values=np.asarray(values, dtype=np_dtype),
        steps=steps,
        settings=dict(optimizer_kwargs),
        dtype="float64" if dtype == torch.float64 else "float32",
        diverged=diverged,
        evaluations=evaluations,
    )


def _score(t: Trajectory, surface: Surface) -> tuple[float, float]:
    """Lower is better: (mean log10 gap to the minimum over the run, final gap)."""
    if t.diverged:
        return math.inf, math.inf
    floor = surface.minimum_value if surface.minimum_value is not None else 0.0
    gaps = np.abs(t.values.astype(np.float64) - floor)
    return float(np.log10(gaps + 1e-12).mean()), float(gaps[-1])


def tune_lr(
    optimizer: OptimizerArg,
    *,
    fn: str | SurfaceFn | Surface = "quadratic",
    start: Sequence[float] | None = None,
    steps: int = 100,
    grid: Iterable[float] = DEFAULT_LR_GRID,
    dtype: torch.dtype = torch.float32,
    **optimizer_kwargs: Any,
) -> Trajectory:
    """The trajectory with the best learning rate of ``grid`` for this surface.

    Every lr of the grid is traced for ``steps`` steps and scored by the mean, over all its
    points, of ``log10(f - f_min + 1e-12)`` (``f_min`` is the surface's minimum value, 0 when
    unknown): the area under the convergence curve of :func:`plot_values`. This rewards getting
    close early and staying close, so a learning rate that lands near the minimum by luck after
    wild jumps does not win. Runs that diverge are out; ties go to the lower final value.

    Returns
    -------
    Trajectory
        The winning run, with ``tuned=True``; its ``lr`` is the chosen learning rate.

    Examples
    --------
    >>> t = tune_lr("sgd", steps=20, grid=(0.01, 0.1, 0.5, 2.0))
    >>> t.lr, t.tuned  # 0.5 jumps to the minimum of x^2 + y^2 in one step; 2.0 diverges
    (0.5, True)
    """
    surface = get_surface(fn)
    best: Trajectory | None = None
    best_score = (math.inf, math.inf)
    for lr in grid:
        t = trace(
            optimizer, fn=surface, start=start, lr=lr, steps=steps, dtype=dtype, **optimizer_kwargs
        )
        score = _score(t, surface)
        if best is None or score < best_score:
            best, best_score = t, score
    if best is None:
        raise ValueError("grid must hold at least one learning rate")
    best.tuned = True
    return best


def compare(
    optimizers: Iterable[OptimizerArg] = NOTES_OPTIMIZERS,
    *,
    fn: str | SurfaceFn | Surface = "quadratic",
    start: Sequence[float] | None = None,
    lr: float | Mapping[str, float] | Literal["tuned"] = 0.1,
    steps: int = 100,
    dtype: torch.dtype = torch.float32,
    grid: Iterable[float] = DEFAULT_LR_GRID,
) -> dict[str, Trajectory]:
    """Trace several optimizers from the same start on the same surface.

    Parameters
    ----------
    optimizers : iterable of str or Optimizer subclass
        By default the notes' six: SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW.
    fn, start, steps, dtype
        As in :func:`trace`.
    lr : float, mapping or "tuned"
        One learning rate for all (the notes use 0.1, which is unfair to some optimizers), a
        mapping from optimizer name to lr (names missing from it get 0.1), or ``"tuned"`` to
        pick each optimizer's best lr from ``grid`` with :func:`tune_lr`.
    grid : iterable of float
        Learning rates tried when ``lr="tuned"``.

    Returns
    -------
    dict of str to Trajectory
        In the order given, keyed by optimizer name.

    Examples
    --------
    >>> paths = compare(steps=10)
    >>> list(paths), paths["adam"].points.shape
    (['sgd', 'adagrad', 'rmsprop', 'adadelta', 'adam', 'adamw'], (11, 2))
    """
    if isinstance(lr, str) and lr != "tuned":
        raise ValueError(f"lr must be a number, a mapping or 'tuned', got {lr!r}")
    grid = tuple(grid)
    out: dict[str, Trajectory] = {}
    for optimizer in optimizers:
        name = _optimizer_name(optimizer)
        if lr == "tuned":
            out[name] = tune_lr(optimizer, fn=fn, start=start, steps=steps, grid=grid, dtype=dtype)
            continue
        rate = lr.get(name, 0.1) if isinstance(lr, Mapping) else lr
        out[name] = trace(optimizer, fn=fn, start=start, lr=rate, steps=steps, dtype=dtype)
    if not out:
        raise ValueError("optimizers must name at least one optimizer")
    return out


def save_trajectories(
    trajectories: Mapping[str, Trajectory], path: str | os.PathLike[str] | None = None
) -> str:
    """Trajectories as JSON text, also written atomically to ``path`` when given."""
    text = json.dumps({k: t.to_dict() for k, t in trajectories.items()}, indent=1)
    if path is not None:
        atomic_write_text(path, text + "\n")
    return text


def load_trajectories(source: str | os.PathLike[str]) -> dict[str, Trajectory]:
    """Read what :func:`save_trajectories` wrote (JSON text or a path).

    Examples
    --------
    >>> paths = compare(("sgd", "adam"), steps=5)
    >>> back = load_trajectories(save_trajectories(paths))
    >>> bool((back["adam"].points == paths["adam"].points).all())
    True
    """
    text = str(source)
    if not text.lstrip().startswith("{"):
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("trajectory JSON must be an object of name -> trajectory")
    return {k: Trajectory.from_dict(v) for k, v in data.items()}
