from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from nnkit.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    KeepBest,
    ModelCheckpoint,
)
from nnkit.history import History
from nnkit.train import fit


def data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] > 0).long()


def test_early_stopping_stops_and_restores_best() -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x, y = data()
    noisy_test = (
        torch.randn(64, 2),
        torch.randint(0, 2, (64,)),
    )  # nothing to learn: test loss rises
    stopper = EarlyStopping("test_loss", patience=1)
    history = fit(
        model,
        (x, y),
        test=noisy_test,
        epochs=50,
        lr=0.1,
        device="cpu",
        progress=False,
        callbacks=[stopper],
    )
    assert history.stopped_early and len(history) < 50
    best = history.best("test_loss")
    assert best is not None and stopper.best_epoch == best.epoch
    assert len(history) == best.epoch + 2
    result = torch.nn.functional.cross_entropy(model(noisy_test[0]), noisy_test[1]).item()
    assert result == pytest.approx(best.test_loss, rel=1e-5)


def test_early_stopping_needs_the_metric() -> None:
    with pytest.raises(ValueError, match=r"cannot monitor 'test_loss'.*test data"):
        fit(
            nn.Linear(2, 2),
            data(),
            epochs=2,
            device="cpu",
            progress=False,
            callbacks=[EarlyStopping()],
        )


def test_early_stopping_modes() -> None:
    assert EarlyStopping("test_accuracy")._monitor.mode == "max"
    assert EarlyStopping("train_loss")._monitor.mode == "min"
    assert KeepBest("test_accuracy").best == float("-inf")
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_model_checkpoint_every_epoch_and_best(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    every = ModelCheckpoint(tmp_path / "e{epoch:02d}.pt")
    best = ModelCheckpoint(tmp_path / "best.pt", save_best_only=True, monitor="train_loss")
    fit(model, data(), epochs=3, lr=0.05, device="cpu", progress=False, callbacks=[every, best])
    assert [p.name for p in every.saved] == ["e01.pt", "e02.pt", "e03.pt"]
    state = torch.load(tmp_path / "best.pt", weights_only=True)
    assert torch.equal(state["weight"], model.weight.detach())
    assert not list(tmp_path.glob(".*.tmp"))


def test_loggers_write_each_epoch(tmp_path: Path) -> None:
    fit(
        nn.Linear(2, 2),
        data(),
        test=data(32, 1),
        epochs=2,
        device="cpu",
        progress=False,
        callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "log.json")],
    )
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert 0.0 <= float(rows[1]["test_accuracy"]) <= 1.0
    history = History.from_json(tmp_path / "log.json")
    assert len(history) == 2
    assert json.loads((tmp_path / "log.json").read_text())["records"][0]["epoch"] == 1


def test_keep_best_puts_back_the_best_epoch_whatever_ends_the_run() -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    noisy_test = (torch.randn(64, 2), torch.randint(0, 2, (64,)))  # nothing to learn
    keep = KeepBest("test_loss")
    history = fit(
        model, data(), test=noisy_test, epochs=6, lr=0.1, device="cpu", progress=False,
        callbacks=[keep],
    )  # fmt: skip
    best = history.best("test_loss")
    assert best is not None and keep.best_epoch == best.epoch and keep.best == best.test_loss
    assert history.stop_reason == "epochs"  # not stopped early: kept weights come back anyway
    loss = torch.nn.functional.cross_entropy(model(noisy_test[0]), noisy_test[1]).item()
    assert loss == pytest.approx(best.test_loss, rel=1e-5)


def test_callback_state_round_trips() -> None:
    model = nn.Linear(2, 2)
    x, y = data()
    stopper = EarlyStopping("test_loss", patience=5)
    saver = ModelCheckpoint("unused-{epoch}.pt", save_best_only=True)
    fit(model, (x, y), test=(x, y), epochs=3, device="cpu", progress=False, callbacks=[stopper])
    state = stopper.state_dict()
    assert set(state) == {"monitor", "best_epoch", "weights", "wait", "stopped_epoch"}
    other = EarlyStopping("test_loss", patience=5)
    other.load_state_dict(state)
    assert (other.best, other.best_epoch, other.wait) == (stopper.best, stopper.best_epoch, 0)
    assert other._best_state is not None and all(
        torch.equal(other._best_state[k], v) for k, v in (stopper._best_state or {}).items()
    )
    saver.load_state_dict({"monitor": {"best": 0.5}, "saved": ["a.pt"]})
    assert saver.state_dict() == {"monitor": {"best": 0.5}, "saved": ["a.pt"]}
    assert Callback().state_dict() == {}
