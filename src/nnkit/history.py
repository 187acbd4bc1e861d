"""Per-epoch training records: data you can save, reload and plot."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast, get_args, overload

from matplotlib.figure import Figure

from ._atomic import atomic_write_text
from ._validate import one_of
from .errors import DataFormatError, EmptyHistoryError

__all__ = ["STOP_REASONS", "EpochRecord", "History", "StopReason", "StopRequest"]

#: Why a training run ended. Its epochs were done; its ``max_steps`` or ``max_seconds`` ran out;
#: :class:`~nnkit.callbacks.EarlyStopping` fired; another callback set ``stop_training``; a
#: schedule finished (:class:`~nnkit.schedules.ReduceOnPlateau` at its smallest scale); or Ctrl-C.
StopReason: TypeAlias = Literal[
    "epochs", "max_steps", "max_seconds", "early_stopping", "callback", "schedule", "interrupted"
]
STOP_REASONS: tuple[str, ...] = get_args(StopReason)
#: Why a callback asks the run to stop. ``"early_stopping"`` (what
#: :class:`~nnkit.callbacks.EarlyStopping` asks for) or ``"callback"`` (any other reason).
StopRequest: TypeAlias = Literal["early_stopping", "callback"]


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch of training measured.

    Losses are means over targets (samples, or characters for sequence models); accuracies are
    fractions in ``[0, 1]``; ``samples_per_second`` counts targets too (characters per second for
    a character model). The ``val_`` fields are None when no validation data was given;
    accuracies are None when the task is not classification. ``extra`` holds any further
    metrics, ``train_<name>`` and ``val_<name>`` (for example ``val_bpc``, validation bits per
    character). ``seconds`` is the training pass alone and ``val_seconds`` the validation pass;
    ``steps`` counts the optimizer steps taken, and ``planned_steps`` those of a full epoch
    (None when the data's length is unknown), so an epoch a budget cut short says so.
    """

    epoch: int
    train_loss: float
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    lr: float | None = None
    seconds: float = 0.0
    samples_per_second: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    planned_steps: int | None = None
    val_seconds: float = 0.0

    def get(self, name: str) -> float | None:
        """A metric by name, looking in the fixed fields first, then in ``extra``."""
        if name in _FIELDS:
            value = getattr(self, name)
            return None if value is None else float(value)
        return self.extra.get(name)


_FIELDS = {f.name for f in dataclasses.fields(EpochRecord)} - {"extra"}


def _renamed(record: dict[str, Any]) -> dict[str, Any]:
    """A record written before held-out data was called validation data (nnkit 0.1 before
    ``fit(val=)``): ``test_loss``, ``test_accuracy`` and ``test_<metric>`` become ``val_...``."""
    out = {("val_" + k[5:] if k in ("test_loss", "test_accuracy") else k): v
           for k, v in record.items()}  # fmt: skip
    extra = out.get("extra")
    if isinstance(extra, dict):
        out["extra"] = {("val_" + k[5:] if k.startswith("test_") else k): v
                        for k, v in extra.items()}  # fmt: skip
    return out


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


