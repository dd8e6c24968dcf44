"""Where groups of runs execute. Local for now: groups one after another in this process.

`stream` yields each group's results as soon as the group finishes, so a caller that
keeps them (a study, a store) never loses finished groups when a later one fails or is
interrupted. A distributed backend (Ray) would take the same groups of specs, by their
content keys, and yield the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

from descend.engine.lockstep import group_runs, run_group
from descend.engine.results import Results, RunResult
from descend.engine.runs import RunSpec
from descend.errors import DescendError

Progress = Callable[[int, int], None]  # (updates done, updates in all), over every run group


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

        def report(step: int, before: int = done) -> None:
            if progress is not None:
                progress(before + step, total)

        results = run_group([specs[i] for i in indices], device=resolved, on_step=report)
        done += specs[indices[0]].steps
        yield indices, results


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
