"""Turning whatever the user passes as data into something that yields batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from .data.loader import TensorLoader, as_tensors

#: Tensors up to this size are copied to the GPU once, so batches are sliced there.
_GPU_RESIDENT_BYTES = 2 * 1024**3

Batch = tuple[torch.Tensor, torch.Tensor]


class BatchSource:
    """A re-iterable source of ``(inputs, targets)`` batches with a known sample count."""

    def __init__(self, batches: Iterable[Any], num_samples: int | None) -> None:
        self.batches = batches
        self.num_samples = num_samples

    def __len__(self) -> int:
        try:
            return len(self.batches)  # type: ignore[arg-type]
        except TypeError:
            return 0

    def rank_weight(self, n_local: int, world_size: int) -> float:
        """Loss weight of this rank's part of the current global batch (1 when all are equal)."""
        n_global = getattr(self.batches, "global_count", 0)
        if world_size == 1 or not n_global:
            return 1.0
        return n_local * world_size / n_global

    def shard(self, rank: int, world_size: int) -> None:
        """Make the underlying loader serve only this rank's share (see TensorLoader.shard)."""
        sharder = getattr(self.batches, "shard", None)
        if sharder is None:
            raise ValueError(
                "distributed training needs data that nnkit can split between ranks: an "
                "(inputs, targets) pair, a TensorDataset or MNIST dataset, a TensorLoader, or "
                f"nnkit.text.StreamBatches; got {type(self.batches).__name__}"
            )
        sharder(rank, world_size)

    def set_epoch(self, epoch: int) -> None:
        setter = getattr(self.batches, "set_epoch", None)
        if setter is not None:
            setter(epoch)
        sampler = getattr(self.batches, "sampler", None)
        if sampler is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            if not isinstance(batch, tuple | list) or len(batch) != 2:
                raise TypeError(
                    f"each batch must be an (inputs, targets) pair, got {type(batch).__name__}"
                )
            yield batch[0], batch[1]


def make_source(
    data: Any,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    device: torch.device,
) -> BatchSource:
    """Data -> batches: tensors go through :class:`TensorLoader`, Datasets a DataLoader."""
    if isinstance(data, TensorLoader):
        return BatchSource(data, data.dataset_size)
    if isinstance(data, DataLoader):
        dataset = data.dataset
        return BatchSource(data, len(dataset) if isinstance(dataset, Sized) else None)
    tensors = as_tensors(data)
    if tensors is not None:
        size = sum(t.element_size() * t.numel() for t in tensors)
        on_device = device if device.type != "cpu" and size <= _GPU_RESIDENT_BYTES else None
        loader = TensorLoader(tensors, batch_size, shuffle=shuffle, seed=seed, device=on_device)
        return BatchSource(loader, loader.dataset_size)
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        generator = torch.Generator()
        generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, ()).item()))
        dl = DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
        return BatchSource(dl, len(data))
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        if iter(data) is data:
            raise TypeError(
                "data is a one-shot iterator, which would be empty after the first epoch; "
                "pass a list of batches, a Dataset, a DataLoader or an (inputs, targets) pair"
            )
        return BatchSource(data, None)
    raise TypeError(
        "data must be a Dataset, an (inputs, targets) tensor pair, or an iterable of batches, "
        f"got {type(data).__name__}"
    )
