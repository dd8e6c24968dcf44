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

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from descend.engine import RunResult
from descend.plots._common import (
    END_COLOR,
    by_label,
    clip_to_window,
    gap_name,
    label_colors,
    legend_columns,
    moved_a_pixel,
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
    picked = [
        (run, colors[label])
        for label, group in groups.items()
        for run in spread_runs(group, per_label)
    ]
    movers = _Movers(ax, picked, window)
    total = max(run.trajectory.shape[0] - 1 for run in runs)
    steps = frame_steps(total, frames or MAX_FRAMES)
    handles, names = legend_entries(colors, surface, window, bool(movers.diverged.any()))
    ncols = legend_columns(names, fig.get_figwidth())
    fig.legend(handles, names, loc="outside lower center", ncols=ncols, fontsize=9)
    note = _shown_note(len(runs), len(picked), total, len(steps))
    fig.suptitle(mpl_text(surface_title(surface)) + note, fontsize=11)

    def draw(step: int) -> list[Artist]:
        ax.set_title(f"step {step} of {total}", fontsize=10)
        return [ax.title, *movers.draw(step, total)]

    # Lay the figure out once, then freeze it: re-running the constrained layout at every
    # frame would cost time and make the axes jitter as the title changes.
    draw(total)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    key_colors = [*colors.values(), END_COLOR, DIVERGED["mfc"], LOCAL_MINIMUM["mfc"]]
    return DescentAnimation(fig, steps, draw, fps, key_colors)


def _shown_note(runs: int, shown: int, total: int, frames: int) -> str:
    notes = []
    if shown < runs:
        notes.append(f"{shown} of {runs} runs shown (starts spread evenly)")
    if frames < total + 1:
        notes.append(f"{frames} of {total + 1} steps (evenly spaced)")
    return "\n" + "; ".join(notes) if notes else ""


class _Movers:
    """The animated runs: all their paths as one artist, their current points as another
    (and their ends, and divergences): a frame then costs a few draw calls, not two per
    run (60 runs × 100 frames were 12 000 calls, most of a GIF's time)."""

    def __init__(self, ax: Axes, picked: list[tuple[RunResult, tuple]], window: Window):
        self.paths = [path_points(run) for run, _ in picked]  # (T_i, 2) each
        self.lengths = np.array([len(p) for p in self.paths])  # (M,)
        # the trails keep only the points a pixel apart: a frame draws 100s, not 1000s
        (x0, x1), (y0, y1) = window
        self.kept = [moved_a_pixel(p, np.array([x1 - x0, y1 - y0])) for p in self.paths]
        self.diverged = np.array([run.diverged for run, _ in picked], dtype=bool)  # (M,)
        self.colors = np.array([to_rgba(color) for _, color in picked]).reshape(-1, 4)  # (M, 4)
        self.window = window
        self.trails = LineCollection([], colors=self.colors, lw=1.2, zorder=3, gid="path")
        ax.add_collection(self.trails, autolim=False)
        ax.plot(*np.array([p[0] for p in self.paths]).reshape(-1, 2).T, gid="start", **START)
        # the current point: in the run's colour while it moves; red (seed 004's final
        # point) or a cross once it has ended or diverged
        self.current = _markers(ax, "current", marker="o", s=81, edgecolors="black", linewidths=0.8)
        self.ends = _markers(ax, "end", **_scatter_style(END))
        self.crosses = _markers(ax, "diverged", **_scatter_style(DIVERGED))

    def draw(self, step: int, total: int) -> list[Artist]:
        k = np.minimum(step, self.lengths - 1)  # (M,) each run's step, held at its last
        at = np.array([p[i] for p, i in zip(self.paths, k, strict=True)]).reshape(-1, 2)
        self.trails.set_segments(
            [
                np.concatenate([p[kept[kept < i]], p[i : i + 1]])  # to the current point
                for p, kept, i in zip(self.paths, self.kept, k, strict=True)
            ]
        )
        at = clip_to_window(at, self.window)  # a divergence on the window's edge
        # A run that stopped early (diverged) shows it from then on; the others turn red
        # at the last frame.
        done = (step >= total) | (self.diverged & (step >= self.lengths - 1))
        self.current.set_offsets(at[~done])
        self.current.set_facecolors(self.colors[~done])
        self.ends.set_offsets(at[done & ~self.diverged])
        self.crosses.set_offsets(at[done & self.diverged])
        return [self.trails, self.current, self.ends, self.crosses]


def _markers(ax: Axes, gid: str, **style) -> PathCollection:
    """An empty scatter, drawn over the paths and also on the window's edge."""
    return ax.scatter(np.zeros(0), np.zeros(0), gid=gid, zorder=6, clip_on=False, **style)


def _scatter_style(line: dict) -> dict:
    """A Line2D marker style (ms in points) as scatter's (s in points²)."""
    return dict(
        marker=line["marker"],
        s=line["ms"] ** 2,
        c=line["mfc"],
        edgecolors=line["mec"],
        linewidths=line["mew"],
    )


def frame_steps(total: int, frames: int) -> list[int]:
    """At most `frames` steps from 0 to `total`, evenly spread, `total` always included."""
    count = max(1, min(frames, total + 1))
    if count == 1:
        return [total]
    return [int(s) for s in np.linspace(0, total, count).round()]  # distinct: spacing >= 1
