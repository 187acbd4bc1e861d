"""Reading the IDX file format that MNIST is distributed in."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataFormatError

__all__ = ["read_idx", "read_idx_bytes"]

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


def _decompress(raw: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{name}: not a valid gzip stream ({exc})") from exc


def read_idx_bytes(raw: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX data already in memory (plain or gzip-compressed).

    Parameters
    ----------
    raw : bytes
        The file's content.
    name : str
        What to call the data in error messages (usually the file name).

    Returns
    -------
    numpy.ndarray
        The array, in native byte order, with the shape stored in the header.

    Raises
    ------
    nnkit.errors.DataFormatError
        If the bytes are not a complete, consistent IDX file.

    Examples
    --------
    >>> raw = bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])
    >>> read_idx_bytes(raw)
    array([7, 8, 9], dtype=uint8)
    """
    if raw[:2] == _GZIP_MAGIC:
        raw = _decompress(raw, name)
    if len(raw) == 0:
        raise DataFormatError(f"{name}: file is empty, expected an IDX header")
    if len(raw) < 4:
        raise DataFormatError(f"{name}: truncated header, {len(raw)} bytes, expected at least 4")
    if raw[0] != 0 or raw[1] != 0:
        raise DataFormatError(
            f"{name}: bad magic number 0x{raw[:4].hex()}, an IDX file starts with two zero bytes"
        )
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise DataFormatError(
            f"{name}: unknown IDX data type code 0x{code:02X}, expected one of {known}"
        )
    if ndim == 0:
        raise DataFormatError(f"{name}: header declares 0 dimensions, expected at least 1")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(
            f"{name}: truncated header, {len(raw)} bytes, expected {header} for {ndim} dimensions"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[code])
    expected = math.prod(dims) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataFormatError(
            f"{name}: truncated data, header declares shape {dims} ({expected} bytes) "
            f"but only {found} bytes follow"
        )
    if found > expected:
        raise DataFormatError(
            f"{name}: {found - expected} unexpected trailing bytes after the {expected} bytes "
            f"that shape {dims} declares"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
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
        If the file is empty, truncated, has a bad magic number or type code, or its size
        disagrees with its header. The message names the file and what was wrong.
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
    return read_idx_bytes(p.read_bytes(), name=str(p))
