"""The store: finished runs by their spec's content key, and studies by name.

    store = descend.open_store()                  # ./descend-out/descend.sqlite
    results = store.run(specs, study=record)      # found runs read, missing ones run
    store.studies(); store.runs(study="gd-vs-sgd"); store.load_study("gd-vs-sgd")
    store.keep_study(record)                      # a study with no runs (lr-find)

`run` looks every spec up first and runs only the missing ones, writing each group of
runs in one transaction as soon as the engine yields it: a study killed half-way keeps
every group it finished, and its next start runs only the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from descend import provenance
from descend.engine import Progress, RunResult, RunSpec, stream
from descend.engine.keys import canonical, canonical_text, text_digest
from descend.errors import DescendError
from descend.store import codec
from descend.store.connection import StoreError, connect, errors, resolve
from descend.store.queries import Queries, StoredResults
from descend.store.records import StudyRecord

Say = Callable[[str], None]
CHECKPOINT_BYTES = 32 * 2**20


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


class Store(Queries):
    """An open store. `rerun`: compute every run asked for, replacing stored ones."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        rerun: bool = False,
        say: Say | None = None,
    ):
        self.path = resolve(path)
        self.rerun = rerun
        self.say = say or _stderr
        self.writable = create
        self.db = connect(self.path, create=create)
        self.writer = f"{socket.gethostname()}:{os.getpid()}"
        # bytes written since the last checkpoint (a log left by a killed process counts)
        wal = self.path.with_name(self.path.name + "-wal")
        self.unsaved = wal.stat().st_size if create and wal.is_file() else 0

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextlib.contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; it takes the store's write lock at once (a second
        writer waits for it rather than failing half-way)."""
        if not self.writable:
            raise StoreError(f"The store {str(self.path)!r} was opened read-only.")
        with errors(self.path, doing):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # (a failed COMMIT rolled back)
                    self.db.execute("ROLLBACK")
                raise

    # --- running ---------------------------------------------------------------------

    def run(
        self,
        specs: Sequence[RunSpec],
        *,
        study: StudyRecord | None = None,
        device: Any = "cpu",
        progress: Progress | None = None,
    ) -> StoredResults:
        """Every spec's result, in order: read from the store where it holds the run,
        computed (and written, group by group) where it does not."""
        contents = [None if c is None else canonical_text(c) for c in _contents(specs)]
        keys = [None if c is None else text_digest(c) for c in contents]
        shown = [None if k is None else _shown(s) for s, k in zip(specs, keys, strict=True)]
        unkeyed = [i for i, k in enumerate(keys) if k is None]
        if study is not None:
            self._write_study(study, keys, shown)
        found = {} if self.rerun else self._find({k for k in keys if k is not None})
        missing = [i for i, k in enumerate(keys) if k not in found]
        self._announce(len(specs), len(specs) - len(missing), unkeyed)
        results: list[RunResult | None] = [None] * len(specs)
        records: list[Mapping[str, Any]] = [{}] * len(specs)
        for i, key in enumerate(keys):
            if key in found:
                results[i], records[i] = self._result(specs[i], found[key])
        todo = [specs[i] for i in missing]
        with BackgroundWriter(self._write_rows) as writer:
            for indices, group in stream(todo, device=device, progress=progress):
                chosen = [missing[j] for j in indices]
                runs = [
                    (keys[i], contents[i], shown[i], r) for i, r in zip(chosen, group, strict=True)
                ]
                written = _records(runs)
                writer.write(self._rows(runs, written))
                for i, result, record in zip(chosen, group, written, strict=True):
                    results[i], records[i] = result, record
        return StoredResults([r for r in results if r is not None], records)

    def _announce(self, total: int, found: int, unkeyed: list[int]) -> None:
        if self.rerun:
            self.say(f"--rerun: all {total} runs to run, replacing any stored")
        else:
            self.say(f"{found} of {total} runs found in the store, {total - found} to run")
        if unkeyed:
            self.say(
                f"{len(unkeyed)} of {total} runs cannot be stored (a Python function or object "
                "in their spec has no content key): they run, and are not kept"
            )

    def _rows(self, runs: list[tuple[str | None, Any, Any, RunResult]], records: list) -> list:
        """One group's rows: its runs (key, canonical JSON, shown, result) encoded, with
        their reproducibility records."""
        now, rows = time.time(), []
        for (key, content, shown, result), record in zip(runs, records, strict=True):
            if key is None:
                continue
            numbers, tensors = codec.encode(result)
            rows.append(
                (key, content, shown, numbers, tensors, json.dumps(record), now, self.writer)
            )
        return rows

    def _write_rows(self, rows: list) -> None:
        """One group's rows, in one transaction."""
        verb = "REPLACE" if self.rerun else "IGNORE"  # IGNORE: another process wrote it first
        with self.transaction("write runs to") as db:
            db.executemany(f"INSERT OR {verb} INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.unsaved += sum(len(row[4]) for row in rows)
        if self.unsaved > CHECKPOINT_BYTES:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the store's file (SQLite's checkpoint:
        some 2 ms, then 2 ms a MB, here). Done by the writer thread once CHECKPOINT_BYTES
        of runs were written since the last (while the study computes its next group), and
        by SQLite when the store is closed; not inside the commit of whichever group
        crosses SQLite's own threshold, where a study waits on it. A checkpoint that
        others' readers hold back stops where they read (PASSIVE) and goes on next time."""
        if self.writable:
            with errors(self.path, "write to"):
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.unsaved = 0

    def keep_study(self, study: StudyRecord) -> None:
        """Write a study that has no runs (an lr range test: its curves are its settings),
        in one transaction, replacing any study of that name."""
        self._write_study(study, [], [])

    def _write_study(self, study: StudyRecord, keys: list, shown: list) -> None:
        settings = json.dumps(canonical(dict(study.settings)), sort_keys=True)
        members = [(key, text) for key, text in zip(keys, shown, strict=True) if key]
        with self.transaction("write the study to") as db:
            put_study(
                db, (study.name, study.kind, study.title, study.description, settings), members
            )


