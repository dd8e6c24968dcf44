"""What the plot modules share: figures outside pyplot, runs grouped by label, colours,
surfaces evaluated on a grid, and the escaping of user text (labels, formulas)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from descend.engine.results import RunResult
from descend.tasks.surfaces import Surface, Window

T = TypeVar("T")

MAX_PATHS = 50  # paths drawn per label: more is slower and no more legible
END_COLOR = "red"  # the final point, red as in seed 004: no label gets this colour
GREY = "#b0b0b0"  # "did not converge" in basin maps: no label gets it either
PIXEL = 1 / 500  # of an axis's range: about a pixel of a figure or a 3-D scene on screen


def new_figure(width: float, height: float) -> Figure:
    """A headless figure that pyplot does not know about: it is freed like any object
    once unreferenced (pyplot keeps every figure it made until it is closed)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def by_label(runs: Iterable[RunResult]) -> dict[str, list[RunResult]]:
    """Runs grouped by label, labels in order of first appearance."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    return groups


def sample_evenly(items: Sequence[T], limit: int) -> list[T]:
    """At most `limit` items, evenly spread over the sequence (first and last included)."""
    if len(items) <= limit:
        return list(items)
    picks = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in picks]


def spread_runs(runs: Sequence[RunResult], limit: int) -> list[RunResult]:
    """At most `limit` runs whose starts spread over the area the starts cover.

    Striding the list instead would follow its order: a grid of starts made row by row
    and strided by about its side picks only the diagonal w1 = w2. Runs sharing a start
    (several seeds) count once, unless there are fewer starts than `limit`.
    """
    if len(runs) <= limit:
        return list(runs)
    by_start: dict[tuple[float, ...], list[int]] = {}
    for i, run in enumerate(runs):
        by_start.setdefault(start_key(run), []).append(i)
    if len(by_start) <= limit:  # every start once, then their second runs, and so on
        groups = list(by_start.values())
        rounds = [g[k] for k in range(max(map(len, groups))) for g in groups if k < len(g)]
        return [runs[i] for i in sorted(rounds[:limit])]
    picks = spread_points(np.array(list(by_start)), limit)
    firsts = [group[0] for group in by_start.values()]
    return [runs[i] for i in sorted(firsts[p] for p in picks)]


def spread_points(points: np.ndarray, limit: int) -> list[int]:
    """Indices of at most `limit` of the (N, 2) points, one per cell of a grid laid over
    their bounding box (cells in proportion to its sides): the point nearest each cell's
    centre. On a regular grid of points this is a regular, coarser grid."""
    low, span = points.min(axis=0), np.ptp(points, axis=0)
    if span[0] == 0 or span[1] == 0:  # a line (or one point): all cells along it
        columns, rows = (1, limit) if span[0] == 0 else (limit, 1)
    else:
        columns = int(np.clip(np.sqrt(limit * span[0] / span[1]), 1, limit))
        rows = max(1, limit // columns)
    unit = np.where(span > 0, span, 1.0)
    scaled = (points - low) / unit  # (N, 2) in [0, 1]
    cx, cy = (np.arange(columns) + 0.5) / columns, (np.arange(rows) + 0.5) / rows
    centres = np.stack(np.meshgrid(cx, cy), axis=-1).reshape(-1, 2)  # (cells, 2)
    nearest = [int(np.argmin(((scaled - c) ** 2).sum(axis=1))) for c in centres]
    return list(dict.fromkeys(nearest))


def label_colors(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One qualitative colour per label: tab10 without its red (the end marker) and grey
    (basin maps' "not converged"), then tab20's light shades, then again."""
    tab10 = [to_rgb(c) for c in colormaps["tab10"].colors]  # type: ignore[attr-defined]
    tab20 = [to_rgb(c) for c in colormaps["tab20"].colors]  # type: ignore[attr-defined]
    palette = [c for i, c in enumerate(tab10) if i not in (3, 7)]
    palette += [c for i, c in enumerate(tab20) if i % 2 == 1 and i not in (7, 15)]
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def legend_columns(names: Sequence[str], width: float, fontsize: float = 9) -> int:
    """As many legend columns as fit `width` inches, sized for the longest name (a
    character is about 0.6 em; the handle and the gaps about 5 em)."""
    entry = (0.6 * max(map(len, names)) + 5) * fontsize / 72  # inches
    return max(1, min(len(names), int(0.95 * width / entry)))


def fading_colors(color: Sequence[float], n: int, white: float = 0.6) -> np.ndarray:
    """(n, 3) colours along a path: from a pale tint of `color` (`white` its share of
    white) to a dark shade of it."""
    base = np.asarray(to_rgb(color))  # type: ignore[arg-type]
    light, dark = white * np.ones(3) + (1 - white) * base, 0.55 * base
    t = np.linspace(0.0, 1.0, n)[:, None]  # (n, 1)
    return (1 - t) * light + t * dark


