"""Optimizer trajectories on 2-d surfaces: trace, compare, tune, save, plot and animate.

The study notes minimise z(x, y) = x^2 + y^2 from (1.0, 1.5) with six ``torch.optim``
optimizers at lr 0.1 for 100 steps and scatter the path of (x, y). :func:`trace` does that
computation exactly (the very same ``torch.optim`` arithmetic, float32 by default), keeps the start
point the notes lost, and stops cleanly when a run diverges; :func:`plot` draws the paths on the
surface's contours.

The package has three parts, each importing only the one before it: ``trajectory`` (the
:class:`Trajectory` record and its JSON), ``tracing`` (running optimizers) and ``figures``
(drawing them).
"""

from .figures import animate, plot, plot_values
from .tracing import DEFAULT_LR_GRID, NOTES_OPTIMIZERS, OptimizerArg, compare, trace, tune_lr
from .trajectory import Trajectory, load_trajectories, save_trajectories

__all__ = [
    "DEFAULT_LR_GRID",
    "NOTES_OPTIMIZERS",
    "OptimizerArg",
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
