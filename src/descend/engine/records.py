"""The recorder: what K runs of a group did, kept in preallocated tensors on their device.

Nothing here reads a tensor back to the host during the run (no `.item()`, no
branching on values): divergence is tracked with tensor ops, so a CUDA run never waits
for the GPU inside its loop. The records come back to the CPU once, at the end.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from descend.engine.results import RunResult
from descend.engine.runs import RunSpec

DIVERGENCE_FACTOR = 1e6
MAX_RECORDED = 16  # numbers per run kept at every step (a surface's 2; not a network's)


def flat(params: Mapping[str, Tensor]) -> Tensor:  # (K, dim): every run's numbers in a row
    return torch.cat([p.reshape(p.shape[0], -1) for p in params.values()], dim=1)


def flat_names(params: Mapping[str, Tensor]) -> tuple[str, ...]:
    """Names of the flattened numbers: 'w' for a scalar per run, 'w[0]', 'w[1]', ... else."""
    return _flat_names(tuple((key, tuple(p.shape[1:])) for key, p in params.items()))


def run_flat_names(params: Mapping[str, Tensor]) -> tuple[str, ...]:
    """`flat_names` of one run's parameters (no run axis)."""
    return _flat_names(tuple((key, tuple(p.shape)) for key, p in params.items()))


@functools.lru_cache(maxsize=64)
def _flat_names(shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[str, ...]:
    # Kept per shape: a network has thousands of names, made once, not per run stored
    # (the same tuple object then compares in microseconds).
    names: list[str] = []
    for key, shape in shapes:
        names += [key] if shape == () else [f"{key}[{i}]" for i in range(math.prod(shape))]
    return tuple(names)


class Recorder:
    """Records of K runs; freezes a run when its loss diverges."""

    def __init__(self, params: Mapping[str, Tensor], updates: int, *, has_data: bool):
        start = flat(params)  # (K, dim)
        runs, device, dtype = start.shape[0], start.device, start.dtype
        self.has_data = has_data
        self.initial = {k: v.detach().clone() for k, v in params.items()}
        self.names = flat_names(params)
        self.trajectory: Tensor | None = None
        if start.shape[1] <= MAX_RECORDED:
            shape = (runs, updates + 1, start.shape[1])
            self.trajectory = torch.full(shape, torch.nan, dtype=dtype, device=device)
            self.trajectory[:, 0] = start
        losses = updates if has_data else updates + 1  # no data: f at the final point too
        self.losses = torch.full((runs, losses), torch.nan, dtype=dtype, device=device)
        self.lrs = torch.full((runs, updates), torch.nan, dtype=torch.float64, device=device)
        self.active = torch.ones(runs, dtype=torch.bool, device=device)
        self.diverged_at = torch.full((runs,), -1, dtype=torch.long, device=device)
        self.limit: Tensor | None = None  # the divergence threshold, from each first loss
        self.evaluations: dict[str, list[Tensor]] = {}
        self.evaluated_at: list[int] = []
        self.epoch_seconds: list[float] = []
        self.update_seconds = 0.0  # in the rule's update, all runs of the group together

    def loss(self, t: int, loss: Tensor) -> None:
        loss = loss.detach()
        if self.limit is None:
            self.limit = DIVERGENCE_FACTOR * loss.abs().clamp(min=1.0).nan_to_num(nan=1.0)
        self.losses[:, t] = loss  # (after a divergence: NaN, put in once at the end)
        diverging = self.active & ~(torch.isfinite(loss) & (loss.abs() <= self.limit))
        self.diverged_at = torch.where(diverging, t, self.diverged_at)
        self.active = self.active & ~diverging

    def step(self, t: int, params: Mapping[str, Tensor], lr: Tensor) -> None:
        """After update t: the new iterate and the lr that made it."""
        if self.trajectory is not None:  # (a frozen run's point does not move: NaN at the end)
            self.trajectory[:, t + 1] = flat(params)
        self.lrs[:, t] = lr

    def evaluation(self, updates: int, values: Mapping[str, Tensor]) -> None:
        for name, value in values.items():
            kept = torch.where(self.active, value.detach(), torch.nan)
            self.evaluations.setdefault(name, []).append(kept)
        self.evaluated_at.append(updates)

    def results(
        self,
        specs: Sequence[RunSpec],
        params: Mapping[str, Tensor],
        seconds: float,
        threads: int = 1,
    ) -> list[RunResult]:
        """One result per run, on the CPU."""
        runs = len(specs)
        self._blank_after_divergence()
        cpu = _to_cpu(
            {
                "losses": self.losses,
                "lrs": self.lrs,
                "diverged_at": self.diverged_at,
                **({"trajectory": self.trajectory} if self.trajectory is not None else {}),
                **{f"eval/{k}": torch.stack(v, dim=1) for k, v in self.evaluations.items()},
                **{f"initial/{k}": v for k, v in self.initial.items()},
                **{f"final/{k}": v.detach() for k, v in params.items()},
            }
        )
        epoch_seconds = torch.tensor(self.epoch_seconds, dtype=torch.float64) / runs
        device = str(self.losses.device)
        return [
            RunResult(
                spec=spec,
                loss=cpu["losses"][k],
                lr=cpu["lrs"][k],
                trajectory=cpu["trajectory"][k] if "trajectory" in cpu else None,
                diverged_at=int(cpu["diverged_at"][k]) if cpu["diverged_at"][k] >= 0 else None,
                wall_time=seconds / runs,
                evaluations={
                    name.removeprefix("eval/"): v[k]
                    for name, v in cpu.items()
                    if name.startswith("eval/")
                },
                evaluated_at=torch.tensor(self.evaluated_at, dtype=torch.long),
                epoch_seconds=epoch_seconds,
                update_seconds=self.update_seconds / runs / max(self.lrs.shape[1], 1),
                initial_params=_run_of(cpu, "initial/", k),
                final_params=_run_of(cpu, "final/", k),
                param_names=self.names,
                group_size=runs,
                device=device,
                threads=threads,
            )
            for k, spec in enumerate(specs)
        ]

    def _blank_after_divergence(self) -> None:
        """NaN in every record after the update at which a run diverged (one op for all
        runs and steps, instead of a mask at every step)."""
        never = self.lrs.shape[1] + 1  # past every record
        frozen_at = torch.where(self.diverged_at >= 0, self.diverged_at, never)[:, None]
        steps = torch.arange(never, device=self.losses.device)[None, :]  # (1, U + 1)
        after = steps > frozen_at  # (K, U + 1): entries after the one that diverged
        self.losses.masked_fill_(after[:, : self.losses.shape[1]], torch.nan)
        if self.trajectory is not None:
            self.trajectory.masked_fill_(after[..., None], torch.nan)


def _to_cpu(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.to("cpu") for k, v in tensors.items()}


def _run_of(cpu: dict[str, Tensor], prefix: str, k: int) -> dict[str, Tensor]:
    return {name.removeprefix(prefix): v[k] for name, v in cpu.items() if name.startswith(prefix)}
