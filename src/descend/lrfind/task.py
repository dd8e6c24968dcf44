"""`lr_find_task`: the range test on a descend network task, kept in a store if given
one (`descend.lrfind.stored`)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional

from descend import checks
from descend.engine import TaskSpec
from descend.engine.backends import check_device
from descend.engine.runs import stream_seed
from descend.errors import DescendError
from descend.lrfind import stored
from descend.lrfind.result import LRFindResult
from descend.lrfind.run import checked_settings, lr_find, optimizer_name, seed_list_of
from descend.store import Store

# lr_find's settings that lr_find_task passes on, with their defaults
TASK_SETTINGS = {
    name: p.default
    for name, p in inspect.signature(lr_find).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name not in ("seeds", "title")
}


def lr_find_task(
    task: str = "digits-convnet",
    optimizer: Any = "adam",
    *,
    seeds: int | Sequence[int] = 3,
    init_seed: int = 0,
    data_dir: str | None = None,
    store: Store | None = None,
    **settings: Any,
) -> LRFindResult:
    """The range test on a descend network task (digits-convnet, mnist-convnet,
    digits-mlp, ...): its network with the initial weights of `init_seed` (those of
    descend.compare's run of that seed), its training split, mean NLL as the loss.

    optimizer: 'sgd:momentum=0.9' (a given lr is replaced by the sweep's), a descend
    rule, or any form `lr_find` takes. settings: lr_find's keywords (start, end, ...).
    store: a `descend.open_store()`: a test it holds with the same settings (all but the
    device) is read back, not run; else the test runs and is kept, as the study
    lr-find/<task>/<optimizer> (`descend.lrfind.stored`; an optimizer given as text only).
    """
    from descend.experiments import vocabulary

    checks.integer("init_seed", init_seed)
    options = _task_settings(settings)
    seed_list = seed_list_of(seeds)
    spec = vocabulary.task(task)
    if data_dir is not None:
        spec = type(spec)(spec.name, {**spec.params, "data_dir": data_dir})
    rule = _rule(optimizer) if isinstance(optimizer, str) else optimizer
    asked = stored.asked(store, spec, optimizer, seed_list, init_seed, options)
    if store is not None and asked is not None:  # (None: nothing to look up or keep)
        found = stored.find(store, asked)
        if found is not None:
            return found
    result = _on_task(spec, rule, seed_list, init_seed, options)
    if store is not None and asked is not None:
        stored.keep(store, asked, result)
    return result


def _task_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """lr_find's settings, defaults filled in, checked before the store is looked in."""
    unknown = sorted(set(settings) - set(TASK_SETTINGS))
    if unknown:
        raise TypeError(f"lr_find_task() got an unexpected keyword argument {unknown[0]!r}")
    full = {**TASK_SETTINGS, **settings}
    checked_settings(**{k: full[k] for k in stored.SWEEP})
    check_device(full["device"])
    return full


def _on_task(
    spec: TaskSpec, rule: Any, seeds: list[int], init_seed: int, settings: dict[str, Any]
) -> LRFindResult:
    """The test run on the task's network, from the initial weights of `init_seed`."""
    built = spec.build()
    if not hasattr(built, "make_network"):
        raise DescendError(
            f"Invalid task: {spec.name} has no network to copy (allowed: a network task, "
            "e.g. digits-convnet, digits-mlp, mnist-convnet).",
            key="task",
        )
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG is left alone
        torch.manual_seed(stream_seed(init_seed, "init"))
        model = built.make_network()
    name = getattr(rule, "label", optimizer_name(rule))
    result = lr_find(
        model, functional.nll_loss, (built.data.train_x, built.data.train_y), rule, seeds=seeds,
        title=f"Learning-rate range test: {name} on {spec}", **settings,
    )  # fmt: skip
    result.what = (
        f"{built.description}. Initial weights of seed {init_seed} (as descend.compare's "
        f"run of seed {init_seed}); loss: mean NLL of the batch. {result.what}"
    )
    for record in result.provenance:
        record["init_seed"] = init_seed
    return result


def _rule(text: str) -> Any:
    """'sgd:momentum=0.9' -> the rule; an lr in it would be silently overridden: refused."""
    from descend.experiments import vocabulary

    spec = vocabulary.optimizer(text)
    if "lr" in spec.hyperparams:
        raise DescendError(
            f"Invalid optimizer {text!r}: the range test sweeps the lr, so leave it out "
            f"(allowed: e.g. '{spec.rule}'; the sweep runs from start to end).",
            key="optimizer",
        )
    return spec.build()
