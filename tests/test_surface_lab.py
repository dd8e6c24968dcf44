"""descend.surface: from the user's words to runs, labels, tables and files."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import descend
from descend.errors import DescendError, HyperparameterError, UnknownNameError


def summary_rows(study):
    """The study's table as the terminal shows it."""
    return study.tables()[0].formatted()


def test_the_issue_example_from_python():
    study = descend.surface(
        "anisotropic",
        ["sgd", "sgd:momentum=0.9", "rmsprop:alpha=0.9"],
        lr=0.1,
        steps=50,
        start=(1, 1),
    )
    assert study.results.labels() == [
        "sgd",
        "sgd momentum=0.9",
        "rmsprop alpha=0.9",
    ]  # lr is the study's
    assert all(r.spec.start == (1.0, 1.0) and (r.lr == 0.1).all() for r in study.results)
    rows = {row["optimizer"]: row for row in summary_rows(study)}
    assert rows["sgd"]["sign flips w1"] == "0" and rows["sgd"]["sign flips w2"] == "50"
    # (w2 ← −0.6·w2 at every step)
    assert rows["sgd"]["diverged"] == "no"
    assert float(rows["sgd"]["final f − f*"]) == pytest.approx(2.04e-10, rel=1e-2)


def test_a_specs_own_lr_wins_over_the_studys():
    study = descend.surface("bowl", ["sgd", "sgd:lr=0.3"], lr=0.1, steps=5)
    assert [float(r.lr[0]) for r in study.results] == [0.1, 0.3]
    assert study.results.labels() == ["sgd", "sgd lr=0.3"]


def test_an_lr_sweep_runs_every_optimizer_at_every_lr():
    study = descend.surface("anisotropic", ["sgd", "adam"], lr=[0.01, 0.1, 0.2], steps=200)
    assert len(study.results) == 6 and study.lr_sweep == [0.01, 0.1, 0.2]
    assert [s.label for s in study.summaries()] == [
        "sgd @ lr=0.01", "sgd @ lr=0.1", "sgd @ lr=0.2", "adam @ lr=0.01", "adam @ lr=0.1", "adam @ lr=0.2",
    ]  # fmt: skip
    diverged = {s.label: s.diverged for s in study.summaries()}
    assert diverged["sgd @ lr=0.2"] == 1 and diverged["sgd @ lr=0.1"] == 0  # 2/λmax = 0.125
    limits = dict(study.stability_limits())
    assert limits["sgd: ηλmax < 2"] == pytest.approx(0.125)
    rates = {(label, lr): (measured, predicted) for label, lr, measured, predicted in study.rates()}
    measured, predicted = rates[("sgd", 0.01)]
    assert predicted == pytest.approx(0.98) and measured == pytest.approx(predicted, rel=1e-3)


def test_starts_form_a_grid_inside_the_window():
    study = descend.surface("himmelblau", ["sgd:lr=0.01"], starts=100, steps=5)
    starts = torch.tensor([r.spec.start for r in study.results])
    assert starts.shape == (100, 2) and study.many_starts
    assert len(starts[:, 0].unique()) == 10 and len(starts[:, 1].unique()) == 10
    assert starts.min() > -5 and starts.max() < 5


def test_a_schedule_spec_takes_the_runs_lr():
    study = descend.surface("bowl", ["sgd"], lr=0.2, schedule="cosine:T_max=10", steps=10)
    lr = study.results[0].lr
    assert lr[0] == pytest.approx(0.2) and lr[5] == pytest.approx(0.1) and study.has_schedule
    assert study.results.labels() == ["sgd"]


