"""Hooks into :func:`nnkit.train.fit`: early stopping, checkpointing, logging, your own.

A callback subclasses :class:`Callback` and overrides any of its methods; each receives the live
:class:`TrainState`. Setting ``state.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ._atomic import atomic_write_bytes, atomic_write_text
from .history import EpochRecord, History

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "JSONLogger",
    "ModelCheckpoint",
    "TrainState",
]


@dataclass
class TrainState:
    """What a callback can see and change while :func:`~nnkit.train.fit` runs.

    Attributes
    ----------
    model : torch.nn.Module
        The model being trained (the original module, also when ``compile=True``).
    optimizer : torch.optim.Optimizer
        Its optimizer.
    history : History
        Records of the epochs finished so far.
    epochs : int
        The last epoch that will run.
    epoch : int
        The current epoch, 1-based.
    step : int
        The current batch within the epoch, 1-based (0 before the first batch).
    batch_loss : torch.Tensor or None
        The last batch's loss (detached; calling ``.item()`` costs a device sync).
    stop_training : bool
        Set to True to stop after the current epoch.
    is_main_process : bool
        False on the non-zero ranks of a distributed run: they should not write files.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: History
    epochs: int
    epoch: int = 0
    step: int = 0
    batch_loss: torch.Tensor | None = None
    stop_training: bool = False
    is_main_process: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base class of training callbacks: every method is a no-op to override.

    Examples
    --------
    >>> class CountBatches(Callback):
    ...     def __init__(self) -> None:
    ...         self.n = 0
    ...     def on_batch_end(self, state: TrainState) -> None:
    ...         self.n += 1
    """

    def on_train_begin(self, state: TrainState) -> None:
        """Before the first epoch (after a resume has been applied)."""

    def on_epoch_begin(self, state: TrainState) -> None:
        """Before the first batch of ``state.epoch``."""

    def on_batch_begin(self, state: TrainState) -> None:
        """Before batch ``state.step``."""

    def on_batch_end(self, state: TrainState) -> None:
        """After the optimizer step of batch ``state.step``; ``state.batch_loss`` is set."""

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        """After an epoch, its evaluation and its record."""

    def on_train_end(self, state: TrainState) -> None:
        """After the last epoch, also after an early stop or Ctrl-C."""


def _resolve_mode(monitor: str, mode: Literal["auto", "min", "max"]) -> Literal["min", "max"]:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if "accuracy" in monitor else "min"


class _Monitor:
    """Tracks the best value of one metric."""

    def __init__(self, monitor: str, mode: Literal["auto", "min", "max"], min_delta: float) -> None:
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, record: EpochRecord) -> float:
        value = record.get(self.monitor)
        if value is None:
            raise ValueError(
                f"cannot monitor {self.monitor!r}: the epoch record has no such value "
                "(test metrics need test data passed to fit)"
            )
        return value

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping(Callback):
    """Stop when a metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        An :class:`~nnkit.history.EpochRecord` field or extra key, e.g. ``"test_loss"``.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks max for accuracies, else min.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best : bool
        Put back the weights of the best epoch when stopping.
    """

    def __init__(
        self,
        monitor: str = "test_loss",
        *,
        mode: Literal["auto", "min", "max"] = "auto",
        patience: int = 3,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best = restore_best
        self.wait = 0
        self.best_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self._monitor.improved(self._monitor.value(record)):
            self.wait = 0
            self.best_epoch = record.epoch
            if self.restore_best:
                self._best_state = {
                    k: v.detach().clone() for k, v in state.model.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait > self.patience:
            state.stop_training = True

    def on_train_end(self, state: TrainState) -> None:
        if state.stop_training and self.restore_best and self._best_state is not None:
            state.model.load_state_dict(self._best_state)


class ModelCheckpoint(Callback):
    """Save the model's weights (its ``state_dict``) after epochs, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Where to save; may contain ``{epoch}`` (``"ck-{epoch:02d}.pt"``) to keep every epoch.
    save_best_only : bool
        Save only when ``monitor`` improves.
    monitor, mode
        As in :class:`EarlyStopping`.

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
        monitor: str = "test_loss",
        mode: Literal["auto", "min", "max"] = "auto",
    ) -> None:
        self.path = str(path)
        self.save_best_only = save_best_only
        self._monitor = _Monitor(monitor, mode, 0.0)
        self.saved: list[Path] = []

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
        rows = []
        for r in state.history.records:
            row = {k: v for k, v in dataclasses.asdict(r).items() if k != "extra"}
            rows.append({**row, **r.extra})
        columns = list(dict.fromkeys(k for row in rows for k in row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, out.getvalue())
