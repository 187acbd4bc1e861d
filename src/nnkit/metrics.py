"""Per-epoch metrics that :func:`~nnkit.train.fit` computes while it trains and evaluates.

``fit`` always records the loss and, for class scores, the accuracy (``train_loss``,
``val_accuracy``...). ``fit(metrics=[...])`` adds more: each metric is summed over the batches
of an epoch on the device (no host synchronisation per step), reduced over the ranks of a
torchrun job, and stored in every :class:`~nnkit.history.EpochRecord` as
``extra["train_<name>"]`` and ``extra["val_<name>"]``, as the epoch ends.

A metric is a :class:`Metric` (:class:`TopKAccuracy`, :class:`BitsPerChar`,
:class:`Perplexity`, or your own subclass), or a plain function ``fn(outputs, targets) ->
batch mean`` (wrapped in :class:`BatchMean` and named after the function, or after its key when
the metrics are given as a mapping).

Examples
--------
>>> import torch
>>> def hits_class_0(outputs, targets):
...     return ((outputs.argmax(-1) == 0) & (targets == 0)).float().mean()
>>> [m.name for m in as_metrics([TopKAccuracy(2), hits_class_0])]
['top2_accuracy', 'hits_class_0']
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

import torch

from ._validate import fail, positive_int
from .distributed import DistContext

__all__ = [
    "BatchMean",
    "BitsPerChar",
    "Metric",
    "MetricFn",
    "MetricsArg",
    "Perplexity",
    "TopKAccuracy",
    "as_metrics",
]

_LN2 = math.log(2.0)
#: Names the record's own fields use.
_RESERVED = frozenset({"loss", "accuracy"})

#: A metric as a function. ``fn(outputs, targets)`` returns the batch's mean.
MetricFn: TypeAlias = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Metric(ABC):
    """A quantity averaged over the targets of an epoch.

    Subclasses set :attr:`name` and implement :meth:`batch`, which returns the batch's *sum* (a
    tensor on the device) and its number of targets; the epoch's value is
    ``finalize(total sum / total count)``.

    Attributes
    ----------
    name : str
        The key in the history: ``train_<name>`` and ``val_<name>``.
    """

    name: str = "metric"

    @abstractmethod
    def batch(
        self, outputs: torch.Tensor | None, targets: torch.Tensor, loss: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        """``(sum of the per-target values, number of targets)`` for one batch; the sum stays a
        tensor on the device, so that no step waits for it.

        ``loss`` is the batch's mean loss (detached), ``outputs`` the model's outputs
        (``(N, C)`` scores, ``(N, T, C)`` for sequences), or None when the model computes its
        own loss and returns no outputs.
        """

    def finalize(self, mean: float) -> float:
        """The epoch's value from the mean over targets (the mean itself by default)."""
        return mean

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TopKAccuracy(Metric):
    """Share of targets whose class is among the ``k`` highest scores.

    Examples
    --------
    >>> scores = torch.tensor([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05]])
    >>> targets = torch.tensor([2, 2])  # in the top two of the first row only
    >>> s, n = TopKAccuracy(2).batch(scores, targets, torch.tensor(0.0))
    >>> float(s) / n
    0.5
    """

    def __init__(self, k: int = 5) -> None:
        self.k = positive_int(k, "k", what="TopKAccuracy")
        self.name = f"top{self.k}_accuracy"

    def batch(
        self, outputs: torch.Tensor | None, targets: torch.Tensor, loss: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        if outputs is None:
            raise fail("metrics", f"metric {self.name!r} needs the model's outputs")
        k = min(self.k, outputs.shape[-1])
        top = outputs.detach().topk(k, dim=-1).indices
        hits = (top == targets.unsqueeze(-1)).any(-1).sum()
        return hits.double(), float(targets.numel())


class _LossOfTargets(Metric):
    """A function of the epoch's mean loss over its targets (no outputs needed, so it also
    serves a model that computes its own loss)."""

    def batch(
        self, outputs: torch.Tensor | None, targets: torch.Tensor, loss: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        n = float(targets.numel())
        return loss.detach().double() * n, n


class BitsPerChar(_LossOfTargets):
    """The mean loss in bits (``loss / ln 2``): bits per character for a character model.

    Meaningful when the loss is a cross entropy (or NLL) in nats, as ``fit``'s
    ``"cross_entropy"`` and ``"nll"`` are, or a model's own such loss.
    """

    name = "bpc"

    def finalize(self, mean: float) -> float:
        return mean / _LN2


class Perplexity(_LossOfTargets):
    """``exp`` of the mean cross-entropy loss (in nats) over the epoch."""

    name = "perplexity"

    def finalize(self, mean: float) -> float:
        return math.exp(mean) if mean < 700 else math.inf


class BatchMean(Metric):
    """A user's function ``fn(outputs, targets) -> batch mean``, averaged over the epoch.

    Each batch counts by its number of targets, so a smaller last batch weighs what it holds.
    """

    def __init__(self, fn: MetricFn, name: str | None = None) -> None:
        if not callable(fn):
            raise fail("metrics", f"a metric must be callable, got {fn!r}")
        self.fn = fn
        self.name = name if name is not None else getattr(fn, "__name__", "metric")

    def batch(
        self, outputs: torch.Tensor | None, targets: torch.Tensor, loss: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        if outputs is None:
            raise fail("metrics", f"metric {self.name!r} needs the model's outputs")
        with torch.no_grad():
            value = self.fn(outputs.detach(), targets)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise fail(
                "metrics",
                f"metric {self.name!r} must return a one-element tensor (the batch mean), got "
                f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))}",
            )
        n = float(targets.numel())
        return value.detach().double().reshape(()) * n, n


