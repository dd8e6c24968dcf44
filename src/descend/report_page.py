"""The report page: any study as one self-contained HTML file, or as Markdown + images.

    study.report("report.html")                    # or: descend report NAME --out report.html
    study.report("report.md", format="md")         # report.md + report_files/*.png

The page holds what a study offers (`descend.studies.base`: title, description, tables,
figures) and the reproducibility record, and nothing else: it never reaches into a
study. Figures by kind: plotly -> interactive, with plotly.js embedded once for the whole
page; matplotlib -> PNG, and an animation -> GIF, both inline as data URIs; so the file
opens offline and can be mailed. The template autoescapes: every label, name and
formula from a user is text, never markup, and `{{ }}` in one is never evaluated.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from descend import provenance
from descend.errors import DescendError
from descend.report import DPI, atomic_write, markdown_table, save_figure
from descend.studies.base import Study

FORMATS = ("html", "md")
Rows = Sequence[tuple[str, str]]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("descend", "templates"),
    autoescape=True,  # every value is escaped unless it is Markup (ours: plotly's div, its JS)
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_study(study: Study, out: str | Path, results: Sequence[Any], *, format: str = "html"):
    """The report of a study whose runs are `results` (their records, or this process's).
    A study whose work is not runs (an lr range test: `results` is empty) shows the
    records it keeps of its own computation, `study.provenance`, if it has them."""
    records = provenance.records_of(results) or list(getattr(study, "provenance", ()))
    rows = provenance.summary(records)
    return write(study, out, format=format, reproducibility=rows)


def write(
    study: Study,
    out: str | Path,
    *,
    format: str = "html",
    reproducibility: Rows = (),
    skip: Iterable[str] = (),
) -> Path:
    """Write the report of `study` to `out` (HTML, or Markdown with a folder of images)."""
    out = Path(out)
    if format not in FORMATS:
        raise DescendError(
            f"Invalid format {format!r} (allowed: {', '.join(FORMATS)}).", key="format"
        )
    if not out.parent.is_dir():
        raise DescendError(f"Invalid --out {str(out)!r}: no folder {str(out.parent)!r}.", key="out")
    figures = {k: v for k, v in study.figures().items() if k not in set(skip)}
    if format == "md":
        return atomic_write(out, markdown(study, figures, reproducibility, out))
    return atomic_write(out, page(study, figures, reproducibility))


def page(study: Study, figures: dict[str, Any], reproducibility: Rows) -> str:
    """The HTML of the page."""
    import descend

    shown = [_figure(name, make()) for name, make in figures.items()]
    plotly_js = ""
    if any(f["kind"] == "plotly" for f in shown):
        from plotly.offline import get_plotlyjs

        plotly_js = Markup(get_plotlyjs())  # plotly's own code: embedded once, not escaped
    return _TEMPLATES.get_template("report.html.j2").render(
        title=study.title,
        description=" ".join(study.description.split()),
        tables=[_table(t) for t in study.tables()],
        figures=shown,
        reproducibility=list(reproducibility),
        plotly_js=plotly_js,
        version=descend.__version__,
    )


def _table(table: Any) -> dict[str, Any]:
    rows = table.formatted()
    columns = list(rows[0]) if rows else []
    return {
        "name": table.name,
        "title": table.title,
        "note": table.note,
        "columns": columns,
        "text": [not all(_numeric(r[c]) for r in rows) for c in columns],  # left, wrapped
        "rows": [list(r.values()) for r in rows],
    }


def _numeric(cell: str) -> bool:
    """Whether a cell reads as a number ('1.5', '-3 ± 0.2 [..]', '—', 'never', '0/5')."""
    return cell[:1] in "0123456789-−+.—" or cell in ("never", "yes", "no", "")


def _figure(name: str, figure: Any) -> dict[str, Any]:
    """One figure as the template shows it: a plotly div, or an image data URI."""
    if hasattr(figure, "to_plotly_json"):  # plotly
        import plotly.io

        div = plotly.io.to_html(
            figure, full_html=False, include_plotlyjs=False, div_id=f"figure-{name}"
        )  # (plotly writes its JSON with <, > and / escaped: no label can close the script)
        return {"name": name, "kind": "plotly", "html": Markup(div)}
    if hasattr(figure, "save_gif"):  # an animation
        return {"name": name, "kind": "image", "src": _data_uri("image/gif", _gif_bytes(figure))}
    if hasattr(figure, "savefig"):  # matplotlib
        return {
            "name": name,
            "kind": "image",
            "src": _data_uri("image/png", _png_bytes(figure, DPI)),
        }
    raise TypeError(f"Cannot show a {type(figure).__name__} in a report.")


def _png_bytes(figure: Any, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _gif_bytes(animation: Any) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.gif"
        animation.save_gif(path)
        return path.read_bytes()


def _data_uri(kind: str, content: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(content).decode('ascii')}"


def markdown(study: Study, figures: dict[str, Any], reproducibility: Rows, out: Path) -> str:
    """Markdown with the figures beside it, in `<stem>_files/`: PNG, GIF, or (plotly,
    which needs a browser) an interactive HTML file linked from the text."""
    folder = out.with_name(f"{out.stem}_files")
    folder.mkdir(exist_ok=True)
    text = _escape  # Markdown renders inline HTML: a user's words are shown as text
    parts = [f"# {text(study.title)}\n"]
    if study.description:
        parts.append(text(" ".join(study.description.split())) + "\n")
    for table in study.tables():
        rows = [{text(k): text(v) for k, v in row.items()} for row in table.formatted()]
        parts.append(f"## {text(table.title)}\n\n{markdown_table(rows)}")
        if table.note:
            parts.append(text(table.note) + "\n")
    for name, make in figures.items():
        path = save_figure(make(), folder / name)
        link = f"{folder.name}/{path.name}"
        shown = (
            f"[{name} (interactive)]({link})" if path.suffix == ".html" else f"![{name}]({link})"
        )
        parts.append(f"## {name}\n\n{shown}\n")
    if reproducibility:
        rows = [{"": text(k), "value": text(v)} for k, v in reproducibility]
        parts.append(f"## Reproducibility\n\n{markdown_table(rows)}")
    return "\n".join(parts)


def _escape(value: str) -> str:
    return html.escape(str(value), quote=False)
