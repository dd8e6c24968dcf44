"""descend.compare and `descend compare`: from the user's words to paired runs, tables,
claims and files; and every bad input refused before any work."""

from __future__ import annotations

import csv
import math

import pytest
from matplotlib.figure import Figure
from PIL import Image
from typer.testing import CliRunner

import descend
from descend.cli import app
from descend.errors import DescendError, UnknownNameError
from descend.studies import Claim

REGIMES = ["full", "minibatch:25:fixed", "minibatch:25:shuffle"]


@pytest.fixture(scope="module")
def study():
    return descend.compare(
        "quadratic-regression", ["sgd:lr=1e-3"], regimes=REGIMES, epochs=40, seeds=4,
        checkpoint=20,
        claims=[
            Claim("minibatches get nearer than GD", "minibatch:25:shuffle", "full"),
            Claim("GD gets nearer than minibatches", "full", "minibatch:25"),
        ],
    )  # fmt: skip


def test_the_issue_example_gives_one_row_per_regime_over_the_seeds(study):
    rows = {s["regime"]: s for s in study.summaries()}
    assert list(rows) == REGIMES
    assert [rows[r]["updates"] for r in REGIMES] == [40, 160, 160]  # 100 points, batch 25
    assert all(s["runs"] == 4 and s["diverged"] == 0 for s in rows.values())
    # the mean and interval are those of the runs' own final distances
    finals = [float(r.evaluations["distance"][-1]) for r in study.rows()["full"]]
    assert rows["full"]["distance"] == pytest.approx(sum(finals) / 4)
    assert (
        rows["full"]["distance ci low"]
        < rows["full"]["distance"]
        < rows["full"]["distance ci high"]
    )


def test_runs_of_one_seed_start_from_the_same_weights_in_every_regime(study):
    for seed in range(4):
        starts = [r.initial_params for r in study.results if r.spec.seed == seed]
        assert len(starts) == 3 and all(s == starts[0] for s in starts)  # same values
    assert study.results[0].initial_params != study.results[1].initial_params


def test_claims_are_tested_seed_by_seed_with_their_numbers(study):
    supported, contradicted = study.checked_claims()
    assert supported["verdict"] == "supported" and supported["seeds"] == 4
    assert supported["ci high"] < 0  # the distance difference (minibatch − GD) is negative
    assert "160 updates in all, full 40" in supported["evidence"]
    assert contradicted["verdict"] == "contradicted"


def test_figures_are_what_they_say(study):
    figures = study.figures()
    assert set(figures) == {
        "paths", "landscape", "contour", "minibatches", "fits", "curves", "curves_updates"
    }  # fmt: skip
    paths = study.paths()
    assert isinstance(paths, Figure) and len(paths.axes) >= 3
    titles = [ax.get_title() for ax in paths.axes if ax.get_visible()]
    assert any(t.startswith("minibatch:25:shuffle: 4 seeds") for t in titles)
    landscape = figures["landscape"]()
    names = [trace.name for trace in landscape.data]
    assert names[0] == "loss on the slice" and len(names) == 4  # the surface, a path per row


