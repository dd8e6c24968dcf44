"""Run specs (what to run), the task protocol, and run results (what happened).

A run is one optimizer, with its hyper-parameters, minimising one task from one start
for a budget of updates. Specs are plain frozen data: the engine groups those that can
share one computation and returns one `RunResult` per spec, in the order given.

The engine knows a task only through `Task`: the parameters a run starts from, and the
losses of K runs' stacked parameters at a step. An analytic surface ignores the step; a
dataset task will use it (with each run's seed) to pick that step's batch under its data
regime, and will add evaluations, which results already have room for.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from descend import optim
from descend.errors import DescendError


@runtime_checkable
class Task(Protocol):
    """What the engine minimises (descend.tasks.surfaces.Surface is one)."""

    name: str

    def initial_params(self, spec: RunSpec) -> dict[str, Tensor]:
        """One run's parameters before its first update (from its start or its seed)."""
        ...

    def losses(self, params: Mapping[str, Tensor], specs: Sequence[RunSpec], step: int) -> Tensor:
        """The K losses (K,) of the runs `specs`, whose parameters are stacked (K, ...)."""
        ...


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

    task: Task
    optimizer: OptimizerSpec
    steps: int
    start: tuple[float, ...] | None = None
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

    loss (steps+1,) holds the loss at the start and after every update, and trajectory
    (steps+1, dim) the parameters, flattened, for tasks small enough to keep them all (a
    surface: dim = 2; None otherwise); lr (steps,) the learning rate of every update. If
    the run diverged at step t (its loss became non-finite or exceeded
    1e6·max(|f(start)|, 1)), it was frozen there: entry t holds the point and loss that
    diverged, later entries are NaN. `evaluations` holds what a task measures besides the
    loss (per epoch: test loss, accuracy, ...), by name.
    """

    spec: RunSpec
    trajectory: Tensor | None
    loss: Tensor
    lr: Tensor
    diverged_at: int | None
    wall_time: float  # seconds: this run's share of its group's time, evaluation excluded
    evaluations: dict[str, Tensor] = field(default_factory=dict)

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
        if self.trajectory is None:
            raise ValueError("This run kept no trajectory (its task has too many parameters).")
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
