"""The descent as an animation: the paths grow step by step over the contour.

`descent_animation` returns a `DescentAnimation`: its figure, the steps it shows and a
function that sets the figure to a step. `save_gif` writes it with Pillow (no ffmpeg),
drawing the still background once and only the moving artists per frame (blitting):
several times faster than matplotlib's generic writer, which redraws the whole figure
two or three times per frame; every frame uses one palette (see `_gif`).
`to_animation()` gives a matplotlib FuncAnimation, for notebooks (`to_jshtml()`) or any
other writer.

What a GIF of 10 000 runs × 1 000 steps costs is bounded: at most `MAX_FRAMES` frames
(steps evenly spaced, the last included) and at most `MAX_ANIMATED` paths per label,
`MAX_ANIMATED_TOTAL` in all, their starts spread over the grid; the title says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from descend.engine.runs import RunResult
from descend.plots._common import (
    END_COLOR,
    by_label,
    clip_to_window,
    gap_name,
    label_colors,
    legend_columns,
    mpl_text,
    new_figure,
    panel_aspect,
    path_points,
    plot_window,
    spread_runs,
    surface_title,
)
from descend.plots._contour import (
    DIVERGED,
    END,
    LOCAL_MINIMUM,
    START,
    add_colorbar,
    draw_contour,
    draw_minima,
    legend_entries,
)
from descend.plots._gif import save_gif
from descend.tasks.surfaces import Surface, Window

MAX_FRAMES = 100
MAX_ANIMATED = 20  # paths per label in an animation: each is redrawn every frame
MAX_ANIMATED_TOTAL = 60  # in all: beyond, a frame is a tangle (and slow to draw)


@dataclass
class DescentAnimation:
    """An animation as data: `draw(step)` sets the figure to that step and returns the
    artists it changed; `steps` are the steps shown, one per frame."""

    figure: Figure
    steps: list[int]
    draw: Callable[[int], list[Artist]]
    fps: float = 10
    colors: Sequence = ()  # colours that carry meaning: kept exactly in a GIF's palette

    def to_animation(self) -> FuncAnimation:
        return FuncAnimation(
            self.figure,
            self.draw,
            frames=self.steps,
            interval=1000 / self.fps,
            cache_frame_data=False,
        )

    def frames(self) -> list[Image.Image]:
        """Every frame as an RGB image: the background drawn once, the moving parts on it."""
        canvas = self.figure.canvas
        moving = self.draw(self.steps[-1])
        for artist in moving:
            artist.set_visible(False)
        canvas.draw()
        background = canvas.copy_from_bbox(self.figure.bbox)
        for artist in moving:
            artist.set_visible(True)
        images = []
        for step in self.steps:
            canvas.restore_region(background)
            for artist in self.draw(step):
                self.figure.draw_artist(artist)
            width, height = canvas.get_width_height()
            images.append(
                Image.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba())).convert(
                    "RGB"
                )
            )
        return images

    def save_gif(self, path: str | Path) -> None:
        save_gif(self.frames(), path, self.fps, ["white", "black", *self.colors])

    def _repr_html_(self) -> str:
        return self.to_animation().to_jshtml()


def descent_animation(
    surface: Surface,
    runs: Sequence[RunResult],
    *,
    frames: int | None = None,
    fps: float = 10,
    window: Window | None = None,
) -> DescentAnimation:
    """The paths growing step by step over the contour, the current point of each run a
    bigger marker (red once the run has ended). At most `frames` frames (default 100):
    steps evenly subsampled, the last always included."""
    groups = by_label(runs)
    if not groups:
        raise ValueError("descent_animation needs at least one run.")
    window = plot_window(surface, runs, window)
    colors = label_colors(list(groups))
    fig = new_figure(6.4, 4.6 * panel_aspect(window) + 2.0)
    ax = fig.add_subplot()
    add_colorbar(fig, draw_contour(ax, surface, window), [ax], gap_name(surface))
    draw_minima(ax, surface, window)
    per_label = max(1, min(MAX_ANIMATED, MAX_ANIMATED_TOTAL // len(groups)))
    movers = [
        _mover(ax, run, colors[label])
        for label, group in groups.items()
        for run in spread_runs(group, per_label)
    ]
    total = max(run.trajectory.shape[0] - 1 for run in runs)
    steps = frame_steps(total, frames or MAX_FRAMES)
    diverged = any(mover.diverged for mover in movers)
    handles, names = legend_entries(colors, surface, window, diverged)
    ncols = legend_columns(names, fig.get_figwidth())
    fig.legend(handles, names, loc="outside lower center", ncols=ncols, fontsize=9)
    note = _shown_note(len(runs), len(movers), per_label, total, len(steps))
    fig.suptitle(mpl_text(surface_title(surface)) + note, fontsize=11)

    def draw(step: int) -> list[Artist]:
        for m in movers:
            k = min(step, len(m.points) - 1)
            m.line.set_data(m.points[: k + 1, 0], m.points[: k + 1, 1])
            m.head.set_data(*clip_to_window(m.points[k : k + 1], window).T)
            # A run that stopped early (diverged) shows it from then on; the others turn
            # red at the last frame, as seed 004's final point.
            done = step >= total or (m.diverged and step >= len(m.points) - 1)
            m.head.set(**(m.ended if done else m.moving))
        ax.set_title(f"step {step} of {total}", fontsize=10)
        return [ax.title, *(a for m in movers for a in (m.line, m.head))]

    # Lay the figure out once, then freeze it: re-running the constrained layout at every
    # frame would cost time and make the axes jitter as the title changes.
    draw(total)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    key_colors = [*colors.values(), END_COLOR, DIVERGED["mfc"], LOCAL_MINIMUM["mfc"]]
    return DescentAnimation(fig, steps, draw, fps, key_colors)


def _shown_note(runs: int, shown: int, per_label: int, total: int, frames: int) -> str:
    notes = []
    if shown < runs:
        notes.append(f"{shown} of {runs} runs shown (starts spread evenly)")
    if frames < total + 1:
        notes.append(f"{frames} of {total + 1} steps (evenly spaced)")
    return "\n" + "; ".join(notes) if notes else ""


class _Mover(NamedTuple):
    """One animated run: its points, its growing line, its current point and the two
    styles of that point (moving, and ended: red, or the divergence cross)."""

    points: np.ndarray  # (T, 2)
    diverged: bool
    line: Line2D
    head: Line2D
    moving: dict
    ended: dict


def _mover(ax: Axes, run: RunResult, color: tuple) -> _Mover:
    points = path_points(run)
    line = ax.plot([], [], color=color, lw=1.2, gid="path", zorder=3)[0]
    moving = dict(marker="o", ms=9, mfc=color, mec="black", mew=0.8)
    ended = {k: v for k, v in (DIVERGED if run.diverged else END).items() if k != "zorder"}
    head = ax.plot([], [], gid="current", zorder=6, clip_on=False, **moving)[0]
    ax.plot(*points[0], gid="start", **START)
    return _Mover(points, run.diverged, line, head, moving, ended)


def frame_steps(total: int, frames: int) -> list[int]:
    """At most `frames` steps from 0 to `total`, evenly spread, `total` always included."""
    count = max(1, min(frames, total + 1))
    if count == 1:
        return [total]
    return [int(s) for s in np.linspace(0, total, count).round()]  # distinct: spacing >= 1
