"""reduce_on_plateau: the one schedule driven by a metric, as torch's ReduceLROnPlateau.

Every other schedule is a function of the step. This one lowers the lr when a metric
(the train or the test loss, read at each evaluation: every epoch by default) has stopped
improving: after more than `patience` evaluations without a relative (or absolute)
improvement beyond `threshold`, lr ← max(lr·factor, min_lr) (a change smaller than eps is
not made), then `cooldown` evaluations during which it waits. mode "max" is for a metric
that should grow (accuracy).

`ReduceOnPlateau` is plain data (its settings), so a spec holding it has a content key;
the engine makes one `PlateauState` per group of K runs (each run its own best, count and
lr, as K torch schedulers would) and feeds it the metric at each evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from descend.errors import HyperparameterError
from descend.optim.hyper import check_choice, check_int, check_lr, check_range

METRICS = ("train_loss", "test_loss", "test_accuracy")


@dataclass(frozen=True)
class ReduceOnPlateau:
    name: str = field(default="reduce_on_plateau", init=False)
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, step: int) -> float:
        """Before any evaluation: the starting lr (what the rule checks it with)."""
        return self.params["lr"]

    def state(self, runs: int, device: torch.device) -> PlateauState:
        return PlateauState(self, runs, device)

    def __repr__(self) -> str:
        return f"reduce_on_plateau({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def __hash__(self) -> int:  # (runs are grouped by their plateau's settings)
        return hash(repr(self))


def reduce_on_plateau(
    lr: float,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
    metric: str = "train_loss",
) -> ReduceOnPlateau:
    """torch's ReduceLROnPlateau (its names and defaults), reading `metric` at each
    evaluation of a task with data."""
    check_lr(lr)
    check_choice("mode", mode, ("min", "max"))
    check_range("factor", factor, 0.0, 1.0, high_open=True)
    check_int("patience", patience, 0)
    check_range("threshold", threshold, 0.0)
    check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
    check_int("cooldown", cooldown, 0)
    check_range("min_lr", min_lr, 0.0)
    check_range("eps", eps, 0.0)
    check_choice("metric", metric, METRICS)
    if isinstance(lr, Tensor) or callable(lr):
        raise HyperparameterError("reduce_on_plateau takes one starting lr, a number.")
    return ReduceOnPlateau(params=dict(locals()))


class PlateauState:
    """The lr of K runs under one ReduceOnPlateau: `state(step)` is their lrs (K,);
    `observe(metric)` after each evaluation is torch's scheduler.step(metric), run-wise."""

    def __init__(self, plateau: ReduceOnPlateau, runs: int, device: torch.device):
        self.p = plateau.params
        worst = math.inf if self.p["mode"] == "min" else -math.inf
        kind = dict(dtype=torch.float64, device=device)
        self.lr = torch.full((runs,), float(self.p["lr"]), **kind)
        self.best = torch.full((runs,), worst, **kind)
        self.bad = torch.zeros(runs, dtype=torch.long, device=device)
        self.cooling = torch.zeros(runs, dtype=torch.long, device=device)

    @property
    def metric(self) -> str:
        return self.p["metric"]

    def __call__(self, step: int) -> Tensor:
        return self.lr

    def observe(self, value: Tensor) -> None:
        value = value.to(self.lr)
        better = self._better(value)
        self.best = torch.where(better, value, self.best)
        self.bad = torch.where(better, 0, self.bad + 1)
        cooling = self.cooling > 0
        self.cooling = torch.where(cooling, self.cooling - 1, self.cooling)
        self.bad = torch.where(cooling, 0, self.bad)
        reduce = self.bad > self.p["patience"]
        lowered = torch.clamp(self.lr * self.p["factor"], min=self.p["min_lr"])
        self.lr = torch.where(reduce & (self.lr - lowered > self.p["eps"]), lowered, self.lr)
        self.cooling = torch.where(reduce, self.p["cooldown"], self.cooling)
        self.bad = torch.where(reduce, 0, self.bad)

    def _better(self, value: Tensor) -> Tensor:
        t, best = self.p["threshold"], self.best
        if self.p["mode"] == "min":
            bar = best * (1 - t) if self.p["threshold_mode"] == "rel" else best - t
            return value < bar
        bar = best * (1 + t) if self.p["threshold_mode"] == "rel" else best + t
        return value > bar
