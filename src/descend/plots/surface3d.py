"""The surface in 3-D, interactive (plotly), with the paths of runs lying on it.

A page for 10 000 runs × 1 000 steps stays small and quick to make:
- at most `MAX_PATHS` paths per label, their starts spread evenly (the title says so);
- all of a label's paths in ONE trace, separated by gaps: plotly validates and
  serialises each trace on its own, and 100 traces cost seconds;
- along a path, only the points that move at least a pixel (`moved_a_pixel`) from
  the previous one kept: a converged run's last 900 steps sit on the same pixel;
- numbers as float32: plotly writes numpy arrays as base64 typed arrays, 4 bytes a value
  with float32 (7 significant digits), fewer bytes than the same numbers as text with 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

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
    moved_a_pixel,
    path_points,
    plot_window,
    spread_runs,
    surface_grid,
    surface_title,
)
from descend.plots._contour import BACKGROUND_3D, minima_in
from descend.tasks.surfaces import Surface, Window

RESOLUTION = 80  # surface grid: 80 × 80 points

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _go():
    """plotly's graph objects, imported when a 3-D figure is drawn (0.4 s to import: a
    study that draws none, or a machine without plotly, does not pay for it)."""
    import plotly.graph_objects as go

    return go


def surface_3d(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    window: Window | None = None,
    title: str | None = None,
    max_paths: int = MAX_PATHS,
) -> go.Figure:
    """The surface in 3-D (colour: log10(f − f*)) with each run's path lying on it, one
    trace per label (at most `max_paths` paths each, starts spread evenly).
    Every user string (labels, formula) is HTML-escaped: plotly renders tags in names and
    titles. Save it self-contained with `fig.write_html(path, include_plotlyjs=True)`."""
    groups = by_label(runs)
    if not groups:
        raise ValueError("surface_3d needs at least one run.")
    window = plot_window(surface, runs, window)
    xs, ys, values = surface_grid(surface, window, resolution=RESOLUTION)
    gap = gap_range(values, surface.minimum_value)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    # Lift paths by 0.5 % of the height so the surface does not hide them. Seed 000 shifted
    # its paths by +1/+2, which drew them visibly off the surface: do not.
    scene = _Scene(surface, window, lift=0.005 * (high - low), height=max(high - low, 1e-300))
    colors = label_colors(list(groups))
    shown = {label: spread_runs(group, max_paths) for label, group in groups.items()}
    traces: list = [_surface_trace(xs, ys, values, np.log10(gap), f"log10({gap_name(surface)})")]
    traces += [scene.paths(label, group, colors[label]) for label, group in shown.items()]
    traces += _marker_traces(scene, [run for group in shown.values() for run in group])
    fig = _go().Figure(traces)
    (x0, x1), (y0, y1) = window
    heading = html_text(title or surface_title(surface))
    drawn = sum(map(len, shown.values()))
    if drawn < len(runs):
        note = f"{drawn} of {len(runs)} runs shown (at most {max_paths} per label, starts spread)"
        heading += f"<br><sup>{note}</sup>"
    fig.update_layout(
        title=heading,
        scene=dict(
            xaxis=dict(title="w1", range=[x0, x1]),
            yaxis=dict(title="w2", range=[y0, y1]),
            zaxis=dict(title="f", range=[low, high + 2 * scene.lift]),
            aspectmode="manual",
            aspectratio=dict(x=1, y=float(np.clip((y1 - y0) / (x1 - x0), 0.25, 4)), z=0.7),
            camera=dict(eye=dict(x=0.9, y=-1.5, z=1.5)),  # from high up: paths lie inside bowls
        ),
        legend=dict(x=0, y=1, xanchor="left", bgcolor="rgba(255,255,255,0.7)"),
        margin=dict(l=0, r=0, t=60, b=0),
    )
    return fig


def _surface_trace(xs, ys, values: np.ndarray, color: np.ndarray, name: str) -> go.Surface:
    return _go().Surface(
        x=xs.astype(np.float32),
        y=ys.astype(np.float32),
        z=values.astype(np.float32),
        surfacecolor=color.astype(np.float32),
        colorscale=BACKGROUND_3D,
        colorbar=dict(title=name, len=0.6),
        opacity=0.85,  # paths behind a wall still show through
        name="f",
        showlegend=False,
        hovertemplate="w1 %{x:.3g}<br>w2 %{y:.3g}<br>f %{z:.4g}<extra></extra>",
    )


class _Scene:
    """Where points go in the scene: on the surface, lifted; NaN outside the window."""

    def __init__(self, surface: Surface, window: Window, lift: float, height: float):
        self.surface, self.window, self.lift = surface, window, lift
        (x0, x1), (y0, y1) = window
        self.span = np.array([x1 - x0, y1 - y0, height])  # (3,) the axes' ranges

    def place(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) x, y, z = f + lift of the (n, 2) points; NaN outside the window, where
        the surface is not drawn and the axes would stretch to hold them (a gap)."""
        with torch.no_grad():
            z = self.surface(torch.as_tensor(points, dtype=torch.float64)).numpy() + self.lift
        inside = (clip_to_window(points, self.window) == points).all(axis=1)
        return np.where(inside[:, None], np.column_stack([points, z]), np.nan)

    def paths(self, label: str, runs: Sequence[RunResult], color) -> go.Scatter3d:
        """All the runs' paths as one trace, a NaN row between two paths (a gap in the
        line); markers fade from light to dark along each path (colour: step / last)."""
        rows, steps, fades = [], [], []
        for run in runs:
            xyz = self.place(path_points(run))  # (T, 3)
            kept = moved_a_pixel(xyz, self.span)  # (n,) step indices
            rows += [xyz[kept], np.full((1, 3), np.nan)]
            steps += [kept, [0]]
            fades += [kept / max(len(xyz) - 1, 1), [0.0]]
        xyz, step, fade = (np.concatenate(parts)[:-1] for parts in (rows, steps, fades))
        light, dark = (f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in 255 * fading_colors(color, 2))
        return _go().Scatter3d(
            x=xyz[:, 0].astype(np.float32),
            y=xyz[:, 1].astype(np.float32),
            z=xyz[:, 2].astype(np.float32),
            mode="lines+markers",
            line=dict(color=f"rgb{tuple(round(c * 255) for c in color)}", width=4),
            marker=dict(
                size=3,
                color=np.round(255 * fade).astype(np.uint8),  # 1 byte a point
                colorscale=[[0, light], [1, dark]],
                cmin=0,
                cmax=255,
                showscale=False,
            ),
            name=html_text(label),
            legendgroup=html_text(label),
            customdata=step.astype(np.uint16 if step.max() < 2**16 else np.int32),
            hovertemplate="step %{customdata}<br>w1 %{x:.4g}<br>w2 %{y:.4g}<br>f %{z:.4g}",
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


def _marker_traces(scene: _Scene, runs: Sequence[RunResult]) -> list[go.Scatter3d]:
    """Starts, ends and divergences of the runs shown, then the minima in the window."""
    points: dict[str, list[np.ndarray]] = {"start": [], "end": [], "diverged": []}
    for run in runs:
        path = path_points(run)
        points["start"].append(path[0])
        points["diverged" if run.diverged else "end"].append(path[-1])
    for is_global, name in ((True, "global minimum"), (False, "local minimum")):
        points[name] = list(minima_in(scene.surface, scene.window, is_global))
    traces = []
    for name, where in points.items():
        if where:
            symbol, size, fill, outline = _MARKERS_3D[name]
            xyz = scene.place(clip_to_window(np.array(where), scene.window)).astype(np.float32)
            traces.append(
                _go().Scatter3d(
                    x=xyz[:, 0],
                    y=xyz[:, 1],
                    z=xyz[:, 2],
                    mode="markers",
                    name=name,
                    marker=dict(
                        symbol=symbol, size=size, color=fill, line=dict(color=outline, width=2)
                    ),
                )
            )
    return traces
