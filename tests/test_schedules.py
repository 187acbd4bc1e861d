from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from nnkit.callbacks import Callback, TrainState
from nnkit.errors import InvalidArgumentError
from nnkit.history import EpochRecord
from nnkit.schedules import Constant, Cosine, ReduceOnPlateau
from nnkit.train import fit


def blobs(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, 2, generator=g) + y[:, None].float() * 2, y


class StepRates(Callback):
    """The learning rate each optimizer step used (read before the step)."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_batch_end(self, state: TrainState) -> None:
        self.rates.append(float(state.optimizer.param_groups[0]["lr"]))


def test_cosine_shape_floor_and_warmup() -> None:
    assert Cosine()(0.0) == 1.0 and Cosine()(1.0) == pytest.approx(0.0, abs=1e-12)
    assert Cosine(floor=0.1)(0.5) == pytest.approx(0.55)
    warm = Cosine(warmup=0.25)
    assert [warm(p) for p in (0.0, 0.125, 0.25)] == pytest.approx([0.0, 0.5, 1.0])
    assert warm(0.625) == pytest.approx(0.5)
    assert Constant()(0.3) == 1.0
    with pytest.raises(InvalidArgumentError, match=r"Cosine floor must be in \[0, 1\], got 2"):
        Cosine(floor=2)
    with pytest.raises(InvalidArgumentError, match=r"Cosine warmup must be in \[0, 1\)"):
        Cosine(warmup=1.0)


def test_fit_sets_every_step_from_the_schedule_over_max_steps() -> None:
    rates = StepRates()
    history = fit(
        nn.Linear(2, 2),
        blobs(),
        max_steps=10,
        batch_size=16,  # 4 steps per epoch: the budget ends in epoch 3
        optimizer="sgd",
        lr=0.1,
        scheduler=Cosine(floor=0.1),
        device="cpu",
        progress=False,
        callbacks=[rates],
    )
    expected = [0.1 * Cosine(floor=0.1)(k / 10) for k in range(10)]
    assert rates.rates == pytest.approx(expected, rel=1e-12)
    assert history.stop_reason == "max_steps" and len(history) == 3
    assert history.column("lr") == pytest.approx([expected[0], expected[4], expected[8]])


def test_named_cosine_follows_the_epoch_budget_per_step() -> None:
    rates = StepRates()
    fit(
        nn.Linear(2, 2),
        blobs(),
        epochs=2,
        batch_size=32,
        optimizer="sgd",
        lr=0.2,
        scheduler="cosine",
        scheduler_kwargs={"floor": 0.5},
        device="cpu",
        progress=False,
        callbacks=[rates],
    )
    assert rates.rates == pytest.approx([0.2 * Cosine(floor=0.5)(k / 4) for k in range(4)])


def test_a_time_budget_drives_the_schedule_down() -> None:
    rates = StepRates()
    history = fit(
        nn.Linear(2, 2),
        blobs(),
        max_seconds=0.5,
        batch_size=8,
        optimizer="sgd",
        lr=0.1,
        scheduler=Cosine(),
        device="cpu",
        progress=False,
        callbacks=[rates],
    )
    assert history.stop_reason == "max_seconds" and len(history) > 1
    assert rates.rates[0] == pytest.approx(0.1, rel=1e-2)
    assert rates.rates == sorted(rates.rates, reverse=True) and rates.rates[-1] < 0.05


def test_reduce_on_plateau_halves_stops_and_saves_its_state() -> None:
    s = ReduceOnPlateau(Cosine(floor=0.1), patience=2, min_scale=0.25)
    # two epochs in a row without a new best halve the scale
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.4, 1.9, 2.0], start=1):
        s.observe(EpochRecord(epoch=epoch, train_loss=0.0, val_loss=loss))
    assert (s.scale, s.stale, s.best) == (0.5, 1, 1.9) and not s.finished
    assert s(0.5) == pytest.approx(0.5 * 0.55)
    t = ReduceOnPlateau(Cosine(floor=0.1), patience=2, min_scale=0.25)
    t.load_state_dict(s.state_dict())  # a resumed run continues the count, not restarts it
    for r in (s, t):
        r.observe(EpochRecord(epoch=7, train_loss=0.0, val_loss=2.2))
    assert s.scale == t.scale == 0.25 and s.finished and t.finished
    with pytest.raises(InvalidArgumentError, match="cannot monitor 'val_loss'"):
        s.observe(EpochRecord(epoch=10, train_loss=0.0))
    with pytest.raises(InvalidArgumentError, match=r"factor must be in \(0, 1\)"):
        ReduceOnPlateau(factor=1.0)


def test_a_finished_schedule_ends_fit() -> None:
    # the test loss cannot improve on random labels: every epoch without a new best halves
    x, y = blobs()
    noise = (torch.randn(32, 2), torch.randint(0, 2, (32,)))
    history = fit(
        nn.Linear(2, 2),
        (x, y),
        val=noise,
        epochs=50,
        lr=1.0,
        optimizer="sgd",
        scheduler=ReduceOnPlateau(patience=1, factor=0.1, min_scale=0.001),
        device="cpu",
        progress=False,
    )
    assert history.stop_reason == "schedule" and history.stopped_early and len(history) < 50


def test_torch_schedulers_are_stepped_where_they_belong() -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    history = fit(
        model,
        blobs(),
        val=(torch.randn(16, 2), torch.randint(0, 2, (16,))),
        epochs=4,
        optimizer=opt,
        scheduler=plateau,
        device="cpu",
        progress=False,
    )
    rates = [float(r or 0) for r in history.column("lr")]
    # stepped once per epoch with the test loss: each epoch keeps or halves the rate
    assert rates[0] == 0.1 and all(b in (a, a / 2) for a, b in itertools.pairwise(rates))
    assert plateau.best == min(history.column("val_loss"))  # type: ignore[type-var]
    step = fit(
        nn.Linear(2, 2),
        blobs(),
        epochs=3,
        optimizer="sgd",
        lr=0.1,
        scheduler="step",
        scheduler_kwargs={"step_size": 1, "gamma": 0.5},
        device="cpu",
        progress=False,
    )
    assert step.column("lr") == pytest.approx([0.1, 0.05, 0.025])
    rec = StepRates()
    fit(
        nn.Linear(2, 2),
        blobs(),
        epochs=2,
        batch_size=16,
        lr=0.01,
        scheduler="onecycle",
        device="cpu",
        progress=False,
        callbacks=[rec],
    )
    assert len(set(rec.rates)) == len(rec.rates) == 8 and max(rec.rates) <= 0.01 + 1e-9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheduler": "onecycle", "max_seconds": 1.0}, "needs to know the number of steps"),
        ({"scheduler": "step", "max_steps": 3}, "'step' needs epochs="),
        ({"scheduler": "linear"}, "unknown scheduler 'linear'"),
        ({"scheduler": Cosine(), "scheduler_kwargs": {"floor": 0.1}}, "scheduler object"),
        ({"scheduler": "cosine", "scheduler_kwargs": {"flor": 0.1}}, "bad scheduler_kwargs"),
    ],
)
def test_bad_schedules(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        fit(nn.Linear(2, 2), blobs(), device="cpu", progress=False, **kwargs)  # type: ignore[arg-type]


def test_cosine_stays_in_range_and_holds_its_floor_past_the_budget() -> None:
    s = Cosine(floor=0.2, warmup=0.1)
    assert all(0.0 <= s(p / 100) <= 1.0 for p in range(101))
    assert not math.isnan(s(2.0)) and s(2.0) == pytest.approx(0.2)
