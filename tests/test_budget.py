from __future__ import annotations

import pytest

from nnkit._budget import Budget
from nnkit.errors import InvalidArgumentError


def test_no_budget_means_one_epoch() -> None:
    assert Budget.of(None, None, None).epochs == 1
    assert Budget.of(None, 10, None).epochs is None


def test_spent_is_the_furthest_budget() -> None:
    b = Budget.of(4, 30, 100.0, steps_per_epoch=10)  # 40 steps by epochs, 30 by max_steps
    assert b.total_steps == 30
    assert b.spent(15, 10.0, 1) == pytest.approx(0.5)
    assert b.spent(15, 80.0, 1) == pytest.approx(0.8)  # time is further along
    assert b.spent(45, 0.0, 4) == 1.0
    unknown_length = Budget.of(4, None, None, steps_per_epoch=0)
    assert unknown_length.total_steps is None and unknown_length.spent(99, 0.0, 1) == 0.25


def test_seconds_left() -> None:
    b = Budget.of(None, 5, 2.0)
    assert b.seconds_left(0.5) == 1.5 and b.seconds_left(3.0) == 0.0
    assert Budget.of(1, None, None).seconds_left(3.0) is None


def test_budgets_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="epochs must be a positive integer, got 0"):
        Budget.of(0, None, None)
    with pytest.raises(InvalidArgumentError, match="max_seconds must be positive and finite"):
        Budget.of(None, None, float("inf"))
