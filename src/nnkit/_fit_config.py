"""Every argument of :func:`~nnkit.train.fit`, checked once against declared constraints
before anything is touched (scikit-learn's parameter validation is the model), and the
checked settings as one frozen :class:`FitConfig` that the run reads."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from . import losses
from ._atomic import check_writable
from ._budget import Budget
from ._monitor import check_monitors
from ._progress import resolve_progress
from ._scheduling import ScheduleSpec
from ._validate import (
    boolean,
    fail,
    positive_float,
    positive_int,
    seed_value,
)
from .callbacks.base import CallbackList
from .metrics import Metric, MetricsArg, as_metrics
from .optimizers import OptimizerName, OptimizerSpec, optimizer_has_momentum
from .runtime import Runtime
from .schedules import Schedule, SchedulerArg

Check = Callable[[Any, str], Any]


def _optional(check: Check) -> Check:
    def checked(value: Any, name: str) -> Any:
        return None if value is None else check(value, name)

    return checked


#: The constraint of every plain argument of ``fit``: name -> check (which converts harmless
#: differences, an int to a float, and raises InvalidArgumentError naming the argument). The
#: arguments that travel in a group are checked once, by the group's own type: the budgets by
#: ``Budget.of``, the optimizer with its lr, weight decay and kwargs by ``OptimizerSpec.of``,
#: the schedule by ``ScheduleSpec``, the runtime by ``Runtime``, ``validation_split`` by
#: ``split_validation`` (the first thing the run does, as it needs the data).
CONSTRAINTS: dict[str, Check] = {
    "grad_clip": _optional(positive_float),
    "batch_size": positive_int,
    "val_batch_size": positive_int,
    "accumulate": positive_int,
    "shuffle": boolean,
    "seed": _optional(seed_value),
    "log_every": _optional(positive_int),
    "resume": boolean,
}


@dataclass(frozen=True)
class FitConfig:
    """The checked settings of one ``fit`` call (what the run is built from)."""

    budget: Budget
    loss_fn: losses.LossFn | None
    loss_name: str
    metrics: Sequence[Metric]
    optimizer: OptimizerSpec | torch.optim.Optimizer
    schedule: ScheduleSpec
    runtime: Runtime
    callbacks: CallbackList
    batch_size: int
    val_batch_size: int
    accumulate: int
    validation_split: float | None
    grad_clip: float | None
    shuffle: bool
    seed: int | None
    progress: Literal["bar", "lines", "off"]
    log_every: int | None
    checkpoint: Path | None
    resume: bool
    has_val: bool


def record_names(metrics: Sequence[Metric], has_val: bool) -> tuple[str, ...]:
    """Every value an epoch record of this run holds: what a monitor may name."""
    names = ["train_loss", "train_accuracy", *(f"train_{m.name}" for m in metrics)]
    if has_val:
        names += ["val_loss", "val_accuracy", *(f"val_{m.name}" for m in metrics)]
    return (*names, "lr", "epoch", "seconds", "samples_per_second")


def _describe_loss(loss: object) -> str:
    if loss is None:
        return "the model's own"
    if isinstance(loss, str):
        return loss
    if isinstance(loss, torch.nn.Module):
        return repr(loss)
    return getattr(loss, "__qualname__", type(loss).__name__)


def check_fit(
    *,
    val_given: bool,
    epochs: int | None,
    max_steps: int | None,
    max_seconds: float | None,
    lr: float | None,
    weight_decay: float,
    validation_split: float | None,
    loss: losses.LossArg | None,
    metrics: MetricsArg,
    optimizer: OptimizerName | torch.optim.Optimizer,
    optimizer_kwargs: Mapping[str, Any] | None,
    scheduler: SchedulerArg,
    scheduler_kwargs: Mapping[str, Any] | None,
    runtime: Runtime | None,
    device: Any,
    progress: object,
    callbacks: Sequence[Any],
    checkpoint: str | os.PathLike[str] | None,
    **plain: Any,
) -> FitConfig:
    """Check every argument of ``fit`` (the plain ones against :data:`CONSTRAINTS`, then the
    ones that depend on each other) and return them as a :class:`FitConfig`."""
    v = {name: CONSTRAINTS[name](value, name) for name, value in plain.items()}
    if v["resume"] and checkpoint is None:
        raise fail("resume", "resume=True needs checkpoint=PATH to resume from")
    if validation_split is not None and val_given:
        raise fail(
            "validation_split",
            "give validation data either as val= or as validation_split=, not both",
        )
    if runtime is not None and not isinstance(runtime, Runtime):
        raise fail("runtime", f"runtime must be an nnkit.runtime.Runtime, got {runtime!r}")
    rt = (runtime or Runtime()).with_device(device)
    loss_fn = None if loss is None else losses.get(loss)
    metric_list = as_metrics(metrics)
    budget = Budget.of(epochs, max_steps, max_seconds)
    if isinstance(optimizer, torch.optim.Optimizer):
        if lr is not None or weight_decay or optimizer_kwargs:
            raise fail(
                "optimizer",
                "lr, weight_decay and optimizer kwargs apply to optimizers given by name; "
                "set them on the optimizer object you passed instead",
            )
        spec: OptimizerSpec | torch.optim.Optimizer = optimizer
        momentum = optimizer_has_momentum(optimizer.defaults)
        closure_based = isinstance(optimizer, torch.optim.LBFGS)
    else:
        spec = OptimizerSpec.of(
            optimizer, lr=lr, weight_decay=weight_decay, kwargs=optimizer_kwargs
        )
        momentum, closure_based = spec.has_momentum, spec.cls is torch.optim.LBFGS
    if closure_based and v["accumulate"] > 1:
        raise fail(
            "accumulate", "LBFGS re-evaluates its batch and cannot accumulate; use accumulate=1"
        )
    if closure_based and rt.amp == "fp16":
        raise fail(
            "runtime",
            "Runtime(amp='fp16') scales the loss, which LBFGS cannot take; use amp='bf16'",
        )
    schedule = ScheduleSpec(scheduler, scheduler_kwargs, budget, momentum=momentum)
    callback_list = CallbackList(callbacks)
    has_val = val_given or validation_split is not None
    watchers = callback_list.monitors()
    if isinstance(schedule.scheduler, Schedule):
        watchers["scheduler"] = schedule.scheduler.monitors
    check_monitors(watchers, record_names(metric_list, has_val))
    path = None
    if checkpoint is not None:
        path = Path(checkpoint)
        check_writable(path, "checkpoint")
    return FitConfig(
        budget=budget,
        loss_fn=loss_fn,
        loss_name=_describe_loss(loss),
        metrics=metric_list,
        optimizer=spec,
        schedule=schedule,
        runtime=rt,
        callbacks=callback_list,
        batch_size=v["batch_size"],
        val_batch_size=v["val_batch_size"],
        accumulate=v["accumulate"],
        validation_split=validation_split,
        grad_clip=v["grad_clip"],
        shuffle=v["shuffle"],
        seed=v["seed"],
        progress=resolve_progress(progress),
        log_every=v["log_every"],
        checkpoint=path,
        resume=v["resume"],
        has_val=has_val,
    )
