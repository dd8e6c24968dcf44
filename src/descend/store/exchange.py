"""Runs out of a store and into another: JSON lines, Parquet, and CSV for spreadsheets.

jsonl and parquet hold every run whole (spec, records, tensors as a base64 or binary
safetensors buffer, reproducibility record) and the study they belong to, so
`import_runs` gives back equal records; a run whose key is not its spec's is refused
(a file edited by hand must not poison lookups). CSV holds one summary row per run.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from descend.engine.keys import content_key
from descend.engine.plain import plain
from descend.errors import DescendError
from descend.report import atomic_write
from descend.store.queries import COLUMNS
from descend.store.records import EXTRA
from descend.store.store import Store, put_study

FORMATS = ("csv", "jsonl", "parquet")
HEADER = "descend-runs"
VERSION = 1
FIELDS = [*COLUMNS.split(", "), "tensors"]  # a run's row, in the table's order


def export_runs(store: Store, out: str | Path, *, format: str, study: str | None = None) -> int:
    """Write the runs of `study` (every run if None) to `out`; returns how many."""
    if format not in FORMATS:
        raise DescendError(
            f"Invalid format {format!r} (allowed: {', '.join(FORMATS)}).", key="format"
        )
    out = Path(out)
    if not out.parent.is_dir():
        raise DescendError(f"Invalid --out {str(out)!r}: no folder {str(out.parent)!r}.", key="out")
    if format == "parquet":
        _pyarrow()  # before any reading: a missing extra is said at once
    header = {"format": HEADER, "version": VERSION, "study": _study(store, study)}
    keys = [r.key for r in store.runs(study)]
    if format == "csv":
        rows = store.runs(study).rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(rows[0]) if rows else ["key"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(out, buffer.getvalue())
    elif format == "jsonl":
        lines = [json.dumps(header)] + [json.dumps(_plain_row(row)) for row in _rows(store, keys)]
        atomic_write(out, "\n".join(lines) + "\n")
    else:
        atomic_write(out, _parquet(header, list(_rows(store, keys))))
    return len(keys)


def _study(store: Store, name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    record = store.study(name)  # (refuses an unknown name)
    members = store.db.execute(
        "SELECT key, shown FROM members WHERE study = ? ORDER BY position", (name,)
    ).fetchall()
    return {
        "name": record.name,
        "kind": record.kind,
        "title": record.title,
        "description": record.description,
        "settings": store.db.execute(
            "SELECT settings FROM studies WHERE name = ?", (name,)
        ).fetchone()[0],
        "members": [list(m) for m in members],
    }


def _rows(store: Store, keys: list[str]) -> Iterator[tuple]:
    query = f"SELECT {', '.join(FIELDS)} FROM runs WHERE key = ?"
    for key in keys:
        yield store.db.execute(query, (key,)).fetchone()


def _plain_row(row: tuple) -> dict[str, Any]:
    values = dict(zip(FIELDS, row, strict=True))
    values["tensors"] = base64.b64encode(values["tensors"]).decode("ascii")
    return values


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise DescendError(f"Parquet needs pyarrow: {EXTRA} (or use --format jsonl).") from None
    return pyarrow


def _parquet(header: dict[str, Any], rows: list[tuple]) -> bytes:
    pyarrow = _pyarrow()
    columns = {name: [row[i] for row in rows] for i, name in enumerate(FIELDS)}
    types = {"written_at": pyarrow.float64(), "tensors": pyarrow.binary()}
    table = pyarrow.table(
        {
            name: pyarrow.array(values, type=types.get(name, pyarrow.string()))
            for name, values in columns.items()
        }
    ).replace_schema_metadata({HEADER: json.dumps(header)})
    sink = pyarrow.BufferOutputStream()
    pyarrow.parquet.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def import_runs(store: Store, source: str | Path) -> tuple[int, int, str | None]:
    """Add the runs of an export to `store` (runs it holds already are kept as they are);
    returns (runs in the file, runs added, the study's name or None)."""
    header, rows = _read(Path(source))
    for row in rows:
        key = row[0]
        if content_key(plain(json.loads(row[1]))) != key:
            raise DescendError(
                f"{str(source)!r}: run {key} does not match its spec; nothing imported."
            )
    before = store.db.execute("SELECT count(*) FROM runs").fetchone()[0]
    study = header.get("study")
    with store.transaction("import runs into") as db:
        marks = ", ".join("?" * len(FIELDS))
        db.executemany(f"INSERT OR IGNORE INTO runs ({', '.join(FIELDS)}) VALUES ({marks})", rows)
        if study is not None:
            fields = ("name", "kind", "title", "description", "settings")
            put_study(db, tuple(study[f] for f in fields), [tuple(m) for m in study["members"]])
    added = store.db.execute("SELECT count(*) FROM runs").fetchone()[0] - before
    return len(rows), added, None if study is None else study["name"]


def _read(path: Path) -> tuple[dict[str, Any], list[tuple]]:
    """(header, rows in FIELDS order) of a jsonl or parquet export."""
    if not path.is_file():
        raise DescendError(f"No file {str(path)!r} to import.")
    if path.suffix == ".csv":
        raise DescendError(
            f"{str(path)!r} is a CSV export: one summary row per run, not the runs. Import "
            "a jsonl or parquet export (descend runs export --format jsonl)."
        )
    with path.open("rb") as f:
        parquet = f.read(4) == b"PAR1"
    try:
        header, rows = _read_parquet(path) if parquet else _read_jsonl(path)
    except (ValueError, KeyError, TypeError) as problem:
        raise DescendError(f"{str(path)!r} is not a descend runs export ({problem}).") from None
    if header.get("format") != HEADER or int(header.get("version", 0)) > VERSION:
        raise DescendError(
            f"{str(path)!r} is not a descend runs export this version reads (format "
            f"{header.get('format')!r}, version {header.get('version')!r}; allowed: "
            f"{HEADER!r} up to version {VERSION})."
        )
    return header, rows


def _read_jsonl(path: Path) -> tuple[dict[str, Any], list[tuple]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header = json.loads(lines[0])
    rows = []
    for line in lines[1:]:
        values = json.loads(line)
        values["tensors"] = base64.b64decode(values["tensors"], validate=True)
        rows.append(tuple(values[name] for name in FIELDS))
    return header, rows


def _read_parquet(path: Path) -> tuple[dict[str, Any], list[tuple]]:
    pyarrow = _pyarrow()
    table = pyarrow.parquet.read_table(path)
    header = json.loads((table.schema.metadata or {})[HEADER.encode()])
    columns = [table.column(name).to_pylist() for name in FIELDS]
    return header, list(zip(*columns, strict=True))
