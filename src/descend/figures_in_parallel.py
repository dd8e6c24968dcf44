"""Figures drawn side by side: after the runs, a study's figures are independent work
(each a second or so of matplotlib or plotly), so on a machine with several cores they
are drawn in forked worker processes, one per core, each on one thread.

Forking copies the finished study for free (no pickling of results); the workers only
draw and write files, and hand back the paths. Where fork is not available (Windows,
macOS's default), with one core, or for a single figure, they are drawn here, one after
the other. A worker that does not answer in time (a fork can, rarely, inherit a lock it
cannot take) is given up on, and the figures it did not return are drawn here.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

_JOB: dict[str, Any] = {}  # what forked workers find in the memory they inherited
TIMEOUT = 120.0  # seconds for all the figures; beyond, the rest are drawn here


def save_figures(
    figures: Mapping[str, Callable[[], Any]],
    names: Sequence[str],
    out: Path,
    save: Callable[[Any, Path], Path],
) -> dict[str, Path]:
    """{name: path} of the figures `names`, each drawn and written with `save`."""
    workers = min(len(names), _cores())
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: save(figures[name](), out / name) for name in names}
    _JOB.update(figures=figures, out=out, save=save)
    written: dict[str, Path] = {}
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_one_thread) as pool:
            for name, path in pool.imap_unordered(_draw, names):
                written[name] = path
    except multiprocessing.TimeoutError:
        pass
    finally:
        _JOB.clear()
    for name in names:  # (those a worker did not hand back)
        if name not in written:
            written[name] = save(figures[name](), out / name)
    return {name: written[name] for name in names}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _draw(name: str) -> tuple[str, Path]:
    figures, out, save = _JOB["figures"], _JOB["out"], _JOB["save"]
    return name, save(figures[name](), out / name)
