"""The store: runs kept under their keys with every record, found instead of run again,
studies kept and rebuilt, and nothing in it able to run code."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading

import pytest
import torch

import descend
from descend import schedules
from descend.engine import OptimizerSpec, Regime, RunSpec, TaskSpec
from descend.store import Store, StoreError, resolve
from descend.store import store as store_module
from store_cases import same_result, small_compare, small_surface


@pytest.fixture
def store(tmp_path):
    messages: list[str] = []
    with Store(tmp_path / "runs.sqlite", say=messages.append) as opened:
        opened.messages = messages  # type: ignore[attr-defined]
        yield opened


def counting_engine(monkeypatch) -> list[int]:
    """Patch the store's engine to count the specs it is asked to run."""
    counted: list[int] = []
    real = store_module.stream

    def stream(specs, **kwargs):
        counted.append(len(specs))
        return real(specs, **kwargs)

    monkeypatch.setattr(store_module, "stream", stream)
    return counted


def test_a_second_study_reads_every_run_and_runs_none(store, monkeypatch):
    first = small_compare(store)
    counted = counting_engine(monkeypatch)
    again = small_compare(store)
    assert counted == [0]
    assert store.messages == [
        "0 of 6 runs found in the store, 6 to run",
        "6 of 6 runs found in the store, 0 to run",
    ]
    assert all(same_result(a, b) for a, b in zip(first.results, again.results, strict=True))
    assert again.tables()[0].rows == first.tables()[0].rows


def test_only_the_missing_runs_run_and_the_old_ones_are_not_rewritten(store, monkeypatch):
    small_compare(store, seeds=3)
    written = {r.key: r.written_at for r in store.runs()}
    counted = counting_engine(monkeypatch)
    bigger = small_compare(store, seeds=4)
    assert counted == [2] and store.messages[-1] == "6 of 8 runs found in the store, 2 to run"
    after = {r.key: r.written_at for r in store.runs()}
    assert len(after) == 8 and all(after[k] == t for k, t in written.items())
    assert [r.spec.seed for r in bigger.results] == [0, 1, 2, 3] * 2


def test_rerun_runs_everything_again_and_replaces_the_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    small_surface(Store(path, say=print))
    before = {r.key: r.written_at for r in Store(path).runs()}
    counted = counting_engine(monkeypatch)
    messages: list[str] = []
    small_surface(Store(path, rerun=True, say=messages.append))
    after = {r.key: r.written_at for r in Store(path).runs()}
    assert counted == [2] and messages == ["--rerun: all 2 runs to run, replacing any stored"]
    assert after.keys() == before.keys() and all(after[k] > before[k] for k in before)


def test_a_found_run_takes_the_label_and_tags_of_the_study_asking(store):
    small_surface(store)
    relabelled = descend.surface(
        "anisotropic", ["sgd:label='plain gd'", "sgd:momentum=0.9"], lr=0.1, steps=20, store=store
    )
    assert store.messages[-1] == "2 of 2 runs found in the store, 0 to run"
    assert relabelled.results.labels() == ["plain gd", "sgd momentum=0.9"]


def test_every_field_of_a_run_comes_back_diverged_runs_included(store):
    specs = [
        RunSpec(TaskSpec("anisotropic"), OptimizerSpec("sgd", {"lr": lr}), 15, start=(1.0, 1.0))
        for lr in (0.1, 0.3)  # 0.3 > 2/16: the steep direction diverges
    ]
    first = store.run(specs)
    assert first[1].diverged
    again = store.run(specs)
    assert all(same_result(a, b) for a, b in zip(first, again, strict=True))
    data = store.run([small_compare(None, seeds=1).results[0].spec])
    assert data[0].evaluations and len(data[0].epoch_seconds) == 4
    assert same_result(store.run([data[0].spec])[0], data[0])


def test_a_spec_without_a_key_runs_and_is_not_stored(store):
    lam = schedules.get("lambda", lr=0.1, lr_lambda=lambda k: 0.9**k)
    specs = [
        RunSpec(TaskSpec("anisotropic"), OptimizerSpec("sgd", {"lr": lr}), 5, start=(1.0, 1.0))
        for lr in (lam, 0.1)
    ]
    results = store.run(specs)
    assert len(results) == 2 and results[0].lr[1] == pytest.approx(0.09)
    assert [r.key for r in store.runs()] == [specs[1].key]
    assert store.messages[-1].startswith("1 of 2 runs cannot be stored")


def test_studies_are_listed_and_their_runs_kept_in_order(store):
    small_compare(store)
    small_surface(store)
    infos = {s.name: s for s in store.studies()}
    assert (infos["small"].kind, infos["small"].runs, infos["small"].stored) == ("compare", 6, 6)
    assert (infos["anisotropic"].kind, infos["anisotropic"].runs) == ("surface", 2)
    records = store.runs(study="small")
    assert [(r.shown["regime"], r.spec["seed"]) for r in records] == [
        (regime, seed) for regime in ("full", "minibatch:25:shuffle") for seed in (0, 1, 2)
    ]
    assert all(r.studies == ("small",) for r in records)
    frame = records.to_pandas()
    assert list(frame["seed"]) == [0, 1, 2] * 2 and "final_distance" in frame.columns
    with pytest.raises(
        StoreError, match=r"No study 'nope' in the store .*\(studies: small, anisotropic\)"
    ):
        store.runs(study="nope")


