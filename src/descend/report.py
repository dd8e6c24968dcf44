"""Reports: a study's table and figures, to files or to a notebook cell.

`save_study` writes what a study shows: PNG figures, the interactive 3-D surface as one
self-contained HTML file (plotly.js inlined: it opens offline), the animated GIF, and the
table as CSV and Markdown. `study_html` is what Jupyter shows for a study.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from pathlib import Path
from typing import Any

DPI = 120


def summary_rows(study: Any) -> list[dict[str, str]]:
    """The study's table: one row per optimizer (per lr in a sweep), formatted."""
    summaries = study.summaries()
    many = any(s.runs > 1 for s in summaries)
    tolerance = f"{study.tolerance:g}"
    minimum = study.surface.minimum_value
    known = minimum is not None
    rows = []
    for s in summaries:
        row = {"optimizer": s.label}
        if many:
            row["runs"] = str(s.runs)
        row["final f − f*" if known else "final f"] = _number(s.final_loss - (minimum or 0.0))
        row["distance to min"] = _number(s.distance)
        row[f"steps to {tolerance}"] = _steps(s, many)
        row["diverged"] = f"{s.diverged}/{s.runs}" if many else ("yes" if s.diverged else "no")
        row["sign flips w1, w2"] = ", ".join(f"{f:g}" for f in s.sign_flips) or "—"
        rows.append(row)
    return rows


TABLE_NOTE = (
    "Medians over the runs of each row where there are several (diverged runs left out). "
    "steps to tol: the first step with f − f* <= tol; distance to min: from the final "
    "point to the nearest known minimum; sign flips: how often each coordinate changed "
    "sign (a zig-zag across a valley flips the steep one at every step)."
)


def _number(x: float) -> str:
    if math.isinf(x):
        return "—"
    return "unknown" if math.isnan(x) else f"{x:.3g}"


def _steps(s: Any, many: bool) -> str:
    if s.steps_to_tolerance is None:
        return "never" if s.runs - s.diverged else "—"
    reached = f" ({s.reached}/{s.runs} runs)" if many else ""
    return f"{s.steps_to_tolerance:g}{reached}"


def save_study(study: Any, out: str | Path, *, gif: bool = True) -> dict[str, Path]:
    """Write every figure of the study and its table into `out`; returns {name: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save_png(name: str, figure: Any) -> None:
        path = out / f"{name}.png"
        figure.savefig(path, dpi=DPI, bbox_inches="tight")
        written[name] = path

    save_png("contour", study.contour())
    save_png("loss", study.loss())
    if study.many_starts:
        save_png("basins", study.basins())
    if study.lr_sweep is not None:
        save_png("sensitivity", study.sensitivity())
    if study.has_schedule:
        save_png("lr", study.lr_schedule())
    written["surface"] = out / "surface.html"
    study.surface_3d().write_html(written["surface"], include_plotlyjs=True)
    if gif:
        written["animation"] = out / "descent.gif"
        study.animation().save_gif(written["animation"])
    written["table"] = _write_tables(summary_rows(study), out)
    return written


def _write_tables(rows: list[dict[str, str]], out: Path) -> Path:
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.md").write_text(markdown_table(rows) + "\n" + TABLE_NOTE + "\n")
    return out / "summary.md"


def markdown_table(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[k].replace("|", "\\|") for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def study_html(study: Any) -> str:
    """The table and the main figures as one HTML fragment (names escaped)."""
    rows = summary_rows(study)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    figures = [study.contour(), study.loss()]
    if study.many_starts:
        figures.append(study.basins())
    images = "".join(
        f'<img src="data:image/png;base64,{_png_base64(f)}" style="max-width:48%">' for f in figures
    )
    title = html.escape(f"{study.surface.label}: {study.surface.formula}")
    return f"<div><h4>{title}</h4><table><tr>{head}</tr>{body}</table>{images}</div>"


def _png_base64(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
