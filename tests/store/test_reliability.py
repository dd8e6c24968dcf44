"""The store as a user's machine treats it: a study killed with SIGKILL and started
again, and two studies writing the same store at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import descend
from descend.store import Store
from store_cases import same_numbers

# Three rules: three run groups of 2 seeds, 30 updates each (full batch, 30 epochs).
STUDY = [
    "--task", "quadratic-regression", "--opt", "sgd:lr=1e-3", "--opt", "adam:lr=0.05",
    "--opt", "rmsprop:lr=0.01", "--epochs", "30", "--seeds", "2", "--dtype", "float64",
]  # fmt: skip
KILLED = """
import sys, time
from pathlib import Path
import descend

store, signal_file = descend.open_store(sys.argv[1]), Path(sys.argv[2])

def progress(done, total):
    if done > 30:  # an update of the second group: the first is stored, this one in flight
        signal_file.write_text("in the second group")
        time.sleep(600)  # until killed

descend.compare("quadratic-regression", ["sgd:lr=1e-3", "adam:lr=0.05", "rmsprop:lr=0.01"],
                epochs=30, seeds=2, dtype="float64", progress=progress, store=store)
"""


def descend_command(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "descend"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def _stored_runs(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet, or locked for a moment
        return 0


def test_a_study_killed_mid_run_keeps_its_finished_runs_and_resumes(tmp_path):
    path, signal_file = tmp_path / "runs.sqlite", tmp_path / "signal"
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(path), str(signal_file)])
    try:
        # the child sleeps in the second group once there; the first group's runs are
        # written by the store's writer thread meanwhile: wait for both (a bounded number
        # of polls guards against a hang, not a speed)
        for _ in range(4800):
            if signal_file.exists() and _stored_runs(path) == 2:
                break
            assert child.poll() is None, "the study ended before it was killed"
            time.sleep(0.05)
        else:
            raise AssertionError("the study never got to its second group")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as db:
        before = dict(db.execute("SELECT key, written_at || writer FROM runs").fetchall())
    assert len(before) == 2  # the first group, whole; nothing of the one in flight

    resumed = descend_command("compare", *STUDY, "--store", str(path), "--out", str(tmp_path / "o"))
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 6 runs found in the store, 4 to run" in resumed.stdout
    with sqlite3.connect(path) as db:
        after = dict(db.execute("SELECT key, written_at || writer FROM runs").fetchall())
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())  # not recomputed

    uninterrupted = descend.compare(
        "quadratic-regression", ["sgd:lr=1e-3", "adam:lr=0.05", "rmsprop:lr=0.01"],
        epochs=30, seeds=2, dtype="float64",
    )  # fmt: skip
    stored = Store(path).load_study("compare")
    pairs = zip(stored.results, uninterrupted.results, strict=True)
    assert all(a.spec.key == b.spec.key and same_numbers(a, b) for a, b in pairs)


SIDE_BY_SIDE = """
import sys
import descend
store = descend.open_store(sys.argv[1])
seeds = [int(s) for s in sys.argv[3].split(",")]
descend.compare("quadratic-regression", ["sgd:lr=1e-3", "adam:lr=0.05", "rmsprop:lr=0.01"],
                regimes=["full", "minibatch:20:shuffle"], epochs=5, seeds=seeds,
                dtype="float64", name=sys.argv[2], store=store)
"""


def test_two_studies_writing_one_store_at_once_lose_and_corrupt_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"  # made by whichever starts first
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SIDE_BY_SIDE, str(path), name, seeds],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for name, seeds in [("one", "0,1,2,3,4,5"), ("two", "3,4,5,6,7,8")]
    ]
    for child in children:
        _, errors = child.communicate(timeout=300)
        assert child.returncode == 0, errors
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (3 * 2 * 9,)  # seeds 0-8
    store = Store(path)
    one, two = store.load_study("one"), store.load_study("two")
    assert len(one.results) == len(two.results) == 36
    shared = {r.spec.key: r for r in one.results}
    both = [(shared[r.spec.key], r) for r in two.results if r.spec.key in shared]
    assert len(both) == 18 and all(same_numbers(a, b) for a, b in both)
