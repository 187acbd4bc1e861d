"""One optimizer step over one or several batches (``nnkit._step``, ``fit(accumulate=)``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnkit.train import fit


def _trained(batch_size: int, accumulate: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    fit(model, (x, y), epochs=3, batch_size=batch_size, accumulate=accumulate,
        optimizer="sgd", lr=0.5, seed=2, device="cpu", progress=False)  # fmt: skip
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("n", [96, 90])  # 90: a last step of 3 batches, the last one of 2
def test_accumulate_4_at_batch_8_is_batch_32(n: int) -> None:
    big = _trained(32, 1, n)
    accumulated = _trained(8, 4, n)
    for a, b in zip(big, accumulated, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    small = _trained(8, 1, n)  # the comparison bites: four steps of 8 are another run
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(big, small, strict=True))


def test_budgets_and_callbacks_count_optimizer_steps() -> None:
    x = torch.randn(64, 2)
    history = fit(nn.Linear(2, 2), (x, (x[:, 0] > 0).long()), max_steps=3, batch_size=4,
                  accumulate=4, device="cpu", progress=False)  # fmt: skip
    assert history.stop_reason == "max_steps"
    assert history.records[0].samples_per_second > 0
    # 3 steps of 4 batches of 4 samples: 48 samples trained
    assert history.records[0].samples_per_second * history.records[0].seconds == pytest.approx(
        48, rel=1e-6
    )
