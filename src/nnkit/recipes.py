"""Named sets of :func:`~nnkit.train.fit` settings: the notes' settings and nnkit's fast ones.

A :class:`Recipe` is a frozen dataclass and a mapping of ``fit`` keyword arguments, so
``fit(model, data, **recipe)`` applies it and ``dataclasses.replace(recipe, lr=1e-3)`` makes a
variant. ``benchmarks/time_to_accuracy.py`` measures them against the notes' loop (see
:doc:`/benchmarks` for the table, the machine and the date):

- :data:`NOTES_RECIPE`: the study notes' settings (batch 32, Adam at 0.001, no schedule).
- :data:`FAST_RECIPE`: 99% MNIST test accuracy with ``MnistCNN(depth=2)`` in two epochs on a
  CPU.
- :data:`GPU_RECIPE`: the same aim on a GPU, where a step of this small network costs kernel
  launches rather than arithmetic: larger batches, the data set resident on the device.

Examples
--------
>>> recipe("fast", "cpu") is FAST_RECIPE, recipe("notes", "cpu") is NOTES_RECIPE
(True, True)
>>> dict(NOTES_RECIPE)
{'batch_size': 32, 'optimizer': 'adam'}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import torch

from ._device import resolve_device
from ._validate import one_of, positive_int
from .losses import CrossEntropy, LossArg
from .optimizers import OptimizerName
from .runtime import DeviceArg, Runtime
from .schedules import SchedulerName

__all__ = [
    "FAST_RECIPE",
    "GPU_RECIPE",
    "NOTES_RECIPE",
    "RECIPE_NAMES",
    "Recipe",
    "RecipeName",
    "recipe",
]

#: The recipes that :func:`recipe` and ``nnkit mnist --recipe`` know by name.
RecipeName: TypeAlias = Literal["fast", "notes"]
RECIPE_NAMES: tuple[str, ...] = get_args(RecipeName)


@dataclass(frozen=True)
class Recipe(Mapping[str, Any]):
    """A named set of :func:`~nnkit.train.fit` settings that travel together.

    A mapping of ``fit`` keyword arguments, so ``fit(model, data, **recipe)`` applies it, and a
    frozen dataclass, so its fields are typed and ``dataclasses.replace(recipe, lr=1e-3)``
    makes a variant. Fields left None are not keys of the mapping: ``fit``'s own defaults
    apply, and they may be passed to ``fit`` next to ``**recipe`` (``epochs=5``); settings the
    recipe holds must not be repeated there.

    Parameters
    ----------
    epochs : int, optional
        The epoch budget the recipe's schedule is planned for.
    batch_size : int
        Training batch size.
    optimizer : OptimizerName
        Optimizer by name.
    lr : float, optional
        (Peak) learning rate; PyTorch's default for the optimizer when None.
    scheduler : SchedulerName, optional
        Learning-rate schedule by name.
    loss : LossArg, optional
        The training loss (``fit``'s default, cross entropy, when None).
    runtime : Runtime, optional
        Device, memory layout, compilation (see :class:`~nnkit.runtime.Runtime`).

    Examples
    --------
    >>> sorted(FAST_RECIPE)
    ['batch_size', 'epochs', 'loss', 'lr', 'optimizer', 'scheduler']
    >>> dataclasses.replace(FAST_RECIPE, epochs=None).get("epochs") is None
    True
    """

    epochs: int | None = None
    batch_size: int = 32
    optimizer: OptimizerName = "adam"
    lr: float | None = None
    scheduler: SchedulerName | None = None
    loss: LossArg | None = None
    runtime: Runtime | None = None

    def __post_init__(self) -> None:
        positive_int(self.batch_size, "batch_size")
        if self.epochs is not None:
            positive_int(self.epochs, "epochs")

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def _keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)


#: The study notes' settings. Batch 32, Adam at PyTorch's default lr (0.001), no schedule,
#: plain cross entropy. nnkit runs them faster than the notes' loop with the same arithmetic
#: (channels-last on a CPU, a fused Adam step, no per-step host synchronisation).
NOTES_RECIPE = Recipe(batch_size=32, optimizer="adam")

#: nnkit's fastest MNIST recipe on a CPU. Two epochs at batch 128 under OneCycle to a peak of
#: 8e-3 with Adam and label smoothing 0.1 (channels-last comes from ``Runtime``'s default on a
#: CPU). ``fit(MnistCNN(depth=2), train, **FAST_RECIPE)`` reaches 99% test accuracy; see
#: ``benchmarks/time_to_accuracy.py`` for what it buys over the notes' loop.
FAST_RECIPE = Recipe(
    epochs=2,
    batch_size=128,
    optimizer="adam",
    lr=8e-3,
    scheduler="onecycle",
    loss=CrossEntropy(label_smoothing=0.1),
)

#: The fast recipe for a GPU, where a step of this network costs kernel launches and Python,
#: not arithmetic: fewer, larger steps (batch 512, four epochs, 472 steps against the CPU
#: recipe's 938), the model compiled with ``mode="reduce-overhead"`` (CUDA graphs replay the
#: forward and backward kernels), the fused Adam step, and ``fit``'s own handling of tensor
#: data: the data set is moved to the GPU once and batches are sliced there, with no host
#: synchronisation but one every 32 steps (the NaN check). Its accuracy and time on a GPU are
#: not measured yet (``benchmarks/time_to_accuracy.py --device cuda`` measures both).
GPU_RECIPE = Recipe(
    epochs=4,
    batch_size=512,
    optimizer="adam",
    lr=1.2e-2,
    scheduler="onecycle",
    loss=CrossEntropy(label_smoothing=0.1),
    runtime=Runtime(compile="reduce-overhead"),
)


def recipe(name: RecipeName, device: DeviceArg = None) -> Recipe:
    """The recipe called ``name`` for ``device``.

    Parameters
    ----------
    name : {"fast", "notes"}
        ``"fast"``: :data:`GPU_RECIPE` on CUDA, :data:`FAST_RECIPE` elsewhere; ``"notes"``:
        :data:`NOTES_RECIPE`.
    device : str or torch.device, optional
        Where training runs (CUDA when available, else the CPU, when None).

    Examples
    --------
    >>> recipe("fast", "cuda").batch_size, recipe("fast", "cpu").batch_size
    (512, 128)
    >>> recipe("fastest")
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: recipe must be one of 'fast', 'notes', got 'fastest'
    """
    if one_of(name, "recipe", RECIPE_NAMES) == "notes":
        return NOTES_RECIPE
    if device is None:
        kind = resolve_device(None).type
    else:  # a recipe can be looked up for a device this machine lacks
        try:
            kind = torch.device(device).type
        except (RuntimeError, TypeError):
            kind = resolve_device(device).type  # raises the usual error for a bad device
    return GPU_RECIPE if kind == "cuda" else FAST_RECIPE
