"""Loss functions by name: the registry that :func:`nnkit.train.fit` reads ``loss=`` from.

Each loss is a typed function ``loss(outputs, targets) -> scalar tensor`` (mean over samples)
and an ``nn.Module`` wrapping it. The notes list binary and categorical cross entropy, mean
squared error, the hinge loss and a "robust hinge"; all are here, with the formula in the
docstring. Margins: for a binary score :math:`s` and a label :math:`y \\in \\{-1, +1\\}` the
margin is :math:`m = y s`; for class scores :math:`s_1..s_C` and a class :math:`y`, the
multi-class margin is :math:`m = s_y - \\max_{j \\ne y} s_j`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias, get_args

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import in_interval
from .errors import InvalidArgumentError

__all__ = [
    "LOSS_NAMES",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Hinge",
    "LossArg",
    "LossFn",
    "LossName",
    "MeanSquaredError",
    "RobustHinge",
    "SquaredHinge",
    "binary_cross_entropy",
    "cross_entropy",
    "get",
    "hinge",
    "margins",
    "mse",
    "nll",
    "robust_hinge",
    "squared_hinge",
]

LossName: TypeAlias = Literal[
    "cross_entropy",
    "nll",
    "binary_cross_entropy",
    "mse",
    "hinge",
    "squared_hinge",
    "robust_hinge",
]
LOSS_NAMES: tuple[str, ...] = get_args(LossName)
LossFn: TypeAlias = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: What ``fit(loss=...)`` accepts besides None: a name, a function or a loss module.
LossArg: TypeAlias = LossName | LossFn | nn.Module


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _flatten_classes(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, ..., C)`` scores with ``(N, ...)`` class targets -> ``(M, C)`` and ``(M,)``."""
    if logits.dim() < 2:
        raise InvalidArgumentError(
            f"class scores must have shape (N, C) or (N, T, C), got {_shape(logits)}"
        )
    if targets.is_floating_point() or targets.shape != logits.shape[:-1]:
        raise InvalidArgumentError(
            f"class targets must be integer class indices of shape {tuple(logits.shape[:-1])} "
            f"for scores of shape {_shape(logits)}, got {targets.dtype} {_shape(targets)}"
        )
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)


def _class_out_of_range(logits: torch.Tensor, targets: torch.Tensor) -> InvalidArgumentError:
    classes = logits.shape[-1]
    bad = targets[(targets < 0) | (targets >= classes)]
    found = int(bad[0]) if bad.numel() else "?"
    return InvalidArgumentError(
        f"class targets must lie in [0, {classes}) for {classes} class scores, got {found}; "
        f"the model's output has too few classes, or the labels need remapping",
        parameter="targets",
    )


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, *, label_smoothing: float = 0.0
) -> torch.Tensor:
    r"""Categorical cross entropy of raw scores, mean over samples (and time steps).

    .. math:: L = -\frac{1}{N}\sum_n \log \frac{e^{s_{n,y_n}}}{\sum_c e^{s_{n,c}}}

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, C)`` or ``(N, T, C)`` unnormalised scores.
    targets : torch.Tensor
        ``(N,)`` or ``(N, T)`` integer classes.
    label_smoothing : float
        In ``[0, 1)``: the target is the mixture ``(1 - label_smoothing) * one_hot(y) +
        label_smoothing / C`` instead of the one-hot class (Szegedy et al., 2016), which keeps
        the scores from growing without bound; 0 is the plain cross entropy.

    Examples
    --------
    >>> round(cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3])).item(), 4)  # log 4
    1.3863
    >>> sure = torch.tensor([[10.0, 0.0]])
    >>> cross_entropy(sure, torch.tensor([0]), label_smoothing=0.2) > cross_entropy(
    ...     sure, torch.tensor([0]))
    tensor(True)
    """
    if label_smoothing:
        in_interval(label_smoothing, "label_smoothing", 0.0, 1.0, closed="[)")
    flat_logits, flat_targets = _flatten_classes(logits, targets)
    try:
        return F.cross_entropy(flat_logits, flat_targets, label_smoothing=label_smoothing)
    except IndexError:  # a class outside [0, C) (the CPU says so; CUDA asserts on the device)
        raise _class_out_of_range(flat_logits, flat_targets) from None


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
    try:
        return F.nll_loss(flat, flat_targets)
    except IndexError:
        raise _class_out_of_range(flat, flat_targets) from None


