"""Callbacks that watch one metric: :class:`KeepBest` and :class:`EarlyStopping`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from .._monitor import Monitor
from .._validate import boolean, non_negative_int
from ..history import EpochRecord
from .base import Callback, TrainState

__all__ = ["EarlyStopping", "KeepBest"]


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class KeepBest(Callback):
    """Remember the weights of the best epoch and put them back when training ends.

    After every epoch, if ``monitor`` reached a new best, a copy of the model's ``state_dict``
    is kept (in memory, and in ``fit``'s checkpoint, so a resumed run still knows it); when
    training ends, for whatever reason, the model gets those weights back and
    ``history.weights_epoch`` says which epoch they are from. Small data overfits long before
    a budget runs out; this is what :func:`nnkit.text.train` uses.

    Parameters
    ----------
    monitor : str
        An :class:`~nnkit.history.EpochRecord` field or extra key; ``"val_loss"`` (the
        default, as in Keras) needs validation data.
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
    >>> import torch
    >>> from nnkit.train import fit
    >>> x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> keep = KeepBest("val_loss")
    >>> history = fit(torch.nn.Linear(2, 2), (x, y), val=(x, y), epochs=3, device="cpu",
    ...               progress=False, callbacks=[keep])
    >>> keep.best_epoch == history.best("val_loss").epoch == history.weights_epoch
    True
    """

    def __init__(
        self,
        monitor: str = "val_loss",
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

    @property
    def monitors(self) -> tuple[str, ...]:
        return (self._monitor.monitor,)

    def _track(self, state: TrainState, record: EpochRecord) -> bool:
        """Keep the weights if this epoch is a new best; True if it is."""
        if not self._monitor.improved(self._monitor.value(record)):
            return False
        self.best_epoch = record.epoch
        self._best_state = _snapshot(state.model)
        return True

    def _restore(self, state: TrainState) -> None:
        if self._best_state is not None and self.best_epoch is not None:
            state.model.load_state_dict(self._best_state)
            state.weights_restored(self.best_epoch)

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
    """Stop when a metric has not improved for ``patience`` epochs, as Keras and Lightning do.

    The first epoch sets the best value; every epoch that does not improve on it by more than
    ``min_delta`` adds one to a count that an improvement resets; when the count reaches
    ``patience``, training stops after that epoch (``history.stop_reason ==
    "early_stopping"``). So with ``patience=3`` and a metric that gets worse from the first
    epoch on, the run ends after epoch 4, as in Keras's documentation.

    Parameters
    ----------
    monitor : str
        An :class:`~nnkit.history.EpochRecord` field or extra key; ``"val_loss"`` (the
        default) needs validation data.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks max for accuracies, else min.
    patience : int
        Epochs without improvement after which training stops (0: the first one).
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best : bool
        When this callback stops training, put back the weights of the best epoch (kept as by
        :class:`KeepBest`, checkpoint included); ``history.weights_epoch`` then names it.

    Attributes
    ----------
    wait : int
        Epochs since the last improvement.
    stopped_epoch : int or None
        The epoch after which it stopped training.

    Examples
    --------
    >>> import torch
    >>> from nnkit.train import fit
    >>> x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> worse = (x, 1 - y)  # validation labels that training makes worse
    >>> stopper = EarlyStopping("val_loss", patience=2)
    >>> history = fit(torch.nn.Linear(2, 2), (x, y), val=worse, epochs=20, lr=0.05,
    ...               device="cpu", progress=False, callbacks=[stopper])
    >>> history.stop_reason, stopper.stopped_epoch == stopper.best_epoch + 2
    ('early_stopping', True)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
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
        if self.wait >= self.patience:
            state.request_stop("early_stopping")
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
