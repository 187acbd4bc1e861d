"""The guide pages' doctests run from the repository root, so the ``../shared/data/...`` paths
in them resolve as a reader's would; a page that reads the shared data skips without it (and
fails under ``NNKIT_REQUIRE_DATA=1``, as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NEEDS = {
    "text.rst": SHARED / "text" / "neko.txt",
    "tutorial_mnist.rst": SHARED / "mnist" / "MNIST" / "raw" / "train-images-idx3-ubyte",
}


@pytest.fixture(autouse=True)
def _from_the_repository_root(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    need = NEEDS.get(Path(str(request.node.path)).name)
    if need is not None and not need.exists():
        message = f"{need} is missing (shared/ beside the checkout)"
        if os.environ.get("NNKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"{message}, and NNKIT_REQUIRE_DATA=1 demands it", pytrace=False)
        pytest.skip(message)
    monkeypatch.chdir(ROOT)
