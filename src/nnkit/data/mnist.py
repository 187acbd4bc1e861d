"""Finding, verifying, downloading and loading MNIST, and the embedded sample."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._atomic import atomic_write_bytes
from ..errors import ChecksumError, DataFormatError, DataNotFoundError, DownloadError
from .idx import decompress, read_idx_bytes

__all__ = [
    "MNIST_FILES",
    "MNIST_SHA256",
    "SAMPLE_SHA256",
    "FileStatus",
    "MnistDataset",
    "default_data_root",
    "find_mnist_files",
    "load_mnist",
    "load_mnist_sample",
    "mnist_paths",
]

#: (split, kind) -> the official file name, uncompressed.
MNIST_FILES: dict[tuple[str, str], str] = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

#: SHA-256 of the official MNIST files, uncompressed (``.gz`` copies are checked decompressed).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: SHA-256 of the embedded sample's files, uncompressed (made by ``scripts/make_sample.py``).
SAMPLE_SHA256: dict[str, str] = {
    "sample-train-images-idx3-ubyte": (
        "2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1"
    ),
    "sample-train-labels-idx1-ubyte": (
        "651e38e2ac0632f5113ec18f1df4977117f953197819034009971a6675a0df78"
    ),
    "sample-t10k-images-idx3-ubyte": (
        "3f6bd66dee48df299584c67669bceee490faa25f931496bd7473b42106d7daed"
    ),
    "sample-t10k-labels-idx1-ubyte": (
        "7b098e5f6a3065807cebeabf36fb1724a8aff19f2673ac08b4923e0e8c715bce"
    ),
}

_ENV_VAR = "NNKIT_DATA"
_MAX_FILE_BYTES = 64 * 1024**2


def default_data_root() -> Path:
    """Where :func:`load_mnist` looks when no ``root`` is given.

    ``$NNKIT_DATA`` if set, else the per-user cache folder ``$XDG_CACHE_HOME/nnkit``
    (``~/.cache/nnkit`` when ``XDG_CACHE_HOME`` is unset).

    Examples
    --------
    >>> isinstance(default_data_root(), Path)
    True
    """
    env = os.environ.get(_ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "nnkit"


@dataclass(frozen=True)
class FileStatus:
    """What :func:`find_mnist_files` found for one MNIST file."""

    name: str
    path: Path | None
    verified: bool | None
    message: str


def _candidates(root: Path, name: str) -> list[Path]:
    folders = [root / "MNIST" / "raw", root]
    return [folder / f"{name}{ext}" for folder in folders for ext in ("", ".gz")]


def mnist_paths(root: str | os.PathLike[str]) -> list[Path]:
    """Every path :func:`load_mnist` may read in ``root`` (found or not), for a caller that
    must not write over any of them.

    Examples
    --------
    >>> [p.as_posix() for p in mnist_paths("data")][:2]
    ['data/MNIST/raw/train-images-idx3-ubyte', 'data/MNIST/raw/train-images-idx3-ubyte.gz']
    """
    return [p for name in MNIST_FILES.values() for p in _candidates(Path(root), name)]


def _locate(root: Path, name: str) -> Path | None:
    return next((p for p in _candidates(root, name) if p.is_file()), None)


def _content(path: Path) -> bytes:
    """A file's content, decompressed when it is gzip (at most 64 MB: MNIST's largest file is
    47 MB, so anything bigger is not one of its files)."""
    return decompress(path.read_bytes(), name=str(path), max_bytes=_MAX_FILE_BYTES)


def _verify(content: bytes, name: str, expected: str, where: str) -> None:
    digest = hashlib.sha256(content).hexdigest()
    if expected and digest != expected:
        raise ChecksumError(
            f"{where}: SHA-256 mismatch for {name}: expected {expected}, got {digest}; "
            "the file is altered or incomplete, replace it with the official one"
        )


def find_mnist_files(root: str | os.PathLike[str] | None = None) -> list[FileStatus]:
    """Report, for each of the four MNIST files, where it was found and whether it verifies.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The folder to look in; defaults to :func:`default_data_root`.

    Returns
    -------
    list of FileStatus
        One entry per official file, in the order train images, train labels, test images,
        test labels.

    Examples
    --------
    >>> import tempfile
    >>> [s.path for s in find_mnist_files(tempfile.mkdtemp())]
    [None, None, None, None]
    """
    base = Path(root).expanduser() if root is not None else default_data_root()
    out = []
    for name in MNIST_FILES.values():
        path = _locate(base, name)
        if path is None:
            out.append(FileStatus(name, None, None, "not found"))
            continue
        try:
            _verify(_content(path), name, MNIST_SHA256[name], str(path))
        except DataFormatError as exc:
            out.append(FileStatus(name, path, False, str(exc)))
        else:
            out.append(FileStatus(name, path, True, "SHA-256 verified"))
    return out


class MnistDataset(Dataset[tuple[torch.Tensor, int]]):
    """MNIST images and labels held in memory.

    Indexing gives what ``torchvision.datasets.MNIST(transform=ToTensor())`` gives: a float32
    image of shape ``(1, 28, 28)`` with values in ``[0, 1]`` and an ``int`` label. The raw tensors
    are exposed for fast paths such as :class:`nnkit.data.TensorLoader`.

    Attributes
    ----------
    images : torch.Tensor
        ``uint8``, shape ``(N, 28, 28)``.
    labels : torch.Tensor
        ``int64``, shape ``(N,)``.
    source : str
        Where the data came from (a folder, or ``"embedded sample"``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, source: str = "") -> None:
        if images.dim() != 3 or images.shape[1:] != (28, 28) or images.dtype != torch.uint8:
            raise DataFormatError(
                f"MNIST images must be uint8 of shape (N, 28, 28), got {images.dtype} "
                f"{tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0],):
            raise DataFormatError(
                f"{images.shape[0]} images but labels of shape {tuple(labels.shape)}; "
                "the image and label files do not belong together"
            )
        self.images = images
        self.labels = labels.to(torch.int64)
        self.source = source

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].unsqueeze(0).to(torch.float32).div_(255.0)
        return image, int(self.labels[index])

    def __repr__(self) -> str:
        return f"MnistDataset(n={len(self)}, source={self.source!r})"


