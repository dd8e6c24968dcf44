import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from descend.plots import surface_panels_3d


def by_gid(ax, gid):
    return [a for a in [*ax.collections, *ax.lines] if a.get_gid() == gid]


def positions(collection):
    """(n, 3) the points of a 3-D scatter."""
    return np.column_stack([np.asarray(v, dtype=float) for v in collection._offsets3d])


def test_one_3d_panel_per_optimizer_with_the_surface_and_the_path(anisotropic, seed_004_runs):
    fig = surface_panels_3d(anisotropic, seed_004_runs)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [run.label for run in seed_004_runs]
    for ax, run in zip(fig.axes, seed_004_runs, strict=True):
        assert ax.name == "3d"
        assert len(ax.collections) >= 3  # the surface, the points, the end
        (dots,) = by_gid(ax, "dots")
        xyz = positions(dots)
        np.testing.assert_allclose(xyz[:, :2], run.trajectory.numpy())  # every step of 50
        height = anisotropic(run.trajectory).numpy()
        lift = xyz[:, 2] - height
        assert np.all(lift > 0) and np.ptp(lift) < 1e-9  # on the surface, lifted a little
        brightness = dots.get_facecolors()[:, :3].sum(axis=1)
        assert np.all(np.diff(brightness) < 0)  # fading from light to dark
        (end,) = by_gid(ax, "end")
        np.testing.assert_allclose(positions(end)[0, :2], run.trajectory[-1].numpy())
        np.testing.assert_allclose(end.get_facecolors()[0, :3], to_rgb("red"))
    assert "w1**2 + 8*w2**2" in fig._suptitle.get_text()


def test_many_runs_show_a_few_paths_per_panel_spread_over_the_starts(
    anisotropic, make_straight_run
):
    axis = np.linspace(-1.8, 1.8, 20)
    runs = [make_straight_run(anisotropic, (x, y), (0.0, 0.0)) for y in axis for x in axis]
    fig = surface_panels_3d(anisotropic, runs, max_paths=9)
    (ax,) = fig.axes
    starts = np.array([positions(d)[0, :2] for d in by_gid(ax, "dots")])  # (9, 2)
    assert len(starts) == 9
    assert len(np.unique(starts[:, 0])) == 3 and len(np.unique(starts[:, 1])) == 3
    assert "9 of 400 runs shown" in fig._suptitle.get_text()


def test_a_diverged_run_ends_in_a_cross_on_the_window_edge(anisotropic, diverged_run):
    window = ((-2.0, 2.0), (-2.0, 2.0))
    (ax,) = surface_panels_3d(anisotropic, [diverged_run], window=window).axes
    assert by_gid(ax, "end") == []
    (cross,) = by_gid(ax, "diverged")
    x, y, _ = positions(cross)[0]
    assert -2 <= x <= 2 and abs(y) == 2
    (dots,) = by_gid(ax, "dots")
    xy = positions(dots)[:, :2]
    assert 1 <= len(xy) < diverged_run.diverged_at + 1  # points off the window left out
    assert np.all(np.abs(xy) <= 2)
    np.testing.assert_allclose(xy[0], [1.0, 1.0])


def test_panels_need_runs():
    with pytest.raises(ValueError, match="at least one run"):
        surface_panels_3d(None, [])
