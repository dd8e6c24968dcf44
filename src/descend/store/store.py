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
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from descend import provenance
from descend.engine import Progress, RunResult, RunSpec, stream
from descend.engine.keys import canonical, digest
from descend.errors import DescendError
from descend.store import codec
from descend.store.connection import StoreError, connect, errors, resolve
from descend.store.queries import Queries, StoredResults
from descend.store.records import StudyRecord

Say = Callable[[str], None]


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
        contents = _contents(specs)
        keys = [None if c is None else digest(c) for c in contents]
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
        for indices, group in stream(todo, device=device, progress=progress):
            chosen = [missing[j] for j in indices]
            written = self._write_runs(
                [(keys[i], contents[i], shown[i], r) for i, r in zip(chosen, group, strict=True)]
            )
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

    def _write_runs(self, runs: list[tuple[str | None, Any, Any, RunResult]]) -> list[dict]:
        """One group's runs (key, canonical content, shown, result), in one transaction;
        their reproducibility records."""
        now, rows, records = time.time(), [], []
        command = provenance.command_line()
        for key, canonical_content, shown, result in runs:
            record = provenance.run_record(result, command=command)
            records.append(record)
            if key is None:
                continue
            numbers, tensors = codec.encode(result)
            content = json.dumps(canonical_content)  # (canonical: its maps already sorted)
            rows.append(
                (key, content, shown, numbers, tensors, json.dumps(record), now, self.writer)
            )
        verb = "REPLACE" if self.rerun else "IGNORE"  # IGNORE: another process wrote it first
        with self.transaction("write runs to") as db:
            db.executemany(f"INSERT OR {verb} INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return records

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
