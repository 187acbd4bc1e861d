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


def test_xor_demo_linear_cannot_beat_75_percent_relu_solves_it() -> None:
    import torch

    from nnkit.experiments import XOR_X, xor_demo

    for depth in (2, 4):
        result = xor_demo(depth=depth, epochs=600, lr=0.02, seed=1)
        assert result.linear_accuracy <= 0.75
        assert result.relu_accuracy == 1.0
        with torch.no_grad():
            torch.testing.assert_close(
                result.collapsed(XOR_X), result.linear_model(XOR_X), rtol=1e-5, atol=1e-5
            )
        assert isinstance(result.figure, Figure) and len(result.figure.axes) == 2
        assert "100%" in result.figure.axes[1].get_title()
    with pytest.raises(ValueError, match="depth must be at least 1"):
        xor_demo(depth=0)
