"""The `descend` command, end to end on real (small) runs: what it prints, what it writes,
and how it refuses bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import descend
from descend.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def test_version_and_help_from_the_installed_command():
    version = subprocess.run(
        [Path(sys.executable).parent / "descend", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.strip() == f"descend {descend.__version__}"
    help_text = invoke("--help").output
    for command in ("demo", "surface", "run", "schedule"):
        assert command in help_text


def test_surface_command_prints_the_table_and_writes_the_figures(tmp_path):
    out = tmp_path / "aniso"
    result = invoke(
        "surface", "anisotropic", "--opt", "sgd", "--opt", "sgd:momentum=0.9", "--opt", "rmsprop:alpha=0.9",
        "--lr", "0.1", "--steps", "50", "--start", "1,1", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0
    table = result.output
    assert "anisotropic(kappa=8): w1**2 + 8*w2**2" in table
    sgd_row = next(line for line in table.splitlines() if line.startswith("│ sgd "))
    cells = [cell.strip() for cell in sgd_row.split("│")[1:-1]]
    assert cells[0] == "sgd" and cells[1] == "2.037e-10"
    assert cells[-2:] == ["0", "50"]  # sign flips of w1 and w2: w2 ← −0.6·w2 every step
    assert f"to {out}/" in table.replace("\n", "")
    for name in ("contour.png", "loss.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG"
    with Image.open(out / "descent.gif") as gif:
        assert gif.n_frames == 51
    assert "rmsprop alpha=0.9" in (out / "surface.html").read_text()


def test_surface_command_with_a_formula_and_many_starts(tmp_path):
    result = invoke(
        "surface",
        "w1**2 + 8*w2**2",
        "--opt",
        "adam",
        "--starts",
        "100",
        "--steps",
        "30",
        "--no-gif",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0
    assert "formula: w1**2 + 8*w2**2" in result.output and "│ adam " in result.output
    assert (tmp_path / "basins.png").exists() and not (tmp_path / "descent.gif").exists()


def test_default_output_folder_is_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("surface", "bowl", "--steps", "5", "--no-gif").exit_code == 0
    assert (tmp_path / "descend-out" / "bowl" / "contour.png").exists()


def test_run_a_recipe_and_list_them(tmp_path):
    listing = invoke("run", "--list")
    assert "momentum-vs-rmsprop" in listing.output and "seed 004" in listing.output
    result = invoke("run", "momentum-vs-rmsprop", "--no-gif", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert "│ momentum α=0.99 " in result.output
    for surface in ("bowl", "anisotropic"):
        assert (tmp_path / surface / "contour.png").exists()
        assert (tmp_path / surface / "summary.md").read_text().count("\n| ") == 8  # head + 7
    assert f"Figures and tables are in {tmp_path}/" in result.output.replace("\n", "")


def test_run_a_toml_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[study]\nsurfaces = ["booth"]\nsteps = 30\nlr = 0.05\n[[optimizers]]\nrule = "adam"\n'
    )
    result = invoke("run", str(path), "--no-gif", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0 and "booth" in result.output
    assert (tmp_path / "out" / "loss.png").exists()


def test_schedule_command(tmp_path):
    out = tmp_path / "lr.png"
    result = invoke(
        "schedule",
        "cosine_warm_restarts:lr=0.1,T_0=10,T_mult=2,eta_min=0.01",
        "--steps",
        "150",
        "--out",
        str(out),
    )
    assert result.exit_code == 0
    lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.startswith("│")
    }
    assert lines["0"] == "0.1" and lines["30"] == "0.1"  # restarts at 10, 30, 70
    with Image.open(out) as image:
        assert image.format == "PNG"


def test_demo_prints_every_optimizer_and_runs_the_recipe(tmp_path):
    result = invoke("demo", "--out", str(tmp_path))
    assert result.exit_code == 0
    for name in descend.optim.names():
        assert f"│ {name} " in result.output
    assert (tmp_path / "momentum-vs-rmsprop" / "anisotropic" / "descent.gif").exists()
    assert "Figures and tables are in" in result.output
    assert (tmp_path / "schedules" / "lr.png").exists()
    assert (tmp_path / "lr-find" / "lr-find.png").exists()
    assert "Suggested learning rates" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["surface", "anisotropik"], "Unknown surface 'anisotropik'. Did you mean 'anisotropic'?"),
        (["surface", "bowl", "--opt", "adamm"], "Unknown optimizer 'adamm'. Did you mean 'adam'?"),
        (
            ["surface", "bowl", "--opt", "adam:lrr=0.1"],
            "Optimizer 'adam' has no hyper-parameter 'lrr'. Did you mean 'lr'?",
        ),
        (["surface", "bowl", "--lr", "fast"], "Invalid lr: 'fast'"),
        (["surface", "bowl", "--start", "1"], "Invalid --start '1'"),
        (["surface", "w1 + __import__('os')"], "not allowed"),
        (["run", "nope"], "Unknown experiment 'nope'"),
        (
            ["schedule", "cosine_warm_restarts:lr=0.1,T_0=0"],
            "Invalid T_0: 0 (allowed: an integer >= 1)",
        ),
    ],
)
def test_bad_input_ends_with_its_message_and_status_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "descend-out").exists()  # nothing half-written
