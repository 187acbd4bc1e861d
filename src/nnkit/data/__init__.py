"""Data: the IDX reader, MNIST on disk and embedded, batch sources and the in-memory loader."""

from .idx import read_idx, read_idx_bytes
from .loader import TensorLoader
from .mnist import (
    MNIST_FILES,
    MNIST_SHA256,
    SAMPLE_SHA256,
    FileStatus,
    MnistDataset,
    default_data_root,
    find_mnist_files,
    load_mnist,
    load_mnist_sample,
    mnist_paths,
)
from .sources import (
    Batch,
    BatchSource,
    DataLike,
    DatasetSource,
    IterableSource,
    LoaderSource,
    make_source,
)
from .split import ImageTensors, split_validation

__all__ = [
    "MNIST_FILES",
    "MNIST_SHA256",
    "SAMPLE_SHA256",
    "Batch",
    "BatchSource",
    "DataLike",
    "DatasetSource",
    "FileStatus",
    "ImageTensors",
    "IterableSource",
    "LoaderSource",
    "MnistDataset",
    "TensorLoader",
    "default_data_root",
    "find_mnist_files",
    "load_mnist",
    "load_mnist_sample",
    "make_source",
    "mnist_paths",
    "read_idx",
    "read_idx_bytes",
    "split_validation",
]
