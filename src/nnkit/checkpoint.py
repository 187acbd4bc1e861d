"""Saving and loading training state: atomic writes, safe reads (``weights_only=True``)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from ._atomic import atomic_write_bytes
from .errors import CheckpointError

__all__ = ["load_checkpoint", "save_checkpoint"]

_FORMAT = "nnkit-checkpoint"
_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) atomically.

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
    buffer = io.BytesIO()
    torch.save({"format": _FORMAT, "version": _VERSION, **state}, buffer)
    target = Path(path)
    atomic_write_bytes(target, buffer.getvalue())
    return target


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, without unpickling code.

    Uses ``torch.load(..., weights_only=True)``: only tensors and plain containers are read, so a
    malicious file cannot run code.

    Raises
    ------
    nnkit.errors.CheckpointError
        The file is missing, unreadable, or not an nnkit checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise CheckpointError(f"cannot read checkpoint {p}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError(f"{p} is not an nnkit checkpoint (no '{_FORMAT}' marker)")
    return state
