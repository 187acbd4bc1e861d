"""What a callback is and what it sees: :class:`Callback`, :class:`TrainState`, and
:class:`CallbackList`, the one dispatcher :func:`~nnkit.train.fit` calls them through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import torch
from torch import nn

from .._validate import fail, one_of
from ..history import EpochRecord, History, StopRequest

__all__ = ["Callback", "CallbackList", "Counters", "Hook", "StopRequest", "TrainState"]

#: The hooks a callback can implement, in the order of a run.
Hook: TypeAlias = Literal[
    "on_train_begin",
    "on_epoch_begin",
    "on_batch_begin",
    "on_batch_end",
    "on_epoch_end",
    "on_train_end",
]


@dataclass
class Counters:
    """Where a run stands: written by :func:`~nnkit.train.fit`, read by callbacks through
    :class:`TrainState` (its properties of the same names)."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    elapsed: float = 0.0
    budget_spent: float = 0.0
    batch_loss: torch.Tensor | None = None
    stop_request: StopRequest | None = None
    weights_epoch: int | None = None


class TrainState:
    """What a callback sees of a running :func:`~nnkit.train.fit`: a read-only view.

    A callback reads where the run stands; the only things it changes are a request to stop
    (:attr:`stop_training` or :meth:`request_stop`), the note that it put another epoch's
    weights back (:meth:`weights_restored`), and the free :attr:`extra` dict. The model and
    the optimizer are the live objects (a callback may read or save their state).

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
    is_main_process : bool
        False on the non-zero ranks of a torchrun job: they should not write files.
    extra : dict
        Free space for callbacks to share values.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        history: History,
        epochs: int | None,
        *,
        is_main_process: bool = True,
        counters: Counters | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = history
        self.epochs = epochs
        self.is_main_process = is_main_process
        self.extra: dict[str, Any] = {}
        self._counters = counters if counters is not None else Counters()

    @property
    def epoch(self) -> int:
        """The current epoch, 1-based."""
        return self._counters.epoch

    @property
    def step(self) -> int:
        """The current optimizer step within the epoch, 1-based (0 before the first)."""
        return self._counters.step

    @property
    def global_step(self) -> int:
        """Optimizer steps taken since the run began (a resumed run counts the earlier ones)."""
        return self._counters.global_step

    @property
    def elapsed(self) -> float:
        """Seconds since the run began (training, evaluation and callbacks; a resumed run
        counts the earlier ones), as of the last step or epoch end."""
        return self._counters.elapsed

    @property
    def budget_spent(self) -> float:
        """Share of the budget spent, 0 to 1 (what :mod:`nnkit.schedules` read)."""
        return self._counters.budget_spent

    @property
    def batch_loss(self) -> torch.Tensor | None:
        """The last step's loss (detached; calling ``.item()`` costs a device sync)."""
        return self._counters.batch_loss

    @property
    def stop_training(self) -> bool:
        """True once a callback asked the run to stop; set it to True to ask (Keras's
        ``model.stop_training``). Set in ``on_batch_end``, the run stops after that step and
        the epoch so far is evaluated and recorded; set in ``on_epoch_end``, after the epoch.
        """
        return self._counters.stop_request is not None

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        if value:
            self.request_stop()
        else:
            self._counters.stop_request = None

    def request_stop(self, reason: StopRequest = "callback") -> None:
        """Ask the run to stop; ``history.stop_reason`` will be ``reason``."""
        one_of(reason, "reason", ("early_stopping", "callback"))
        self._counters.stop_request = reason

    @property
    def weights_epoch(self) -> int | None:
        """The epoch whose weights the model holds (None before the first epoch ended)."""
        return self._counters.weights_epoch

    def weights_restored(self, epoch: int) -> None:
        """Say that the model now holds the weights of ``epoch`` (for a callback that puts
        an earlier epoch's weights back); ``history.weights_epoch`` reports it."""
        self._counters.weights_epoch = int(epoch)


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
        """Before the first step of ``state.epoch``."""

    def on_batch_begin(self, state: TrainState) -> None:
        """Before optimizer step ``state.step`` (with ``accumulate=N``, its N batches)."""

    def on_batch_end(self, state: TrainState) -> None:
        """After optimizer step ``state.step``; ``state.batch_loss`` is set."""

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        """After an epoch, its evaluation and its record."""

    def on_train_end(self, state: TrainState) -> None:
        """After the last epoch, also after an early stop or Ctrl-C."""

    @property
    def monitors(self) -> tuple[str, ...]:
        """The record values this callback reads (``"val_loss"``...): ``fit`` refuses a name
        that no epoch will record before it trains. None by default."""
        return ()

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember across a resume (tensors and plain data only,
        for a ``weights_only`` checkpoint); nothing by default."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (called before ``on_train_begin``)."""


class CallbackList(Sequence[Callback]):
    """The callbacks of a run, called through one dispatcher (as Keras's ``CallbackList``).

    Examples
    --------
    >>> class Hello(Callback):
    ...     def on_train_begin(self, state):
    ...         print("hello")
    >>> CallbackList([Hello(), Hello()]).call("on_train_begin", None)
    hello
    hello
    >>> CallbackList([print])
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: callbacks must be nnkit Callback objects, got ...
    """

    def __init__(self, callbacks: Sequence[Callback] = ()) -> None:
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise fail("callbacks", f"callbacks must be nnkit Callback objects, got {cb!r}")
        self._callbacks = list(callbacks)
        self.keys = _keys(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __getitem__(self, index: int) -> Callback:  # type: ignore[override]
        return self._callbacks[index]

    def __iter__(self) -> Iterator[Callback]:
        return iter(self._callbacks)

    def call(self, hook: Hook, *args: Any) -> None:
        """Call ``hook`` on every callback, in order."""
        for cb in self._callbacks:
            getattr(cb, hook)(*args)

    def monitors(self) -> dict[str, tuple[str, ...]]:
        """What each callback monitors, by its key."""
        return {key: cb.monitors for key, cb in zip(self.keys, self._callbacks, strict=True)}

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Every callback's state, by its key."""
        return {key: cb.state_dict() for key, cb in zip(self.keys, self._callbacks, strict=True)}

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Give every callback its saved state; one the checkpoint does not know starts afresh."""
        for key, cb in zip(self.keys, self._callbacks, strict=True):
            if key in saved:
                cb.load_state_dict(saved[key])


def _keys(callbacks: Sequence[Callback]) -> list[str]:
    """A stable key per callback: its class name, numbered when a class appears twice."""
    seen: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__qualname__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys
