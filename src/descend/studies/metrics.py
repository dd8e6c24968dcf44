"""What a compare study measures of each run, by name: how it is read off the run, how it
is shown, and which way is better.

A run that diverged has no final loss, distance or accuracy: +inf for losses and
distances (so "diverged" sorts last), NaN for accuracy; statistics leave both out and
count the run as diverged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from descend.analysis.training import settled_at
from descend.engine import RunResult
from descend.errors import DescendError


@dataclass(frozen=True)
class Metric:
    name: str  # as tables show it
    read: Callable[[RunResult, int | None], float]  # (run, epoch or None: the end) -> value
    lower_is_better: bool = True
    csv: str = ""  # its column stem in summary.csv / runs.csv


def evaluation(name: str) -> Callable[[RunResult, int | None], float]:
    """A value the task measured at its evaluations: at the end, or after `epoch` epochs."""

    def read(run: RunResult, epoch: int | None) -> float:
        if run.diverged:
            return math.nan if name == "test_accuracy" else math.inf
        values = run.evaluations[name]
        if epoch is None:
            return float(values[-1])
        per_epoch = run.spec.updates_per_epoch or 1
        where = (run.evaluated_at == epoch * per_epoch).nonzero()
        if not len(where):
            raise DescendError(
                f"No evaluation after epoch {epoch} (evaluated every {run.spec.eval_every} "
                f"epoch(s)).",
                key="checkpoint",
            )
        return float(values[int(where[0])])

    return read


def _epoch_time(run: RunResult, epoch: int | None) -> float:
    whole = run.epoch_seconds[: run.spec.epochs or len(run.epoch_seconds)]
    return statistics.median(whole.tolist()) if len(whole) else math.nan


def _step_time(run: RunResult, epoch: int | None) -> float:
    return run.update_seconds * 1e3


def _settled(run: RunResult, epoch: int | None) -> float:
    if run.diverged:
        return math.nan
    at = settled_at(run.loss)
    return math.nan if at is None else float(at)


def _best_accuracy(run: RunResult, epoch: int | None) -> float:
    if run.diverged or "test_accuracy" not in run.evaluations:
        return math.nan
    return float(run.evaluations["test_accuracy"].max())


def _best_epoch(run: RunResult, epoch: int | None) -> float:
    """The epoch after which the test accuracy was at its best (the first, in a tie)."""
    if run.diverged or "test_accuracy" not in run.evaluations:
        return math.nan
    at = int(run.evaluations["test_accuracy"].argmax())
    return float(run.along("epochs", run.evaluated_at[at : at + 1])[0])


METRICS = {
    "train_loss": Metric("final loss", evaluation("train_loss"), csv="final_loss"),
    "distance": Metric("distance to optimum", evaluation("distance"), csv="distance"),
    "test_loss": Metric("test loss", evaluation("test_loss"), csv="test_loss"),
    "test_accuracy": Metric(
        "test accuracy", evaluation("test_accuracy"), lower_is_better=False, csv="test_accuracy"
    ),
    "best_accuracy": Metric(
        "best test accuracy", _best_accuracy, lower_is_better=False, csv="best_test_accuracy"
    ),
    "best_epoch": Metric("best at epoch", _best_epoch, csv="best_epoch"),
    "epoch_time": Metric("epoch time (s)", _epoch_time, csv="epoch_time"),
    "step_time": Metric("optimizer step (ms)", _step_time, csv="step_time_ms"),
    "settled_at": Metric("settled at (update)", _settled, csv="settled_at"),
}


def chosen(run: RunResult) -> list[str]:
    """The metrics a study of such runs reports: what its task evaluates, and for tasks
    with a test split (networks) the time per epoch and per step and the settling point."""
    names = [m for m in ("train_loss", "distance", "test_loss", "test_accuracy")
             if m in run.evaluations]  # fmt: skip
    if "test_loss" in run.evaluations:
        names += ["best_accuracy", "best_epoch", "epoch_time", "step_time", "settled_at"]
    return names


def value(run: RunResult, metric: str, epoch: int | None = None) -> float:
    return METRICS[metric].read(run, epoch)
