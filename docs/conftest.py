"""The guide pages' doctests run as a reader's copy of them would: from a fresh folder outside
this checkout, so a page can only read what a user has (the embedded sample, ``$NNKIT_DATA``,
``$NNKIT_TEXT``), never a path inside the repository. A page that reads the full data skips
without it (and fails under ``NNKIT_REQUIRE_DATA=1``, as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _needs(page: str) -> Path | None:
    """The file a page's examples read, found as the page finds it."""
    if page == "text.rst":
        return Path(os.environ.get("NNKIT_TEXT", ".")) / "neko.txt"
    if page == "tutorial_mnist.rst":
        from nnkit.data import default_data_root

        return default_data_root() / "MNIST" / "raw" / "train-images-idx3-ubyte"
    return None


@pytest.fixture(autouse=True)
def _outside_the_checkout(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # before looking: "." must mean the reader's folder
    assert ROOT not in tmp_path.resolve().parents
    need = _needs(Path(str(request.node.path)).name)
    if need is not None and not need.exists():
        message = f"{need} is missing (set NNKIT_TEXT / NNKIT_DATA)"
        if os.environ.get("NNKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"{message}, and NNKIT_REQUIRE_DATA=1 demands it", pytrace=False)
        pytest.skip(message)
