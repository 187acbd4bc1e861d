"""Hooks into :func:`nnkit.train.fit`: early stopping, keep-best, checkpoints, logs, your own.

A callback subclasses :class:`Callback` and overrides any of its methods; each receives a
read-only :class:`TrainState`. Setting ``state.stop_training = True`` ends training
(mid-epoch, when set in ``on_batch_end``; the epoch so far is then evaluated and recorded). A
callback that keeps state across epochs (a best value, best weights) returns it from
:meth:`Callback.state_dict` and takes it back in :meth:`Callback.load_state_dict`: ``fit``
saves it in its checkpoint, so a resumed run continues exactly as the uninterrupted one would
(Keras's ``BackupAndRestore``). A callback that reads a metric names it in
:attr:`Callback.monitors`, and ``fit`` refuses a name that no epoch will record before it
trains.
"""

from .base import Callback, CallbackList, Counters, Hook, StopRequest, TrainState
from .best import EarlyStopping, KeepBest
from .files import CSVLogger, JSONLogger, ModelCheckpoint
from .tensorboard import TensorBoard, scalar_tags

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "Counters",
    "EarlyStopping",
    "Hook",
    "JSONLogger",
    "KeepBest",
    "ModelCheckpoint",
    "StopRequest",
    "TensorBoard",
    "TrainState",
    "scalar_tags",
]

for _cls in (
    Callback, CallbackList, Counters, TrainState, EarlyStopping, KeepBest, CSVLogger, JSONLogger,
    ModelCheckpoint, TensorBoard, scalar_tags,
):  # fmt: skip
    _cls.__module__ = __name__  # documented (and cross-referenced) as nnkit.callbacks.X
del _cls
