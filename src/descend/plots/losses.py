"""Loss curves: f − f* against the step on a log axis, one curve per label, or, for a
sweep, one panel per label with a curve per swept value (coloured by it)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from descend.engine.runs import RunResult
from descend.plots._common import label_colors, mpl_text, new_figure
from descend.plots.sweeps import (
    add_sweep_colorbar,
    sweep_color,
    sweep_name,
    sweep_norm,
    swept_value,
    swept_values,
)
from descend.tasks.surfaces import Surface

DIVERGED_MARKER = dict(marker="x", ms=8, mew=2, ls="none", zorder=5)
# float64 resolves f − f* only to about eps × the size of the values that were
# subtracted: below that a curve shows rounding, not progress (RMSProp reaching 1e-120).
PRECISION = float(np.finfo(np.float64).eps)
MAX_SWEPT_CURVES = 12  # curves per panel in a sweep: more are no longer told apart


def loss_curves(
    runs: Sequence[RunResult],
    surface: Surface | None = None,
    *,
    title: str | None = None,
    sweep: str | None = None,
) -> Figure:
    """f − f* (f when f* is unknown or no surface is given) against the step, log scale.

    A label with one run is one curve; with several, their median and a shaded 10–90 %
    band (a diverged run counts as +inf from its divergence on, so the median stops when
    half have diverged). A diverged run's curve stops and an x marks where. Values below
    float64's precision (eps × the largest starting value) or ≤ 0 are drawn at a floor.

    sweep: the tag of `run.spec.tags` that a sweep varies (the surface study's "lr"):
    one panel per label, in it one median curve per value, coloured by the value (colour
    bar); at most MAX_SWEPT_CURVES values, evenly spread over the sorted values.
    """
    if not runs:
        raise ValueError("loss_curves needs at least one run.")
    gaps = loss_gaps(runs, surface)  # (N, T)
    floor = log_floor(gaps)
    if sweep is None:
        fig = new_figure(7.5, 4.8)
        axes = [fig.add_subplot()]
        _draw_labels(axes[0], runs, np.maximum(gaps, floor))
        note = ""
    else:
        axes, note = _draw_sweep(runs, np.maximum(gaps, floor), sweep)
        fig = axes[0].figure
    known = surface is not None and surface.minimum_value is not None
    for ax in axes:
        ax.set(yscale="log", xlabel="step", ylabel="f − f*" if known else "f")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    floored = _floor_note(gaps, floor)
    if floored:
        ax = axes[-1]
        ax.text(0.99, 0.01, floored, transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    heading = mpl_text(title or _loss_title(surface))
    axes[0].figure.suptitle(heading + note, fontsize=11)  # type: ignore[union-attr]
    return fig


def loss_gaps(runs: Sequence[RunResult], surface: Surface | None) -> np.ndarray:
    """(N, T) f − f* of every run, padded with NaN to the longest; +inf after a divergence."""
    length = max(len(run.loss) for run in runs)
    if all(len(run.loss) == length for run in runs):  # the usual case: one copy
        gaps = torch.stack([run.loss for run in runs]).detach().cpu().double().numpy()
    else:
        gaps = np.full((len(runs), length), np.nan)
        for i, run in enumerate(runs):
            gaps[i, : len(run.loss)] = run.loss.detach().cpu().double().numpy()
    if surface is not None and surface.minimum_value is not None:
        gaps = gaps - surface.minimum_value
    for i, run in enumerate(runs):
        if run.diverged_at is not None:
            gaps[i, run.diverged_at + 1 : len(run.loss)] = np.inf
    return gaps


def log_floor(gaps: np.ndarray) -> float:
    """Where values are drawn that a log axis cannot show (≤ 0) or that float64 does not
    resolve: a tenth of the smallest positive value, but not below eps × the largest
    starting value (the scale of the subtraction f − f*)."""
    positive = gaps[np.isfinite(gaps) & (gaps > 0)]
    starts = np.abs(gaps[:, 0][np.isfinite(gaps[:, 0])])
    scale = float(starts.max()) if starts.size and starts.max() > 0 else 1.0
    smallest = float(positive.min()) / 10 if positive.size else 0.0
    return max(smallest, PRECISION * scale)


def _floor_note(gaps: np.ndarray, floor: float) -> str:
    with np.errstate(invalid="ignore"):
        zero, tiny = (gaps <= 0).any(), ((gaps > 0) & (gaps < floor)).any()
    kinds = ["≤ 0"] * bool(zero) + ["below float64 precision"] * bool(tiny)
    return f"values {' or '.join(kinds)} drawn at {floor:.1e}" if kinds else ""


def _draw_labels(ax: Axes, runs: Sequence[RunResult], gaps: np.ndarray) -> None:
    """One curve (or median and band) per label, in the label's colour."""
    groups = _rows_by_label(runs)
    colors = label_colors(list(groups))
    for label, rows in groups.items():
        group = [runs[i] for i in rows]
        _draw_loss(ax, label, group, gaps[rows], colors[label])
    if any(run.diverged for run in runs):
        ax.plot([], [], color="black", label="diverged", **DIVERGED_MARKER)


def _draw_loss(ax: Axes, label: str, runs: Sequence[RunResult], gaps: np.ndarray, color) -> None:
    steps = np.arange(gaps.shape[1])
    if len(runs) == 1:
        curve = np.where(np.isfinite(gaps[0]), gaps[0], np.nan)  # stops at divergence
        ax.plot(steps, curve, color=color, lw=1.5, label=mpl_text(label), gid="loss")
    else:
        low, median, high = percentiles(gaps, [10, 50, 90])
        name = mpl_text(f"{label} (median of {len(runs)} runs, 10–90 %)")
        curve = np.where(np.isfinite(median), median, np.nan)
        ax.plot(steps, curve, color=color, label=name, gid="loss")
        band = np.isfinite(low) & np.isfinite(high)
        ax.fill_between(steps, low, high, where=band, color=color, alpha=0.2, lw=0)
    # (step, last finite value) of every diverged run, drawn as one artist: there may be 1000s
    ends = [(r.diverged_at, _last_finite(g)) for r, g in zip(runs, gaps, strict=True) if r.diverged]
    if ends:
        ax.plot(*np.array(ends).T, color=color, gid="diverged", **DIVERGED_MARKER)


def percentiles(gaps: np.ndarray, q: list[float]) -> np.ndarray:
    """(len(q), T) percentiles over runs. nanpercentile loops over the T columns in
    Python (0.3 s for 10 000 runs × 1 000 steps): used only where padding left NaN."""
    if not np.isnan(gaps).any():
        with np.errstate(invalid="ignore"):  # inf − inf where a column reaches +inf
            return np.percentile(gaps, q, axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of padding
        return np.nanpercentile(gaps, q, axis=0)


def _draw_sweep(runs: Sequence[RunResult], gaps: np.ndarray, tag: str) -> tuple[list[Axes], str]:
    """One panel per label (shared axes), one median curve per swept value in it."""
    values, count = swept_values(runs, tag, MAX_SWEPT_CURVES)
    norm = sweep_norm(values)
    swept = np.array([swept_value(run, tag) for run in runs])  # (N,)
    groups = _rows_by_label(runs)
    ncols = min(len(groups), 2)
    nrows = -(-len(groups) // ncols)
    fig = new_figure(6.0 * ncols + 1.2, 4.2 * nrows + 0.8)
    axes: list[Axes] = []
    for i, (label, rows) in enumerate(groups.items()):
        share = axes[0] if axes else None
        ax = fig.add_subplot(nrows, ncols, i + 1, sharex=share, sharey=share)
        axes.append(ax)
        for value in values:
            chosen = [j for j in rows if swept[j] == value]
            if chosen:
                _draw_median(ax, gaps[chosen], sweep_color(norm, value))
        ax.set_title(mpl_text(label), fontsize=10)
    if any(run.diverged for run in runs):
        axes[0].plot([], [], color="black", label="diverged", **DIVERGED_MARKER)
    add_sweep_colorbar(fig, axes, tag, norm, values)
    per_value = len(runs) // max(1, count * len(groups))
    note = f"\none curve per {sweep_name(tag)}"
    note += f" (median of {per_value} runs)" if per_value > 1 else ""
    note += f"; {len(values)} of {count} values shown" if len(values) < count else ""
    return axes, note


def _rows_by_label(runs: Sequence[RunResult]) -> dict[str, list[int]]:
    """Indices of the runs (rows of the gaps) by label, labels in order of appearance."""
    rows: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        rows.setdefault(run.label, []).append(i)
    return rows


def _draw_median(ax: Axes, gaps: np.ndarray, color) -> None:
    """The median of the runs (the run itself if one); an x where it stops because (half
    of) the runs diverged."""
    median = gaps[0] if len(gaps) == 1 else percentiles(gaps, [50])[0]
    finite = np.isfinite(median)
    curve = np.where(finite, median, np.nan)
    ax.plot(np.arange(len(median)), curve, color=color, lw=1.3, gid="loss")
    if finite.any() and np.isposinf(median[finite.nonzero()[0][-1] + 1 :]).any():
        last = int(finite.nonzero()[0][-1])
        ax.plot([last], [median[last]], color=color, gid="diverged", **DIVERGED_MARKER)


def _last_finite(row: np.ndarray) -> float:
    finite = row[np.isfinite(row)]
    return float(finite[-1]) if finite.size else 1.0


def _loss_title(surface: Surface | None) -> str:
    return "loss" if surface is None else f"{surface.label}:  f = {surface.formula}"
