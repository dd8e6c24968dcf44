"""Paths of runs on the contour of a 2-D surface (3-D views: `surface3d`, `panels3d`;
the animation: `animation`).

Every path is drawn as seed 004 drew it, points fading from light to dark with time and
the final point red; the start is a white circle, known minima are stars (smaller for
local ones). With many runs (a grid of 2 000 starts), at most `MAX_PATHS` per label are
drawn, their starts spread evenly over the grid, and the title says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from descend.engine import RunResult
from descend.plots._common import (
    MAX_PATHS,
    by_label,
    gap_name,
    label_colors,
    legend_columns,
    mpl_text,
    new_figure,
    panel_aspect,
    plot_window,
    spread_runs,
    surface_title,
)
from descend.plots._contour import (
    add_colorbar,
    draw_contour,
    draw_minima,
    draw_runs,
    legend_entries,
)
from descend.plots.curves import draw_lr_curves
from descend.plots.sweeps import runs_at, sweep_name, swept_values, value_text
from descend.tasks.surfaces import Surface, Window

POINTS_UP_TO = 6  # paths per panel drawn with fading points; more are thin lines
MAX_SWEPT_PANELS = 9  # panels of a sweep: 3 × 3

# A panel: its title (None: no title) and the runs on it, by label.
Panel = tuple[str | None, dict[str, list[RunResult]]]


def contour_paths(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    overlay: bool = True,
    window: Window | None = None,
    title: str | None = None,
    lr_panel: bool | None = None,
    sweep: str | None = None,
) -> Figure:
    """Each run's path on the filled contour of log(f − f*).

    overlay=True puts every label on one axes; overlay=False gives each label its own
    panel (shared axes, titled by the label). sweep names the tag of `run.spec.tags`
    that a sweep varies (the surface study's "lr"): one panel per value, each with every
    label's runs at that value (at most MAX_SWEPT_PANELS values, evenly spread over the
    sorted values); overlay is then ignored. lr_panel adds a panel of each label's
    learning rate against the step; None adds it when some run's lr changes (a schedule).
    """
    groups = by_label(runs)
    if not groups:
        raise ValueError("contour_paths needs at least one run.")
    window = plot_window(surface, runs, window)
    colors = label_colors(list(groups))
    panels, sweep_note = _panels(runs, groups, overlay, sweep)
    shown = [(name, {k: spread_runs(g, MAX_PATHS) for k, g in by.items()}) for name, by in panels]
    with_lr = _lr_varies(groups) if lr_panel is None else lr_panel
    fig, axes, lr_ax = _layout(len(panels), with_lr, panel_aspect(window))
    for ax, (name, by) in zip(axes, shown, strict=True):
        filled = draw_contour(ax, surface, window)
        draw_minima(ax, surface, window)
        crowded = sum(map(len, by.values())) > POINTS_UP_TO
        for label, group in by.items():
            draw_runs(ax, group, colors[label], window, crowded=crowded)
        if name is not None:
            ax.set_title(mpl_text(name), fontsize=10)
    if lr_ax is not None:
        lr = {label: group[0].lr.detach().cpu().numpy() for label, group in groups.items()}
        draw_lr_curves(lr_ax, lr, colors)
        lr_ax.set_title("learning rate", fontsize=10)
    add_colorbar(fig, filled, axes, gap_name(surface))
    drawn = [run for _, by in shown for group in by.values() for run in group]
    handles, names = legend_entries(colors, surface, window, any(r.diverged for r in drawn))
    ncols = legend_columns(names, fig.get_figwidth())
    fig.legend(handles, names, loc="outside lower center", ncols=ncols, fontsize=9)
    in_panels = sum(len(group) for _, by in panels for group in by.values())
    note = sweep_note + _shown_note(in_panels, len(drawn), len(panels))
    fig.suptitle(mpl_text(title or surface_title(surface)) + note, fontsize=11)
    return fig


def _panels(
    runs: Sequence[RunResult], groups: dict[str, list[RunResult]], overlay: bool, sweep: str | None
) -> tuple[list[Panel], str]:
    """What each panel shows, and a note on the values of a sweep left out."""
    if sweep is None:
        if overlay:
            return [(None, groups)], ""
        return [(label, {label: group}) for label, group in groups.items()], ""
    values, count = swept_values(runs, sweep, MAX_SWEPT_PANELS)
    panels: list[Panel] = [
        (value_text(sweep, v), by_label(runs_at(runs, sweep, v))) for v in values
    ]
    note = f"\n{len(values)} of {count} values of the {sweep_name(sweep)} shown"
    return panels, note if len(values) < count else ""


def _layout(panels: int, lr_panel: bool, aspect: float) -> tuple[Figure, list[Axes], Axes | None]:
    """Path panels (sharing both axes) in rows of at most 3, then the lr panel if any."""
    total = panels + int(lr_panel)
    ncols = 2 if total == 4 else min(total, 3)
    nrows = math.ceil(total / ncols)
    fig = new_figure(4.3 * ncols + 1.6, 4.0 * aspect * nrows + 1.6)
    grid = fig.add_gridspec(nrows, ncols)
    axes: list[Axes] = []
    for i in range(panels):
        share = axes[0] if axes else None
        axes.append(fig.add_subplot(grid[divmod(i, ncols)], sharex=share, sharey=share))
    lr_ax = fig.add_subplot(grid[divmod(panels, ncols)]) if lr_panel else None
    return fig, axes, lr_ax


def _lr_varies(groups: dict[str, list[RunResult]]) -> bool:
    """Whether the lr the panel would draw (each label's first run's) changes."""
    for group in groups.values():
        lr = group[0].lr[group[0].lr.isfinite()]
        if len(lr) and float(lr.max() - lr.min()) > 1e-12 * float(lr.abs().max()):
            return True
    return False


def _shown_note(total: int, drawn: int, panels: int) -> str:
    if drawn == total:
        return ""
    where = "per label and panel" if panels > 1 else "per label"
    return f"\n{drawn} of {total} runs shown (at most {MAX_PATHS} {where}, starts spread evenly)"
