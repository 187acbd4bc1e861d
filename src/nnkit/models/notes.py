"""The study notes' own models, kept exactly as the notes wrote them, for comparison.

These are the reference implementations that nnkit's models are tested and benchmarked against.
They are not meant for new code: use :class:`~nnkit.models.MnistCNN` instead of ``NotesNet``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NotesNet", "NotesRNN"]


class NotesNet(nn.Module):
    """The notes' ``Net``, verbatim (the notes' version; prefer ``MnistCNN(depth=2)``).

    Examples
    --------
    >>> NotesNet()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.fc1 = nn.Linear(32 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 10)`` of images ``(N, 1, 28, 28)``, as the notes compute them."""
        x = self.conv1(x)
        x = torch.relu(x)
        x = torch.nn.functional.max_pool2d(x, 2)
        x = self.conv2(x)
        x = torch.relu(x)
        x = torch.nn.functional.max_pool2d(x, 2)
        x = x.view(-1, 32 * 5 * 5)
        x = self.fc1(x)
        x = torch.relu(x)
        x = self.fc2(x)
        x = torch.relu(x)
        x = self.fc3(x)
        return x


class NotesRNN(nn.Module):
    """The notes' RNN cell, verbatim (the notes' version; use ``CharRNN(cell="seed")``).

    One step: concatenate the one-hot input and the hidden state, ``hidden = i2h(combined)``
    (no non-linearity), ``output = log_softmax(i2o(combined))``.

    Examples
    --------
    >>> rnn = NotesRNN(58, 128, 58)
    >>> out, h = rnn(torch.zeros(1, 58), rnn.init_hidden())
    >>> out.shape, h.shape
    (torch.Size([1, 58]), torch.Size([1, 128]))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(
        self, input: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: log-probabilities ``(1, output_size)`` and the next hidden state."""
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def init_hidden(self) -> torch.Tensor:
        return torch.zeros(1, self.hidden_size)
