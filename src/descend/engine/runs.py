"""Run specs (what to run) and run results (what happened).

A run is one optimizer, with its hyper-parameters, minimising one task from one start
for a budget of updates. Specs are plain frozen data: the engine groups those that can
share one computation and returns one `RunResult` per spec, in the order given.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from descend import optim
from descend.errors import DescendError
from descend.tasks.surfaces import Surface


@dataclass(frozen=True)
class OptimizerSpec:
    """A rule by name, its hyper-parameters (lr may be a schedule), and a label."""

    rule: str
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None  # the label a user chose; derived from the spec otherwise

    @cached_property
    def optimizer(self) -> optim.Optimizer:
        """The rule with every hyper-parameter filled in (validated once, then cached)."""
        return optim.get(self.rule, **self.hyperparams)

    @property
    def label(self) -> str:
        return self.name or self.optimizer.label


@dataclass(frozen=True)
class RunSpec:
    """One run: a task, an optimizer, a start, a budget.

    `start` is the initial point of a low-dimensional task (a surface); `seed` drives
    everything random in the run (gradient noise now; initial weights and data order for
    the tasks to come). `gradient_noise` is σ of Gaussian noise added to every gradient.
    """

    task: Surface
    optimizer: OptimizerSpec
    steps: int
    start: tuple[float, ...]
    seed: int = 0
    gradient_noise: float = 0.0
    tags: Mapping[str, Any] = field(default_factory=dict)  # free-form: sweep values, ...

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise DescendError(f"Invalid steps: {self.steps!r} (allowed: an integer >= 1).")
        if not self.gradient_noise >= 0:
            raise DescendError(
                f"Invalid gradient_noise: {self.gradient_noise!r} (allowed: a number >= 0)."
            )
        if len(self.start) != 2:
            raise DescendError(
                f"Invalid start: {self.start!r} (allowed: a point (w1, w2) of the surface)."
            )
        if self.gradient_noise > 0 and not isinstance(self.optimizer.optimizer, optim.Elementwise):
            raise DescendError(
                f"{self.optimizer.rule} computes its own gradients: gradient_noise must be 0."
            )

    @property
    def label(self) -> str:
        return self.optimizer.label


@dataclass
class RunResult:
    """What one run recorded.

    trajectory (steps+1, dim) and loss (steps+1,) hold the start and the point after every
    update; lr (steps,) the learning rate of every update. If the run diverged at step t
    (its loss became non-finite or exceeded 1e6·max(|f(start)|, 1)), it was frozen there:
    entry t holds the point and loss that diverged, later entries are NaN.
    """

    spec: RunSpec
    trajectory: Tensor
    loss: Tensor
    lr: Tensor
    diverged_at: int | None
    wall_time: float  # seconds: this run's share of its group's time, evaluation excluded

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def last_step(self) -> int:
        """The index of the last point recorded with a finite loss."""
        finite = torch.isfinite(self.loss).nonzero()
        return int(finite[-1]) if len(finite) else 0

    @property
    def final_point(self) -> Tensor:  # (dim,)
        if self.diverged_at is not None:
            return self.trajectory[max(self.diverged_at - 1, 0)]
        return self.trajectory[-1]

    @property
    def final_loss(self) -> float:
        """The loss at the end, or inf for a run that diverged."""
        return math.inf if self.diverged else float(self.loss[-1])


class Results(Sequence[RunResult]):
    """The results of many runs, in the order of their specs."""

    def __init__(self, runs: Sequence[RunResult]):
        self._runs = list(runs)

    def __getitem__(self, index):  # type: ignore[override]
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self._runs)

    def labels(self) -> list[str]:
        """The distinct labels, in order of first appearance."""
        return list(dict.fromkeys(run.label for run in self._runs))

    def by_label(self) -> dict[str, list[RunResult]]:
        groups: dict[str, list[RunResult]] = {}
        for run in self._runs:
            groups.setdefault(run.label, []).append(run)
        return groups

    def stack(self, name: str) -> Tensor:
        """One field (trajectory, loss, lr) of every run, stacked: (runs, ...)."""
        return torch.stack([getattr(run, name) for run in self._runs])
