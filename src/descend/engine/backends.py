"""Where groups of runs execute. Local for now: groups one after another in this process.

`stream` yields each group's results as soon as the group finishes, so a caller that
keeps them (a study, a store) never loses finished groups when a later one fails or is
interrupted. A distributed backend (Ray) would take the same groups of specs, by their
content keys, and yield the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from descend.engine.lockstep import group_runs, run_group
from descend.engine.results import Results, RunResult
from descend.engine.runs import RunSpec
from descend.errors import DescendError

Progress = Callable[[int, int], None]  # (updates done, updates in all), over every run group


@dataclass(frozen=True)
class Status:
    """Where the engine is, for a progress display: given, after every update, to the
    `status` method of a progress callback that has one."""

    runs: str  # "runs 1-3 of 6: adam (seeds 0, 1, 2)"
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float | None  # the group's mean batch loss (None on CUDA: read without waiting)


def check_device(device: torch.device | str) -> torch.device:
    """The device, if this machine has it; else an error that says how to run on the CPU."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise DescendError(
            f"Invalid device: {device!r} (allowed: cpu, cuda, cuda:N).", key="device"
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DescendError(
                f"Device {str(device)!r} is not available: torch sees no CUDA GPU on this "
                "machine. Run on the CPU instead (--device cpu, the default).",
                key="device",
            )
        index = resolved.index or 0
        if index >= torch.cuda.device_count():
            raise DescendError(
                f"Device {str(device)!r} is not available: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 ...).",
                key="device",
            )
    elif resolved.type != "cpu":
        raise DescendError(
            f"Invalid device: {device!r} (allowed: cpu, cuda, cuda:N).", key="device"
        )
    return resolved


def stream(
    specs: Sequence[RunSpec],
    *,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> Iterator[tuple[list[int], list[RunResult]]]:
    """Run every spec; yield (indices into `specs`, their results) group by group."""
    resolved = check_device(device)
    groups = group_runs(specs)
    total = sum(specs[g[0]].steps for g in groups)
    done = 0
    for indices in groups:
        group = [specs[i] for i in indices]
        report = _reporter(progress, group, _runs_text(indices, len(specs), group), done, total)
        results = run_group(group, device=resolved, on_step=report)
        done += group[0].steps
        yield indices, results


def _reporter(progress: Any, group: Sequence[RunSpec], runs: str, before: int, total: int):
    if progress is None:
        return None
    status = getattr(progress, "status", None)
    per_epoch = group[0].updates_per_epoch or group[0].steps
    epochs = -(-group[0].steps // per_epoch)

    def report(step: int, epoch: int, loss: torch.Tensor) -> None:
        progress(before + step, total)
        if status is not None:
            value = None if loss.is_cuda else float(loss[torch.isfinite(loss)].mean())
            batch = step - epoch * per_epoch
            status(Status(runs, epoch + 1, epochs, batch, per_epoch, value))

    return report


def _runs_text(indices: list[int], count: int, group: Sequence[RunSpec]) -> str:
    seeds = sorted({s.seed for s in group})
    shown = ", ".join(map(str, seeds[:4])) + (", ..." if len(seeds) > 4 else "")
    where = f"run {indices[0] + 1}" if len(indices) == 1 else f"{len(indices)} runs"
    return f"{where} of {count}: {group[0].label} (seed{'s' * (len(seeds) > 1)} {shown})"


def run(
    specs: Sequence[RunSpec],
    *,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> Results:
    """Run every spec; results come back in the order of `specs`."""
    results: list[RunResult | None] = [None] * len(specs)
    for indices, group in stream(specs, device=device, progress=progress):
        for i, result in zip(indices, group, strict=True):
            results[i] = result
    return Results([r for r in results if r is not None])
