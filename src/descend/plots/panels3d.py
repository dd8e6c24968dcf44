"""Seed 004's static 3-D figure: one panel per optimizer, the surface seen from above at
an angle, each run's path lying on it as points fading from light to dark, the final
point red. A still image for papers and blog posts (`surface3d.png`); the interactive
view is `surface_3d`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.mplot3d import Axes3D

from descend.engine import RunResult
from descend.plots._common import (
    END_COLOR,
    by_label,
    clip_to_window,
    fading_colors,
    gap_range,
    label_colors,
    mpl_text,
    new_figure,
    path_points,
    plot_window,
    spread_runs,
    surface_grid,
    surface_title,
)
from descend.plots._contour import BACKGROUND
from descend.tasks.surfaces import Surface, Window

MAX_PATHS_3D = 12  # paths per panel: a still 3-D view of more is a tangle
DOTS = 600  # fading points per panel, shared among its paths (30 to 300 each)
RESOLUTION = 50  # the surface's grid: 50 × 50 facets per panel
# Coloured by log(f − f*) as the contour, not shaded (shading greys the pale colours the
# paths need). The paths are drawn after it whatever their depth (computed_zorder off):
# a path behind a wall still shows, as in seed 004's figure.
SURFACE = dict(rstride=1, cstride=1, linewidth=0, antialiased=False, shade=False, zorder=1)
END_3D = dict(marker="o", c=END_COLOR, s=36, edgecolors="black", linewidths=0.6)
DIVERGED_3D = dict(marker="X", c="black", s=60)


def surface_panels_3d(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    window: Window | None = None,
    title: str | None = None,
    max_paths: int = MAX_PATHS_3D,
) -> Figure:
    """One 3-D panel per label: the surface f (shaded by log(f − f*), as the contour) and
    each run's path on it, points fading from light to dark, the final point red (a
    divergence: a black cross where the path left the window). At most `max_paths` runs
    per panel, their starts spread evenly; the title says so."""
    groups = by_label(runs)
    if not groups:
        raise ValueError("surface_panels_3d needs at least one run.")
    window = plot_window(surface, runs, window)
    xs, ys, values = surface_grid(surface, window, resolution=RESOLUTION)
    gap = gap_range(values, surface.minimum_value)
    facets = BACKGROUND(LogNorm(gap.min(), max(gap.max(), gap.min() * 10))(gap))  # (n, n, 4)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    lift = 0.01 * (high - low)  # points just above the surface, so that it does not hide them
    ncols = min(len(groups), 3)
    nrows = math.ceil(len(groups) / ncols)
    fig = new_figure(max(4.4 * ncols, 6.4), 4.0 * nrows + 0.7)  # room for the title
    colors = label_colors(list(groups))
    shown = 0
    for i, (label, group) in enumerate(groups.items()):
        ax: Axes3D = fig.add_subplot(nrows, ncols, i + 1, projection="3d", computed_zorder=False)
        grid_x, grid_y = np.meshgrid(xs, ys)
        ax.plot_surface(grid_x, grid_y, values, facecolors=facets, **SURFACE)
        picked = spread_runs(group, max_paths)
        shown += len(picked)
        for run in picked:
            dots = int(np.clip(DOTS // len(picked), 30, 300))
            _draw_path(ax, surface, run, window, lift, colors[label], dots)
        (x0, x1), (y0, y1) = window
        ax.set(xlim=(x0, x1), ylim=(y0, y1), zlim=(low, high + 2 * lift))
        ax.set(xlabel="w1", ylabel="w2", zlabel="f")
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_major_locator(MaxNLocator(5))
        ax.tick_params(labelsize=7)
        ax.view_init(elev=45, azim=-65)  # from high up: paths lie inside bowls
        ax.set_title(mpl_text(label), fontsize=10)
    note = ""
    if shown < len(runs):
        note = f"\n{shown} of {len(runs)} runs shown (at most {max_paths} per panel, starts spread)"
    fig.suptitle(mpl_text(title or surface_title(surface)) + note, fontsize=11)
    return fig


def _draw_path(
    ax: Axes3D, surface: Surface, run: RunResult, window: Window, lift: float, color, dots: int
) -> None:
    """The run's points inside the window (at most `dots`, evenly spread over its steps,
    the last included) fading light to dark, then its end: red, or a black cross."""
    points = path_points(run)  # (T, 2)
    picks = np.unique(np.linspace(0, len(points) - 1, dots).round().astype(int))
    shown = points[picks]  # (n, 2)
    inside = (clip_to_window(shown, window) == shown).all(axis=1)
    xyz = np.where(inside[:, None], _on(surface, shown, lift), np.nan)  # NaN: a gap
    fade = fading_colors(color, len(shown), white=0.3)  # a paler start vanishes on the surface
    ax.plot(*xyz.T, color=color, lw=0.8, alpha=0.7, zorder=2, gid="path")
    ax.scatter(*xyz.T, c=fade, s=16, lw=0, depthshade=False, zorder=2.5, gid="dots")
    end = _on(surface, clip_to_window(points[-1:], window), lift)  # on the edge if it left
    style = DIVERGED_3D if run.diverged else END_3D
    ax.scatter(
        *end.T, depthshade=False, zorder=3, gid="diverged" if run.diverged else "end", **style
    )


def _on(surface: Surface, points: np.ndarray, lift: float) -> np.ndarray:
    """(n, 3) the (n, 2) points on the surface, lifted."""
    with torch.no_grad():
        z = surface(torch.as_tensor(points, dtype=torch.float64)).numpy() + lift
    return np.column_stack([points, z])
