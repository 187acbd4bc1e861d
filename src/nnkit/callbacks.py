"""Hooks into :func:`nnkit.train.fit`: early stopping, checkpointing, logging, your own.

A callback subclasses :class:`Callback` and overrides any of its methods; each receives the live
:class:`TrainState`. Setting ``state.stop_training = True`` ends training (mid-epoch, when set in
``on_batch_end``; the epoch so far is then evaluated and recorded). A callback that keeps state
across epochs (a best value, best weights) returns it from :meth:`Callback.state_dict` and takes
it back in :meth:`Callback.load_state_dict`: ``fit`` saves it in its checkpoint, so a resumed
run continues exactly as the uninterrupted one would (Keras's ``BackupAndRestore``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ._atomic import atomic_write_bytes, atomic_write_text
from ._monitor import Monitor
from ._validate import boolean, non_negative_int
from .history import EpochRecord, History

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "JSONLogger",
    "KeepBest",
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
    epochs : int or None
        The last epoch that may run (None when only ``max_steps`` or ``max_seconds`` bound it).
    epoch : int
        The current epoch, 1-based.
    step : int
        The current batch within the epoch, 1-based (0 before the first batch).
    global_step : int
        Optimizer steps taken since the run began (resumed runs count the earlier ones).
    elapsed : float
        Seconds since the run began (training, evaluation and callbacks; resumed runs count
        the earlier ones), as of the last step or epoch end.
    progress : float
        Share of the budget spent, 0 to 1 (what :mod:`nnkit.schedules` read).
    batch_loss : torch.Tensor or None
        The last batch's loss (detached; calling ``.item()`` costs a device sync).
    stop_training : bool
        Set to True to stop training (see the module's introduction).
    is_main_process : bool
        False on the non-zero ranks of a distributed run: they should not write files.
    extra : dict
        Free space for callbacks to share values.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: History
    epochs: int | None
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    elapsed: float = 0.0
    progress: float = 0.0
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

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember across a resume (tensors and plain data only,
        for a ``weights_only`` checkpoint); nothing by default."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (called before ``on_train_begin``)."""


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class KeepBest(Callback):
    """Remember the weights of the best epoch and put them back when training ends.

    After every epoch, if ``monitor`` reached a new best, a copy of the model's ``state_dict``
    is kept (in memory, and in ``fit``'s checkpoint, so a resumed run still knows it); when
    training ends, for whatever reason, the model gets those weights back. Small data overfits
    long before a budget runs out; this is what :func:`nnkit.text.train` uses.

    Parameters
    ----------
    monitor : str
        An :class:`~nnkit.history.EpochRecord` field or extra key, e.g. ``"test_loss"``.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks max for accuracies, else min.
    min_delta : float
        The smallest change that counts as an improvement.

    Attributes
    ----------
    best_epoch : int or None
        The epoch whose weights are kept.

    Examples
    --------
    >>> from nnkit.train import fit
    >>> x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> keep = KeepBest("test_loss")
    >>> history = fit(torch.nn.Linear(2, 2), (x, y), test=(x, y), epochs=3, device="cpu",
    ...               progress=False, callbacks=[keep])
    >>> keep.best_epoch == history.best("test_loss").epoch
    True
    """

    def __init__(
        self,
        monitor: str = "test_loss",
        *,
        mode: Literal["auto", "min", "max"] = "auto",
        min_delta: float = 0.0,
    ) -> None:
        self._monitor = Monitor(monitor, mode, min_delta)
        self.best_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None

    @property
    def best(self) -> float:
        """The best monitored value so far."""
        return self._monitor.best

    def _track(self, state: TrainState, record: EpochRecord) -> bool:
        """Keep the weights if this epoch is a new best; True if it is."""
        if not self._monitor.improved(self._monitor.value(record)):
            return False
        self.best_epoch = record.epoch
        self._best_state = _snapshot(state.model)
        return True

    def _restore(self, state: TrainState) -> None:
        if self._best_state is not None:
            state.model.load_state_dict(self._best_state)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        self._track(state, record)

    def on_train_end(self, state: TrainState) -> None:
        self._restore(state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self._monitor.state_dict(),
            "best_epoch": self.best_epoch,
            "weights": self._best_state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._monitor.load_state_dict(state["monitor"])
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        self._best_state = state["weights"]


class EarlyStopping(KeepBest):
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
        When this callback stops training, put back the weights of the best epoch (kept as by
        :class:`KeepBest`, checkpoint included).
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
        super().__init__(monitor, mode=mode, min_delta=min_delta)
        self.patience = non_negative_int(patience, "patience", what="EarlyStopping")
        self.restore_best = boolean(restore_best, "restore_best", what="EarlyStopping")
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self.restore_best:
            improved = self._track(state, record)
        else:
            improved = self._monitor.improved(self._monitor.value(record))
            if improved:
                self.best_epoch = record.epoch
        if improved:
            self.wait = 0
            return
        self.wait += 1
        if self.wait > self.patience:
            state.stop_training = True
            self.stopped_epoch = record.epoch

    def on_train_end(self, state: TrainState) -> None:
        if self.stopped_epoch is not None and self.restore_best:
            self._restore(state)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.wait = int(state["wait"])
        stopped = state["stopped_epoch"]
        self.stopped_epoch = None if stopped is None else int(stopped)


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
        self.path = os.fspath(path)
        self.save_best_only = boolean(save_best_only, "save_best_only", what="ModelCheckpoint")
        self._monitor = Monitor(monitor, mode, 0.0)
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
