"""Two-dimensional test functions for optimizers, with their minima and plotting windows."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

import torch

from .errors import InvalidArgumentError

__all__ = [
    "SURFACES",
    "SURFACE_NAMES",
    "Surface",
    "SurfaceFn",
    "SurfaceName",
    "get_surface",
]

SurfaceFn: TypeAlias = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SurfaceName: TypeAlias = Literal[
    "quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau", "rastrigin"
]
SURFACE_NAMES: tuple[str, ...] = get_args(SurfaceName)


@dataclass(frozen=True)
class Surface:
    """A function f(x, y) written with torch operations, and what is known about it.

    Attributes
    ----------
    name : str
        Its name (or the callable's ``__name__`` for user functions).
    fn : callable
        ``fn(x, y) -> tensor``, elementwise, so it works on scalars and on grids.
    minima : tuple of tuple of float
        The known global minima (empty when unknown).
    minimum_value : float or None
        f at the minima.
    window : tuple of float
        ``(xmin, xmax, ymin, ymax)``: a plotting window that shows the interesting part.
    start : tuple of float
        A start point that makes a good demonstration.
    formula : str
        The formula in LaTeX.
    """

    name: str
    fn: SurfaceFn
    minima: tuple[tuple[float, float], ...] = ()
    minimum_value: float | None = None
    window: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0)
    start: tuple[float, float] = (1.0, 1.5)
    formula: str = ""

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fn(x, y)


def _quadratic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * x + y * y


def _ill_conditioned(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * x + 20.0 * y * y


def _rosenbrock(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _beale(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _rastrigin(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    two_pi = 2.0 * math.pi
    return 20.0 + x * x - 10.0 * torch.cos(two_pi * x) + y * y - 10.0 * torch.cos(two_pi * y)


#: Every built-in surface by name (see :data:`SURFACE_NAMES`).
SURFACES: dict[str, Surface] = {
    "quadratic": Surface(
        "quadratic",
        _quadratic,
        ((0.0, 0.0),),
        0.0,
        (-1.25, 1.75, -0.75, 1.75),
        (1.0, 1.5),
        r"x^2 + y^2",
    ),
    "ill_conditioned": Surface(
        "ill_conditioned",
        _ill_conditioned,
        ((0.0, 0.0),),
        0.0,
        (-1.25, 1.75, -0.75, 1.75),
        (1.0, 1.5),
        r"x^2 + 20 y^2",
    ),
    "rosenbrock": Surface(
        "rosenbrock",
        _rosenbrock,
        ((1.0, 1.0),),
        0.0,
        (-2.0, 2.0, -1.0, 3.0),
        (-1.5, 2.0),
        r"(1 - x)^2 + 100 (y - x^2)^2",
    ),
    "beale": Surface(
        "beale",
        _beale,
        ((3.0, 0.5),),
        0.0,
        (-4.5, 4.5, -4.5, 4.5),
        (1.0, 1.5),
        r"(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
    ),
    "himmelblau": Surface(
        "himmelblau",
        _himmelblau,
        ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        0.0,
        (-5.0, 5.0, -5.0, 5.0),
        (0.0, 0.0),
        r"(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    ),
    "rastrigin": Surface(
        "rastrigin",
        _rastrigin,
        ((0.0, 0.0),),
        0.0,
        (-5.12, 5.12, -5.12, 5.12),
        (2.2, 1.7),
        r"20 + x^2 - 10\cos 2\pi x + y^2 - 10\cos 2\pi y",
    ),
}


def get_surface(fn: SurfaceName | SurfaceFn | Surface) -> Surface:
    """A :class:`Surface` for a name, a callable ``f(x, y)`` or a Surface.

    A callable becomes a Surface with no known minimum, the default window and start.

    Examples
    --------
    >>> get_surface("rosenbrock").minima
    ((1.0, 1.0),)
    >>> get_surface(lambda x, y: (x - 1) ** 2 + y ** 2).name
    '<lambda>'
    >>> get_surface("banana")
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: unknown surface 'banana'; expected one of quadratic, ...
    """
    if isinstance(fn, Surface):
        return fn
    if isinstance(fn, str):
        try:
            return SURFACES[fn]
        except KeyError:
            raise InvalidArgumentError(
                f"unknown surface {fn!r}; expected one of {', '.join(SURFACE_NAMES)}, "
                "or a callable f(x, y)"
            ) from None
    if callable(fn):
        return Surface(getattr(fn, "__name__", "custom"), fn)
    raise InvalidArgumentError(
        f"fn must be a surface name or a callable f(x, y), got {type(fn).__name__}", parameter="fn"
    )
