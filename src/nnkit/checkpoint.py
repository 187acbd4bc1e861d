"""Saving and loading training state: atomic writes, safe reads (``weights_only=True``), and a
digest that finds any change to a file's content.

A file holds ``{"format": "nnkit-checkpoint", "version": 2, "sha256": ..., "payload": ...}``:
the state itself, serialised by ``torch.save``, is the ``payload`` (bytes as a ``uint8``
tensor), and ``sha256`` its SHA-256. Loading checks the digest before it reads the state, so
a flipped bit anywhere in the tensors or the settings is a :class:`~nnkit.errors.CheckpointError`,
never a silently different model. Files of version 1 (before the digest) still load.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ._atomic import atomic_write_bytes
from ._validate import one_line
from .errors import CheckpointError

__all__ = ["load_checkpoint", "save_checkpoint"]

_FORMAT = "nnkit-checkpoint"
_VERSION = 2
#: Versions this nnkit reads: 1 (no digest) and 2.
_READABLE = (1, 2)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) atomically, with
    the SHA-256 of its content.

    The file is first written in full to a temporary file beside ``path`` and then renamed over
    it, so an interrupted save never corrupts the previous checkpoint.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ck.pt"
    >>> _ = save_checkpoint(p, {"epoch": 3, "w": torch.ones(2)})
    >>> load_checkpoint(p)["epoch"]
    3
    """
    inner = io.BytesIO()
    torch.save(state, inner)
    raw = inner.getvalue()
    outer = io.BytesIO()
    torch.save(
        {
            "format": _FORMAT,
            "version": _VERSION,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "payload": torch.frombuffer(bytearray(raw), dtype=torch.uint8),
        },
        outer,
    )
    target = Path(path)
    atomic_write_bytes(target, outer.getvalue())
    return target


def _read(source: Path | io.BytesIO, name: Path, map_location: Any) -> Any:
    """``torch.load(weights_only=True)``, with its errors as one line naming the file."""
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported operand" in str(exc):  # not a pickle at all: bytes of something else
            raise CheckpointError(
                f"cannot read {name}: it is damaged, truncated or not a PyTorch file"
            ) from exc
        raise CheckpointError(  # what weights_only refuses: objects beyond plain data
            f"{name} holds Python objects other than tensors and plain data, so it is not a "
            "file nnkit wrote; it was not loaded, since unpickling such objects can run code"
        ) from exc
    except Exception as exc:  # torch raises many types for damaged or foreign files
        raise CheckpointError(
            f"cannot read {name}: it is damaged, truncated or not a PyTorch file "
            f"({one_line(exc, 160)})"
        ) from exc


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, without unpickling code, and
    check its digest.

    Uses ``torch.load(..., weights_only=True)``: only tensors and plain containers are read, so a
    malicious file cannot run code.

    Raises
    ------
    nnkit.errors.CheckpointError
        The file is missing, unreadable, not an nnkit checkpoint, or its content differs from
        what was written (the digest does not match). The message is one line naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    outer = _read(p, p, map_location)  # a version-2 payload is bytes: it stays in memory
    if not isinstance(outer, dict) or outer.get("format") != _FORMAT:
        raise CheckpointError(f"{p} is not an nnkit checkpoint (no '{_FORMAT}' marker)")
    version = outer.get("version", 1)
    if version not in _READABLE:
        raise CheckpointError(
            f"{p} is an nnkit checkpoint of version {version!r}; this nnkit reads versions "
            f"{', '.join(map(str, _READABLE))}"
        )
    if version == 1:
        return outer
    payload, digest = outer.get("payload"), outer.get("sha256")
    if not (isinstance(payload, torch.Tensor) and payload.dtype == torch.uint8) or not (
        isinstance(digest, str)
    ):
        raise CheckpointError(f"{p} is damaged: it lacks its content or its digest")
    raw = payload.cpu().numpy().tobytes()
    if hashlib.sha256(raw).hexdigest() != digest:
        raise CheckpointError(
            f"{p} is damaged: its content differs from what was written (SHA-256 mismatch); "
            "restore it from a copy or write it again"
        )
    state = _read(io.BytesIO(raw), p, map_location)
    if not isinstance(state, dict):
        raise CheckpointError(f"{p} is not an nnkit checkpoint (its content is not a dict)")
    return state
