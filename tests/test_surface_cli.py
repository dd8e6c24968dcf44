"""The surface lab's command line as a new user meets it: every bad input a clear line on
stderr, exit status 2, before any work and with nothing written; outputs that do not
outlive their study; screens that list what there is."""

from __future__ import annotations

import csv
import errno
import json

import pytest
from typer.testing import CliRunner

import descend
from descend.cli import app

runner = CliRunner()
BASE = ["surface", "bowl", "--opt", "sgd", "--steps", "20"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert result.stdout == "" and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "0"], "Invalid --seeds: 0 (allowed: an integer >= 1)"),
        (["--schedule", "exponential:gamma=10", "--lr", "0.1", "--steps", "400"],
         "its learning rate is inf at step 309 of 400"),
        (["--start", "nan,1"], "Invalid start: (nan, 1.0) (allowed: 2 finite numbers)"),
        (["--tol", "-1"], "Invalid tolerance: -1.0 (allowed: a finite number > 0)"),
        (["--tol", "0"], "Invalid tolerance: 0.0 (allowed: a finite number > 0)"),
        (["--starts", "100000000"], "would need about"),
        (["--window", "1,0,0,1"], "Invalid --window '1,0,0,1'"),
        (["--figures", "contour,lose"], "Invalid --figures: lose (allowed: contour, loss"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_on_stderr_and_nothing_written(args, message, tmp_path):
    out = tmp_path / "o"
    result = invoke(*BASE, "--out", str(out), *args)
    refused(result, message)
    assert not out.exists()


def test_the_memory_refusal_says_what_to_change(tmp_path):
    result = invoke(*BASE, "--starts", "100000000", "--out", str(tmp_path / "o"))
    assert "run at most about" in result.stderr and "fewer starts, seeds or lrs" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["exponential:lr=0.1,gamma=10", "--steps", "1000"], "inf at step 309 of 1000"),
        (["cosine:lr=0.1,T_max=10", "--steps", "0"], "Invalid --steps: 0"),
        (["cosine:lr=0.1,T_max=10", "--out", "lr.txt"], "not a figure file (allowed: a name ending in .png, .svg, .pdf)"),
    ],
)  # fmt: skip
def test_the_schedule_command_refuses_before_printing(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(invoke("schedule", *args), message)
    assert list(tmp_path.iterdir()) == []


def test_out_that_cannot_be_a_folder_is_refused_before_any_work(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    refused(invoke(*BASE, "--out", str(a_file)), "it is a file")
    refused(invoke(*BASE, "--out", str(a_file / "inside")), "a file (allowed: a folder")
    assert a_file.read_text() == "mine"


def test_an_out_without_permission_is_refused_before_any_work(tmp_path, monkeypatch):
    # (the tests may run as root, whom permissions do not stop: the check is what counts)
    monkeypatch.setattr("descend.terminal.os.access", lambda path, mode: False)
    refused(invoke(*BASE, "--out", str(tmp_path / "o")), "is not writable (no permission)")


def test_a_full_disk_leaves_whole_files_and_one_line(tmp_path, monkeypatch):
    from descend import report

    real = report.atomic_write

    def full_disk(path, content):
        if path.name == "summary.md":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(report, "atomic_write", full_disk)
    out = tmp_path / "o"
    result = invoke(*BASE, "--out", str(out), "--no-gif")
    assert result.exit_code == 2
    assert "Could not write in" in result.stderr and "No space left on device" in result.stderr
    assert not (out / "summary.md").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


def test_surface_parameters_in_the_name_form(tmp_path):
    result = invoke("surface", "anisotropic:kappa=100", "--opt", "sgd:lr=0.005", "--steps", "20",
                    "--no-gif", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0 and "anisotropic(kappa=100)" in result.stdout


def test_a_reused_out_folder_holds_only_the_new_study_and_a_manifest(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # not descend's: stays
    invoke("surface", "himmelblau", "--opt", "sgd:lr=0.01", "--starts", "16", "--steps", "20",
           "--no-gif", "--out", str(out))  # fmt: skip
    assert (out / "basins.png").exists()
    result = invoke(*BASE, "--no-gif", "--out", str(out))
    assert result.exit_code == 0
    assert not (out / "basins.png").exists() and (out / "notes.txt").read_text() == "mine"
    manifest = json.loads((out / "descend-manifest.json").read_text())
    assert manifest["study"].startswith("bowl") and "contour.png" in manifest["files"]
    assert manifest["command"] and manifest["descend"] == descend.__version__


def test_summary_csv_holds_raw_numbers_in_their_own_columns(tmp_path):
    invoke(*BASE, "--opt", "adam", "--no-gif", "--out", str(tmp_path))
    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["sign flips w1"] == "0" and rows[0]["sign flips w2"] == "0"
    float(rows[0]["final f − f*"])  # a number, not "2.04e-10" formatted text
    assert rows[1]["diverged"] == "False"


def test_rounded_starts_are_said(tmp_path):
    result = invoke("surface", "bowl", "--starts", "2000", "--steps", "2", "--no-gif",
                    "--figures", "loss", "--out", str(tmp_path))  # fmt: skip
    assert "--starts 2000 ran as a 45×45 grid: 2025 starts" in result.stdout


def test_screens_list_the_optimizers_and_schedules():
    listing = invoke("optimizers").stdout
    for name in descend.optim.names():
        assert f"│ {name} " in listing
    assert "betas=(0.9, 0.999)" in listing and "Kingma & Ba 2015" in listing
    schedules = invoke("schedule", "--list").stdout
    for name in descend.schedules.names():
        assert f"│ {name} " in schedules


def test_the_schedule_table_shows_restarts_not_one_phase(tmp_path):
    result = invoke("schedule", "cosine_warm_restarts:lr=0.1,T_0=10", "--steps", "60",
                    "--out", str(tmp_path / "lr.png"))  # fmt: skip
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.startswith("│")
    }
    assert rows["9"] == "0.00244717" and rows["10"] == "0.1"  # the end of a cycle, a restart
    assert len(set(rows.values())) > 2
