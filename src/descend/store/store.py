"""The store: finished runs by their spec's content key, and studies by name.

    store = descend.open_store()                  # ./descend-out/descend.sqlite
    results = store.run(specs, study=record)      # found runs read, missing ones run
    store.studies(); store.runs(study="gd-vs-sgd"); store.load_study("gd-vs-sgd")

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
from descend.engine import Progress, Results, RunResult, RunSpec, stream
from descend.engine.keys import canonical, digest
from descend.engine.plain import plain, spec_from_content
from descend.errors import DescendError
from descend.store import codec
from descend.store.connection import StoreError, connect, errors, resolve
from descend.store.records import RunRecord, RunRecords, StudyInfo, StudyRecord, record_from_row

Say = Callable[[str], None]
Loader = Callable[[StudyRecord, Results], Any]
LOADERS: dict[str, Loader] = {}  # study kind -> (its record, its results) -> study
COLUMNS = "key, spec, shown, records, provenance, written_at, writer"


def register_study_kind(kind: str, loader: Loader) -> None:
    """How `load_study` rebuilds a study of `kind` from its record and results."""
    LOADERS[kind] = loader


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


class StoredResults(Results):
    """Results with the reproducibility record of each run (where and how it was computed)."""

    def __init__(self, runs: Sequence[RunResult], records: Sequence[Mapping[str, Any]]):
        super().__init__(runs)
        self.provenance = [dict(r) for r in records]


class Store:
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

    def _find(self, keys: set[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        ordered = sorted(keys)
        with errors(self.path, "read"):
            for start in range(0, len(ordered), 500):  # SQLite caps bound parameters
                chunk = ordered[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT {COLUMNS}, tensors FROM runs WHERE key IN ({marks})"
                found.update({row[0]: row for row in self.db.execute(query, chunk)})
        return found

    def _result(self, spec: RunSpec, row: tuple) -> tuple[RunResult, dict[str, Any]]:
        result = codec.decode(spec, row[3], row[7], key=row[0])
        return result, json.loads(row[4])

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

    def _write_study(self, study: StudyRecord, keys: list, shown: list) -> None:
        settings = json.dumps(canonical(dict(study.settings)), sort_keys=True)
        members = [(key, text) for key, text in zip(keys, shown, strict=True) if key]
        with self.transaction("write the study to") as db:
            put_study(
                db, (study.name, study.kind, study.title, study.description, settings), members
            )

    # --- reading ---------------------------------------------------------------------

    def studies(self) -> list[StudyInfo]:
        query = (
            "SELECT s.name, s.kind, s.title, count(m.key), count(r.key), s.updated_at "
            "FROM studies s LEFT JOIN members m ON m.study = s.name "
            "LEFT JOIN runs r ON r.key = m.key GROUP BY s.name ORDER BY s.updated_at"
        )
        with errors(self.path, "read"):
            return [StudyInfo(*row) for row in self.db.execute(query)]

    def study(self, name: str) -> StudyRecord:
        with errors(self.path, "read"):
            row = self.db.execute(
                "SELECT name, kind, settings, title, description FROM studies WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            known = ", ".join(s.name for s in self.studies()) or "none yet"
            raise StoreError(
                f"No study {name!r} in the store {str(self.path)!r} (studies: {known})."
            )
        return StudyRecord(row[0], row[1], plain(json.loads(row[2])), row[3], row[4])

    def runs(self, study: str | None = None) -> RunRecords:
        """Records of the runs of `study` (in its order; stored ones only), or of every run."""
        columns = ", ".join(f"r.{c}" for c in COLUMNS.split(", "))
        if study is not None:
            self.study(study)  # (refuses an unknown name)
            query = (
                f"SELECT {columns} FROM members m JOIN runs r ON r.key = m.key "
                "WHERE m.study = ? ORDER BY m.position"
            )
            arguments: tuple = (study,)
        else:
            query, arguments = f"SELECT {columns} FROM runs r ORDER BY r.written_at, r.key", ()
        with errors(self.path, "read"):
            rows = self.db.execute(query, arguments).fetchall()
            memberships: dict[str, list[str]] = {}
            for name, key in self.db.execute("SELECT DISTINCT study, key FROM members"):
                memberships.setdefault(key, []).append(name)
        return RunRecords([record_from_row(r, tuple(memberships.get(r[0], ()))) for r in rows])

    def get(self, run_id: str) -> RunRecord:
        """The run whose key starts with `run_id` (a unique prefix is enough)."""
        key = self._key_of(run_id)
        with errors(self.path, "read"):
            studies = self.db.execute(
                "SELECT DISTINCT study FROM members WHERE key = ? ORDER BY study", (key,)
            ).fetchall()
        return record_from_row(self._find({key})[key][:7], tuple(s for (s,) in studies))

    def _key_of(self, run_id: str) -> str:
        prefix = run_id.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise StoreError(f"Invalid run id {run_id!r} (allowed: hex digits of a run's key).")
        with errors(self.path, "read"):
            keys = [k for (k,) in self.db.execute(
                "SELECT key FROM runs WHERE key >= ? AND key < ? LIMIT 3", (prefix, prefix + "g")
            )]  # fmt: skip
        if not keys:
            raise StoreError(f"No run {run_id!r} in the store (list them: descend runs list).")
        if len(keys) > 1:
            raise StoreError(
                f"Run id {run_id!r} is ambiguous: it starts {', '.join(keys)}...; give more digits."
            )
        return keys[0]

    def result(self, run_id: str) -> RunResult:
        """One stored run's full result, its spec rebuilt from the store."""
        row = self._find({self._key_of(run_id)}).popitem()[1]
        return self._result(_spec_of(row[1], row[2]), row)[0]

    def results(self, study: str) -> StoredResults:
        """A study's results in its order, specs rebuilt as the study showed them."""
        record = self.study(study)
        with errors(self.path, "read"):
            members = self.db.execute(
                "SELECT key, shown FROM members WHERE study = ? ORDER BY position", (study,)
            ).fetchall()
        found = self._find({key for key, _ in members})
        lacking = [key for key, _ in members if key not in found]
        if lacking:
            raise StoreError(
                f"The study {study!r} has {len(members) - len(lacking)} of its {len(members)} "
                f"runs stored: run it again to finish it (the {record.kind} command, or "
                "descend run NAME), and only the missing ones will run."
            )
        pairs = [self._result(_spec_of(found[key][1], shown), found[key]) for key, shown in members]
        return StoredResults([p[0] for p in pairs], [p[1] for p in pairs])

    def load_study(self, name: str) -> Any:
        """The study object its command returned, rebuilt from its settings and runs."""
        return self._load(name)[0]

    def _load(self, name: str) -> tuple[Any, StoredResults]:
        record = self.study(name)
        if record.kind not in LOADERS:
            raise StoreError(
                f"Study {name!r} is of kind {record.kind!r}, which this descend cannot load "
                f"(kinds: {', '.join(sorted(LOADERS))})."
            )
        results = self.results(name)
        return LOADERS[record.kind](record, results), results

    def report(self, name: str, out: Any, *, format: str = "html") -> Any:
        """The report page (or Markdown) of a stored study, with its runs' records."""
        from descend import report_page

        study, results = self._load(name)
        rows = provenance.summary(results.provenance)
        return report_page.write(study, out, format=format, reproducibility=rows)


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


def _spec_of(content: str, shown: str) -> RunSpec:
    presentation = json.loads(shown)
    return spec_from_content(
        plain(json.loads(content)),
        label=presentation["label"],
        tags=plain(presentation["tags"]),
        regime=presentation["regime"],
        task_params=plain(presentation["task"]["params"]),
    )
