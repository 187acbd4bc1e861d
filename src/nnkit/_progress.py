"""What :func:`~nnkit.train.fit` shows while it trains: a bar in a terminal, plain lines in a log.

In a terminal (stderr is a TTY) every epoch has a tqdm bar with the live loss, and leaves one
summary line when it ends, as Keras does; anywhere else (stderr sent to a file, a CI log) there
is no bar, no carriage return and no cursor code: one plain line per epoch. The summary line is
the same in both: ``epoch 2/5 - 3.1 s - train_loss 0.2310 - train_accuracy 0.9312 - val_loss
...``.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Literal, TextIO, TypeAlias

from tqdm.auto import tqdm

from ._validate import fail
from .history import EpochRecord

ProgressMode: TypeAlias = Literal["auto", "bar", "lines", "off"]
#: What ``fit(progress=...)`` accepts: ``"auto"`` (or True) is a bar when stderr is a
#: terminal and one line per epoch otherwise; ``"bar"`` and ``"lines"`` force one of them
#: (``"lines"`` is Keras's ``verbose=2``); ``"off"`` (or False) is silent.
ProgressArg: TypeAlias = bool | ProgressMode
PROGRESS_MODES: tuple[str, ...] = ("auto", "bar", "lines", "off")


def resolve_progress(value: object, stream: TextIO | None = None) -> Literal["bar", "lines", "off"]:
    """The display a ``progress`` argument means on ``stream`` (stderr by default)."""
    if value is True:
        value = "auto"
    elif value is False:
        value = "off"
    if not isinstance(value, str) or value not in PROGRESS_MODES:
        raise fail(
            "progress",
            f"progress must be True, False or one of {', '.join(map(repr, PROGRESS_MODES))}, "
            f"got {value!r}",
        )
    if value == "auto":
        out = sys.stderr if stream is None else stream
        return "bar" if getattr(out, "isatty", lambda: False)() else "lines"
    return value  # type: ignore[return-value]


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.3g}"


def epoch_line(record: EpochRecord, epochs: int | None) -> str:
    """The one-line summary of an epoch.

    Examples
    --------
    >>> epoch_line(EpochRecord(2, 0.25, 0.9, val_loss=0.3, lr=1e-3, seconds=3.14), 5)
    'epoch 2/5 - 3.1 s - train_loss 0.2500 - train_accuracy 0.9000 - val_loss 0.3000 - lr 0.001'
    """
    head = f"epoch {record.epoch}" + (f"/{epochs}" if epochs is not None else "")
    parts = [head, f"{record.seconds:.1f} s"]
    values: dict[str, float | None] = {
        "train_loss": record.train_loss,
        "train_accuracy": record.train_accuracy,
        **{k: v for k, v in record.extra.items() if k.startswith("train_")},
        "val_loss": record.val_loss,
        "val_accuracy": record.val_accuracy,
        **{k: v for k, v in record.extra.items() if not k.startswith("train_")},
    }
    parts += [f"{name} {_number(value)}" for name, value in values.items() if value is not None]
    if record.lr is not None:
        parts.append(f"lr {record.lr:.3g}")
    return " - ".join(parts)


class Display:
    """The progress output of one run (silent on every rank but rank 0)."""

    def __init__(self, mode: Literal["bar", "lines", "off"], epochs: int | None) -> None:
        self.mode = mode
        self.epochs = epochs
        self.bar: Any = None

    def start_epoch(self, epoch: int, total: int | None) -> None:
        """Open the epoch's bar (in ``"bar"`` mode)."""
        if self.mode != "bar":
            return
        desc = f"epoch {epoch}" + (f"/{self.epochs}" if self.epochs is not None else "")
        self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)

    def step(self, shown: dict[str, str] | None = None) -> None:
        """One step done; ``shown`` updates the bar's live values."""
        if self.bar is not None:
            if shown:
                self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

    def close_epoch(self) -> None:
        """Close the bar (it leaves nothing behind: the summary line follows)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def end_epoch(self, record: EpochRecord) -> None:
        """The epoch's summary line, on stderr."""
        self.close_epoch()
        if self.mode != "off":
            self.say(epoch_line(record, self.epochs))

    def say(self, line: str) -> None:
        """A line on stderr, between bars (silent in ``"off"`` mode)."""
        if self.mode == "off":
            return
        if self.bar is not None:
            tqdm.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def log(self, line: str) -> None:
        """A line the user asked for (``log_every``), on stdout, whatever the mode."""
        if self.bar is not None:
            tqdm.write(line, file=sys.stdout)
        else:
            print(line, flush=True)
