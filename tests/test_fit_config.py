"""Everything is checked before anything trains (``nnkit._fit_config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nnkit.callbacks import Callback, EarlyStopping, KeepBest, TrainState
from nnkit.errors import InvalidArgumentError
from nnkit.metrics import TopKAccuracy
from nnkit.schedules import ReduceOnPlateau
from nnkit.train import fit


def data(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] > 0).long()


class _Touched(Callback):
    """Fails the test if training got as far as a first step."""

    def on_batch_begin(self, state: TrainState) -> None:
        raise AssertionError("training started")


@pytest.mark.parametrize(
    ("kwargs", "parameter", "match"),
    [
        ({"scheduler": "cosin"}, "scheduler", "unknown scheduler 'cosin'"),
        ({"optimizer_kwargs": {"betaz": 1}}, "optimizer_kwargs",
         "Adam does not accept betaz; it accepts lr, betas"),
        ({"optimizer_kwargs": {"betas": (2.0, 0.9)}}, "optimizer_kwargs",
         "Adam rejects these settings: Invalid beta"),
        ({"scheduler": "onecycle", "scheduler_kwargs": {"pct": 0.3}}, "scheduler_kwargs",
         r"OneCycleLR\) does not take pct; it takes"),
        ({"scheduler": "cosine", "scheduler_kwargs": {"floor": 2.0}}, "floor",
         "Cosine floor must be in"),
        ({"scheduler": "onecycle", "optimizer": "adagrad",
          "scheduler_kwargs": {"cycle_momentum": True}}, "scheduler_kwargs",
         "cannot cycle the momentum"),
        ({"callbacks": [EarlyStopping("val_los")], "val": data()}, "monitor",
         "EarlyStopping monitors 'val_los', which this run does not record; valid names: "
         "train_loss, train_accuracy, train_top2_accuracy, val_loss, val_accuracy, "
         "val_top2_accuracy, lr"),
        ({"scheduler": ReduceOnPlateau()}, "monitor", "scheduler monitors 'val_loss'"),
        ({"accumulate": 0}, "accumulate", "accumulate must be a positive integer"),
        ({"validation_split": 1.0}, "validation_split", r"validation_split must be in \(0, 1\)"),
        ({"validation_split": 0.2, "val": data()}, "validation_split", "not both"),
        ({"optimizer": "lbfgs", "accumulate": 2}, "accumulate", "LBFGS"),
        ({"progress": "verbose"}, "progress", "progress must be True, False or one of"),
        ({"val_batch_size": 0}, "val_batch_size", "val_batch_size must be a positive"),
    ],
)  # fmt: skip
def test_refused_before_the_first_step(kwargs: dict[str, Any], parameter: str, match: str) -> None:
    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    callbacks = [*kwargs.pop("callbacks", []), _Touched()]
    kwargs.setdefault("progress", False)
    with pytest.raises(InvalidArgumentError, match=match) as info:
        fit(model, data(), metrics=[TopKAccuracy(2)], device="cpu", callbacks=callbacks,
            **kwargs)  # fmt: skip
    assert info.value.parameter == parameter
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_checkpoint_path_that_cannot_be_written_is_refused_first(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="is a folder, expected a file name"):
        fit(nn.Linear(2, 2), data(), checkpoint=tmp_path, device="cpu", progress=False,
            callbacks=[_Touched()])  # fmt: skip
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InvalidArgumentError, match="checkpoint: cannot write "):
        fit(nn.Linear(2, 2), data(), checkpoint=blocker / "ck.pt", device="cpu",
            progress=False, callbacks=[_Touched()])  # fmt: skip


def test_a_monitor_on_validation_data_is_valid_with_validation_split() -> None:
    keep = KeepBest("val_accuracy")
    history = fit(nn.Linear(2, 2), data(), validation_split=0.25, epochs=2, device="cpu",
                  progress=False, callbacks=[keep])  # fmt: skip
    best = history.best("val_accuracy", mode="max")
    assert best is not None and keep.best_epoch == best.epoch == history.weights_epoch


@pytest.mark.parametrize("name", ["adagrad", "adadelta", "sgd"])
def test_onecycle_with_an_optimizer_without_momentum_cycles_the_lr_alone(name: str) -> None:
    seen: list[float] = []

    class Lr(Callback):
        def on_batch_end(self, state: TrainState) -> None:
            seen.append(float(state.optimizer.param_groups[0]["lr"]))
            assert "momentum" not in state.optimizer.param_groups[0] or (
                state.optimizer.param_groups[0]["momentum"] == 0
            )

    fit(nn.Linear(2, 2), data(64), optimizer=name, lr=0.1, scheduler="onecycle", epochs=2,
        batch_size=8, device="cpu", progress=False, callbacks=[Lr()])  # fmt: skip
    assert len(seen) == 16 and max(seen) == pytest.approx(0.1, rel=0.05)
    assert seen[0] < 0.3 * max(seen)
