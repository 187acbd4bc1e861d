"""Optimizers by name (learning-rate schedules are in :mod:`nnkit.schedules`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias, get_args

import torch
from torch import optim

from ._validate import fail, non_negative_float, positive_float

__all__ = [
    "OPTIMIZER_NAMES",
    "OptimizerName",
    "OptimizerSpec",
    "build_optimizer",
    "default_lr",
    "optimizer_class",
    "optimizer_has_momentum",
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


class OptimizerSpec:
    """An optimizer by name with its settings, checked once, to be built on parameters later.

    :func:`~nnkit.train.fit` checks its optimizer arguments through this before anything is
    touched; :meth:`build` then makes the optimizer without checking again.

    Examples
    --------
    >>> spec = OptimizerSpec.of("adagrad", lr=0.01)
    >>> spec.cls.__name__, spec.settings["lr"], spec.has_momentum
    ('Adagrad', 0.01, False)
    >>> OptimizerSpec.of("adam", kwargs={"betaz": 1})
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: Adam does not accept betaz; it accepts ...
    """

    def __init__(
        self,
        name: OptimizerName,
        cls: type[optim.Optimizer],
        settings: dict[str, Any],
        defaults: Mapping[str, Any],
    ):
        self.name = name
        self.cls = cls
        self.settings = settings
        self.defaults = defaults

    @classmethod
    def of(
        cls,
        name: OptimizerName,
        *,
        lr: float | None = None,
        weight_decay: float = 0.0,
        kwargs: Mapping[str, Any] | None = None,
    ) -> OptimizerSpec:
        """Check a name, a learning rate, a weight decay and further keyword arguments."""
        if not isinstance(name, str):
            raise fail(
                "optimizer", f"optimizer must be a name or a torch.optim.Optimizer, got {name!r}"
            )
        klass = optimizer_class(name)
        extra = dict(kwargs or {})
        accepted = [p for p in inspect.signature(klass.__init__).parameters if p not in _NOT_KW]
        unknown = [key for key in extra if key not in accepted]
        if unknown:
            raise fail(
                "optimizer_kwargs",
                f"{klass.__name__} does not accept {', '.join(unknown)}; it accepts "
                f"{', '.join(accepted)}",
            )
        settings: dict[str, Any] = {**_PRESETS.get(name, {}), **extra}
        settings["lr"] = default_lr(klass) if lr is None else positive_float(lr, "lr")
        weight_decay = non_negative_float(weight_decay, "weight_decay")
        if weight_decay:
            if name == "lbfgs":
                raise fail(
                    "weight_decay", "lbfgs has no weight_decay; add a penalty to the loss instead"
                )
            settings["weight_decay"] = weight_decay
        try:  # the optimizer's own checks of the values (betas in [0, 1)...), on a dummy tensor
            trial = klass([torch.zeros(1, requires_grad=True)], **settings)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise fail(
                "optimizer_kwargs", f"{klass.__name__} rejects these settings: {exc}"
            ) from None
        return cls(name, klass, settings, trial.defaults)

    @property
    def has_momentum(self) -> bool:
        """Whether the optimizer has a momentum that a cyclic schedule can cycle (Adam's
        beta1, SGD's or RMSprop's momentum when it is not 0)."""
        return optimizer_has_momentum(self.defaults)

    def build(
        self, params: Iterable[torch.Tensor], device: torch.device | None = None
    ) -> optim.Optimizer:
        """The optimizer on ``params``; on the CPU and CUDA, SGD and Adam(W) use their fused
        implementation unless ``fused`` was given."""
        settings = dict(self.settings)
        if device is not None and device.type in ("cpu", "cuda") and self.name in _FUSED:
            settings.setdefault("fused", True)
        return self.cls(params, **settings)


#: Constructor parameters that are not settings.
_NOT_KW = frozenset({"self", "params"})


def optimizer_has_momentum(defaults: Mapping[str, Any]) -> bool:
    """Whether an optimizer with these ``defaults`` (``optimizer.defaults``) has a momentum a
    cyclic schedule can cycle: Adam's beta1, or SGD's or RMSprop's momentum when not 0.

    Examples
    --------
    >>> optimizer_has_momentum(optim.Adagrad([torch.zeros(1, requires_grad=True)]).defaults)
    False
    """
    return "betas" in defaults or float(defaults.get("momentum", 0.0) or 0.0) > 0.0


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
    spec = OptimizerSpec.of(optimizer, lr=lr, weight_decay=weight_decay, kwargs=kwargs)
    return spec.build(params, device)
