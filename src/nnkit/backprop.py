r"""Backpropagation written out in matrices, for one hidden layer, checked against autograd.

Notation (the notes'): :math:`X` is ``(N, D)``, samples by inputs; :math:`W_1` is ``(D, H)``;
:math:`U_1 = X W_1 + b_1` and :math:`Z_1 = a(U_1)` are ``(N, H)``; :math:`W_2` is ``(H, K)``;
:math:`U_2 = Z_1 W_2 + b_2` and :math:`Z_2 = g(U_2)` are ``(N, K)``; :math:`Y` is ``(N, K)``.
:math:`a` is the hidden activation and :math:`g` the output function. The errors are
:math:`\delta_2 = \partial L / \partial U_2` and :math:`\delta_1 = \partial L / \partial U_1`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast, get_args

import numpy as np
import torch

from .errors import InvalidArgumentError

__all__ = [
    "BackpropActivation",
    "BackpropLoss",
    "BackpropOutput",
    "GradCheck",
    "Gradients",
    "ManualTraining",
    "check_grads",
    "forward",
    "manual_grads",
    "train_manual",
]

BackpropActivation: TypeAlias = Literal["sigmoid", "tanh", "relu", "identity"]
BackpropOutput: TypeAlias = Literal["identity", "sigmoid", "softmax"]
BackpropLoss: TypeAlias = Literal["mse", "cross_entropy"]
_ACTIVATIONS = get_args(BackpropActivation)
_OUTPUTS = get_args(BackpropOutput)
_LOSSES = get_args(BackpropLoss)


@dataclass(frozen=True)
class Gradients:
    """Everything the forward and backward pass computed, in the notes' notation.

    Attributes
    ----------
    U1 : torch.Tensor
        ``(N, H)``: the hidden pre-activation :math:`X W_1 + b_1`.
    Z1 : torch.Tensor
        ``(N, H)``: the hidden activation :math:`a(U_1)`.
    U2 : torch.Tensor
        ``(N, K)``: the output pre-activation :math:`Z_1 W_2 + b_2`.
    Z2 : torch.Tensor
        ``(N, K)``: the output :math:`g(U_2)`.
    loss : torch.Tensor
        The scalar loss.
    delta2 : torch.Tensor
        ``(N, K)``: :math:`\\partial L / \\partial U_2`, the output error.
    delta1 : torch.Tensor
        ``(N, H)``: :math:`\\partial L / \\partial U_1`, the hidden error.
    dW1 : torch.Tensor
        ``(D, H)``: :math:`\\partial L / \\partial W_1 = X^T \\delta_1`.
    dW2 : torch.Tensor
        ``(H, K)``: :math:`\\partial L / \\partial W_2 = Z_1^T \\delta_2`.
    db1 : torch.Tensor or None
        ``(H,)``: the first bias's gradient, the column sums of ``delta1`` (None without b1).
    db2 : torch.Tensor or None
        ``(K,)``: the second bias's gradient, the column sums of ``delta2`` (None without b2).
    """

    U1: torch.Tensor
    Z1: torch.Tensor
    U2: torch.Tensor
    Z2: torch.Tensor
    loss: torch.Tensor
    delta2: torch.Tensor
    delta1: torch.Tensor
    dW1: torch.Tensor
    dW2: torch.Tensor
    db1: torch.Tensor | None
    db2: torch.Tensor | None


def _check(
    X: torch.Tensor,
    Y: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    b1: torch.Tensor | None,
    b2: torch.Tensor | None,
    activation: str,
    output: str,
    loss: str,
) -> None:
    if activation not in _ACTIVATIONS:
        raise InvalidArgumentError(
            f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}",
            parameter="activation",
        )
    if output not in _OUTPUTS:
        raise InvalidArgumentError(
            f"output must be one of {', '.join(_OUTPUTS)}, got {output!r}", parameter="output"
        )
    if loss not in _LOSSES:
        raise InvalidArgumentError(
            f"loss must be one of {', '.join(_LOSSES)}, got {loss!r}", parameter="loss"
        )
    if loss == "cross_entropy" and output != "softmax":
        raise InvalidArgumentError(
            f"loss='cross_entropy' needs output='softmax', got output={output!r}"
        )
    for name, t in (("X", X), ("Y", Y), ("W1", W1), ("W2", W2)):
        if t.dim() != 2:
            raise InvalidArgumentError(f"{name} must be a matrix (2-d), got shape {tuple(t.shape)}")
    if X.shape[1] != W1.shape[0]:
        raise InvalidArgumentError(
            f"X has {X.shape[1]} columns but W1 has {W1.shape[0]} rows; X (N, D) @ W1 (D, H) "
            f"needs them equal: X {tuple(X.shape)}, W1 {tuple(W1.shape)}"
        )
    if W1.shape[1] != W2.shape[0]:
        raise InvalidArgumentError(
            f"W1 has {W1.shape[1]} columns but W2 has {W2.shape[0]} rows: "
            f"W1 {tuple(W1.shape)}, W2 {tuple(W2.shape)}"
        )
    if Y.shape != (X.shape[0], W2.shape[1]):
        raise InvalidArgumentError(
            f"Y must be (N, K) = {(X.shape[0], W2.shape[1])} to match X {tuple(X.shape)} and "
            f"W2 {tuple(W2.shape)}, got {tuple(Y.shape)}"
        )
    for name, b, size in (("b1", b1, W1.shape[1]), ("b2", b2, W2.shape[1])):
        if b is not None and b.shape != (size,):
            raise InvalidArgumentError(f"{name} must have shape ({size},), got {tuple(b.shape)}")


def _activate(U: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "sigmoid":
        return torch.sigmoid(U)
    if kind == "tanh":
        return torch.tanh(U)
    if kind == "relu":
        return torch.clamp(U, min=0)
    if kind == "softmax":
        return torch.softmax(U, dim=1)
    return U


def _activation_derivative(U: torch.Tensor, Z: torch.Tensor, kind: str) -> torch.Tensor:
    """:math:`a'(U)`, elementwise, written with the already computed :math:`Z = a(U)`."""
    if kind == "sigmoid":
        return Z * (1 - Z)
    if kind == "tanh":
        return 1 - Z * Z
    if kind == "relu":
        return (U > 0).to(U.dtype)
    return torch.ones_like(U)


def forward(
    X: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    *,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
    activation: BackpropActivation = "sigmoid",
    output: BackpropOutput = "identity",
) -> torch.Tensor:
    """The network's output :math:`Z_2` (works with autograd, unlike :func:`manual_grads`)."""
    return _activate(_output_preactivation(X, W1, W2, b1, b2, activation), output)


