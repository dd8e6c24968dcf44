"""Basins of attraction: which minimum each start leads to, drawn as a map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from descend.analysis import DIVERGED, NOT_CONVERGED, basin
from descend.engine import RunResult
from descend.plots._common import GREY, by_label, label_colors, mpl_text, new_figure, start_of
from descend.tasks.surfaces import Surface

MAX_LEGEND_MINIMA = 10  # minima named in a legend; the rest are counted together
MANY_MINIMA = 12  # beyond this, a minimum's colour says its value, not its name
VALUE_COLORS = colormaps["viridis"]


@dataclass(frozen=True)
class Basins:
    """Where each start ended: `indices[i]` is the index of the minimum run i reached
    (into surface.minima), or NOT_CONVERGED, or DIVERGED. When the starts form a regular
    grid, `image` holds the same indices on it: image[row, column] is the start
    (xs[column], ys[row])."""

    starts: np.ndarray  # (N, 2)
    indices: np.ndarray  # (N,) int
    xs: np.ndarray | None = None  # (columns,)
    ys: np.ndarray | None = None  # (rows,)
    image: np.ndarray | None = None  # (rows, columns) int


def basin_grid(surface: Surface, runs: Sequence[RunResult], tolerance: float = 1e-2) -> Basins:
    """The basin of every run's start (see `descend.analysis.basin`), on a grid if the
    starts form a regular one (evenly spaced along each axis, every cell once)."""
    starts = np.array([start_of(run) for run in runs]).reshape(-1, 2)  # (N, 2)
    indices = np.array([basin(run, surface, tolerance) for run in runs], dtype=int)
    xs, ys = np.unique(starts[:, 0]), np.unique(starts[:, 1])
    if not (_evenly_spaced(xs) and _evenly_spaced(ys) and len(xs) * len(ys) == len(starts)):
        return Basins(starts, indices)
    columns, rows = np.searchsorted(xs, starts[:, 0]), np.searchsorted(ys, starts[:, 1])
    image = np.full((len(ys), len(xs)), np.iinfo(int).min)
    image[rows, columns] = indices
    if (image == np.iinfo(int).min).any():  # a start repeated, so another cell is empty
        return Basins(starts, indices)
    return Basins(starts, indices, xs, ys, image)


def _evenly_spaced(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return len(values) >= 2 and bool(np.allclose(steps, steps.mean(), rtol=1e-3, atol=0))


def basin_colors(surface: Surface) -> np.ndarray:
    """(rows, 3) RGB, indexed by `row(index)`: diverged black, not converged grey, then
    one colour per minimum: the labels' palette, or, for surfaces with many minima
    (Rastrigin's lattice), a colour for the minimum's value, so that the traps read as
    levels: dark is low, the global minimum darkest."""
    palette = np.ones((row(len(surface.minima)), 3))  # type: ignore[arg-type]
    palette[row(DIVERGED)], palette[row(NOT_CONVERGED)] = (0.0, 0.0, 0.0), to_rgb(GREY)
    if len(surface.minima) > MANY_MINIMA:
        norm = value_norm(surface)
        for i, minimum in enumerate(surface.minima):
            palette[row(i)] = VALUE_COLORS(norm(minimum.value))[:3]
        return palette
    minima = label_colors([str(i) for i in range(len(surface.minima))])  # i -> colour
    for i, color in enumerate(minima.values()):
        palette[row(i)] = color
    return palette


def value_norm(surface: Surface) -> Normalize:
    values = [m.value for m in surface.minima]
    return Normalize(min(values), max(values))


def row(index: np.ndarray | int) -> np.ndarray | int:
    """The palette row of a basin index (a minimum's, NOT_CONVERGED or DIVERGED)."""
    return index - DIVERGED


def basin_map(surface: Surface, runs: Sequence[RunResult], *, tolerance: float = 1e-2) -> Figure:
    """Each start coloured by the minimum its run reached (grey: did not converge within
    `tolerance`; black: diverged), one panel per label, minima marked. The figure's
    `basins` attribute holds the `Basins` it drew, by label."""
    groups = by_label(runs)
    if not groups:
        raise ValueError("basin_map needs at least one run.")
    ncols = min(len(groups), 3)
    nrows = math.ceil(len(groups) / ncols)
    legend_rows = (min(len(surface.minima), MAX_LEGEND_MINIMA + 1) + 4) // 2
    legend_height = 0.17 * legend_rows + 0.15  # inches
    fig = new_figure(max(4.6 * ncols, 6.4), (4.4 + legend_height) * nrows + 0.9)
    # Each panel has a row below it for its legend (counts differ by label): a legend in
    # an axes of its own gets its room from the layout, one hung below the panel does not.
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[4.4, legend_height] * nrows)
    drawn: dict[str, Basins] = {}
    palette = basin_colors(surface)
    share = None
    for i, (label, group) in enumerate(groups.items()):
        r, c = divmod(i, ncols)
        ax = fig.add_subplot(grid[2 * r, c], sharex=share, sharey=share)
        share = share or ax
        basins = drawn[label] = basin_grid(surface, group, tolerance)
        _draw_basins(ax, basins, palette)
        _draw_minima(ax, surface, palette)
        ax.set_title(mpl_text(label), fontsize=10)
        ax.set(xlabel="w1", ylabel="w2")
        legend_ax = fig.add_subplot(grid[2 * r + 1, c])
        legend_ax.axis("off")
        handles, names = _legend(surface, basins, palette)
        legend_ax.legend(handles, names, loc="upper center", fontsize=7, ncols=2, frameon=False)
    if len(surface.minima) > MANY_MINIMA:
        mappable = ScalarMappable(value_norm(surface), VALUE_COLORS)
        axes = [a for a in fig.axes if a.get_title()]
        fig.colorbar(mappable, ax=axes, shrink=0.6, label="f at the minimum reached")
    fig.basins = drawn  # type: ignore[attr-defined]  # the data behind the picture
    title = f"basins of attraction on {surface.label}:  f = {surface.formula}"
    note = f"each start coloured by the minimum its run ended within {tolerance:g} of"
    fig.suptitle(f"{mpl_text(title)}\n{note}", fontsize=10)
    return fig


def _draw_basins(ax: Axes, basins: Basins, palette: np.ndarray) -> None:
    if basins.image is not None and basins.xs is not None and basins.ys is not None:
        dx, dy = basins.xs[1] - basins.xs[0], basins.ys[1] - basins.ys[0]
        extent = (
            basins.xs[0] - dx / 2,
            basins.xs[-1] + dx / 2,
            basins.ys[0] - dy / 2,
            basins.ys[-1] + dy / 2,
        )
        ax.imshow(
            palette[row(basins.image)], extent=extent, origin="lower", interpolation="nearest"
        )
        ax.set(xlim=extent[:2], ylim=extent[2:])
    else:  # scattered starts: dots sized so that they about tile the panel
        size = float(np.clip(40_000 / max(len(basins.starts), 1), 2, 60))
        ax.scatter(*basins.starts.T, c=palette[row(basins.indices)], s=size, lw=0)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if 0.25 <= (y1 - y0) / (x1 - x0) <= 4:
        ax.set_aspect("equal")


def _draw_minima(ax: Axes, surface: Surface, palette: np.ndarray) -> None:
    """Every minimum, filled with its basin's colour (global: big star, local: small)."""
    for i, minimum in enumerate(surface.minima):
        size = 15 if minimum.is_global else 9
        ax.plot(*minimum.point, "*", ms=size, mfc=palette[row(i)], mec="black", gid="minimum")


def _legend(surface: Surface, basins: Basins, palette: np.ndarray) -> tuple[list, list[str]]:
    """The minima the runs reached (and every global one), by coordinates and count, then
    "not converged" and "diverged"; minima beyond MAX_LEGEND_MINIMA are counted together."""
    counts = np.bincount(row(basins.indices), minlength=len(palette))  # by palette row
    named = [i for i, m in enumerate(surface.minima) if m.is_global or counts[row(i)]]
    handles: list = []
    names: list[str] = []
    if len(surface.minima) > MANY_MINIMA:  # by value (see the colour bar), not by name
        named = [i for i in named if surface.minima[i].is_global]
        local = sum(counts[row(i)] for i, m in enumerate(surface.minima) if not m.is_global)
        handles.append(Patch(facecolor=VALUE_COLORS(0.6), edgecolor="black", lw=0.5))
        names.append(f"trapped in a local minimum: {local}")
    for i in named[:MAX_LEGEND_MINIMA]:
        (x, y), kind = surface.minima[i].point, "" if surface.minima[i].is_global else " local"
        handles.append(Patch(facecolor=palette[row(i)], edgecolor="black", lw=0.5))
        names.append(f"({x:.2f}, {y:.2f}){kind}: {counts[row(i)]}")
    rest = named[MAX_LEGEND_MINIMA:]
    if rest:
        handles.append(Patch(facecolor="white", edgecolor="black", lw=0.5))
        names.append(f"{len(rest)} other minima: {sum(counts[row(i)] for i in rest)}")
    for index, name in ((NOT_CONVERGED, "not converged"), (DIVERGED, "diverged")):
        handles.append(Patch(facecolor=palette[row(index)], edgecolor="black", lw=0.5))
        names.append(f"{name}: {counts[row(index)]}")
    handles.append(Line2D([], [], marker="*", ms=10, mfc="white", mec="black", ls="none"))
    names.append("minimum")
    return handles, names
