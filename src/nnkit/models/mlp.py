"""A fully connected network whose activation can be switched off."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal, TypeAlias, get_args

from torch import nn

from ..errors import InvalidArgumentError

__all__ = ["ACTIVATIONS", "MLP", "ActivationName"]

ActivationName: TypeAlias = Literal["relu", "sigmoid", "tanh"]
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
_MODULES: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Sequential):
    """Linear layers of the given sizes with an activation between them (none after the last).

    With ``activation=None`` every layer is affine, so the whole network is one affine map
    however deep it is: :func:`nnkit.summary.collapse_linear` computes that map.

    Parameters
    ----------
    sizes : sequence of int
        Input size, hidden sizes..., output size (at least two numbers).
    activation : {"relu", "sigmoid", "tanh"} or None
        The non-linearity between layers, or None for a purely linear network.
    bias : bool
        Give each layer a bias.

    Shape
    -----
    - Input: ``(N, sizes[0])``.
    - Output: ``(N, sizes[-1])``.

    Examples
    --------
    >>> MLP([2, 8, 8, 1], activation="relu")
    MLP(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=8, bias=True)
      (3): ReLU()
      (4): Linear(in_features=8, out_features=1, bias=True)
    )
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: ActivationName | None = "relu",
        bias: bool = True,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
        ):
            raise InvalidArgumentError(
                f"MLP sizes must be at least two positive integers (input, ..., output), "
                f"got {sizes!r}"
            )
        if activation is not None and activation not in _MODULES:
            raise InvalidArgumentError(
                f"activation must be one of {', '.join(ACTIVATIONS)} or None, got {activation!r}",
                parameter="activation",
            )
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out, bias=bias))
            if activation is not None and i < len(sizes) - 2:
                layers.append(_MODULES[activation]())
        super().__init__(*layers)
        self.sizes = tuple(sizes)
        self.activation = activation
