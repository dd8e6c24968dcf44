"""Specs back from plain data: the inverse of `keys.canonical` and `RunSpec.content`.

The store keeps a run's spec as its canonical content (JSON); `spec_from_content` makes
the `RunSpec` again, with the same key. Canonical data lose a few distinctions that do not
change what a run computes (a tuple and a list, 1.0 and 1, `single` and `minibatch:1`):
sequences come back as tuples, which is how hyper-parameters such as `betas` are written,
and the words a user chose (label, tags, the regime's text) are kept beside the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from descend.engine.regimes import Regime
from descend.engine.runs import OptimizerSpec, RunSpec, TaskSpec
from descend.errors import DescendError


def plain(value: Any) -> Any:
    """Canonical data (`keys.canonical`) as Python values: tuples, floats, tensors,
    schedules and dicts again."""
    if isinstance(value, list):
        return tuple(plain(v) for v in value)
    if not isinstance(value, dict):
        return value  # None, bool, int, str
    if set(value) == {"float"}:
        return float(value["float"])  # repr round-trips, nan and inf included
    if set(value) == {"map"}:
        return {k: plain(v) for k, v in value["map"].items()}
    if set(value) == {"tensor", "shape", "values"}:
        dtype = getattr(torch, value["tensor"].removeprefix("torch."))
        return torch.tensor(value["values"], dtype=dtype).reshape(value["shape"])
    if set(value) == {"schedule", "params"}:
        from descend import schedules

        return schedules.get(value["schedule"], **plain(value["params"]))
    raise DescendError(f"Cannot read {value!r} back: it is not canonical plain data.")


def regime_from_content(content: Mapping[str, Any] | None) -> Regime | None:
    """The regime `Regime.content` describes (a batch of 1 reads back as `single`)."""
    if content is None:
        return None
    drop_last = bool(content["drop_last"])
    if content["batch"] == "all":
        return Regime("full", drop_last=drop_last)
    if content["batch"] == 1:
        return Regime("single", None, content["order"], drop_last)
    return Regime("minibatch", int(content["batch"]), content["order"], drop_last)


def spec_from_content(
    content: Mapping[str, Any],
    *,
    label: str = "",
    tags: Mapping[str, Any] | None = None,
    regime: str | None = None,
    task_params: Mapping[str, Any] | None = None,
) -> RunSpec:
    """The `RunSpec` whose `content()` (canonical or not) is `content`.

    label, tags: the presentation a study gave the run; regime: its text as written
    ('minibatch:1:shuffle' rather than 'single'); task_params: the task's parameters as
    written (with a data folder, which content leaves out). None of them changes the key.
    """
    data = _decoded(content)
    task = data["task"]
    params = dict(task_params) if task_params is not None else dict(task["params"])
    optimizer = data["optimizer"]
    budget = data["budget"]
    chosen = Regime.parse(regime) if regime is not None else regime_from_content(data["regime"])
    epochs = budget["epochs"]
    return RunSpec(
        TaskSpec(task["name"], params),
        OptimizerSpec(optimizer["rule"], dict(optimizer["hyperparams"]), label),
        updates=None if epochs is not None else budget["updates"],
        epochs=epochs,
        regime=chosen,
        start=data["start"],
        seed=data["seed"],
        init_seed=data["init_seed"],
        gradient_noise=float(data["gradient_noise"]),
        dtype=data["dtype"],
        eval_every=data["eval_every"] if data["eval_every"] is not None else 1,
        tags=dict(tags or {}),
    )


def _decoded(content: Mapping[str, Any]) -> dict[str, Any]:
    """Content either as `RunSpec.content()` gives it or as canonical JSON read back."""
    if set(content) == {"map"}:
        return plain(dict(content))
    return dict(content)
