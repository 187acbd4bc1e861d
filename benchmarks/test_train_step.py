"""pytest-benchmark: one training step (forward, backward, Adam step) of MnistCNN.

Depth 1, 2, 3 at batch 32, 128 and 512, on the CPU and, when present, on CUDA (synchronised)::

    pytest benchmarks/test_train_step.py --benchmark-group-by=param:device,param:batch
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnkit.models import MnistCNN

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [32, 128, 512])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_train_step(benchmark: Any, depth: int, batch: int, device: str) -> None:
    torch.manual_seed(0)
    model = MnistCNN(depth).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):  # warm-up (cuDNN autotuning, allocator)
        step()
    benchmark(step)
