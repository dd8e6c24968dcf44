import math

import numpy as np
import pytest
import torch
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from descend import schedules
from descend.plots import loss_curves, lr_sensitivity, schedule_curves


def lines(ax, gid):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# --- loss_curves ---------------------------------------------------------------------------


def test_loss_curves_one_log_curve_per_label(anisotropic, seed_004_runs):
    fig = loss_curves(seed_004_runs, anisotropic)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    curves = lines(ax, "loss")
    assert legend_texts(ax) == [run.label for run in seed_004_runs]
    floor = 9.0 * np.finfo(np.float64).eps  # eps × f(1, 1): below, float64 shows rounding
    for line, run in zip(curves, seed_004_runs, strict=True):
        np.testing.assert_allclose(line.get_ydata(), np.maximum(run.loss.numpy(), floor))  # f* = 0
    assert ax.get_ylabel() == "f − f*"


def test_losses_beyond_float64_precision_do_not_stretch_the_axis(anisotropic, make_straight_run):
    """Seed 004's RMSProp β=0.99 reaches f = 1e-120: the axis stops near eps × f(start)."""
    run = make_straight_run(anisotropic, (1.0, 1.0), (0.0, 0.0), steps=4)
    run.loss[-1] = 1e-120
    fig = loss_curves([run], anisotropic)
    (ax,) = fig.axes
    fig.canvas.draw()
    floor = 9.0 * np.finfo(np.float64).eps
    assert lines(ax, "loss")[0].get_ydata()[-1] == pytest.approx(floor)
    assert floor / 10 < ax.get_ylim()[0] <= floor
    assert any("below float64 precision drawn at 2.0e-15" in t.get_text() for t in ax.texts)


def test_loss_curves_subtract_the_known_minimum(double_well, make_run):
    run = make_run(double_well, "sgd", {"lr": 0.05}, start=(-1.8, 0.5))
    (ax,) = loss_curves([run], double_well).axes
    gap = run.loss.numpy() + 0.305428
    positive = gap > 0
    np.testing.assert_allclose(lines(ax, "loss")[0].get_ydata()[positive], gap[positive])


def test_loss_curve_stops_at_divergence_and_marks_it(anisotropic, diverged_run, seed_004_runs):
    fig = loss_curves([seed_004_runs[0], diverged_run], anisotropic)
    (ax,) = fig.axes
    curve = lines(ax, "loss")[1].get_ydata()
    t = diverged_run.diverged_at
    assert np.isfinite(curve[: t + 1]).all()
    assert np.isnan(curve[t + 1 :]).all() and len(curve) == 51
    (marker,) = lines(ax, "diverged")
    assert marker.get_xydata().tolist() == [[t, curve[t]]]
    assert "diverged" in legend_texts(ax)


def test_zeros_are_drawn_at_a_floor_and_the_figure_says_so(anisotropic, make_straight_run):
    run = make_straight_run(anisotropic, (1.0, 1.0), (0.0, 0.0), steps=4)  # ends at f = 0
    (ax,) = loss_curves([run], anisotropic).axes
    curve = lines(ax, "loss")[0].get_ydata()
    smallest = float(run.loss[run.loss > 0].min())
    assert curve[-1] == pytest.approx(smallest / 10)
    assert any("values ≤ 0 drawn at" in text.get_text() for text in ax.texts)


def test_many_runs_per_label_give_a_median_and_a_band(anisotropic, make_run):
    runs = [make_run(anisotropic, "sgd", {"lr": 0.1}, start=(s, s), name="GD") for s in (0.5, 1, 2)]
    (ax,) = loss_curves(runs, anisotropic).axes
    (median,) = lines(ax, "loss")
    expected = np.median(np.stack([run.loss.numpy() for run in runs]), axis=0)
    np.testing.assert_allclose(median.get_ydata(), expected)
    (band,) = ax.collections  # the 10–90 % band
    assert isinstance(band, PolyCollection)
    high = np.percentile(np.stack([run.loss.numpy() for run in runs]), 90, axis=0)
    assert band.get_paths()[0].vertices[:, 1].max() == pytest.approx(high.max())
    assert legend_texts(ax)[0].startswith("GD (median of 3 runs")


