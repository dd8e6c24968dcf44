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
    surface_grid,
)


def test_sample_evenly_keeps_the_ends_and_the_limit():
    assert sample_evenly(list(range(10)), 20) == list(range(10))
    picked = sample_evenly(list(range(2000)), 50)
    assert len(picked) == 50 and picked[0] == 0 and picked[-1] == 1999
    assert np.ptp(np.diff(picked)) <= 1  # evenly spaced


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