def mpl_text(text: str) -> str:
    """User text for matplotlib: a '$' would otherwise start mathtext (and an odd number
    of them makes drawing fail), and a legend leaves out labels that start with '_'."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def html_text(text: str) -> str:
    """User text for plotly, whose titles and legends render a subset of HTML."""
    return html.escape(text, quote=False)


def path_points(run: RunResult) -> np.ndarray:
    """(T, 2) the run's points up to its last finite one: after a divergence the engine
    records NaN, and the point that diverged may itself be infinite."""
    trajectory = run.trajectory.detach().cpu().to(torch.float64).numpy()
    if trajectory.ndim != 2 or trajectory.shape[1] != 2:
        raise ValueError(
            f"Plots of paths need 2-D trajectories; run {run.label!r} has shape "
            f"{tuple(trajectory.shape)}."
        )
    finite = np.isfinite(trajectory).all(axis=1)
    end = len(finite) if finite.all() else int(np.argmin(finite))
    return trajectory[: max(end, 1)]


def start_key(run: RunResult) -> tuple[float, ...]:
    """Where the run started: its spec's start, without touching the trajectory
    (converting 10 000 trajectories of 1 000 steps to find their first points takes 0.3 s)."""
    if run.spec.start is not None:
        return tuple(run.spec.start)
    return tuple(run.trajectory[0].tolist())


def start_of(run: RunResult) -> np.ndarray:
    """(2,) where the run started (see `start_key`)."""
    return np.asarray(start_key(run), dtype=float)


def moved_a_pixel(points: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Indices of the (T, d) points that land on another pixel than the point before
    (pixels: `PIXEL` of each axis's `span`), the first and the last always included: a
    converged run's last 900 steps sit on one pixel, and drawing them costs time (and
    bytes in a page) for nothing. Points outside the window (NaN) count as moving: the
    gaps they make are kept."""
    cells = np.floor(points / (np.asarray(span) * PIXEL))  # (T, d)
    moved = np.ones(len(points), dtype=bool)
    moved[1:] = (cells[1:] != cells[:-1]).any(axis=1)  # NaN != NaN: kept
    moved[-1] = True
    return moved.nonzero()[0]


def plot_window(surface: Surface, runs: Sequence[RunResult], window: Window | None) -> Window:
    """`window` if given; else the surface's, widened to hold every start."""
    if window is not None:
        return window
    (x0, x1), (y0, y1) = surface.window
    if runs:
        starts = np.array([start_of(run) for run in runs])  # (N, 2)
        x0, x1 = min(x0, starts[:, 0].min()), max(x1, starts[:, 0].max())
        y0, y1 = min(y0, starts[:, 1].min()), max(y1, starts[:, 1].max())
    return (float(x0), float(x1)), (float(y0), float(y1))


def clip_to_window(points: np.ndarray, window: Window) -> np.ndarray:
    """Points moved onto the window's edge when outside it (a divergence marker far
    away would otherwise be off the axes, or stretch them)."""
    (x0, x1), (y0, y1) = window
    return np.stack([points[..., 0].clip(x0, x1), points[..., 1].clip(y0, y1)], axis=-1)


def surface_grid(
    surface: Surface, window: Window, resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs (n,), ys (n,) and f on the grid, (n, n) with rows along w2."""
    (x0, x1), (y0, y1) = window
    xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
    ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (n, n, 2)
    with torch.no_grad():
        values = surface(grid)  # (n, n)
    return xs.numpy(), ys.numpy(), values.detach().cpu().to(torch.float64).numpy()


def gap_name(surface: Surface) -> str:
    """What `gap_range` holds, for axis and colorbar labels."""
    return "f − f*" if surface.minimum_value is not None else "f − min f"


def gap_range(values: np.ndarray, minimum: float | None, span: float = 1e-5) -> np.ndarray:
    """f − f* on a grid (f − min f when f* is unknown), clipped to [max·span, max] so a
    log scale shows the narrow valleys and the region near the minimum alike."""
    floor = np.nanmin(values) if minimum is None else minimum
    gap = values - floor
    top = np.nanmax(gap) if np.isfinite(gap).any() else 1.0
    top = top if np.isfinite(top) and top > 0 else 1.0
    positive = gap[np.isfinite(gap) & (gap > 0)]
    low = max(top * span, positive.min() if positive.size else top * span)
    return np.clip(np.nan_to_num(gap, nan=top, posinf=top), low, top)


def panel_aspect(window: Window) -> float:
    """Height over width of a panel: the window's, within limits (equal aspect up to 4:1)."""
    (x0, x1), (y0, y1) = window
    return float(np.clip((y1 - y0) / (x1 - x0), 0.6, 1.4))


def surface_title(surface: Surface) -> str:
    return f"{surface.label}:  f = {surface.formula}"
