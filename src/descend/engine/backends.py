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

from descend import checks
from descend.cpu import DEFAULT_THREADS, user_chose_threads
from descend.engine.lockstep import group_runs, run_group
from descend.engine.processes import stream_in_processes
from descend.engine.results import Results, RunResult
from descend.engine.runs import RunSpec, TaskSpec
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


HEAVY = 5e8  # parameter-updates (numbers × updates, all runs) from which workers pay off


def workers_for(
    specs: Sequence[RunSpec], groups: Sequence[list[int]], device: torch.device, workers: Any
) -> int:
    """How many processes run the groups. "auto": one per core (one thread each) when
    there are several groups of heavy work (at least 5e8 parameter-updates in all: a
    ConvNet epoch on MNIST is 5.6e8) on the CPU; else 1, this process. Small work is not
    worth a process's start-up (a couple of seconds to import torch)."""
    if workers != "auto":
        return checks.integer("workers", workers, low=1)
    cores = DEFAULT_THREADS
    plain = all(isinstance(specs[g[0]].task, TaskSpec) for g in groups)
    if device.type != "cpu" or len(groups) < 2 or cores < 2 or user_chose_threads() or not plain:
        return 1
    work = 0.0
    for g in groups:
        first = specs[g[0]]
        start = first.built_task.initial_params(first, torch.Generator().manual_seed(0))
        work += len(g) * sum(v.numel() for v in start.values()) * first.steps
    return min(cores, len(groups)) if work >= HEAVY else 1


def stream(
    specs: Sequence[RunSpec],
    *,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    workers: int | str = "auto",
) -> Iterator[tuple[list[int], list[RunResult]]]:
    """Run every spec; yield (indices into `specs`, their results) group by group, as
    each group finishes. workers: processes to spread the groups over (see workers_for)."""
    resolved = check_device(device)
    groups = group_runs(specs, resolved)
    total = sum(specs[g[0]].steps for g in groups)
    count = workers_for(specs, groups, resolved, workers)
    if count > 1:
        yield from stream_in_processes(
            groups, specs, str(resolved), count, _pooled_reporter(progress, groups, specs, total)
        )
        return
    done = 0
    for indices in groups:
        group = [specs[i] for i in indices]
        report = _reporter(progress, group, _runs_text(indices, len(specs), group), done, total)
        results = run_group(group, device=resolved, on_step=report)
        done += group[0].steps
        yield indices, results


def _pooled_reporter(progress: Any, groups: Sequence[list[int]], specs, total: int):
    """Progress over groups running side by side: the sum of what each has done."""
    if progress is None:
        return None
    done = [0] * len(groups)
    status = getattr(progress, "status", None)

    def report(group: int, step: int, epoch: int, loss: float | None) -> None:
        done[group] = step
        progress(sum(done), total)
        if status is not None:
            first = specs[groups[group][0]]
            per_epoch = first.updates_per_epoch or first.steps
            runs = _runs_text(groups[group], len(specs), [specs[i] for i in groups[group]])
            batch = step - epoch * per_epoch
            status(Status(runs, epoch + 1, -(-first.steps // per_epoch), batch, per_epoch, loss))

    return report


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
    workers: int | str = "auto",
) -> Results:
    """Run every spec; results come back in the order of `specs`."""
    results: list[RunResult | None] = [None] * len(specs)
    for indices, group in stream(specs, device=device, progress=progress, workers=workers):
        for i, result in zip(indices, group, strict=True):
            results[i] = result
    return Results([r for r in results if r is not None])
