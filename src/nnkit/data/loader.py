"""A batch loader that slices in-memory tensors: one gather per batch, no workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .._device import resolve_device
from ..errors import InvalidArgumentError
from ._plan import EpochPlan, PlannedSource, draw_seed

__all__ = ["TensorLoader", "as_tensors"]


def as_tensor(value: Any) -> torch.Tensor | None:
    """``value`` as a tensor when it is one or a NumPy array (sharing its memory, its dtype and
    values unchanged), else None."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return None


def is_image_dataset(data: Any) -> bool:
    """True for a dataset that declares its inputs are 8-bit images: it exposes ``.images``
    and ``.labels`` tensors, as :class:`~nnkit.data.MnistDataset` does."""
    return isinstance(getattr(data, "images", None), torch.Tensor) and isinstance(
        getattr(data, "labels", None), torch.Tensor
    )


def as_tensors(data: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The ``(inputs, targets)`` tensors behind ``data``, or None when there are none.

    Understands an ``(inputs, targets)`` pair of tensors or NumPy arrays (arrays are shared,
    not copied), a :class:`~torch.utils.data.TensorDataset` of two tensors, and datasets
    exposing ``.images`` and ``.labels`` (such as :class:`~nnkit.data.MnistDataset`, whose
    ``uint8 (N, 28, 28)`` images become ``(N, 1, 28, 28)``).
    """
    if isinstance(data, tuple | list) and len(data) == 2:
        first, second = as_tensor(data[0]), as_tensor(data[1])
        if first is not None and second is not None:
            return first, second
    tensors = getattr(data, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return tensors[0], tensors[1]
    if is_image_dataset(data):
        images, labels = data.images, data.labels
        return (images.unsqueeze(1) if images.dim() == 3 else images), labels
    return None


class TensorLoader(PlannedSource):
    """Yield ``(inputs, targets)`` batches straight from in-memory tensors.

    Each batch is one indexed gather from the full tensors: no per-sample Python, no worker
    processes, no collation. Inputs and targets are yielded as they are (dtype and values
    unchanged: ``uint8`` token ids stay ids), except for 8-bit images: with ``images=True``,
    which is the default for a dataset that declares images (:class:`~nnkit.data.MnistDataset`),
    ``uint8`` inputs are converted to float32 in ``[0, 1]`` per batch (like ``ToTensor``), on
    the device when the data lives there. ``normalize`` then applies ``(x - mean) / std``.
    Every epoch visits every sample exactly once; with ``shuffle`` the order of epoch ``e`` is a
    function of ``(seed, e)`` alone, so the same seed gives the same orders, and a resumed run
    (``set_epoch``, ``load_state_dict``) continues the sequence exactly. A
    :class:`~nnkit.data.BatchSource`: :func:`~nnkit.train.fit` takes it as it is.

    Parameters
    ----------
    data : Dataset or tuple of torch.Tensor or numpy.ndarray
        An ``(inputs (N, ...), targets (N, ...))`` pair of tensors or NumPy arrays, a
        ``TensorDataset`` of two tensors, or a dataset with ``.images`` and ``.labels`` such as
        :func:`~nnkit.data.load_mnist`'s.
    batch_size : int
        Samples per batch.
    shuffle : bool
        Draw a new random order every epoch.
    drop_last : bool
        Drop the last, smaller batch.
    seed : int, optional
        Seed of the shuffling; drawn from torch's global generator when None.
    device : str or torch.device, optional
        Move the whole data set there once, so batches are sliced on the device. None keeps the
        tensors where they are (the training loop then moves each batch).
    normalize : tuple of float, optional
        ``(mean, std)`` applied per batch, e.g. ``(0.1307, 0.3081)`` for MNIST.
    images : bool, optional
        Whether ``uint8`` inputs are 8-bit images to scale to ``[0, 1]``; None (the default)
        means True for a dataset with ``.images`` and ``.labels``, False otherwise.

    Examples
    --------
    >>> x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    >>> loader = TensorLoader((x, y), batch_size=4, shuffle=True, seed=0)
    >>> [len(t) for t, _ in loader]
    [4, 4, 2]
    >>> sorted(torch.cat([t for _, t in loader]).tolist()) == list(range(10))
    True
    """

    def __init__(
        self,
        data: Any,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        device: str | torch.device | None = None,
        normalize: Sequence[float] | None = None,
        images: bool | None = None,
    ) -> None:
        tensors = as_tensors(data)
        if tensors is None:
            raise InvalidArgumentError(
                "TensorLoader expects an (inputs, targets) tensor pair, a TensorDataset of two "
                f"tensors, or a dataset with .images and .labels; got {type(data).__name__}",
                parameter="data",
            )
        inputs, targets = tensors
        if inputs.shape[0] != targets.shape[0]:
            raise InvalidArgumentError(
                f"inputs and targets must have the same length, got {inputs.shape[0]} and "
                f"{targets.shape[0]}",
                parameter="data",
            )
        if normalize is not None and len(normalize) != 2:
            raise InvalidArgumentError(
                f"normalize must be (mean, std), got {normalize!r}", parameter="normalize"
            )
        if device is not None:
            target_device = resolve_device(device)
            inputs, targets = inputs.to(target_device), targets.to(target_device)
        self.inputs = inputs
        self.targets = targets
        super().__init__(
            EpochPlan(
                int(inputs.shape[0]),
                batch_size,
                shuffle=shuffle,
                drop_last=drop_last,
                seed=draw_seed() if seed is None else seed,
            )
        )
        self.normalize = None if normalize is None else (float(normalize[0]), float(normalize[1]))
        self.images = is_image_dataset(data) if images is None else bool(images)

    @property
    def batch_size(self) -> int:
        """Samples per batch (per rank when sharded)."""
        return self._plan.batch_size

    @property
    def shuffle(self) -> bool:
        """Whether every epoch draws a new order."""
        return self._plan.shuffle

    def shard(self, rank: int, world_size: int) -> None:
        """Serve only rank ``rank``'s share of every global batch (for data parallelism).

        A global batch is ``batch_size * world_size`` consecutive samples of the epoch's order,
        split into ``world_size`` near-equal parts; this loader yields part ``rank``. So the
        ranks together visit every sample of an epoch exactly once (no padding, no repeats),
        all ranks take the same number of steps, and ``global_count`` tells how many samples
        the current global batch holds (the last one may be smaller, or leave a rank empty).
        """
        self._plan.shard(rank, world_size)

    @property
    def dataset_size(self) -> int:
        """Number of samples (``len(dataset)`` in DataLoader terms)."""
        return int(self.inputs.shape[0])

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of epoch ``epoch``: a permutation of ``range(N)`` (on the CPU)."""
        return self._plan.order(epoch)

    def _convert(self, batch: torch.Tensor) -> torch.Tensor:
        if self.images and batch.dtype == torch.uint8:
            batch = batch.to(torch.float32).div_(255.0)
        if self.normalize is not None:
            mean, std = self.normalize
            batch = (batch - mean) / std
        return batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self._start_epoch()
        for index, idx in enumerate(self._plan.batches(epoch, self.inputs.device)):
            self.global_count = self._plan.global_count(index)
            yield self._convert(self.inputs[idx]), self.targets[idx]

    def __repr__(self) -> str:
        return (
            f"TensorLoader(n={self.dataset_size}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed})"
        )