def _records(runs: list[tuple[Any, Any, Any, RunResult]]) -> list[dict]:
    """Each finished run's reproducibility record (made where the run finished)."""
    command = provenance.command_line()
    return [provenance.run_record(result, command=command) for *_, result in runs]


class BackgroundWriter:
    """Writes each finished group on a thread of its own while the engine computes the
    next one, so a study waits only for the writing of its last group. The rows come
    encoded: encoding is Python, which would hold the GIL against the study's own Python
    on any thread; SQLite's work (inserts, checkpoints) releases it.

    Groups are written in order, each in its own transaction, as soon as the thread is
    free. Leaving the block waits for every write, also when the study stopped with an
    error or Ctrl-C: what was computed is kept. A failed write stops the study at its
    next group and is raised as it would have been without the thread."""

    def __init__(self, write: Callable[..., None]):
        self.write_group = write
        self.queue: queue.Queue[tuple | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="descend-store", daemon=True)

    def __enter__(self) -> BackgroundWriter:
        self.thread.start()
        return self

    def write(self, *group: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(group)

    def _loop(self) -> None:
        while (group := self.queue.get()) is not None:
            if self.error is None:  # (after a failure the rest are not written)
                try:
                    self.write_group(*group)
                except BaseException as problem:  # raised in the study's thread
                    self.error = problem

    def __exit__(self, kind: Any, problem: BaseException | None, trace: Any) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and problem is None:
            raise self.error


def put_study(db: sqlite3.Connection, study: tuple, members: Sequence[tuple[str, str]]) -> None:
    """Write (name, kind, title, description, settings JSON) and its (key, shown) runs,
    in order, replacing what the study had (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
        "kind=excluded.kind, title=excluded.title, description=excluded.description, "
        "settings=excluded.settings, updated_at=excluded.updated_at",
        (*study, time.time()),
    )
    db.execute("DELETE FROM members WHERE study = ?", (study[0],))
    rows = [(study[0], i, key, shown) for i, (key, shown) in enumerate(members)]
    db.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", rows)


def _contents(specs: Sequence[RunSpec]) -> list[Any]:
    """Each spec's canonical content, or None for a spec that has none (it runs, unstored)."""
    contents: list[Any] = []
    for spec in specs:
        try:
            contents.append(canonical(spec.content()))
        except DescendError:
            contents.append(None)
    return contents


def _shown(spec: RunSpec) -> str:
    """What content leaves out: the label, tags, the regime's text and the task as written."""
    task = spec.task  # a TaskSpec (a spec with a key has one)
    return json.dumps(
        {
            "label": spec.label,
            "tags": canonical(dict(spec.tags)),
            "regime": None if spec.regime is None else str(spec.regime),
            "task": {"name": task.name, "params": canonical(dict(task.params))},  # type: ignore[union-attr]
        }
    )
