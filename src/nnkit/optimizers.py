"""Optimizers by name (learning-rate schedules are in :mod:`nnkit.schedules`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias, get_args

import torch
from torch import optim

from ._validate import fail, non_negative_float, positive_float

__all__ = [
    "OPTIMIZER_NAMES",
    "OptimizerName",
    "build_optimizer",
    "default_lr",
    "optimizer_class",
]

OptimizerName: TypeAlias = Literal[
    "sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "lbfgs"
]
OPTIMIZER_NAMES: tuple[str, ...] = get_args(OptimizerName)

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
#: Optimizers with a fused implementation on the CPU and CUDA (one kernel for the whole update).
_FUSED = frozenset({"sgd", "momentum", "nesterov", "adam", "adamw"})
#: Extra keyword arguments that the SGD variants imply.
_PRESETS: dict[str, dict[str, Any]] = {
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
}


def optimizer_class(name: OptimizerName) -> type[optim.Optimizer]:
    """The ``torch.optim`` class behind a name.

    Examples
    --------
    >>> optimizer_class("adamw").__name__
    'AdamW'
    """
    try:
        return _CLASSES[name]
    except (KeyError, TypeError):
        raise fail(
            "optimizer",
            f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZER_NAMES)}",
        ) from None


def default_lr(name_or_class: OptimizerName | type[optim.Optimizer]) -> float:
    """PyTorch's default learning rate for an optimizer (Adam: 0.001).

    Parameters
    ----------
    name_or_class : OptimizerName or type
        A name from :data:`OPTIMIZER_NAMES`, or a ``torch.optim.Optimizer`` subclass.

    Examples
    --------
    >>> default_lr("adam"), default_lr("adadelta")
    (0.001, 1.0)
    """
    cls = optimizer_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    default = inspect.signature(cls.__init__).parameters["lr"].default
    return float(default) if isinstance(default, int | float) else 1e-3


def build_optimizer(
    optimizer: OptimizerName | optim.Optimizer,
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
        Where the parameters live. On the CPU and on CUDA, SGD and Adam(W) use their fused
        implementation (``fused=True``: one kernel per step instead of several per tensor, the
        same update up to float rounding) unless ``fused`` is given in ``kwargs``.
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
            raise fail(
                "optimizer",
                "lr, weight_decay and optimizer kwargs apply to optimizers given by name; "
                "set them on the optimizer object you passed instead",
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise fail(
            "optimizer", f"optimizer must be a name or a torch.optim.Optimizer, got {optimizer!r}"
        )
    cls = optimizer_class(optimizer)
    settings: dict[str, Any] = {**_PRESETS.get(optimizer, {}), **kwargs}
    if device is not None and device.type in ("cpu", "cuda") and optimizer in _FUSED:
        settings.setdefault("fused", True)
    settings["lr"] = default_lr(cls) if lr is None else positive_float(lr, "lr")
    if weight_decay:
        if optimizer == "lbfgs":
            raise fail(
                "weight_decay", "lbfgs has no weight_decay; add a penalty to the loss instead"
            )
        settings["weight_decay"] = non_negative_float(weight_decay, "weight_decay")
    try:
        return cls(params, **settings)
    except TypeError as exc:  # an unknown keyword argument
        raise fail(
            "optimizer_kwargs", f"{cls.__name__} does not accept these settings: {exc}"
        ) from None
