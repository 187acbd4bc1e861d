"""Data that does not fit the model (``nnkit._mismatch``): ``fit`` says so in nnkit's words,
with both sides and the fix, found on the first batch."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from nnkit.errors import InvalidArgumentError
from nnkit.train import fit

X = torch.rand(32, 1, 28, 28)
Y = torch.randint(0, 10, (32,))


def linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (X.long(), r"inputs \(16, 1, 28, 28\) int64.*Fix: the inputs are int64 .* x\.float\(\)"),
        (X > 0.5, r"inputs \(16, 1, 28, 28\) bool.*Fix: the inputs are bool"),
        (X.double(), r"float64.*Fix: convert the inputs with x\.to\(torch\.float32\)"),
        (torch.rand(32, 10), r"inputs \(16, 10\) float32.*Fix: the inputs' shape does not fit"),
    ],
)
def test_a_batch_the_model_cannot_take_is_named(inputs: torch.Tensor, words: str) -> None:
    with pytest.raises(InvalidArgumentError, match="the model cannot take the first") as caught:
        fit(linear(), (inputs, Y), epochs=1, batch_size=16, device="cpu", progress=False)
    message = str(caught.value)
    assert caught.value.parameter == "data" and "\n" not in message
    assert "the model's weights are float32 on cpu" in message
    assert re.search(words, message), message


def test_a_later_error_is_not_blamed_on_the_data() -> None:
    class BreaksLater(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(784, 10)
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("something else broke")
            return self.layer(x.flatten(1))

    with pytest.raises(RuntimeError, match=r"^something else broke$"):
        fit(BreaksLater(), (X, Y), epochs=1, batch_size=16, device="cpu", progress=False)


def test_a_model_on_the_meta_device_is_refused() -> None:
    with torch.device("meta"):
        model = linear()
    with pytest.raises(InvalidArgumentError, match=r"the model's 1\.weight is on the meta device"):
        fit(model, (X, Y), epochs=1, device="cpu", progress=False)


def test_a_loss_that_is_not_one_number_is_refused() -> None:
    def per_sample(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out, y, reduction="none")

    with pytest.raises(InvalidArgumentError, match=r"one number .* got \(16,\); reduce it"):
        fit(linear(), (X, Y), epochs=1, batch_size=16, device="cpu", progress=False,
            loss=per_sample)  # fmt: skip


def test_a_model_too_big_to_train_here_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nnkit._memory.available_bytes", lambda device=None: 50_000)
    with pytest.raises(InvalidArgumentError, match=r"training a model of 30.7 KiB .* needs"):
        fit(linear(), (X, Y), epochs=1, device="cpu", progress=False)


def test_targets_the_loss_cannot_take_are_named() -> None:
    targets = torch.randint(0, 10, (32, 2))  # two labels a sample, for a one-label loss
    with pytest.raises(InvalidArgumentError, match=r"targets \(16, 2\) int64.*Fix: the targets"):
        fit(linear(), (X, targets), epochs=1, batch_size=16, device="cpu", progress=False,
            loss=nn.functional.cross_entropy)  # fmt: skip
