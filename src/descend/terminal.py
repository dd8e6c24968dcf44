"""What the command line shows and where it writes: tables, progress, output folders.

The CLI stays thin by leaving these here: a study's tables as rich tables, a progress
bar fed by the engine (plain periodic lines when the output is not a terminal), and the
check of an output folder that runs before any work, so that a bad `--out` fails in a
second, not after the computing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from descend.errors import DescendError

# A log or a pipe gets lines of 120 columns (rich would otherwise assume 80 and fold
# every table); a terminal gets its own width.
console = Console(width=None if Console().is_terminal else 120)


def print_tables(study: Any) -> None:
    """The study's title, then every table it prints, with its note as the caption."""
    console.print(f"[bold]{escape(study.title)}[/]", highlight=False)
    for table in study.tables():
        if not table.printed or not table.rows:
            continue
        rows = table.formatted()
        shown = RichTable(
            title=table.title,
            title_justify="left",
            caption=table.note or None,
            caption_justify="left",
        )
        for column in rows[0]:
            text = column in ("optimizer", "regime", "claim", "evidence", "") or column == "row"
            shown.add_column(column, justify="left" if text else "right", overflow="fold")
        for row in rows:
            shown.add_row(*row.values())
        console.print(shown, highlight=False)


def check_out(folder: Path) -> Path:
    """Refuse, before any work, an output folder that cannot be written: a file in the
    way, a parent that is a file, no permission. Nothing is created here."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == folder else f"is inside {str(probe)!r}, a file"
        raise DescendError(
            f"Invalid --out {str(folder)!r}: it {where} (allowed: a folder, new or existing).",
            key="out",
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise DescendError(
            f"Invalid --out {str(folder)!r}: {str(probe)!r} is not writable (no permission); "
            "choose another folder.",
            key="out",
        )
    return folder


class ProgressBar:
    """A rich progress bar fed by the engine's progress callback (updates done, in all);
    without a terminal (a log, CI), a plain line every 10 seconds instead."""

    EVERY = 10.0  # seconds between plain lines

    def __enter__(self) -> ProgressBar:
        self.started = self.last = time.perf_counter()
        self.text = ""
        if not console.is_terminal:
            return self
        self.bar = Progress(
            TextColumn("running"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} updates"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("updates", total=None, status="")
        return self

    def __call__(self, done: int, total: int) -> None:
        if hasattr(self, "bar"):
            self.bar.update(self.task, completed=done, total=total)
        else:
            self._line(done, total)

    def status(self, status: Any) -> None:
        """Where the engine is: runs, epoch, batch, loss (descend.engine.Status)."""
        loss = "" if status.loss is None else f" · loss {status.loss:.4g}"
        self.text = (
            f"{status.runs} · epoch {status.epoch}/{status.epochs} · batch "
            f"{status.batch}/{status.batches}{loss}"
        )
        if hasattr(self, "bar"):
            self.bar.update(self.task, status=self.text)

    def _line(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.EVERY:
            self.last = now
            elapsed = now - self.started
            left = elapsed * (total - done) / max(done, 1)
            console.print(
                f"running: {done}/{total} updates, {elapsed:.0f} s, about {left:.0f} s left"
                + (f" · {self.text}" if self.text else ""),
                highlight=False,
                markup=False,
            )

    def __exit__(self, *exc: Any) -> None:
        if hasattr(self, "bar"):
            self.bar.stop()
