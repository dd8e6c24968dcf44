"""Figures of runs: functions that take results and return a matplotlib or plotly figure
(or a `DescentAnimation`). They never save files nor show windows: the caller does,
e.g. `fig.savefig("paths.png")`, `fig.write_html("surface.html", include_plotlyjs=True)`,
`animation.save_gif("descent.gif")`.

Matplotlib figures are made outside pyplot (no global registry to leak into) and draw
headless with Agg.
"""

from descend.plots.animation import DescentAnimation, descent_animation
from descend.plots.curves import lr_sensitivity, schedule_curves
from descend.plots.landscapes import Basins, basin_grid, basin_map
from descend.plots.losses import loss_curves
from descend.plots.panels3d import surface_panels_3d
from descend.plots.surface3d import surface_3d
from descend.plots.trajectories import contour_paths

__all__ = [
    "Basins",
    "DescentAnimation",
    "basin_grid",
    "basin_map",
    "contour_paths",
    "descent_animation",
    "loss_curves",
    "lr_sensitivity",
    "schedule_curves",
    "surface_3d",
    "surface_panels_3d",
]
