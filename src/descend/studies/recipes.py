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
from descend.studies.claims import Claim
from descend.studies.compare import CompareStudy, compare
from descend.studies.surface import SurfaceStudy, surface


def run(
    name_or_file: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[CompareStudy | SurfaceStudy]:
    return studies_of(experiments.load(name_or_file, overrides), progress=progress)


def studies_of(
    experiment: experiments.Experiment, progress: Progress | None = None
) -> list[CompareStudy | SurfaceStudy]:
    settings = dict(experiment.settings)
    if experiment.kind == "compare":
        claims = [Claim(**c) for c in experiment.claims]
        study = compare(
            optimizers=experiment.optimizers, claims=claims, name=experiment.name,
            title=experiment.title, description=experiment.description,
            progress=progress, **settings,
        )  # fmt: skip
        return [study]
    surfaces = settings.pop("surfaces")
    return [surface(s, experiment.optimizers, progress=progress, **settings) for s in surfaces]
