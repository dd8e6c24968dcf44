"""Loss landscapes of a model with data, seen through a 2-D slice of its parameters.

Two named parameters vary over a window; every other one is held at a given value (the
optimum by default). On that slice: the loss as a filled contour and as a 3-D surface,
the paths of runs (one panel per row of a study, every seed drawn, a marker where each
was at a chosen epoch), the paths in 3-D with the loss of each iterate as its height,
and each minibatch's own landscape (seed 000's "noise" of minibatch training).

A path's point is the run's full parameter vector: the coordinates off the slice need
not equal the slice's values, so a 3-D path floats above the slice surface by exactly
the loss those coordinates add; heights are true losses, never offsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter, NullFormatter
from torch import Tensor

from descend.engine import RunResult
from descend.errors import DescendError
from descend.plots._common import html_text, label_colors, mpl_text, new_figure
from descend.plots._contour import BACKGROUND

Rows = Mapping[str, Sequence[RunResult]]  # a study's rows (label × regime) -> runs by seed
MAX_POINTS = 2000  # points per path drawn (a path of 30 000 single-example updates is thinned)

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _go():
    """plotly's graph objects, imported when a 3-D figure is drawn (0.4 s to import: a
    study that draws none, or a machine without plotly, does not pay for it)."""
    import plotly.graph_objects as go

    return go


class Slice:
    """The task's loss on the plane of two named parameters, the others held fixed."""

    def __init__(self, task, run: RunResult, names: tuple[str, str], at: Mapping[str, float]):
        self.task, self.names = task, names
        self.flat_names = list(run.param_names)
        self.shapes = {k: tuple(v.shape) for k, v in run.initial_params.items()}
        for name in names:
            if name not in self.flat_names:
                raise DescendError(
                    f"Invalid slice: {task.name} has no parameter {name!r} "
                    f"(allowed: {', '.join(self.flat_names)}).",
                    key="slice",
                )
        self.index = [self.flat_names.index(n) for n in names]
        self.base = torch.tensor([float(at[n]) for n in self.flat_names], dtype=torch.float64)

    def params(self, points: Tensor) -> dict[str, Tensor]:
        """Flat points (G, dim) -> the task's parameters, G runs' worth, (G, ...) each."""
        out, start = {}, 0
        for key, shape in self.shapes.items():
            count = int(np.prod(shape)) if shape else 1
            out[key] = points[:, start : start + count].reshape(len(points), *shape)
            start += count
        return out

    def losses(self, points: Tensor, batch: Tensor | None = None) -> np.ndarray:
        """The loss at each flat point (G, dim), on all data or on one batch (B,)."""
        task = self.task.on(torch.device("cpu"), torch.float64)
        points = points.to(torch.float64)
        rows = None if batch is None else batch.expand(len(points), -1)
        with torch.no_grad():
            return task.losses(self.params(points), rows, None).numpy()

    def grid(self, window, resolution: int = 120, batch: Tensor | None = None):
        """xs (R,), ys (R,), loss (R, R) with rows along the second name."""
        (x0, x1), (y0, y1) = window
        xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
        ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (R, R)
        points = self.base.repeat(resolution * resolution, 1)
        points[:, self.index[0]], points[:, self.index[1]] = gx.reshape(-1), gy.reshape(-1)
        return xs.numpy(), ys.numpy(), self.losses(points, batch).reshape(resolution, resolution)

    def path(self, run: RunResult) -> np.ndarray:
        """(T, dim) the run's finite iterates, thinned to MAX_POINTS (the last one kept)."""
        points = run.trajectory.to(torch.float64).numpy()
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) > MAX_POINTS:
            keep = np.unique(np.linspace(0, len(points) - 1, MAX_POINTS).round().astype(int))
            points = points[keep]
        return points

    def minimum(self, batch: Tensor | None = None) -> np.ndarray:
        """The minimiser (2,) of the loss on the slice (on one batch, or all data), by
        Newton's method in float64: exact in one step for a squared error."""
        point = self.base[self.index].clone()

        def loss(xy: Tensor) -> Tensor:
            full = self.base.clone()
            full[self.index[0]], full[self.index[1]] = xy[0], xy[1]
            task = self.task.on(torch.device("cpu"), torch.float64)
            rows = None if batch is None else batch[None]
            return task.losses(self.params(full[None]), rows, None)[0]

        for _ in range(50):
            gradient = torch.autograd.functional.jacobian(loss, point)
            hessian = torch.autograd.functional.hessian(loss, point)
            if not bool(torch.all(torch.linalg.eigvalsh(hessian) > 0)):
                break  # not convex here: keep the best point so far
            step = torch.linalg.solve(hessian, gradient)
            point = point - step
            if float(step.abs().max()) < 1e-12:
                break
        return point.numpy()

    def window(self, rows: Rows, margin: float = 0.08, points: Sequence[np.ndarray] = ()):
        """A window holding every path, the slice's point and `points`, with a margin."""
        coordinates = [self.base[self.index].numpy()[None, :], *(p[None, :] for p in points)]
        for runs in rows.values():
            coordinates += [self.path(r)[:, self.index] for r in runs]
        both = np.concatenate(coordinates)
        low, high = both.min(axis=0), both.max(axis=0)
        pad = np.maximum((high - low) * margin, 1e-3)
        return tuple(
            (float(lo - p), float(hi + p)) for lo, hi, p in zip(low, high, pad, strict=True)
        )


