"""Figures of networks in training: batch losses, test metrics by epoch, the two rules'
weights layer by layer, and time per epoch. Each row of a study is an optimizer (or a
regime); bands are the 10–90 % range over seeds, lines the median."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from descend.analysis.training import smoothed
from descend.plots._common import label_colors, mpl_text, new_figure
from descend.plots.bands import MAX_POINTS, Rows, _band

PANELS = {
    "train_loss": ("train loss (evaluation subset)", "log"),
    "test_loss": ("test loss (summed NLL / N)", "log"),
    "test_accuracy": ("test accuracy", "linear"),
}


def batch_losses(rows: Rows, xscale: str = "log"):
    """The loss of every batch (raw: faint) and its moving average (bold), median over
    seeds, with the band of the moving average. xscale "linear" where a schedule is at
    work: its restarts and steps then show where they happen, not squeezed at the end."""
    colors = label_colors(list(rows))
    fig = new_figure(8.0, 4.6)
    ax = fig.add_subplot()
    for name, runs in rows.items():
        raw = np.stack([r.loss.to(torch.float64).numpy() for r in runs])  # (seeds, U)
        with np.errstate(all="ignore"):
            median_raw = np.nanmedian(raw, axis=0)
        keep = _thin(len(median_raw))
        ax.plot(keep + 1, median_raw[keep], color=colors[name], lw=0.5, alpha=0.3)
        curves = [smoothed(r.loss).numpy() for r in runs]
        length = min(len(c) for c in curves)
        window = raw.shape[1] - length + 1
        x = np.arange(length) + window  # the update that ends each window
        _band(ax, x, np.stack([c[:length] for c in curves]), colors[name], name)
    ax.set(xscale=xscale, yscale="log", xlabel="update", ylabel="batch loss")
    ax.set_title(
        "Loss of every batch (faint) and its moving average (median over seeds, 10–90 % band)",
        fontsize=10,
    )
    if len(rows) > 4:  # below the axes: inside, many entries hide the curves
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    else:
        ax.legend(fontsize=8)
    return fig


def _thin(length: int) -> np.ndarray:
    return np.unique(np.linspace(0, length - 1, min(length, 4 * MAX_POINTS)).astype(int))


def evaluation_curves(rows: Rows, metrics: Sequence[str], unit: str = "epochs"):
    """Each evaluated metric against epochs: median over seeds and the 10–90 % band."""
    shown = [m for m in PANELS if m in metrics]
    colors = label_colors(list(rows))
    fig = new_figure(4.6 * len(shown), 4.2)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, metric in zip(axes, shown, strict=True):
        label, scale = PANELS[metric]
        for name, runs in rows.items():
            x = runs[0].along(unit, runs[0].evaluated_at).numpy()
            values = np.stack([r.evaluations[metric].to(torch.float64).numpy() for r in runs])
            _band(ax, x, values, colors[name], name)
        ax.set(yscale=scale, xlabel=unit, ylabel=label)
        ax.set_title(label, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    # below the panels: over the first one it hid the curves once there were many rows
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=8)
    fig.suptitle("At each evaluation: median over seeds, band 10–90 %", fontsize=10)
    return fig


def layer_bars(layers: Sequence[Mapping[str, Any]], a: str, b: str):
    """Per layer: ‖A − B‖, and how far each rule moved the weights from their shared
    start (‖W − W0‖ / ‖W0‖)."""
    names = [row["layer"] for row in layers]
    y = np.arange(len(names))
    fig = new_figure(10.0, 0.45 * len(names) + 1.6)
    left, right = fig.subplots(1, 2, sharey=True)
    left.barh(y, [row["l2_distance"] for row in layers], color="#4c72b0")
    left.set(yticks=y, yticklabels=names, xlabel="‖A − B‖ (L2 distance of the final weights)")
    left.invert_yaxis()
    colors = label_colors([a, b])
    for offset, key, name in ((-0.2, "relative_change_a", a), (0.2, "relative_change_b", b)):
        right.barh(y + offset, [row[key] for row in layers], height=0.4, color=colors[name],
                   label=mpl_text(name))  # fmt: skip
    right.set(xlabel="moved: ‖W − W0‖ / ‖W0‖")
    right.legend(fontsize=8)
    seeds = layers[0]["seeds"] if layers else 0
    fig.suptitle(
        mpl_text(f"Final weights, layer by layer: A = {a}, B = {b} (mean over {seeds} seeds)"),
        fontsize=10,
    )
    return fig


def time_bars(summaries: Sequence[Mapping[str, Any]]):
    """Seconds per epoch (evaluation excluded) and per optimizer step, per row: mean over
    seeds with the 95 % interval."""
    fig = new_figure(9.0, 0.5 * len(summaries) + 1.8)
    axes = fig.subplots(1, 2, sharey=True)
    names = [s["row"] for s in summaries]
    y = np.arange(len(names))
    colors = label_colors(names)
    for ax, metric, label in (
        (axes[0], "epoch_time", "seconds per epoch (evaluation excluded)"),
        (axes[1], "step_time", "ms per optimizer step"),
    ):
        means = [s[metric] for s in summaries]
        errors = [_half_width(s, metric) for s in summaries]
        ax.barh(y, means, xerr=errors, color=[colors[n] for n in names], capsize=3)
        ax.set(xlabel=label)
    axes[0].set(yticks=y, yticklabels=[mpl_text(n) for n in names])
    axes[0].invert_yaxis()
    fig.suptitle("Time (mean over seeds, 95 % interval)", fontsize=10)
    return fig


def _half_width(summary: Mapping[str, Any], metric: str) -> float:
    low, high = summary[f"{metric} ci low"], summary[f"{metric} ci high"]
    return 0.0 if np.isnan(low) else (high - low) / 2


def lr_curves(rows: Rows):
    """The learning rate each row used at every update (its first seed's: a schedule is
    the same for every seed), against epochs: seed 003's pictures of schedules."""
    colors = label_colors(list(rows))
    fig = new_figure(8.0, 4.2)
    ax = fig.add_subplot()
    for name, runs in rows.items():
        run = runs[0]
        x = run.along("epochs", torch.arange(len(run.lr))).numpy()
        ax.plot(x, run.lr.to(torch.float64).numpy(), color=colors[name], lw=1.6,
                label=mpl_text(name))  # fmt: skip
    ax.set(xlabel="epoch", ylabel="learning rate")
    ax.set_title("The learning rate of every update", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the curves
    return fig
