import numpy as np
from matplotlib.colors import to_rgb

from descend.plots._common import (
    END_COLOR,
    GREY,
    gap_range,
    label_colors,
    legend_columns,
    mpl_text,
    sample_evenly,
    spread_runs,
    surface_grid,
)


def test_sample_evenly_keeps_the_ends_and_the_limit():
    assert sample_evenly(list(range(10)), 20) == list(range(10))
    picked = sample_evenly(list(range(2000)), 50)
    assert len(picked) == 50 and picked[0] == 0 and picked[-1] == 1999
    assert np.ptp(np.diff(picked)) <= 1  # evenly spaced


def grid_runs(surface, make_run, side: int, repeats: int = 1):
    """Runs from a side × side grid of starts made row by row (w2 outer), as the surface
    study makes them; each start `repeats` times (several seeds)."""
    axis = np.linspace(-2.0, 2.0, side)
    return [
        make_run(surface, (float(x), float(y)), (0.0, 0.0), steps=2)
        for y in axis
        for x in axis
        for _ in range(repeats)
    ]


def starts_of(runs):
    return np.array([run.trajectory[0].tolist() for run in runs])  # (n, 2)


def test_spread_runs_cover_both_axes_of_a_grid_of_starts(anisotropic, make_straight_run):
    """2 500 starts row by row: striding the list would keep only the diagonal w1 = w2."""
    runs = grid_runs(anisotropic, make_straight_run, side=50)
    starts = starts_of(spread_runs(runs, 50))
    assert 40 <= len(starts) <= 50
    assert (starts[:, 0] != starts[:, 1]).mean() > 0.8  # off the diagonal
    for axis in (0, 1):
        values = np.unique(starts[:, axis])
        assert len(values) >= 6
        assert values.min() < -1.4 and values.max() > 1.4  # out to the grid's edges
        assert np.diff(values).max() < 1.0  # no wide hole: at most a fifth of the side
    assert len(np.unique(starts, axis=0)) == len(starts)


def test_spread_runs_keep_a_few_runs_and_share_out_repeated_starts(anisotropic, make_straight_run):
    few = grid_runs(anisotropic, make_straight_run, side=3)
    assert spread_runs(few, 50) == few  # all of them, in order
    seeded = grid_runs(anisotropic, make_straight_run, side=3, repeats=10)  # 90 runs
    picked = spread_runs(seeded, 20)
    assert len(picked) == 20
    _, counts = np.unique(starts_of(picked), axis=0, return_counts=True)
    assert len(counts) == 9 and counts.max() - counts.min() <= 1  # every start, in turn


def test_spread_runs_along_a_line_of_starts(anisotropic, make_straight_run):
    runs = [make_straight_run(anisotropic, (x, 0.5), (0.0, 0.0), steps=2) for x in range(100)]
    xs = starts_of(spread_runs(runs, 10))[:, 0]
    assert len(xs) == 10 and xs.min() < 10 and xs.max() > 90
    assert np.diff(xs).max() <= 11


def test_label_colors_are_distinct_and_never_the_reserved_ones():
    colors = label_colors([f"run {i}" for i in range(14)])
    assert len(set(colors.values())) == 14
    assert to_rgb(END_COLOR) not in colors.values()
    assert not any(np.ptp(c) < 0.05 for c in colors.values())  # no grey like GREY
    assert to_rgb(GREY) not in colors.values()


def test_gap_range_is_positive_and_spans_the_levels(anisotropic):
    xs, ys, values = surface_grid(anisotropic, ((-2.0, 2.0), (-1.0, 1.0)), resolution=41)
    assert values.shape == (41, 41) and (xs[0], xs[-1], ys[0], ys[-1]) == (-2, 2, -1, 1)
    assert values[0, -1] == 2**2 + 8 * (-1) ** 2  # row = w2 = −1, column = w1 = 2
    gap = gap_range(values, anisotropic.minimum_value)
    assert gap.min() > 0 and gap.max() == values.max()
    assert gap.min() == max(values.max() * 1e-5, values[values > 0].min())


def test_matplotlib_text_escapes_dollars_and_leading_underscores():
    assert mpl_text("cost $5") == r"cost \$5"
    assert mpl_text("_hidden") == " _hidden"  # a legend would drop it otherwise
    assert mpl_text("sgd lr=0.1") == "sgd lr=0.1"


def test_legend_columns_fit_the_width():
    short, long = ["a", "b", "c", "d"], ["x" * 40, "y" * 40, "z"]
    assert legend_columns(short, 8.0) == 4
    assert legend_columns(long, 6.0) == 1
    assert legend_columns(long, 14.0) == 3
