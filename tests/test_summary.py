from __future__ import annotations

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
