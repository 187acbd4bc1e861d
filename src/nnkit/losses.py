"""Loss functions by name: the registry that :func:`nnkit.train.fit` reads ``loss=`` from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias, get_args

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LOSS_NAMES",
    "LossFn",
    "LossName",
    "cross_entropy",
    "get",
    "mse",
    "nll",
]

LossName: TypeAlias = Literal["cross_entropy", "nll", "mse"]
LOSS_NAMES: tuple[str, ...] = get_args(LossName)
LossFn: TypeAlias = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _flatten_classes(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, ..., C)`` scores with ``(N, ...)`` class targets -> ``(M, C)`` and ``(M,)``."""
    if logits.dim() < 2:
        raise ValueError(
            f"class scores must have shape (N, C) or (N, T, C), got {tuple(logits.shape)}"
        )
    if targets.is_floating_point() or targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"class targets must be integer class indices of shape {tuple(logits.shape[:-1])} "
            f"for scores of shape {tuple(logits.shape)}, got {targets.dtype} {tuple(targets.shape)}"
        )
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Categorical cross entropy of raw scores, mean over samples (and time steps).

    .. math:: L = -\frac{1}{N}\sum_n \log \frac{e^{s_{n,y_n}}}{\sum_c e^{s_{n,c}}}

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, C)`` or ``(N, T, C)`` unnormalised scores.
    targets : torch.Tensor
        ``(N,)`` or ``(N, T)`` integer classes.

    Examples
    --------
    >>> round(cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3])).item(), 4)  # log 4
    1.3863
    """
    flat_logits, flat_targets = _flatten_classes(logits, targets)
    return F.cross_entropy(flat_logits, flat_targets)


def nll(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Negative log-likelihood of log-probabilities (for models ending in ``LogSoftmax``).

    .. math:: L = -\frac{1}{N}\sum_n \log p_{n,y_n}

    Examples
    --------
    >>> lp = torch.log_softmax(torch.zeros(2, 4), dim=1)
    >>> round(nll(lp, torch.tensor([0, 3])).item(), 4)
    1.3863
    """
    flat, flat_targets = _flatten_classes(log_probs, targets)
    return F.nll_loss(flat, flat_targets)


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error, :math:`\frac{1}{N}\sum (y - \hat y)^2` over all elements.

    Examples
    --------
    >>> mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item()
    2.5
    """
    if outputs.shape != targets.shape:
        raise ValueError(
            f"mse needs outputs and targets of the same shape, got {tuple(outputs.shape)} and "
            f"{tuple(targets.shape)}"
        )
    return F.mse_loss(outputs, targets.to(outputs.dtype))


_REGISTRY: dict[str, LossFn] = {"cross_entropy": cross_entropy, "nll": nll, "mse": mse}


def get(loss: str | LossFn | nn.Module) -> LossFn:
    """The loss function for a name, or ``loss`` itself when it is already callable.

    Examples
    --------
    >>> get("mse") is mse
    True
    >>> get("hing")
    Traceback (most recent call last):
    ...
    ValueError: unknown loss 'hing'; expected one of cross_entropy, nll, mse, or a callable
    """
    if isinstance(loss, str):
        try:
            return _REGISTRY[loss]
        except KeyError:
            raise ValueError(
                f"unknown loss {loss!r}; expected one of {', '.join(_REGISTRY)}, or a callable"
            ) from None
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")
