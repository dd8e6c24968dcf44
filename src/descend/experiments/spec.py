"""Experiments as data: a TOML file describes a study; `load` checks it and `Experiment.run`
runs it. Every mistake is reported with the file, the line where it can be found, the key,
and the values that would have been accepted.

    title = "Momentum vs RMSProp"
    [study]
    surfaces = ["bowl", "anisotropic"]      # names or formulas in w1, w2
    start = [1.0, 1.0]                      # or: starts = 400 (a grid, for basin maps)
    steps = 50
    lr = 0.1                                # or a list: a sweep
    [[optimizers]]
    rule = "sgd"
    label = "momentum α={momentum}"         # optional; {name} is filled from the sweep
    sweep = { momentum = [0.1, 0.9, 0.99] } # optional: one run per value
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from descend import optim, schedules
from descend.engine import OptimizerSpec
from descend.engine.lockstep import Progress
from descend.errors import DescendError, HyperparameterError, did_you_mean
from descend.experiments.calls import parse_call

RECIPES = resources.files("descend.experiments") / "recipes"


class ExperimentError(DescendError):
    """A mistake in an experiment file, located in it."""


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _pair(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v)


# key: (check, what is allowed)
TOP_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "title": (lambda v: isinstance(v, str), "a string"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "study": (lambda v: isinstance(v, dict), "a table [study]"),
    "optimizers": (
        lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "tables [[optimizers]]",
    ),
}
STUDY_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "kind": (lambda v: v == "surface", '"surface"'),
    "surfaces": (
        lambda v: isinstance(v, list) and v and all(isinstance(x, str) for x in v),
        "a list of surface names or formulas",
    ),
    "start": (_pair, "a point [w1, w2]"),
    "starts": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
    "steps": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
    "lr": (
        lambda v: _number(v) or (isinstance(v, list) and v and all(_number(x) for x in v)),
        "a number or a list of numbers",
    ),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "noise": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "schedule": (lambda v: isinstance(v, str), 'a schedule spec such as "cosine:T_max=50"'),
    "tolerance": (lambda v: _number(v) and v > 0, "a number > 0"),
    "window": (
        lambda v: isinstance(v, list) and len(v) == 2 and all(_pair(x) for x in v),
        "[[w1 min, w1 max], [w2 min, w2 max]]",
    ),
}
OPTIMIZER_KEYS = {"rule", "label", "sweep"}


@dataclass
class Experiment:
    name: str
    title: str
    description: str
    surfaces: list[str]
    optimizers: list[OptimizerSpec]
    settings: dict[str, Any] = field(default_factory=dict)  # the study's other keys

    def run(self, progress: Progress | None = None) -> list:
        """One SurfaceStudy per surface, in the order given."""
        from descend.surface_lab import surface

        settings = dict(self.settings)
        if "window" in settings:
            settings["window"] = tuple(tuple(x) for x in settings["window"])
        return [surface(s, self.optimizers, progress=progress, **settings) for s in self.surfaces]


def recipes() -> list[str]:
    """The names of the experiments shipped with descend."""
    return sorted(
        p.name.removesuffix(".toml") for p in RECIPES.iterdir() if p.name.endswith(".toml")
    )


def load(name_or_file: str | Path) -> Experiment:
    """A shipped recipe by name, or a TOML file, checked."""
    path = Path(name_or_file)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ExperimentError(f"No experiment file {str(path)!r}.")
        text, name, where = path.read_text(), path.stem, str(path)
    elif str(name_or_file) in recipes():
        text = (RECIPES / f"{name_or_file}.toml").read_text()
        name, where = str(name_or_file), f"recipe {name_or_file}"
    else:
        raise ExperimentError(
            f"Unknown experiment {str(name_or_file)!r}: not a file, and not a recipe."
            f"{did_you_mean(str(name_or_file), recipes())} Recipes: {', '.join(recipes())}."
        )
    return parse(text, name, where)


def parse(text: str, name: str, where: str) -> Experiment:
    locate = _Locator(text, where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise ExperimentError(f"{where}: not valid TOML: {problem}.") from None
    _check_keys(data, TOP_KEYS, (), locate)
    study = data.get("study", {})
    _check_keys(study, STUDY_KEYS, ("study",), locate)
    if "surfaces" not in study:
        raise locate.error(
            ("study",), "missing key 'surfaces' (a list of surface names or formulas)"
        )
    _check_surfaces(study["surfaces"], locate)
    if "schedule" in study:
        _check_schedule(study["schedule"], locate)
    entries = data.get("optimizers", [])
    if not entries:
        raise locate.error(
            (), 'no [[optimizers]]: give at least one, e.g. [[optimizers]] rule = "sgd"'
        )
    optimizers = [spec for i, e in enumerate(entries) for spec in _optimizer_specs(e, i, locate)]
    settings = {k: v for k, v in study.items() if k not in ("kind", "surfaces")}
    return Experiment(
        name,
        data.get("title", name),
        data.get("description", ""),
        study["surfaces"],
        optimizers,
        settings,
    )


def _check_keys(table: dict, allowed: dict, path: tuple, locate: _Locator) -> None:
    for key, value in table.items():
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            raise locate.error(
                (*path, key), f"unknown key {key!r}.{hint} Allowed: {', '.join(allowed)}"
            )
        check, what = allowed[key]
        if not check(value):
            raise locate.error((*path, key), f"{key!r} must be {what}, not {value!r}")


def _check_surfaces(names: list[str], locate: _Locator) -> None:
    from descend.tasks.formula import surface_from

    for name in names:
        try:
            surface_from(name)
        except DescendError as problem:
            raise locate.error(("study", "surfaces"), str(problem)) from None


def _check_schedule(text: str, locate: _Locator) -> None:
    try:
        name, params = parse_call(text)
        schedules.get(name, **{"lr": 1.0, **params})
    except DescendError as problem:
        raise locate.error(("study", "schedule"), str(problem)) from None


def _optimizer_specs(entry: dict, index: int, locate: _Locator) -> list[OptimizerSpec]:
    path = ("optimizers", index)
    if "rule" not in entry:
        raise locate.error(path, f"missing key 'rule' (one of {', '.join(optim.names())})")
    rule, label, sweep = entry["rule"], entry.get("label"), entry.get("sweep", {})
    if rule not in optim.names():
        raise locate.error(
            (*path, "rule"),
            f"unknown optimizer {rule!r}.{did_you_mean(str(rule), optim.names())} "
            f"Known: {', '.join(optim.names())}",
        )
    if not isinstance(sweep, dict) or not all(isinstance(v, list) and v for v in sweep.values()):
        raise locate.error(
            (*path, "sweep"),
            "sweep must be a table of non-empty lists, e.g. sweep = { momentum = [0.5, 0.9] }",
        )
    fixed = {k: _tuples(v) for k, v in entry.items() if k not in OPTIMIZER_KEYS}
    specs = []
    for values in itertools.product(*sweep.values()):
        hyper = {**fixed, **dict(zip(sweep, (_tuples(v) for v in values), strict=True))}
        try:
            spec = OptimizerSpec(rule, hyper, _fill(label, hyper))
            spec.optimizer  # noqa: B018  (validate now)
        except HyperparameterError as problem:
            bad = next(
                (k for k in hyper if f"{k!r}" in str(problem) or f" {k}" in str(problem)), None
            )
            key = "sweep" if bad in sweep else bad
            raise locate.error((*path, key) if key else path, str(problem)) from None
        specs.append(spec)
    return specs


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _fill(label: str | None, hyper: dict[str, Any]) -> str | None:
    return None if label is None else label.format(**hyper)


class _Locator:
    """Finds the line of a key in the TOML text, for messages: good for the simple,
    one-key-per-line files experiments are; falls back to the file alone."""

    def __init__(self, text: str, where: str):
        self.lines, self.where = text.splitlines(), where

    def error(self, path: tuple, message: str) -> ExperimentError:
        line = self.line_of(path)
        place = f"{self.where}, line {line}" if line else self.where
        shown = _show_path(path)
        return ExperimentError(f"{place}{f' ({shown})' if shown else ''}: {message.rstrip('.')}.")

    def line_of(self, path: tuple) -> int | None:
        table, key = _table_and_key(path)
        in_table, count = table == "", -1
        for number, raw in enumerate(self.lines, start=1):
            line = raw.split("#", 1)[0].strip()
            header = re.fullmatch(r"\[\[?\s*([\w.-]+)\s*\]\]?", line)
            if header:
                count += header.group(1) == table[0] if table else 0
                in_table = (
                    bool(table)
                    and header.group(1) == table[0]
                    and (table[1] is None or count == table[1])
                )
                if in_table and key is None:
                    return number
                continue
            if in_table and key is not None and re.match(rf"{re.escape(key)}\s*(=|\.)", line):
                return number
        return None


def _table_and_key(path: tuple) -> tuple[Any, str | None]:
    if not path:
        return "", None
    if path[0] == "optimizers":
        index = path[1] if len(path) > 1 else None
        return ("optimizers", index), (path[2] if len(path) > 2 else None)
    if path[0] == "study":
        return ("study", None), (path[1] if len(path) > 1 else None)
    return "", path[0]


def _show_path(path: tuple) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts)
