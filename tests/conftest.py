"""Shared fixtures: where the full data sets are, and whether CI demands them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REQUIRE_DATA = os.environ.get("NNKIT_REQUIRE_DATA") == "1"


def _data_dir(variable: str, marker: str) -> Path:
    value = os.environ.get(variable)
    if value and (Path(value) / marker).exists():
        return Path(value)
    message = f"{variable} does not point at a folder holding {marker}"
    if REQUIRE_DATA:
        pytest.fail(f"{message}, and NNKIT_REQUIRE_DATA=1 demands it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The folder with the full MNIST files (``$NNKIT_DATA``)."""
    return _data_dir("NNKIT_DATA", "MNIST/raw/train-images-idx3-ubyte")


@pytest.fixture(scope="session")
def text_root() -> Path:
    """The folder with the text corpora (``$NNKIT_TEXT``)."""
    return _data_dir("NNKIT_TEXT", "alice.txt")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the real user cache from a test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
