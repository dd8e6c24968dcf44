"""Validators for settings outside the update rules (engine, tasks, experiments, studies).

One style everywhere: `Invalid <name>: <value> (allowed: <what>).`, raised as a
DescendError that carries the setting's name, so a caller can point at the line it came
from. Each returns the value it accepted (converted where that is the point: a float).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any, TypeVar

from descend.errors import DescendError, did_you_mean

T = TypeVar("T")


def invalid(name: str, value: Any, allowed: str) -> DescendError:
    return DescendError(f"Invalid {name}: {value!r} (allowed: {allowed}).", key=name)


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """An int (not a bool) within [low, high]."""
    allowed = "an integer" + (f" >= {low}" if low is not None else "")
    allowed += f" <= {high}" if high is not None else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, value, allowed)
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid(name, value, allowed)
    return value


def number(
    name: str,
    value: Any,
    low: float | None = None,
    *,
    low_open: bool = False,
    high: float | None = None,
) -> float:
    """A finite real number (not a bool), above `low` (strictly when low_open)."""
    allowed = "a finite number"
    if low is not None:
        allowed += f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        allowed += f" <= {high:g}"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise invalid(name, value, allowed)
    x = float(value)
    if low is not None and (x <= low if low_open else x < low):
        raise invalid(name, value, allowed)
    if high is not None and x > high:
        raise invalid(name, value, allowed)
    return x


def choice(name: str, value: Any, allowed: Iterable[T]) -> T:
    options = list(allowed)
    if value not in options:
        hint = did_you_mean(value, [str(o) for o in options]) if isinstance(value, str) else ""
        raise DescendError(
            f"Invalid {name}: {value!r}.{hint} Allowed: {', '.join(str(o) for o in options)}.",
            key=name,
        )
    return value


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(name, value, "True or False")
    return value


def point(name: str, value: Any, size: int | None = None) -> tuple[float, ...]:
    """A point: a sequence of finite numbers (of `size` numbers when given)."""
    what = f"{size} finite numbers" if size else "finite numbers"
    try:
        coordinates = tuple(value)
    except TypeError:
        raise invalid(name, value, what) from None
    if size is not None and len(coordinates) != size:
        raise invalid(name, value, what)
    if not all(
        isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x) for x in coordinates
    ):
        raise invalid(name, value, what)
    return tuple(float(x) for x in coordinates)


def no_start(task: str, run: Any) -> None:
    """A task with data starts each run from its seed's initial weights: refuse a start."""
    if run.start is not None:
        raise DescendError(
            f"{task} starts from its seed's initial weights: start cannot apply.", key="start"
        )
