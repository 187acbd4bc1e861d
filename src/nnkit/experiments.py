"""Studies built from the parts below: accuracy against network depth."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from matplotlib.figure import Figure

from .data import load_mnist_sample
from .history import History
from .models import MnistCNN
from .train import fit

__all__ = ["compare_depths", "depth_table", "plot_depth_comparison"]


def compare_depths(
    depths: Sequence[int] = (1, 2, 3),
    *,
    epochs: int = 3,
    train: Any = None,
    test: Any = None,
    seed: int = 0,
    **fit_kwargs: Any,
) -> dict[int, History]:
    """Train one :class:`~nnkit.models.MnistCNN` per depth under identical settings.

    Every model is initialised from the same seed and sees the same batches in the same order,
    so the only difference between the runs is the depth.

    Parameters
    ----------
    depths : sequence of int
        Depths to compare (each 1, 2 or 3).
    epochs : int
        Epochs per model.
    train, test : optional
        Data as for :func:`~nnkit.train.fit`; by default the embedded MNIST sample
        (10,000 training and 2,000 test images).
    seed : int
        Seed of initialisation and shuffling.
    **fit_kwargs
        Passed to :func:`~nnkit.train.fit` (``batch_size``, ``lr``, ``optimizer``, ``device``,
        ``progress``...).

    Returns
    -------
    dict of int to History
        ``{depth: history}`` in the order given.

    Examples
    --------
    >>> from nnkit.data import load_mnist_sample
    >>> small = load_mnist_sample(train=False)
    >>> runs = compare_depths((1, 2), epochs=1, train=small, test=small,
    ...                       device="cpu", progress=False)
    >>> sorted(runs), len(runs[1])
    ([1, 2], 1)
    """
    if not depths:
        raise ValueError("depths must name at least one depth, e.g. (1, 2, 3)")
    for depth in depths:
        MnistCNN(depth)  # validates before any training starts
    train = load_mnist_sample(train=True) if train is None else train
    test = load_mnist_sample(train=False) if test is None else test
    results: dict[int, History] = {}
    for depth in depths:
        torch.manual_seed(seed)
        model = MnistCNN(depth)
        results[depth] = fit(model, train, test=test, epochs=epochs, seed=seed, **fit_kwargs)
    return results


def plot_depth_comparison(histories: Mapping[int, History], *, title: str | None = None) -> Figure:
    """Test accuracy (%) and training loss against epoch, one line per depth.

    Parameters
    ----------
    histories : mapping of int to History
        As returned by :func:`compare_depths`.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels; not shown. Save with ``fig.savefig("depth.png")``.

    Examples
    --------
    >>> from nnkit.history import EpochRecord
    >>> h = History([EpochRecord(1, 0.3, 0.9, 0.2, 0.95), EpochRecord(2, 0.1, 0.97, 0.1, 0.98)])
    >>> fig = plot_depth_comparison({2: h})
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['epoch', 'epoch']
    """
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    for depth, history in histories.items():
        epochs = [r.epoch for r in history.records]
        acc = [math.nan if v is None else 100 * v for v in history.column("test_accuracy")]
        loss = [math.nan if v is None else v for v in history.column("train_loss")]
        acc_ax.plot(epochs, acc, "o-", label=f"depth {depth}")
        loss_ax.plot(epochs, loss, "o-", label=f"depth {depth}")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    loss_ax.set(xlabel="epoch", ylabel="training loss (mean per sample)", title="training loss")
    for ax in (acc_ax, loss_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(title="conv blocks")
    fig.suptitle(title or "MnistCNN: accuracy against depth")
    return fig


def depth_table(histories: Mapping[int, History]) -> str:
    """A text table of a depth comparison: parameters, last and best test accuracy, speed.

    Examples
    --------
    >>> from nnkit.history import EpochRecord
    >>> h = History([EpochRecord(1, 0.3, 0.9, 0.2, 0.95, seconds=2.0)])
    >>> print(depth_table({2: h}))
    depth     params  test acc (last)    best  train loss  s/epoch
        2    116,234           95.00%  95.00%      0.3000      2.0
    """
    lines = [
        f"{'depth':>5}  {'params':>9}  {'test acc (last)':>15}  {'best':>6}  "
        f"{'train loss':>10}  {'s/epoch':>7}"
    ]
    for depth, history in histories.items():
        last = history.last
        if last is None:  # interrupted before the first epoch ended
            lines.append(f"{depth:>5}  (no finished epoch)")
            continue
        best = history.best("test_accuracy", mode="max")
        params = sum(p.numel() for p in MnistCNN(depth).parameters())
        last_acc = "-" if last.test_accuracy is None else f"{100 * last.test_accuracy:.2f}%"
        best_acc = (
            "-"
            if best is None or best.test_accuracy is None
            else f"{100 * best.test_accuracy:.2f}%"
        )
        per_epoch = sum(r.seconds for r in history.records) / len(history)
        lines.append(
            f"{depth:>5}  {params:>9,}  {last_acc:>15}  {best_acc:>6}  "
            f"{last.train_loss:>10.4f}  {per_epoch:>7.1f}"
        )
    return "\n".join(lines)
