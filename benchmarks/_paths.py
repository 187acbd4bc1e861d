"""Where the benchmarks find the full MNIST files."""

from __future__ import annotations

import os
from pathlib import Path

from nnkit.data import MnistDataset, load_mnist

ROOT = Path(__file__).resolve().parents[1]


def mnist_root() -> Path:
    """``$NNKIT_DATA``, else ``../shared/data/mnist`` beside the checkout."""
    return Path(os.environ.get("NNKIT_DATA") or ROOT.parent / "shared" / "data" / "mnist")


def text_root() -> Path:
    """``$NNKIT_TEXT``, else ``../shared/data/text`` beside the checkout."""
    return Path(os.environ.get("NNKIT_TEXT") or ROOT.parent / "shared" / "data" / "text")


def full_mnist(train: bool = True) -> MnistDataset:
    """The full MNIST set, or a pytest skip when it is not on this machine."""
    import pytest  # only the pytest-benchmark suites call this

    root = mnist_root()
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"full MNIST not found in {root} (set NNKIT_DATA)")
    return load_mnist(root, train=train)
