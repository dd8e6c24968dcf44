import math

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from PIL import Image

from descend import schedules
from descend.plots import DescentAnimation, contour_paths, descent_animation, surface_3d
from descend.plots._common import MAX_PATHS, label_colors, path_points
from descend.plots.animation import frame_steps


def by_gid(ax, gid):
    (artist,) = [c for c in ax.collections if c.get_gid() == gid]
    return artist


def lines(ax, gid):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def legend_texts(fig):
    return [text.get_text() for text in fig.legends[0].get_texts()]


def path_axes(fig):
    """The axes with paths on them (not the colorbar, not the lr panel)."""
    return [ax for ax in fig.axes if lines(ax, "start")]


# --- contour_paths -----------------------------------------------------------------------


def test_overlay_draws_one_path_per_run_with_its_markers(anisotropic, seed_004_runs):
    fig = contour_paths(anisotropic, seed_004_runs)
    assert isinstance(fig, Figure)
    (ax,) = path_axes(fig)
    paths = lines(ax, "path")
    assert len(paths) == 3
    for line, run in zip(paths, seed_004_runs, strict=True):
        np.testing.assert_allclose(line.get_xydata(), run.trajectory.numpy())
    starts = np.concatenate([line.get_xydata() for line in lines(ax, "start")])
    np.testing.assert_allclose(starts, [[1.0, 1.0]] * 3)
    ends = np.concatenate([line.get_xydata() for line in lines(ax, "end")])
    np.testing.assert_allclose(ends, [run.trajectory[-1].numpy() for run in seed_004_runs])
    assert all(line.get_markerfacecolor() == "red" for line in lines(ax, "end"))
    (minimum,) = lines(ax, "minimum")
    np.testing.assert_allclose(minimum.get_xydata(), [[0.0, 0.0]])
    assert minimum.get_marker() == "*"
    labels = [run.label for run in seed_004_runs]
    assert legend_texts(fig) == [*labels, "start", "end", "global minimum"]
    assert "w1**2 + 8*w2**2" in fig._suptitle.get_text()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("w1", "w2")


def test_a_few_paths_get_points_fading_from_light_to_dark(anisotropic, seed_004_runs):
    (ax,) = path_axes(contour_paths(anisotropic, seed_004_runs[:1]))
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    brightness = dots.get_facecolors()[:, :3].sum(axis=1)
    assert len(brightness) == len(seed_004_runs[0].trajectory)
    assert np.all(np.diff(brightness) < 0)  # darker with every step


def test_panels_one_per_label_sharing_axes(anisotropic, seed_004_runs):
    fig = contour_paths(anisotropic, seed_004_runs, overlay=False)
    axes = path_axes(fig)
    assert [ax.get_title() for ax in axes] == [run.label for run in seed_004_runs]
    assert [len(lines(ax, "path")) for ax in axes] == [1, 1, 1]
    assert all(ax.get_shared_x_axes().joined(axes[0], ax) for ax in axes)
    assert len(fig.axes) == 4  # three panels and the colorbar


def test_many_runs_draw_at_most_max_paths_per_label_and_say_so(anisotropic, make_straight_run):
    grid = [(x, y) for y in np.linspace(-1.5, 1.5, 10) for x in np.linspace(-1.5, 1.5, 12)]
    runs = [make_straight_run(anisotropic, start, (0.0, 0.0)) for start in grid]  # 120
    fig = contour_paths(anisotropic, runs)
    (ax,) = path_axes(fig)
    paths = lines(ax, "path")
    assert 40 <= len(paths) <= MAX_PATHS
    assert f"{len(paths)} of 120 runs shown" in fig._suptitle.get_text()
    assert not [c for c in ax.collections if isinstance(c, PathCollection)]  # thin lines only
    starts = np.array([path.get_xydata()[0] for path in paths])  # spread over both axes
    assert len(np.unique(starts[:, 0])) >= 6 and len(np.unique(starts[:, 1])) >= 6


