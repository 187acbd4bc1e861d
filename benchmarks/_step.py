"""One training step of MnistCNN as ``fit`` takes it, shared by the step benchmarks."""

from __future__ import annotations

from collections.abc import Callable

import torch

from nnkit.models import MnistCNN, MnistDepth
from nnkit.optimizers import build_optimizer
from nnkit.runtime import Runtime


def sync(device: str | torch.device) -> None:
    """Wait for the device to finish its queued work (nothing to wait for on a CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def train_step(depth: MnistDepth, batch: int, device: str) -> Callable[[], None]:
    """A warmed-up step (forward, cross entropy, backward, the fused Adam step; channels-last
    on a CPU) on random images already on ``device``; it waits for CUDA to finish."""
    torch.manual_seed(0)
    model = MnistCNN(depth)
    rt = Runtime(device=device).start(join=False, model=model)
    rt.place(model)
    optimizer = build_optimizer("adam", model.parameters(), device=rt.device)
    x = rt.inputs(torch.rand(batch, 1, 28, 28))
    y = rt.targets(torch.randint(0, 10, (batch,)))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        sync(rt.device)

    for _ in range(5):  # warm-up: allocator, cuDNN and oneDNN kernel choice
        step()
    return step
