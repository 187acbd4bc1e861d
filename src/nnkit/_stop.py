"""Why a training run stops: one pure function of the budget, the callbacks' request and the
schedule (:func:`stop_reason`), the only place that decides it."""

from __future__ import annotations

from ._budget import Budget
from .history import StopReason, StopRequest

#: When several reasons hold at once, the first of these is reported: a decision about the run
#: (a callback's, a schedule's) before a limit on it (a budget).
PRECEDENCE: tuple[StopReason, ...] = (
    "early_stopping",
    "callback",
    "schedule",
    "max_steps",
    "max_seconds",
    "epochs",
)


def stop_reason(
    budget: Budget,
    *,
    epochs_done: int,
    steps: int,
    seconds: float,
    request: StopRequest | None = None,
    schedule_finished: bool = False,
) -> StopReason | None:
    """Why the run stops now, or None to go on.

    Parameters
    ----------
    budget : Budget
        The run's budgets.
    epochs_done : int
        Epochs finished (counting a resumed run's earlier ones). Asked in the middle of
        epoch ``e``, that is ``e - 1``, so the epoch budget never ends an epoch early.
    steps : int
        Optimizer steps taken.
    seconds : float
        Seconds spent.
    request : {"early_stopping", "callback"}, optional
        A callback's request to stop.
    schedule_finished : bool
        The schedule has nothing left to do.
    """
    holds = {
        "early_stopping": request == "early_stopping",
        "callback": request == "callback",
        "schedule": schedule_finished,
        "max_steps": budget.max_steps is not None and steps >= budget.max_steps,
        "max_seconds": budget.max_seconds is not None and seconds >= budget.max_seconds,
        "epochs": budget.epochs is not None and epochs_done >= budget.epochs,
    }
    return next((reason for reason in PRECEDENCE if holds[reason]), None)