def _output_preactivation(
    X: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    b1: torch.Tensor | None,
    b2: torch.Tensor | None,
    activation: str,
) -> torch.Tensor:
    """:math:`U_2 = a(X W_1 + b_1) W_2 + b_2`, differentiable (for autograd and checks)."""
    U1 = X @ W1 + (0 if b1 is None else b1)
    return _activate(U1, activation) @ W2 + (0 if b2 is None else b2)


def manual_grads(
    X: torch.Tensor,
    Y: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    *,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
    activation: BackpropActivation = "sigmoid",
    output: BackpropOutput = "identity",
    loss: BackpropLoss = "mse",
) -> Gradients:
    r"""Forward and backward pass of a one-hidden-layer network by matrix algebra alone.

    No autograd is involved: every gradient below is a formula, and :func:`check_grads` compares
    them with ``torch.autograd`` and with finite differences.

    Parameters
    ----------
    X : torch.Tensor
        ``(N, D)`` inputs, one sample per row.
    Y : torch.Tensor
        ``(N, K)`` targets (one-hot rows or probabilities for cross entropy).
    W1 : torch.Tensor
        ``(D, H)`` weights of the hidden layer.
    W2 : torch.Tensor
        ``(H, K)`` weights of the output layer.
    b1 : torch.Tensor, optional
        ``(H,)`` bias of the hidden layer.
    b2 : torch.Tensor, optional
        ``(K,)`` bias of the output layer.
    activation : {"sigmoid", "tanh", "relu", "identity"}
        The hidden activation :math:`a`.
    output : {"identity", "sigmoid", "softmax"}
        The output function :math:`g`.
    loss : {"mse", "cross_entropy"}
        ``"mse"``: :math:`L = \frac{1}{2N}\sum_{n,k} (Z_2 - Y)^2`, half the squared error
        summed over outputs and averaged over samples. ``"cross_entropy"`` (needs
        ``output="softmax"``): :math:`L = -\frac{1}{N}\sum_{n,k} Y \log Z_2`.

    Returns
    -------
    Gradients
        Forward values, loss, :math:`\delta_2`, :math:`\delta_1` and the weight and bias
        gradients.

    Raises
    ------
    ValueError
        Shapes that do not chain (the message names both), unknown options, or cross entropy
        without a softmax output.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 2.0]]); Y = torch.tensor([[1.0]])
    >>> g = manual_grads(X, Y, torch.ones(2, 3), torch.ones(3, 1), activation="identity")
    >>> g.Z2.item(), g.loss.item(), g.delta2.item()  # Z2 = 9, L = (9 - 1)^2 / 2
    (9.0, 32.0, 8.0)
    >>> g.dW1.tolist()  # X^T (delta2 W2^T)
    [[8.0, 8.0, 8.0], [16.0, 16.0, 16.0]]
    """
    _check(X, Y, W1, W2, b1, b2, activation, output, loss)
    N = X.shape[0]
    # [forward]
    U1 = X @ W1 + (0 if b1 is None else b1)  # (N, H)
    Z1 = _activate(U1, activation)  # (N, H)
    U2 = Z1 @ W2 + (0 if b2 is None else b2)  # (N, K)
    Z2 = _activate(U2, output)  # (N, K)
    # [/forward]
    # [loss]
    if loss == "mse":
        L = ((Z2 - Y) ** 2).sum() / (2 * N)
        dZ2 = (Z2 - Y) / N  # dL/dZ2
    else:
        log_Z2 = torch.log_softmax(U2, dim=1)
        L = -(Y * log_Z2).sum() / N
    # [/loss]
    # [delta2]
    if loss == "cross_entropy":
        delta2 = (Z2 * Y.sum(dim=1, keepdim=True) - Y) / N  # softmax and CE together
    elif output == "softmax":
        delta2 = Z2 * (dZ2 - (dZ2 * Z2).sum(dim=1, keepdim=True))  # softmax Jacobian
    elif output == "sigmoid":
        delta2 = dZ2 * Z2 * (1 - Z2)
    else:
        delta2 = dZ2
    # [/delta2]
    # [weights2]
    dW2 = Z1.T @ delta2  # (H, K)
    db2 = None if b2 is None else delta2.sum(dim=0)  # (K,)
    # [/weights2]
    # [delta1]
    delta1 = (delta2 @ W2.T) * _activation_derivative(U1, Z1, activation)  # (N, H)
    # [/delta1]
    # [weights1]
    dW1 = X.T @ delta1  # (D, H)
    db1 = None if b1 is None else delta1.sum(dim=0)  # (H,)
    # [/weights1]
    return Gradients(U1, Z1, U2, Z2, L, delta2, delta1, dW1, dW2, db1, db2)


