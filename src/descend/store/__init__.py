"""Results that last: finished runs in an embedded SQLite file, never recomputed.

    store = descend.open_store()            # ./descend-out/descend.sqlite, or $DESCEND_STORE
    store.studies(); store.runs(study="gd-vs-sgd").to_pandas()
    study = store.load_study("gd-vs-sgd")   # the object the study command returned

Studies take `store=` (`descend.compare(..., store=store)`); the CLI opens one by default.
"""

from __future__ import annotations

import os

from descend.store.connection import DEFAULT_PATH, StoreError, resolve, schema_version
from descend.store.queries import StoredResults, register_study_kind
from descend.store.records import RunRecord, RunRecords, StudyInfo, StudyRecord
from descend.store.store import Store


def open_store(
    path: str | os.PathLike[str] | None = None, *, rerun: bool = False, say=None
) -> Store:
    """The store at `path` (default: $DESCEND_STORE, else ./descend-out/descend.sqlite),
    made if it does not exist. rerun: studies using it compute every run again, replacing
    the stored ones. say: where messages such as '4 of 6 runs found' go (default: stderr)."""
    return Store(path, rerun=rerun, say=say)


__all__ = [
    "DEFAULT_PATH",
    "RunRecord",
    "RunRecords",
    "Store",
    "StoreError",
    "StoredResults",
    "StudyInfo",
    "StudyRecord",
    "open_store",
    "register_study_kind",
    "resolve",
    "schema_version",
]