def test_diverged_path_stops_and_its_divergence_is_marked_inside_the_window(
    anisotropic, diverged_run
):
    window = ((-2.0, 2.0), (-2.0, 2.0))
    fig = contour_paths(anisotropic, [diverged_run], window=window)
    (ax,) = path_axes(fig)
    (path,) = lines(ax, "path")
    assert np.isfinite(path.get_xydata()).all()
    assert len(path.get_xydata()) == diverged_run.diverged_at + 1
    (marker,) = lines(ax, "diverged")
    (x, y), last = marker.get_xydata()[0], diverged_run.trajectory[diverged_run.diverged_at]
    assert -2 <= x <= 2 and -2 <= y <= 2
    assert y == math.copysign(2.0, float(last[1]))  # on the edge it left by
    assert lines(ax, "end") == []
    assert "diverged" in legend_texts(fig)
    assert (ax.get_xlim(), ax.get_ylim()) == ((-2.0, 2.0), (-2.0, 2.0))


def test_lr_panel_appears_when_the_lr_changes(anisotropic, make_run, seed_004_runs):
    cosine = schedules.cosine(lr=0.1, T_max=50)
    scheduled = make_run(anisotropic, "sgd", {"lr": cosine}, name="cosine")
    fig = contour_paths(anisotropic, [scheduled, seed_004_runs[0]])
    (lr_ax,) = [ax for ax in fig.axes if lines(ax, "lr")]
    curve = lines(lr_ax, "lr")[0].get_ydata()
    np.testing.assert_allclose(curve, [cosine(k) for k in range(50)])
    assert len(fig.axes) == 3  # paths, lr, colorbar
    assert not any(lines(ax, "lr") for ax in contour_paths(anisotropic, seed_004_runs).axes)
    forced = contour_paths(anisotropic, seed_004_runs, lr_panel=True)
    assert any(lines(ax, "lr") for ax in forced.axes)


def test_a_sweep_gives_a_panel_per_lr_with_every_label(anisotropic, make_run):
    lrs = list(np.geomspace(0.003, 0.3, 12))
    runs = [
        make_run(anisotropic, "sgd", {"lr": lr, "momentum": m}, name=name, tags={"lr": lr})
        for name, m in (("GD", 0.0), ("momentum", 0.9))
        for lr in lrs
    ]
    fig = contour_paths(anisotropic, runs, sweep="lr")
    axes = path_axes(fig)
    assert len(axes) == 9
    assert axes[0].get_title() == "lr = 0.003" and axes[-1].get_title() == "lr = 0.3"
    for ax in axes:
        lr = float(ax.get_title().removeprefix("lr = "))
        gd, momentum = (r for r in runs if abs(r.spec.tags["lr"] - lr) < 0.01 * lr)
        gd_path, momentum_path = lines(ax, "path")
        np.testing.assert_allclose(gd_path.get_xydata(), path_points(gd))
        np.testing.assert_allclose(momentum_path.get_xydata(), path_points(momentum))
        assert gd_path.get_color() != momentum_path.get_color()  # the labels' colours
    assert "9 of 12 values of the learning rate shown" in fig._suptitle.get_text()
    assert legend_texts(fig)[:2] == ["GD", "momentum"]


def test_labels_with_dollar_signs_are_drawn_as_text(anisotropic, make_run):
    run = make_run(anisotropic, "sgd", {"lr": 0.1}, name=r"$\nosuchcommand$")
    fig = contour_paths(anisotropic, [run], overlay=False)
    fig.canvas.draw()  # mathtext would raise on the unknown command


def test_figures_stay_out_of_pyplot(anisotropic, seed_004_runs):
    before = plt.get_fignums()
    contour_paths(anisotropic, seed_004_runs)
    anim = descent_animation(anisotropic, seed_004_runs)
    anim.figure.canvas.draw()
    assert plt.get_fignums() == before


def test_paths_need_two_dimensional_trajectories(anisotropic, seed_004_runs):
    run = seed_004_runs[0]
    flat = type(run)(run.spec, run.trajectory[:, :1], run.loss, run.lr, None, 0.0)
    with pytest.raises(ValueError, match="2-D trajectories"):
        contour_paths(anisotropic, [flat])


