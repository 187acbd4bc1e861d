from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from nnkit.experiments import XOR_X, xor_demo


def test_xor_demo_linear_cannot_beat_75_percent_relu_solves_it() -> None:
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
