from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from nnkit.checkpoint import load_checkpoint, save_checkpoint
from nnkit.errors import CheckpointError


def test_round_trip(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a" / "ck.pt", {"epoch": 2, "w": torch.arange(3)})
    state = load_checkpoint(tmp_path / "a" / "ck.pt")
    assert state["epoch"] == 2 and torch.equal(state["w"], torch.arange(3))


def test_interrupted_save_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"epoch": 1})

    def broken_replace(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_load_refuses_pickled_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "nnkit-checkpoint", "x": Evil()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"w": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not an nnkit checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")
