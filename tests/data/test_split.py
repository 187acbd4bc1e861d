from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from nnkit.data import MnistDataset, load_mnist_sample, split_validation
from nnkit.errors import InvalidArgumentError

from .._data import PairDataset


def test_a_seeded_split_of_every_indexable_kind() -> None:
    x, y = torch.arange(20.0).unsqueeze(1), torch.arange(20)
    (_, yt), (xv, yv) = split_validation((x, y), 0.25, seed=3)  # type: ignore[misc]
    assert len(yv) == 5 and len(yt) == 15
    assert sorted(yt.tolist() + yv.tolist()) == list(range(20))
    assert yt.tolist() == sorted(yt.tolist()) and torch.equal(xv.squeeze(1).long(), yv)
    again = split_validation((x, y), 0.25, seed=3)[1]
    other = split_validation((x, y), 0.25, seed=4)[1]
    assert torch.equal(again[1], yv) and not torch.equal(other[1], yv)  # type: ignore[index]
    assert torch.equal(y, torch.arange(20))  # the user's tensors are unchanged
    _, val = split_validation(PairDataset(x, y), 0.25, seed=3)
    assert isinstance(val, Subset) and sorted(val.indices) == yv.tolist()
    sample = load_mnist_sample(train=False)
    train_part, val_part = split_validation(sample, 0.1, seed=0)
    assert isinstance(train_part, MnistDataset) and isinstance(val_part, MnistDataset)
    assert (len(train_part), len(val_part)) == (1800, 200)


def test_what_cannot_be_split_is_refused() -> None:
    x, y = torch.zeros(10, 2), torch.zeros(10, dtype=torch.long)
    with pytest.raises(InvalidArgumentError, match="got DataLoader; pass the validation data"):
        split_validation(DataLoader(PairDataset(x, y)), 0.2)
    with pytest.raises(InvalidArgumentError, match="holds out 0; both parts need"):
        split_validation((x, y), 0.01)
    with pytest.raises(InvalidArgumentError, match=r"validation_split must be in \(0, 1\)"):
        split_validation((x, y), 0.0)
