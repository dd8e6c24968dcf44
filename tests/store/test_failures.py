"""A store that cannot be used: damaged, newer, read-only, full, or failing to write.
Each gives one clear error, and nothing it held before is lost."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import descend
from descend.store import Store, StoreError, connection
from store_cases import small_compare, small_surface

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "descend"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_damaged_file_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database, " * 200)
    before = path.read_bytes()
    with pytest.raises(
        StoreError, match=r"the file is damaged or is not a descend store .* left as it is"
    ):
        Store(path)
    out = tmp_path / "out"
    result = run_cli(
        "surface", "anisotropic", "--steps", "5", "--store", str(path), "--out", str(out)
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "Error: Cannot open the store"
    )
    assert path.read_bytes() == before and not out.exists()


def test_a_store_whose_header_was_overwritten_keeps_its_bytes(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Store(path) as store:  # closed: its log is folded into the file
        small_surface(store)
    with path.open("r+b") as f:
        f.write(b"\0" * 100)  # the SQLite header, wiped
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"damaged or is not a descend store"):
        Store(path).runs()
    assert path.read_bytes() == before


def test_a_sqlite_file_of_another_program_is_not_taken_for_a_store(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(StoreError, match=r"not a descend store \(it has tables but no schema"):
        Store(path)


def test_a_store_from_a_newer_descend_is_refused_and_kept(tmp_path):
    path = tmp_path / "runs.sqlite"
    small_surface(Store(path))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    message = r"written by a newer descend \(schema 99; this one reads schemas up to 1\): upgrade"
    with pytest.raises(StoreError, match=message):
        Store(path)
    result = run_cli("runs", "list", "--store", str(path))
    assert result.returncode == 2 and "newer descend (schema 99" in result.stderr
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (2,)


def test_an_older_store_is_migrated_forward_and_keeps_its_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    small_surface(Store(path))
    version_2 = lambda db: db.execute("ALTER TABLE runs ADD COLUMN note TEXT")  # noqa: E731
    monkeypatch.setattr(connection, "MIGRATIONS", [*connection.MIGRATIONS, version_2])
    with pytest.raises(StoreError, match=r"has schema 1, older than this descend's 2: open it"):
        Store(path, create=False)  # reading alone does not change a file
    store = Store(path)
    assert store.db.execute("SELECT value FROM meta").fetchone() == ("2",)
    assert len(store.runs()) == 2 and store.load_study("anisotropic").results[0].loss.numel() == 21


def test_a_path_inside_a_file_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("compare", "--task", "quadratic-regression", "--epochs", "2",
                     "--store", str(blocker / "runs.sqlite"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("Error: Cannot make the store")
    assert "--no-store" in result.stderr and result.stderr.count("\n") == 1


def test_reading_a_store_that_is_not_there(tmp_path):
    result = run_cli("runs", "list", "--store", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2
    assert result.stderr.startswith("Error: No store at ") and "run a study first" in result.stderr
    assert not (tmp_path / "none.sqlite").exists()


@contextlib.contextmanager
def mounted(folder: Path, options: str):
    """A tmpfs at `folder` (root only); skips the test where mounting is not allowed."""
    folder.mkdir(exist_ok=True)
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True)  # fmt: skip
    if not ROOT or made.returncode != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount (a tmpfs)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_location_refuses_writing_and_still_reads(tmp_path):
    with mounted(tmp_path / "ro", "size=4m") as folder:
        path = folder / "runs.sqlite"
        with Store(path) as store:
            small_compare(store)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        with pytest.raises(StoreError, match=r"Cannot open the store .*read-only"):
            Store(path)
        result = run_cli("compare", "--task", "quadratic-regression", "--epochs", "2",
                         "--store", str(path), "--out", str(tmp_path / "o"))  # fmt: skip
        assert result.returncode == 2 and "read-only" in result.stderr
        assert result.stderr.count("\n") == 1 and not (tmp_path / "o").exists()
        listed = run_cli("runs", "list", "--store", str(path))
        assert listed.returncode == 0 and "6 of 6" in listed.stdout
        assert len(Store(path, create=False).load_study("small").results) == 6


class FailingCommits:
    """The store's connection, with every COMMIT after the first `allowed` failing as a
    disk would (an I/O error)."""

    def __init__(self, db: sqlite3.Connection, allowed: int):
        self.db, self.allowed = db, allowed

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            if self.allowed == 0:
                raise sqlite3.OperationalError("disk I/O error")
            self.allowed -= 1
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


def test_a_write_error_mid_study_is_one_clear_error_and_earlier_runs_stay(tmp_path):
    path = tmp_path / "runs.sqlite"
    small_surface(Store(path))  # runs stored before
    store = Store(path)
    store.db = FailingCommits(store.db, allowed=2)  # the study record and the first group
    with pytest.raises(StoreError, match=r"Cannot write runs to the store .*disk I/O error.*kept"):
        small_compare(store)
    kept = Store(path)
    assert len(kept.runs(study="small")) == 3  # the first group (full batch, 3 seeds)
    assert len(kept.runs(study="anisotropic")) == 2
    assert kept.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_full_disk_is_one_clear_error_and_earlier_runs_stay(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    small_surface(store)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # room for almost nothing more
    with pytest.raises(StoreError, match=r"the disk is full \(database or disk is full\)\. Runs"):
        descend.compare("digits-mlp", ["adam:lr=1e-3"], epochs=1, seeds=6, store=store)
    assert len(Store(path).load_study("anisotropic").results) == 2


def test_a_full_tmpfs_is_one_clear_error_and_earlier_runs_stay(tmp_path):
    with mounted(tmp_path / "small", "size=400k") as folder:
        path = folder / "runs.sqlite"
        small_surface(Store(path))
        with pytest.raises(StoreError, match=r"the disk is full"):
            descend.compare("digits-mlp", ["adam:lr=1e-3", "sgd:lr=0.1"], epochs=1, seeds=16,
                            store=Store(path))  # fmt: skip
        kept = Store(path, create=False)
        assert len(kept.load_study("anisotropic").results) == 2


def test_opening_while_another_process_makes_the_store_waits_for_it(tmp_path, monkeypatch):
    """Two processes making one store at once: until the new file is in WAL mode SQLite
    answers "database is locked" at once (seen once in the two-writers test under load);
    opening tries again until the other is done, as it waits for a busy store."""
    real = connection._set_up
    answers = iter([sqlite3.OperationalError("database is locked")] * 2)

    def set_up(db, path, *, create):
        problem = next(answers, None)
        if problem is not None:
            db.close()
            raise problem
        return real(db, path, create=create)

    monkeypatch.setattr(connection, "_set_up", set_up)
    with Store(tmp_path / "runs.sqlite", say=lambda message: None) as store:
        assert len(small_surface(store).results) == 2
    assert next(answers, None) is None  # both refusals were met, then it opened


def test_a_store_locked_for_longer_than_the_wait_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(connection, "BUSY_SECONDS", 0.2)

    def set_up(db, path, *, create):
        db.close()
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(connection, "_set_up", set_up)
    with pytest.raises(StoreError, match=r"another process held it for over 0\.2 s"):
        Store(tmp_path / "runs.sqlite")
