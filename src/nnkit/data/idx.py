"""Reading the IDX file format that MNIST is distributed in."""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataFormatError

__all__ = ["DEFAULT_MAX_BYTES", "decompress", "read_idx", "read_idx_bytes"]

#: IDX type code -> big-endian numpy dtype (as in LeCun's format description).
_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"
#: The largest array :func:`~nnkit.data.read_idx` builds unless told otherwise (``max_bytes``): 2
#: GiB, forty
#: times the MNIST training images. A header that declares more is refused before anything is
#: decompressed or allocated (a gzip "bomb" of a few MB can otherwise expand to GBs).
DEFAULT_MAX_BYTES = 2**31
#: numpy's limit on the number of dimensions.
_MAX_DIMS = 64


class _Reader:
    """Reads a plain or gzip-compressed IDX stream, turning every failure into one error."""

    def __init__(self, raw: bytes, name: str) -> None:
        self.name = name
        buffer = io.BytesIO(raw)
        self.stream: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=buffer, mode="rb") if raw[:2] == _GZIP_MAGIC else buffer
        )

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data."""
        try:
            return self.stream.read(n)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataFormatError(f"{self.name}: not a valid gzip stream ({exc})") from exc


def decompress(raw: bytes, *, name: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The content of a gzip stream (or ``raw`` itself when it is not gzip), at most ``max_bytes``.

    Raises
    ------
    nnkit.errors.DataFormatError
        The stream is damaged or expands to more than ``max_bytes``.

    Examples
    --------
    >>> import gzip
    >>> decompress(gzip.compress(b"abc"))
    b'abc'
    """
    reader = _Reader(raw, name)
    content = reader.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise DataFormatError(f"{name}: expands to more than {max_bytes} bytes; refused")
    return content


def read_idx_bytes(
    raw: bytes, *, name: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray:
    """Parse IDX data already in memory (plain or gzip-compressed).

    The header is read first; then exactly the bytes it declares are read (and, for gzip, only
    those are decompressed), so a damaged or malicious file is refused before a large array is
    allocated.

    Parameters
    ----------
    raw : bytes
        The file's content.
    name : str
        What to call the data in error messages (usually the file name).
    max_bytes : int
        Refuse a header that declares more data than this
        (:data:`~nnkit.data.idx.DEFAULT_MAX_BYTES`).

    Returns
    -------
    numpy.ndarray
        The array, in native byte order, with the shape stored in the header.

    Raises
    ------
    nnkit.errors.DataFormatError
        If the bytes are not a complete, consistent IDX file, or declare too much data.

    Examples
    --------
    >>> raw = bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])
    >>> read_idx_bytes(raw)
    array([7, 8, 9], dtype=uint8)
    """
    reader = _Reader(raw, name)
    head = reader.read(4)
    if len(head) == 0:
        raise DataFormatError(f"{name}: file is empty, expected an IDX header")
    if len(head) < 4:
        raise DataFormatError(f"{name}: truncated header, {len(head)} bytes, expected at least 4")
    if head[0] != 0 or head[1] != 0:
        raise DataFormatError(
            f"{name}: bad magic number 0x{head.hex()}, an IDX file starts with two zero bytes"
        )
    code, ndim = head[2], head[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise DataFormatError(
            f"{name}: unknown IDX data type code 0x{code:02X}, expected one of {known}"
        )
    if not 1 <= ndim <= _MAX_DIMS:
        raise DataFormatError(
            f"{name}: header declares {ndim} dimensions, expected 1 to {_MAX_DIMS}"
        )
    sizes = reader.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataFormatError(
            f"{name}: truncated header, {4 + len(sizes)} bytes, expected {4 + 4 * ndim} for "
            f"{ndim} dimensions"
        )
    dims = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[code])
    expected = math.prod(dims) * dtype.itemsize
    if expected > max_bytes:
        raise DataFormatError(
            f"{name}: header declares shape {dims}, {expected:,} bytes of data, more than the "
            f"{max_bytes:,} accepted (max_bytes); refused before reading it"
        )
    data = reader.read(expected)
    if len(data) < expected:
        raise DataFormatError(
            f"{name}: truncated data, header declares shape {dims} ({expected} bytes) "
            f"but only {len(data)} bytes follow"
        )
    if reader.read(1):
        raise DataFormatError(
            f"{name}: unexpected trailing bytes after the {expected} bytes that shape {dims} "
            "declares"
        )
    try:
        array = np.frombuffer(data, dtype=dtype).reshape(dims)
    except ValueError as exc:  # a shape numpy cannot hold, e.g. (0, 2**32 - 1, 2**32 - 1)
        raise DataFormatError(
            f"{name}: header declares shape {dims}, which is not an array numpy can hold ({exc})"
        ) from exc
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into a numpy array.

    The format is the one MNIST ships in: two zero bytes, a type code (``0x08`` unsigned byte,
    ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64),
    the number of dimensions, one big-endian uint32 per dimension, then the data, big-endian.
    Compression is recognised by content, not by the file name.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    numpy.ndarray
        For MNIST images ``uint8`` of shape ``(N, 28, 28)``; for labels ``uint8`` ``(N,)``.

    Raises
    ------
    nnkit.errors.DataFormatError
        If the file is empty, truncated, has a bad magic number or type code, its size
        disagrees with its header, its gzip stream is damaged, or its header declares more than
        ``max_bytes`` of data (refused before decompressing it). The message names the file
        and what was wrong.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
    >>> _ = p.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 5, 6]))
    >>> read_idx(p).tolist()
    [5, 6]
    """
    p = Path(path)
    return read_idx_bytes(p.read_bytes(), name=str(p), max_bytes=max_bytes)
