"""One forward pass and its loss, and the running totals of a pass (training or evaluation).

The contract for a model that computes its own loss (``fit(..., loss=None)``): its forward is
called as ``model(inputs, targets)`` and returns the mean loss over the targets, either as a
one-element tensor or as an object with a ``.loss`` tensor (PyTorch's
``nn.AdaptiveLogSoftmaxWithLoss`` returns one); an optional ``.logits`` tensor there is what
metrics and accuracy read.
"""

from __future__ import annotations

import torch
from torch import nn

from . import losses
from ._validate import fail
from .distributed import DistContext


def _own_loss(result: object) -> tuple[torch.Tensor, torch.Tensor | None]:
    loss: object = result
    outputs: object = None
    if not isinstance(result, torch.Tensor):
        loss, outputs = getattr(result, "loss", None), getattr(result, "logits", None)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise fail(
            "loss",
            "with loss=None the model computes its own loss: model(inputs, targets) must return "
            "the mean loss as a one-element tensor, or an object with a .loss tensor (and "
            f"optionally .logits); got {type(result).__name__}",
        )
    return loss.reshape(()), outputs if isinstance(outputs, torch.Tensor) else None


def forward_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: losses.LossFn | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(mean loss over the targets, outputs or None)`` of one batch.

    A batch without targets (a rank's empty share of the last global batch) still runs the
    model, with a zero loss connected to its graph, so that data-parallel gradients meet.
    """
    if loss_fn is None:
        loss, outputs = _own_loss(model(x, y))
        return (loss if y.numel() else torch.nan_to_num(loss) * 0.0), outputs
    out = model(x)
    if not y.numel():
        return out.sum() * 0.0, out
    loss = loss_fn(out, y)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise fail(
            "loss",
            f"the loss must return one number (the mean over the batch), got {shape}; "
            "reduce it, e.g. with reduction='mean' or .mean()",
        )
    return loss.reshape(()), out


def correct(outputs: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor | None:
    """Number of argmax hits, or None when the outputs are not class scores for the targets."""
    if (
        outputs is None
        or targets.is_floating_point()
        or outputs.dim() < 2
        or outputs.shape[:-1] != targets.shape
    ):
        return None
    return (outputs.argmax(-1) == targets).sum()


class Totals:
    """Loss sum, hits and counts of a pass, kept on the device and reducible over ranks."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.float64, device=device)
        self.samples = 0
        self.predictions = 0
        self.classification = True

    def add(self, loss: torch.Tensor, out: torch.Tensor | None, y: torch.Tensor) -> None:
        self.loss_sum += loss.detach().double() * y.numel()  # mean-reduced: weight by elements
        self.samples += y.numel()
        hits = correct(out, y)
        if hits is None:
            self.classification = False
        else:
            self.correct += hits
            self.predictions += y.numel()

    def reduce(self, dist: DistContext | None) -> tuple[float, float, int, int, bool]:
        """(loss sum, correct, samples, predictions, classification) over all ranks."""
        counts = torch.tensor(
            [self.samples, self.predictions, 0.0 if self.classification else 1.0],
            dtype=torch.float64,
            device=self.loss_sum.device,
        )
        values = torch.cat([self.loss_sum.reshape(1), self.correct.reshape(1), counts])
        if dist is not None:
            dist.all_reduce(values)
        loss_sum, n_correct, samples, predictions, regressions = values.tolist()
        return loss_sum, n_correct, int(samples), int(predictions), regressions == 0

    def summary(self, dist: DistContext | None) -> tuple[float, float | None, int, int]:
        """(mean loss, accuracy or None, correct, total) over all ranks; total 0 when empty."""
        loss_sum, n_correct, samples, predictions, classification = self.reduce(dist)
        if samples == 0:
            return float("nan"), None, 0, 0
        hits = round(n_correct) if classification else 0
        accuracy = hits / predictions if classification and predictions else None
        return loss_sum / samples, accuracy, hits, predictions if classification else samples