# --- surface_3d ----------------------------------------------------------------------------


def scatters(fig, mode):
    return [t for t in fig.data if isinstance(t, go.Scatter3d) and t.mode == mode]


def test_surface_3d_has_the_surface_a_path_per_run_and_the_markers(anisotropic, seed_004_runs):
    fig = surface_3d(anisotropic, seed_004_runs)
    assert isinstance(fig, go.Figure)
    assert isinstance(fig.data[0], go.Surface)
    assert [t.name for t in scatters(fig, "lines+markers")] == [r.label for r in seed_004_runs]
    assert [t.name for t in scatters(fig, "markers")] == ["start", "end", "global minimum"]
    end = next(t for t in fig.data if t.name == "end")
    assert end.marker.color == "red"


def test_surface_3d_paths_lie_on_the_surface_lifted_only_slightly(anisotropic, seed_004_runs):
    fig = surface_3d(anisotropic, seed_004_runs)
    height = np.ptp(np.asarray(fig.data[0].z))
    for trace, run in zip(fig.data[1:4], seed_004_runs, strict=True):
        steps = np.asarray(trace.customdata)  # the step of each point drawn
        lift = np.asarray(trace.z) - anisotropic(run.trajectory[steps]).numpy()
        assert np.all(lift > 0)
        assert np.all(lift < 0.01 * height)  # not seed 000's +1/+2


def grid_of_runs(surface, make_run, side=10, steps=300, name="straight"):
    axis = np.linspace(-1.8, 1.8, side)
    return [
        make_run(surface, (float(x), float(y)), (0.0, 0.0), steps=steps, name=name)
        for y in axis
        for x in axis
    ]


def test_surface_3d_draws_each_labels_paths_as_one_trace(anisotropic, make_straight_run):
    runs = [
        *grid_of_runs(anisotropic, make_straight_run, name="a"),
        *grid_of_runs(anisotropic, make_straight_run, name="b"),
    ]
    fig = surface_3d(anisotropic, runs, window=((-2.0, 2.0), (-2.0, 2.0)), max_paths=20)
    a, b = scatters(fig, "lines+markers")
    assert (a.name, b.name) == ("a", "b")
    x = np.asarray(a.x, dtype=float)
    paths = np.split(np.arange(len(x)), np.flatnonzero(np.isnan(x)))  # NaN: between paths
    assert len(paths) == 20  # 4 × 5 starts spread over the 10 × 10 grid
    assert "40 of 200 runs shown" in fig.layout.title.text
    starts = next(t for t in fig.data if t.name == "start")
    assert len(starts.x) == 40 and len(np.unique(np.round(starts.x, 3))) == 4


def test_surface_3d_keeps_only_points_a_pixel_apart(anisotropic, make_run):
    """GD on the bowl converges: its last hundreds of steps sit on one pixel."""
    run = make_run(anisotropic, "sgd", {"lr": 0.05}, start=(1.5, 1.0), steps=600)
    (path,) = scatters(surface_3d(anisotropic, [run]), "lines+markers")
    steps = np.asarray(path.customdata)
    assert steps[0] == 0 and steps[-1] == 600 and np.all(np.diff(steps) > 0)
    assert len(steps) < 200
    np.testing.assert_allclose(path.x, run.trajectory[steps, 0].numpy(), rtol=1e-6, atol=1e-7)
    fade = np.asarray(path.marker.color)  # light to dark along the path, as in seed 004
    assert fade[0] == 0 and fade[-1] == 255 and np.all(np.diff(fade.astype(int)) >= 0)
    light, dark = (c[1] for c in path.marker.colorscale)
    assert sum(map(int, light[4:-1].split(","))) > sum(map(int, dark[4:-1].split(",")))


def test_surface_3d_page_of_many_runs_stays_small(anisotropic, make_straight_run):
    runs = grid_of_runs(anisotropic, make_straight_run, side=40, steps=1000)  # 1 600 runs
    fig = surface_3d(anisotropic, runs)
    assert len(fig.data) <= 6  # surface, paths, start, end, minimum
    assert len(fig.to_json()) < 500_000  # bytes (3.2 MB before); plotly.js itself adds 4.8 MB