def binary_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Binary cross entropy of raw scores (logits), computed stably, mean over elements.

    .. math::

        L = -\frac{1}{N}\sum_n \big[t_n \log \sigma(s_n)
            + (1 - t_n) \log(1 - \sigma(s_n))\big]

    Parameters
    ----------
    logits : torch.Tensor
        Scores of any shape (the sigmoid is applied inside, never on the caller's side).
    targets : torch.Tensor
        Same shape, probabilities in ``[0, 1]`` (usually 0 or 1).

    Examples
    --------
    >>> round(binary_cross_entropy(torch.zeros(3), torch.tensor([0.0, 1.0, 1.0])).item(), 4)
    0.6931
    """
    if targets.shape != logits.shape:
        raise InvalidArgumentError(
            f"binary_cross_entropy needs targets of the scores' shape {_shape(logits)}, "
            f"got {_shape(targets)}"
        )
    targets = targets.to(logits.dtype)
    if bool(((targets < 0) | (targets > 1)).any()):
        raise InvalidArgumentError("binary_cross_entropy targets must lie in [0, 1] (0/1 labels)")
    return F.binary_cross_entropy_with_logits(logits, targets)


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error, :math:`\frac{1}{N}\sum (y - \hat y)^2` over all elements.

    Examples
    --------
    >>> mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item()
    2.5
    """
    if outputs.shape != targets.shape:
        raise InvalidArgumentError(
            f"mse needs outputs and targets of the same shape, got {_shape(outputs)} and "
            f"{_shape(targets)}"
        )
    return F.mse_loss(outputs, targets.to(outputs.dtype))


def margins(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""The margin of each sample: :math:`y s` (binary) or :math:`s_y - \max_{j \ne y} s_j`.

    Parameters
    ----------
    scores : torch.Tensor
        ``(N,)`` or ``(N, 1)`` binary scores, or ``(N, C)`` class scores with ``C > 1``.
    targets : torch.Tensor
        Binary: labels in {-1, +1}, same shape as ``scores``. Multi-class: ``(N,)`` integer
        classes.

    Returns
    -------
    torch.Tensor
        ``(N,)`` (or the binary scores' shape); positive means correctly classified.

    Examples
    --------
    >>> margins(torch.tensor([2.0, -0.5]), torch.tensor([1, 1])).tolist()
    [2.0, -0.5]
    >>> margins(torch.tensor([[3.0, 1.0, 0.0]]), torch.tensor([1])).tolist()
    [-2.0]
    """
    binary = scores.dim() == 1 or (scores.dim() == 2 and scores.shape[1] == 1)
    if binary:
        if targets.shape != scores.shape:
            raise InvalidArgumentError(
                f"binary hinge targets must have the scores' shape {_shape(scores)}, "
                f"got {_shape(targets)}"
            )
        values = set(torch.unique(targets).tolist())
        if not values <= {-1, 1}:
            raise InvalidArgumentError(
                f"hinge targets must be -1 or +1, got values {sorted(values)}; "
                "for 0/1 labels use 2 * y - 1"
            )
        return targets.to(scores.dtype) * scores
    if scores.dim() != 2:
        raise InvalidArgumentError(
            f"hinge scores must be (N,), (N, 1) or (N, C), got {_shape(scores)}"
        )
    if targets.is_floating_point() or targets.shape != scores.shape[:1]:
        raise InvalidArgumentError(
            f"multi-class hinge targets must be integer classes of shape ({scores.shape[0]},), "
            f"got {targets.dtype} {_shape(targets)}"
        )
    if bool(((targets < 0) | (targets >= scores.shape[1])).any()):
        raise InvalidArgumentError(
            f"class targets must lie in [0, {scores.shape[1]}), got {targets.tolist()}"
        )
    true = scores.gather(1, targets.unsqueeze(1)).squeeze(1)
    others = scores.scatter(1, targets.unsqueeze(1), float("-inf"))
    return true - others.max(dim=1).values


def hinge(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""The SVM hinge loss, mean over samples.

    Binary (scores ``(N,)``, labels in {-1, +1}):
    :math:`L = \frac{1}{N}\sum_n \max(0, 1 - y_n s_n)`.

    Multi-class (scores ``(N, C)``, integer classes), the Weston-Watkins form that
    ``torch.nn.MultiMarginLoss`` computes:
    :math:`L = \frac{1}{N}\sum_n \frac{1}{C}\sum_{j \ne y_n} \max(0, 1 - s_{n,y_n} + s_{n,j})`.

    Examples
    --------
    >>> round(hinge(torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1, 1, 1])).item(), 4)
    0.8333
    """
    if scores.dim() == 2 and scores.shape[1] > 1:
        margins(scores, targets)  # validates
        return F.multi_margin_loss(scores, targets)
    return torch.clamp(1 - margins(scores, targets), min=0).mean()


def squared_hinge(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""The squared hinge :math:`\frac{1}{N}\sum_n \max(0, 1 - m_n)^2`: smooth at the margin.

    Multi-class uses ``torch.nn.MultiMarginLoss(p=2)`` (each violated pair squared).

    Examples
    --------
    >>> squared_hinge(torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1, 1, 1])).item()
    1.4166666269302368
    """
    if scores.dim() == 2 and scores.shape[1] > 1:
        margins(scores, targets)
        return F.multi_margin_loss(scores, targets, p=2)
    return (torch.clamp(1 - margins(scores, targets), min=0) ** 2).mean()


def robust_hinge(scores: torch.Tensor, targets: torch.Tensor, *, s: float = -1.0) -> torch.Tensor:
    r"""The robust (ramp, truncated) hinge: :math:`\frac{1}{N}\sum_n \min(\max(0, 1 - m_n), 1 - s)`.

    Like the hinge for margins above ``s``, constant (``1 - s``, so 2 by default) below it: a
    badly misclassified sample (an outlier, a flipped label) costs at most ``1 - s`` and exerts
    no gradient, instead of a penalty that grows without bound. The price is that the loss is
    no longer convex. Multi-class uses the margin :math:`s_y - \max_{j \ne y} s_j`.

    Parameters
    ----------
    scores, targets
        As for :func:`hinge`.
    s : float
        Where the ramp is cut, below 1 (default -1).

    Examples
    --------
    >>> robust_hinge(torch.tensor([2.0, 0.5, -1.0, -50.0]), torch.tensor([1, 1, 1, 1])).item()
    1.125
    """
    if not s < 1:
        raise InvalidArgumentError(f"robust_hinge needs s < 1, got {s}")
    return torch.clamp(1 - margins(scores, targets), min=0, max=1 - s).mean()


class _LossModule(nn.Module):
    fn: LossFn

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return type(self).fn(outputs, targets)


class CrossEntropy(nn.Module):
    """:func:`cross_entropy` as a module, with its ``label_smoothing``.

    Examples
    --------
    >>> CrossEntropy(label_smoothing=0.1)
    CrossEntropy(label_smoothing=0.1)
    >>> CrossEntropy(label_smoothing=1.5)
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: label_smoothing must be in [0, 1), got 1.5
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = in_interval(
            label_smoothing, "label_smoothing", 0.0, 1.0, closed="[)"
        )

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return cross_entropy(logits, targets, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing:g}"


class BinaryCrossEntropy(_LossModule):
    """:func:`binary_cross_entropy` as a module."""

    fn = staticmethod(binary_cross_entropy)


class MeanSquaredError(_LossModule):
    """:func:`mse` as a module."""

    fn = staticmethod(mse)


class Hinge(_LossModule):
    """:func:`hinge` as a module."""

    fn = staticmethod(hinge)


class SquaredHinge(_LossModule):
    """:func:`squared_hinge` as a module."""

    fn = staticmethod(squared_hinge)


class RobustHinge(nn.Module):
    """:func:`robust_hinge` as a module, with its cut ``s``.

    Examples
    --------
    >>> RobustHinge(s=0.0)(torch.tensor([-5.0]), torch.tensor([1])).item()
    1.0
    """

    def __init__(self, s: float = -1.0) -> None:
        super().__init__()
        if not s < 1:
            raise InvalidArgumentError(f"robust_hinge needs s < 1, got {s}")
        self.s = s

    def forward(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return robust_hinge(scores, targets, s=self.s)


_REGISTRY: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "nll": nll,
    "binary_cross_entropy": binary_cross_entropy,
    "mse": mse,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "robust_hinge": robust_hinge,
}


def get(loss: LossArg) -> LossFn:
    """The loss function for a name, or ``loss`` itself when it is already callable.

    Examples
    --------
    >>> get("mse") is mse
    True
    >>> get("hing")
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: unknown loss 'hing'; expected one of ..., or a callable
    """
    if isinstance(loss, str):
        try:
            return _REGISTRY[loss]
        except KeyError:
            raise InvalidArgumentError(
                f"unknown loss {loss!r}; expected one of {', '.join(_REGISTRY)}, or a callable",
                parameter="loss",
            ) from None
    if callable(loss):
        return loss
    raise InvalidArgumentError(
        f"loss must be a name or a callable, got {type(loss).__name__}", parameter="loss"
    )
