"""The range test in the store: kept as a study of kind lr-find, read back equal and not
run again, run again on --rerun or other settings, listed and reported like any study,
from Python and from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import descend
from descend import provenance, report_page
from descend.cli import app
from descend.errors import DescendError
from descend.lrfind import LRFindResult, run
from descend.store import StoreError, StudyRecord

TINY = {"seeds": 2, "steps": 20, "start": 1e-4, "end": 10.0}  # 20 > 10 + 5: every rule reads
NAME = "lr-find/digits-mlp/sgd:momentum=0.9"


def tiny(store, optimizer="sgd:momentum=0.9", **changes):
    return descend.lr_find_task("digits-mlp", optimizer, store=store, **{**TINY, **changes})


def same_test(a, b):
    """Every number and word the test reports equal (NaN equal to NaN)."""
    np.testing.assert_array_equal(a.lrs, b.lrs)
    assert a.seeds == b.seeds
    for x, y in zip(a.curves, b.curves, strict=True):
        np.testing.assert_array_equal(x.raw, y.raw)
        np.testing.assert_array_equal(x.smoothed, y.smoothed)
        assert x.stopped == y.stopped
    assert a.suggestions == b.suggestions and a.per_seed == b.per_seed
    assert [t.formatted() for t in a.tables()] == [t.formatted() for t in b.tables()]
    assert (a.title, a.description, a.mode, a.smooth, a.diverge) == (
        b.title, b.description, b.mode, b.smooth, b.diverge,
    )  # fmt: skip


def no_sweep(monkeypatch):
    """Any range test that runs from here on fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the range test ran: it should have been read from the store")

    monkeypatch.setattr(run, "_one_seed", refuse)


@pytest.fixture
def store(tmp_path):
    with descend.open_store(tmp_path / "s.sqlite", say=lambda m: None) as opened:
        yield opened


def test_kept_as_a_study_and_loaded_back_equal(store):
    computed = tiny(store)
    assert computed.name == NAME
    [info] = store.studies()
    assert (info.name, info.kind, info.runs) == (NAME, "lr-find", 0)
    assert info.title == "Learning-rate range test: sgd momentum=0.9 on digits-mlp"
    record = store.study(NAME)
    assert record.settings["optimizer"] == "sgd:momentum=0.9"
    assert record.settings["seeds"] == (0, 1) and record.settings["steps"] == 20
    assert len(record.settings["curves"]["raw"]) == 2
    loaded = store.load_study(NAME)
    same_test(computed, loaded)
    assert all(lr is not None for lr in loaded.suggestions.values())
    assert loaded.provenance == computed.provenance
    assert [r["seed"] for r in loaded.provenance] == [0, 1]
    assert {r["init_seed"] for r in loaded.provenance} == {0}


def test_kept_as_plain_json_without_pickle(store):
    tiny(store, seeds=1)
    (settings,) = store.db.execute("SELECT settings FROM studies").fetchone()
    raw = json.loads(settings)["map"]["curves"]["map"]["raw"]  # canonical JSON
    assert len(raw) == 1 and len(raw[0]) <= 20


def test_asked_again_it_is_read_back_not_run(tmp_path, monkeypatch):
    said = []
    store = descend.open_store(tmp_path / "s.sqlite", say=said.append)
    computed = tiny(store)
    no_sweep(monkeypatch)
    # the same settings however written: seeds as a list, defaults given, another device
    again = tiny(store, seeds=[0, 1], mode="exp", smooth=0.05, device="cpu")
    same_test(computed, again)
    assert again.name == NAME
    assert said == [
        f"The range test {NAME} is not in the store: it runs",
        f"The range test {NAME} found in the store, not run again (--rerun: run it)",
    ]


