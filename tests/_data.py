"""Data shared by tests and by the scripts the tests run in subprocesses."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class PairDataset(Dataset[tuple[torch.Tensor, int]]):
    """A plain map-style dataset of (input, label) pairs: no ``.tensors``, no ``.images``, so
    nnkit reads it through its DataLoader-backed ``DatasetSource``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.y[i])