def _levels(values: np.ndarray) -> tuple[np.ndarray, LogNorm]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    low = max(low, high * 1e-9, 1e-300)
    high = max(high, low * 1.01)
    return np.geomspace(low, high, 30), LogNorm(low, high)


def _draw_slice(ax, view: Slice, window):
    xs, ys, values = view.grid(window)
    levels, norm = _levels(values)
    filled = ax.contourf(xs, ys, values, levels=levels, norm=norm, cmap=BACKGROUND)
    ax.contour(xs, ys, values, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.7)
    ax.plot(
        *view.base[view.index].numpy(),
        marker="*",
        ms=15,
        mfc="gold",
        mec="black",
        ls="none",
        zorder=6,
        label="held point (optimum)",
    )
    ax.set(xlim=window[0], ylim=window[1], xlabel=view.names[0], ylabel=view.names[1])
    return filled


def slice_contour(view: Slice, rows: Rows, title: str):
    """Figure 1 (flat): the loss on the slice as a filled contour, log-spaced levels."""
    window = view.window(rows)
    fig = new_figure(6.4, 5.0)
    ax = fig.add_subplot()
    filled = _draw_slice(ax, view, window)
    colorbar = fig.colorbar(filled, ax=ax, label="loss (all data)")
    colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%.4g"))
    colorbar.ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(mpl_text(title), fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def regime_paths(view: Slice, rows: Rows, marker_epoch: int | None, title: str):
    """Figure 3: each row's paths over the contour, one panel per row, every seed drawn,
    a marker where each run was after `marker_epoch` epochs."""
    window = view.window(rows)
    colors = label_colors(list(rows))
    panels = len(rows)
    columns = min(panels, 3)
    fig = new_figure(4.6 * columns, 4.0 * -(-panels // columns) + 0.4)
    axes = fig.subplots(-(-panels // columns), columns, squeeze=False).ravel()
    for ax, (name, runs) in zip(axes, rows.items(), strict=False):
        _draw_slice(ax, view, window)
        middle = median_index(runs)
        for k, run in enumerate(runs):
            points = view.path(run)[:, view.index]
            bold = k == middle
            ax.plot(
                points[:, 0],
                points[:, 1],
                color=colors[name],
                lw=1.6 if bold else 0.7,
                alpha=1.0 if bold else 0.35,
                zorder=4 if bold else 3,
            )
            ax.plot(
                *points[0],
                marker="o",
                ms=4,
                mfc="white",
                mec="black",
                mew=0.5,
                ls="none",
                zorder=5,
                label="starts (one per seed)" if k == 0 else None,
            )
            ax.plot(
                *points[-1],
                marker="o",
                ms=4,
                color="red",
                mec="black",
                mew=0.4,
                ls="none",
                zorder=5,
                label="ends" if k == 0 else None,
            )
            at = _at_epoch(run, marker_epoch)
            if at is not None:
                mark = run.trajectory[at, view.index].numpy()
                ax.plot(
                    *mark,
                    marker="D",
                    ms=5,
                    mfc="white",
                    mec=colors[name],
                    mew=1.2,
                    ls="none",
                    zorder=7,
                    label=f"epoch {marker_epoch}" if k == 0 else None,
                )
        ax.set_title(
            f"{mpl_text(name)}: {len(runs)} seeds (bold: seed {runs[middle].spec.seed}, the "
            "median end)",
            fontsize=9,
        )
        ax.legend(loc="lower right", fontsize=7)
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(mpl_text(title), fontsize=10)
    return fig


def median_index(runs: Sequence[RunResult]) -> int:
    """The index of the run whose final distance to the optimum (or loss) is the median."""
    key = "distance" if "distance" in runs[0].evaluations else "train_loss"
    finals = [float(r.evaluations[key][-1]) if not r.diverged else np.inf for r in runs]
    return int(np.argsort(finals)[(len(finals) - 1) // 2])


def _at_epoch(run: RunResult, epoch: int | None) -> int | None:
    per_epoch = run.spec.updates_per_epoch
    if epoch is None or per_epoch is None:
        return None
    index = epoch * per_epoch
    return index if index < len(run.trajectory) and run.diverged_at is None else None


def slice_3d(view: Slice, rows: Rows, title: str) -> go.Figure:
    """Figures 1 and 4 in 3-D: the slice as a surface, and one seed's path per row with
    the loss of each iterate (on all data) as its height."""
    window = view.window(rows)
    xs, ys, values = view.grid(window, resolution=60)
    fig = _go().Figure(
        _go().Surface(
            x=xs,
            y=ys,
            z=values,
            colorscale="Greys",
            opacity=0.75,
            showscale=False,
            name="loss on the slice",
        )
    )
    colors = label_colors(list(rows))
    for name, runs in rows.items():
        points = view.path(runs[0])
        heights = view.losses(torch.from_numpy(points))
        color = "rgb({},{},{})".format(*(int(255 * c) for c in colors[name]))
        fig.add_trace(
            _go().Scatter3d(
                x=points[:, view.index[0]].round(5),
                y=points[:, view.index[1]].round(5),
                z=heights.round(5),
                mode="lines+markers",
                name=html_text(f"{name} (seed {runs[0].spec.seed})"),
                line=dict(color=color, width=4),
                marker=dict(size=2, color=color),
            )
        )
    fig.update_layout(
        title=html_text(title),
        scene=dict(xaxis_title=view.names[0], yaxis_title=view.names[1], zaxis_title="loss"),
        legend=dict(x=0, y=1),
        margin=dict(l=0, r=0, t=50, b=0),
    )
    return fig


def minibatch_landscapes(view: Slice, batch_size: int, rows: Rows, most: int = 6):
    """Figure 2: the landscape of each minibatch of the data split in its own order into
    batches of `batch_size` (at most `most` drawn), each with its own minimum, over the
    landscape of all the data."""
    examples = view.task.examples
    batches = [
        torch.arange(s, min(s + batch_size, examples)) for s in range(0, examples, batch_size)
    ]
    shown = batches[:most]
    minima = [view.minimum(b) for b in shown]
    window = view.window(rows, points=[*minima, view.minimum()])
    fig = new_figure(6.8, 5.4)
    ax = fig.add_subplot()
    xs, ys, whole = view.grid(window)
    levels, norm = _levels(whole)
    ax.contourf(xs, ys, whole, levels=levels, norm=norm, cmap=BACKGROUND)
    colors = label_colors([str(i) for i in range(len(shown))])
    for i, (batch, minimum) in enumerate(zip(shown, minima, strict=True)):
        _, _, values = view.grid(window, batch=batch)
        color = colors[str(i)]
        ax.contour(
            xs,
            ys,
            values,
            levels=np.geomspace(values.min() * 1.05, values.max(), 6),
            colors=[color],
            linewidths=0.9,
        )
        ax.plot(
            *minimum,
            marker="P",
            ms=10,
            color=color,
            mec="black",
            ls="none",
            label=f"batch {i + 1} ({len(batch)} points): its minimum",
        )
    ax.plot(
        *view.minimum(),
        marker="*",
        ms=16,
        mfc="gold",
        mec="black",
        ls="none",
        label="all data: its minimum",
    )
    ax.set(xlim=window[0], ylim=window[1], xlabel=view.names[0], ylabel=view.names[1])
    more = f" (first {most} of {len(batches)})" if len(batches) > most else ""
    ax.set_title(
        f"Each minibatch of {batch_size} has its own landscape{more}\n(the data in its own "
        "order; the other parameters held at the optimum)",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=7)
    return fig
