"""Which steps show what schedules do: for a table of a few rows out of many steps.

Every tenth step lands on the same phase of a schedule whose period divides it (cosine
warm restarts with T_0 = 10 show their top value in every row). The rows chosen here are
the first and last steps, every step where a schedule restarts (its lr jumps up), and
every turn (a local minimum or maximum), thinned evenly when there are too many and
filled with evenly spaced steps when there are too few.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def telling_steps(
    schedules: Mapping[str, Callable[[int], float]], steps: int, rows: int = 12
) -> list[int]:
    """Up to `rows` steps, in order, that show each schedule's shape: events in the
    order they happen (each with the step just before it), as many as fit."""
    events: set[int] = set()
    for schedule in schedules.values():
        values = np.array([float(schedule(k)) for k in range(steps)])
        change = np.diff(values)
        ups = np.nonzero(change > 1e-12 * np.maximum(np.abs(values[:-1]), 1e-300))[0] + 1
        restarts = [k for k in ups if k == 1 or change[k - 2] <= 0]  # up after going down
        slope = np.sign(change)
        turns = np.nonzero(slope[1:] * slope[:-1] < 0)[0] + 1  # local extremes
        events.update(int(k) for k in (*restarts, *turns))
    chosen = {0, steps - 1}
    for k in sorted(events):
        pair = {k - 1, k} - chosen
        if len(chosen) + len(pair) > rows:
            break
        chosen |= pair
    events = sorted(chosen)
    filler = np.linspace(0, steps - 1, rows).round().astype(int).tolist()
    for k in filler:
        if len(events) >= rows:
            break
        if k not in events:
            events.append(k)
    return sorted(set(events))
