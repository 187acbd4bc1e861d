"""Data: the IDX reader, MNIST on disk and embedded, and the in-memory batch loader."""

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
)

__all__ = [
    "MNIST_FILES",
    "MNIST_SHA256",
    "SAMPLE_SHA256",
    "FileStatus",
    "MnistDataset",
    "TensorLoader",
    "default_data_root",
    "find_mnist_files",
    "load_mnist",
    "load_mnist_sample",
    "read_idx",
    "read_idx_bytes",
]
