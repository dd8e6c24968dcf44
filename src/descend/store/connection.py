"""The store's file: where it is, opening it, its schema and migrations, its errors.

One SQLite file in WAL mode: readers never block the writer, a process killed mid-write
(Ctrl-C, SIGKILL) leaves every committed transaction intact, and two processes writing at
once take turns (a write waits up to `BUSY_SECONDS` for the other). Commits are not
fsynced one by one (synchronous=NORMAL, WAL's usual setting, to keep writing cheap): a
power cut may take back the last runs committed before it, and never leaves the file
inconsistent; those runs simply run again next time. The schema's version is a row
of the `meta` table; `MIGRATIONS[i]` takes a store from version i to i + 1, so a store
written by this version is read (and upgraded) by the next, and a store written by a
newer version is refused with a message rather than misread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from descend.errors import DescendError

DEFAULT_PATH = Path("descend-out") / "descend.sqlite"
ENVIRONMENT_VARIABLE = "DESCEND_STORE"
BUSY_SECONDS = 60.0
CHOOSE = "give another with --store PATH or $DESCEND_STORE, or keep nothing with --no-store"


class StoreError(DescendError):
    """The store cannot be opened, read or written; the message says why and what to do."""


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """The store's file: `path`, else $DESCEND_STORE, else ./descend-out/descend.sqlite."""
    if path is not None and str(path):
        return Path(path)
    return Path(os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_PATH)


def _version_1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE runs (
            key TEXT PRIMARY KEY,       -- the spec's content key
            spec TEXT NOT NULL,         -- its content, canonical JSON
            shown TEXT NOT NULL,        -- label, tags, regime and task as written (JSON)
            records TEXT NOT NULL,      -- the RunResult's numbers and names (JSON)
            tensors BLOB NOT NULL,      -- its tensors, one safetensors buffer (no pickle)
            provenance TEXT NOT NULL,   -- the reproducibility record (JSON)
            written_at REAL NOT NULL,   -- seconds since the epoch
            writer TEXT NOT NULL        -- host:pid of the process that wrote it
        );
        CREATE TABLE studies (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,         -- surface | compare | ...
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            settings TEXT NOT NULL,     -- what rebuilds the study object (canonical JSON)
            updated_at REAL NOT NULL
        );
        CREATE TABLE members (          -- a study's runs, in its order
            study TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            key TEXT NOT NULL,
            shown TEXT NOT NULL,        -- the run as this study shows it
            PRIMARY KEY (study, position)
        );
        CREATE INDEX members_by_key ON members(key);
        """,
    )


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Statements one by one: executescript would commit the migration's transaction."""
    lines = [line.split("--")[0] for line in sql.splitlines()]
    for statement in " ".join(lines).split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_version_1]


def schema_version() -> int:
    return len(MIGRATIONS)


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """An open connection, the schema made or migrated (create) or checked (read only)."""
    if create:
        _make_folder(path)
    elif not path.is_file():
        raise StoreError(f"No store at {str(path)!r}: run a study first, or {CHOOSE}.")
    with errors(path, "open"):
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return _set_up(_open(path, read_only=not create), path, create=create)
            except sqlite3.OperationalError as problem:
                # Two processes making one store at once: while the new file is not yet
                # in WAL mode, SQLite answers "locked" at once rather than waiting
                # (its deadlock rule for rollback journals); the other is done soon.
                busy = "locked" in str(problem) or "busy" in str(problem)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _set_up(db: sqlite3.Connection, path: Path, *, create: bool) -> sqlite3.Connection:
    try:
        if create:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # (see above)
            # checkpoints are the store's own (Store.checkpoint): not inside the commit
            # of whichever group crosses sqlite's threshold, where a study waits on it
            db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("PRAGMA foreign_keys=ON")
        _upgrade(db, path, write=create)
    except BaseException:
        db.close()
        raise
    return db


def _open(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if not read_only:
        # (check_same_thread off: the store's writer thread writes while a study computes,
        # and only it uses the connection then)
        return sqlite3.connect(
            path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_SECONDS, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as problem:
        if "unable to open" not in str(problem):
            raise
    # A WAL store in a read-only folder with no -shm file beside it: read it as a
    # file nobody is writing (nothing can be, there).
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise StoreError(
            f"Cannot make the store {str(path)!r}: {problem.strerror or problem} "
            f"(at {str(problem.filename or path.parent)!r}); {CHOOSE}."
        ) from None
    if path.exists() and not path.is_file():
        raise StoreError(f"Cannot use the store {str(path)!r}: it is not a file; {CHOOSE}.")


def _upgrade(db: sqlite3.Connection, path: Path, *, write: bool) -> None:
    """Check the schema's version; bring an older store up to date (in one transaction)."""
    version = _version(db)
    newest = schema_version()
    if version > newest:
        raise StoreError(
            f"The store {str(path)!r} was written by a newer descend (schema {version}; this "
            f"one reads schemas up to {newest}): upgrade descend (pip install -U descend), "
            f"or {CHOOSE}."
        )
    if version == newest:
        return
    if not write:
        raise StoreError(
            f"The store {str(path)!r} has schema {version}, older than this descend's "
            f"{newest}: open it for writing once (run a study with --store) to upgrade it."
        )
    db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
    try:
        version = _version(db)
        for migrate in MIGRATIONS[version:]:
            migrate(db)
        if version < newest:
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(newest),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _version(db: sqlite3.Connection) -> int:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        if tables:
            raise sqlite3.DatabaseError("it has tables but no schema version: not a descend store")
        return 0
    row = db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def errors(path: Path, doing: str) -> Iterator[None]:
    """sqlite3 and OS errors as one-line StoreErrors that say what to do."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as problem:
        raise StoreError(describe(path, doing, problem)) from None


def describe(path: Path, doing: str, problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    where = f"the store {str(path)!r}"
    if "not a database" in text or "malformed" in text or "not a descend store" in text:
        return (
            f"Cannot {doing} {where}: the file is damaged or is not a descend store ({text}). "
            f"It was left as it is; {CHOOSE}."
        )
    if "full" in text:
        return (
            f"Cannot {doing} {where}: the disk is full ({text}). Runs stored before are kept; "
            f"free some space, or {CHOOSE}."
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"Cannot {doing} {where}: its location is read-only or missing ({text}); {CHOOSE}."
    if "locked" in text or "busy" in text:
        return (
            f"Cannot {doing} {where}: another process held it for over {BUSY_SECONDS:g} s "
            f"({text}); try again when it is done, or {CHOOSE}."
        )
    return f"Cannot {doing} {where}: {text}. Runs stored before are kept; {CHOOSE}."
