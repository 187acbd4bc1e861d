"""The MNIST convolutional network of the notes, with its depth as a parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final, Literal, TypeAlias, get_args

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidArgumentError

__all__ = ["DEFAULT_CHANNELS", "MnistCNN", "MnistDepth"]

#: The depths MnistCNN supports (number of convolutional blocks).
MnistDepth: TypeAlias = Literal[1, 2, 3]
#: Output channels of the convolutional blocks (the notes' 16 and 32, then 64).
DEFAULT_CHANNELS: Final = (16, 32, 64)
_ALLOWED_DEPTHS: Final = get_args(MnistDepth)


def _spatial_size(size: int, depth: int) -> int:
    """Side length after ``depth`` blocks of (3x3 valid conv, 2x2 max-pool)."""
    for _ in range(depth):
        size = (size - 2) // 2
    return size


class MnistCNN(nn.Module):
    """The notes' MNIST CNN, generalised to 1, 2 or 3 convolutional blocks.

    Each block is a 3x3 convolution (no padding), ReLU and 2x2 max-pooling, with 16, 32 and 64
    channels unless ``channels`` says otherwise; the head is fully connected,
    ``flat -> 128 -> 64 -> num_classes`` with ReLU between.
    ``MnistCNN(depth=2)`` is exactly the notes' ``Net``: the same layers in the same order, under
    the same attribute names (``conv1, conv2, fc1, fc2, fc3``), so a ``state_dict`` saved from
    ``Net`` loads unchanged. The flattened size is computed from the depth
    (``16*13*13 = 2704``, ``32*5*5 = 800``, ``64*1*1 = 64``).

    Parameters
    ----------
    depth : {1, 2, 3}
        Number of convolutional blocks.
    channels : sequence of int, optional
        Output channels of each block (``depth`` of them); the default is the first ``depth``
        of :data:`DEFAULT_CHANNELS`, ``(16, 32, 64)``. Used to compare depths at a matched
        parameter count (:func:`nnkit.experiments.matched_channels`).
    num_classes : int
        Number of outputs (logits).
    dropout : float
        Dropout probability after each hidden fully connected layer (0 disables it; dropout has
        no parameters, so the ``state_dict`` is the same either way).

    Shape
    -----
    - Input: ``(N, 1, 28, 28)`` float.
    - Output: ``(N, num_classes)`` logits (no softmax; use cross entropy on them).

    Examples
    --------
    >>> model = MnistCNN(depth=2)
    >>> [tuple(p.shape) for p in model.parameters()][:3]
    [(16, 1, 3, 3), (16,), (32, 16, 3, 3)]
    >>> model(torch.zeros(8, 1, 28, 28)).shape
    torch.Size([8, 10])
    >>> MnistCNN(depth=3, channels=(8, 16, 32)).channels
    (8, 16, 32)
    """

    #: The forward pass works in any memory format (it flattens with ``torch.flatten``), so
    #: ``Runtime(channels_last="auto")`` uses channels-last for it on a CPU.
    channels_last_safe: ClassVar[bool] = True

    def __init__(
        self,
        depth: MnistDepth = 2,
        *,
        channels: Sequence[int] | None = None,
        num_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth not in _ALLOWED_DEPTHS:
            raise InvalidArgumentError(
                f"MnistCNN depth must be one of {_ALLOWED_DEPTHS}, got {depth!r}", parameter="depth"
            )
        widths = tuple(DEFAULT_CHANNELS[:depth] if channels is None else channels)
        if len(widths) != depth or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in widths
        ):
            raise InvalidArgumentError(
                f"MnistCNN channels must be {depth} positive integers (one per block) for "
                f"depth={depth}, got {channels!r}",
                parameter="channels",
            )
        if not isinstance(num_classes, int) or num_classes < 1:
            raise InvalidArgumentError(
                f"num_classes must be a positive integer, got {num_classes!r}",
                parameter="num_classes",
            )
        if not 0.0 <= dropout < 1.0:
            raise InvalidArgumentError(
                f"dropout must be in [0, 1), got {dropout!r}", parameter="dropout"
            )
        self.depth = depth
        self.channels = widths
        self.num_classes = num_classes
        self.dropout = dropout
        in_channels = 1
        for i in range(depth):
            self.add_module(f"conv{i + 1}", nn.Conv2d(in_channels, widths[i], 3))
            in_channels = widths[i]
        side = _spatial_size(28, depth)
        self.flat_features = in_channels * side * side
        self.fc1 = nn.Linear(self.flat_features, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, num_classes)

    def convs(self) -> list[nn.Conv2d]:
        """The convolutional layers, in order."""
        return [self.get_submodule(f"conv{i + 1}") for i in range(self.depth)]  # type: ignore[misc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``(N, 1, 28, 28)`` (an error for other
        shapes, or integer pixels)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise InvalidArgumentError(
                f"MnistCNN expects input of shape (N, 1, 28, 28), got {tuple(x.shape)}",
                parameter="x",
            )
        if not x.is_floating_point():
            raise InvalidArgumentError(
                f"MnistCNN expects floating-point images, got {x.dtype}; scale uint8 pixels "
                "with x.float() / 255, or pass an MnistDataset (fit scales its images for you)",
                parameter="x",
            )
        for conv in self.convs():
            # max-pool and ReLU commute (both are monotone), so pooling first computes the
            # notes' relu-then-pool exactly, gradients included, with a quarter of the ReLU work.
            x = torch.relu(F.max_pool2d(conv(x), 2))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = F.dropout(x, self.dropout, self.training)
        x = torch.relu(self.fc2(x))
        x = F.dropout(x, self.dropout, self.training)
        return self.fc3(x)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        shown = (
            "" if self.channels == DEFAULT_CHANNELS[: self.depth] else f", channels={self.channels}"
        )
        return f"depth={self.depth}{shown}, num_classes={self.num_classes}, dropout={self.dropout}"
