"""Loss curves: f − f* against the step on a log axis, one curve per label, or, for a
sweep, one panel per label with a curve per swept value (coloured by it)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from descend.engine import RunResult
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
    # What is drawn is computed first, then floored: the floor and its note are about the
    # curves on the figure (and costs no pass over all N × T values).
    if sweep is None:
        drawn = _by_label(runs, gaps)
        fig = new_figure(7.5, 4.8)
        axes, note = [fig.add_subplot()], ""
    else:
        drawn = _by_value(runs, gaps, sweep)
        axes, note = _sweep_axes(runs, sweep, len(drawn))
        fig = axes[0].figure  # type: ignore[assignment]
    values = np.concatenate([np.ravel(c.lines) for c in drawn] + [c.ends[:, 1] for c in drawn])
    floor = log_floor(values, start_scale(gaps))
    for curve in drawn:
        curve.draw(axes[curve.panel], floor)
    if any(run.diverged for run in runs):
        axes[0].plot([], [], color="black", label="diverged", **DIVERGED_MARKER)
    known = surface is not None and surface.minimum_value is not None
    for ax in axes:
        ax.set(yscale="log", xlabel="step", ylabel="f − f*" if known else "f")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if floored := _floor_note(values, floor):
        ax = axes[-1]
        ax.text(0.99, 0.01, floored, transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    fig.suptitle(mpl_text(title or _loss_title(surface)) + note, fontsize=11)
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
        gaps -= surface.minimum_value
    for i, run in enumerate(runs):
        if run.diverged_at is not None:
            gaps[i, run.diverged_at + 1 : len(run.loss)] = np.inf
    return gaps


def start_scale(gaps: np.ndarray) -> float:
    """The largest starting |f − f*|: the size of what was subtracted, roughly."""
    starts = np.abs(gaps[:, 0][np.isfinite(gaps[:, 0])])
    return float(starts.max()) if starts.size and starts.max() > 0 else 1.0


def log_floor(values: np.ndarray, scale: float) -> float:
    """Where values are drawn that a log axis cannot show (≤ 0) or that float64 does not
    resolve: a tenth of the smallest positive value, but not below eps × `scale`."""
    positive = values[np.isfinite(values) & (values > 0)]
    smallest = float(positive.min()) / 10 if positive.size else 0.0
    return max(smallest, PRECISION * scale)


def _floor_note(values: np.ndarray, floor: float) -> str:
    with np.errstate(invalid="ignore"):
        zero, tiny = (values <= 0).any(), ((values > 0) & (values < floor)).any()
    kinds = ["≤ 0"] * bool(zero) + ["below float64 precision"] * bool(tiny)
    return f"values {' or '.join(kinds)} drawn at {floor:.1e}" if kinds else ""


@dataclass
class _Curve:
    """What one label (or one swept value) draws on panel `panel`: `lines` (1, T), its
    run or median, or (3, T), the 10, 50 and 90 % of its runs (a band around the median);
    `ends` (k, 2), the (step, value) of the x marking a divergence."""

    panel: int
    lines: np.ndarray
    ends: np.ndarray
    color: tuple
    name: str | None  # in the legend (None: the colour bar says what it is)

    def draw(self, ax: Axes, floor: float) -> None:
        # a NaN stays NaN (a gap), +inf becomes one: the curve stops at a divergence
        lines = np.where(np.isfinite(self.lines), np.maximum(self.lines, floor), np.nan)
        steps = np.arange(lines.shape[1])
        median = lines[len(lines) // 2]
        name = None if self.name is None else mpl_text(self.name)
        ax.plot(steps, median, color=self.color, lw=1.5, label=name, gid="loss")
        if len(lines) == 3:
            band = np.isfinite(lines[0]) & np.isfinite(lines[2])
            ax.fill_between(
                steps, lines[0], lines[2], where=band, color=self.color, alpha=0.2, lw=0
            )
        if len(self.ends):  # one artist for all: there may be 1000s
            ends = np.column_stack([self.ends[:, 0], np.maximum(self.ends[:, 1], floor)])
            ax.plot(*ends.T, color=self.color, gid="diverged", **DIVERGED_MARKER)


def _by_label(runs: Sequence[RunResult], gaps: np.ndarray) -> list[_Curve]:
    """Per label: its run, or the median and 10–90 % band of its runs; an x at the last
    finite value of each diverged run."""
    groups = _rows_by_label(runs)
    colors = label_colors(list(groups))
    curves = []
    for label, rows in groups.items():
        block = _take(gaps, rows)  # (n, T)
        if len(rows) == 1:
            lines, name = block, label
        else:
            lines, name = (
                percentiles(block, [10, 50, 90]),
                f"{label} (median of {len(rows)} runs, 10–90 %)",
            )
        ends = [(runs[i].diverged_at, _last_finite(gaps[i])) for i in rows if runs[i].diverged]
        curves.append(
            _Curve(0, lines, np.array(ends, dtype=float).reshape(-1, 2), colors[label], name)
        )
    return curves


def _by_value(runs: Sequence[RunResult], gaps: np.ndarray, tag: str) -> list[_Curve]:
    """Per label (a panel each) and swept value: the median of its runs, an x where the
    median stops because (half of) the runs diverged."""
    values, _ = swept_values(runs, tag, MAX_SWEPT_CURVES)
    norm = sweep_norm(values)
    swept = np.array([swept_value(run, tag) for run in runs])  # (N,)
    curves = []
    for panel, rows in enumerate(_rows_by_label(runs).values()):
        rows_at = np.array(rows)
        for value in values:
            chosen = rows_at[swept[rows_at] == value].tolist()
            if not chosen:
                continue
            block = _take(gaps, chosen)
            median = block[0] if len(chosen) == 1 else percentiles(block, [50])[0]
            finite = np.flatnonzero(np.isfinite(median))
            stops = len(finite) and np.isposinf(median[finite[-1] + 1 :]).any()
            ends = np.array([[finite[-1], median[finite[-1]]]]) if stops else np.zeros((0, 2))
            curves.append(_Curve(panel, median[None], ends, sweep_color(norm, value), None))
    return curves


def _sweep_axes(runs: Sequence[RunResult], tag: str, drawn: int) -> tuple[list[Axes], str]:
    """One panel per label (shared axes), the colour bar of the swept values, the note."""
    values, count = swept_values(runs, tag, MAX_SWEPT_CURVES)
    labels = list(_rows_by_label(runs))
    ncols = min(len(labels), 2)
    nrows = -(-len(labels) // ncols)
    fig = new_figure(6.0 * ncols + 1.2, 4.2 * nrows + 0.8)
    axes: list[Axes] = []
    for i, label in enumerate(labels):
        share = axes[0] if axes else None
        axes.append(fig.add_subplot(nrows, ncols, i + 1, sharex=share, sharey=share))
        axes[-1].set_title(mpl_text(label), fontsize=10)
    add_sweep_colorbar(fig, axes, tag, sweep_norm(values), values)
    per_value = len(runs) // max(1, count * len(labels))
    note = f"\none curve per {sweep_name(tag)}"
    note += f" (median of {per_value} runs)" if per_value > 1 else ""
    note += f"; {len(values)} of {count} values shown" if len(values) < count else ""
    return axes, note


def percentiles(gaps: np.ndarray, q: list[float]) -> np.ndarray:
    """(len(q), T) percentiles over runs. nanpercentile loops over the T columns in
    Python (0.3 s for 10 000 runs × 1 000 steps): used only where padding left NaN."""
    if not np.isnan(gaps).any():
        with np.errstate(invalid="ignore"):  # inf − inf where a column reaches +inf
            return np.percentile(gaps, q, axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of padding
        return np.nanpercentile(gaps, q, axis=0)


def _rows_by_label(runs: Sequence[RunResult]) -> dict[str, list[int]]:
    """Indices of the runs (rows of the gaps) by label, labels in order of appearance."""
    rows: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        rows.setdefault(run.label, []).append(i)
    return rows


def _take(gaps: np.ndarray, rows: list[int]) -> np.ndarray:
    """gaps[rows], without a copy when the rows follow each other (a study's runs come
    label by label): a copy of 10 000 × 1 000 values costs 0.1 s."""
    if rows == list(range(rows[0], rows[-1] + 1)):
        return gaps[rows[0] : rows[-1] + 1]
    return gaps[rows]


def _last_finite(row: np.ndarray) -> float:
    finite = row[np.isfinite(row)]
    return float(finite[-1]) if finite.size else 1.0


def _loss_title(surface: Surface | None) -> str:
    return "loss" if surface is None else f"{surface.label}:  f = {surface.formula}"
