"""What runs recorded: one `RunResult` per spec, and `Results`, a sequence of them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from descend.engine.runs import RunSpec
from descend.errors import DescendError

UNITS = ("updates", "epochs", "examples")


@dataclass
class RunResult:
    """What one run recorded (on the CPU, whatever device it ran on).

    loss: for a task without data, f at the start and after every update (U+1,); for a
    task with data, the batch loss of every update, taken before it (U,). lr (U,): the
    learning rate of every update. trajectory (U+1, dim): every iterate, flattened in the
    order of `param_names`, for runs of at most 16 numbers (None otherwise).
    evaluations: per evaluation point (every `eval_every` epochs, the start and the end),
    by name ("train_loss" on all training data, a test split's metrics), (E,) each, with
    `evaluated_at` (E,) the updates made by then. epoch_seconds: the wall time of each
    epoch, evaluation excluded, this run's share of its group (`group_size` runs).
    A run that diverged at update t (its loss non-finite or above 1e6·max(|first loss|,
    1)) was frozen there: later entries are NaN and its parameters stopped changing.
    """

    spec: RunSpec
    trajectory: Tensor | None
    loss: Tensor
    lr: Tensor
    diverged_at: int | None
    wall_time: float  # seconds: this run's share of its group's time, evaluation excluded
    evaluations: dict[str, Tensor] = field(default_factory=dict)
    evaluated_at: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    epoch_seconds: Tensor = field(default_factory=lambda: torch.zeros(0))
    update_seconds: float = float("nan")  # per update: this run's share of the rule's step
    initial_params: dict[str, Tensor] = field(default_factory=dict)
    final_params: dict[str, Tensor] = field(default_factory=dict)
    param_names: tuple[str, ...] = ()
    group_size: int = 1
    device: str = "cpu"
    threads: int = 1  # torch's intra-op threads the group ran on (see engine.threads)

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def has_data(self) -> bool:
        return self.spec.regime is not None

    @property
    def updates(self) -> int:
        """Updates made: the budget, or up to the one that diverged."""
        return self.spec.steps if self.diverged_at is None else self.diverged_at

    @property
    def last_step(self) -> int:
        """The index of the last point recorded with a finite loss."""
        finite = torch.isfinite(self.loss).nonzero()
        return int(finite[-1]) if len(finite) else 0

    @property
    def final_point(self) -> Tensor:  # (dim,)
        if self.trajectory is None:
            raise DescendError("This run kept no trajectory (its task has too many parameters).")
        if self.diverged_at is not None:
            return self.trajectory[max(self.diverged_at - 1, 0)]
        return self.trajectory[-1]

    @property
    def final_loss(self) -> float:
        """The loss at the end (on all training data, for a task with data); inf for a
        run that diverged."""
        if self.diverged:
            return math.inf
        if "train_loss" in self.evaluations:
            return float(self.evaluations["train_loss"][-1])
        return float(self.loss[-1])

    def along(self, unit: str, updates: Tensor) -> Tensor:
        """Update counts expressed in `unit`: updates, epochs, or examples seen."""
        if unit not in UNITS:
            raise DescendError(f"Invalid unit: {unit!r} (allowed: {', '.join(UNITS)}).")
        updates = updates.to(torch.float64)
        if unit == "updates" or self.spec.regime is None:
            return updates
        per_epoch = self.spec.updates_per_epoch or 1
        if unit == "epochs":
            return updates / per_epoch
        examples = self.spec.built_task.examples or 0
        sizes = torch.tensor(self.spec.regime.batch_sizes(examples), dtype=torch.float64)
        seen_in_epoch = torch.cat([torch.zeros(1, dtype=torch.float64), sizes.cumsum(0)])
        whole, within = updates.div(per_epoch, rounding_mode="floor"), updates % per_epoch
        return whole * seen_in_epoch[-1] + seen_in_epoch[within.long()]


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
