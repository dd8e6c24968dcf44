"""The words of an experiment, read the same way from the CLI, TOML files and Python.

    optimizer   "sgd:momentum=0.9,label=heavy ball"  or an OptimizerSpec
    lr          0.1 | "0.01,0.1,1" | "1e-3:1:13" (13 log-spaced) | [0.01, 0.1] | None
    seeds       a count (3 -> seeds 0, 1, 2) or a list of seeds
    regime      "full" | "single" | "minibatch:25:fixed" | a Regime
    schedule    "cosine:T_max=50" (its lr defaults to the run's lr) | a Schedule
    task        "anisotropic:kappa=100" | "quadratic-regression:n=200" | a formula | a TaskSpec

Each word is checked here, once, and becomes the spec object the engine takes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from descend import checks, optim, schedules, tasks
from descend.engine import OptimizerSpec, Regime, TaskSpec
from descend.errors import DescendError, UnknownNameError
from descend.experiments.calls import is_name, parse_call, split_top_level
from descend.plateau import ReduceOnPlateau
from descend.tasks import surfaces
from descend.tasks.formula import looks_like_name

LR_FORMS = "a number, 0.01,0.1,1 (a list), or low:high:count (log-spaced)"


def optimizer(value: str | OptimizerSpec) -> OptimizerSpec:
    """'sgd:momentum=0.9,label=heavy ball' -> OptimizerSpec (checked)."""
    if isinstance(value, OptimizerSpec):
        return value
    if not isinstance(value, str):
        raise DescendError(
            f"Invalid optimizer: {value!r} (allowed: a call such as 'sgd:momentum=0.9', or "
            "an OptimizerSpec).",
            key="optimizer",
        )
    rule, values = parse_call(value)
    label = values.pop("label", None)
    own = values.pop("schedule", None)
    if isinstance(values.get("lr"), str):  # lr=cosine:T_max=10 or lr=cosine(T_max=10)
        if own is not None:
            raise DescendError(
                f"{value!r} gives two schedules (lr=... and schedule=...): give one.",
                key="schedule",
            )
        own = values.pop("lr")
    if own is not None:
        schedule(own, 1.0)  # checked now: a misspelt schedule fails before any study
    return OptimizerSpec(rule, values, "" if label is None else str(label), own)


def lrs(value: Any) -> list[float | None]:
    """The learning rates of a study: [None] (each rule's own), one, or a sweep."""
    if value is None:
        return [None]
    if isinstance(value, str):
        return _lrs_from_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [_one_lr(value)]
    try:
        values = [_one_lr(v) for v in value]
    except TypeError:
        raise DescendError(f"Invalid lr: {value!r} (allowed: {LR_FORMS}).", key="lr") from None
    if not values:
        raise DescendError(f"Invalid lr: an empty list (allowed: {LR_FORMS}).", key="lr")
    return values


def _lrs_from_text(text: str) -> list[float | None]:
    try:
        if ":" in text:
            low, high, count = text.split(":")
            low_lr, high_lr, n = _one_lr(float(low)), _one_lr(float(high)), int(count)
            if n < 1 or low_lr <= 0 or high_lr <= 0:
                raise ValueError
            if n == 1:
                return [low_lr]
            step = (math.log10(high_lr) - math.log10(low_lr)) / (n - 1)
            return [10 ** (math.log10(low_lr) + i * step) for i in range(n)]
        values = [_one_lr(float(v)) for v in text.split(",") if v.strip()]
    except (ValueError, DescendError):
        raise DescendError(f"Invalid lr: {text!r} (allowed: {LR_FORMS}).", key="lr") from None
    if not values:
        raise DescendError(f"Invalid lr: {text!r} (allowed: {LR_FORMS}).", key="lr")
    return list(values)


def _one_lr(value: Any) -> float:
    return checks.number("lr", value, low=0.0)


def seeds(value: int | Sequence[int], first: int = 0) -> list[int]:
    """A count of seeds (first, first+1, ...) or the seeds themselves."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = checks.integer("seeds", value, low=1)
        return list(range(first, first + count))
    try:
        chosen = [checks.integer("seed", s) for s in value]
    except TypeError:
        raise DescendError(
            f"Invalid seeds: {value!r} (allowed: a count >= 1 or a list of integers).",
            key="seeds",
        ) from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise DescendError(
            f"Invalid seeds: {value!r} (allowed: a count >= 1 or a list of distinct integers).",
            key="seeds",
        )
    return chosen


def regime(value: str | Regime) -> Regime:
    return value if isinstance(value, Regime) else Regime.parse(value)


def schedule(value: str | schedules.Schedule, lr: float) -> schedules.Schedule:
    """A schedule; written as text ("cosine:T_max=10" or "cosine(T_max=10,eta_min=0.01)"),
    its lr defaults to the run's `lr`."""
    if isinstance(value, schedules.Schedule):
        return value
    with blame("schedule"):
        name, params = parse_call(_call_form(str(value)))
        if name not in schedules.SCHEDULES or "lr" in schedules.SCHEDULES.defaults(name):
            params = {"lr": lr, **params}  # (sequential has none: its parts carry theirs)
        # schedules made of schedules: warmup(..., then=cosine(T_max=50)), sequential(...)
        inner_lr = params.get("lr", lr)
        if isinstance(params.get("then"), str):
            params["then"] = schedule(params["then"], inner_lr)
        parts = params.get("schedules")
        if isinstance(parts, str) and parts.startswith("[") and parts.endswith("]"):
            parts = split_top_level(parts[1:-1])  # a list of calls is no Python literal
        if isinstance(parts, (list, tuple)):
            params["schedules"] = [schedule(s, inner_lr) for s in parts]
        return schedules.get(name, **params)


def _call_form(text: str) -> str:
    """'cosine(T_max=10,eta_min=0.01)' -> 'cosine:T_max=10,eta_min=0.01' (the bracketed
    form lets a schedule's parameters sit inside an optimizer's: sgd:lr=cosine(...))."""
    text = text.strip()
    head, bracket, rest = text.partition("(")
    if bracket and rest.endswith(")") and is_name(head.strip()):
        return f"{head.strip()}:{rest[:-1]}"
    return text


def task(value: str | TaskSpec, kind: str = "task", build: bool = True) -> TaskSpec:
    """'anisotropic:kappa=100', 'quadratic-regression', or a formula in w1, w2 (checked:
    built once, which parses a formula once). `kind`: "surface" for the surface lab (an
    unknown name lists the surfaces), "task" for a task with data (lists those). build:
    False where settings still to come decide what it loads (a network's data_dir)."""
    if isinstance(value, TaskSpec):
        spec = value
    else:  # (a formula's syntax error names its column: the text, not a call)
        text = " ".join(str(value).split())
        head, colon, _ = text.partition(":")
        if colon and is_name(head.strip()):
            name, params = parse_call(text)
            spec = TaskSpec(name, params)
        else:
            spec = TaskSpec(text)
    if kind == "task" and spec.name not in tasks.names():
        if spec.name in surfaces.names() or not looks_like_name(spec.name):
            raise DescendError(
                f"{spec.name} is a surface with no data: use descend surface "
                f"(descend.surface). Tasks with data: {', '.join(tasks.names())}.",
                key="task",
            )
        raise UnknownNameError("task", spec.name, tasks.names())
    if kind == "surface" and spec.name in tasks.names():
        raise DescendError(
            f"{spec.name} is a task with data, not a surface: use descend compare "
            "(descend.compare).",
            key="surface",
        )
    if build:
        with blame(kind):
            spec.build()
    return spec


def labelled(entries: Sequence[OptimizerSpec], omit: set[str]) -> list[OptimizerSpec]:
    """Each optimizer with a unique label: the user's, or the rule and the settings the
    user gave it, less those in `omit` (a study's own lr); repeats get ' #2', ' #3'."""
    if not entries:
        raise DescendError(
            "No optimizer given (allowed: one or more of " + ", ".join(optim.names()) + ").",
            key="optimizers",
        )
    labels: list[str] = []
    for entry in entries:
        label = entry.label or _derived_label(entry, omit)
        n = sum(existing == label or existing.startswith(label + " #") for existing in labels)
        labels.append(label if n == 0 else f"{label} #{n + 1}")
    return [e.relabelled(label) for e, label in zip(entries, labels, strict=True)]


def _derived_label(entry: OptimizerSpec, omit: set[str]) -> str:
    kept = {k: v for k, v in entry.hyperparams.items() if k not in omit}
    label = optim.get(entry.rule, **kept).label if kept else entry.rule
    return label if entry.schedule is None else f"{label} {entry.schedule}"


def with_schedules(entries: Sequence[OptimizerSpec], chosen: Sequence[Any]) -> list[OptimizerSpec]:
    """Each optimizer once per schedule in `chosen` (none: as they are); an optimizer with
    a schedule of its own keeps it and is not multiplied."""
    if not chosen:
        return list(entries)
    for text in chosen:
        schedule(text, 1.0)  # checked now, before any study
    return [
        e
        if e.schedule is not None
        else replace(e, schedule=text, label=f"{e.label} {text}" if e.label else "")
        for e in entries
        for text in ([None] if e.schedule is not None else chosen)
    ]


def with_lr(
    entry: OptimizerSpec,
    lr: float | None,
    schedule_value: Any,
    *,
    sweeping: bool,
    updates_per_epoch: int | None = None,
) -> OptimizerSpec:
    """One run's optimizer: the study's lr (a spec's own lr wins, unless the study sweeps
    lr), then the optimizer's own schedule (else the study's) built around it, stepped
    every update, or every epoch when `updates_per_epoch` is given. The label stays."""
    hyper = dict(entry.hyperparams)
    if lr is not None and ("lr" not in hyper or sweeping):
        hyper["lr"] = lr
    chosen = entry.schedule if entry.schedule is not None else schedule_value
    if chosen is not None:
        base = hyper.get("lr", optim.hyperparameter_defaults(entry.rule)["lr"])
        built = schedule(chosen, base)
        if updates_per_epoch is not None:
            built = schedules.get("per_epoch", schedule=built, updates=updates_per_epoch)
        hyper["lr"] = built
    if hyper == dict(entry.hyperparams) and entry.schedule is None:
        return entry
    return OptimizerSpec(entry.rule, hyper, entry.label)


@contextlib.contextmanager
def blame(key: str) -> Iterator[None]:
    """Errors raised inside name `key` as the setting to blame, unless they name one."""
    try:
        yield
    except DescendError as problem:
        problem.key = problem.key or key
        raise


def with_data(spec: TaskSpec, dataset: str | None, data_dir: str | None) -> TaskSpec:
    """The task learning `dataset` from files in `data_dir` (a network task's settings)."""
    changes = {k: v for k, v in (("dataset", dataset), ("data_dir", data_dir)) if v is not None}
    if not changes:
        return task(spec)
    takes = tasks.defaults(spec.name)
    for key in changes:
        if key not in takes:
            raise DescendError(
                f"The task {spec.name} takes no {key} (it is not a network on a dataset; "
                "tasks that take one: convnet, mlp).",
                key=key,
            )
    return task(TaskSpec(spec.name, {**spec.params, **changes}))


def check_schedules(specs: Sequence[Any], steps: int, has_data: bool = False) -> None:
    """Refuse a schedule whose learning rate leaves float's range, or goes negative or
    NaN, within the run (exponential:gamma=10 over 400 steps reaches 1e+399): before
    any run, naming the step."""
    seen: set[int] = set()
    for spec in specs:
        lr = spec.build().hyperparams.get("lr")
        if isinstance(lr, ReduceOnPlateau) and not has_data:
            raise DescendError(
                "reduce_on_plateau needs a metric read at evaluations: a task with data "
                "(descend compare); a surface has none (allowed here: schedules of the step).",
                key="schedule",
            )
        if isinstance(lr, schedules.Schedule) and id(lr) not in seen:
            seen.add(id(lr))
            check_schedule(lr, steps)


def check_schedule(schedule: schedules.Schedule, steps: int) -> schedules.Schedule:
    for k in range(steps):
        value = schedule(k)
        numbers = value.reshape(-1).tolist() if hasattr(value, "reshape") else [value]
        if not all(math.isfinite(float(x)) and float(x) >= 0 for x in numbers):
            raise DescendError(
                f"Invalid schedule {schedule!r}: its learning rate is {value} at step {k} of "
                f"{steps} (allowed: a schedule whose lr stays finite and >= 0 over the run).",
                key="schedule",
            )
    return schedule
