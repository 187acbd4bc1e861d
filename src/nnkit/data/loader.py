"""A batch loader that slices in-memory tensors: one gather per batch, no workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from .._device import resolve_device

__all__ = ["TensorLoader", "as_tensors"]


def as_tensors(data: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The ``(inputs, targets)`` tensors behind ``data``, or None when there are none.

    Understands an ``(inputs, targets)`` pair of tensors, a
    :class:`~torch.utils.data.TensorDataset` of two tensors, and datasets exposing ``.images``
    and ``.labels`` (such as :class:`~nnkit.data.MnistDataset`, whose ``uint8 (N, 28, 28)``
    images become ``(N, 1, 28, 28)``).
    """
    if isinstance(data, tuple | list) and len(data) == 2:
        first, second = data
        if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor):
            return first, second
    tensors = getattr(data, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return tensors[0], tensors[1]
    images = getattr(data, "images", None)
    labels = getattr(data, "labels", None)
    if isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor):
        return (images.unsqueeze(1) if images.dim() == 3 else images), labels
    return None


class TensorLoader:
    """Yield ``(inputs, targets)`` batches straight from in-memory tensors.

    Each batch is one indexed gather from the full tensors: no per-sample Python, no worker
    processes, no collation. ``uint8`` inputs are converted to float32 in ``[0, 1]`` per batch
    (like ``ToTensor``), then normalised with ``(x - mean) / std`` if ``normalize`` is given.
    Every epoch visits every sample exactly once; with ``shuffle`` the order of epoch ``e`` is a
    function of ``(seed, e)`` alone, so the same seed gives the same orders, and a resumed run
    (:meth:`set_epoch`) continues the sequence exactly.

    Parameters
    ----------
    data : Dataset or tuple of torch.Tensor
        An ``(inputs (N, ...), targets (N, ...))`` pair, a ``TensorDataset`` of two tensors, or a
        dataset with ``.images`` and ``.labels`` such as :func:`~nnkit.data.load_mnist`'s.
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
    ) -> None:
        tensors = as_tensors(data)
        if tensors is None:
            raise TypeError(
                "TensorLoader expects an (inputs, targets) tensor pair, a TensorDataset of two "
                f"tensors, or a dataset with .images and .labels; got {type(data).__name__}"
            )
        inputs, targets = tensors
        if inputs.shape[0] != targets.shape[0]:
            raise ValueError(
                f"inputs and targets must have the same length, got {inputs.shape[0]} and "
                f"{targets.shape[0]}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if normalize is not None and len(normalize) != 2:
            raise ValueError(f"normalize must be (mean, std), got {normalize!r}")
        if device is not None:
            target_device = resolve_device(device)
            inputs, targets = inputs.to(target_device), targets.to(target_device)
        self.inputs = inputs
        self.targets = targets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(torch.randint(0, 2**62, ()).item()) if seed is None else int(seed)
        self.normalize = None if normalize is None else (float(normalize[0]), float(normalize[1]))
        self.epoch = 0
        self.rank, self.world_size = 0, 1
        self.global_count = 0

    def shard(self, rank: int, world_size: int) -> None:
        """Serve only rank ``rank``'s share of every global batch (for data parallelism).

        A global batch is ``batch_size * world_size`` consecutive samples of the epoch's order,
        split into ``world_size`` near-equal parts; this loader yields part ``rank``. So the
        ranks together visit every sample of an epoch exactly once (no padding, no repeats),
        all ranks take the same number of steps, and :attr:`global_count` tells how many samples
        the current global batch holds (the last one may be smaller, or leave a rank empty).
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.rank, self.world_size = rank, world_size

    @property
    def dataset_size(self) -> int:
        """Number of samples (``len(dataset)`` in DataLoader terms)."""
        return int(self.inputs.shape[0])

    def __len__(self) -> int:
        n, b = self.dataset_size, self.batch_size * self.world_size
        return n // b if self.drop_last else -(-n // b)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce the order of epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of epoch ``epoch``: a permutation of ``range(N)`` (on the CPU)."""
        n = self.dataset_size
        if not self.shuffle:
            return torch.arange(n)
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * epoch)
        return torch.randperm(n, generator=generator)

    def _convert(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.dtype == torch.uint8:
            batch = batch.to(torch.float32).div_(255.0)
        if self.normalize is not None:
            mean, std = self.normalize
            batch = (batch - mean) / std
        return batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.order(self.epoch).to(self.inputs.device)
        self.epoch += 1
        step = self.batch_size * self.world_size
        stop = len(self) * step if self.drop_last else self.dataset_size
        contiguous = not self.shuffle and self.world_size == 1
        for start in range(0, stop, step):
            end = min(start + step, stop)
            self.global_count = end - start
            if contiguous:
                x, y = self.inputs[start:end], self.targets[start:end]
            else:
                idx = order[start:end]
                if self.world_size > 1:
                    idx = torch.tensor_split(idx, self.world_size)[self.rank]
                x, y = self.inputs[idx], self.targets[idx]
            yield self._convert(x), y

    def __repr__(self) -> str:
        return (
            f"TensorLoader(n={self.dataset_size}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed})"
        )