def test_surface_3d_leaves_out_points_outside_the_window(anisotropic, diverged_run):
    fig = surface_3d(anisotropic, [diverged_run], window=((-2.0, 2.0), (-2.0, 2.0)))
    path = fig.data[1]
    x, y = np.asarray(path.x, dtype=float), np.asarray(path.y, dtype=float)
    inside = np.isfinite(x)
    assert inside[0] and not inside.all()
    assert np.all(np.abs(x[inside]) <= 2) and np.all(np.abs(y[inside]) <= 2)
    assert [t.name for t in scatters(fig, "markers")][:2] == ["start", "diverged"]


def test_surface_3d_escapes_user_strings(anisotropic, make_run):
    label = "<script>alert(1)</script>"
    run = make_run(anisotropic, "sgd", {"lr": 0.1}, name=label)
    fig = surface_3d(anisotropic, [run], title="<b>bold</b> & co")
    assert fig.data[1].name == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert fig.layout.title.text == "&lt;b&gt;bold&lt;/b&gt; &amp; co"
    html = fig.to_html(include_plotlyjs=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


# --- descent_animation ---------------------------------------------------------------------


def test_animation_saves_as_gif_one_frame_per_step(anisotropic, make_run, tmp_path):
    runs = [make_run(anisotropic, "sgd", {"lr": 0.1, "momentum": m}, steps=20) for m in (0, 0.9)]
    anim = descent_animation(anisotropic, runs, fps=20)
    assert isinstance(anim, DescentAnimation)
    anim.save_gif(tmp_path / "descent.gif")
    with Image.open(tmp_path / "descent.gif") as gif:
        assert gif.n_frames == 21  # steps 0 … 20
        assert gif.info["duration"] == 50  # ms: 20 frames per second


def gif_frames(path, indices):
    with Image.open(path) as gif:
        frames = []
        for i in indices:
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
        return frames


def test_gif_colours_stay_the_same_from_frame_to_frame(anisotropic, make_run, tmp_path):
    """One palette for every frame: a legend swatch keeps its colour (it changed from
    brown to orange to red when each frame had its own palette)."""
    runs = [
        make_run(anisotropic, "sgd", {"lr": 0.1, "momentum": m}, steps=50, name=f"α={m}")
        for m in (0.0, 0.1, 0.9)
    ]
    anim = descent_animation(anisotropic, runs)
    anim.save_gif(tmp_path / "descent.gif")
    frames = gif_frames(tmp_path / "descent.gif", (0, 1, 25, 50))
    legend = anim.figure.legends[0]
    height = frames[0].shape[0]
    (x0, y0), (x1, y1) = legend.get_window_extent().get_points().round().astype(int)
    boxes = [frame[height - y1 : height - y0, x0:x1] for frame in frames]  # rows from the top
    assert all(np.array_equal(boxes[0], box) for box in boxes[1:])
    names = [text.get_text() for text in legend.get_texts()]
    for name in ("α=0.1", "end"):  # the swatch's centre: its marker, in the label's colour
        handle = legend.legend_handles[names.index(name)]
        (cx, cy) = handle.get_window_extent().get_points().mean(axis=0).round().astype(int)
        expected = to_rgb(handle.get_markerfacecolor())
        for frame in frames:
            np.testing.assert_allclose(frame[height - cy, cx] / 255, expected, atol=0.02)


def test_animation_frames_are_limited(anisotropic, make_run, tmp_path):
    run = make_run(anisotropic, "sgd", {"lr": 0.01}, steps=150)
    anim = descent_animation(anisotropic, [run], frames=12)
    anim.save_gif(tmp_path / "short.gif")
    with Image.open(tmp_path / "short.gif") as gif:
        assert gif.n_frames == 12
    assert "12 of 151 steps" in anim.figure._suptitle.get_text()


def test_animation_of_many_runs_moves_a_few_spread_over_the_starts(
    anisotropic, make_straight_run, tmp_path
):
    runs = grid_of_runs(anisotropic, make_straight_run, side=12, steps=1000)  # 144 runs
    anim = descent_animation(anisotropic, runs)
    ax = anim.figure.axes[0]
    starts = lines(ax, "start")[0].get_xydata()
    assert len(starts) == 20 and len(np.unique(starts[:, 0])) == 4  # 4 × 5 of the grid
    assert len(by_gid(ax, "path").get_segments()) == 20
    title = anim.figure._suptitle.get_text()
    assert "20 of 144 runs shown" in title and "100 of 1001 steps" in title
    anim.save_gif(tmp_path / "many.gif")
    assert (tmp_path / "many.gif").stat().st_size < 1_000_000  # one palette: deltas compress


def test_animation_last_frame_shows_every_run_at_its_end(anisotropic, seed_004_runs, diverged_run):
    runs = [*seed_004_runs, diverged_run]
    anim = descent_animation(anisotropic, runs)
    ax = anim.figure.axes[0]
    current, end, diverged = (by_gid(ax, gid) for gid in ("current", "end", "diverged"))
    anim.draw(50)
    assert len(current.get_offsets()) == 0
    ends = [run.trajectory[-1].numpy() for run in seed_004_runs]
    np.testing.assert_allclose(end.get_offsets(), ends)
    np.testing.assert_allclose(end.get_facecolors(), [to_rgba("red")])
    (cross,) = diverged.get_offsets()  # on the window's edge, where the run left it
    assert -2 <= cross[0] <= 2 and abs(cross[1]) == 2
    assert diverged.get_paths()[0] != current.get_paths()[0]  # an X, not a dot
    assert ax.get_title() == "step 50 of 50"
    (path,) = by_gid(ax, "path").get_segments()[:1]
    np.testing.assert_allclose(path, seed_004_runs[0].trajectory.numpy())
    anim.draw(0)  # replays from the start: every run at its start, in its label's colour
    np.testing.assert_allclose(current.get_offsets(), [[1.0, 1.0]] * 4)
    colors = [to_rgba(c) for c in label_colors([run.label for run in runs]).values()]
    np.testing.assert_allclose(current.get_facecolors(), colors)
    assert len(end.get_offsets()) == len(diverged.get_offsets()) == 0
    anim.draw(9)  # the diverged run stopped at step 9: its cross shows from then on
    assert len(diverged.get_offsets()) == 1 and len(current.get_offsets()) == 3
    anim.figure.canvas.draw()  # rendered once, as a saved or shown animation is


def test_blitted_frames_equal_full_redraws(anisotropic, seed_004_runs):
    """The fast GIF frames (background once, moving artists on it) are the picture a
    full redraw of the figure gives at that step."""
    anim = descent_animation(anisotropic, seed_004_runs, frames=6)
    frames = anim.frames()
    assert len(frames) == 6
    for step, frame in zip(anim.steps, frames, strict=True):
        anim.draw(step)
        anim.figure.canvas.draw()
        full = np.asarray(anim.figure.canvas.buffer_rgba())[..., :3]
        difference = np.abs(np.asarray(frame, dtype=int) - full.astype(int))
        assert (difference > 8).mean() < 0.002, step  # antialiasing at the edges only
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(frames[-1]))


def test_to_animation_gives_a_matplotlib_animation(anisotropic, seed_004_runs):
    animation = descent_animation(anisotropic, seed_004_runs, frames=3).to_animation()
    assert isinstance(animation, FuncAnimation)
    assert "<script" in animation.to_jshtml()


@pytest.mark.parametrize(("total", "frames"), [(50, 100), (50, 10), (999, 100), (0, 100), (7, 1)])
def test_frame_steps_are_evenly_spread_and_end_at_the_last_step(total, frames):
    steps = frame_steps(total, frames)
    assert steps[-1] == total
    assert len(steps) == min(frames, total + 1)
    if len(steps) > 1:
        gaps = np.diff(steps)
        assert steps[0] == 0 and gaps.min() >= 1 and gaps.max() - gaps.min() <= 1
