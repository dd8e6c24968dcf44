"""The store's commands: `descend runs list|show|export|import` and `descend report`,
and the --store / --no-store / --rerun options of the study commands.

Registered in cli.py by `register(app, friendly_errors)`. Like the rest of the CLI these
only parse, call the library (descend.store, descend.report_page) and print.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from descend.store import Store, StoreError, codec, exchange
from descend.store.connection import ENVIRONMENT_VARIABLE
from descend.terminal import console

StorePath = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="The store, a SQLite file (default: $DESCEND_STORE, else "
        "./descend-out/descend.sqlite; `surface` stores only when given one).",
    ),
]
NoStore = Annotated[
    bool, typer.Option("--no-store", help="Keep nothing: run every run, store none.")
]
Rerun = Annotated[
    bool, typer.Option("--rerun", help="Run every run again, replacing those the store holds.")
]
Study = Annotated[str | None, typer.Option("--study", help="Only the runs of this study.")]


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False)


def opened(path: Path | None, no_store: bool, rerun: bool, *, default: bool = True) -> Store | None:
    """The store a study command writes to (None with --no-store), opened before any
    work so that a store that cannot be written stops the command at once. default=False
    (`descend surface`): only when asked, by --store or $DESCEND_STORE."""
    if no_store:
        if path is not None or rerun:
            raise StoreError("Give --no-store alone: not with --store or --rerun.")
        return None
    if not default and path is None and not os.environ.get(ENVIRONMENT_VARIABLE):
        if rerun:
            raise StoreError("--rerun needs a store here: give --store PATH (or $DESCEND_STORE).")
        return None
    return Store(path, rerun=rerun, say=_say)


def _reading(path: Path | None) -> Store:
    return Store(path, create=False, say=_say)


def list_runs(
    study: Study = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs (0: all).")] = 50,
    store: StorePath = None,
) -> None:
    """What the store holds: its studies, then its runs (of one study with --study)."""
    with _reading(store) as opened_store:
        studies = opened_store.studies()
        records = opened_store.runs(study)
    table = Table(title=f"Studies in {opened_store.path}", title_justify="left")
    for column in ("study", "kind", "runs stored", "updated", "title"):
        table.add_column(column)
    for s in studies:
        if study is None or s.name == study:
            stored = f"{s.stored} of {s.runs}" if s.runs else "— (no runs)"  # lr-find
            table.add_row(s.name, s.kind, stored, _when(s.updated_at), s.title)
    console.print(table, highlight=False)
    rows = records.rows()
    shown = rows if limit <= 0 else rows[:limit]
    runs = Table(title=f"Runs ({len(rows)})", title_justify="left")
    columns = (
        "key",
        "label",
        "task",
        "regime",
        "seed",
        "updates",
        "final_loss",
        "diverged_at",
        "wall_time",
        "written_at",
    )
    for column in columns:
        runs.add_column(column.replace("_", " "), overflow="fold", no_wrap=column == "key")
    for row in shown:
        runs.add_row(*(_cell(column, row[column]) for column in columns))
    console.print(runs, highlight=False)
    if len(shown) < len(rows):
        console.print(
            f"... and {len(rows) - len(shown)} more (--limit 0 shows all)", highlight=False
        )


def show_run(
    run_id: Annotated[str, typer.Argument(help="A run's key, or its first digits.")],
    store: StorePath = None,
) -> None:
    """Everything the store holds about one run: spec, records, tensors, provenance."""
    with _reading(store) as opened_store:
        record = opened_store.get(run_id)
        buffer = opened_store.db.execute(
            "SELECT tensors FROM runs WHERE key = ?", (record.key,)
        ).fetchone()[0]
    table = Table(title=f"Run {record.key}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    spec = record.spec
    lines: list[tuple[str, Any]] = [
        ("studies", ", ".join(record.studies) or "(none)"),
        ("label", record.label),
        ("task", json.dumps(record.shown["task"], default=str)),
        ("optimizer", f"{spec['optimizer']['rule']} {_words(spec['optimizer']['hyperparams'])}"),
        ("regime", record.shown.get("regime") or "none (no data)"),
        ("budget", _words(spec["budget"])),
        ("start", spec["start"]),
        (
            "seed",
            f"{spec['seed']} (initial weights from seed {spec['init_seed']})"
            if spec["init_seed"] is not None
            else spec["seed"],
        ),
        ("gradient noise", spec["gradient_noise"]),
        ("dtype", spec["dtype"]),
        ("tags", _words(record.shown.get("tags", {})) or "(none)"),
    ]
    numbers = record.records
    lines += [
        ("updates made", numbers["updates"]),
        ("final loss", numbers["final_loss"]),
        *((f"final {k}", v) for k, v in numbers["final"].items()),
        ("diverged at", numbers["diverged_at"]),
        ("wall time (s)", numbers["wall_time"]),
        (
            "group",
            f"{numbers['group_size']} runs on {numbers['device']}, {numbers['threads']} thread(s)",
        ),
    ]
    lines += [(f"tensor {k}", f"{d} {s}") for k, (d, s) in codec.shapes(buffer).items()]
    kept = {
        k: v for k, v in record.provenance.items() if k not in ("seed", "init_seed", "wall_time")
    }
    kept["computed_at"] = _when(kept.get("computed_at", record.written_at))
    lines += list(kept.items())
    lines += [
        ("written", f"{_when(record.written_at)} by {record.writer}"),
        ("size (bytes)", len(buffer)),
    ]
    for name, value in lines:
        table.add_row(name, "—" if value is None else str(value))
    console.print(table, highlight=False, markup=False)


def export(
    out: Annotated[Path, typer.Option(help="The file to write.")],
    format: Annotated[
        str, typer.Option(help="csv (a summary row per run), jsonl or parquet (whole runs).")
    ] = "jsonl",
    study: Study = None,
    store: StorePath = None,
) -> None:
    """Write the runs (of one study with --study) to a file; jsonl and parquet re-import."""
    with _reading(store) as opened_store:
        count = exchange.export_runs(opened_store, out, format=format, study=study)
    console.print(f"Wrote {count} runs to [bold]{out}[/]", highlight=False)


def import_(
    source: Annotated[
        Path, typer.Argument(help="A jsonl or parquet file from `descend runs export`.")
    ],
    store: StorePath = None,
) -> None:
    """Add the runs of an export to the store (runs it holds already are kept)."""
    with Store(store, say=_say) as opened_store:
        count, added, study = exchange.import_runs(opened_store, source)
    where = f" (study {study})" if study else ""
    console.print(
        f"Imported {count} runs{where}: {added} new, {count - added} already stored",
        highlight=False,
    )


def report(
    study: Annotated[str, typer.Argument(help="A study's name (see descend runs list).")],
    out: Annotated[
        Path | None, typer.Option(help="The page (default: ./descend-out/<study>.html, or .md).")
    ] = None,
    format: Annotated[
        str, typer.Option(help="html (one self-contained page) or md (Markdown + PNG).")
    ] = "html",
    store: StorePath = None,
) -> None:
    """One page for a stored study: its tables, figures and reproducibility record."""
    from descend import report_page

    if format not in report_page.FORMATS:
        raise StoreError(
            f"Invalid --format {format!r} (allowed: {', '.join(report_page.FORMATS)})."
        )
    # a file name from the study's name: lr-find/digits-mlp/sgd:momentum=0.9 has '/' and ':'
    stem = re.sub(r"[^A-Za-z0-9._=-]+", "-", study).strip("-")
    path = out or Path("descend-out") / f"{stem}.{format}"
    with _reading(store) as opened_store:
        opened_store.study(study)  # (an unknown study is refused before any folder is made)
        if out is None:
            path.parent.mkdir(parents=True, exist_ok=True)
        written = opened_store.report(study, path, format=format)
    console.print(f"Wrote [bold]{written}[/]", highlight=False)


def register(app: typer.Typer, friendly: Callable[[Callable], Callable]) -> None:
    """Add `runs ...` and `report` to the descend command, with its error handling."""
    runs = typer.Typer(
        help="What the store holds: list, show, export and import runs.", no_args_is_help=True
    )
    for name, command in [
        ("list", list_runs),
        ("show", show_run),
        ("export", export),
        ("import", import_),
    ]:
        runs.command(name)(friendly(command))
    app.add_typer(runs, name="runs")
    app.command("report")(friendly(report))


def _cell(column: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if column == "key":
        return str(value)[:12]
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _words(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
