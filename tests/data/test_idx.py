from __future__ import annotations

import contextlib
import gzip
import math
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit.data import read_idx, read_idx_bytes
from nnkit.errors import DataFormatError

CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def encode(array: np.ndarray) -> bytes:
    code = CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(CODES))
def test_round_trip_every_dtype(dtype: type, tmp_path: Path) -> None:
    array = (np.arange(24) - 7).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / "x-idx3"
    path.write_bytes(encode(array))
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_gzip_recognised_by_content(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    path = tmp_path / "no-gz-suffix"
    path.write_bytes(gzip.compress(encode(array)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_result_is_writable() -> None:
    result = read_idx_bytes(encode(np.arange(3, dtype=np.uint8)))
    result[0] = 9
    assert result[0] == 9


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "empty"),
        (b"\x00\x00", "truncated header"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX data type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", r"truncated data.*\(3,\).*only 1 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "unexpected trailing bytes"),
        (b"\x00\x00\x08\x41" + b"\x00\x00\x00\x01" * 65, "65 dimensions, expected 1 to 64"),
        (b"\x00\x00\x08\x03" + struct.pack(">III", 0, 2**32 - 1, 2**32 - 1), "numpy can hold"),
        (b"\x1f\x8b\x08\x00garbage", "not a valid gzip stream"),
    ],
)
def test_corrupt_input_raises_data_format_error(raw: bytes, match: str, tmp_path: Path) -> None:
    path = tmp_path / "bad-file"
    path.write_bytes(raw)
    with pytest.raises(DataFormatError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_huge_declared_size_fails_without_allocating() -> None:
    raw = b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 16
    with pytest.raises(DataFormatError, match="refused before reading it"):
        read_idx_bytes(raw)
    small = b"\x00\x00\x08\x01" + struct.pack(">I", 1000) + bytes(1000)
    assert read_idx_bytes(small, max_bytes=1000).shape == (1000,)
    with pytest.raises(DataFormatError, match="more than the 999 accepted"):
        read_idx_bytes(small, max_bytes=999)


def _peak_allocation(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(DataFormatError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gzip_bombs_are_refused_without_expanding_them() -> None:
    # a header that declares 4.3 GB, and a few MB of gzip that would expand to it
    declares_big = b"\x00\x00\x08\x02" + struct.pack(">II", 4300, 1_000_000)
    bomb = gzip.compress(declares_big + bytes(64 * 1024**2), compresslevel=1)
    assert len(bomb) < 1024**2
    with pytest.raises(DataFormatError, match=r"4,300,000,000 bytes of data.*refused"):
        read_idx_bytes(bomb)
    # a small, valid header followed by 64 MB of zeros: refused at the first trailing byte
    trailing = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03abc" + bytes(64 * 1024**2))
    with pytest.raises(DataFormatError, match="unexpected trailing bytes"):
        read_idx_bytes(trailing)
    for raw in (bomb, trailing):  # neither is expanded: far less memory than 64 MB
        assert _peak_allocation(lambda raw=raw: read_idx_bytes(raw)) < 8 * 1024**2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_only_ever_raise_data_format_error(raw: bytes) -> None:
    with contextlib.suppress(DataFormatError):
        read_idx_bytes(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(CODES.values())),
    st.lists(st.integers(0, 6), min_size=1, max_size=3),
    st.binary(max_size=400),
)
def test_random_payload_after_valid_header(code: int, dims: list[int], payload: bytes) -> None:
    raw = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
    try:
        result = read_idx_bytes(raw)
    except DataFormatError:
        return
    assert result.shape == tuple(dims)
    assert result.nbytes == len(payload)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_gzip_content_only_raises_data_format_error(raw: bytes) -> None:
    with contextlib.suppress(DataFormatError):
        read_idx_bytes(gzip.compress(raw))


VALID = encode((np.arange(60) % 256).reshape(3, 4, 5).astype(np.uint8))


@settings(max_examples=400, deadline=None)
@given(
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_damaged_files_only_raise_data_format_error(
    compressed: bool, flips: list[tuple[int, int]], cut: int | None
) -> None:
    """Byte mutations and truncations of a valid file, plain or gzip (headers, payloads, gzip
    headers, deflate data and CRCs alike): a result of the declared size, or DataFormatError."""
    raw = bytearray(gzip.compress(VALID) if compressed else VALID)
    for position, value in flips:
        raw[position % len(raw)] = value
    if cut is not None:
        raw = raw[: cut % (len(raw) + 1)]
    try:
        result = read_idx_bytes(bytes(raw), name="damaged")
    except DataFormatError as exc:
        message = str(exc)
    else:
        assert result.nbytes == math.prod(result.shape) * result.itemsize
        return
    assert message.startswith("damaged: ")  # the message names the file
