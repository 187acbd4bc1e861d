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
    stopper = EarlyStopping("val_loss", patience=1)
    history = fit(
        model,
        (x, y),
        val=noisy_test,
        epochs=50,
        lr=0.1,
        device="cpu",
        progress=False,
        callbacks=[stopper],
    )
    assert history.stopped_early and len(history) < 50
    best = history.best("val_loss")
    assert best is not None and stopper.best_epoch == best.epoch
    assert len(history) == best.epoch + 1  # patience=1: one epoch without improvement
    assert history.stop_reason == "early_stopping" and history.weights_epoch == best.epoch
    result = torch.nn.functional.cross_entropy(model(noisy_test[0]), noisy_test[1]).item()
    assert result == pytest.approx(best.val_loss, rel=1e-5)


def test_early_stopping_needs_the_metric() -> None:
    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(
        ValueError,
        match=r"EarlyStopping monitors 'val_loss', which this run does not record \(validation "
        r"metrics need validation data.*valid names: train_loss, train_accuracy, lr",
    ):
        fit(
            model,
            data(),
            epochs=2,
            device="cpu",
            progress=False,
            callbacks=[EarlyStopping()],
        )
    # refused before the first optimizer step
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_early_stopping_modes() -> None:
    assert EarlyStopping("val_accuracy")._monitor.mode == "max"
    assert EarlyStopping("train_loss")._monitor.mode == "min"
    assert KeepBest("val_accuracy").best == float("-inf")
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
        val=data(32, 1),
        epochs=2,
        device="cpu",
        progress=False,
        callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "log.json")],
    )
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert 0.0 <= float(rows[1]["val_accuracy"]) <= 1.0
    history = History.from_json(tmp_path / "log.json")
    assert len(history) == 2
    assert json.loads((tmp_path / "log.json").read_text())["records"][0]["epoch"] == 1


def test_keep_best_puts_back_the_best_epoch_whatever_ends_the_run() -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    noisy_test = (torch.randn(64, 2), torch.randint(0, 2, (64,)))  # nothing to learn
    keep = KeepBest("val_loss")
    history = fit(
        model, data(), val=noisy_test, epochs=6, lr=0.1, device="cpu", progress=False,
        callbacks=[keep],
    )  # fmt: skip
    best = history.best("val_loss")
    assert best is not None and keep.best_epoch == best.epoch and keep.best == best.val_loss
    assert history.stop_reason == "epochs"  # not stopped early: kept weights come back anyway
    loss = torch.nn.functional.cross_entropy(model(noisy_test[0]), noisy_test[1]).item()
    assert loss == pytest.approx(best.val_loss, rel=1e-5)


def test_callback_state_round_trips() -> None:
    model = nn.Linear(2, 2)
    x, y = data()
    stopper = EarlyStopping("val_loss", patience=5)
    saver = ModelCheckpoint("unused-{epoch}.pt", save_best_only=True)
    fit(model, (x, y), val=(x, y), epochs=3, device="cpu", progress=False, callbacks=[stopper])
    state = stopper.state_dict()
    assert set(state) == {"monitor", "best_epoch", "weights", "wait", "stopped_epoch"}
    other = EarlyStopping("val_loss", patience=5)
    other.load_state_dict(state)
    assert (other.best, other.best_epoch, other.wait) == (stopper.best, stopper.best_epoch, 0)
    assert other._best_state is not None and all(
        torch.equal(other._best_state[k], v) for k, v in (stopper._best_state or {}).items()
    )
    saver.load_state_dict({"monitor": {"best": 0.5}, "saved": ["a.pt"]})
    assert saver.state_dict() == {"monitor": {"best": 0.5}, "saved": ["a.pt"]}
    assert Callback().state_dict() == {}


def test_keras_patience_example_runs_four_epochs() -> None:
    """Keras's EarlyStopping documentation: patience=3 on a monitored value that gets worse
    from the first epoch on stops after 4 epochs (Keras's own example makes its loss explode
    with SGD; here the value is a metric that grows every epoch)."""
    history = fit(nn.Linear(2, 2), data(), epochs=10, device="cpu", progress=False,
                  metrics={"worse": _rising()},
                  callbacks=[EarlyStopping("train_worse", patience=3)])  # fmt: skip
    assert len(history) == 4 and history.stop_reason == "early_stopping"
    assert history.weights_epoch == 1  # the best epoch's weights are back


def _rising():  # type: ignore[no-untyped-def]
    """A metric that grows every epoch: the epoch number (read from a closure counter)."""
    calls = {"n": 0}

    def worse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return torch.tensor(float(calls["n"]))

    return worse


def test_early_stopping_in_the_last_epoch_is_the_stop_reason() -> None:
    history = fit(nn.Linear(2, 2), data(), epochs=4, device="cpu", progress=False,
                  metrics={"worse": _rising()},
                  callbacks=[EarlyStopping("train_worse", patience=3)])  # fmt: skip
    assert len(history) == 4
    assert history.stop_reason == "early_stopping" and history.weights_epoch == 1
    plain = fit(nn.Linear(2, 2), data(), epochs=4, device="cpu", progress=False)
    assert plain.stop_reason == "epochs" and plain.weights_epoch == 4


def test_model_checkpoint_default_monitor_needs_no_validation_unless_best_only(
    tmp_path: Path,
) -> None:
    fit(nn.Linear(2, 2), data(), epochs=1, device="cpu", progress=False,
        callbacks=[ModelCheckpoint(tmp_path / "w.pt")])  # fmt: skip
    assert (tmp_path / "w.pt").exists()
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'val_loss'"):
        fit(nn.Linear(2, 2), data(), epochs=1, device="cpu", progress=False,
            callbacks=[ModelCheckpoint(tmp_path / "b.pt", save_best_only=True)])  # fmt: skip


def test_tensorboard_scalars_read_back_from_the_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nnkit.callbacks import TensorBoard
    from nnkit.metrics import BitsPerChar

    history = fit(nn.Linear(2, 2), data(), val=data(32, 1), epochs=3, device="cpu",
                  progress=False, metrics=[BitsPerChar()],
                  callbacks=[TensorBoard(tmp_path / "run")])  # fmt: skip
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "bpc/train",
            "bpc/val"} <= tags  # fmt: skip
    val_loss = events.Scalars("loss/val")
    assert [e.step for e in val_loss] == [1, 2, 3]
    assert [e.value for e in val_loss] == pytest.approx(history.column("val_loss"), rel=1e-6)
