from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from nnkit.data import load_mnist_sample
from nnkit.errors import InvalidArgumentError
from nnkit.losses import CrossEntropy
from nnkit.models import MnistCNN
from nnkit.recipes import FAST_RECIPE, GPU_RECIPE, NOTES_RECIPE, RECIPE_NAMES, Recipe, recipe
from nnkit.train import evaluate, fit

from .conftest import requires_cuda


@pytest.mark.parametrize("chosen", [NOTES_RECIPE, FAST_RECIPE, replace(GPU_RECIPE, runtime=None)])
def test_recipes_are_valid_fit_settings(chosen: Recipe) -> None:
    small = load_mnist_sample(train=False)
    model = MnistCNN(depth=2)
    history = fit(model, small, max_steps=4, seed=0, device="cpu", progress=False, **chosen)
    assert history.stop_reason == "max_steps"
    assert len(history) == 1 and math.isfinite(history.last.train_loss)


def test_fast_recipe_plans_its_schedule_over_its_epochs() -> None:
    small = load_mnist_sample(train=False)  # 2,000 images: 16 steps of 128 per epoch
    history = fit(MnistCNN(depth=1), small, seed=0, device="cpu", progress=False, **FAST_RECIPE)
    assert len(history) == FAST_RECIPE.epochs and history.stop_reason == "epochs"
    lrs = history.column("lr")
    assert FAST_RECIPE.lr is not None
    assert lrs[0] == pytest.approx(FAST_RECIPE.lr / 25)  # OneCycle starts at peak / 25...
    assert lrs[1] > lrs[0]  # ...and has warmed up by the second epoch


@pytest.mark.slow
def test_gpu_recipe_runs_compiled_on_the_cpu_too() -> None:
    """The GPU recipe's code path (compile with mode="reduce-overhead") is exercised here on
    the CPU, where there are no CUDA graphs to replay; the weights trained are the model's."""
    small = load_mnist_sample(train=False)
    model = MnistCNN(depth=2)
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, small, max_steps=3, seed=0, device="cpu", progress=False, **GPU_RECIPE)
    assert history.stop_reason == "max_steps"
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert evaluate(model, small, device="cpu").total == len(small)


@requires_cuda
def test_gpu_recipe_reaches_high_accuracy_on_the_sample_on_cuda() -> None:
    train, test = load_mnist_sample(), load_mnist_sample(train=False)
    model = MnistCNN(depth=2)
    fit(model, train, seed=0, device="cuda", progress=False, **GPU_RECIPE)
    result = evaluate(model, test, device="cuda")
    assert result.accuracy is not None and result.accuracy > 0.93


def test_recipe_by_name_and_device() -> None:
    assert recipe("notes", "cpu") is NOTES_RECIPE and recipe("notes", "cuda") is NOTES_RECIPE
    assert recipe("fast", "cpu") is FAST_RECIPE
    assert recipe("fast", torch.device("cuda", 0)) is GPU_RECIPE
    assert recipe("fast") is (GPU_RECIPE if torch.cuda.is_available() else FAST_RECIPE)
    assert set(RECIPE_NAMES) == {"fast", "notes"}
    with pytest.raises(InvalidArgumentError, match="recipe must be one of 'fast', 'notes', got"):
        recipe("quick")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="device must be"):
        recipe("fast", "gpu")


def test_recipe_fields_are_checked_and_none_is_no_key() -> None:
    with pytest.raises(InvalidArgumentError, match="epochs must be a positive integer, got 0"):
        Recipe(epochs=0)
    assert "loss" not in Recipe() and "runtime" not in Recipe() and len(Recipe()) == 2
    assert isinstance(FAST_RECIPE.loss, CrossEntropy) and FAST_RECIPE.loss.label_smoothing == 0.1
    with pytest.raises(TypeError, match="multiple values for keyword argument 'epochs'"):
        fit(MnistCNN(), load_mnist_sample(train=False), epochs=1, **FAST_RECIPE)  # type: ignore[misc]
