"""Run an experiment (a shipped recipe or a TOML file): the studies it describes.

studies = descend.run("gd-vs-sgd")                    # [CompareStudy]
studies = descend.run("momentum-vs-rmsprop")          # [SurfaceStudy] per surface
studies = descend.run("gd-vs-sgd", overrides={"seeds": 3, "epochs": 50})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from descend import experiments
from descend.engine import Progress
from descend.experiments import vocabulary
from descend.experiments.plans import COMPARE_PLAN_KEYS
from descend.store import Store
from descend.studies.claims import Claim
from descend.studies.compare import CompareStudy, run_compare
from descend.studies.surface import SurfaceStudy, run_surface


def run(
    name_or_file: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
) -> list[CompareStudy | SurfaceStudy]:
    return studies_of(experiments.load(name_or_file, overrides), progress=progress, store=store)


def studies_of(
    experiment: experiments.Experiment,
    progress: Progress | None = None,
    store: Store | None = None,
) -> list[CompareStudy | SurfaceStudy]:
    """The studies of an experiment, run from the specs made when it was read; with a
    store, each under the experiment's name ('name/surface' for one of several surfaces)."""
    settings = dict(experiment.settings)
    if experiment.kind == "compare":
        study = run_compare(
            experiment.plans[0],
            claims=[Claim(**c) for c in experiment.claims],
            name=experiment.name,
            title=experiment.title,
            description=experiment.description,
            progress=progress,
            store=store,
            **{k: v for k, v in settings.items() if k not in COMPARE_PLAN_KEYS},
        )
        return [study]
    sweep = vocabulary.lrs(settings.get("lr"))
    return [
        run_surface(
            plan,
            tolerance=settings.get("tolerance", 1e-6),
            window=settings.get("window"),
            lr_sweep=sweep if len(sweep) > 1 else None,
            progress=progress,
            store=store,
            name=_study_name(experiment, plan[0]),
        )
        for plan in experiment.plans
    ]


def _study_name(experiment: experiments.Experiment, task: Any) -> str:
    if len(experiment.plans) == 1:
        return experiment.name
    return f"{experiment.name}/{task.build().name}"
