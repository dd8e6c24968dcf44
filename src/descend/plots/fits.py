"""What the fitted models say about the data (figure 5 of a regression study): for the
quadratic regression the fitted curve over the points, for the logistic regression the
decision line over the two classes, otherwise predictions against targets. One panel per
row of the study; the seed whose final distance to the optimum is the median is drawn,
the optimum's fit dashed beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from descend.engine import RunResult
from descend.plots._common import label_colors, mpl_text, new_figure
from descend.plots.slices import median_index

Rows = Mapping[str, Sequence[RunResult]]


def fitted_models(task, rows: Rows, title: str = ""):
    colors = label_colors(list(rows))
    panels = len(rows)
    columns = min(panels, 3)
    fig = new_figure(4.4 * columns, 3.6 * -(-panels // columns) + 0.4)
    axes = fig.subplots(-(-panels // columns), columns, squeeze=False).ravel()
    cpu = task.on(torch.device("cpu"), torch.float64)
    for ax, (name, runs) in zip(axes, rows.items(), strict=False):
        run = median_run(runs)
        draw = _draw_curve if task.name == "quadratic-regression" else _draw_scatter
        if task.loss_kind == "logistic" and cpu.features.shape[1] == 2:
            draw = _draw_boundary
        draw(ax, cpu, run.final_params, colors[name])
        ax.set_title(f"{mpl_text(name)}: seed {run.spec.seed}", fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(mpl_text(title or "The fitted models (the median seed of each row)"), fontsize=10)
    return fig


def median_run(runs: Sequence[RunResult]) -> RunResult:
    return runs[median_index(runs)]


def _stacked(params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.float64)[None] for k, v in params.items()}  # one run: K = 1


def _draw_curve(ax, task, params, color) -> None:
    x = task.features[:, 0].numpy()
    ax.plot(x, task.targets.numpy(), ".", color="#888888", ms=4, label="data")
    order = np.argsort(x)
    grid = task.features[order]
    fitted = task.predict(_stacked(params), grid)[0].detach().numpy()
    best = task.predict(_stacked(task.optimum), grid)[0].numpy()
    ax.plot(x[order], fitted, color=color, lw=2, label=_values(params))
    ax.plot(x[order], best, "k--", lw=1, label="least squares: " + _values(task.optimum))
    ax.set(xlabel="x", ylabel="y")


def _draw_scatter(ax, task, params, color) -> None:
    fitted = task.predict(_stacked(params), task.features)[0].detach().numpy()
    y = task.targets.numpy()
    ax.plot(y, fitted, ".", color=color, ms=4, label="prediction")
    line = [float(y.min()), float(y.max())]
    ax.plot(line, line, "k--", lw=1, label="prediction = target")
    ax.set(xlabel="target", ylabel="prediction")


def _draw_boundary(ax, task, params, color) -> None:
    x, y = task.features.numpy(), task.targets.numpy()
    for label, marker in ((0, "o"), (1, "^")):
        ax.plot(*x[y == label].T, marker, ms=4, color="#888888", mfc="none", label=f"class {label}")
    low, high = x[:, 0].min(), x[:, 0].max()
    for weights, style, name in ((params, "-", "fitted"), (task.optimum, "--", "optimum")):
        if weights is None:
            continue
        w, b = weights["w"].to(torch.float64).numpy(), float(weights["b"])
        if abs(w[1]) > 1e-12:  # w·x + b = 0
            xs = np.array([low, high])
            ax.plot(
                xs,
                -(b + w[0] * xs) / w[1],
                style,
                color=color if style == "-" else "k",
                label=f"{name} decision line",
            )
    ax.set(xlabel="x1", ylabel="x2", ylim=(x[:, 1].min() - 0.5, x[:, 1].max() + 0.5))


def _values(params: Mapping[str, torch.Tensor]) -> str:
    return ", ".join(f"{k}={float(v):.3g}" for k, v in params.items() if v.numel() == 1)
