"""Logging every epoch to TensorBoard: :class:`TensorBoard`."""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

from ..errors import MissingDependencyError
from ..history import EpochRecord
from .base import Callback, TrainState

__all__ = ["TensorBoard", "scalar_tags"]


def scalar_tags(record: EpochRecord) -> dict[str, float]:
    """The scalars :class:`TensorBoard` writes for one epoch, by tag: the losses, the
    accuracies and every metric as ``<name>/train`` and ``<name>/val`` (so TensorBoard draws
    the two in one chart), and the learning rate as ``lr``.

    Examples
    --------
    >>> from nnkit.history import EpochRecord
    >>> scalar_tags(EpochRecord(1, 0.5, val_loss=0.7, lr=0.01, extra={"val_bpc": 2.0}))
    {'loss/train': 0.5, 'loss/val': 0.7, 'lr': 0.01, 'bpc/val': 2.0}
    """
    values: dict[str, float | None] = {
        "train_loss": record.train_loss,
        "train_accuracy": record.train_accuracy,
        "val_loss": record.val_loss,
        "val_accuracy": record.val_accuracy,
        "lr": record.lr,
        **record.extra,
    }
    tags: dict[str, float] = {}
    for key, value in values.items():
        if value is None or not math.isfinite(value):
            continue
        split, _, name = key.partition("_")
        tags[f"{name}/{split}" if split in ("train", "val") and name else key] = float(value)
    return tags


class TensorBoard(Callback):
    """Write every epoch's losses, metrics and learning rate to TensorBoard event files.

    Needs the ``tensorboard`` package (``pip install tensorboard``, or the ``tensorboard``
    extra of this package: ``pip install ".[tensorboard]"`` from its repository); it is looked
    for when the callback is made, before anything trains. The writer is PyTorch's
    ``torch.utils.tensorboard.SummaryWriter``; the step of each scalar is the epoch, so a
    resumed run continues the curves. Under torchrun only rank 0 writes. See
    :func:`scalar_tags` for the names.

    Parameters
    ----------
    log_dir : str or os.PathLike
        The folder of the event files (``tensorboard --logdir`` its parent to compare runs).

    Examples
    --------
    >>> import tempfile, torch
    >>> from nnkit.train import fit
    >>> x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    >>> board = TensorBoard(tempfile.mkdtemp())
    >>> history = fit(torch.nn.Linear(2, 2), (x, y), epochs=2, device="cpu", progress=False,
    ...               callbacks=[board])
    >>> board.written
    2
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "runs") -> None:
        if importlib.util.find_spec("tensorboard") is None:
            raise MissingDependencyError(
                "nnkit.callbacks.TensorBoard needs the tensorboard package: pip install tensorboard"
            )
        self.log_dir = os.fspath(log_dir)
        self.written = 0
        self._writer: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        if state.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.log_dir)

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self._writer is None:
            return
        for tag, value in scalar_tags(record).items():
            self._writer.add_scalar(tag, value, record.epoch)
        self._writer.flush()
        self.written += 1

    def on_train_end(self, state: TrainState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
