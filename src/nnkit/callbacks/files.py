"""Callbacks that write files after every epoch: weights, and the history as CSV or JSON."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch

from .._atomic import atomic_write_bytes, atomic_write_text
from .._monitor import Monitor
from .._validate import boolean
from ..history import EpochRecord
from .base import Callback, TrainState

__all__ = ["CSVLogger", "JSONLogger", "ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model's weights (its ``state_dict``) after epochs, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Where to save; may contain ``{epoch}`` (``"ck-{epoch:02d}.pt"``) to keep every epoch.
    save_best_only : bool
        Save only when ``monitor`` improves. The best value so far is part of ``fit``'s
        checkpoint, so a resumed run does not overwrite a better file with a worse one.
    monitor, mode
        As in :class:`EarlyStopping` (read only with ``save_best_only``; ``"val_loss"`` by
        default, as in Keras).

    Notes
    -----
    This saves weights for inference (load with ``torch.load(path, weights_only=True)``). To
    resume training exactly, use ``fit(..., checkpoint=path, resume=True)`` instead.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: Literal["auto", "min", "max"] = "auto",
    ) -> None:
        self.path = os.fspath(path)
        self.save_best_only = boolean(save_best_only, "save_best_only", what="ModelCheckpoint")
        self._monitor = Monitor(monitor, mode, 0.0)
        self.saved: list[Path] = []

    @property
    def monitors(self) -> tuple[str, ...]:
        return (self._monitor.monitor,) if self.save_best_only else ()

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self.save_best_only and not self._monitor.improved(self._monitor.value(record)):
            return
        if not state.is_main_process:
            return
        target = Path(self.path.format(epoch=record.epoch))
        buffer = io.BytesIO()
        torch.save(state.model.state_dict(), buffer)
        atomic_write_bytes(target, buffer.getvalue())
        self.saved.append(target)

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self._monitor.state_dict(), "saved": [str(p) for p in self.saved]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._monitor.load_state_dict(state["monitor"])
        self.saved = [Path(p) for p in state["saved"]]


class JSONLogger(Callback):
    """Rewrite the whole history as JSON (atomically) after every epoch."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if state.is_main_process:
            state.history.to_json(self.path)


class CSVLogger(Callback):
    """Rewrite the history as CSV (atomically) after every epoch, one row per epoch."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if not state.is_main_process:
            return
        rows = state.history.rows()
        columns = list(dict.fromkeys(k for row in rows for k in row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, out.getvalue())
