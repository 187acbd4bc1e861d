"""Small shared argument validators: one place for the checks, one style for the messages.

Each returns the value (converted where that is harmless, an ``int`` to ``float``) or raises
:class:`~nnkit.errors.InvalidArgumentError` naming the parameter, what it expects and what it
got, e.g. ``"lr must be positive, got -1.0"``. ``what`` prefixes the name with its owner
(``"CharRNN hidden_size must be ..."``) without changing the parameter the error reports.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeGuard, TypeVar

from .errors import InvalidArgumentError

T = TypeVar("T")


def _label(name: str, what: str) -> str:
    return f"{what} {name}" if what else name


def one_line(exc: BaseException, limit: int = 240) -> str:
    """``exc``'s message on one line (PyTorch's span several) of at most ``limit`` characters,
    for an nnkit error that quotes it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(name: str, message: str) -> InvalidArgumentError:
    """An :class:`InvalidArgumentError` for parameter ``name`` (to ``raise``)."""
    return InvalidArgumentError(message, parameter=name)


def is_int(value: object) -> TypeGuard[int]:
    """True for a real integer (``bool`` is not one here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: object, name: str, *, what: str = "") -> int:
    """An ``int`` >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(name, f"{_label(name, what)} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: object, name: str, *, what: str = "") -> int:
    """An ``int`` >= 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise fail(name, f"{_label(name, what)} must be an integer >= 0, got {value!r}")
    return int(value)


def at_most(number: int, name: str, high: int, *, what: str = "") -> int:
    """``number`` (already checked to be an ``int``), when it is at most ``high``: a declared
    upper bound, so that no size or count is beyond what the machine can do."""
    if number > high:
        raise fail(name, f"{_label(name, what)} must be at most {high:,}, got {number:,}")
    return number


def seed_value(value: object, name: str = "seed") -> int:
    """A seed: an ``int`` in ``[0, 2**32)`` (NumPy's limit, the strictest of the generators)."""
    if is_int(value) and value >= 2**32:
        raise fail(name, f"{name} must be below 2**32 (NumPy's limit), got {value}")
    return non_negative_int(value, name)


def _number(value: object, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(name, f"{_label(name, what)} must be a number, got {value!r}")
    number = float(value)
    if math.isnan(number):
        raise fail(name, f"{_label(name, what)} must be a number, got nan")
    return number


def positive_float(value: object, name: str, *, what: str = "", finite: bool = True) -> float:
    """A number > 0 (and finite unless ``finite=False``)."""
    number = _number(value, name, what)
    if number <= 0 or (finite and math.isinf(number)):
        kind = "positive and finite" if finite else "positive"
        raise fail(name, f"{_label(name, what)} must be {kind}, got {value!r}")
    return number


def non_negative_float(value: object, name: str, *, what: str = "") -> float:
    """A finite number >= 0."""
    number = _number(value, name, what)
    if number < 0 or math.isinf(number):
        raise fail(name, f"{_label(name, what)} must be a finite number >= 0, got {value!r}")
    return number


def in_interval(
    value: object,
    name: str,
    low: float,
    high: float,
    *,
    closed: str = "[)",
    what: str = "",
) -> float:
    """A number in the interval from ``low`` to ``high``; ``closed`` is ``"[]"``, ``"[)"``,
    ``"(]"`` or ``"()"``."""
    number = _number(value, name, what)
    above = number >= low if closed[0] == "[" else number > low
    below = number <= high if closed[1] == "]" else number < high
    if not (above and below):
        interval = f"{closed[0]}{low:g}, {high:g}{closed[1]}"
        raise fail(name, f"{_label(name, what)} must be in {interval}, got {value!r}")
    return number


def one_of(value: T, name: str, choices: Collection[T], *, what: str = "") -> T:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise fail(name, f"{_label(name, what)} must be one of {listed}, got {value!r}")
    return value


def boolean(value: object, name: str, *, what: str = "") -> bool:
    """A real ``bool``."""
    if not isinstance(value, bool):
        raise fail(name, f"{_label(name, what)} must be True or False, got {value!r}")
    return value
