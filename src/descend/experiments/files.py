"""Experiments as data: a TOML file describes a study; `load` checks it, and
`descend.run` runs it. Every mistake is reported with the file, the line where it can
be found, the key, and the values that would have been accepted.

    title = "Momentum vs RMSProp"
    [study]                                 # kind = "surface" (the default) ...
    surfaces = ["bowl", "anisotropic"]      # names or formulas in w1, w2
    start = [1.0, 1.0]                      # or: starts = 400 (a grid, for basin maps)
    steps = 50
    lr = 0.1                                # or a list: a sweep
    [[optimizers]]
    rule = "sgd"
    label = "momentum α={momentum}"         # optional; {name} is filled from the sweep
    sweep = { momentum = [0.1, 0.9, 0.99] } # optional: one run per value

    [study]                                 # ... or kind = "compare": a task with data
    kind = "compare"
    task = "quadratic-regression"
    regimes = ["full", "minibatch:25:fixed", "minibatch:25:shuffle"]
    epochs = 300
    seeds = 20
    [[claims]]                              # optional: tested seed by seed
    text = "Shuffled is nearer the optimum than fixed order"
    better = "minibatch:25:shuffle"
    than = "minibatch:25:fixed"
"""

from __future__ import annotations

import itertools
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from descend import optim
from descend.engine import OptimizerSpec
from descend.errors import DescendError, did_you_mean
from descend.experiments import plans, vocabulary

RECIPES = resources.files("descend.experiments") / "recipes"


class ExperimentError(DescendError):
    """A mistake in an experiment file, located in it."""


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _integer(low: int | None = None) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and (low is None or v >= low)


def _pair(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)


def _lr(v: Any) -> bool:
    return _number(v) or isinstance(v, str) or (isinstance(v, list) and v and all(map(_number, v)))


