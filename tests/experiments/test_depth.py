from __future__ import annotations

import statistics
from typing import Any

import pytest
import torch

from nnkit.callbacks import Callback, TrainState
from nnkit.data import load_mnist_sample
from nnkit.errors import InvalidArgumentError
from nnkit.experiments import (
    DepthStudy,
    PairedDifference,
    Spread,
    compare_depths,
    matched_channels,
    t_quantile,
)
from nnkit.history import EpochRecord, History
from nnkit.models import MnistCNN, NotesNet
from nnkit.recipes import NOTES_RECIPE


def _small() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_mnist_sample(train=False)
    return ds.images[:512].unsqueeze(1).float() / 255, ds.labels[:512]


def _study(**kwargs: Any) -> DepthStudy:
    small = _small()
    settings: dict[str, Any] = {"epochs": 2, "batch_size": 64, "device": "cpu", "progress": False}
    return compare_depths(train=small, val=small, **(settings | kwargs))


def test_two_seeds_give_different_runs_and_the_statistics_come_from_them() -> None:
    study = _study(depths=(1, 2), seeds=2)
    assert study.depths == [1, 2] and study.seeds == [0, 1] and study.epochs == 2
    for depth in (1, 2):
        first, second = study.runs[depth]
        assert len(first) == len(second) == 2
        assert first.column("train_loss") != second.column("train_loss")
        accuracies = [h.records[-1].val_accuracy for h in study.runs[depth]]
        assert all(a is not None for a in accuracies)
        final = study.final(depth)
        assert final is not None and final.n == 2
        assert final.mean == pytest.approx(statistics.fmean(accuracies))  # type: ignore[arg-type]
        assert final.std == pytest.approx(statistics.stdev(accuracies))  # type: ignore[arg-type]
        assert (final.min, final.max) == (min(accuracies), max(accuracies))  # type: ignore[type-var]
        per_epoch = study.per_epoch(depth, "val_loss")
        assert [s.n for s in per_epoch] == [2, 2]
        assert per_epoch[0].mean == pytest.approx(
            statistics.fmean(h.records[0].val_loss for h in study.runs[depth])  # type: ignore[misc]
        )
    (diff,) = study.differences()
    by_seed = [
        100 * (a.records[-1].val_accuracy - b.records[-1].val_accuracy)  # type: ignore[operator]
        for a, b in zip(study.runs[1], study.runs[2], strict=True)
    ]
    assert (diff.first, diff.second, diff.n) == (1, 2, 2)
    assert diff.mean == pytest.approx(statistics.fmean(by_seed))
    assert diff.half_width == pytest.approx(12.706 * statistics.stdev(by_seed) / 2**0.5)
    payload = study.to_dict()
    assert [r["seed"] for r in payload["depths"]["2"]["runs"]] == [0, 1]
    assert History.from_dict(payload["depths"]["1"]["runs"][1]["history"]).column(
        "train_loss"
    ) == study.runs[1][1].column("train_loss")


def test_the_same_seed_gives_identical_runs_in_any_study() -> None:
    both = _study(depths=(2, 3), seeds=[4, 7])
    alone = _study(depths=(3,), seeds=[7])
    assert alone.runs[3][0].column("train_loss") == both.runs[3][1].column("train_loss")
    assert alone.runs[3][0].column("val_accuracy") == both.runs[3][1].column("val_accuracy")


def test_the_recipe_sets_the_training_and_overrides_apply() -> None:
    small = _small()
    study = compare_depths((2,), train=small, val=small, recipe="notes", device="cpu",
                           max_steps=3, progress=False)  # fmt: skip
    assert study.epochs == 3 and study.settings["recipe"] == "notes"  # notes: fit's 3 epochs
    assert study.settings["batch_size"] == 32 and study.runs[2][0].stop_reason == "max_steps"
    fast = compare_depths((2,), train=small, val=small, device="cpu", batch_size=256,
                          progress=False)  # fmt: skip
    assert fast.settings["recipe"] == "fast" and fast.epochs == 2  # the fast recipe's epochs
    assert fast.settings["batch_size"] == 256
    custom = compare_depths((1,), train=small, val=small, recipe=NOTES_RECIPE, epochs=1,
                            device="cpu", progress=False)  # fmt: skip
    assert custom.settings["recipe"] == "custom" and len(custom.runs[1][0]) == 1