def _loss_autograd(Z2: torch.Tensor, U2: torch.Tensor, Y: torch.Tensor, loss: str) -> torch.Tensor:
    N = Y.shape[0]
    if loss == "mse":
        return ((Z2 - Y) ** 2).sum() / (2 * N)
    return -(Y * torch.log_softmax(U2, dim=1)).sum() / N


@dataclass(frozen=True)
class GradCheck:
    """Largest relative errors of one gradient: ``max|a - b| / max|b|`` over its elements."""

    autograd: float
    finite_difference: float


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) / max(scale, 1e-300) if a.numel() else 0.0


def check_grads(
    X: torch.Tensor,
    Y: torch.Tensor,
    W1: torch.Tensor,
    W2: torch.Tensor,
    *,
    b1: torch.Tensor | None = None,
    b2: torch.Tensor | None = None,
    activation: BackpropActivation = "sigmoid",
    output: BackpropOutput = "identity",
    loss: BackpropLoss = "mse",
    eps: float = 1e-6,
) -> dict[str, GradCheck]:
    """Compare :func:`manual_grads` with ``torch.autograd`` and with central differences.

    Use float64 inputs: then the hand-written gradients agree with autograd to about 1e-15,
    and with finite differences (step ``eps``) to about 1e-8.

    Returns
    -------
    dict of str to GradCheck
        For ``"dW1"``, ``"dW2"`` and, when given, ``"db1"``, ``"db2"``: the largest relative
        error against autograd and against finite differences.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> X, Y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    >>> W1, W2 = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    >>> errors = check_grads(X, Y, W1, W2, activation="tanh")
    >>> errors["dW1"].autograd < 1e-10, errors["dW1"].finite_difference < 1e-6
    (True, True)
    """
    manual = manual_grads(
        X, Y, W1, W2, b1=b1, b2=b2, activation=activation, output=output, loss=loss
    )
    params = {"W1": W1, "W2": W2, "b1": b1, "b2": b2}
    present = {k: v for k, v in params.items() if v is not None}

    def loss_of(values: dict[str, torch.Tensor]) -> torch.Tensor:
        U2 = _output_preactivation(
            X, values["W1"], values["W2"], values.get("b1"), values.get("b2"), activation
        )
        return _loss_autograd(_activate(U2, output), U2, Y, loss)

    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in present.items()}
    grads = torch.autograd.grad(loss_of(leaves), list(leaves.values()))
    auto = dict(zip(leaves, grads, strict=True))
    results: dict[str, GradCheck] = {}
    with torch.no_grad():
        for name, value in present.items():
            numeric = torch.zeros_like(value)
            flat = numeric.view(-1)
            for i in range(value.numel()):
                shifted = {k: v.detach().clone() for k, v in present.items()}
                shifted[name].view(-1)[i] += eps
                up = float(loss_of(shifted))
                shifted[name].view(-1)[i] -= 2 * eps
                down = float(loss_of(shifted))
                flat[i] = (up - down) / (2 * eps)
            mine = getattr(manual, f"d{name}")
            results[f"d{name}"] = GradCheck(_relative(mine, auto[name]), _relative(mine, numeric))
    return results