@dataclass
class History(Sequence[EpochRecord]):
    """The records of a training run, one per finished epoch.

    A sequence of :class:`EpochRecord`: ``history[-1]``, ``history[1:]``, ``for record in
    history`` and ``len(history)`` work as on a list.

    Attributes
    ----------
    records : list of EpochRecord
        In epoch order.
    stop_reason : StopReason or None
        What ended the run (:data:`StopReason`); None for a history that was not made by
        training.
    weights_epoch : int or None
        The epoch whose weights the model holds now that training has ended: the last epoch,
        or the best one when :class:`~nnkit.callbacks.KeepBest` or
        :class:`~nnkit.callbacks.EarlyStopping` put its weights back. None before any epoch
        ended, and after a Ctrl-C that abandoned an epoch part-way (the weights are then
        part-way through it) unless a keep-best restore followed.

    Examples
    --------
    >>> h = History([EpochRecord(epoch=1, train_loss=0.5, val_accuracy=0.9)])
    >>> History.from_json(h.to_json()).records == h.records
    True
    >>> h.column("val_accuracy")
    [0.9]
    >>> h[-1] is h.last, [r.epoch for r in h]
    (True, [1])
    """

    records: list[EpochRecord] = field(default_factory=list)
    stop_reason: StopReason | None = None
    weights_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> EpochRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[EpochRecord]: ...

    def __getitem__(self, index: int | slice) -> EpochRecord | list[EpochRecord]:
        return self.records[index]

    @property
    def interrupted(self) -> bool:
        """True when training was stopped by Ctrl-C."""
        return self.stop_reason == "interrupted"

    @property
    def stopped_early(self) -> bool:
        """True when early stopping, another callback or a finished schedule ended training."""
        return self.stop_reason in ("early_stopping", "callback", "schedule")

    @property
    def last(self) -> EpochRecord:
        """The most recent record.

        Raises
        ------
        nnkit.errors.EmptyHistoryError
            No epoch has ended yet (an ``IndexError``); check ``len(history)`` first when a run
            may have been interrupted during its first epoch.
        """
        if not self.records:
            reason = f" (stop reason: {self.stop_reason})" if self.stop_reason else ""
            raise EmptyHistoryError(f"the history has no epochs yet{reason}, so it has no last")
        return self.records[-1]

    def append(self, record: EpochRecord) -> None:
        """Add the record of the epoch that just ended."""
        self.records.append(record)

    def column(self, name: str) -> list[float | None]:
        """One metric across epochs (``"train_loss"``, ``"val_accuracy"``, an ``extra`` key...)."""
        return [r.get(name) for r in self.records]

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per epoch (the fields, then the ``extra`` metrics): what
        ``pandas.DataFrame(history.rows())`` or ``csv.DictWriter`` take.

        Examples
        --------
        >>> History([EpochRecord(1, 0.5, extra={"val_bpc": 2.0})]).rows()[0]["val_bpc"]
        2.0
        """
        rows = []
        for record in self.records:
            row = {k: v for k, v in dataclasses.asdict(record).items() if k != "extra"}
            rows.append({**row, **record.extra})
        return rows

    def best(self, name: str, *, mode: Literal["min", "max"] = "min") -> EpochRecord | None:
        """The record with the lowest (``mode="min"``) or highest (``"max"``) value of ``name``."""
        one_of(mode, "mode", ("min", "max"))
        scored = [(v, r) for r in self.records if (v := r.get(name)) is not None]
        if not scored:
            return None
        pick = min if mode == "min" else max
        return pick(scored, key=lambda item: item[0])[1]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"records": [...], "stop_reason": ..., "weights_epoch": ...,
        "interrupted": ..., "stopped_early": ...}`` (the last two for readers that predate
        ``stop_reason``)."""
        return {
            "records": [_clean(dataclasses.asdict(r)) for r in self.records],
            "stop_reason": self.stop_reason,
            "weights_epoch": self.weights_epoch,
            "interrupted": self.interrupted,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (also one written before validation
        data had its name: ``test_loss`` is read as ``val_loss``)."""
        try:
            records = [EpochRecord(**_renamed(r)) for r in data["records"]]
        except (KeyError, TypeError) as exc:
            raise DataFormatError(f"not a History dictionary: {exc}") from exc
        reason = data.get("stop_reason")
        if reason is None:  # written before stop_reason existed
            if data.get("interrupted"):
                reason = "interrupted"
            elif data.get("stopped_early"):
                reason = "callback"
        if reason is not None and reason not in STOP_REASONS:
            raise DataFormatError(f"not a History dictionary: unknown stop_reason {reason!r}")
        weights = data.get("weights_epoch")
        if weights is None and records:
            weights = records[-1].epoch
        return cls(records, stop_reason=cast(StopReason | None, reason), weights_epoch=weights)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The history as JSON text; also written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> History:
        """Load from JSON text or from a path to a JSON file."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def plot(self, *, title: str | None = None) -> Figure:
        """Loss (left) and accuracy in percent (right) against epoch.

        Returns
        -------
        matplotlib.figure.Figure
            Not shown; save it with ``fig.savefig(path)``.
        """
        fig = Figure(figsize=(10, 4), layout="constrained")
        loss_ax, acc_ax = fig.subplots(1, 2)
        epochs = [r.epoch for r in self.records]
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            values = self.column(key)
            if any(v is not None for v in values):
                loss_ax.plot(
                    epochs, [math.nan if v is None else v for v in values], "o-", label=label
                )
        for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
            values = self.column(key)
            if any(v is not None for v in values):
                acc_ax.plot(
                    epochs, [math.nan if v is None else 100 * v for v in values], "o-", label=label
                )
        loss_ax.set(xlabel="epoch", ylabel="loss (mean per sample)", title="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in (loss_ax, acc_ax):
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            if ax.has_data():
                ax.legend()
        if title:
            fig.suptitle(title)
        return fig
