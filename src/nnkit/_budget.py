"""How long a training run may go on: epochs, optimizer steps or seconds, whichever ends first."""

from __future__ import annotations

from dataclasses import dataclass

from ._validate import at_most, positive_float, positive_int

#: The most epochs and optimizer steps a run may be given (declared ranges: a count beyond them
#: is a typo, not a plan).
MAX_EPOCHS = 1_000_000
MAX_STEPS = 10**12


@dataclass(frozen=True)
class Budget:
    """The budgets of one :func:`~nnkit.train.fit` call and how much of them is spent.

    ``spent`` is the largest spent share of any budget, from 0 to 1: the clock that
    :mod:`nnkit.schedules` read, so a cosine runs over steps or over time alike. When no
    budget at all is given, one epoch is.
    """

    epochs: int | None
    max_steps: int | None
    max_seconds: float | None
    steps_per_epoch: int  # 0 when the data cannot say

    @classmethod
    def of(
        cls,
        epochs: int | None,
        max_steps: int | None,
        max_seconds: float | None,
        steps_per_epoch: int = 0,
    ) -> Budget:
        """Validate the three budgets; none given means one epoch."""
        if epochs is not None:
            epochs = at_most(positive_int(epochs, "epochs"), "epochs", MAX_EPOCHS)
        if max_steps is not None:
            max_steps = at_most(positive_int(max_steps, "max_steps"), "max_steps", MAX_STEPS)
        if max_seconds is not None:
            max_seconds = positive_float(max_seconds, "max_seconds")
        if epochs is None and max_steps is None and max_seconds is None:
            epochs = 1
        return cls(epochs, max_steps, max_seconds, max(int(steps_per_epoch), 0))

    @property
    def total_steps(self) -> int | None:
        """Optimizer steps the run will take at most, when the step or epoch budget says."""
        totals = []
        if self.max_steps is not None:
            totals.append(self.max_steps)
        if self.epochs is not None and self.steps_per_epoch:
            totals.append(self.epochs * self.steps_per_epoch)
        return min(totals) if totals else None

    def spent(self, step: int, seconds: float, epochs_done: int) -> float:
        """Share of the budget spent after ``step`` steps, ``seconds`` and ``epochs_done``."""
        spent = 0.0
        total = self.total_steps
        if total is not None:
            spent = step / total
        elif self.epochs is not None:  # the data has no length: count whole epochs
            spent = epochs_done / self.epochs
        if self.max_seconds is not None:
            spent = max(spent, seconds / self.max_seconds)
        return min(spent, 1.0)

    def seconds_left(self, seconds: float) -> float | None:
        """Seconds of the time budget left (None without one)."""
        return None if self.max_seconds is None else max(0.0, self.max_seconds - seconds)
