"""Reports: any study's tables and figures, to files or to a notebook cell.

`save` writes what a study offers (`descend.studies.base`): each table as CSV of raw
numbers, all of them formatted in `summary.md`, and each figure by its kind: matplotlib
-> PNG, plotly -> one self-contained HTML file (plotly.js inlined: it opens offline),
an animation -> GIF. Every file is written under a temporary name and renamed, so an
interrupted or failed save never leaves a truncated file. `notebook_html` is what
Jupyter shows for a study. Names from users are escaped.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from descend.errors import DescendError
from descend.figures_in_parallel import save_figures
from descend.studies.base import Study, Table

DPI = 120


MANIFEST = "descend-manifest.json"


def save(
    study: Study,
    out: str | Path,
    *,
    skip: Iterable[str] = (),
    only: Iterable[str] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write every table and figure of `study` into `out` (only those named in `only`,
    none named in `skip`); returns {name: path}. What descend wrote there before and did
    not write now is removed (nothing else is touched), and a manifest says what the
    folder holds: the study, the command, descend's version, the files."""
    out = Path(out)
    figures = study.figures()
    chosen = [n for n in figures if n not in set(skip) and (only is None or n in set(only))]
    try:
        out.mkdir(parents=True, exist_ok=True)
        if on_file is not None:
            on_file(", ".join(chosen))
        written = save_figures(figures, chosen, out, save_figure)
        tables = study.tables()
        for table in tables:
            written[f"{table.name}.csv"] = write_csv(table, out / f"{table.name}.csv")
        written["table"] = atomic_write(out / "summary.md", markdown(study, tables))
        _replace_manifest(study, out, written)
    except OSError as problem:  # a full disk, a folder gone read-only: nothing half-written
        raise DescendError(
            f"Could not write in {str(out)!r}: {problem.strerror or problem} (files written "
            "so far are whole; the one being written was not kept).",
            key="out",
        ) from None
    return written


def _replace_manifest(study: Study, out: Path, written: dict[str, Path]) -> None:
    """Remove the files the previous manifest listed that were not written now; write
    the new one."""
    names = sorted(p.name for p in written.values())
    try:
        previous = json.loads((out / MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        previous = []
    for name in set(previous) - set(names):
        if isinstance(name, str) and "/" not in name and name not in ("", MANIFEST):
            (out / name).unlink(missing_ok=True)
    manifest = {
        "study": study.title,
        "command": " ".join(sys.argv),
        "descend": version_of_descend(),
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": names,
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def version_of_descend() -> str:
    from descend import __version__

    return __version__


def save_figure(figure: Any, stem: Path) -> Path:
    """A figure to `stem` + the extension of its kind."""
    if hasattr(figure, "savefig"):  # matplotlib
        return atomic_write(stem.with_suffix(".png"), png_bytes(figure, DPI))
    if hasattr(figure, "save_gif"):  # descend.plots.DescentAnimation
        return _atomic(stem.with_suffix(".gif"), figure.save_gif)
    if hasattr(figure, "write_html"):  # plotly
        return _atomic(
            stem.with_suffix(".html"), lambda p: figure.write_html(p, include_plotlyjs=True)
        )
    raise TypeError(f"Cannot save a {type(figure).__name__} as a figure.")


def write_csv(table: Table, path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=table.columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table.rows)
    return atomic_write(path, buffer.getvalue())


def markdown(study: Study, tables: Sequence[Table]) -> str:
    parts = [f"# {study.title}\n"]
    if study.description:
        parts.append(" ".join(study.description.split()) + "\n")
    for table in tables:
        parts.append(f"## {table.title}\n\n{markdown_table(table.formatted())}")
        if table.note:
            parts.append(table.note + "\n")
    return "\n".join(parts)


def markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no rows)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[k].replace("|", "\\|") for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def atomic_write(path: Path, content: str | bytes) -> Path:
    """Write `content` to `path` through a temporary file in the same folder."""

    def write(temporary: Path) -> None:
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(temporary, mode) as f:
            f.write(content)

    return _atomic(path, write)


def _atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call write(temporary path), then rename it to `path`; on failure remove it."""
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp made it private: as open() would
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def notebook_html(study: Study, figure_names: Sequence[str]) -> str:
    """The tables and the named figures (those the study has) as one HTML fragment."""
    parts = [f"<h4>{html.escape(study.title)}</h4>"]
    for table in study.tables():
        if not table.printed:
            continue
        rows = table.formatted()
        head = "".join(f"<th>{html.escape(k)}</th>" for k in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row.values()) + "</tr>"
            for row in rows
        )
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    figures = study.figures()
    for name in figure_names:
        if name in figures:
            encoded = base64.b64encode(png_bytes(figures[name](), 90)).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{encoded}" style="max-width:48%">')
    return "<div>" + "".join(parts) + "</div>"


def png_bytes(figure: Any, dpi: int, format: str = "png") -> bytes:
    """A matplotlib figure rendered in memory (png, svg, pdf)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
