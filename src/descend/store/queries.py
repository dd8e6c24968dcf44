"""Reading the store: studies, run records, full results and studies rebuilt.

`Store` (descend.store.store) adds running and writing to these queries; a store opened
read-only (`descend runs list`, `descend report`) uses only them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from descend.engine import Results, RunResult, RunSpec
from descend.engine.plain import plain, spec_from_content
from descend.store import codec
from descend.store.connection import StoreError, errors
from descend.store.records import RunRecord, RunRecords, StudyInfo, StudyRecord, record_from_row

COLUMNS = "key, spec, shown, records, provenance, written_at, writer"
Loader = Callable[[StudyRecord, Results], Any]
LOADERS: dict[str, Loader] = {}  # study kind -> (its record, its results) -> study


def register_study_kind(kind: str, loader: Loader) -> None:
    """How `load_study` rebuilds a study of `kind` from its record and results."""
    LOADERS[kind] = loader


class StoredResults(Results):
    """Results with the reproducibility record of each run (where and how it was computed)."""

    def __init__(self, runs: Sequence[RunResult], records: Sequence[Mapping[str, Any]]):
        super().__init__(runs)
        self.provenance = [dict(r) for r in records]


class Queries:
    """What can be asked of a store's file (`db`, at `path`)."""

    path: Path
    db: sqlite3.Connection

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

    def studies(self) -> list[StudyInfo]:
        query = (
            "SELECT s.name, s.kind, s.title, count(m.key), count(r.key), s.updated_at "
            "FROM studies s LEFT JOIN members m ON m.study = s.name "
            "LEFT JOIN runs r ON r.key = m.key GROUP BY s.name ORDER BY s.updated_at"
        )
        with errors(self.path, "read"):
            return [StudyInfo(*row) for row in self.db.execute(query)]

    def study(self, name: str) -> StudyRecord:
        record = self.find_study(name)
        if record is None:
            known = ", ".join(s.name for s in self.studies()) or "none yet"
            raise StoreError(
                f"No study {name!r} in the store {str(self.path)!r} (studies: {known})."
            )
        return record

    def find_study(self, name: str) -> StudyRecord | None:
        """The study's record, or None where the store has no study of that name."""
        with errors(self.path, "read"):
            row = self.db.execute(
                "SELECT name, kind, settings, title, description FROM studies WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            return None
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
        return report_page.write_study(study, out, results, format=format)


def _spec_of(content: str, shown: str) -> RunSpec:
    presentation = json.loads(shown)
    return spec_from_content(
        plain(json.loads(content)),
        label=presentation["label"],
        tags=plain(presentation["tags"]),
        regime=presentation["regime"],
        task_params=plain(presentation["task"]["params"]),
    )
