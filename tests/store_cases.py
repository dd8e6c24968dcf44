"""Small studies and comparisons the store tests share."""

from __future__ import annotations

from typing import Any

import torch

import descend
from descend.engine import RunResult

TENSORS = ("loss", "lr", "evaluated_at", "epoch_seconds")
GROUPS = ("evaluations", "initial_params", "final_params")


def small_compare(store: Any, seeds: int = 3, **changes: Any) -> descend.CompareStudy:
    """Two regimes, `seeds` seeds: two run groups of quadratic regression, in float64."""
    settings: dict[str, Any] = {
        "regimes": ["full", "minibatch:25:shuffle"],
        "epochs": 4,
        "seeds": seeds,
        "dtype": "float64",
        "name": "small",
        "store": store,
    }
    return descend.compare("quadratic-regression", ["sgd:lr=1e-3"], **{**settings, **changes})


def small_surface(store: Any, **changes: Any) -> descend.SurfaceStudy:
    settings: dict[str, Any] = {"lr": 0.1, "steps": 20, "store": store}
    return descend.surface("anisotropic", ["sgd", "sgd:momentum=0.9"], **{**settings, **changes})


def same_result(a: RunResult, b: RunResult) -> bool:
    """Every recorded number equal (NaN equal to NaN), every name and setting equal."""
    pairs = [(getattr(a, n), getattr(b, n)) for n in TENSORS]
    for group in GROUPS:
        x, y = getattr(a, group), getattr(b, group)
        if list(x) != list(y):
            return False
        pairs += [(x[k], y[k]) for k in x]
    if (a.trajectory is None) != (b.trajectory is None):
        return False
    if a.trajectory is not None:
        pairs.append((a.trajectory, b.trajectory))
    scalars = ("diverged_at", "wall_time", "param_names", "group_size", "device", "threads")
    return all(_equal(x, y) for x, y in pairs) and all(
        getattr(a, n) == getattr(b, n) for n in scalars
    )


def same_numbers(a: RunResult, b: RunResult) -> bool:
    """What the run computed equal (not its timing or grouping): its losses, rates and
    parameters exactly; its evaluations to 1e-12, since a distance to a task's optimum
    depends on that optimum, which another process may solve in another order of sums."""
    pairs = [(a.loss, b.loss), (a.lr, b.lr)]
    pairs += [(a.final_params[k], b.final_params[k]) for k in a.final_params]
    close = all(
        torch.allclose(a.evaluations[k], b.evaluations[k], rtol=1e-12, atol=1e-12)
        for k in a.evaluations
    )
    same_names = list(a.evaluations) == list(b.evaluations)
    return (
        a.diverged_at == b.diverged_at
        and same_names
        and close
        and all(_equal(x, y) for x, y in pairs)
    )


def _equal(x: torch.Tensor, y: torch.Tensor) -> bool:
    return (
        x.dtype == y.dtype
        and x.shape == y.shape
        and torch.equal(x.nan_to_num(7.5), y.nan_to_num(7.5))
    )
