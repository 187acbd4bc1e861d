from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from nnkit.errors import EmptyHistoryError
from nnkit.history import EpochRecord, History


def sample() -> History:
    return History(
        [
            EpochRecord(1, 0.5, 0.8, 0.4, 0.85, 1e-3, 2.0, 100.0, {"bpc": 2.1}),
            EpochRecord(2, 0.3, 0.9, 0.35, 0.9, 1e-3, 2.0, 110.0, {"bpc": 1.9}),
        ]
    )


def test_json_round_trip_in_memory_and_on_disk(tmp_path: Path) -> None:
    h = sample()
    assert History.from_json(h.to_json()).records == h.records
    h.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json").records == h.records


def test_non_finite_values_are_written_as_null() -> None:
    h = History([EpochRecord(1, math.nan, extra={"x": math.inf})])
    back = History.from_json(h.to_json())
    assert back.records[0].train_loss is None and back.records[0].extra["x"] is None


def test_column_best_and_last() -> None:
    h = sample()
    assert h.column("val_accuracy") == [0.85, 0.9]
    assert h.column("bpc") == [2.1, 1.9]
    assert h.best("val_loss") is h.records[1]
    assert h.best("train_accuracy", mode="max") is h.records[1]
    assert h.last is h.records[1]
    assert History().best("x") is None
    with pytest.raises(EmptyHistoryError, match="the history has no epochs yet"):
        _ = History().last
    with pytest.raises(IndexError, match=r"no epochs yet \(stop reason: interrupted\)"):
        _ = History(stop_reason="interrupted").last


def test_history_is_a_sequence_of_records() -> None:
    records = [EpochRecord(epoch=i, train_loss=1.0 / i) for i in (1, 2, 3)]
    h = History(records, stop_reason="epochs")
    assert isinstance(h, Sequence) and len(h) == 3
    assert h[0] is records[0] and h[-1] is records[-1] is h.last
    assert h[1:] == records[1:] and isinstance(h[1:], list)
    assert [r.epoch for r in h] == [1, 2, 3] and [r.epoch for r in reversed(h)] == [3, 2, 1]
    assert records[1] in h and h.index(records[2]) == 2
    with pytest.raises(IndexError):
        _ = h[3]
    assert History(list(records)) == History(list(records))
    with pytest.raises(ValueError, match="mode"):
        h.best("x", mode="top")


def test_from_dict_rejects_junk() -> None:
    with pytest.raises(ValueError, match="not a History"):
        History.from_dict({"nope": 1})


def test_plot_returns_a_figure_with_two_panels() -> None:
    fig = sample().plot(title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "accuracy (%)"
    assert list(fig.axes[1].lines[1].get_ydata()) == pytest.approx([85.0, 90.0])


def test_a_history_written_before_validation_had_its_name_reads() -> None:
    record = {
        "epoch": 1,
        "train_loss": 0.5,
        "test_loss": 0.4,
        "test_accuracy": 0.9,
        "extra": {"train_bpc": 2.0, "test_bpc": 2.1},
    }
    old = {"records": [record], "stop_reason": "epochs"}
    h = History.from_dict(old)
    assert (h.last.val_loss, h.last.val_accuracy) == (0.4, 0.9)
    assert h.last.extra == {"train_bpc": 2.0, "val_bpc": 2.1}
    assert h.weights_epoch == 1  # not recorded then: the last epoch's
    assert History.from_json(h.to_json()).weights_epoch == 1
