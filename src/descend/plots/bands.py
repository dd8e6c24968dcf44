"""Curves over seeds: the median and a 10–90 % band, per row of a study, against updates,
epochs or examples seen (equal epochs are not equal updates: the axis says which)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes

from descend.engine import RunResult
from descend.plots._common import label_colors, mpl_text, new_figure

Rows = Mapping[str, Sequence[RunResult]]
UNIT_LABELS = {"updates": "updates", "epochs": "epochs", "examples": "examples seen"}
MAX_POINTS = 1500  # points per curve drawn


def progress_curves(
    rows: Rows, *, unit: str = "epochs", best_loss: float | None = None, title: str = ""
):
    """Loss on all training data (minus the optimum's, when known: log scale) and the
    distance to the optimum, median over seeds with a 10–90 % band."""
    colors = label_colors(list(rows))
    distance = any(_distance(runs[0]) is not None for runs in rows.values())
    fig = new_figure(11.0 if distance else 6.0, 4.2)
    axes = fig.subplots(1, 2 if distance else 1, squeeze=False)[0]
    for name, runs in rows.items():
        x, y = _loss(runs, unit, best_loss)
        _band(axes[0], x, y, colors[name], name)
        if distance:
            found = [_distance(r) for r in runs]
            if all(f is not None for f in found):
                steps = found[0][0]  # type: ignore[index]
                x = runs[0].along(unit, steps).numpy()
                _band(axes[1], x, np.stack([f[1] for f in found]), colors[name], name)  # type: ignore[index]
    excess = best_loss is not None
    axes[0].set(
        yscale="log",
        xlabel=UNIT_LABELS[unit],
        ylabel="loss − optimum's loss (all data)" if excess else "loss (all data)",
    )
    axes[0].set_title("Loss at each evaluation", fontsize=10)
    if unit != "epochs":  # rows may differ by orders of magnitude in updates: show all
        for ax in axes:
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=0)
    if distance:
        axes[1].set(yscale="log", xlabel=UNIT_LABELS[unit], ylabel="distance to the optimum")
        axes[1].set_title("Distance to the optimum", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(mpl_text(title or "median over seeds, band: 10–90 %"), fontsize=10)
    return fig


def _loss(runs: Sequence[RunResult], unit: str, best: float | None):
    first = runs[0]
    x = first.along(unit, first.evaluated_at).numpy()
    values = np.stack([r.evaluations["train_loss"].to(torch.float64).numpy() for r in runs])
    if best is not None:
        values = np.maximum(values - best, np.finfo(np.float64).tiny)
    return x, values


def _distance(run: RunResult):
    """(update indices, distances) of every iterate, or of every evaluation."""
    if "distance" not in run.evaluations:
        return None
    task = run.spec.built_task
    if run.trajectory is not None and getattr(task, "optimum", None) is not None:
        optimum = torch.cat([v.reshape(-1) for v in task.optimum.values()]).to(torch.float64)
        distances = (run.trajectory.to(torch.float64) - optimum).norm(dim=1).numpy()
        return torch.arange(len(distances)), distances
    return run.evaluated_at, run.evaluations["distance"].to(torch.float64).numpy()


def _band(ax: Axes, x: np.ndarray, values: np.ndarray, color, name: str) -> None:
    """Median line and 10–90 % band of values (seeds, T) along x (T,), thinned."""
    if values.shape[1] > MAX_POINTS:
        keep = np.unique(np.linspace(0, values.shape[1] - 1, MAX_POINTS).round().astype(int))
        x, values = x[keep], values[:, keep]
    with np.errstate(all="ignore"):
        low, median, high = np.nanquantile(values, [0.1, 0.5, 0.9], axis=0)
    ax.plot(x, median, color=color, lw=1.8, label=f"{mpl_text(name)} ({len(values)} seeds)")
    if len(values) > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
