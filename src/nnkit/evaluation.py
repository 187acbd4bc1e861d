"""Using a model: :func:`evaluate` and its result, :class:`Evaluation`, and :func:`predict`.

The loss is the true mean over targets: each batch's mean is weighted by its size, so a
smaller last batch counts for what it holds (the notes divided a sum of batch means by the
number of samples, which understates the loss by the batch size).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import losses
from ._forward import Totals, forward_loss
from ._validate import fail, positive_int
from .data.loader import as_tensor
from .data.sources import BatchSource, DataLike, make_source
from .metrics import Metric, MetricsArg, MetricTotals, as_metrics
from .runtime import ActiveRuntime, DeviceArg, Runtime

__all__ = ["Evaluation", "evaluate", "predict"]


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`.

    Attributes
    ----------
    loss : float
        Mean loss per target over the whole data set (per sample for classification, per
        character for sequences), not a mean of batch means.
    accuracy : float or None
        ``correct / total`` in ``[0, 1]``; None when outputs are not class scores.
    correct : int
        Number of correct predictions.
    total : int
        Number of predictions (samples; time steps count separately for sequences).
    metrics : dict of str to float
        The values of the metrics asked for, by name.
    """

    loss: float
    accuracy: float | None
    correct: int
    total: int
    metrics: Mapping[str, float] = field(default_factory=dict)


@torch.no_grad()
def evaluate_source(
    model: nn.Module,
    source: BatchSource,
    loss_fn: losses.LossFn | None,
    rt: ActiveRuntime,
    metrics: Sequence[Metric] = (),
) -> Evaluation:
    """Evaluate on every batch of ``source`` (this rank's shard, reduced over the ranks)."""
    was_training = model.training
    model.eval()
    totals = Totals(rt.device)
    extra = MetricTotals(metrics, rt.device)
    try:
        for x_in, y_in in source:
            x, y = rt.inputs(x_in), rt.targets(y_in)
            with rt.autocast():
                loss, out = forward_loss(model, x, y, loss_fn)  # every rank runs every batch
            if y.numel():
                totals.add(loss, out, y)
                extra.add(out, y, loss)
    finally:
        model.train(was_training)
    mean, accuracy, n_correct, total = totals.summary(rt.dist)
    if total == 0:
        raise fail("data", "cannot evaluate on empty data")
    return Evaluation(mean, accuracy, n_correct, total, extra.reduce(rt.dist))


def evaluate(
    model: nn.Module,
    data: DataLike,
    *,
    loss: losses.LossArg | None = "cross_entropy",
    metrics: MetricsArg = (),
    batch_size: int = 1000,
    device: DeviceArg = None,
    runtime: Runtime | None = None,
) -> Evaluation:
    """Loss and accuracy of ``model`` on ``data``, in eval mode, without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to the device.
    data : DataLike
        As for :func:`~nnkit.train.fit`.
    loss : str, callable or None
        A name from :mod:`nnkit.losses` or a ``loss(outputs, targets)`` callable; None for a
        model that computes its own loss (see :func:`~nnkit.train.fit`).
    metrics : list or mapping, optional
        Further metrics (:mod:`nnkit.metrics`), in :attr:`Evaluation.metrics`.
    batch_size : int
        Evaluation batch size.
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    runtime : Runtime, optional
        bf16 autocast and channels-last as in training (a single process: ``distributed`` is
        not used here).

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> model = torch.nn.Linear(2, 2)
    >>> x, y = torch.randn(10, 2), torch.randint(0, 2, (10,))
    >>> result = evaluate(model, (x, y), device="cpu")
    >>> result.total
    10
    """
    positive_int(batch_size, "batch_size")
    rt = (runtime or Runtime()).with_device(device).start(join=False, model=model)
    rt.place(model)
    source = make_source(data, batch_size=batch_size, shuffle=False, seed=0, device=rt.device)
    loss_fn = None if loss is None else losses.get(loss)
    return evaluate_source(model, source, loss_fn, rt, as_metrics(metrics))


def _input_batches(
    data: DataLike | torch.Tensor | Any, batch_size: int, device: torch.device
) -> Iterator[torch.Tensor]:
    """The inputs of ``data`` in order, ``batch_size`` at a time (targets, if any, dropped)."""
    inputs = as_tensor(data)
    if inputs is not None:
        for start in range(0, int(inputs.shape[0]), batch_size):
            yield inputs[start : start + batch_size]
        return
    source = make_source(data, batch_size=batch_size, shuffle=False, seed=0, device=device)
    for x, _ in source:
        yield x


@torch.no_grad()
def predict(
    model: nn.Module,
    data: DataLike | torch.Tensor | Any,
    *,
    batch_size: int = 1000,
    device: DeviceArg = None,
    runtime: Runtime | None = None,
) -> torch.Tensor:
    """The model's outputs on every sample of ``data``, in order: batched, without gradients,
    in eval mode (dropout off, batch norm on its running statistics), on the CPU.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to the device; put back in the mode it was in.
    data : torch.Tensor, numpy.ndarray or DataLike
        Inputs ``(N, ...)`` as a tensor or a NumPy array, or anything :func:`fit` takes
        (``(inputs, targets)``, a ``Dataset``, a ``DataLoader``...), whose targets are ignored.
        Inputs reach the model as :func:`fit` gives them (an MNIST dataset's images scaled to
        ``[0, 1]``, anything else unchanged).
    batch_size : int
        Samples per forward pass (speed and memory, not the result).
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    runtime : Runtime, optional
        Autocast and channels-last as in training.

    Returns
    -------
    torch.Tensor
        ``(N, ...)``: the outputs of every batch, concatenated, on the CPU.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 2)
    >>> x = torch.randn(10, 3)
    >>> torch.allclose(predict(model, x, batch_size=4, device="cpu"), model(x))
    True
    """
    positive_int(batch_size, "batch_size")
    rt = (runtime or Runtime()).with_device(device).start(join=False, model=model)
    rt.place(model)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for x in _input_batches(data, batch_size, rt.device):
            with rt.autocast():
                out = model(rt.inputs(x))
            if not isinstance(out, torch.Tensor):
                raise fail(
                    "model",
                    f"predict needs a model that returns a tensor, got {type(out).__name__}; "
                    "call the model yourself for other outputs",
                )
            outputs.append(out.detach().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        raise fail("data", "cannot predict on empty data")
    return torch.cat(outputs)
