"""Studies built from the parts below: accuracy against network depth."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ._validate import positive_int
from .data import DataLike, load_mnist_sample
from .errors import InvalidArgumentError
from .history import History
from .models import MLP, MnistCNN
from .summary import collapse_linear
from .train import fit

__all__ = [
    "XorResult",
    "compare_depths",
    "depth_table",
    "plot_depth_comparison",
    "xor_demo",
]


def compare_depths(
    depths: Sequence[int] = (1, 2, 3),
    *,
    epochs: int = 3,
    train: DataLike | None = None,
    test: DataLike | None = None,
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
        ``{depth: history}`` in the order given. Ctrl-C stops the whole comparison: the
        depths that finished are returned, the one in progress with the epochs it finished
        (``history.interrupted``), the others not at all.

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
        raise InvalidArgumentError(
            "depths must name at least one depth, e.g. (1, 2, 3)", parameter="depths"
        )
    positive_int(epochs, "epochs")  # validated before any data is loaded or model trained
    for depth in depths:
        MnistCNN(depth)
    train = load_mnist_sample(train=True) if train is None else train
    test = load_mnist_sample(train=False) if test is None else test
    results: dict[int, History] = {}
    try:
        for depth in depths:
            torch.manual_seed(seed)
            model = MnistCNN(depth)
            results[depth] = fit(model, train, test=test, epochs=epochs, seed=seed, **fit_kwargs)
            if results[depth].interrupted:
                break  # one Ctrl-C stops the whole comparison
    except KeyboardInterrupt:  # pressed between two runs
        pass
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


#: The four XOR points and their classes.
XOR_X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = torch.tensor([0, 1, 1, 0])


@dataclass
class XorResult:
    """What :func:`xor_demo` found.

    Attributes
    ----------
    linear_accuracy, relu_accuracy : float
        Training accuracy on the four XOR points of the MLP without and with ReLU.
    linear_model, relu_model : MLP
        The trained networks.
    collapsed : torch.nn.Linear
        The single layer that computes exactly what ``linear_model`` computes.
    figure : matplotlib.figure.Figure
        Both decision boundaries side by side.
    """

    linear_accuracy: float
    relu_accuracy: float
    linear_model: MLP
    relu_model: MLP
    collapsed: torch.nn.Linear
    figure: Figure


def _accuracy(model: torch.nn.Module) -> float:
    with torch.no_grad():
        return float((model(XOR_X).argmax(1) == XOR_Y).float().mean())


def _boundary(ax: Any, model: torch.nn.Module, title: str) -> None:
    grid = np.linspace(-0.5, 1.5, 201)
    gx, gy = np.meshgrid(grid, grid)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    with torch.no_grad():  # float64, so a near-constant output still has a clean 0.5 line
        logits = copy.deepcopy(model).double()(points)
        p1 = torch.softmax(logits, 1)[:, 1].reshape(gx.shape).numpy()
    ax.contourf(gx, gy, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, p1, levels=[0.5], colors="black", linewidths=1.5)
    for cls, marker in ((0, "o"), (1, "s")):
        sel = cls == XOR_Y
        ax.scatter(
            XOR_X[sel, 0],
            XOR_X[sel, 1],
            marker=marker,
            s=120,
            edgecolors="black",
            color="tab:blue" if cls == 0 else "tab:red",
            label=f"class {cls}",
            zorder=3,
        )
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title, aspect="equal")


def xor_demo(
    *,
    depth: int = 3,
    hidden: int = 16,
    epochs: int = 1500,
    lr: float = 0.01,
    seed: int = 0,
) -> XorResult:
    """Why activations matter: the same MLP on XOR without and with ReLU.

    Both MLPs have ``depth`` layers of ``hidden`` units and are trained with Adam and cross
    entropy on the four XOR points. Without an activation the network is one affine map
    (:func:`~nnkit.summary.collapse_linear` returns it), so its decision boundary is a straight
    line, and no line puts (0, 1) and (1, 0) on one side and (0, 0) and (1, 1) on the other: at
    most 3 of the 4 points, 75%, can be right. With ReLU the same architecture bends the
    boundary and gets all four.

    Parameters
    ----------
    depth : int
        Number of linear layers (at least 1).
    hidden : int
        Units per hidden layer.
    epochs : int
        Full-batch training steps.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of both initialisations.

    Returns
    -------
    XorResult
        The two accuracies, the models, the collapsed linear layer and a Figure.

    Examples
    --------
    >>> result = xor_demo(epochs=600, lr=0.02)
    >>> result.linear_accuracy <= 0.75, result.relu_accuracy
    (True, 1.0)
    """
    if depth < 1:
        raise InvalidArgumentError(f"depth must be at least 1, got {depth}", parameter="depth")
    sizes = [2, *([hidden] * (depth - 1)), 2]
    models: dict[str, MLP] = {}
    for name, activation in (("linear", None), ("relu", "relu")):
        torch.manual_seed(seed)
        model = MLP(sizes, activation=activation)  # type: ignore[arg-type]
        fit(
            model,
            (XOR_X, XOR_Y),
            epochs=epochs,
            batch_size=4,
            lr=lr,
            seed=seed,
            device="cpu",
            progress=False,
        )
        models[name] = model
    linear, relu = models["linear"], models["relu"]
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    acc_linear, acc_relu = _accuracy(linear), _accuracy(relu)
    _boundary(left, linear, f"{depth} layers, no activation: {100 * acc_linear:.0f}%")
    _boundary(right, relu, f"{depth} layers with ReLU: {100 * acc_relu:.0f}%")
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    fig.suptitle("XOR: colour = predicted P(class 1), black line = decision boundary")
    return XorResult(acc_linear, acc_relu, linear, relu, collapse_linear(linear), fig)
