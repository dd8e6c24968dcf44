"""Drawing on a contour of a surface, shared by the static and the animated paths: the
background, the markers (start, end, divergence, minima) and their legend."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, LogNorm
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, LogLocator

from descend.engine import RunResult
from descend.plots._common import (
    END_COLOR,
    clip_to_window,
    fading_colors,
    gap_range,
    mpl_text,
    path_points,
    surface_grid,
)
from descend.tasks.surfaces import Surface, Window

MAX_DOTS = 300  # fading points per path; the line itself keeps every step

# A pale background, white at the minimum: the coloured paths and markers stay legible.
BACKGROUND = LinearSegmentedColormap.from_list(
    "descend_background", ["#ffffff", "#e9edf1", "#ccd3db", "#aab4bf"]
)
BACKGROUND_3D = [[0.0, "#ffffff"], [0.35, "#e9edf1"], [0.7, "#ccd3db"], [1.0, "#aab4bf"]]
START = dict(marker="o", ms=7, mfc="white", mec="black", mew=1.2, ls="none", zorder=5)
END = dict(marker="o", ms=6, mfc=END_COLOR, mec="black", mew=0.8, ls="none", zorder=6)
DIVERGED = dict(marker="X", ms=10, mfc="black", mec="white", mew=1.0, ls="none", zorder=6)
GLOBAL_MINIMUM = dict(marker="*", ms=16, mfc="black", mec="white", mew=1.0, ls="none", zorder=4)
LOCAL_MINIMUM = dict(marker="*", ms=10, mfc="#555555", mec="white", mew=0.8, ls="none", zorder=4)


def draw_contour(ax: Axes, surface: Surface, window: Window) -> QuadContourSet:
    """Filled contour with geometric levels of f − f*: the steep walls and the floor of a
    narrow valley both get their share of the levels."""
    xs, ys, values = surface_grid(surface, window, resolution=200)
    gap = gap_range(values, surface.minimum_value)
    low, top = float(np.nanmin(gap)), float(np.nanmax(gap))
    top = max(top, low * 10)  # a flat surface still needs increasing levels
    levels = np.geomspace(low, top, 25)
    filled = ax.contourf(xs, ys, gap, levels=levels, norm=LogNorm(low, top), cmap=BACKGROUND)
    ax.contour(xs, ys, gap, levels=levels[::2], colors="white", linewidths=0.5, alpha=0.8)
    (x0, x1), (y0, y1) = window
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="w1", ylabel="w2")
    if 0.25 <= (y1 - y0) / (x1 - x0) <= 4:  # equal aspect only where it leaves a usable plot
        ax.set_aspect("equal")
    return filled


def draw_minima(ax: Axes, surface: Surface, window: Window) -> None:
    for is_global, style in ((True, GLOBAL_MINIMUM), (False, LOCAL_MINIMUM)):
        points = minima_in(surface, window, is_global)
        if len(points):
            ax.plot(points[:, 0], points[:, 1], gid="minimum", **style)


def legend_entries(
    colors: dict[str, tuple[float, float, float]],
    surface: Surface,
    window: Window,
    diverged: bool,
    end: str = "end",
) -> tuple[list[Line2D], list[str]]:
    """Proxy artists: one line per label, then the markers that appear in the figure."""
    handles = [Line2D([], [], color=c, lw=1.5, marker="o", ms=4) for c in colors.values()]
    names = [mpl_text(label) for label in colors]
    markers = [(START, "start"), (END, end)]
    markers += [(DIVERGED, "diverged")] if diverged else []
    markers += [(GLOBAL_MINIMUM, "global minimum")] if len(minima_in(surface, window, True)) else []
    markers += [(LOCAL_MINIMUM, "local minimum")] if len(minima_in(surface, window, False)) else []
    for style, name in markers:
        handles.append(Line2D([], [], **{k: v for k, v in style.items() if k != "zorder"}))
        names.append(name)
    return handles, names


def add_colorbar(fig: Figure, filled: QuadContourSet, axes: list[Axes], label: str) -> None:
    """One log colorbar for all panels, ticks at powers of ten."""
    fig.colorbar(
        filled,
        ax=axes,
        label=label,
        shrink=0.8,
        aspect=30,
        ticks=LogLocator(),
        format=LogFormatterSciNotation(),
    )


def draw_runs(
    ax: Axes, runs: Sequence[RunResult], color: tuple, window: Window, crowded: bool
) -> None:
    """Paths (one line each, gid "path"), then all starts, ends and divergences at once.
    A few runs get seed 004's points fading from light to dark; a crowd (a grid of
    starts) gets thin translucent lines and small markers, so that it stays readable."""
    paths = [path_points(run) for run in runs]
    for points in paths:
        ax.plot(
            *points.T,
            color=color,
            lw=0.7 if crowded else 1.0,
            alpha=0.5 if crowded else 0.9,
            gid="path",
            zorder=3,
        )
        if not crowded:
            picks = np.unique(np.linspace(0, len(points) - 1, MAX_DOTS).round().astype(int))
            dots = points[picks]  # (≤ MAX_DOTS, 2)
            ax.scatter(*dots.T, c=fading_colors(color, len(dots)), s=18, lw=0, zorder=3.5)
    small = dict(ms=4, mew=0.8) if crowded else {}
    ax.plot(*np.array([p[0] for p in paths]).T, gid="start", **{**START, **small})
    for diverged, style, gid in ((False, END, "end"), (True, DIVERGED, "diverged")):
        lasts = [p[-1] for p, run in zip(paths, runs, strict=True) if run.diverged == diverged]
        if lasts:
            lasts_in = clip_to_window(np.array(lasts), window)  # (n, 2), on the axes
            # not clipped: a marker on the window's edge is drawn whole
            ax.plot(*lasts_in.T, gid=gid, clip_on=False, **{**style, **small})


def minima_in(surface: Surface, window: Window, is_global: bool) -> np.ndarray:
    (x0, x1), (y0, y1) = window
    points = [
        m.point
        for m in surface.minima
        if m.is_global == is_global and x0 <= m.point[0] <= x1 and y0 <= m.point[1] <= y1
    ]
    return np.array(points, dtype=float).reshape(-1, 2)
