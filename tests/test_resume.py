"""Exact resumption (``nnkit._resume``): a run killed with SIGKILL mid-epoch and resumed ends
bit for bit as the uninterrupted run, for every kind of data, with stateful callbacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nnkit.checkpoint import load_checkpoint, save_checkpoint
from nnkit.errors import CheckpointError
from nnkit.train import fit

from ._resume_worker import KILL_EPOCH, KINDS

WORKER = Path(__file__).with_name("_resume_worker.py")
ROOT = Path(__file__).resolve().parents[1]
TIMING = {"seconds", "samples_per_second", "val_seconds"}


def worker(kind: str, out: Path, mode: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(WORKER), kind, str(out), mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )


def assert_identical(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts/lists of tensors and numbers, equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def without_timing(history: dict[str, Any]) -> dict[str, Any]:
    records = [{k: v for k, v in r.items() if k not in TIMING} for r in history["records"]]
    return {**history, "records": records}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_mid_epoch_then_resume_is_bit_identical(kind: str, tmp_path: Path) -> None:
    straight = worker(kind, tmp_path, "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = worker(kind, tmp_path, "killed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert load_checkpoint(tmp_path / "ck.pt")["epoch"] == KILL_EPOCH - 1
    resumed = worker(kind, tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = torch.load(tmp_path / "straight.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert_identical(a["model"], b["model"], "model")
    assert a["optimizer"]["state"], "the optimizer's state was recorded"
    assert_identical(a["optimizer"], b["optimizer"], "optimizer")
    assert_identical(without_timing(a["history"]), without_timing(b["history"]), "history")
    # ModelCheckpoint(save_best_only=True): the resumed run kept the same best file
    assert_identical(
        torch.load(tmp_path / "straight-best.pt", weights_only=True),
        torch.load(tmp_path / "resumed-best.pt", weights_only=True),
        "best file",
    )
    if kind in ("text", "validation_split"):  # no validation data made worse by training
        return
    # the scenario bites: the best epoch came before the kill, early stopping after it, so the
    # callbacks' state (best value, best weights, wait) had to survive the resume
    records = a["history"]["records"]
    best_epoch = min(records, key=lambda r: r["val_loss"])["epoch"]
    assert best_epoch < KILL_EPOCH < len(records)
    assert a["history"]["stop_reason"] == "early_stopping"


def test_a_checkpoint_from_before_exact_resume_is_refused(tmp_path: Path) -> None:
    net = nn.Linear(2, 2)
    ck = tmp_path / "old.pt"
    opt = torch.optim.Adam(net.parameters())
    save_checkpoint(  # what nnkit wrote before the data, schedule and callbacks were saved
        ck,
        {
            "epoch": 1,
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": None,
            "rng": {"cpu": torch.get_rng_state()},
            "loader_seed": 3,
            "history": {"records": []},
        },
    )
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    with pytest.raises(CheckpointError, match="cannot be resumed exactly"):
        fit(net, (x, y), epochs=2, device="cpu", progress=False, checkpoint=ck, resume=True)


def test_a_callback_added_on_resume_starts_afresh(tmp_path: Path) -> None:
    from nnkit.callbacks import KeepBest

    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    ck = tmp_path / "ck.pt"
    fit(nn.Linear(2, 2), (x, y), val=(x, y), epochs=1, device="cpu", progress=False, checkpoint=ck)
    keep = KeepBest()
    history = fit(
        nn.Linear(2, 2),
        (x, y),
        val=(x, y),
        epochs=2,
        device="cpu",
        progress=False,
        checkpoint=ck,
        resume=True,
        callbacks=[keep],
    )
    assert len(history) == 2 and keep.best_epoch == 2  # it saw only the resumed epoch


def _adam_run(tmp_path: Path, **kwargs: Any) -> tuple[nn.Module, Path]:
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    ck = tmp_path / "ck.pt"
    net = nn.Linear(2, 2)
    settings: dict[str, Any] = {"epochs": 1, "device": "cpu", "progress": False}
    fit(net, (x, y), checkpoint=ck, **(settings | kwargs))
    return net, ck


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"optimizer": "sgd"}, r"optimizer Adam -> SGD"),
        ({"optimizer": "adagrad"}, r"optimizer Adam -> Adagrad"),
        ({"lr": 0.1}, r"optimizer settings .*'lr': 0.001.* -> .*'lr': 0.1"),
        ({"batch_size": 8}, r"batch_size 32 -> 8.*train data TensorLoader of 32 samples in 1 "
                            r"batches -> TensorLoader of 32 samples in 4 batches"),
        ({"scheduler": "cosine"}, r"schedule none -> Cosine\(floor=0.0, warmup=0.0\)"),
        ({"loss": "hinge"}, r"loss cross_entropy -> hinge"),
        ({"accumulate": 2}, r"accumulate 1 -> 2"),
    ],
)  # fmt: skip
def test_a_resume_with_other_settings_is_refused_before_training(
    tmp_path: Path, changed: dict[str, Any], named: str
) -> None:
    _, ck = _adam_run(tmp_path)
    net = nn.Linear(2, 2)
    before = [p.detach().clone() for p in net.parameters()]
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    settings: dict[str, Any] = {"epochs": 2, "device": "cpu", "progress": False}
    with pytest.raises(CheckpointError, match=f"cannot resume from {ck}: .*{named}"):
        fit(net, (x, y), checkpoint=ck, resume=True, **(settings | changed))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_other_data_is_refused_and_a_larger_budget_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ck = _adam_run(tmp_path)
    with pytest.raises(
        CheckpointError,
        match="train data TensorLoader of 32 samples in 1 batches -> TensorLoader of 48 samples",
    ):
        fit(nn.Linear(2, 2), (torch.randn(48, 2), torch.randint(0, 2, (48,))), epochs=2,
            device="cpu", progress=False, checkpoint=ck, resume=True)  # fmt: skip
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    history = fit(nn.Linear(2, 2), (x, y), epochs=3, device="cpu", progress="lines",
                  checkpoint=ck, resume=True)  # fmt: skip
    assert len(history) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"resuming {ck}: epochs 1 -> 3"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("epoch", -5, "epoch must be a whole number >= 0, got -5"),
        ("epoch", 1.5, "epoch must be a whole number >= 0, got 1.5"),
        ("global_step", -100, "global_step must be a whole number >= 0, got -100"),
        ("elapsed", float("nan"), "elapsed must be seconds >= 0, got nan"),
        ("elapsed", -1.0, "elapsed must be seconds >= 0, got -1.0"),
        ("epoch", 99, "99 epochs cannot have taken"),
    ],
)
def test_edited_counters_are_refused(field: str, value: object, words: str, tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    data = (torch.randn(16, 2), torch.randint(0, 2, (16,)))
    fit(nn.Linear(2, 2), data, epochs=1, batch_size=8, device="cpu", progress=False,
        checkpoint=path)  # fmt: skip
    state = load_checkpoint(path)
    save_checkpoint(path, {**state, field: value})
    with pytest.raises(CheckpointError, match=rf"checkpoint .*ck\.pt is damaged: {words}"):
        fit(nn.Linear(2, 2), data, epochs=2, batch_size=8, device="cpu", progress=False,
            checkpoint=path, resume=True)  # fmt: skip
