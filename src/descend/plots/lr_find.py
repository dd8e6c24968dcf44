"""The learning-rate range test's figure: smoothed loss against lr on a log axis, the
seeds as a band, each suggested lr marked and named by its rule."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from descend.plots._common import GREY, label_colors, mpl_text, new_figure

LOG_LOSS_SPAN = 100.0  # a curve spanning more than this factor gets a log loss axis


def range_test_figure(
    lrs: np.ndarray,
    mean: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    suggestions: Mapping[str, float | None],
    *,
    skipped: tuple[int, int] = (10, 5),
    seeds: int = 1,
    title: str = "",
) -> Figure:
    """lrs, mean, low, high: (n,) the sweep's lrs and the mean, lowest and highest
    smoothed loss over seeds. skipped: the points at the start and end no rule reads
    (shaded). Non-finite losses (a blow-up's last point) are left out."""
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    colors = label_colors(["curve", *suggestions])  # the curve first: no rule shares its colour
    finite = np.isfinite(mean) & np.isfinite(low) & np.isfinite(high)
    x, y = lrs[finite], mean[finite]
    if seeds > 1:
        band = f"lowest–highest of {seeds} seeds"
        ax.fill_between(x, low[finite], high[finite], color=colors["curve"], alpha=0.25, label=band)
    ax.plot(x, y, color=colors["curve"], linewidth=1.6,
            label="smoothed loss" + (f", mean of {seeds} seeds" if seeds > 1 else ""))  # fmt: skip
    _shade_skipped(ax, lrs, skipped)
    for rule, lr in suggestions.items():
        if lr is None:
            continue
        ax.axvline(lr, color=colors[rule], linestyle="--", linewidth=1.2,
                   label=mpl_text(f"{rule}: {lr:.3g}"))  # fmt: skip
        if len(x) and x[0] <= lr <= x[-1]:  # on the curve, where the rule reads it
            ax.plot([lr], [np.interp(np.log(lr), np.log(x), y)], "o", color=colors[rule])
    ax.set_xscale("log")
    _loss_axis(ax, y, low[finite])
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss of the batch, smoothed")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(mpl_text(title or "Learning-rate range test"), fontsize=10)
    return fig


def _loss_axis(ax, y: np.ndarray, low: np.ndarray) -> None:
    """A log axis where the loss falls by decades (a quadratic's), else a linear one; the
    top cut so that the blow-up at the end does not flatten the part that matters: up to
    twice the fall below the first loss above it (10× the first loss on a log axis)."""
    if not len(y):
        return
    first, lowest = y[0], y.min()
    bottom = min(lowest, low.min())
    if bottom > 0 and first / lowest > LOG_LOSS_SPAN:
        ax.set_yscale("log")
        ax.set_ylim(bottom / 1.5, min(y.max(), 10 * first) * 1.5)
    elif first > lowest:
        top = min(y.max(), first + 2 * (first - lowest))
        margin = 0.05 * (top - bottom)
        ax.set_ylim(bottom - margin, top + margin)


def _shade_skipped(ax, lrs: np.ndarray, skipped: tuple[int, int]) -> None:
    """The first and last points no rule reads, in light grey."""
    first, last = skipped
    n = len(lrs)
    if n == 0:
        return
    if first > 0:
        ax.axvspan(lrs[0], lrs[min(first, n - 1)], color=GREY, alpha=0.2, linewidth=0,
                   label="not read by the rules")  # fmt: skip
    if last > 0 and n - 1 - last > first:
        ax.axvspan(lrs[n - 1 - last], lrs[-1], color=GREY, alpha=0.2, linewidth=0)
