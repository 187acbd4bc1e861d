from __future__ import annotations

import pytest
import torch
from torch import nn

from nnkit.models import MLP


def test_layers_and_activation_placement() -> None:
    model = MLP([4, 8, 8, 3], activation="tanh")
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert model(torch.zeros(5, 4)).shape == (5, 3)
    assert [type(m).__name__ for m in MLP([4, 8, 3], activation=None)] == ["Linear", "Linear"]
    assert all(m.bias is None for m in MLP([2, 3, 1], bias=False) if isinstance(m, nn.Linear))
    assert MLP([2, 1]).sizes == (2, 1)


@pytest.mark.parametrize(
    ("sizes", "kwargs", "match"),
    [
        ([3], {}, "at least two positive integers"),
        ([3, 0, 1], {}, "at least two positive integers"),
        ([3, 2.5, 1], {}, "at least two positive integers"),
        ([3, 1], {"activation": "gelu"}, "activation must be one of relu, sigmoid, tanh or None"),
    ],
)
def test_bad_arguments(sizes: list[object], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MLP(sizes, **kwargs)  # type: ignore[arg-type]
