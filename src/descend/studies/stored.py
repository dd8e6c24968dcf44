"""Studies in the store: the record each kind keeps, and the study rebuilt from it.

A study command runs its specs through `results`: with no store, the engine runs them
all; with one, the store reads the runs it holds and runs the rest. The record keeps
what the study object holds besides its results (the surface, tolerance, window and lr
sweep of a surface study; the task, claims, checkpoint and slice of a compare study),
so `store.load_study(name)` returns the object the command returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from descend.engine import Progress, Results, RunSpec, TaskSpec, run
from descend.store import Store, StudyRecord, register_study_kind


def results(
    specs: Sequence[RunSpec],
    store: Store | None,
    record: StudyRecord,
    *,
    device: Any = "cpu",
    progress: Progress | None = None,
) -> Results:
    """The specs' results: from the store where it holds them, else computed."""
    if store is None:
        return run(specs, device=device, progress=progress)
    return store.run(specs, study=record, device=device, progress=progress)


def _task(spec: TaskSpec) -> dict[str, Any]:
    return {"name": spec.name, "params": dict(spec.params)}


def surface_record(
    task: TaskSpec,
    name: str,
    *,
    tolerance: float,
    window: Any,
    lr_sweep: Sequence[float | None] | None,
) -> StudyRecord:
    settings = {
        "task": _task(task),
        "tolerance": tolerance,
        "window": window,
        "lr_sweep": None if lr_sweep is None else list(lr_sweep),
    }
    return StudyRecord(name, "surface", settings)


def compare_record(
    task: TaskSpec,
    name: str,
    *,
    title: str,
    description: str,
    claims: Sequence[Any],
    checkpoint: int | None,
    slice_names: Sequence[str] | None,
) -> StudyRecord:
    settings = {
        "task": _task(task),
        "claims": [asdict(c) for c in claims],
        "checkpoint": checkpoint,
        "slice": None if slice_names is None else list(slice_names),
    }
    return StudyRecord(name, "compare", settings, title, description)


def load_surface(record: StudyRecord, results: Results) -> Any:
    from descend.studies.surface import SurfaceStudy

    settings = record.settings
    built = TaskSpec(settings["task"]["name"], settings["task"]["params"]).build()
    window = settings["window"]
    sweep = settings["lr_sweep"]
    return SurfaceStudy(
        built,
        results,
        float(settings["tolerance"]),
        tuple(tuple(side) for side in window) if window is not None else built.window,
        None if sweep is None else list(sweep),
    )


def load_compare(record: StudyRecord, results: Results) -> Any:
    from descend.studies.claims import Claim
    from descend.studies.compare import CompareStudy

    settings = record.settings
    return CompareStudy(
        TaskSpec(settings["task"]["name"], settings["task"]["params"]),
        results,
        name=record.name,
        title_text=record.title,
        description=record.description,
        claims=[Claim(**c) for c in settings["claims"]],
        checkpoint=settings["checkpoint"],
        slice_names=None if settings["slice"] is None else tuple(settings["slice"]),
    )


register_study_kind("surface", load_surface)
register_study_kind("compare", load_compare)
