"""Holding out validation data from the training data: :func:`split_validation`."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from .._validate import fail, in_interval
from .loader import as_tensors, is_image_dataset
from .mnist import MnistDataset
from .sources import BatchSource, DataLike

__all__ = ["ImageTensors", "split_validation"]


class ImageTensors(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """8-bit images and their labels held as two tensors: the part of an image dataset that
    :func:`split_validation` cuts. Like the whole data set, it declares its inputs to be
    images (``.images`` and ``.labels``), so a :class:`~nnkit.data.TensorLoader` scales them to
    ``[0, 1]``; indexing gives the scaled float image and the label."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        return (image.float() / 255 if image.dtype == torch.uint8 else image), self.labels[index]

    def __repr__(self) -> str:
        return f"ImageTensors(n={len(self)})"


def _take(data: Any, index: torch.Tensor) -> DataLike:
    """The samples ``index`` of ``data``, as the same kind of data (user tensors untouched)."""
    if isinstance(data, MnistDataset):
        return MnistDataset(data.images[index], data.labels[index], source=data.source)
    if is_image_dataset(data):
        return ImageTensors(data.images[index], data.labels[index])
    tensors = as_tensors(data)
    if tensors is not None:
        return tensors[0][index], tensors[1][index]
    return Subset(data, index.tolist())


def split_validation(
    data: DataLike, fraction: float, *, seed: int = 0
) -> tuple[DataLike, DataLike]:
    """Split ``data`` into training and validation data, as ``fit(validation_split=...)`` does.

    A share ``fraction`` of the N samples (``round(fraction * N)`` of them), drawn at random by
    a generator seeded with ``seed``, is held out; both parts keep the original order of their
    samples. The same data, fraction and seed always hold out the same samples (a resumed run
    sees the same split). Tensors and NumPy arrays are indexed into new tensors (yours are not
    changed), an MNIST dataset into two MNIST datasets, another map-style ``Dataset`` into two
    ``Subset`` objects.

    Parameters
    ----------
    data : DataLike
        Data that can be indexed: an ``(inputs, targets)`` pair of tensors or arrays, a
        ``TensorDataset``, an MNIST dataset or a map-style ``Dataset`` with a length. A
        ``DataLoader``, a batch source or a list of batches cannot be split: pass ``val=``.
    fraction : float
        Share held out, in ``(0, 1)``.
    seed : int
        Seed of the draw.

    Returns
    -------
    tuple of DataLike
        ``(train, val)``, the two parts.

    Examples
    --------
    >>> x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    >>> (xt, yt), (xv, yv) = split_validation((x, y), 0.2, seed=0)
    >>> len(yt), len(yv), sorted(yt.tolist() + yv.tolist()) == list(range(10))
    (8, 2, True)
    """
    in_interval(fraction, "validation_split", 0.0, 1.0, closed="()")
    if isinstance(data, DataLoader | BatchSource) or not (
        as_tensors(data) is not None or (isinstance(data, Dataset) and isinstance(data, Sized))
    ):
        raise fail(
            "validation_split",
            "validation_split needs data that nnkit can index (an (inputs, targets) pair, a "
            f"TensorDataset or a map-style Dataset), got {type(data).__name__}; pass the "
            "validation data as val= instead",
        )
    tensors = as_tensors(data)
    n = int(tensors[1].shape[0]) if tensors is not None else len(data)  # type: ignore[arg-type]
    n_val = round(fraction * n)
    if not 0 < n_val < n:
        raise fail(
            "validation_split",
            f"validation_split={fraction!r} of {n} samples holds out {n_val}; both parts need at "
            "least one sample",
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    val_index, _ = order[:n_val].sort()
    train_index, _ = order[n_val:].sort()
    return _take(data, train_index), _take(data, val_index)
