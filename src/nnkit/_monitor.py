"""Tracking the best value of one metric across epochs (early stopping, keep-best, plateaus)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from ._validate import fail, non_negative_float, one_of
from .history import EpochRecord

Mode: TypeAlias = Literal["auto", "min", "max"]


def resolve_mode(monitor: str, mode: Mode) -> Literal["min", "max"]:
    """``"auto"`` is max for accuracies, min for everything else."""
    one_of(mode, "mode", ("auto", "min", "max"))
    if mode != "auto":
        return mode
    return "max" if "accuracy" in monitor else "min"


def check_monitors(wanted: dict[str, tuple[str, ...]], available: tuple[str, ...]) -> None:
    """Refuse, in one line listing the valid names, a monitored name that no epoch record will
    hold. ``wanted`` maps who monitors (``"EarlyStopping"``) to the names it reads."""
    for owner, names in wanted.items():
        for name in names:
            if name not in available:
                hint = (
                    " (validation metrics need validation data: fit(val=...) or validation_split=)"
                    if name.startswith("val_") and not any(a.startswith("val_") for a in available)
                    else ""
                )
                raise fail(
                    "monitor",
                    f"{owner} monitors {name!r}, which this run does not record{hint}; "
                    f"valid names: {', '.join(available)}",
                )


class Monitor:
    """The best value of ``monitor`` so far; :meth:`improved` says whether a value beats it."""

    def __init__(self, monitor: str, mode: Mode = "auto", min_delta: float = 0.0) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise fail("monitor", f"monitor must name a metric such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = non_negative_float(abs(min_delta), "min_delta")
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, record: EpochRecord) -> float:
        """The monitored value of an epoch (an error naming the metric if it is missing)."""
        value = record.get(self.monitor)
        if value is None:
            raise fail(
                "monitor",
                f"cannot monitor {self.monitor!r}: the epoch record has no such value "
                "(val_ metrics need validation data: fit(val=...) or validation_split=)",
            )
        return value

    def improved(self, value: float) -> bool:
        """True (and ``value`` becomes the best) when ``value`` beats the best by ``min_delta``."""
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