#: What ``fit(metrics=...)`` accepts.
MetricsArg: TypeAlias = Sequence[Metric | MetricFn] | Mapping[str, MetricFn]


def as_metrics(metrics: MetricsArg) -> list[Metric]:
    """Metric objects from what ``fit(metrics=...)`` accepts; names must be unique."""
    items: list[Metric]
    if isinstance(metrics, Mapping):
        items = [BatchMean(fn, name) for name, fn in metrics.items()]
    elif isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise fail(
            "metrics",
            "metrics must be a list of Metric objects or functions, or a mapping of name to "
            f"function, got {metrics!r}",
        )
    else:
        items = [m if isinstance(m, Metric) else BatchMean(m) for m in metrics]
    names = [m.name for m in items]
    for name in names:
        if name == "<lambda>":
            raise fail(
                "metrics", "a lambda has no name to record it under: pass metrics={'name': fn}"
            )
        if not isinstance(name, str) or not name.isidentifier():
            raise fail("metrics", f"a metric name must be an identifier, got {name!r}")
        if name in _RESERVED:
            raise fail(
                "metrics",
                f"metric name {name!r} is taken: fit records the loss and the accuracy itself "
                "(train_loss, val_accuracy...); use TopKAccuracy(k) for top-k accuracy",
            )
        if names.count(name) > 1:
            raise fail("metrics", f"two metrics are named {name!r}; give them distinct names")
    return items


class MetricTotals:
    """Running sums of several metrics over one pass, kept on the device."""

    def __init__(self, metrics: Sequence[Metric], device: torch.device) -> None:
        self.metrics = list(metrics)
        self.sums = torch.zeros(len(self.metrics), dtype=torch.float64, device=device)
        self.counts = [0.0] * len(self.metrics)

    def add(self, outputs: torch.Tensor | None, targets: torch.Tensor, loss: torch.Tensor) -> None:
        for i, metric in enumerate(self.metrics):
            total, count = metric.batch(outputs, targets, loss)
            self.sums[i] += total.to(self.sums.device)
            self.counts[i] += count

    def reduce(self, dist: DistContext | None) -> dict[str, float]:
        """``{name: value}`` over every batch of every rank (NaN for a metric that saw none)."""
        if not self.metrics:
            return {}
        counts = torch.tensor(self.counts, dtype=torch.float64, device=self.sums.device)
        both = torch.cat([self.sums, counts])
        if dist is not None:
            dist.all_reduce(both)
        values = both.tolist()
        n = len(self.metrics)
        return {
            m.name: m.finalize(values[i] / values[n + i]) if values[n + i] else math.nan
            for i, m in enumerate(self.metrics)
        }
