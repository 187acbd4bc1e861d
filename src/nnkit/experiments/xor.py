"""Why activations matter: an MLP without them cannot learn XOR; with ReLU it can."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..errors import InvalidArgumentError
from ..models import MLP
from ..summary import collapse_linear
from ..train import fit

__all__ = ["XorResult", "xor_demo"]


#: The four XOR points and their classes.
XOR_X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = torch.tensor([0, 1, 1, 0])


@dataclass
class XorResult:
    """What :func:`xor_demo` found.

    Attributes
    ----------
    linear_accuracy : float
        Training accuracy on the four XOR points of the MLP without activations (at most 0.75).
    relu_accuracy : float
        The same for the MLP with ReLU (1.0 when it learnt XOR).
    linear_model : MLP
        The trained network without activations.
    relu_model : MLP
        The trained network with ReLU.
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