def _load_pair(
    images: bytes, labels: bytes, *, names: tuple[str, str], source: str
) -> MnistDataset:
    image_array = read_idx_bytes(images, name=names[0])
    label_array = read_idx_bytes(labels, name=names[1])
    if image_array.dtype != np.uint8 or label_array.dtype != np.uint8:
        raise DataFormatError(
            f"{names[0]}, {names[1]}: MNIST files hold unsigned bytes, got "
            f"{image_array.dtype} and {label_array.dtype}"
        )
    return MnistDataset(
        torch.from_numpy(image_array), torch.from_numpy(label_array).long(), source=source
    )


def _mirrors() -> list[str]:
    from torchvision.datasets import MNIST

    return list(MNIST.mirrors)


def _fetch(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data: bytes = response.read()
    return data


def _download(base: Path, names: list[str]) -> None:
    target = base / "MNIST" / "raw"
    for name in names:
        errors = []
        for mirror in _mirrors():
            url = f"{mirror}{name}.gz"
            try:
                content = decompress(_fetch(url), name=url, max_bytes=_MAX_FILE_BYTES)
                _verify(content, name, MNIST_SHA256[name], url)
            except (urllib.error.URLError, OSError, EOFError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            atomic_write_bytes(target / name, content)
            break
        else:
            raise DownloadError(
                f"could not download {name} from any MNIST mirror ({'; '.join(errors)}). "
                "If this machine has no network, copy the four MNIST files into a folder and "
                "pass load_mnist(root=FOLDER) or set NNKIT_DATA=FOLDER; "
                "load_mnist_sample() works offline"
            )


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    train: bool = True,
    download: bool = False,
    verify: bool = True,
) -> MnistDataset:
    """Load the MNIST training or test set from disk.

    Parameters
    ----------
    root : str or os.PathLike, optional
        A torchvision-style folder (``root/MNIST/raw/<file>``) or a folder holding the four files
        directly, plain or gzipped. Defaults to :func:`default_data_root` (``$NNKIT_DATA``, then
        the per-user cache folder).
    train : bool
        The 60,000 training images if True, else the 10,000 test images.
    download : bool
        Fetch missing files through torchvision's mirror list into ``root/MNIST/raw``. Each file
        is verified and written atomically: no half-written file is left behind.
    verify : bool
        Check each file against the SHA-256 of the official release.

    Returns
    -------
    MnistDataset
        ``dataset[i]`` is ``(image (1, 28, 28) float32 in [0, 1], label int)``; ``.images`` is
        ``uint8 (N, 28, 28)`` and ``.labels`` ``int64 (N,)``.

    Raises
    ------
    nnkit.errors.DataNotFoundError
        The files are not in ``root`` and ``download`` is False.
    nnkit.errors.ChecksumError
        A file's digest differs from the official one (both digests are in the message).
    nnkit.errors.DataFormatError
        A file is not valid IDX.
    nnkit.errors.DownloadError
        ``download=True`` and no mirror could be reached.

    Examples
    --------
    >>> import os
    >>> if os.environ.get("NNKIT_DATA"):
    ...     ds = load_mnist(train=False)
    ...     assert ds.images.shape == (10000, 28, 28)
    """
    base = Path(root).expanduser() if root is not None else default_data_root()
    split = "train" if train else "test"
    names = [MNIST_FILES[(split, "images")], MNIST_FILES[(split, "labels")]]
    paths = [_locate(base, name) for name in names]
    missing = [name for name, path in zip(names, paths, strict=True) if path is None]
    if missing and download:
        _download(base, missing)
        paths = [_locate(base, name) for name in names]
        missing = [name for name, path in zip(names, paths, strict=True) if path is None]
    if missing:
        looked = tuple(str(p) for p in _candidates(base, missing[0])[::2])
        raise DataNotFoundError(
            f"MNIST file {missing[0]} not found (looked in {', '.join(looked)}). Pass "
            f"root=FOLDER with the files, set {_ENV_VAR}=FOLDER, use download=True, or use "
            "load_mnist_sample() offline",
            missing=missing[0],
            looked=looked,
        )
    found = [p for p in paths if p is not None]
    contents = [_content(p) for p in found]
    if verify:
        for content, name, path in zip(contents, names, found, strict=True):
            _verify(content, name, MNIST_SHA256[name], str(path))
    return _load_pair(
        contents[0], contents[1], names=(str(found[0]), str(found[1])), source=str(base)
    )


def _sample_bytes(name: str) -> bytes:
    resource = resources.files("nnkit").joinpath("_sample", f"{name}.gz")
    return gzip.decompress(resource.read_bytes())


def load_mnist_sample(*, train: bool = True, verify: bool = True) -> MnistDataset:
    """The MNIST sample embedded in the package: works with no data folder and no network.

    The first 10,000 training images and the first 2,000 test images of the official files,
    byte for byte (MNIST is CC BY-SA 3.0, Yann LeCun and Corinna Cortes). They were cut out by
    ``scripts/make_sample.py``; their digests are :data:`~nnkit.data.mnist.SAMPLE_SHA256`.

    Parameters
    ----------
    train : bool
        The 10,000 training images if True, else the 2,000 test images.
    verify : bool
        Check the embedded files against their recorded SHA-256.

    Returns
    -------
    MnistDataset
        As :func:`load_mnist`.

    Examples
    --------
    >>> ds = load_mnist_sample(train=False)
    >>> len(ds), tuple(ds.images.shape), ds[0][0].shape, ds[0][1]
    (2000, (2000, 28, 28), torch.Size([1, 28, 28]), 7)
    """
    split = "train" if train else "test"
    names = [f"sample-{MNIST_FILES[(split, kind)]}" for kind in ("images", "labels")]
    contents = [_sample_bytes(name) for name in names]
    if verify:
        for content, name in zip(contents, names, strict=True):
            _verify(content, name, SAMPLE_SHA256[name], "embedded sample")
    return _load_pair(
        contents[0], contents[1], names=(names[0], names[1]), source="embedded sample"
    )
