"""The range test in the store: a study of kind "lr-find" with no runs, whose curves are
kept in its settings as plain lists (JSON, no pickle).

Its name is `lr-find/<task>/<optimizer>`, each written as a call with its parameters
sorted: `lr-find/digits-mlp/adam`, `lr-find/digits-convnet/sgd:momentum=0.9`. So the
store keeps one range test per task and optimizer (as it keeps one compare study per
name): asked again with the same settings (all but the device), the test is read back,
not run; asked with others, it runs and replaces the stored one. Only an optimizer
given as text ('adam', 'sgd:momentum=0.9') is stored: a Python object has no text by
which to find it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from descend.engine import Results, TaskSpec
from descend.engine.keys import canonical
from descend.engine.plain import plain
from descend.lrfind import curves
from descend.lrfind.result import LRFindResult, SeedCurve
from descend.store import Store, StoreError, StudyRecord, register_study_kind
from descend.tasks import WHERE_NOT_WHAT

KIND = "lr-find"
SWEEP = ("start", "end", "steps", "mode", "smooth", "diverge", "batch_size")
FOUND = ("curves", "what", "provenance")  # what the test found, not what it was asked


def asked(
    store: Store | None,
    task: TaskSpec,
    optimizer: Any,
    seeds: Sequence[int],
    init_seed: int,
    sweep: Mapping[str, Any],
) -> dict[str, Any] | None:
    """What the range test is asked, as the store compares it; None without a store, or
    (said on the store's channel) for an optimizer that is not text."""
    if store is None:
        return None
    if not isinstance(optimizer, str):
        store.say(
            "The range test cannot be stored (its optimizer is a Python object, not text "
            "such as 'adam'): it runs, and is not kept"
        )
        return None
    from descend.experiments import vocabulary

    rule = vocabulary.optimizer(optimizer)
    params = {k: v for k, v in task.params.items() if k not in WHERE_NOT_WHAT}
    return {
        "task": _call(task.name, params),
        "optimizer": _call(rule.rule, rule.hyperparams),  # (a label changes no number)
        "seeds": list(seeds),
        "init_seed": init_seed,
        **{k: sweep[k] for k in SWEEP},
    }


def study_name(settings: Mapping[str, Any]) -> str:
    return f"{KIND}/{settings['task']}/{settings['optimizer']}"


def find(store: Store, settings: Mapping[str, Any]) -> LRFindResult | None:
    """The stored range test asked with exactly these settings, or None (it must run)."""
    name = study_name(settings)
    if store.rerun:
        store.say(f"--rerun: the range test {name} runs again, replacing any stored")
        return None
    record = store.find_study(name)
    if record is not None and record.kind != KIND:
        raise StoreError(
            f"The store {str(store.path)!r} has a {record.kind} study named {name!r}: the "
            "range test cannot be kept under that name; give another store with --store "
            "PATH, or keep nothing with --no-store."
        )
    same = record is not None and _asked_part(record.settings) == plain(canonical(settings))
    if record is not None and same:
        store.say(f"The range test {name} found in the store, not run again (--rerun: run it)")
        return load(record, Results([]))
    replacing = ", replacing the stored one (other settings)" if record is not None else ""
    store.say(f"The range test {name} is not in the store: it runs{replacing}")
    return None


def keep(store: Store, settings: Mapping[str, Any], result: LRFindResult) -> None:
    """Write the finished test (one transaction); `result` takes the study's name."""
    result.name = study_name(settings)
    found = {
        "curves": {
            "lrs": result.lrs.tolist(),
            "raw": [c.raw.tolist() for c in result.curves],  # per seed, as long as it went
            "stopped": [c.stopped for c in result.curves],
        },
        "what": result.what,
        "provenance": result.provenance,
    }
    record = StudyRecord(result.name, KIND, {**settings, **found}, result.title, result.description)
    store.keep_study(record)


def load(record: StudyRecord, results: Results) -> LRFindResult:
    """The LRFindResult the test returned, from its record (it has no runs: `results`
    is empty). The smoothed curves are recomputed from the raw ones, as the test did."""
    settings = record.settings
    smooth, kept = float(settings["smooth"]), settings["curves"]
    raws = [np.array(raw, dtype=np.float64) for raw in kept["raw"]]  # (n_seed,) each
    seed_curves = [
        SeedCurve(int(seed), raw, curves.smoothed(raw, smooth), str(stopped))
        for seed, raw, stopped in zip(settings["seeds"], raws, kept["stopped"], strict=True)
    ]
    diverge = settings["diverge"]
    return LRFindResult(
        lrs=np.array(kept["lrs"], dtype=np.float64),
        curves=seed_curves,
        mode=settings["mode"],
        smooth=smooth,
        diverge=None if diverge is None else float(diverge),
        title=record.title,
        what=settings["what"],
        name=record.name,
        provenance=[dict(r) for r in settings["provenance"]],
    )


def _asked_part(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in FOUND}


def _call(name: str, params: Mapping[str, Any]) -> str:
    """'sgd:momentum=0.9,nesterov=true': parameters sorted, as a call is written."""
    args = ",".join(f"{k}={_value(v)}" for k, v in sorted(params.items()))
    return f"{name}:{args}" if args else name


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_value(v) for v in value) + ")"
    return str(value)  # (a float's str is its repr: exact)


register_study_kind(KIND, load)
