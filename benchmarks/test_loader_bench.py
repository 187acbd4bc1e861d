"""pytest-benchmark: one MNIST epoch of batches, TensorLoader vs torchvision + DataLoader.

``pytest benchmarks/test_loader_bench.py`` (needs the full MNIST in ``$NNKIT_DATA``).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnkit.data import TensorLoader

from ._paths import full_mnist, mnist_root


def _drain(loader: Any) -> int:
    return sum(int(x.shape[0]) for x, _ in loader)


@pytest.mark.benchmark(group="mnist-epoch-of-batches")
def test_tensor_loader_epoch(benchmark: Any) -> None:
    loader = TensorLoader(full_mnist(), 32, shuffle=True, seed=0)
    assert benchmark.pedantic(_drain, args=(loader,), rounds=3, iterations=1) == 60_000


@pytest.mark.benchmark(group="mnist-epoch-of-batches")
def test_torchvision_dataloader_epoch(benchmark: Any) -> None:
    import torchvision
    from torchvision.transforms import ToTensor

    full_mnist()  # skips without data
    ds = torchvision.datasets.MNIST(str(mnist_root()), train=True, transform=ToTensor())
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    assert benchmark.pedantic(_drain, args=(loader,), rounds=3, iterations=1) == 60_000
