"""Curves against the learning rate or the step: lr sensitivity, schedules (the loss
curves are in `losses`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from descend.plots._common import label_colors, mpl_text, new_figure


def _log_floor(values: np.ndarray) -> float:
    """A tenth of the smallest positive finite value: where zeros and negatives are drawn
    on a log axis (which cannot show them)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min()) / 10 if positive.size else 1e-300


def lr_sensitivity(
    points: Sequence[tuple[str, float, float]],
    *,
    limits: Sequence[tuple[str, float]] | None = None,
    rates: Sequence[tuple[str, float, float, float]] | None = None,
    title: str | None = None,
) -> Figure:
    """Final loss against learning rate, both log, one line per label.

    points: (label, lr, final loss); a diverged run (inf or NaN) is a triangle at the top
    edge. limits: (text, lr_max) drawn as dashed vertical lines, e.g. the stability limit
    η·λ_max < 2 of GD. rates: (label, lr, measured, predicted) contraction per step, drawn
    in a second panel: predicted as a line, measured as markers.
    """
    if not points:
        raise ValueError("lr_sensitivity needs at least one point.")
    labels = list(dict.fromkeys(p[0] for p in points))
    colors = label_colors(list(dict.fromkeys(labels + [r[0] for r in rates or []])))
    fig = new_figure(7.5, 4.8 if rates is None else 8.0)
    ax = fig.add_subplot(2 if rates is not None else 1, 1, 1)
    floor = _log_floor(np.array([p[2] for p in points], dtype=float))
    for label in labels:
        _draw_sensitivity(ax, [p[1:] for p in points if p[0] == label], colors[label], label, floor)
    if any(not np.isfinite(p[2]) for p in points):
        ax.plot([], [], marker="^", color="black", ls="none", label="diverged")
    ax.set(xscale="log", yscale="log", ylabel="final loss")
    axes = [ax]
    if rates is not None:
        axes.append(fig.add_subplot(2, 1, 2, sharex=ax))
        _draw_rates(axes[1], rates, colors)
    for axis in axes:
        for text, lr_max in limits or []:  # the text once, on the top panel
            color = colors.get(text, (0.3, 0.3, 0.3))
            _draw_limit(axis, text if axis is ax else "", lr_max, color)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    axes[-1].set_xlabel("learning rate")
    fig.suptitle(mpl_text(title or "final loss against learning rate"), fontsize=11)
    return fig


def _draw_sensitivity(ax: Axes, rows: list[tuple[float, float]], color, label: str, floor) -> None:
    lrs, losses = np.array(sorted(rows), dtype=float).T  # sorted by lr
    diverged = ~np.isfinite(losses)
    # The line breaks at diverged lrs rather than bridging them.
    curve = np.where(diverged, np.nan, np.maximum(losses, floor))
    ax.plot(lrs, curve, "o-", color=color, ms=4, label=mpl_text(label), gid="sensitivity")
    if diverged.any():  # x in data, y in axes coordinates: at the top edge, whatever the scale
        top = np.full(int(diverged.sum()), 0.97)
        ax.plot(
            lrs[diverged],
            top,
            "^",
            color=color,
            ms=8,
            transform=ax.get_xaxis_transform(),
            gid="diverged",
        )


def _draw_rates(ax: Axes, rates: Sequence[tuple[str, float, float, float]], colors) -> None:
    for label in dict.fromkeys(r[0] for r in rates):
        lrs, measured, predicted = np.array(sorted(r[1:] for r in rates if r[0] == label)).T
        color = colors[label]
        ax.plot(
            lrs, predicted, "-", color=color, label=mpl_text(f"{label}: predicted"), gid="predicted"
        )
        ax.plot(
            lrs,
            measured,
            "o",
            color=color,
            mfc="none",
            label=mpl_text(f"{label}: measured"),
            gid="measured",
        )
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    ax.set_ylabel("contraction per step")


def _draw_limit(ax: Axes, text: str, lr_max: float, color) -> None:
    ax.axvline(lr_max, color=color, ls="--", lw=1.0, gid="limit")
    if text:  # along the line, on its right, from below the top edge (where the ▲ go)
        ax.text(
            lr_max,
            0.9,
            f" {mpl_text(text)}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="left",
            fontsize=8,
            color=color,
        )


def schedule_curves(
    schedules: Mapping[str, Callable[[int], float | torch.Tensor]] | Callable[[int], float],
    steps: int,
    *,
    title: str | None = None,
) -> Figure:
    """The learning rate against the step, for updates 0 … steps − 1 of each schedule
    ({label: step -> lr}, or one schedule, labelled by its repr)."""
    if callable(schedules):
        schedules = {repr(schedules): schedules}
    if not schedules or steps < 1:
        raise ValueError("schedule_curves needs at least one schedule and steps >= 1.")
    curves = {label: _evaluate(schedule, steps) for label, schedule in schedules.items()}
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    draw_lr_curves(ax, curves, label_colors(list(curves)))
    ax.legend(fontsize=8)
    ax.set_title(mpl_text(title or "learning-rate schedules"), fontsize=11)
    return fig


def _evaluate(schedule: Callable[[int], float | torch.Tensor], steps: int) -> np.ndarray:
    """(steps,) or, for K run-wise learning rates, (steps, K)."""
    values = [schedule(k) for k in range(steps)]
    if isinstance(values[0], torch.Tensor):
        return torch.stack([torch.as_tensor(v) for v in values]).double().cpu().numpy()
    return np.asarray(values, dtype=float)


def draw_lr_curves(ax: Axes, curves: Mapping[str, np.ndarray], colors: Mapping[str, tuple]) -> None:
    """lr (T,) or (T, K) per label against the step: one line each (K lines of the label's
    colour for run-wise learning rates, the legend naming the label once)."""
    for label, lr in curves.items():
        lr = np.asarray(lr, dtype=float).reshape(len(lr), -1)  # (T, K)
        for k in range(lr.shape[1]):
            name = mpl_text(label) if k == 0 else "_"  # '_' keeps copies out of the legend
            ax.plot(np.arange(len(lr)), lr[:, k], color=colors[label], lw=1.3, label=name, gid="lr")
    ax.set(xlabel="step", ylabel="learning rate")
    ax.grid(True, alpha=0.3)
