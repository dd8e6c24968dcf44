"""What is minimised: analytic surfaces, regressions, networks on datasets.

`build(TaskSpec)` turns a task's name and parameters into the task: a task with data
(`names()`) or else a surface (a registered name or a formula in w1, w2).
"""

from __future__ import annotations

import inspect
from typing import Any

from descend.registry import Registry
from descend.tasks import classifiers, regression

TASKS = Registry("task")
TASKS.add("quadratic-regression", regression.quadratic_regression)
TASKS.add("linear-regression", regression.linear_regression)
TASKS.add("logistic-regression", regression.logistic_regression)
TASKS.add("convnet", classifiers.convnet)
TASKS.add("mlp", classifiers.mlp)
for _name, _factory in classifiers.NAMED.items():
    TASKS.add(_name, _factory)
WHERE_NOT_WHAT = {"data_dir"}  # task parameters that say where data is, not what it is


def names() -> list[str]:
    """The tasks with data (surfaces: `descend.tasks.surfaces.names()`)."""
    return TASKS.names()


def get(name: str, **params: Any) -> Any:
    """A task with data by name, or a surface by name or formula."""
    if name in TASKS:
        return TASKS.get(name, **params)
    from descend.tasks.formula import surface_from

    return surface_from(name, **params)


def build(spec: Any) -> Any:
    """The task a `TaskSpec` names."""
    return get(spec.name, **spec.params)


def defaults(name: str) -> dict[str, Any]:
    """The parameters a task or registered surface takes, with their defaults ({} for a
    formula: its text is its name)."""
    from descend.tasks import surfaces

    registry = TASKS if name in TASKS else surfaces.SURFACES if name in surfaces.names() else None
    if registry is None:
        return {}
    return {k: v for k, v in registry.defaults(name).items() if v is not inspect.Parameter.empty}


def content_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A task's parameters as its content key sees them: defaults filled in, and the
    location of its data left out (the same MNIST from another folder is the same task)."""
    merged = {**defaults(name), **params}
    return {k: v for k, v in merged.items() if k not in WHERE_NOT_WHAT}