def test_save_writes_the_figures_and_tables_of_raw_numbers(study, tmp_path):
    written = study.save(tmp_path)
    for name in ("paths", "contour", "minibatches", "fits", "curves"):
        with Image.open(written[name]) as image:
            assert image.format == "PNG" and min(image.size) > 300
    assert written["landscape"].suffix == ".html"
    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["regime"] for r in rows] == REGIMES
    assert float(rows[0]["distance_mean"]) == pytest.approx(study.summaries()[0]["distance"])
    with open(tmp_path / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 12
    assert {"label", "regime", "seed", "epochs", "updates", "final_loss",
            "distance_to_optimum", "param.a", "param.b", "param.c"} <= set(runs[0])  # fmt: skip
    run = study.results[0]
    assert float(runs[0]["param.a"]) == pytest.approx(float(run.final_params["a"]))
    summary = (tmp_path / "summary.md").read_text()
    assert "minibatch:25:shuffle" in summary and "The source's claims, tested" in summary


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(regimes=["minibatch:500:shuffle"]), DescendError, r"Invalid batch size: 500 is more than the 100 training examples \(allowed: 1 to 100\)"),
        (dict(regimes=["minibatch:0:fixed"]), DescendError, r"Invalid regime 'minibatch:0:fixed'.*allowed: an integer >= 1"),
        (dict(regimes=["minibatch:25:random"]), DescendError, r"Invalid regime .*Allowed: fixed, shuffle, replacement"),
        (dict(regimes=["batched"]), DescendError, r"Invalid regime 'batched' \(allowed: full, single, single:ORDER, minibatch:B"),
        (dict(slice=["a", "d"]), DescendError, r"Invalid slice: a, d \(allowed: two of a, b, c\)"),
        (dict(updates=10), DescendError, r"Give the budget as epochs or as updates, not both"),
        (dict(device="cuda"), DescendError, r"torch sees no CUDA GPU.*--device cpu"),
        (dict(checkpoint=50), DescendError, r"Invalid checkpoint: epoch 50 .*at most 20"),
        (dict(claims=[Claim("x", "full", "minibatch:7")]), DescendError, r"no row 'minibatch:7' in this study \(rows: full\)"),
        (dict(task="anisotropic"), DescendError, r"anisotropic is a surface with no data: use descend surface"),
        (dict(task="quadratic-regresion"), UnknownNameError, r"Unknown task 'quadratic-regresion'\. Did you mean 'quadratic-regression'\?"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_any_run(kwargs, error, message, monkeypatch):
    if kwargs.get("device") == "cuda":
        monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    calls = {"task": "quadratic-regression", "optimizers": ["sgd:lr=1e-3"], "epochs": 20,
             "seeds": 2, **kwargs}  # fmt: skip
    progress = []
    with pytest.raises(error, match=message):
        descend.compare(**calls, progress=lambda *a: progress.append(a))
    assert progress == []  # not one update made


def test_the_recipe_tests_the_seeds_claims_with_what_the_runs_show():
    """gd-vs-sgd, shortened. GD against minibatches is a large, certain effect; shuffled
    against fixed order is the seed's "slightly further": the study must say what its
    seeds show, whichever it is, with the numbers."""
    [study] = descend.run("gd-vs-sgd", overrides={"seeds": 6, "epochs": 60})
    claims = {c["claim"]: c for c in study.checked_claims()}
    assert len(claims) == 4
    for text, claim in claims.items():
        if "than GD" in text:
            assert claim["verdict"] == "supported", claim["evidence"]
            assert "equal epochs are not equal updates" in claim["evidence"]
    shuffled = claims["Shuffled minibatches end nearer the optimum than a fixed order"]
    assert shuffled["verdict"] in ("supported", "not shown", "contradicted")
    low, high = shuffled["ci low"], shuffled["ci high"]
    verdict = "supported" if high < 0 else "contradicted" if low > 0 else "not shown"
    assert shuffled["verdict"] == verdict and math.isfinite(shuffled["p"])
    rows = {s["regime"]: s for s in study.summaries()}
    assert list(rows) == ["full", "minibatch:25:fixed", "minibatch:25:shuffle", "single"]
    assert rows["single"]["updates"] == 6000 and rows["full"]["updates"] == 60


runner = CliRunner()


def test_the_compare_command_end_to_end(tmp_path):
    out = tmp_path / "regimes"
    result = runner.invoke(app, [
        "compare", "--task", "quadratic-regression", "--opt", "sgd:lr=1e-3",
        "--regime", "full", "--regime", "minibatch:25:shuffle", "--epochs", "20",
        "--seeds", "3", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Per optimizer and regime" in result.output and "minibatch:25:shuffle" in result.output
    assert "Final parameters" in result.output and "optimum" in result.output
    for name in ("paths.png", "curves.png", "summary.csv", "runs.csv", "landscape.html"):
        assert (out / name).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "Invalid regime 'minibatch:0:shuffle'"),
        (["--batch-size", "-3"], "Invalid regime 'minibatch:-3:shuffle'"),
        (["--regime", "minibatch:1000:fixed"], "Invalid batch size: 1000 is more than the 100"),
        (["--regime", "minibatch:25:sorted"], "Allowed: fixed, shuffle, replacement"),
        (["--slice", "a,q"], "Invalid slice: a, q (allowed: two of a, b, c)"),
        (["--updates", "100"], "not both"),
        (["--device", "cuda"], "Run on the CPU instead (--device cpu, the default)"),
        (["--seeds", "many"], "Invalid --seeds 'many'"),
    ],
)
def test_bad_input_ends_with_one_line_on_stderr_status_2_nothing_written(
    args, message, tmp_path, monkeypatch
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "compare", "--task", "quadratic-regression", "--epochs", "5", "--out", str(out), *args
    ])  # fmt: skip
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert result.stdout == "" and "Traceback" not in result.output
    assert not out.exists()


def test_a_recipe_key_that_does_not_exist_is_refused_by_run(tmp_path):
    result = runner.invoke(
        app, ["run", "gd-vs-sgd", "--set", "seedz=3", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert (
        "--set seedz: recipe gd-vs-sgd has no setting 'seedz'. Did you mean 'seeds'?"
        in result.stderr
    )
    assert not (tmp_path / "o").exists()