Check = tuple[Callable[[Any], bool], str]  # (check, what is allowed)
TOP_KEYS: dict[str, Check] = {
    "title": (lambda v: isinstance(v, str), "a string"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "study": (lambda v: isinstance(v, dict), "a table [study]"),
    "optimizers": (
        lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "tables [[optimizers]]",
    ),
    "claims": (
        lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "tables [[claims]]",
    ),
}
KINDS = ("surface", "compare")
KIND: Check = (lambda v: v in KINDS, '"surface" or "compare"')
LR: Check = (_lr, 'a number, a list of numbers, or a sweep such as "1e-3:1:13"')
SCHEDULE: Check = (lambda v: isinstance(v, str), 'a schedule spec such as "cosine:T_max=50"')
SURFACE_KEYS: dict[str, Check] = {
    "kind": KIND,
    "surfaces": (_strings, "a list of surface names or formulas"),
    "start": (_pair, "a point [w1, w2]"),
    "starts": (_integer(1), "an integer >= 1"),
    "steps": (_integer(1), "an integer >= 1"),
    "lr": LR,
    "seed": (
        lambda v: _integer()(v) or (isinstance(v, list) and all(map(_integer(), v))),
        "an integer or a list of integers",
    ),
    "noise": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "schedule": SCHEDULE,
    "tolerance": (lambda v: _number(v) and v > 0, "a number > 0"),
    "window": (
        lambda v: isinstance(v, list) and len(v) == 2 and all(_pair(x) for x in v),
        "[[w1 min, w1 max], [w2 min, w2 max]]",
    ),
}
COMPARE_KEYS: dict[str, Check] = {
    "kind": KIND,
    "task": (lambda v: isinstance(v, str), 'a task such as "quadratic-regression"'),
    "regimes": (_strings, 'a list of regimes such as ["full", "minibatch:25:shuffle"]'),
    "epochs": (_integer(1), "an integer >= 1"),
    "updates": (_integer(1), "an integer >= 1"),
    "lr": LR,
    "schedule": SCHEDULE,
    "seeds": (
        lambda v: _integer(1)(v) or (isinstance(v, list) and v and all(map(_integer(), v))),
        "a count >= 1 or a list of integers",
    ),
    "fixed_init": (lambda v: isinstance(v, bool), "true or false"),
    "drop_last": (lambda v: isinstance(v, bool), "true or false"),
    "eval_every": (_integer(1), "an integer >= 1"),
    "dtype": (lambda v: v in ("float32", "float64"), '"float32" or "float64"'),
    "device": (lambda v: isinstance(v, str), '"cpu" or "cuda"'),
    "slice": (lambda v: isinstance(v, list) and len(v) == 2 and _strings(v), "two parameter names"),
    "checkpoint": (_integer(0), "an epoch (an integer >= 0)"),
    "dataset": (lambda v: isinstance(v, str), 'a dataset: "digits", "mnist", "fashion-mnist"'),
    "schedules": (_strings, 'a list of schedules, e.g. ["cosine:T_max=10", "step:step_size=5"]'),
    "schedule_unit": (lambda v: v in ("step", "epoch"), '"step" or "epoch"'),
    "data_dir": (lambda v: isinstance(v, str), "a folder with the dataset's IDX files"),
}
CLAIM_KEYS: dict[str, Check] = {
    "text": (lambda v: isinstance(v, str), "a string"),
    "better": (lambda v: isinstance(v, str), "a row of the study (a regime or a label)"),
    "than": (lambda v: isinstance(v, str), "a row of the study (a regime or a label)"),
    "metric": (lambda v: v in ("distance", "train_loss"), '"distance" or "train_loss"'),
    "epoch": (_integer(0), "an epoch (an integer >= 0)"),
}
OPTIMIZER_KEYS = {"rule", "label", "sweep", "schedule"}


@dataclass
class Experiment:
    name: str
    title: str
    description: str
    kind: str  # surface | compare
    optimizers: list[OptimizerSpec]
    settings: dict[str, Any] = field(default_factory=dict)  # the study's keyword arguments
    claims: list[dict[str, Any]] = field(default_factory=list)
    # the run specs the settings give, made (and so checked) once, when the file is read:
    # one (task, specs) per surface, or one for a compare study
    plans: list[tuple[Any, list]] = field(default_factory=list, repr=False)

    @property
    def surfaces(self) -> list[str]:
        return list(self.settings.get("surfaces", []))


def recipes() -> list[str]:
    """The names of the experiments shipped with descend."""
    return sorted(
        p.name.removesuffix(".toml") for p in RECIPES.iterdir() if p.name.endswith(".toml")
    )


def title_of(name: str) -> str:
    """A shipped recipe's title, read without checking it (listing needs no data)."""
    data = tomllib.loads((RECIPES / f"{name}.toml").read_text())
    return str(data.get("title", name))


def load(name_or_file: str | Path, overrides: Mapping[str, Any] | None = None) -> Experiment:
    """A shipped recipe by name, or a TOML file, checked; `overrides` replace keys of
    its [study] table (`--set seeds=1`)."""
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
    return parse(text, name, where, overrides)


def parse(
    text: str, name: str, where: str, overrides: Mapping[str, Any] | None = None
) -> Experiment:
    locate = _Locator(text, where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise ExperimentError(f"{where}: not valid TOML: {problem}.") from None
    _check_keys(data, TOP_KEYS, (), locate)
    study = data.get("study", {})
    kind = study.get("kind", "compare" if "task" in study else "surface")
    allowed = COMPARE_KEYS if kind == "compare" else SURFACE_KEYS
    if overrides:
        study = _overridden(study, overrides, allowed, where)
    _check_keys(study, allowed, ("study",), locate)
    entries = data.get("optimizers", [])
    if not entries:
        raise locate.error(
            (), 'no [[optimizers]]: give at least one, e.g. [[optimizers]] rule = "sgd"'
        )
    optimizers = [spec for i, e in enumerate(entries) for spec in _optimizer_specs(e, i, locate)]
    claims = data.get("claims", [])
    for i, claim in enumerate(claims):
        _check_keys(claim, CLAIM_KEYS, ("claims", i), locate)
        for key in ("text", "better", "than"):
            if key not in claim:
                raise locate.error(("claims", i), f"missing key {key!r}")
    settings = {k: _tuples(v) for k, v in study.items() if k != "kind"}
    experiment = Experiment(
        name,
        data.get("title", name),
        data.get("description", ""),
        kind,
        optimizers,
        settings,
        claims,
    )
    _check_plan(experiment, locate)
    return experiment


def _overridden(
    study: dict, overrides: Mapping[str, Any], allowed: Mapping[str, Check], where: str
) -> dict:
    for key in overrides:
        if key not in allowed or key == "kind":
            keys = ", ".join(k for k in allowed if k != "kind")
            raise ExperimentError(
                f"--set {key}: {where} has no setting {key!r}.{did_you_mean(key, allowed)} "
                f"Allowed: {keys}."
            )
    return {**study, **overrides}


def _check_plan(experiment: Experiment, locate: _Locator) -> None:
    """Make the run specs once, without running them: every value is checked where it
    is used, and a mistake is located by the key it names. The plans are kept."""
    settings = dict(experiment.settings)
    try:
        if experiment.kind == "compare":
            if "task" not in settings:
                raise DescendError("missing key 'task' (a task with data)", key="task")
            chosen = {k: v for k, v in settings.items() if k in plans.COMPARE_PLAN_KEYS}
            experiment.plans = [plans.compare_plan(optimizers=experiment.optimizers, **chosen)]
            return
        surfaces = settings.pop("surfaces", None)
        if surfaces is None:
            raise DescendError(
                "missing key 'surfaces' (a list of surface names or formulas)", key="surfaces"
            )
        seeds = settings.pop("seed", 0)
        chosen = {k: v for k, v in settings.items() if k in plans.SURFACE_PLAN_KEYS}
        experiment.plans = [
            plans.surface_plan(
                surface,
                experiment.optimizers,
                seeds=[seeds] if isinstance(seeds, int) else list(seeds),
                **chosen,
            )
            for surface in surfaces
        ]
    except DescendError as problem:
        key = {"surface": "surfaces"}.get(problem.key or "", problem.key)
        key = key if key in experiment.settings or key in ("task", "surfaces") else None
        if key == "start" and "starts" in experiment.settings:
            key = "starts"
        raise locate.error(("study", key) if key else ("study",), str(problem)) from None


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
            own = entry.get("schedule")
            if own is not None:
                vocabulary.schedule(own, 1.0)  # (a misspelt schedule: located here)
            specs.append(OptimizerSpec(rule, hyper, _fill(label, hyper), own))  # checked
        except DescendError as problem:
            bad = problem.key or next(
                (k for k in hyper if f"{k!r}" in str(problem) or f" {k}" in str(problem)), None
            )
            key = "sweep" if bad in sweep else bad
            raise locate.error((*path, key) if key else path, str(problem)) from None
    return specs


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _fill(label: str | None, hyper: dict[str, Any]) -> str:
    """The label with {name} filled from the hyper-parameters; a name that is not one of
    them is refused, naming those that are."""
    if label is None:
        return ""
    for _, field_name, _, _ in string.Formatter().parse(label):
        if field_name is not None and field_name not in hyper:
            known = ", ".join("{" + k + "}" for k in hyper) or "none"
            raise DescendError(
                f"label {label!r} names {{{field_name}}}, which is not a hyper-parameter of "
                f"this optimizer (allowed: {known})",
                key="label",
            )
    return label.format(**hyper)


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
    if path[0] in ("optimizers", "claims"):
        index = path[1] if len(path) > 1 else None
        return (path[0], index), (path[2] if len(path) > 2 else None)
    if path[0] == "study":
        return ("study", None), (path[1] if len(path) > 1 else None)
    return "", path[0]


def _show_path(path: tuple) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts)
