"""Optimizers and learning-rate schedulers by name."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias, get_args

import torch
from torch import optim

__all__ = [
    "OPTIMIZER_NAMES",
    "SCHEDULER_NAMES",
    "OptimizerName",
    "SchedulerName",
    "build_optimizer",
    "build_scheduler",
    "default_lr",
    "optimizer_class",
]

OptimizerName: TypeAlias = Literal[
    "sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "lbfgs"
]
OPTIMIZER_NAMES: tuple[str, ...] = get_args(OptimizerName)
SchedulerName: TypeAlias = Literal["onecycle", "cosine", "step"]
SCHEDULER_NAMES: tuple[str, ...] = get_args(SchedulerName)

_CLASSES: dict[str, type[optim.Optimizer]] = {
    "sgd": optim.SGD,
    "momentum": optim.SGD,
    "nesterov": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "adagrad": optim.Adagrad,
    "rmsprop": optim.RMSprop,
    "adadelta": optim.Adadelta,
    "lbfgs": optim.LBFGS,
}
#: Optimizers with a fused CUDA implementation (one kernel for the whole update).
_FUSED_ON_CUDA = frozenset({"sgd", "momentum", "nesterov", "adam", "adamw"})
#: Extra keyword arguments that the SGD variants imply.
_PRESETS: dict[str, dict[str, Any]] = {
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
}


def optimizer_class(name: str) -> type[optim.Optimizer]:
    """The ``torch.optim`` class behind a name.

    Examples
    --------
    >>> optimizer_class("adamw").__name__
    'AdamW'
    """
    try:
        return _CLASSES[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZER_NAMES)}"
        ) from None


def default_lr(name_or_class: str | type[optim.Optimizer]) -> float:
    """PyTorch's default learning rate for an optimizer (Adam: 0.001).

    Examples
    --------
    >>> default_lr("adam"), default_lr("adadelta")
    (0.001, 1.0)
    """
    cls = optimizer_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    default = inspect.signature(cls.__init__).parameters["lr"].default
    return float(default) if isinstance(default, int | float) else 1e-3


def build_optimizer(
    optimizer: str | optim.Optimizer,
    params: Iterable[torch.Tensor],
    *,
    lr: float | None = None,
    weight_decay: float = 0.0,
    device: torch.device | None = None,
    **kwargs: Any,
) -> optim.Optimizer:
    """Make an optimizer from a name, or pass an existing optimizer through.

    Parameters
    ----------
    optimizer : str or torch.optim.Optimizer
        One of :data:`OPTIMIZER_NAMES` (``"momentum"`` is SGD with momentum 0.9, ``"nesterov"``
        adds Nesterov), or an optimizer already built (then the other arguments must be unset).
    params : iterable of Parameter
        What to optimise, usually ``model.parameters()``.
    lr : float, optional
        Learning rate; PyTorch's default for that optimizer when None.
    weight_decay : float
        L2 penalty (decoupled for AdamW). Not accepted by LBFGS.
    device : torch.device, optional
        Where the parameters live. On CUDA, SGD and Adam(W) use their fused implementation
        (``fused=True``, one kernel per step instead of several per tensor) unless ``fused`` is
        given in ``kwargs``.
    **kwargs
        Passed on to the optimizer (``betas``, ``momentum``...).

    Examples
    --------
    >>> p = [torch.nn.Parameter(torch.zeros(2))]
    >>> build_optimizer("momentum", p, lr=0.1).defaults["momentum"]
    0.9
    """
    if isinstance(optimizer, optim.Optimizer):
        if lr is not None or weight_decay or kwargs:
            raise ValueError(
                "lr, weight_decay and optimizer kwargs apply to optimizers given by name; "
                "set them on the optimizer object you passed instead"
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name or a torch.optim.Optimizer, got {optimizer!r}")
    cls = optimizer_class(optimizer)
    settings: dict[str, Any] = {**_PRESETS.get(optimizer, {}), **kwargs}
    if device is not None and device.type == "cuda" and optimizer in _FUSED_ON_CUDA:
        settings.setdefault("fused", True)
    settings["lr"] = default_lr(cls) if lr is None else float(lr)
    if settings["lr"] <= 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if weight_decay:
        if optimizer == "lbfgs":
            raise ValueError("lbfgs has no weight_decay; add a penalty to the loss instead")
        settings["weight_decay"] = float(weight_decay)
    return cls(params, **settings)


def build_scheduler(
    scheduler: str | optim.lr_scheduler.LRScheduler,
    optimizer: optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    **kwargs: Any,
) -> tuple[optim.lr_scheduler.LRScheduler, Literal["batch", "epoch"]]:
    """Make a learning-rate scheduler and say whether it steps per batch or per epoch.

    ``"onecycle"``: :class:`~torch.optim.lr_scheduler.OneCycleLR` peaking at the optimizer's lr,
    stepped every batch. ``"cosine"``: cosine annealing to 0 over ``epochs``, per epoch.
    ``"step"``: multiply the lr by ``gamma=0.1`` every ``step_size=max(1, epochs // 3)`` epochs.
    A scheduler object is stepped per batch if it is OneCycleLR or CyclicLR, else per epoch.

    Examples
    --------
    >>> opt = build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> build_scheduler("cosine", opt, epochs=3, steps_per_epoch=10)[1]
    'epoch'
    """
    if isinstance(scheduler, optim.lr_scheduler.LRScheduler):
        per_batch = isinstance(
            scheduler, optim.lr_scheduler.OneCycleLR | optim.lr_scheduler.CyclicLR
        )
        return scheduler, "batch" if per_batch else "epoch"
    peak = float(optimizer.param_groups[0]["lr"])
    if scheduler == "onecycle":
        return (
            optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=peak, epochs=epochs, steps_per_epoch=steps_per_epoch, **kwargs
            ),
            "batch",
        )
    if scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, **kwargs), "epoch"
    if scheduler == "step":
        settings = {"step_size": max(1, epochs // 3), "gamma": 0.1, **kwargs}
        return optim.lr_scheduler.StepLR(optimizer, **settings), "epoch"
    raise ValueError(
        f"unknown scheduler {scheduler!r}; expected one of {', '.join(SCHEDULER_NAMES)} "
        "or a torch.optim.lr_scheduler object"
    )