@dataclass
class ManualTraining:
    """The result of :func:`train_manual`.

    Attributes
    ----------
    W1 : torch.Tensor
        ``(D, H)``: the trained hidden weights.
    W2 : torch.Tensor
        ``(H, K)``: the trained output weights.
    b1 : torch.Tensor
        ``(H,)``: the trained hidden bias.
    b2 : torch.Tensor
        ``(K,)``: the trained output bias.
    losses : numpy.ndarray
        ``(steps + 1,)``: the loss before each step and after the last.
    activation : BackpropActivation
        The hidden activation, so :meth:`predict` can run the network.
    output : BackpropOutput
        The output function.
    loss : BackpropLoss
        The loss it was trained on.
    """

    W1: torch.Tensor
    W2: torch.Tensor
    b1: torch.Tensor
    b2: torch.Tensor
    losses: np.ndarray
    activation: BackpropActivation
    output: BackpropOutput
    loss: BackpropLoss
    extra: dict[str, float] = field(default_factory=dict)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """:math:`Z_2` for new inputs ``X`` ``(M, D)``."""
        return forward(
            X,
            self.W1,
            self.W2,
            b1=self.b1,
            b2=self.b2,
            activation=self.activation,
            output=self.output,
        )


def train_manual(
    X: torch.Tensor,
    Y: torch.Tensor,
    hidden: int,
    *,
    steps: int,
    lr: float,
    activation: BackpropActivation = "sigmoid",
    output: BackpropOutput = "identity",
    loss: BackpropLoss = "mse",
    seed: int = 0,
    on_step: Callable[[int, Gradients], None] | None = None,
) -> ManualTraining:
    """Full-batch gradient descent driven only by :func:`manual_grads`.

    Weights start uniform in :math:`\\pm 1/\\sqrt{\\text{fan-in}}` (as ``nn.Linear``), biases at
    zero, drawn from a generator seeded with ``seed``; then each step is
    :math:`W \\leftarrow W - \\eta\\, \\partial L / \\partial W` for all four tensors.

    Parameters
    ----------
    X : torch.Tensor
        ``(N, D)`` inputs.
    Y : torch.Tensor
        ``(N, K)`` targets.
    hidden : int
        Hidden units H.
    steps : int
        Gradient steps.
    lr : float
        Learning rate :math:`\\eta`.
    activation, output, loss
        As in :func:`manual_grads`.
    seed : int
        Seed of the initial weights.
    on_step : callable, optional
        Called as ``on_step(step, gradients)`` before each update (for tracking).

    Returns
    -------
    ManualTraining

    Examples
    --------
    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    >>> Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)  # XOR
    >>> run = train_manual(X, Y, 4, steps=3000, lr=2.0, output="sigmoid", seed=1)
    >>> (run.predict(X) > 0.5).long().flatten().tolist()
    [0, 1, 1, 0]
    """
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise InvalidArgumentError(
            f"hidden must be a positive integer, got {hidden!r}", parameter="hidden"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise InvalidArgumentError(
            f"steps must be a non-negative integer, got {steps!r}", parameter="steps"
        )
    if not lr > 0:
        raise InvalidArgumentError(f"lr must be positive, got {lr!r}", parameter="lr")
    generator = torch.Generator().manual_seed(seed)
    D, K = X.shape[1], Y.shape[1]

    def uniform(rows: int, cols: int, fan_in: int) -> torch.Tensor:
        bound = 1 / math.sqrt(fan_in)
        return (torch.rand(rows, cols, generator=generator, dtype=X.dtype) * 2 - 1) * bound

    W1, W2 = uniform(D, hidden, D), uniform(hidden, K, hidden)
    b1, b2 = torch.zeros(hidden, dtype=X.dtype), torch.zeros(K, dtype=X.dtype)
    losses = []
    for step in range(steps + 1):
        g = manual_grads(
            X, Y, W1, W2, b1=b1, b2=b2, activation=activation, output=output, loss=loss
        )
        losses.append(float(g.loss))
        if step == steps:
            break
        if on_step is not None:
            on_step(step, g)
        W1, W2 = W1 - lr * g.dW1, W2 - lr * g.dW2
        b1 = b1 - lr * cast(torch.Tensor, g.db1)  # biases are given, so their grads exist
        b2 = b2 - lr * cast(torch.Tensor, g.db2)
    return ManualTraining(W1, W2, b1, b2, np.asarray(losses), activation, output, loss)
