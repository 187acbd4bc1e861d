"""The one stop decision (``nnkit._stop.stop_reason``), as a table."""

from __future__ import annotations

from typing import Any

import pytest

from nnkit._budget import Budget
from nnkit._stop import stop_reason

BUDGET = Budget.of(3, 100, 60.0)  # 3 epochs, 100 steps, 60 seconds


@pytest.mark.parametrize(
    ("spent", "expected"),
    [
        ({"epochs_done": 0, "steps": 0, "seconds": 0.0}, None),
        ({"epochs_done": 2, "steps": 99, "seconds": 59.0}, None),
        ({"epochs_done": 3, "steps": 50, "seconds": 1.0}, "epochs"),
        ({"epochs_done": 1, "steps": 100, "seconds": 1.0}, "max_steps"),
        ({"epochs_done": 1, "steps": 10, "seconds": 60.0}, "max_seconds"),
        ({"epochs_done": 1, "steps": 10, "seconds": 1.0, "request": "callback"}, "callback"),
        ({"epochs_done": 1, "steps": 10, "seconds": 1.0, "schedule_finished": True}, "schedule"),
        # several at once: a decision about the run before a limit on it
        ({"epochs_done": 3, "steps": 10, "seconds": 1.0, "request": "early_stopping"},
         "early_stopping"),
        ({"epochs_done": 3, "steps": 100, "seconds": 99.0, "request": "callback"}, "callback"),
        ({"epochs_done": 3, "steps": 10, "seconds": 1.0, "schedule_finished": True}, "schedule"),
        ({"epochs_done": 3, "steps": 100, "seconds": 99.0}, "max_steps"),
        ({"epochs_done": 3, "steps": 10, "seconds": 99.0}, "max_seconds"),
        ({"epochs_done": 1, "steps": 10, "seconds": 1.0, "request": "early_stopping",
          "schedule_finished": True}, "early_stopping"),
    ],
)  # fmt: skip
def test_stop_reason_table(spent: dict[str, Any], expected: str | None) -> None:
    assert stop_reason(BUDGET, **spent) == expected


def test_budgets_not_given_never_stop() -> None:
    steps_only = Budget.of(None, 5, None)
    assert stop_reason(steps_only, epochs_done=1000, steps=4, seconds=1e9) is None
    assert stop_reason(steps_only, epochs_done=0, steps=5, seconds=0.0) == "max_steps"
