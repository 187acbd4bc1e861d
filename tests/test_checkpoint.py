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
    with pytest.raises(CheckpointError, match="holds Python objects other than tensors"):
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


def _payload_span(path: Path) -> tuple[int, int]:
    """Where the state's bytes (the digested payload) lie in the file: they are stored as is."""
    outer = torch.load(path, weights_only=True)
    raw = outer["payload"].numpy().tobytes()
    start = path.read_bytes().find(raw)
    assert start > 0
    return start, start + len(raw)


def _assert_same(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    else:
        assert a == b


def test_every_flipped_bit_of_the_content_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    state = {"epoch": 3, "w": torch.randn(64, 64), "opt": {"lr": 0.1, "m": torch.randn(64)}}
    save_checkpoint(path, state)
    good = path.read_bytes()
    start, end = _payload_span(path)
    generator = torch.Generator().manual_seed(0)
    positions = torch.randint(start, end, (40,), generator=generator).tolist()
    for position in positions:
        damaged = bytearray(good)
        damaged[position] ^= 1 << (position % 8)
        (tmp_path / "bad.pt").write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match=r"bad\.pt is damaged: its content differs"):
            load_checkpoint(tmp_path / "bad.pt")


def test_a_flipped_bit_anywhere_is_refused_or_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    state = {"epoch": 3, "w": torch.randn(16, 16)}
    save_checkpoint(path, state)
    good = path.read_bytes()
    generator = torch.Generator().manual_seed(1)
    messages: list[str] = []
    for position in torch.randint(0, len(good), (60,), generator=generator).tolist():
        damaged = bytearray(good)
        damaged[position] ^= 0x10
        (tmp_path / "bad.pt").write_bytes(bytes(damaged))
        try:
            back = load_checkpoint(tmp_path / "bad.pt")
        except CheckpointError as exc:
            messages.append(str(exc))
        else:  # a byte the format ignores (zip padding, a timestamp): the same content
            _assert_same(back, state)
    assert len(messages) > 30
    assert all("\n" not in m and "bad.pt" in m for m in messages)


def test_version_one_files_still_load(tmp_path: Path) -> None:
    torch.save({"format": "nnkit-checkpoint", "version": 1, "epoch": 2}, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")["epoch"] == 2
    torch.save({"format": "nnkit-checkpoint", "version": 9}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="version 9; this nnkit reads versions 1, 2"):
        load_checkpoint(tmp_path / "new.pt")


def test_garbage_and_foreign_files_are_one_line_without_unsafe_advice(tmp_path: Path) -> None:
    (tmp_path / "garbage.pt").write_bytes(bytes(range(256)) * 8)
    torch.save({"x": Evil()}, tmp_path / "evil.pt", pickle_module=pickle)
    for name, words in (("garbage.pt", "damaged, truncated or not a PyTorch"),
                        ("evil.pt", "holds Python objects")):  # fmt: skip
        with pytest.raises(CheckpointError, match=words) as caught:
            load_checkpoint(tmp_path / name)
        message = str(caught.value)
        assert "\n" not in message and "weights_only set to False" not in message