def test_a_loaded_study_is_the_study_the_command_returned(store):
    made = small_compare(
        store, checkpoint=2, title="Regimes <b>", description="A {{ 7*7 }} study", slice=["a", "c"]
    )
    loaded = store.load_study("small")
    assert type(loaded) is descend.CompareStudy
    assert (loaded.title, loaded.description, loaded.checkpoint, loaded.slice_names) == (
        "Regimes <b>", "A {{ 7*7 }} study", 2, ("a", "c"),
    )  # fmt: skip
    assert [t.rows for t in loaded.tables()] == [t.rows for t in made.tables()]
    assert list(loaded.figures()) == list(made.figures())
    surface = small_surface(store, lr="0.05,0.1")  # a sweep
    back = store.load_study("anisotropic")
    assert back.lr_sweep == surface.lr_sweep == [0.05, 0.1]
    assert back.tables()[0].rows == surface.tables()[0].rows and back.window == surface.window


def test_a_study_with_runs_missing_says_how_to_finish_it(store):
    small_compare(store)
    store.db.execute("DELETE FROM runs WHERE key = ?", (store.runs(study="small")[0].key,))
    with pytest.raises(StoreError, match=r"'small' has 5 of its 6 runs stored: run it again"):
        store.load_study("small")


def test_a_run_is_found_by_a_unique_prefix_of_its_key(store):
    small_compare(store)
    keys = sorted(r.key for r in store.runs())
    assert store.get(keys[0][:8]).key == keys[0]
    assert store.result(keys[0][:8]).spec.key == keys[0]
    assert store.get(keys[0]).studies == ("small",)
    with pytest.raises(StoreError, match=r"No run 'fffffffffff' in the store"):
        store.get("fffffffffff")
    with pytest.raises(StoreError, match=r"Invalid run id 'x%' \(allowed: hex digits"):
        store.get("x%")
    twin = keys[0][:3] + ("0" * 17 if keys[0][3:] != "0" * 17 else "1" * 17)
    store.db.execute(
        "INSERT INTO runs SELECT ?, spec, shown, records, tensors, provenance, written_at, writer "
        "FROM runs WHERE key = ?",
        (twin, keys[0]),
    )
    with pytest.raises(StoreError, match=rf"'{keys[0][:3]}' is ambiguous: it starts .*; give more"):
        store.get(keys[0][:3])


class Payload:
    """What an attacker would plant: unpickling it creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_planted_pickle_is_never_run(store, tmp_path):
    small_surface(store)
    marker = tmp_path / "pwned"
    planted = pickle.dumps(Payload(marker))
    key = store.runs()[0].key
    store.db.execute("UPDATE runs SET tensors = ? WHERE key = ?", (planted, key))
    with pytest.raises(StoreError, match=rf"The stored run {key} is damaged .*--rerun"):
        small_surface(store)
    with pytest.raises(StoreError, match="is damaged"):
        store.result(key)
    torch_file = tmp_path / "planted.pt"
    torch.save({"x": Payload(marker)}, torch_file)  # a torch.save file planted instead
    store.db.execute("UPDATE runs SET tensors = ? WHERE key = ?", (torch_file.read_bytes(), key))
    with pytest.raises(StoreError, match="is damaged"):
        store.result(key)
    assert not marker.exists()


def test_the_store_file_is_sqlite_in_wal_mode_with_its_schema_version(store):
    small_surface(store)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == ("1",)
        spec = json.loads(db.execute("SELECT spec FROM runs LIMIT 1").fetchone()[0])
    assert set(spec["map"]) >= {"task", "optimizer", "budget", "seed", "dtype"}


def test_checkpoints_are_the_writer_threads_not_inside_a_groups_commit(store, monkeypatch):
    """SQLite's automatic checkpoint is off (it ran inside the commit of whichever group
    crossed its threshold: a study's last group made the study wait for it); the store's
    writer thread checkpoints after CHECKPOINT_BYTES of runs, and every run is in the
    store's file after it."""
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    threads: list[str] = []
    real = Store.checkpoint

    def checkpoint(self):
        threads.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(Store, "checkpoint", checkpoint)
    small_surface(store)  # one group: sgd with and without momentum, stacked
    assert threads == []  # 2 small runs: far below 32 MiB
    assert store.unsaved > 0
    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", 1)
    small_surface(store, seed=1)
    assert threads == ["descend-store"]  # after its group, on the writer's thread
    assert store.unsaved == 0
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (4,)
        log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1:]
    assert log == done  # nothing left in the log that the store's file has not


def test_a_log_left_by_a_killed_process_counts_towards_the_next_checkpoint(tmp_path):
    path = tmp_path / "runs.sqlite"
    first = Store(path, say=lambda message: None)
    small_surface(first)  # (never closed: its log stays, as a SIGKILL leaves it)
    left = path.with_name(path.name + "-wal").stat().st_size
    assert left > 0
    with Store(path, say=lambda message: None) as second:
        assert second.unsaved == left
    first.close()


def test_the_store_path_is_explicit_else_the_environment_else_descend_out(monkeypatch, tmp_path):
    monkeypatch.setenv("DESCEND_STORE", str(tmp_path / "env.sqlite"))
    assert resolve("x.sqlite") == resolve(os.fspath("x.sqlite"))
    assert str(resolve("x.sqlite")) == "x.sqlite"
    assert resolve(None) == tmp_path / "env.sqlite"
    monkeypatch.delenv("DESCEND_STORE")
    assert str(resolve(None)) == os.path.join("descend-out", "descend.sqlite")
    assert descend.open_store(tmp_path / "new" / "deep.sqlite").path.is_file()


def test_a_regime_written_as_minibatch_of_one_comes_back_as_written(store):
    spec = RunSpec(
        TaskSpec("quadratic-regression"), OptimizerSpec("sgd", {"lr": 1e-3}), epochs=1,
        regime=Regime.parse("minibatch:1:shuffle"), tags={"regime": "minibatch:1:shuffle"},
    )  # fmt: skip
    store.run([spec])
    assert str(store.result(spec.key).spec.regime) == "minibatch:1:shuffle"
