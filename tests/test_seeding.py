from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

import nnkit
from nnkit.errors import InvalidArgumentError
from nnkit.train import fit


def _run(seed_first: bool) -> tuple[list[torch.Tensor], list[float | None]]:
    if seed_first:
        nnkit.seed_everything(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    history = fit(model, (x, (x[:, 0] > 0).long()), epochs=2, batch_size=8, seed=0,
                  device="cpu", progress=False)  # fmt: skip
    return [p.detach().clone() for p in model.parameters()], history.column("train_loss")


def test_two_runs_seeded_before_the_model_is_built_are_bit_identical() -> None:
    (w1, l1), (w2, l2) = _run(True), _run(True)
    assert l1 == l2 and all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True))


def test_fit_seed_alone_cannot_reach_a_model_built_before() -> None:
    torch.manual_seed(1)
    (w1, _) = _run(False)
    (w2, _) = _run(False)  # torch's generator moved on: another initialisation
    assert not all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True))


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    assert nnkit.seed_everything(7) == 7
    first = (random.random(), np.random.rand(), torch.rand(()).item())  # noqa: NPY002
    nnkit.seed_everything(7)
    assert first == (random.random(), np.random.rand(), torch.rand(()).item())  # noqa: NPY002
    with pytest.raises(InvalidArgumentError, match="seed must be below 2"):
        nnkit.seed_everything(2**32)
    with pytest.raises(InvalidArgumentError, match="seed must be an integer >= 0, got -1"):
        nnkit.seed_everything(-1)
