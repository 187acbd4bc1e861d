"""Tracing optimizers on 2-d surfaces: :func:`trace`, :func:`tune_lr`, :func:`compare`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..optimizers import OPTIMIZER_NAMES, OptimizerName, build_optimizer
from ..surfaces import Surface, SurfaceFn, SurfaceName, get_surface
from .trajectory import Trajectory

__all__ = ["DEFAULT_LR_GRID", "NOTES_OPTIMIZERS", "OptimizerArg", "compare", "trace", "tune_lr"]

#: The six optimizers the notes compare.
NOTES_OPTIMIZERS: tuple[OptimizerName, ...] = (
    "sgd",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
)
#: Learning rates tried by ``lr="tuned"``: 31 values, log-spaced from 1e-4 to 10.
DEFAULT_LR_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, 1, 31))

#: An optimizer by name, or a ``torch.optim.Optimizer`` subclass.
OptimizerArg = OptimizerName | type[torch.optim.Optimizer]


#: The most steps a trajectory may take (its points and values are kept in memory).
MAX_STEPS = 1_000_000


def _optimizer_name(optimizer: OptimizerArg) -> str:
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZER_NAMES:
            raise InvalidArgumentError(
                f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZER_NAMES)} "
                "or a torch.optim.Optimizer subclass"
            )
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer.__name__
    raise InvalidArgumentError(
        f"optimizer must be a name or a torch.optim.Optimizer subclass, got {optimizer!r}",
        parameter="optimizer",
    )


def _check_start(start: Sequence[float]) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in start)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"start must be two numbers (x, y), got {start!r}", parameter="start"
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidArgumentError(f"start must be finite, got {start!r}", parameter="start")
    return x, y


def trace(
    optimizer: OptimizerArg,
    *,
    fn: SurfaceName | SurfaceFn | Surface = "quadratic",
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
    optimizer : str or type
        ``"sgd"``, ``"momentum"`` (SGD, momentum 0.9), ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adadelta"``, ``"adam"``, ``"adamw"``, ``"lbfgs"``, or a
        ``torch.optim.Optimizer`` subclass.
    fn : str, callable or Surface
        A name from :data:`nnkit.surfaces.SURFACE_NAMES` or ``f(x, y) -> tensor`` written with
        torch operations.
    start : tuple of float, optional
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
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise InvalidArgumentError(
            f"steps must be an integer in [1, {MAX_STEPS:,}], got {steps!r}", parameter="steps"
        )
    if not isinstance(lr, int | float) or not lr > 0 or not math.isfinite(lr):
        raise InvalidArgumentError(f"lr must be a positive number, got {lr!r}", parameter="lr")
    if dtype not in (torch.float32, torch.float64):
        raise InvalidArgumentError(
            f"dtype must be torch.float32 or torch.float64, got {dtype}", parameter="dtype"
        )
    if lr > torch.finfo(dtype).max:
        raise InvalidArgumentError(
            f"lr must be at most {torch.finfo(dtype).max:.3g} for {str(dtype)[6:]} points, got "
            f"{lr!r} (torch.float64 allows up to {torch.finfo(torch.float64).max:.3g})",
            parameter="lr",
        )
    x0, y0 = _check_start(surface.start if start is None else start)
    x = torch.tensor([x0], dtype=dtype, requires_grad=True)
    y = torch.tensor([y0], dtype=dtype, requires_grad=True)
    if isinstance(optimizer, str):
        opt = build_optimizer(cast(OptimizerName, name), [x, y], lr=lr, **optimizer_kwargs)
    else:
        opt = cast(Any, optimizer)([x, y], lr=lr, **optimizer_kwargs)
    evaluations = 0

    def evaluate() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        value = surface(x, y)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise InvalidArgumentError(
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
    fn: SurfaceName | SurfaceFn | Surface = "quadratic",
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
        raise InvalidArgumentError("grid must hold at least one learning rate", parameter="grid")
    best.tuned = True
    return best


def compare(
    optimizers: Iterable[OptimizerArg] = NOTES_OPTIMIZERS,
    *,
    fn: SurfaceName | SurfaceFn | Surface = "quadratic",
    start: Sequence[float] | None = None,
    lr: float | Mapping[str, float] | Literal["tuned"] = 0.1,
    steps: int = 100,
    dtype: torch.dtype = torch.float32,
    grid: Iterable[float] = DEFAULT_LR_GRID,
) -> dict[str, Trajectory]:
    """Trace several optimizers from the same start on the same surface.

    Parameters
    ----------
    optimizers : iterable of str or type
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
        raise InvalidArgumentError(
            f"lr must be a number, a mapping or 'tuned', got {lr!r}", parameter="lr"
        )
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
        raise InvalidArgumentError(
            "optimizers must name at least one optimizer", parameter="optimizers"
        )
    return out
