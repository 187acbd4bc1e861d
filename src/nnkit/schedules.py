"""Learning-rate schedules over a training budget, for any :func:`~nnkit.train.fit`.

A :class:`Schedule` is a small function of *progress*: the share of the run's budget that is
spent, from 0 to 1, whether the budget is epochs, optimizer steps or seconds
(``fit(epochs=, max_steps=, max_seconds=)``; the largest share counts). Before every optimizer
step ``fit`` sets each parameter group's learning rate to its peak (the ``lr`` it was built
with) times ``schedule(progress)``; nothing else writes the learning rate. As in nanoGPT's
``get_lr(it)``, the shape is a pure function you can plot::

    >>> cosine = Cosine(floor=0.1)
    >>> [round(cosine(p), 3) for p in (0.0, 0.5, 1.0)]
    [1.0, 0.55, 0.1]

:class:`ReduceOnPlateau` multiplies another schedule by a factor that halves (by default)
whenever the monitored metric has not improved for ``patience`` epochs, and can end training
once the factor is small enough. Its state goes into ``fit``'s checkpoints, so a resumed run
continues where it was.

PyTorch's schedulers work too: ``fit(scheduler=...)`` takes a ``torch.optim.lr_scheduler``
object (OneCycleLR and CyclicLR step every batch, ReduceLROnPlateau every epoch with the
validation loss, the others every epoch) and the names of :data:`SCHEDULER_NAMES`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from torch.optim import lr_scheduler

from ._monitor import Mode, Monitor
from ._validate import fail, in_interval, positive_int
from .history import EpochRecord

__all__ = [
    "SCHEDULER_NAMES",
    "Constant",
    "Cosine",
    "ReduceOnPlateau",
    "Schedule",
    "SchedulerArg",
    "SchedulerName",
]

#: Schedules by name. ``"cosine"`` is :class:`Cosine` (to 0 over the budget, every step);
#: ``"onecycle"`` PyTorch's OneCycleLR over the step budget; ``"step"`` PyTorch's StepLR,
#: a tenth every third of the epochs.
SchedulerName: TypeAlias = Literal["onecycle", "cosine", "step"]
SCHEDULER_NAMES: tuple[str, ...] = get_args(SchedulerName)


class Schedule(ABC):
    """The learning rate's multiplier as a function of progress through the budget.

    Subclasses implement :meth:`__call__`. A schedule that learns from the epochs it sees
    (:class:`ReduceOnPlateau`) also overrides :meth:`observe`, :attr:`finished`,
    :meth:`state_dict` and :meth:`load_state_dict`.
    """

    @abstractmethod
    def __call__(self, progress: float) -> float:
        """The multiplier of the peak learning rate at ``progress`` in ``[0, 1]``."""

    def observe(self, record: EpochRecord) -> None:  # noqa: B027  (optional hook)
        """Called by ``fit`` with every finished epoch's record (nothing by default)."""

    @property
    def monitors(self) -> tuple[str, ...]:
        """The record values :meth:`observe` reads (``fit`` checks they will exist before it
        trains); none by default."""
        return ()

    @property
    def finished(self) -> bool:
        """True when the schedule has nothing left to do (``fit`` then stops)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue (nothing for a pure function)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027  (optional hook)
        """Restore what :meth:`state_dict` returned."""


@dataclass(frozen=True)
class Constant(Schedule):
    """The peak learning rate throughout.

    Examples
    --------
    >>> Constant()(0.7)
    1.0
    """

    def __call__(self, progress: float) -> float:
        return 1.0


@dataclass(frozen=True)
class Cosine(Schedule):
    """Half a cosine from the peak down to ``floor`` times the peak, after a linear warm-up.

    Parameters
    ----------
    floor : float
        The multiplier at the end of the budget, in ``[0, 1]`` (0 decays to nothing).
    warmup : float
        Share of the budget spent rising linearly from 0 to the peak, in ``[0, 1)``.

    Examples
    --------
    >>> s = Cosine(floor=0.0, warmup=0.2)
    >>> [round(s(p), 3) for p in (0.0, 0.1, 0.2, 0.6, 1.0)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """

    floor: float = 0.0
    warmup: float = 0.0

    def __post_init__(self) -> None:
        in_interval(self.floor, "floor", 0.0, 1.0, closed="[]", what="Cosine")
        in_interval(self.warmup, "warmup", 0.0, 1.0, closed="[)", what="Cosine")

    def __call__(self, progress: float) -> float:
        p = min(max(progress, 0.0), 1.0)
        if p < self.warmup:
            return p / self.warmup
        q = (p - self.warmup) / (1.0 - self.warmup)
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * q))


class ReduceOnPlateau(Schedule):
    """Another schedule, times a scale that drops when the monitored metric stops improving.

    After every epoch, if ``monitor`` has not reached a new best for ``patience`` epochs in a
    row, the scale is multiplied by ``factor`` (halved by default) and the count starts again.
    Once the scale is at or below ``min_scale`` the schedule is :attr:`finished` and ``fit``
    stops (``history.stop_reason == "schedule"``): further epochs at a vanishing rate would
    change nothing. This is :func:`nnkit.text.train`'s default, for budgets longer than a
    small corpus needs.

    Parameters
    ----------
    schedule : Schedule, optional
        The shape over the budget (:class:`Constant` when None).
    monitor : str
        A record field or extra key; ``"val_loss"`` (the default) needs validation data.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better (auto: max for accuracies).
    patience : int
        Epochs without a new best before the scale drops.
    factor : float
        What the scale is multiplied by, in ``(0, 1)``.
    min_scale : float or None
        Stop once the scale is this small (``1/64``: after six halvings); None never stops.

    Examples
    --------
    >>> s = ReduceOnPlateau(Cosine(floor=0.1), patience=1)
    >>> for loss in (2.0, 1.5, 1.6):
    ...     s.observe(EpochRecord(epoch=1, train_loss=0.0, val_loss=loss))
    >>> s.scale, round(s(0.0), 3)
    (0.5, 0.5)
    """

    def __init__(
        self,
        schedule: Schedule | None = None,
        *,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        patience: int = 2,
        factor: float = 0.5,
        min_scale: float | None = 1 / 64,
    ) -> None:
        if schedule is not None and not isinstance(schedule, Schedule):
            raise fail(
                "schedule",
                f"ReduceOnPlateau wraps a Schedule (Cosine, Constant...), got {schedule!r}",
            )
        self.schedule = schedule if schedule is not None else Constant()
        self._monitor = Monitor(monitor, mode)
        self.patience = positive_int(patience, "patience", what="ReduceOnPlateau")
        self.factor = in_interval(factor, "factor", 0.0, 1.0, closed="()", what="ReduceOnPlateau")
        self.min_scale = (
            None
            if min_scale is None
            else in_interval(min_scale, "min_scale", 0.0, 1.0, closed="()", what="ReduceOnPlateau")
        )
        self.scale = 1.0
        self.stale = 0  # epochs since the last new best

    @property
    def monitor(self) -> str:
        return self._monitor.monitor

    @property
    def monitors(self) -> tuple[str, ...]:
        return (self.monitor, *self.schedule.monitors)

    @property
    def best(self) -> float:
        """The best monitored value so far."""
        return self._monitor.best

    def __call__(self, progress: float) -> float:
        return self.scale * self.schedule(progress)

    def observe(self, record: EpochRecord) -> None:
        if self._monitor.improved(self._monitor.value(record)):
            self.stale = 0
        else:
            self.stale += 1
            if self.stale >= self.patience:
                self.scale, self.stale = self.scale * self.factor, 0
        self.schedule.observe(record)

    @property
    def finished(self) -> bool:
        return self.min_scale is not None and self.scale <= self.min_scale * (1 + 1e-9)

    def state_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "stale": self.stale,
            "monitor": self._monitor.state_dict(),
            "schedule": self.schedule.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.stale = int(state["stale"])
        self._monitor.load_state_dict(state["monitor"])
        self.schedule.load_state_dict(state["schedule"])

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau({self.schedule!r}, monitor={self.monitor!r}, "
            f"patience={self.patience}, factor={self.factor}, min_scale={self.min_scale})"
        )


#: What ``fit(scheduler=...)`` accepts.
SchedulerArg: TypeAlias = (
    SchedulerName | Schedule | lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None
)
