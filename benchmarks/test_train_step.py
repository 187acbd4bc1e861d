"""pytest-benchmark: one training step (forward, backward, Adam step) of MnistCNN.

Depth 1, 2, 3 at batch 32, 128 and 512, on the CPU and, when present, on CUDA (synchronised).
Each group is one model and batch, so the devices of one setting sit side by side::

    pytest benchmarks/test_train_step.py --benchmark-columns=min,median,rounds
    pytest benchmarks/test_train_step.py --benchmark-save=laptop     # keep a run...
    pytest-benchmark compare 0001 0002 --group-by=group              # ...and compare two

The step is the one ``fit`` takes: channels-last on the CPU, the fused Adam step.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnkit.models import MnistDepth

from ._step import train_step

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [32, 128, 512], ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("depth", [1, 2, 3], ids=lambda d: f"depth{d}")
def test_train_step(benchmark: Any, depth: MnistDepth, batch: int, device: str) -> None:
    benchmark.group = f"MnistCNN(depth={depth}), batch {batch}"
    benchmark.extra_info["samples_per_step"] = batch
    benchmark(train_step(depth, batch, device))
