"""Paths of runs over a 2-D surface: on its contour, in 3-D, and as an animation.

Every path is drawn as seed 004 drew it, points fading from light to dark with time and
the final point red; the start is a white circle, known minima are stars (smaller for
local ones). With many runs (a grid of 2 000 starts), at most `MAX_PATHS` per label are
drawn, evenly sampled, and the title says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from descend.engine import RunResult
from descend.plots._common import (
    END_COLOR,
    MAX_PATHS,
    by_label,
    clip_to_window,
    fading_colors,
    gap_name,
    gap_range,
    html_text,
    label_colors,
    legend_columns,
    mpl_text,
    new_figure,
    panel_aspect,
    path_points,
    plot_window,
    sample_evenly,
    surface_grid,
    surface_title,
)
from descend.plots._contour import (
    BACKGROUND_3D,
    add_colorbar,
    draw_contour,
    draw_minima,
    draw_runs,
    legend_entries,
    minima_in,
)
from descend.plots.curves import draw_lr_curves
from descend.tasks.surfaces import Surface, Window

POINTS_UP_TO = 6  # paths per panel drawn with fading points; more are thin lines


def contour_paths(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    overlay: bool = True,
    window: Window | None = None,
    title: str | None = None,
    lr_panel: bool | None = None,
) -> Figure:
    """Each run's path on the filled contour of log(f − f*).

    overlay=True puts every label on one axes; overlay=False gives each label its own
    panel (shared axes, titled by the label). lr_panel adds a panel of each label's
    learning rate against the step; None adds it when some run's lr changes (a schedule).
    """
    groups = by_label(runs)
    if not groups:
        raise ValueError("contour_paths needs at least one run.")
    window = plot_window(surface, runs, window)
    colors = label_colors(list(groups))
    shown = {label: sample_evenly(group, MAX_PATHS) for label, group in groups.items()}
    with_lr = _lr_varies(runs) if lr_panel is None else lr_panel
    fig, axes, lr_ax = _layout(1 if overlay else len(groups), with_lr, panel_aspect(window))
    for ax in axes:
        filled = draw_contour(ax, surface, window)
        draw_minima(ax, surface, window)
    per_axes = sum(map(len, shown.values())) if overlay else max(map(len, shown.values()))
    for i, (label, group) in enumerate(shown.items()):
        ax = axes[0 if overlay else i]
        draw_runs(ax, group, colors[label], window, crowded=per_axes > POINTS_UP_TO)
        if not overlay:
            ax.set_title(mpl_text(label), fontsize=10)
    if lr_ax is not None:
        lr = {label: group[0].lr.detach().cpu().numpy() for label, group in groups.items()}
        draw_lr_curves(lr_ax, lr, colors)
        lr_ax.set_title("learning rate", fontsize=10)
    add_colorbar(fig, filled, axes, gap_name(surface))
    diverged = any(run.diverged for group in shown.values() for run in group)
    handles, names = legend_entries(colors, surface, window, diverged)
    ncols = legend_columns(names, fig.get_figwidth())
    fig.legend(handles, names, loc="outside lower center", ncols=ncols, fontsize=9)
    fig.suptitle(
        mpl_text(title or surface_title(surface)) + _shown_note(groups, shown), fontsize=11
    )
    return fig


def _layout(panels: int, lr_panel: bool, aspect: float) -> tuple[Figure, list[Axes], Axes | None]:
    """Path panels (sharing both axes) in rows of at most 3, then the lr panel if any."""
    total = panels + int(lr_panel)
    ncols = min(total, 3)
    nrows = math.ceil(total / ncols)
    fig = new_figure(4.3 * ncols + 1.6, 4.0 * aspect * nrows + 1.6)
    grid = fig.add_gridspec(nrows, ncols)
    axes: list[Axes] = []
    for i in range(panels):
        share = axes[0] if axes else None
        axes.append(fig.add_subplot(grid[divmod(i, ncols)], sharex=share, sharey=share))
    lr_ax = fig.add_subplot(grid[divmod(panels, ncols)]) if lr_panel else None
    return fig, axes, lr_ax


def _lr_varies(runs: Sequence[RunResult]) -> bool:
    for run in runs:
        lr = run.lr[run.lr.isfinite()]
        if len(lr) and float(lr.max() - lr.min()) > 1e-12 * float(lr.abs().max()):
            return True
    return False


def _shown_note(groups: dict[str, list], shown: dict[str, list]) -> str:
    total, drawn = sum(map(len, groups.values())), sum(map(len, shown.values()))
    if drawn == total:
        return ""
    return f"\n{drawn} of {total} runs shown (at most {MAX_PATHS} per label, evenly sampled)"


def surface_3d(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    window: Window | None = None,
    title: str | None = None,
) -> go.Figure:
    """The surface in 3-D (colour: log10(f − f*)) with each run's path lying on it.
    Every user string (labels, formula) is HTML-escaped: plotly renders tags in names and
    titles. Save it self-contained with `fig.write_html(path, include_plotlyjs=True)`."""
    groups = by_label(runs)
    window = plot_window(surface, runs, window)
    xs, ys, values = surface_grid(surface, window, resolution=80)
    gap = gap_range(values, surface.minimum_value)
    fig = go.Figure(_surface_trace(xs, ys, values, np.log10(gap), f"log10({gap_name(surface)})"))
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    # Lift paths by 0.5 % of the height so the surface does not hide them. Seed 000 shifted
    # its paths by +1/+2, which drew them visibly off the surface: do not.
    lift = 0.005 * (high - low)
    colors = label_colors(list(groups))
    ends: dict[str, list[np.ndarray]] = {"start": [], "end": [], "diverged": []}
    for label, group in groups.items():
        for i, run in enumerate(sample_evenly(group, MAX_PATHS)):
            points = path_points(run)
            fig.add_trace(_path_trace(surface, points, window, lift, label, colors[label], i == 0))
            ends["start"].append(points[0])
            ends["diverged" if run.diverged else "end"].append(points[-1])
    for name, points in ends.items():
        if points:
            fig.add_trace(_marker_trace(surface, np.array(points), window, lift, name))
    for is_global, name in ((True, "global minimum"), (False, "local minimum")):
        if len(minima := minima_in(surface, window, is_global)):
            fig.add_trace(_marker_trace(surface, minima, window, lift, name))
    (x0, x1), (y0, y1) = window
    fig.update_layout(
        title=html_text(title or surface_title(surface)),
        scene=dict(
            xaxis=dict(title="w1", range=[x0, x1]),
            yaxis=dict(title="w2", range=[y0, y1]),
            zaxis=dict(title="f", range=[low, high + 2 * lift]),
            aspectmode="manual",
            aspectratio=dict(x=1, y=float(np.clip((y1 - y0) / (x1 - x0), 0.25, 4)), z=0.7),
            camera=dict(eye=dict(x=0.9, y=-1.5, z=1.5)),  # from high up: paths lie inside bowls
        ),
        legend=dict(x=0, y=1, xanchor="left", bgcolor="rgba(255,255,255,0.7)"),
        margin=dict(l=0, r=0, t=50, b=0),
    )
    return fig


def _surface_trace(xs, ys, values: np.ndarray, color: np.ndarray, name: str) -> go.Surface:
    return go.Surface(
        x=xs,
        y=ys,
        z=values,
        surfacecolor=color,
        colorscale=BACKGROUND_3D,
        colorbar=dict(title=name, len=0.6),
        opacity=0.85,  # paths behind a wall still show through
        name="f",
        showlegend=False,
        hovertemplate="w1 %{x:.3g}<br>w2 %{y:.3g}<br>f %{z:.4g}<extra></extra>",
    )


def _on_surface(surface: Surface, points: np.ndarray, window: Window, lift: float) -> dict:
    """x, y and z = f + lift of the points inside the window; NaN (a gap in the line)
    outside it, where the surface is not drawn and the axes would stretch to hold them."""
    with torch.no_grad():
        z = surface(torch.as_tensor(points, dtype=torch.float64)).numpy() + lift
    inside = (clip_to_window(points, window) == points).all(axis=1)
    x, y, z = (np.where(inside, v, np.nan) for v in (points[:, 0], points[:, 1], z))
    return dict(x=x, y=y, z=z)


def _path_trace(surface, points, window, lift, label: str, color, first: bool) -> go.Scatter3d:
    dots = [
        f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})"
        for r, g, b in fading_colors(color, len(points))
    ]
    return go.Scatter3d(
        **_on_surface(surface, points, window, lift),
        mode="lines+markers",
        line=dict(color=f"rgb{tuple(round(c * 255) for c in color)}", width=4),
        marker=dict(size=3, color=dots),
        name=html_text(label),
        legendgroup=html_text(label),
        showlegend=first,
        customdata=np.arange(len(points)),
        hovertemplate="step %{customdata}<br>w1 %{x:.4g}<br>w2 %{y:.4g}",
    )


# plotly markers: (symbol, size, fill, outline)
_MARKERS_3D = {
    "start": ("circle", 6, "white", "black"),
    "end": ("circle", 6, END_COLOR, "black"),
    "diverged": ("x", 7, "black", "black"),
    # open, so that the red end of a run that reached the minimum shows inside
    "global minimum": ("diamond-open", 9, "black", "black"),
    "local minimum": ("diamond-open", 6, "#555555", "#555555"),
}


def _marker_trace(surface, points, window, lift, name: str) -> go.Scatter3d:
    symbol, size, fill, outline = _MARKERS_3D[name]
    return go.Scatter3d(
        **_on_surface(surface, clip_to_window(points, window), window, lift),
        mode="markers",
        marker=dict(symbol=symbol, size=size, color=fill, line=dict(color=outline, width=2)),
        name=name,
    )
