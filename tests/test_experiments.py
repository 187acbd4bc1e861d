from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from nnkit.data import load_mnist_sample
from nnkit.experiments import compare_depths, plot_depth_comparison


def test_compare_depths_trains_each_depth_identically() -> None:
    ds = load_mnist_sample(train=False)
    small = (ds.images[:512].unsqueeze(1).float() / 255, ds.labels[:512])
    runs = compare_depths(
        (1, 2, 3), epochs=2, train=small, test=small, batch_size=64, device="cpu", progress=False
    )
    assert list(runs) == [1, 2, 3]
    assert all(len(h) == 2 for h in runs.values())
    again = compare_depths(
        (2,), epochs=2, train=small, test=small, batch_size=64, device="cpu", progress=False
    )
    assert again[2].column("train_loss") == runs[2].column("train_loss")
    fig = plot_depth_comparison(runs)
    assert isinstance(fig, Figure)
    acc_ax = fig.axes[0]
    assert [line.get_label() for line in acc_ax.lines] == ["depth 1", "depth 2", "depth 3"]
    assert list(acc_ax.lines[0].get_xdata()) == [1, 2]
    assert acc_ax.get_ylabel() == "test accuracy (%)"


def test_bad_depths_fail_before_training() -> None:
    with pytest.raises(ValueError, match="depth must be one of"):
        compare_depths((1, 5))
    with pytest.raises(ValueError, match="at least one depth"):
        compare_depths(())
