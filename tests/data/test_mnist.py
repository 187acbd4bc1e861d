from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from nnkit.data import (
    MNIST_SHA256,
    SAMPLE_SHA256,
    default_data_root,
    find_mnist_files,
    load_mnist,
    load_mnist_sample,
)
from nnkit.data import mnist as mnist_module
from nnkit.errors import ChecksumError, DataFormatError, DataNotFoundError, DownloadError

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def test_sample_sizes_and_types() -> None:
    train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
    assert (len(train), len(test)) == (10_000, 2_000)
    assert train.images.dtype == torch.uint8 and train.images.shape == (10_000, 28, 28)
    assert train.labels.dtype == torch.int64 and train.labels.shape == (10_000,)
    assert set(train.labels.tolist()) == set(range(10))
    image, label = test[0]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert isinstance(label, int)


def test_sample_files_are_small_and_digests_recorded() -> None:
    folder = Path(mnist_module.__file__).parents[1] / "_sample"
    total = sum(p.stat().st_size for p in folder.glob("*.gz"))
    assert total <= 3 * 1024 * 1024
    assert all(len(d) == 64 for d in SAMPLE_SHA256.values())


def test_sample_digest_mismatch_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SAMPLE_SHA256, "sample-t10k-labels-idx1-ubyte", "0" * 64)
    with pytest.raises(ChecksumError, match=r"expected 0{64}, got [0-9a-f]{64}"):
        load_mnist_sample(train=False)


def test_missing_files_error_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"not found .*NNKIT_DATA.*load_mnist_sample"):
        load_mnist(tmp_path)


def test_default_root_reads_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.delenv("NNKIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert default_data_root() == tmp_path / "c" / "nnkit"


@pytest.mark.mnist
def test_full_mnist_loads_and_verifies(mnist_root: Path) -> None:
    train = load_mnist(mnist_root, train=True)
    test = load_mnist(mnist_root, train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.images.shape == (60_000, 28, 28) and test.labels.shape == (10_000,)
    statuses = find_mnist_files(mnist_root)
    assert [s.verified for s in statuses] == [True] * 4


@pytest.mark.mnist
def test_sample_is_the_head_of_the_official_files(mnist_root: Path) -> None:
    full, sample = load_mnist(mnist_root, train=False), load_mnist_sample(train=False)
    assert torch.equal(full.images[:2000], sample.images)
    assert torch.equal(full.labels[:2000], sample.labels)


@pytest.mark.mnist
def test_items_match_torchvision(mnist_root: Path) -> None:
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    ours = load_mnist(mnist_root, train=False)
    theirs = MNIST(str(mnist_root), train=False, transform=ToTensor())
    for i in (0, 1, 4321, 9999):
        assert torch.equal(ours[i][0], theirs[i][0])
        assert ours[i][1] == theirs[i][1]


def _flat_copy(mnist_root: Path, dest: Path, *, gz: bool) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        raw = (mnist_root / "MNIST" / "raw" / name).read_bytes()
        if gz:
            (dest / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (dest / name).write_bytes(raw)
    return dest


@pytest.mark.mnist
@pytest.mark.parametrize("gz", [False, True])
def test_flat_folder_plain_or_gzipped(mnist_root: Path, tmp_path: Path, gz: bool) -> None:
    folder = _flat_copy(mnist_root, tmp_path / "flat", gz=gz)
    ds = load_mnist(folder, train=False)
    assert len(ds) == 10_000
    assert ds.source == str(folder)


@pytest.mark.mnist
def test_env_var_is_used_when_root_is_none(
    mnist_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NNKIT_DATA", str(mnist_root))
    assert len(load_mnist(train=False)) == 10_000


@pytest.mark.mnist
def test_altered_copy_fails_with_both_digests(mnist_root: Path, tmp_path: Path) -> None:
    folder = _flat_copy(mnist_root, tmp_path / "altered", gz=False)
    path = folder / TEST_FILES[0]
    raw = bytearray(path.read_bytes())
    raw[5000] ^= 0xFF
    path.write_bytes(bytes(raw))
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(
        ChecksumError, match=f"expected {MNIST_SHA256[TEST_FILES[0]]}, got {actual}"
    ):
        load_mnist(folder, train=False)
    assert [s.verified for s in find_mnist_files(folder)][2] is False


@pytest.mark.mnist
def test_truncated_copy_fails_clearly(mnist_root: Path, tmp_path: Path) -> None:
    folder = _flat_copy(mnist_root, tmp_path / "truncated", gz=False)
    path = folder / TEST_FILES[0]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataFormatError, match="SHA-256 mismatch"):
        load_mnist(folder, train=False)
    with pytest.raises(DataFormatError, match=r"truncated data.*\(10000, 28, 28\)"):
        load_mnist(folder, train=False, verify=False)


@pytest.mark.mnist
def test_download_from_a_mirror(
    mnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _flat_copy(mnist_root, tmp_path / "mirror", gz=True)
    monkeypatch.setattr(mnist_module, "_mirrors", lambda: [mirror.as_uri() + "/"])
    ds = load_mnist(tmp_path / "root", train=False, download=True)
    assert len(ds) == 10_000
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(TEST_FILES)


@pytest.mark.mnist
def test_download_rejects_a_bad_mirror_file(
    mnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _flat_copy(mnist_root, tmp_path / "bad", gz=False)
    for name in TEST_FILES:  # right names, wrong content
        (bad / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x00"))
    monkeypatch.setattr(mnist_module, "_mirrors", lambda: [bad.as_uri() + "/"])
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        load_mnist(tmp_path / "root", train=False, download=True)
    assert not (tmp_path / "root" / "MNIST" / "raw").exists() or not any(
        (tmp_path / "root" / "MNIST" / "raw").iterdir()
    )


def test_download_without_network_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist_module, "_mirrors", lambda: ["http://127.0.0.1:9/"])
    with pytest.raises(DownloadError, match=r"no network.*root=FOLDER.*NNKIT_DATA"):
        load_mnist(tmp_path, train=False, download=True)
    assert list(tmp_path.rglob("*")) == [] or all(p.is_dir() for p in tmp_path.rglob("*"))


def test_dataset_rejects_mismatched_tensors() -> None:
    from nnkit.data import MnistDataset

    with pytest.raises(DataFormatError, match=r"uint8 of shape \(N, 28, 28\)"):
        MnistDataset(torch.zeros(2, 28, 28), torch.zeros(2))
    with pytest.raises(DataFormatError, match="do not belong together"):
        MnistDataset(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(3))


def test_sample_head_matches_known_labels() -> None:
    # The first ten training labels of the official MNIST release.
    np.testing.assert_array_equal(
        load_mnist_sample(train=True).labels[:10].numpy(), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    )
