"""Reproducibility records: what computed a run, where, and how it was asked for.

Each stored run keeps one (`run_record`), and so does each seed of an lr range test
(`record`): the versions of descend, torch and Python, the platform, the device and
dtype, the run's seeds and threads, the command line that asked for it and its wall time.
`summary` folds many into the rows a report shows: a value shared by every run once,
values that differ listed (a study resumed on another machine says so).
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

ENVIRONMENT_FIELDS = ("descend", "torch", "python", "platform")
SHOWN = (
    *ENVIRONMENT_FIELDS,
    "device",
    "dtype",
    "threads",
    "seeds",
    "command",
    "computed",
    "wall time",
)


@cache
def environment() -> dict[str, str]:
    """The versions and platform of this process (the same for all its runs)."""
    import torch

    import descend

    return {
        "descend": descend.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def command_line() -> str:
    """How this process was started: `descend run gd-vs-sgd`, `python study.py`, ..."""
    if not sys.argv or not sys.argv[0]:
        return "python (interactive)"
    return shlex.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])


def run_record(result: Any, *, command: str | None = None) -> dict[str, Any]:
    """The reproducibility record of one finished run (a `RunResult`)."""
    spec = result.spec
    return record(
        device=result.device,
        dtype=spec.dtype,
        threads=result.threads,
        seed=spec.seed,
        init_seed=spec.init_seed,
        wall_time=result.wall_time,
        command=command,
    )


def record(
    *,
    device: str,
    dtype: str,
    threads: int,
    seed: int,
    init_seed: int | None,
    wall_time: float,
    command: str | None = None,
) -> dict[str, Any]:
    """The reproducibility record of one computation just finished: a run, or a
    computation that is not one (a seed's sweep of an lr range test)."""
    return {
        **environment(),
        "device": device,
        "dtype": dtype,
        "threads": threads,
        "seed": seed,
        "init_seed": init_seed,
        "command": command if command is not None else command_line(),
        "wall_time": wall_time,
        "computed_at": time.time(),
    }


def records_of(results: Sequence[Any]) -> list[dict[str, Any]]:
    """The records of results: kept ones where the results came from a store (their
    `provenance`), else made now (this process computed them)."""
    kept = getattr(results, "provenance", None)
    if kept is not None:
        return list(kept)
    return [run_record(r) for r in results]


def summary(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(field, value) rows for a report: one value when every run agrees, else each
    distinct value (with its count), seeds as a range, wall time as a total."""
    records = list(records)
    if not records:
        return []
    rows: list[tuple[str, str]] = []
    for name in SHOWN:
        if name == "seeds":
            rows.append((name, _seeds(records)))
        elif name == "wall time":
            total = sum(float(r.get("wall_time", 0.0)) for r in records)
            rows.append((name, f"{total:.3g} s over {len(records)} runs (evaluation excluded)"))
        elif name == "computed":
            rows.append((name, _when(records)))
        else:
            rows.append((name, _distinct(str(r.get(name, "?")) for r in records)))
    return rows


def _distinct(values: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n} runs)" for v, n in counts.items())


def _seeds(records: list[Mapping[str, Any]]) -> str:
    seeds = sorted({int(r.get("seed", 0)) for r in records})
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        text = f"{seeds[0]} to {seeds[-1]}"
    else:
        text = ", ".join(map(str, seeds))
    fixed = {r.get("init_seed") for r in records} - {None}
    return text + (
        f" (initial weights from seed {', '.join(map(str, sorted(fixed)))})" * bool(fixed)
    )


def _when(records: list[Mapping[str, Any]]) -> str:
    times = [float(r["computed_at"]) for r in records if "computed_at" in r]
    if not times:
        return "?"
    first, last = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) for t in (min(times), max(times))
    )
    return first if first == last else f"{first} to {last}"
