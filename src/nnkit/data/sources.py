"""Batch sources: what :func:`~nnkit.train.fit` iterates, behind one declared protocol.

Whatever is passed to ``fit`` as data becomes a :class:`BatchSource`
(:func:`~nnkit.data.make_source`):
``(inputs, targets)`` tensors, a ``TensorDataset`` or an MNIST dataset become a
:class:`~nnkit.data.TensorLoader`; another map-style ``Dataset`` a :class:`DatasetSource` (a
``DataLoader`` whose order nnkit controls); a ``DataLoader`` you built a :class:`LoaderSource`;
a re-iterable of batches an :class:`IterableSource`; and any object that already implements the
protocol (``TensorLoader``, :class:`nnkit.text.StreamBatches`, your own) is used as it is.

The protocol is what ``fit`` needs and nothing else: iterate one epoch, say how long it is,
move to an epoch, serve one rank's share under ``torchrun``, and save and restore its state so
that a resumed run replays the same batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler
from torch.utils.data.distributed import DistributedSampler

from ..errors import InvalidArgumentError
from ._plan import EpochPlan, PlannedSource, draw_seed
from .loader import TensorLoader, as_tensors, is_image_dataset

__all__ = [
    "Batch",
    "BatchSource",
    "DataLike",
    "DatasetSource",
    "IterableSource",
    "LoaderSource",
    "make_source",
]

#: One batch: ``(inputs, targets)``.
Batch: TypeAlias = tuple[torch.Tensor, torch.Tensor]

#: Tensors up to this size are copied to the GPU once, so batches are sliced there.
_GPU_RESIDENT_BYTES = 2 * 1024**3


@runtime_checkable
class BatchSource(Protocol):
    """A re-iterable source of ``(inputs, targets)`` batches that a training run can resume.

    Implemented by :class:`~nnkit.data.TensorLoader`, :class:`DatasetSource`,
    :class:`LoaderSource`, :class:`IterableSource` and :class:`nnkit.text.StreamBatches`;
    implement it to feed :func:`~nnkit.train.fit` from anything else.

    Members
    -------
    ``__iter__()``
        The batches of one epoch, ``(inputs, targets)`` each.
    ``__len__()``
        Batches per epoch on this rank (0 when unknown).
    ``num_samples``
        Samples per epoch, all ranks together, or None when unknown (for the notes' log line).
    ``global_count``
        Samples in the global batch last yielded, all ranks together; 0 when every rank's share
        is the same size. ``fit`` weights a rank's loss by its share of it, so the averaged
        gradient is the gradient of the whole global batch.
    ``set_epoch(epoch)``
        The next ``__iter__`` yields epoch ``epoch`` (0-based).
    ``shard(rank, world_size)``
        From now on yield rank ``rank``'s share of every global batch; raise
        :class:`~nnkit.errors.InvalidArgumentError` if the source cannot be split.
    ``state_dict()`` / ``load_state_dict(state)``
        Everything that decides future batches (seeds, generator states), as tensors and plain
        data, so that it can go into a ``weights_only`` checkpoint.
    """

    def __iter__(self) -> Iterator[Batch]: ...

    def __len__(self) -> int: ...

    @property
    def num_samples(self) -> int | None: ...

    @property
    def global_count(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def shard(self, rank: int, world_size: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


#: Everything :func:`~nnkit.train.fit` and :func:`~nnkit.train.evaluate` accept as data.
DataLike: TypeAlias = (
    BatchSource
    | Dataset[Any]
    | DataLoader[Any]
    | tuple[torch.Tensor, torch.Tensor]
    | tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
    | Iterable[Batch]
    | Iterable[list[torch.Tensor]]
)


def as_batch(batch: object) -> Batch:
    """Check that a batch is an ``(inputs, targets)`` pair of tensors."""
    if isinstance(batch, tuple | list) and len(batch) == 2:
        x, y = batch
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            return x, y
    raise InvalidArgumentError(
        "each batch must be an (inputs, targets) pair of tensors, got "
        f"{type(batch).__name__}"
        + (f" of {len(batch)}" if isinstance(batch, tuple | list) else ""),
        parameter="data",
    )


class _PlanSampler(Sampler[list[int]]):
    """Index lists from an :class:`EpochPlan`, for a ``DataLoader``'s ``batch_sampler``."""

    def __init__(self, plan: EpochPlan) -> None:
        self.plan = plan
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[list[int]]:
        for idx in self.plan.batches(self.epoch):
            if isinstance(idx, slice):
                yield list(range(idx.start, idx.stop))
            else:
                yield idx.tolist()


class DatasetSource(PlannedSource):
    """A map-style ``Dataset`` read through a ``DataLoader`` whose order nnkit decides.

    The batches of epoch ``e`` hold the samples of nnkit's epoch plan's order
    for ``(seed, e)``, as in :class:`~nnkit.data.TensorLoader`: a resumed run replays them, and
    under ``torchrun`` each rank loads only its share. Samples are collated by the
    ``DataLoader`` (``num_workers`` worker processes, 0 by default).

    Examples
    --------
    >>> ds = torch.utils.data.StackDataset(torch.arange(10.0), torch.arange(10))
    >>> source = DatasetSource(ds, batch_size=4, shuffle=True, seed=0)
    >>> len(source), sorted(torch.cat([y for _, y in source]).tolist()) == list(range(10))
    (3, True)
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        *,
        batch_size: int,
        shuffle: bool = True,
        seed: int | None = None,
        drop_last: bool = False,
        num_workers: int = 0,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise InvalidArgumentError(
                f"DatasetSource needs a dataset with a length, got {type(dataset).__name__}",
                parameter="dataset",
            )
        self.dataset = dataset
        super().__init__(
            EpochPlan(
                len(dataset),
                batch_size,
                shuffle=shuffle,
                drop_last=drop_last,
                seed=draw_seed() if seed is None else seed,
            )
        )
        self._sampler = _PlanSampler(self._plan)
        self._loader: DataLoader[Any] = DataLoader(
            dataset, batch_sampler=self._sampler, num_workers=num_workers
        )

    def __iter__(self) -> Iterator[Batch]:
        self._sampler.epoch = self._start_epoch()
        for index, batch in enumerate(self._loader):
            self.global_count = self._plan.global_count(index)
            yield as_batch(batch)


class LoaderSource:
    """A ``DataLoader`` you built, used as it is.

    Its order is its own; what decides it is saved and restored: the state of the loader's
    ``generator`` (and its ``RandomSampler``'s, when that has its own), and the epoch of a
    ``DistributedSampler``. A loader without a generator draws from torch's global generator,
    which :func:`~nnkit.train.fit` checkpoints anyway, so a resumed run replays it too.

    Under ``torchrun`` the loader must already split the data (a ``DistributedSampler``);
    otherwise ``shard`` refuses, and passing the ``Dataset`` itself lets nnkit split it.

    Examples
    --------
    >>> ds = torch.utils.data.TensorDataset(torch.arange(6.0), torch.arange(6))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator())
    >>> source = LoaderSource(loader)
    >>> len(source), len(source.state_dict()["generators"])
    (2, 1)
    """

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.loader = loader
        self.global_count = 0

    @property
    def num_samples(self) -> int | None:
        dataset = self.loader.dataset
        return len(dataset) if isinstance(dataset, Sized) else None

    def __len__(self) -> int:
        try:
            return len(self.loader)
        except TypeError:  # an IterableDataset without a length
            return 0

    def _generators(self) -> list[torch.Generator]:
        found: list[torch.Generator] = []
        sampler = self.loader.sampler
        for generator in (
            self.loader.generator,
            sampler.generator if isinstance(sampler, RandomSampler) else None,
        ):
            if generator is not None and all(generator is not g for g in found):
                found.append(generator)
        return found

    def set_epoch(self, epoch: int) -> None:
        sampler = self.loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)

    def shard(self, rank: int, world_size: int) -> None:
        sampler = self.loader.sampler
        if isinstance(sampler, DistributedSampler):
            if (sampler.rank, sampler.num_replicas) != (rank, world_size):
                raise InvalidArgumentError(
                    f"the DataLoader's DistributedSampler is for rank {sampler.rank} of "
                    f"{sampler.num_replicas}, but this process is rank {rank} of {world_size}",
                    parameter="data",
                )
            return
        raise InvalidArgumentError(
            "distributed training needs data that nnkit can split between ranks: pass the "
            "Dataset itself instead of a DataLoader (nnkit then builds one that splits every "
            "batch), or give your DataLoader a DistributedSampler",
            parameter="data",
        )

    def state_dict(self) -> dict[str, Any]:
        return {"generators": [g.get_state() for g in self._generators()]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = list(state.get("generators", []))
        generators = self._generators()
        if len(saved) != len(generators):
            raise InvalidArgumentError(
                f"the DataLoader has {len(generators)} generator(s) but the saved state holds "
                f"{len(saved)}; resume with a DataLoader built the same way",
                parameter="data",
            )
        for generator, value in zip(generators, saved, strict=True):
            generator.set_state(value)

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.loader:
            yield as_batch(batch)


class IterableSource:
    """A re-iterable of ``(inputs, targets)`` batches (a list, your own iterable), as it is.

    It has no state of its own to save (it yields what it yields), and it cannot be split
    between ranks.

    Examples
    --------
    >>> batches = [(torch.zeros(2, 3), torch.tensor([0, 1]))] * 3
    >>> len(IterableSource(batches)), IterableSource(batches).state_dict()
    (3, {})
    """

    def __init__(self, batches: Iterable[Any]) -> None:
        if iter(batches) is batches:
            raise InvalidArgumentError(
                "data is a one-shot iterator, which would be empty after the first epoch; "
                "pass a list of batches, a Dataset, a DataLoader or an (inputs, targets) pair",
                parameter="data",
            )
        self.batches = batches
        self.global_count = 0

    @property
    def num_samples(self) -> int | None:
        return None

    def __len__(self) -> int:
        return len(self.batches) if isinstance(self.batches, Sized) else 0

    def set_epoch(self, epoch: int) -> None:
        """Nothing to do: the batches are what they are."""

    def shard(self, rank: int, world_size: int) -> None:
        raise InvalidArgumentError(
            "distributed training needs data that nnkit can split between ranks: an "
            "(inputs, targets) pair, a TensorDataset, a map-style Dataset, a TensorLoader or "
            f"nnkit.text.StreamBatches; got {type(self.batches).__name__}",
            parameter="data",
        )

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore."""

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            yield as_batch(batch)


def make_source(
    data: DataLike,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    device: torch.device,
) -> BatchSource:
    """Turn what the user passed as data into a :class:`BatchSource`.

    ``(inputs, targets)`` tensors or NumPy arrays, a ``TensorDataset`` of two or a dataset with
    ``.images`` and ``.labels`` become a :class:`~nnkit.data.TensorLoader` (copied to a GPU
    ``device`` once when they fit in 2 GiB; only the last kind is scaled as 8-bit images, everything
    else is yielded with its dtype and values unchanged); another map-style ``Dataset`` a
    :class:`DatasetSource`; a ``DataLoader`` a :class:`LoaderSource`; an object implementing
    :class:`BatchSource` is returned as it is; other re-iterables of batches become an
    :class:`IterableSource`.

    Examples
    --------
    >>> x, y = torch.randn(10, 2), torch.arange(10)
    >>> type(make_source((x, y), batch_size=4, shuffle=False, seed=0,
    ...                  device=torch.device("cpu"))).__name__
    'TensorLoader'
    """
    if isinstance(data, DataLoader):
        return LoaderSource(data)
    if isinstance(data, BatchSource):
        return data
    tensors = as_tensors(data)
    if tensors is not None:
        size = sum(t.element_size() * t.numel() for t in tensors)
        on_device = device if device.type != "cpu" and size <= _GPU_RESIDENT_BYTES else None
        return TensorLoader(
            tensors,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            device=on_device,
            images=is_image_dataset(data),
        )
    if isinstance(data, Dataset) and isinstance(data, Sized):
        return DatasetSource(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        return IterableSource(data)
    raise InvalidArgumentError(
        "data must be a Dataset, an (inputs, targets) tensor pair, a DataLoader, a BatchSource "
        f"or an iterable of batches, got {type(data).__name__}",
        parameter="data",
    )