def test_a_formula_and_duplicate_labels():
    study = descend.surface("(w1 - 1)**2 + w2**2", ["adam:lr=0.1", "adam:lr=0.1"], steps=300)
    assert study.results.labels() == ["adam lr=0.1", "adam lr=0.1 #2"]
    assert study.surface.minima[0].point == pytest.approx((1.0, 0.0))
    assert all(s.distance < 1e-3 for s in study.summaries())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: descend.surface("anisotropik"),
            UnknownNameError,
            r"Unknown surface 'anisotropik'\. Did you mean 'anisotropic'\?",
        ),
        (lambda: descend.surface("bowl", ["sgdd"]), UnknownNameError, r"Unknown optimizer 'sgdd'"),
        (
            lambda: descend.surface("bowl", ["sgd:momentun=0.9"]),
            HyperparameterError,
            r"Did you mean 'momentum'",
        ),
        (lambda: descend.surface("bowl", []), DescendError, r"No optimizer given"),
        (
            lambda: descend.surface("bowl", start=(1, 1), starts=4),
            DescendError,
            r"either start .* or starts",
        ),
        (lambda: descend.surface("bowl", starts=0), DescendError, r"Invalid starts: 0"),
        (lambda: descend.surface("bowl", steps=0), DescendError, r"Invalid steps: 0"),
        (
            lambda: descend.surface("bowl", schedule="cosine:T_max=0"),
            HyperparameterError,
            r"Invalid T_max: 0",
        ),
        (lambda: descend.surface("bowl", lr=[]), DescendError, r"Invalid lr: an empty list"),
    ],
)
def test_bad_input_is_refused_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_save_writes_every_figure_and_the_table(tmp_path):
    study = descend.surface("anisotropic", ["sgd", "sgd:momentum=0.9"], lr=0.1, steps=20)
    written = study.save(tmp_path / "out")
    assert set(written) == {
        "contour",
        "loss",
        "surface",
        "surface3d",
        "descent",
        "summary.csv",
        "table",
    }
    for name in ("contour", "loss", "surface3d"):
        with Image.open(written[name]) as image:
            assert image.format == "PNG" and min(image.size) > 300
    with Image.open(written["descent"]) as gif:
        assert gif.n_frames == 21
    html = written["surface"].read_text()
    assert "sgd momentum=0.9" in html and '<script src="http' not in html  # self-contained
    table = written["table"].read_text()
    assert "| optimizer |" in table and "| sgd momentum=0.9 |" in table
    assert (tmp_path / "out" / "summary.csv").read_text().splitlines()[0].startswith("optimizer,")


def test_more_figures_appear_when_the_study_calls_for_them(tmp_path):
    many = descend.surface("himmelblau", ["sgd:lr=0.01"], starts=16, steps=50).save(
        tmp_path / "a", gif=False
    )
    assert "basins" in many and "descent" not in many
    sweep = descend.surface("bowl", ["sgd"], lr=[0.1, 0.5], steps=10).save(
        tmp_path / "b", gif=False
    )
    assert "sensitivity" in sweep
    scheduled = descend.surface("bowl", ["sgd"], schedule="step:lr=0.1,step_size=3", steps=10)
    assert "lr" in scheduled.save(tmp_path / "c", gif=False)


def test_notebook_display_escapes_names():
    study = descend.surface("bowl", ["sgd:label='<b>mine</b>'"], lr=0.1, steps=5)
    html = study._repr_html_()
    assert "&lt;b&gt;mine&lt;/b&gt;" in html and "<b>mine</b>" not in html
    assert html.count("data:image/png;base64,") == 2


def test_a_diverged_run_shows_in_the_table():
    study = descend.surface("anisotropic", ["sgd"], lr=0.2, steps=40)
    row = summary_rows(study)[0]
    assert row["diverged"] == "yes" and row["final f − f*"] == "—"
    assert math.isinf(study.summaries()[0].final_loss)


def test_several_seeds_run_every_start_once_per_seed():
    study = descend.surface("anisotropic", ["sgd:lr=0.05"], noise=1.0, seed=[3, 4, 5], steps=40)
    assert [r.spec.seed for r in study.results] == [3, 4, 5]
    finals = {tuple(r.final_point.tolist()) for r in study.results}
    assert len(finals) == 3  # each seed its own noise
    assert study.summaries()[0].runs == 3
    again = descend.surface("anisotropic", ["sgd:lr=0.05"], noise=1.0, seed=4, steps=40)
    torch.testing.assert_close(again.results[0].trajectory, study.results[1].trajectory)
