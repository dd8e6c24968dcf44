"""What every study offers the report and the CLI: tables of raw values and figures.

A study (surface, compare, ...) holds its run specs and results and offers

    study.title, study.description, study.name      words for headings and folders
    study.tables()    -> [Table]                    raw numbers, with their formats
    study.figures()   -> {name: () -> figure}       built on demand: matplotlib Figure,
                                                    plotly Figure, or DescentAnimation
    study.provenance  (optional)                    reproducibility records of its own
                                                    computation, for a study whose work
                                                    is not runs (an lr range test)

so `descend.report` can write any study (CSV of raw numbers, Markdown of formatted ones,
PNG / HTML / GIF figures) without knowing what kind it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


def number(value: Any) -> str:
    """A number as tables show it: 4 significant digits; '—' for missing or infinite."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "—"
        return f"{value:.4g}"
    return str(value)


@dataclass
class Table:
    """Rows of raw values (numbers stay numbers: CSV gets them as they are) and how
    each column is shown (`formats`, default: `number`)."""

    name: str  # file stem: summary, runs, claims, ...
    title: str
    rows: list[dict[str, Any]]
    note: str = ""
    formats: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)
    printed: bool = True  # shown in the terminal (a long per-run table is not)
    shown: Callable[[dict[str, Any]], dict[str, str]] | None = None  # a row as displayed

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def formatted(self) -> list[dict[str, str]]:
        """The rows as the terminal and Markdown show them (columns may be combined)."""
        if self.shown is not None:
            return [self.shown(row) for row in self.rows]
        return [{k: self.formats.get(k, number)(v) for k, v in row.items()} for row in self.rows]


Figures = dict[str, Callable[[], Any]]


class Study(Protocol):
    name: str
    title: str
    description: str

    def tables(self) -> list[Table]: ...

    def figures(self) -> Figures: ...
