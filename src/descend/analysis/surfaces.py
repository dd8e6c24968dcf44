"""Summaries of surface runs: where they ended, how fast, how they moved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from descend.engine.results import RunResult
from descend.tasks.surfaces import Surface

NOT_CONVERGED = -1
DIVERGED = -2


def nearest_minimum(points: Tensor, surface: Surface) -> tuple[Tensor, Tensor]:
    """For points (..., 2): the index of the nearest known minimum and the distance to it.
    A surface with no known minimum gives index −1 and distance NaN."""
    if not surface.minima:
        shape = points.shape[:-1]
        return torch.full(shape, -1, dtype=torch.long), torch.full(shape, float("nan"))
    minima = torch.tensor([m.point for m in surface.minima], dtype=points.dtype)  # (M, 2)
    distances = (points.unsqueeze(-2) - minima).norm(dim=-1)  # (..., M)
    distance, index = distances.min(dim=-1)
    return index, distance


def basin(run: RunResult, surface: Surface, tolerance: float = 1e-2) -> int:
    """The index of the known minimum the run ended within `tolerance` of (Euclidean
    distance), or NOT_CONVERGED, or DIVERGED."""
    if run.diverged:
        return DIVERGED
    index, distance = nearest_minimum(run.final_point, surface)
    return int(index) if float(distance) <= tolerance else NOT_CONVERGED


def loss_gap(run: RunResult, surface: Surface) -> Tensor:
    """f(w_t) − f* along the run (steps+1,); f itself when f* is not known."""
    minimum = surface.minimum_value
    return run.loss if minimum is None else run.loss - minimum


def steps_to_tolerance(run: RunResult, surface: Surface, tolerance: float) -> int | None:
    """The first step t with f(w_t) − f* <= tolerance (None if never, or f* unknown)."""
    if surface.minimum_value is None:
        return None
    reached = (loss_gap(run, surface) <= tolerance).nonzero()
    return int(reached[0]) if len(reached) else None


def sign_flips(run: RunResult) -> list[int]:
    """How many times each coordinate changed sign along the path (the zig-zag of GD
    across a narrow valley shows up as a flip of the steep coordinate at every step)."""
    path = run.trajectory[: run.last_step + 1]  # (T, dim)
    signs = torch.sign(path)
    flips = (signs[1:] * signs[:-1] < 0).sum(dim=0)
    return [int(f) for f in flips]


@dataclass(frozen=True)
class Summary:
    """One line of the table: the runs of one label, aggregated."""

    label: str
    runs: int
    final_loss: float  # median over the runs that did not diverge (inf if all did)
    distance: float  # median distance of the final point to the nearest known minimum
    steps_to_tolerance: float | None  # median over runs that reached it
    reached: int  # runs that reached the tolerance
    diverged: int
    sign_flips: tuple[float, ...]  # median per coordinate


def summarize(runs: Sequence[RunResult], surface: Surface, tolerance: float = 1e-6) -> Summary:
    """The runs of one label aggregated, all runs at once (10 000 runs in a fraction of a
    second: the per-run functions above, as array operations)."""
    finished = [r for r in runs if not r.diverged]
    gaps = torch.stack([loss_gap(r, surface) for r in runs])  # (N, T)
    reached = gaps <= tolerance  # NaN (after a divergence) compares False
    first = reached.to(torch.int8).argmax(dim=1)  # (N,): the first True, where there is one
    steps = first[reached.any(dim=1)].tolist() if surface.minimum_value is not None else []
    distances: list[float] = []
    flips: np.ndarray = np.zeros((0, 0))
    if finished:
        paths = torch.stack([r.trajectory for r in finished])  # (F, T, dim): no NaN in these
        distances = nearest_minimum(paths[:, -1], surface)[1].tolist()
        signs = torch.sign(paths)
        flips = (signs[:, 1:] * signs[:, :-1] < 0).sum(dim=1).numpy()  # (F, dim)
    return Summary(
        label=runs[0].label,
        runs=len(runs),
        final_loss=_median([r.final_loss for r in finished]),
        distance=_median(distances),
        steps_to_tolerance=float(np.median(steps)) if steps else None,
        reached=len(steps),
        diverged=len(runs) - len(finished),
        sign_flips=tuple(float(np.median(column)) for column in flips.T) if finished else (),
    )


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("inf")
