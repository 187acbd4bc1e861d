"""The one place that changes learning rates during :func:`~nnkit.train.fit`."""

from __future__ import annotations

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


class LRDriver:
    """Applies the scheduler ``fit`` was given: before and after every step, after every epoch.

    An nnkit :class:`~nnkit.schedules.Schedule` sets every group's learning rate to its peak
    times ``schedule(progress)`` before each step; a PyTorch scheduler is stepped after each
    batch (OneCycleLR, CyclicLR) or after each epoch (ReduceLROnPlateau with the monitored
    loss). Its :meth:`state_dict` holds everything a resumed run needs.
    """

    def __init__(
        self,
        scheduler: SchedulerArg,
        optimizer: torch.optim.Optimizer,
        budget: Budget,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.peaks = [float(group["lr"]) for group in optimizer.param_groups]
        self.schedule: Schedule | None = None
        self.torch: lr_scheduler.LRScheduler | None = None
        self.plateau: lr_scheduler.ReduceLROnPlateau | None = None
        self.per_batch = False
        extra = dict(kwargs or {})
        objects = Schedule | lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau
        if extra and (scheduler is None or isinstance(scheduler, objects)):
            raise fail(
                "scheduler_kwargs",
                "scheduler_kwargs apply to schedulers given by name; set them on the "
                "scheduler object instead",
            )
        if scheduler is None:
            return
        if isinstance(scheduler, Schedule):
            self.schedule = scheduler
        elif isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            self.plateau = scheduler
        elif isinstance(scheduler, lr_scheduler.LRScheduler):
            self.torch = scheduler
            self.per_batch = isinstance(scheduler, _PER_BATCH)
        elif scheduler == "cosine":
            try:
                self.schedule = Cosine(**extra)
            except InvalidArgumentError:
                raise
            except TypeError as exc:  # an unknown keyword
                raise fail("scheduler_kwargs", f"bad scheduler_kwargs for Cosine: {exc}") from None
        elif scheduler == "onecycle":
            total = budget.total_steps
            if total is None:
                raise fail(
                    "scheduler",
                    "scheduler='onecycle' needs to know the number of steps: give epochs= "
                    "(with data of known length) or max_steps=; for a time budget use "
                    "scheduler='cosine'",
                )
            self.torch = lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.peaks, total_steps=total, **extra
            )
            self.per_batch = True
        elif scheduler == "step":
            if budget.epochs is None:
                raise fail("scheduler", "scheduler='step' needs epochs=; use 'cosine' instead")
            settings = {"step_size": max(1, budget.epochs // 3), "gamma": 0.1, **extra}
            self.torch = lr_scheduler.StepLR(optimizer, **settings)
        else:
            raise fail(
                "scheduler",
                f"unknown scheduler {scheduler!r}; expected one of {', '.join(SCHEDULER_NAMES)}, "
                "an nnkit.schedules.Schedule or a torch.optim.lr_scheduler object",
            )

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
            value = record.test_loss if record.test_loss is not None else record.train_loss
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