def test_parameter_matched_widths() -> None:
    counts = {}
    for depth in (1, 2, 3):
        model = MnistCNN(depth, channels=matched_channels(depth))  # type: ignore[arg-type]
        counts[depth] = sum(p.numel() for p in model.parameters())
    assert counts[2] == 116_234 and matched_channels(2) == (16, 32)
    assert max(counts.values()) <= 1.10 * min(counts.values())
    # default widths: depth 2 is exactly the notes' Net
    notes, default = NotesNet().state_dict(), MnistCNN(2).state_dict()
    assert {k: v.shape for k, v in notes.items()} == {k: v.shape for k, v in default.items()}
    study = _study(depths=(1, 3), match_params=True, epochs=1)
    assert study.channels == {1: matched_channels(1), 3: matched_channels(3)}
    assert study.params[1] == counts[1] and study.params[3] == counts[3]
    assert matched_channels(3, params=40_522) == (16, 32, 64)
    with pytest.raises(InvalidArgumentError, match="params must be a positive integer"):
        matched_channels(2, params=0)


def test_bad_arguments_fail_before_training() -> None:
    with pytest.raises(InvalidArgumentError, match="depth must be one of"):
        compare_depths((1, 5))
    with pytest.raises(InvalidArgumentError, match="at least one depth"):
        compare_depths(())
    with pytest.raises(InvalidArgumentError, match="seeds must be a positive integer, got 0"):
        compare_depths((1,), seeds=0)
    with pytest.raises(InvalidArgumentError, match=r"seeds must be distinct, got \[1, 1\]"):
        compare_depths((1,), seeds=[1, 1])
    with pytest.raises(InvalidArgumentError, match="not seed="):
        compare_depths((1,), seed=3)
    with pytest.raises(InvalidArgumentError, match="depths must be distinct"):
        compare_depths((2, 2))
    with pytest.raises(InvalidArgumentError, match="channels must be 2 positive integers"):
        MnistCNN(2, channels=(16,))
    with pytest.raises(InvalidArgumentError, match="recipe must be one of"):
        compare_depths((1,), recipe="fastest")  # type: ignore[arg-type]


class _InterruptSecondRun(Callback):
    def __init__(self) -> None:
        self.runs = 0

    def on_train_begin(self, state: TrainState) -> None:
        self.runs += 1

    def on_batch_end(self, state: TrainState) -> None:
        if self.runs == 2:
            raise KeyboardInterrupt


def test_ctrl_c_stops_the_whole_study_and_keeps_what_finished() -> None:
    study = _study(depths=(1, 2), seeds=2, callbacks=[_InterruptSecondRun()])
    assert study.interrupted
    assert len(study.runs[1]) == 1 and len(study.runs[1][0]) == 2  # seed 0, depth 1: finished
    assert len(study.runs[2]) == 1 and study.runs[2][0].interrupted  # seed 0, depth 2: stopped
    assert study.final(1) is not None and study.final(2) is None and study.differences() == []


def _record(accuracy: float) -> History:
    return History([EpochRecord(1, 0.3, 0.9, 0.2, accuracy, seconds=1.0)])


def test_paired_difference_by_hand() -> None:
    runs = {
        1: [_record(0.980), _record(0.981), _record(0.982)],
        2: [_record(0.984), _record(0.986), _record(0.985)],
    }
    study = DepthStudy(runs, [0, 1, 2], 1, {1: (16,), 2: (16, 32)}, {1: 1, 2: 2}, {1: 1, 2: 2})
    (diff,) = study.differences()
    # paired differences in points: -0.4, -0.5, -0.3 -> mean -0.4, sd 0.1, t(2) = 4.303
    assert diff.mean == pytest.approx(-0.4)
    assert diff.half_width == pytest.approx(4.303 * 0.1 / 3**0.5)
    assert diff.excludes_zero is True
    one = PairedDifference(1, 2, mean=0.1, half_width=None, n=1)
    assert one.excludes_zero is None and "one seed: no interval" in one.sentence()
    noisy = PairedDifference(1, 2, mean=0.1, half_width=0.3, n=3)
    assert "within the noise" in noisy.sentence()


def test_t_quantile_and_spread() -> None:
    assert t_quantile(1) == 12.706 and t_quantile(30) == 2.042
    assert t_quantile(40) == pytest.approx(2.021, abs=1e-3)
    assert t_quantile(120) == pytest.approx(1.980, abs=1e-3)
    with pytest.raises(InvalidArgumentError):
        t_quantile(0)
    assert Spread.of([0.5]).std == 0.0
    with pytest.raises(InvalidArgumentError, match="at least one value"):
        Spread.of([])
