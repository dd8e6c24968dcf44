"""The store from the command line: studies stored by default, --no-store, --rerun; runs
list, show, export and import (jsonl and parquet round trips, CSV for spreadsheets);
descend report; and every refusal with its message."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from typer.testing import CliRunner

from descend.cli import app
from descend.store import Store

runner = CliRunner()
COMPARE = ["compare", "--task", "quadratic-regression", "--opt", "sgd:lr=1e-3",
           "--regime", "full", "--regime", "minibatch:25:shuffle", "--epochs", "3"]  # fmt: skip


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def stored(tmp_path, private_store):
    """A store (the private default one) holding a compare study of 6 runs."""
    result = invoke(*COMPARE, "--seeds", "3", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    return Store(private_store)


def test_compare_stores_by_default_and_finds_its_runs_the_next_time(tmp_path, stored):
    again = invoke(*COMPARE, "--seeds", "4", "--out", str(tmp_path / "o"))
    assert again.exit_code == 0 and "6 of 8 runs found in the store, 2 to run" in again.output
    rerun = invoke(*COMPARE, "--seeds", "4", "--rerun", "--out", str(tmp_path / "o"))
    assert "--rerun: all 8 runs to run, replacing any stored" in rerun.output
    assert len(stored.runs(study="compare")) == 8


def test_no_store_keeps_nothing(tmp_path, private_store):
    result = invoke(*COMPARE, "--seeds", "2", "--no-store", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0 and "found in the store" not in result.output
    assert not private_store.exists()


def test_no_store_with_store_or_rerun_is_refused(tmp_path):
    for extra in (["--store", str(tmp_path / "s.sqlite")], ["--rerun"]):
        result = runner.invoke(app, [*COMPARE, "--no-store", *extra])
        assert result.exit_code == 2
        assert result.stderr == "Error: Give --no-store alone: not with --store or --rerun.\n"


def test_surface_stores_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("DESCEND_STORE")
    monkeypatch.chdir(tmp_path)
    plain = invoke("surface", "anisotropic", "--steps", "10", "--no-gif", "--out", "s")
    assert plain.exit_code == 0 and "found in the store" not in plain.output
    assert not (tmp_path / "descend-out" / "descend.sqlite").exists()
    refused = runner.invoke(app, ["surface", "anisotropic", "--rerun"])
    assert refused.exit_code == 2
    assert (
        refused.stderr
        == "Error: --rerun needs a store here: give --store PATH (or $DESCEND_STORE).\n"
    )
    kept = invoke("surface", "anisotropic", "--steps", "10", "--no-gif", "--store", "k.sqlite")
    assert "0 of 1 runs found in the store, 1 to run" in kept.output
    assert Store("k.sqlite").studies()[0].name == "anisotropic"


def test_surface_and_run_store_their_studies_under_their_names(tmp_path, private_store):
    surface = invoke(
        "surface", "anisotropic", "--steps", "10", "--no-gif", "--out", str(tmp_path / "s")
    )
    assert surface.exit_code == 0 and "0 of 1 runs found in the store, 1 to run" in surface.output
    recipe = invoke("run", "gd-vs-sgd", "--set", "seeds=2", "--set", "epochs=50",
                    "--set", "checkpoint=50", "--no-gif", "--out", str(tmp_path / "r"))  # fmt: skip
    assert recipe.exit_code == 0, recipe.output
    names = {s.name: s.kind for s in Store(private_store).studies()}
    assert names == {"anisotropic": "surface", "gd-vs-sgd": "compare"}


def test_runs_list_shows_studies_and_runs(stored):
    result = invoke("runs", "list")
    assert result.exit_code == 0
    assert "│ compare │ compare │ 6 of 6" in result.output and "Runs (6)" in result.output
    keys = [r.key[:12] for r in stored.runs()]
    assert all(k in result.output for k in keys)
    limited = invoke("runs", "list", "--study", "compare", "--limit", "2")
    assert "... and 4 more (--limit 0 shows all)" in limited.output
    unknown = runner.invoke(app, ["runs", "list", "--study", "nope"])
    assert unknown.exit_code == 2 and "No study 'nope' in the store" in unknown.stderr


def test_runs_show_prints_a_run_by_a_prefix_of_its_key(stored):
    key = stored.runs()[0].key
    result = invoke("runs", "show", key[:7])
    assert result.exit_code == 0
    for text in (f"Run {key}", "│ studies", "compare", "tensor loss", "F32 [3]", "│ command"):
        assert text in result.output
    bad = runner.invoke(app, ["runs", "show", "not-hex"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: Invalid run id 'not-hex' (allowed: hex digits of a run's key).\n"


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_export_then_import_gives_equal_records(tmp_path, stored, format):
    out = tmp_path / f"runs.{format}"
    result = invoke("runs", "export", "--study", "compare", "--format", format, "--out", str(out))
    assert result.exit_code == 0 and "Wrote 6 runs" in result.output
    other = tmp_path / "other.sqlite"
    imported = invoke("runs", "import", str(out), "--store", str(other))
    assert imported.exit_code == 0, imported.output
    assert "Imported 6 runs (study compare): 6 new, 0 already stored" in imported.output
    copy = Store(other)
    assert list(copy.runs(study="compare")) == list(stored.runs(study="compare"))
    rows = {
        k: copy.db.execute("SELECT * FROM runs WHERE key=?", (k,)).fetchone()
        for k in [r.key for r in copy.runs()]
    }
    assert rows == {
        k: stored.db.execute("SELECT * FROM runs WHERE key=?", (k,)).fetchone() for k in rows
    }
    loaded = copy.load_study("compare")
    assert loaded.tables()[0].rows == stored.load_study("compare").tables()[0].rows
    again = invoke("runs", "import", str(out), "--store", str(other))
    assert "6 new" not in again.output and "0 new, 6 already stored" in again.output


def test_export_as_csv_gives_one_summary_row_per_run(tmp_path, stored):
    out = tmp_path / "runs.csv"
    assert invoke("runs", "export", "--format", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and {
        "key",
        "label",
        "regime",
        "seed",
        "final_loss",
        "final_distance",
    } <= set(rows[0])
    refused = runner.invoke(app, ["runs", "import", str(out)])
    assert refused.exit_code == 2 and "is a CSV export: one summary row per run" in refused.stderr


def test_an_export_whose_runs_do_not_match_their_keys_is_refused(tmp_path, stored):
    out = tmp_path / "runs.jsonl"
    invoke("runs", "export", "--out", str(out))
    lines = out.read_text().splitlines()
    run = json.loads(lines[1])
    run["spec"] = run["spec"].replace('"seed": 0', '"seed": 5')
    out.write_text("\n".join([lines[0], json.dumps(run), *lines[2:]]) + "\n")
    result = runner.invoke(app, ["runs", "import", str(out), "--store", str(tmp_path / "x.sqlite")])
    assert result.exit_code == 2 and "does not match its spec; nothing imported" in result.stderr
    assert len(Store(tmp_path / "x.sqlite").runs()) == 0


def test_export_refusals(tmp_path, stored, monkeypatch):
    bad = runner.invoke(app, ["runs", "export", "--format", "xml", "--out", str(tmp_path / "x")])
    assert bad.stderr == "Error: Invalid format 'xml' (allowed: csv, jsonl, parquet).\n"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    missing = runner.invoke(
        app, ["runs", "export", "--format", "parquet", "--out", str(tmp_path / "p")]
    )
    assert missing.exit_code == 2
    assert missing.stderr == (
        "Error: Parquet needs pyarrow: pip install 'descend[tables]' (or use --format jsonl).\n"
    )
    nowhere = runner.invoke(app, ["runs", "export", "--out", str(tmp_path / "no" / "x.jsonl")])
    assert nowhere.exit_code == 2 and "no folder" in nowhere.stderr
    not_export = tmp_path / "x.jsonl"
    not_export.write_text('{"hello": 1}\n')
    result = runner.invoke(app, ["runs", "import", str(not_export)])
    assert (
        result.exit_code == 2 and "is not a descend runs export this version reads" in result.stderr
    )


def test_report_writes_one_page_and_markdown(tmp_path, stored):
    page = tmp_path / "report.html"
    result = invoke("report", "compare", "--out", str(page))
    assert result.exit_code == 0 and page.is_file()
    text = page.read_text()
    assert "Per optimizer and regime" in text and "Reproducibility" in text
    assert "<h3>landscape</h3>" in text and text.count("plotly.js v") == 1  # embedded once
    markdown = tmp_path / "report.md"
    assert invoke("report", "compare", "--out", str(markdown), "--format", "md").exit_code == 0
    assert "![paths](report_files/paths.png)" in markdown.read_text()
    assert (tmp_path / "report_files" / "paths.png").is_file()
    wrong = runner.invoke(app, ["report", "compare", "--format", "pdf"])
    assert wrong.stderr == "Error: Invalid --format 'pdf' (allowed: html, md).\n"
    unknown = runner.invoke(app, ["report", "nope", "--out", str(page)])
    assert unknown.exit_code == 2 and "No study 'nope'" in unknown.stderr
