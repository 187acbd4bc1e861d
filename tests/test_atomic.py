"""Atomic writes (``nnkit._atomic``): nothing half-written, nothing left behind, modes kept."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnkit import _atomic
from nnkit._atomic import atomic_path, atomic_write_bytes, unwritable
from nnkit.checkpoint import load_checkpoint, save_checkpoint
from nnkit.optim_viz import animate, compare

KILLED_WRITER = """
import os, signal, sys
from nnkit._atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    with open(tmp, "wb") as handle:
        handle.write(b"x" * 1_000_000)
    os.kill(os.getpid(), signal.SIGKILL)  # dies half-way: the rename never happens
"""


def test_a_writer_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(
    tmp_path: Path,
) -> None:
    target = tmp_path / "ck.pt"
    save_checkpoint(target, {"epoch": 1})
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, check=False
    )
    assert result.returncode == -signal.SIGKILL
    leftovers = list(tmp_path.glob(".ck.pt.*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size == 1_000_000
    assert load_checkpoint(target)["epoch"] == 1  # the last good file is intact
    save_checkpoint(target, {"epoch": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    assert load_checkpoint(target)["epoch"] == 2


def test_only_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    live = tmp_path / f".out.bin.{os.getppid()}.abc123.tmp"  # our parent runs: a live writer
    old_style = tmp_path / ".out.bin.k2j4h.tmp"  # no process id (an older nnkit)
    fresh_old_style = tmp_path / ".out.bin.zz9q.tmp"
    other_target = tmp_path / ".other.bin.1.x.tmp"
    for p in (live, old_style, fresh_old_style, other_target):
        p.write_bytes(b"partial")
    hours_ago = time.time() - 7200
    os.utime(old_style, (hours_ago, hours_ago))
    atomic_write_bytes(target, b"new")
    assert live.exists() and fresh_old_style.exists() and other_target.exists()
    assert not old_style.exists() and target.read_bytes() == b"new"


def test_an_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    private = tmp_path / "private.pt"
    save_checkpoint(private, {"w": torch.zeros(1)})
    private.chmod(0o600)
    save_checkpoint(private, {"w": torch.ones(1)})
    assert private.stat().st_mode & 0o777 == 0o600
    mask = os.umask(0)
    os.umask(mask)
    atomic_write_bytes(tmp_path / "new.bin", b"x")
    assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o666 & ~mask


def test_every_write_is_synced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = _atomic._fsync, os.replace

    def fsync(path: str | Path, *, directory: bool = False) -> None:
        events.append("fsync dir" if directory else "fsync file")
        real_fsync(path, directory=directory)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(_atomic, "_fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    animate(compare(("sgd",), steps=3), tmp_path / "anim.gif", fps=5)  # writes a file by name
    assert events == ["fsync file", "replace", "fsync dir"]
    events.clear()
    with atomic_path(tmp_path / "plain.bin") as tmp:
        Path(tmp).write_bytes(b"x")
    assert events == ["fsync file", "replace", "fsync dir"]


def test_a_device_node_is_never_replaced(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    with pytest.raises(OSError, match="/dev/null is not a regular file"):
        atomic_write_bytes("/dev/null", b"x")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert unwritable("/dev/null") == (
        "/dev/null is not a regular file (a device, pipe or socket), expected a file name"
    )
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "is not a regular file" in (unwritable(fifo) or "")
    assert unwritable(tmp_path / "new.pt") is None