def test_median_stops_once_half_the_runs_diverged(anisotropic, make_run):
    setups = [(0.2, (1.0, 1.0)), (0.2, (0.5, 0.5)), (0.05, (1.0, 1.0))]  # two diverge
    runs = [make_run(anisotropic, "sgd", {"lr": lr}, start=s, name="mixed") for lr, s in setups]
    assert [run.diverged for run in runs] == [True, True, False]
    (ax,) = loss_curves(runs, anisotropic).axes
    median = lines(ax, "loss")[0].get_ydata()
    second = max(run.diverged_at for run in runs if run.diverged)
    assert np.isfinite(median[: second + 1]).all()
    assert np.isnan(median[second + 1 :]).all()
    (markers,) = lines(ax, "diverged")
    assert markers.get_xdata().tolist() == [run.diverged_at for run in runs[:2]]


def test_without_a_surface_the_loss_itself_is_drawn(seed_004_runs):
    (ax,) = loss_curves(seed_004_runs).axes
    assert ax.get_ylabel() == "f"
    np.testing.assert_allclose(lines(ax, "loss")[0].get_ydata(), seed_004_runs[0].loss.numpy())


# --- loss_curves of a sweep --------------------------------------------------------------


def lr_sweep(surface, make_run, lrs, names=("GD", "momentum"), starts=((1.0, 1.0),)):
    """Runs of a sweep as the surface study makes them: labels without the lr, the lr in
    the tags."""
    momenta = dict(zip(names, (0.0, 0.9), strict=False))
    return [
        make_run(
            surface, "sgd", {"lr": lr, "momentum": momenta[name]}, start, name=name, tags={"lr": lr}
        )
        for name in names
        for lr in lrs
        for start in starts
    ]


def test_a_sweep_gives_a_panel_per_label_and_a_curve_per_lr(anisotropic, make_run):
    lrs = [0.2, 0.01, 0.03, 0.1, 0.003]  # 0.2 diverges without momentum
    runs = lr_sweep(anisotropic, make_run, lrs)
    fig = loss_curves(runs, anisotropic, sweep="lr")
    panels = [ax for ax in fig.axes if lines(ax, "loss")]
    assert [ax.get_title() for ax in panels] == ["GD", "momentum"]
    gd = lines(panels[0], "loss")
    assert len(gd) == 5
    by_lr = sorted((run for run in runs if run.label == "GD"), key=lambda r: r.spec.tags["lr"])
    for line, run in zip(gd, by_lr, strict=True):  # drawn from the smallest lr up
        finite = np.isfinite(line.get_ydata())
        np.testing.assert_allclose(line.get_ydata()[finite], run.loss.numpy()[finite])
    colors = [to_rgb(line.get_color()) for line in gd]
    assert len(set(colors)) == 5
    brightness = [sum(c) for c in colors]
    assert brightness == sorted(brightness)  # viridis: dark (small lr) to light (large)
    (bar,) = [ax for ax in fig.axes if ax.get_ylabel() == "learning rate"]
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0.003", "0.01", "0.03", "0.1", "0.2"]
    (cross,) = lines(panels[0], "diverged")  # GD at lr 0.2
    assert cross.get_xdata()[0] == by_lr[-1].diverged_at
    assert "one curve per learning rate" in fig._suptitle.get_text()


def test_a_long_sweep_shows_a_few_lrs_ends_included(anisotropic, make_run):
    lrs = list(np.geomspace(0.001, 0.1, 20))
    fig = loss_curves(lr_sweep(anisotropic, make_run, lrs, names=("GD",)), anisotropic, sweep="lr")
    (ax, bar) = fig.axes
    assert len(lines(ax, "loss")) == 12
    ticks = [float(t.get_text()) for t in bar.get_yticklabels()]
    assert ticks[0] == 0.001 and ticks[-1] == 0.1
    assert "12 of 20 values shown" in fig._suptitle.get_text()


def test_a_sweep_with_many_starts_draws_the_median_per_lr(anisotropic, make_run):
    starts = ((1.0, 1.0), (0.5, -1.0), (-1.5, 0.2))
    runs = lr_sweep(anisotropic, make_run, [0.01, 0.05], names=("GD",), starts=starts)
    (ax, _) = loss_curves(runs, anisotropic, sweep="lr").axes
    for line, at_lr in zip(lines(ax, "loss"), (runs[:3], runs[3:]), strict=True):
        expected = np.median(np.stack([run.loss.numpy() for run in at_lr]), axis=0)
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert "(median of 3 runs)" in ax.figure._suptitle.get_text()


def test_a_sweep_needs_the_tag_on_every_run(anisotropic, seed_004_runs):
    with pytest.raises(ValueError, match="has no tag 'lr' to sweep over"):
        loss_curves(seed_004_runs, anisotropic, sweep="lr")


# --- lr_sensitivity ------------------------------------------------------------------------

