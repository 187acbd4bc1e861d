from __future__ import annotations

import pytest
import torch
from torch import nn

from nnkit import runtime as rt_module
from nnkit.data import load_mnist_sample
from nnkit.errors import InvalidArgumentError
from nnkit.models import MnistCNN, NotesNet
from nnkit.runtime import Runtime
from nnkit.train import evaluate, fit


def _channels_last(model: nn.Module) -> bool:
    weight = next(p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1)
    return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


def test_auto_channels_last_only_for_models_that_declare_it_on_a_cpu() -> None:
    small = load_mnist_sample(train=False)
    assert Runtime().channels_last == "auto"
    assert Runtime().start(join=False, model=MnistCNN()).channels_last is True
    assert Runtime().start(join=False, model=NotesNet()).channels_last is False
    assert Runtime().start(join=False).channels_last is False  # no model: nothing to decide
    assert rt_module._channels_last("auto", torch.device("cuda"), MnistCNN()) is False
    model = MnistCNN()
    fit(model, small, max_steps=2, device="cpu", progress=False)
    assert _channels_last(model)
    # the notes' Net calls .view() on a 4-d activation, which channels-last would break
    notes = NotesNet()
    fit(notes, small, max_steps=2, device="cpu", progress=False)
    assert not _channels_last(notes)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        fit(NotesNet(), small, max_steps=1, device="cpu", progress=False,
            runtime=Runtime(channels_last=True))  # fmt: skip
    explicit = MnistCNN()
    evaluate(explicit, small, device="cpu", runtime=Runtime(channels_last=False))
    assert not _channels_last(explicit)


def test_auto_channels_last_computes_what_the_plain_layout_computes() -> None:
    small = load_mnist_sample(train=False)
    results = []
    for layout in ("auto", False):
        torch.manual_seed(0)
        model = MnistCNN()
        fit(model, small, max_steps=3, seed=0, device="cpu", progress=False,
            runtime=Runtime(channels_last=layout))  # fmt: skip
        results.append([p.detach().contiguous() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # float32 summation order


def test_runtime_options_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="Runtime channels_last must be one of"):
        Runtime(channels_last="always")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="Runtime compile must be one of"):
        Runtime(compile="fast")  # type: ignore[arg-type]
    assert Runtime(compile="reduce-overhead").compile == "reduce-overhead"
