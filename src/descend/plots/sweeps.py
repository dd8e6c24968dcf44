"""What the figures of a sweep share: the swept values (a tag of each run's spec, e.g.
the learning rate of an lr sweep), the few of them a figure shows, and one colour scale
for them.

A sweep of 25 learning rates drawn as one curve or one panel mixes 25 different runs; a
figure shows instead one curve or one panel per value, and when there are too many
values to read, a few of them, evenly spread over the sorted values (ends included).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from descend.engine import RunResult
from descend.plots._common import sample_evenly

# viridis without its pale yellow end, which vanishes on a white background
SWEEP_COLORS = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.88, 256)), "sweep")
NAMES = {"lr": "learning rate"}


def swept_value(run: RunResult, tag: str) -> float:
    try:
        return float(run.spec.tags[tag])
    except KeyError:
        raise ValueError(
            f"Run {run.label!r} has no tag {tag!r} to sweep over "
            f"(its tags: {sorted(run.spec.tags) or 'none'})."
        ) from None


def swept_values(runs: Sequence[RunResult], tag: str, limit: int) -> tuple[list[float], int]:
    """The values a figure shows (at most `limit`, sorted) and how many there are."""
    values = sorted({swept_value(run, tag) for run in runs})
    return sample_evenly(values, limit), len(values)


def runs_at(runs: Sequence[RunResult], tag: str, value: float) -> list[RunResult]:
    return [run for run in runs if swept_value(run, tag) == value]


def sweep_name(tag: str) -> str:
    return NAMES.get(tag, tag)


def value_text(tag: str, value: float) -> str:
    return f"{tag} = {value:.3g}"


def sweep_norm(values: Sequence[float]) -> Normalize:
    """Log scale for positive values spanning more than a factor 3 (learning rates)."""
    low, high = min(values), max(values)
    if low == high:
        return Normalize(low - 1, high + 1)
    return LogNorm(low, high) if low > 0 and high / low > 3 else Normalize(low, high)


def sweep_color(norm: Normalize, value: float) -> tuple[float, float, float, float]:
    return SWEEP_COLORS(float(np.clip(norm(value), 0, 1)))


def add_sweep_colorbar(
    fig: Figure, axes: list[Axes], tag: str, norm: Normalize, values: Sequence[float]
) -> None:
    """A colour bar of the swept values, ticked at the values drawn."""
    bar = fig.colorbar(
        ScalarMappable(norm, SWEEP_COLORS), ax=axes, label=sweep_name(tag), shrink=0.8, aspect=30
    )
    bar.ax.yaxis.set_major_locator(FixedLocator(list(values)))
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.ax.set_yticklabels([f"{v:.3g}" for v in values])
