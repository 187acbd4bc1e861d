from __future__ import annotations

import pytest
import torch
from torch import nn

from nnkit.models import MnistCNN
from nnkit.summary import parameter_table, summary


def test_parameter_table_follows_parameters_order() -> None:
    model = MnistCNN(depth=2)
    table = parameter_table(model)
    assert [r.shape for r in table.rows] == [tuple(p.shape) for p in model.parameters()]
    assert [r.name for r in table.rows][:4] == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
    ]
    assert [r.layer_type for r in table.rows] == ["Conv2d"] * 4 + ["Linear"] * 6
    assert table.total == sum(p.numel() for p in model.parameters()) == 116_234
    text = str(table)
    assert "fc1.weight" in text and "[128, 800]" in text and "102,400" in text
    assert table.to_dict()[4]["shape"] == [128, 800]


def test_frozen_parameters_are_reported() -> None:
    model = MnistCNN(depth=1)
    model.conv1.requires_grad_(False)
    table = parameter_table(model)
    assert table.trainable == table.total - 160
    assert summary(model).trainable_params == table.trainable


def test_summary_shapes_and_macs() -> None:
    s = summary(MnistCNN(depth=2), (4, 1, 28, 28))
    rows = {r.name: r for r in s.layers}
    assert rows["conv1"].output_shape == (4, 16, 26, 26)
    assert rows["conv1"].macs == 4 * 16 * 26 * 26 * 9
    assert rows["conv2"].macs == 4 * 32 * 11 * 11 * 16 * 9
    assert rows["fc1"].macs == 4 * 128 * 800
    assert s.total_macs == sum(r.macs for r in s.layers)
    assert "mult-adds for input [4, 1, 28, 28]" in str(s)


class Tied(nn.Module):
    """Two layers sharing one weight matrix (each with its own bias), plus a free parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3)
        self.b.weight = self.a.weight
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x))) * self.scale


def test_shared_parameters_are_counted_once() -> None:
    model = Tied()
    expected = sum(p.numel() for p in model.parameters())
    assert expected == 9 + 3 + 3 + 1
    assert parameter_table(model).total == expected
    s = summary(model, (2, 3))
    assert s.total_params == expected
    assert sum(r.params for r in s.layers) == expected


def test_reused_layer_counts_its_work_twice() -> None:
    layer = nn.Linear(4, 4)
    s = summary(nn.Sequential(layer, nn.ReLU(), layer), (2, 4))
    assert s.total_params == 20 and s.total_macs == 2 * 2 * 4 * 4


def test_summary_restores_training_mode() -> None:
    model = MnistCNN(1)
    model.train()
    summary(model, (1, 1, 28, 28))
    assert model.training


def test_collapse_linear_computes_the_same_function() -> None:
    from nnkit.models import MLP
    from nnkit.summary import collapse_linear

    torch.manual_seed(0)
    for sizes in ([3, 2], [3, 16, 2], [5, 32, 32, 32, 4]):
        for bias in (True, False):
            model = MLP(sizes, activation=None, bias=bias).double()
            single = collapse_linear(model)
            assert (single.in_features, single.out_features) == (sizes[0], sizes[-1])
            assert (single.bias is None) == (not bias)
            x = torch.randn(50, sizes[0], dtype=torch.float64)
            torch.testing.assert_close(single(x), model(x), rtol=1e-12, atol=1e-12)


def test_collapse_linear_handles_nesting_and_float32() -> None:
    from nnkit.summary import collapse_linear

    model = nn.Sequential(
        nn.Flatten(), nn.Sequential(nn.Linear(6, 4), nn.Identity()), nn.Linear(4, 2)
    )
    single = collapse_linear(model)
    x = torch.randn(3, 2, 3)
    torch.testing.assert_close(single(x.flatten(1)), model(x), rtol=1e-5, atol=1e-6)
    assert single.weight.dtype == torch.float32


def test_collapse_linear_names_the_non_linear_layer() -> None:
    from nnkit.models import MLP
    from nnkit.summary import collapse_linear

    with pytest.raises(ValueError, match=r"layer 3 \(ReLU\) makes the model non-linear"):
        collapse_linear(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()))
    with pytest.raises(ValueError, match=r"layer 1 \(Sigmoid\)"):
        collapse_linear(MLP([2, 3, 1], activation="sigmoid"))
    with pytest.raises(ValueError, match=r"layer 1.0 \(Conv2d\)"):
        collapse_linear(nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Conv2d(1, 1, 1))))
    with pytest.raises(ValueError, match="no Linear layer"):
        collapse_linear(nn.Sequential(nn.Identity()))