def test_rerun_runs_it_again_and_replaces_it(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    first = tiny(descend.open_store(path, say=lambda m: None))
    before = descend.open_store(path).study(NAME).settings["provenance"]
    said = []
    again = tiny(descend.open_store(path, rerun=True, say=said.append))
    assert said == [f"--rerun: the range test {NAME} runs again, replacing any stored"]
    same_test(first, again)  # the sweep is deterministic
    after = descend.open_store(path).study(NAME).settings["provenance"]
    assert after[0]["computed_at"] > before[0]["computed_at"]
    assert len(descend.open_store(path).studies()) == 1


@pytest.mark.parametrize(
    "changes",
    [{"steps": 24}, {"seeds": 1}, {"init_seed": 1}, {"batch_size": 16}, {"diverge": None}],
)
def test_other_settings_run_again_and_replace_it(store, changes):
    first = tiny(store)
    said = []
    store.say = said.append
    other = tiny(store, **changes)
    assert said == [
        f"The range test {NAME} is not in the store: it runs, replacing the stored one "
        "(other settings)"
    ]
    [info] = store.studies()
    assert info.name == NAME
    same_test(other, store.load_study(NAME))
    key, value = next(iter(changes.items()))
    kept = store.study(NAME).settings[key]
    assert kept == ((0,) if key == "seeds" else value)
    assert len(first.lrs) == 20


def test_another_optimizer_or_task_is_another_study(store, monkeypatch):
    tiny(store)
    tiny(store, "adam")
    tiny(store, "sgd:nesterov=true,momentum=0.9")
    names = [s.name for s in store.studies()]
    assert names == [
        NAME,
        "lr-find/digits-mlp/adam",
        "lr-find/digits-mlp/sgd:momentum=0.9,nesterov=true",  # parameters sorted
    ]
    no_sweep(monkeypatch)
    tiny(store, "sgd: momentum = 0.9 ,nesterov=true")  # the same call, written otherwise
    assert len(store.studies()) == 3


def test_an_optimizer_that_is_not_text_runs_and_is_not_kept(tmp_path):
    said = []
    store = descend.open_store(tmp_path / "s.sqlite", say=said.append)
    result = tiny(store, descend.optim.adam(), seeds=1)
    assert result.name == "lr-find" and store.studies() == []
    assert said == [
        "The range test cannot be stored (its optimizer is a Python object, not text such "
        "as 'adam'): it runs, and is not kept"
    ]


def test_bad_settings_are_refused_before_the_store_is_read(store, monkeypatch):
    tiny(store, seeds=1)
    no_sweep(monkeypatch)
    with pytest.raises(DescendError, match="Invalid steps: 1"):
        tiny(store, seeds=1, steps=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'stepz'"):
        tiny(store, seeds=1, stepz=20)
    with pytest.raises(DescendError, match="leave it out"):
        tiny(store, "sgd:momentum=0.9,lr=0.1", seeds=1)


def test_a_study_of_another_kind_under_the_name_is_not_replaced(store):
    store.keep_study(StudyRecord(NAME, "compare", {"task": "x"}))
    with pytest.raises(StoreError, match="has a compare study named"):
        tiny(store, seeds=1)
    assert store.study(NAME).kind == "compare"


# --- reports --------------------------------------------------------------------------


def test_the_report_page_of_a_stored_range_test(store, tmp_path):
    computed = tiny(store)
    page = store.report(NAME, tmp_path / "x.html")
    text = page.read_text()
    assert "Learning-rate range test: sgd momentum=0.9 on digits-mlp" in text
    assert "Suggested learning rates" in text and "<img" in text  # the figure, inline
    assert f"{computed.suggestion:.3g}" in text
    assert 'id="reproducibility"' in text and "0, 1 (initial weights from seed 0)" in text
    markdown = store.report(NAME, tmp_path / "x.md", format="md").read_text()
    assert "## Reproducibility" in markdown and "## Suggested learning rates" in markdown


def test_write_study_shows_a_studys_own_records_when_it_has_no_runs(tmp_path):
    result = descend.lr_find_task("digits-mlp", "adam", **{**TINY, "seeds": 1})
    text = report_page.write_study(result, tmp_path / "a.html", []).read_text()
    rows = dict(provenance.summary(result.provenance))
    assert rows["seeds"] == "0 (initial weights from seed 0)" and rows["device"] == "cpu"
    assert 'id="reproducibility"' in text and rows["torch"] in text
    assert 'id="reproducibility"' in result.report(str(tmp_path / "b.html")).read_text()
    bare = LRFindResult(result.lrs, result.curves, "exp", 0.05, 5.0, "bare")
    text = report_page.write_study(bare, tmp_path / "c.html", []).read_text()
    assert "bare" in text and 'id="reproducibility"' not in text  # nothing to show: none


# --- the command line ----------------------------------------------------------------

COMMAND = ["lr-find", "--task", "digits-mlp", "--opt", "adam", "--seeds", "1", "--steps", "20",
           "--start", "1e-4"]  # fmt: skip


def invoke(*args):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_the_command_stores_lists_reports_and_reads_back(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    first = invoke(*COMMAND, "--out", str(tmp_path / "a"), "--store", str(path))
    assert "The range test lr-find/digits-mlp/adam is not in the store: it runs" in first
    listed = invoke("runs", "list", "--store", str(path))
    assert "lr-find/digits-mlp/adam" in listed and "lr-find" in listed
    assert "— (no runs)" in listed and "Runs (0)" in listed
    page = tmp_path / "x.html"
    assert "Wrote" in invoke("report", "lr-find/digits-mlp/adam", "--out", str(page),
                             "--store", str(path))  # fmt: skip
    assert "Learning-rate range test: adam on digits-mlp" in page.read_text()
    no_sweep(monkeypatch)
    again = invoke(*COMMAND, "--out", str(tmp_path / "b"), "--store", str(path))
    assert "lr-find/digits-mlp/adam found in the store, not run again" in again
    assert (tmp_path / "a" / "suggestions.csv").read_text() == (
        tmp_path / "b" / "suggestions.csv"
    ).read_text()


def test_the_command_stores_by_default_and_reruns(tmp_path, private_store):
    invoke(*COMMAND, "--out", str(tmp_path / "a"))
    assert [s.name for s in descend.open_store(private_store).studies()] == [
        "lr-find/digits-mlp/adam"
    ]
    again = invoke(*COMMAND, "--out", str(tmp_path / "b"), "--rerun")
    assert "--rerun: the range test lr-find/digits-mlp/adam runs again" in again


def test_no_store_writes_nothing(tmp_path, private_store):
    output = invoke(*COMMAND, "--out", str(tmp_path / "a"), "--no-store")
    assert "in the store" not in output and not private_store.exists()
    assert (tmp_path / "a" / "suggestions.csv").exists()
    result = CliRunner().invoke(app, [*COMMAND, "--no-store", "--rerun"])
    assert result.exit_code == 2 and "Give --no-store alone" in " ".join(result.output.split())
