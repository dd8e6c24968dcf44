import numpy as np
import pytest
from matplotlib.figure import Figure

from descend.analysis import DIVERGED, NOT_CONVERGED
from descend.plots import Basins, basin_grid, basin_map
from descend.plots.landscapes import basin_colors, row

XS = np.linspace(-4.5, 4.5, 6)  # columns
YS = np.linspace(-4.0, 4.0, 5)  # rows


def nearest(surface, point):
    distances = [np.hypot(*(np.subtract(point, m.point))) for m in surface.minima]
    return int(np.argmin(distances))


@pytest.fixture
def grid_runs(himmelblau, make_straight_run):
    """A 5 × 6 grid of starts, each run going straight to the minimum nearest its start,
    except the start (0.9, 0) which stops halfway, and (4.5, 4) which diverges."""
    runs, expected = [], {}
    for y in YS:
        for x in XS:
            target = himmelblau.minima[nearest(himmelblau, (x, y))].point
            if (x, y) == (XS[3], YS[2]):
                runs.append(make_straight_run(himmelblau, (x, y), (x / 2, target[1] / 2)))
                expected[(x, y)] = NOT_CONVERGED
            elif (x, y) == (XS[5], YS[4]):
                runs.append(make_straight_run(himmelblau, (x, y), (9.0, 9.0), diverged_at=4))
                expected[(x, y)] = DIVERGED
            else:
                runs.append(make_straight_run(himmelblau, (x, y), target))
                expected[(x, y)] = nearest(himmelblau, (x, y))
    return runs, expected


def test_basin_grid_puts_each_start_in_the_basin_it_reached(himmelblau, grid_runs):
    runs, expected = grid_runs
    basins = basin_grid(himmelblau, runs)
    np.testing.assert_allclose(basins.xs, XS)
    np.testing.assert_allclose(basins.ys, YS)
    assert basins.image.shape == (5, 6)
    for r, y in enumerate(YS):
        for c, x in enumerate(XS):
            assert basins.image[r, c] == expected[(x, y)]
    assert basins.indices.tolist() == list(expected.values())
    assert set(basins.image.ravel()) == {0, 1, 2, 3, NOT_CONVERGED, DIVERGED}


def test_scattered_or_repeated_starts_are_no_grid(himmelblau, make_straight_run):
    starts = [(0.3, 1.7), (-2.0, -2.2), (4.0, -1.0)]
    runs = [
        make_straight_run(himmelblau, s, himmelblau.minima[nearest(himmelblau, s)].point)
        for s in starts
    ]
    basins = basin_grid(himmelblau, runs)
    assert basins.image is None and basins.xs is None
    assert basins.indices.tolist() == [nearest(himmelblau, s) for s in starts]
    square = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 1.0)]  # 2 × 2, one cell twice
    repeated = [make_straight_run(himmelblau, s, (3.0, 2.0)) for s in square]
    assert basin_grid(himmelblau, repeated).image is None


def test_real_descents_land_in_their_own_basin(himmelblau, make_run):
    starts = [(3.5, 2.5), (-3.0, 3.5), (-3.5, -3.5), (3.5, -2.5)]
    runs = [make_run(himmelblau, "sgd", {"lr": 0.01}, start=s, steps=300) for s in starts]
    assert basin_grid(himmelblau, runs).indices.tolist() == [0, 1, 2, 3]


def test_basin_map_draws_the_classification_as_an_image(himmelblau, grid_runs):
    runs, expected = grid_runs
    fig = basin_map(himmelblau, runs)
    assert isinstance(fig, Figure)
    (ax,) = [ax for ax in fig.axes if ax.images]
    assert isinstance(fig.basins[runs[0].label], Basins)
    pixels = np.asarray(ax.images[0].get_array())  # (rows, columns, 3)
    palette = basin_colors(himmelblau)
    for r, y in enumerate(YS):
        for c, x in enumerate(XS):
            np.testing.assert_allclose(pixels[r, c], palette[row(expected[(x, y)])])
    np.testing.assert_allclose(pixels[2, 3], [0.690, 0.690, 0.690], atol=1e-3)  # grey
    np.testing.assert_allclose(pixels[4, 5], [0.0, 0.0, 0.0])  # black
    assert ax.images[0].origin == "lower"
    left, right, bottom, top = ax.images[0].get_extent()
    assert (left, right, bottom, top) == pytest.approx((-5.4, 5.4, -5.0, 5.0))


def test_basin_map_names_minima_with_counts_and_marks_them(himmelblau, grid_runs):
    runs, expected = grid_runs
    fig = basin_map(himmelblau, runs)
    texts = [
        t.get_text()
        for legend_ax in fig.axes
        if legend_ax.get_legend()
        for t in legend_ax.get_legend().get_texts()
    ]
    counts = [list(expected.values()).count(i) for i in range(4)]
    assert texts[:4] == [
        f"({m.point[0]:.2f}, {m.point[1]:.2f}): {n}"
        for m, n in zip(himmelblau.minima, counts, strict=True)
    ]
    assert texts[4:] == ["not converged: 1", "diverged: 1", "minimum"]
    (ax,) = [ax for ax in fig.axes if ax.images]
    marked = [
        line.get_xydata()[0].tolist() for line in ax.get_lines() if line.get_gid() == "minimum"
    ]
    np.testing.assert_allclose(marked, [m.point for m in himmelblau.minima])


def test_basin_map_one_panel_per_label(himmelblau, grid_runs, make_straight_run):
    runs, _ = grid_runs
    other = [
        make_straight_run(himmelblau, run.trajectory[0].tolist(), (3.0, 2.0), name="all to (3, 2)")
        for run in runs
    ]
    fig = basin_map(himmelblau, runs + other)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["straight", "all to (3, 2)"]
    assert panels[1].get_shared_x_axes().joined(panels[0], panels[1])
    assert (fig.basins["all to (3, 2)"].image == 0).all()


def test_scattered_starts_are_drawn_as_coloured_points(double_well, make_straight_run):
    starts = [(-1.7, 0.3), (1.2, -0.4), (0.4, 1.1)]
    ends = [(-1.035579, 0.0), (0.960150, 0.0), (0.960150, 0.0)]
    runs = [make_straight_run(double_well, s, e) for s, e in zip(starts, ends, strict=True)]
    fig = basin_map(double_well, runs)
    (ax,) = [ax for ax in fig.axes if ax.collections]
    palette = basin_colors(double_well)
    np.testing.assert_allclose(ax.collections[0].get_facecolors()[:, :3], palette[[2, 3, 3]])
    texts = [t.get_text() for a in fig.axes if a.get_legend() for t in a.get_legend().get_texts()]
    assert texts[:2] == ["(-1.04, 0.00): 1", "(0.96, 0.00) local: 2"]


def test_basin_colors_keep_grey_and_black_for_failures(himmelblau):
    palette = basin_colors(himmelblau)
    assert palette.shape == (6, 3)
    np.testing.assert_allclose(palette[row(DIVERGED)], [0.0, 0.0, 0.0])
    assert np.ptp(palette[row(NOT_CONVERGED)]) == 0  # a grey
    minima = palette[row(0) :]
    assert len({tuple(c) for c in minima}) == 4  # four distinct colours
    assert not any(np.ptp(c) == 0 for c in minima)  # none of them grey or black
