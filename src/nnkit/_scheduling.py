"""The one place that changes learning rates during :func:`~nnkit.train.fit`: the schedule's
arguments checked before anything is built (:class:`ScheduleSpec`), then applied
(:class:`LRDriver`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler

from ._budget import Budget
from ._validate import fail
from .errors import InvalidArgumentError
from .history import EpochRecord
from .schedules import SCHEDULER_NAMES, Cosine, Schedule, SchedulerArg

_PER_BATCH = (lr_scheduler.OneCycleLR, lr_scheduler.CyclicLR)
#: What the named PyTorch schedulers accept in ``scheduler_kwargs`` (the rest fit sets).
_TORCH_NAMED: dict[str, tuple[type[Any], frozenset[str]]] = {
    "onecycle": (lr_scheduler.OneCycleLR, frozenset({"optimizer", "max_lr", "total_steps",
                                                      "epochs", "steps_per_epoch"})),
    "step": (lr_scheduler.StepLR, frozenset({"optimizer"})),
}  # fmt: skip


def _accepted(cls: type[Any], taken: frozenset[str]) -> list[str]:
    names = inspect.signature(cls.__init__).parameters
    return [n for n in names if n not in taken and n not in ("self", "verbose")]


class ScheduleSpec:
    """``fit``'s ``scheduler`` and ``scheduler_kwargs``, checked before anything is built.

    ``momentum`` says whether the optimizer has a momentum to cycle (None: not known yet).
    OneCycle cycles the momentum by default; with an optimizer that has none (Adagrad,
    Adadelta, LBFGS, plain SGD) the cycle is turned off, and asking for it is refused.
    """

    def __init__(
        self,
        scheduler: SchedulerArg,
        kwargs: Mapping[str, Any] | None,
        budget: Budget,
        *,
        momentum: bool,
    ) -> None:
        self.scheduler = scheduler
        self.kwargs = dict(kwargs or {})
        objects = Schedule | lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau
        if self.kwargs and (scheduler is None or isinstance(scheduler, objects)):
            raise fail(
                "scheduler_kwargs",
                "scheduler_kwargs apply to schedulers given by name; set them on the "
                "scheduler object instead",
            )
        if scheduler is None or isinstance(scheduler, objects):
            return
        if scheduler == "cosine":
            try:
                self.scheduler = Cosine(**self.kwargs)
            except InvalidArgumentError:
                raise
            except TypeError as exc:  # an unknown keyword
                raise fail("scheduler_kwargs", f"bad scheduler_kwargs for Cosine: {exc}") from None
            return
        if not isinstance(scheduler, str) or scheduler not in _TORCH_NAMED:
            raise fail(
                "scheduler",
                f"unknown scheduler {scheduler!r}; expected one of {', '.join(SCHEDULER_NAMES)}, "
                "an nnkit.schedules.Schedule or a torch.optim.lr_scheduler object",
            )
        cls, taken = _TORCH_NAMED[scheduler]
        accepted = _accepted(cls, taken)
        unknown = [key for key in self.kwargs if key not in accepted]
        if unknown:
            raise fail(
                "scheduler_kwargs",
                f"scheduler={scheduler!r} ({cls.__name__}) does not take {', '.join(unknown)}; "
                f"it takes {', '.join(accepted)}",
            )
        if scheduler == "onecycle":
            if budget.max_steps is None and budget.epochs is None:
                raise fail(
                    "scheduler",
                    "scheduler='onecycle' needs to know the number of steps: give epochs= "
                    "(with data of known length) or max_steps=; for a time budget use "
                    "scheduler='cosine'",
                )
            if not momentum:
                if self.kwargs.get("cycle_momentum", False):
                    raise fail(
                        "scheduler_kwargs",
                        "scheduler='onecycle' cannot cycle the momentum of an optimizer that "
                        "has none (Adagrad, Adadelta, LBFGS, SGD without momentum); drop "
                        "cycle_momentum=True or choose adam, momentum or nesterov",
                    )
                self.kwargs["cycle_momentum"] = False
        elif budget.epochs is None:
            raise fail("scheduler", "scheduler='step' needs epochs=; use 'cosine' instead")

    def describe(self) -> str:
        """The schedule in words, for the record of a checkpointed run."""
        s = self.scheduler
        if s is None:
            return "none"
        if isinstance(s, str):
            return f"{s}({', '.join(f'{k}={v!r}' for k, v in sorted(self.kwargs.items()))})"
        if isinstance(s, Schedule):
            return repr(s)
        return type(s).__name__


class LRDriver:
    """Applies the scheduler ``fit`` was given: before and after every step, after every epoch.

    An nnkit :class:`~nnkit.schedules.Schedule` sets every group's learning rate to its peak
    times ``schedule(progress)`` before each step; a PyTorch scheduler is stepped after each
    batch (OneCycleLR, CyclicLR) or after each epoch (ReduceLROnPlateau with the monitored
    loss). Its :meth:`state_dict` holds everything a resumed run needs.
    """

    def __init__(
        self, spec: ScheduleSpec, optimizer: torch.optim.Optimizer, budget: Budget
    ) -> None:
        self.optimizer = optimizer
        self.peaks = [float(group["lr"]) for group in optimizer.param_groups]
        self.schedule: Schedule | None = None
        self.torch: lr_scheduler.LRScheduler | None = None
        self.plateau: lr_scheduler.ReduceLROnPlateau | None = None
        self.per_batch = False
        scheduler, extra = spec.scheduler, spec.kwargs
        if isinstance(scheduler, Schedule):
            self.schedule = scheduler
        elif isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            self.plateau = scheduler
        elif isinstance(scheduler, lr_scheduler.LRScheduler):
            self.torch = scheduler
            self.per_batch = isinstance(scheduler, _PER_BATCH)
        elif scheduler == "onecycle":
            total = budget.total_steps
            if total is None:
                raise fail(
                    "scheduler",
                    "scheduler='onecycle' needs to know the number of steps, and this data "
                    "cannot say how many batches an epoch has: give max_steps=",
                )
            self.torch = lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.peaks, total_steps=total, **extra
            )
            self.per_batch = True
        elif scheduler == "step":
            settings = {"step_size": max(1, (budget.epochs or 1) // 3), "gamma": 0.1, **extra}
            self.torch = lr_scheduler.StepLR(optimizer, **settings)

    def before_step(self, progress: float) -> None:
        if self.schedule is not None:
            factor = self.schedule(progress)
            for group, peak in zip(self.optimizer.param_groups, self.peaks, strict=True):
                group["lr"] = peak * factor

    def after_step(self) -> None:
        if self.torch is not None and self.per_batch:
            self.torch.step()

    def end_epoch(self, record: EpochRecord) -> None:
        if self.torch is not None and not self.per_batch:
            self.torch.step()
        if self.plateau is not None:
            value = record.val_loss if record.val_loss is not None else record.train_loss
            self.plateau.step(value)
        if self.schedule is not None:
            self.schedule.observe(record)

    @property
    def finished(self) -> bool:
        return self.schedule is not None and self.schedule.finished

    def state_dict(self) -> dict[str, Any]:
        return {
            "peaks": list(self.peaks),
            "schedule": None if self.schedule is None else self.schedule.state_dict(),
            "torch": None if self.torch is None else self.torch.state_dict(),
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.peaks = [float(p) for p in state["peaks"]]
        for target, key in ((self.schedule, "schedule"), (self.torch, "torch")):
            if target is not None and state.get(key) is not None:
                target.load_state_dict(state[key])
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])