POINTS = [
    ("GD", 0.01, 1e-2),
    ("GD", 0.1, 1e-9),
    ("GD", 0.05, 1e-5),
    ("GD", 0.2, math.inf),
    ("momentum", 0.01, 1e-4),
    ("momentum", 0.2, 1e-3),
]


def test_sensitivity_is_log_log_with_a_line_per_label(anisotropic):
    fig = lr_sensitivity(POINTS)
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    gd, momentum = lines(ax, "sensitivity")
    np.testing.assert_allclose(gd.get_xdata(), [0.01, 0.05, 0.1, 0.2])  # sorted by lr
    np.testing.assert_allclose(gd.get_ydata(), [1e-2, 1e-5, 1e-9, np.nan])  # breaks at inf
    np.testing.assert_allclose(momentum.get_ydata(), [1e-4, 1e-3])
    assert legend_texts(ax) == ["GD", "momentum", "diverged"]


def test_diverged_points_are_triangles_at_the_top_edge():
    (ax,) = lr_sensitivity(POINTS).axes
    (marker,) = lines(ax, "diverged")
    assert marker.get_marker() == "^"
    assert marker.get_xydata().tolist() == [[0.2, 0.97]]
    assert marker.get_transform() == ax.get_xaxis_transform()  # y in axes coordinates


def test_stability_limits_are_dashed_vertical_lines_with_their_text():
    limits = [("GD: ηλ_max < 2", 0.125), ("momentum: ηλ_max < 2 + 2β", 0.2375)]
    (ax,) = lr_sensitivity(POINTS, limits=limits).axes
    assert [line.get_xdata() for line in lines(ax, "limit")] == [[0.125, 0.125], [0.2375, 0.2375]]
    assert all(line.get_linestyle() == "--" for line in lines(ax, "limit"))
    texts = [text.get_text().strip() for text in ax.texts]
    assert texts == [text for text, _ in limits]


def test_rates_panel_predicted_lines_and_measured_markers():
    rates = [("GD", lr, abs(1 - 16 * lr) + 0.01, abs(1 - 16 * lr)) for lr in (0.1, 0.01, 0.05)]
    fig = lr_sensitivity(POINTS, rates=rates, limits=[("GD", 0.125)])
    top, bottom = fig.axes
    assert bottom.get_shared_x_axes().joined(top, bottom)
    (predicted,) = lines(bottom, "predicted")
    np.testing.assert_allclose(predicted.get_xdata(), [0.01, 0.05, 0.1])
    np.testing.assert_allclose(predicted.get_ydata(), [0.84, 0.2, 0.6])
    (measured,) = lines(bottom, "measured")
    assert measured.get_linestyle() == "None" and measured.get_marker() == "o"
    np.testing.assert_allclose(measured.get_ydata(), [0.85, 0.21, 0.61])
    assert len(lines(bottom, "limit")) == 1 and not bottom.texts  # the text only once, on top


# --- schedule_curves -----------------------------------------------------------------------


def test_schedule_curves_one_line_per_schedule_with_its_values():
    named = {
        "cosine": schedules.cosine(lr=0.1, T_max=100),
        "warm restarts": schedules.cosine_warm_restarts(lr=0.1, T_0=10, T_mult=2),
    }
    fig = schedule_curves(named, 1000)
    (ax,) = fig.axes
    assert legend_texts(ax) == ["cosine", "warm restarts"]
    for line, schedule in zip(lines(ax, "lr"), named.values(), strict=True):
        assert len(line.get_xdata()) == 1000
        np.testing.assert_allclose(line.get_ydata(), [schedule(k) for k in range(1000)])


def test_schedule_curves_take_one_schedule_or_runwise_learning_rates():
    one = schedules.step(lr=0.1, step_size=10)
    (ax,) = schedule_curves(one, 30).axes
    assert legend_texts(ax) == [repr(one)]
    runwise = schedules.exponential(lr=torch.tensor([0.1, 0.2, 0.4]), gamma=0.9)
    (ax,) = schedule_curves({"three runs": runwise}, 20).axes
    assert len(lines(ax, "lr")) == 3 and legend_texts(ax) == ["three runs"]
    np.testing.assert_allclose(lines(ax, "lr")[2].get_ydata(), 0.4 * 0.9 ** np.arange(20))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least one run"):
        loss_curves([])
    with pytest.raises(ValueError, match="at least one point"):
        lr_sensitivity([])
    with pytest.raises(ValueError, match="steps >= 1"):
        schedule_curves({"c": schedules.cosine(lr=0.1, T_max=10)}, 0)
