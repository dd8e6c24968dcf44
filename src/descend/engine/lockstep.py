"""The K-run executor: runs that can share one computation advance together.

Runs of the same rule on the same task with the same budget form a group. Their
parameters are stacked along a leading run axis, (K, ...); one evaluation of the task
gives the K losses, one backward of their sum gives every run its own gradient (the runs
do not interact), and one update with run-wise hyper-parameter tensors (see
`descend.optim.hyper`) steps all K. For a 2-D surface, 10 000 runs cost little more than
one. Rules that are not element-wise (L-BFGS) run one at a time.

A run whose loss becomes non-finite, or exceeds 1e6·max(|f(start)|, 1), is frozen at
that step and marked diverged; the others go on. Nothing here writes files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import torch
from torch import Tensor

from descend import optim
from descend.engine.runs import Results, RunResult, RunSpec

DIVERGENCE_FACTOR = 1e6
Progress = Callable[[int, int], None]  # (steps done, steps in all)


def run(
    specs: Sequence[RunSpec],
    *,
    dtype: torch.dtype = torch.float64,
    progress: Progress | None = None,
) -> Results:
    """Run every spec; results come back in the order of `specs`."""
    groups = group_runs(specs)
    total = sum(specs[g[0]].steps for g in groups)
    done = 0
    results: list[RunResult | None] = [None] * len(specs)
    for indices in groups:
        group = [specs[i] for i in indices]

        def report(step: int, done_before: int = done) -> None:
            if progress is not None:
                progress(done_before + step, total)

        for i, result in zip(indices, run_group(group, dtype=dtype, on_step=report), strict=True):
            results[i] = result
        done += group[0].steps
    return Results([r for r in results if r is not None])


def group_runs(specs: Sequence[RunSpec]) -> list[list[int]]:
    """Indices of specs that can advance together, in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(_group_key(spec, i), []).append(i)
    return list(groups.values())


def _group_key(spec: RunSpec, index: int) -> tuple:
    opt = spec.optimizer.optimizer
    if not opt.lockstep:
        return ("alone", index)  # L-BFGS: one run at a time
    structure = tuple((k, v) for k, v in opt.hyperparams.items() if not _stackable(v))
    return (id(spec.task), opt.name, spec.steps, structure)


def _stackable(value: Any) -> bool:
    """Numbers, tensors, schedules and pairs of them can differ from run to run."""
    if isinstance(value, tuple):
        return all(_stackable(v) for v in value)
    return (isinstance(value, Tensor | Real) and not isinstance(value, bool)) or callable(value)


def stack_hyperparams(all_hyperparams: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """K runs' hyper-parameters as one set: a value shared by all stays as it is, values
    that differ become a run-wise tensor (K,), schedules a `RunwiseSchedule`."""
    return {key: _stack_values([h[key] for h in all_hyperparams]) for key in all_hyperparams[0]}


def _stack_values(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, tuple):
        return tuple(_stack_values([v[i] for v in values]) for i in range(len(first)))
    if all(v is first for v in values) or (
        not any(isinstance(v, Tensor) or callable(v) for v in values) and len(set(values)) == 1
    ):
        return first
    if any(callable(v) for v in values):
        return RunwiseSchedule(values)
    return torch.tensor([float(v) for v in values], dtype=torch.float64)


class RunwiseSchedule:
    """The learning rates of K runs at step k, as one (K,) tensor. Each distinct schedule
    (or constant) is evaluated once per step, however many runs share it."""

    def __init__(self, values: Sequence[Any]):
        distinct: dict[int, Any] = {}
        for v in values:
            distinct.setdefault(id(v), v)
        self._distinct = list(distinct.values())
        position = {id(v): i for i, v in enumerate(self._distinct)}
        self._index = torch.tensor([position[id(v)] for v in values])

    def __call__(self, step: int) -> Tensor:
        lrs = [float(v(step)) if callable(v) else float(v) for v in self._distinct]
        return torch.tensor(lrs, dtype=torch.float64)[self._index]


MAX_RECORDED = 16  # parameters per run kept at every step (a surface's 2; not a network's)


def run_group(
    specs: Sequence[RunSpec],
    *,
    dtype: torch.dtype = torch.float64,
    on_step: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Advance K runs of one group together and record them."""
    task, steps, runs = specs[0].task, specs[0].steps, len(specs)
    hyperparams = stack_hyperparams([s.optimizer.optimizer.hyperparams for s in specs])
    opt = optim.get(specs[0].optimizer.rule, **hyperparams)
    elementwise = isinstance(opt, optim.Elementwise)
    params = _stack([task.initial_params(s) for s in specs], dtype)  # {name: (K, ...)}
    record = Recorder(runs, steps, params, dtype)
    noise = GradientNoise(specs, params)
    state = opt.init(params)
    limit: Tensor | None = None

    def value_fn(p: dict[str, Tensor], t: int = 0) -> Tensor:  # L-BFGS evaluates it itself
        return task.losses(p, specs, t).sum()

    started = time.perf_counter()
    for t in range(steps + 1):
        leaves = {
            k: v.detach().requires_grad_(t < steps and elementwise) for k, v in params.items()
        }
        loss = task.losses(leaves, specs, t)  # (K,)
        if limit is None:  # the divergence threshold, relative to each run's start
            limit = DIVERGENCE_FACTOR * loss.detach().abs().clamp(min=1.0)
        record.loss(t, loss.detach(), limit)
        if t == steps:
            break
        grads = None
        if elementwise:
            gradients = torch.autograd.grad(loss.sum(), list(leaves.values()))
            grads = {k: g + noise.sample(k) for k, g in zip(leaves, gradients, strict=True)}
        updates, state = opt.update(grads, state, params, value_fn=lambda p, t=t: value_fn(p, t))
        params = {k: v + _frozen_to_zero(updates[k], record.active) for k, v in params.items()}
        record.step(t, params, _lr_at(opt, t, runs))
        if on_step is not None:
            on_step(t + 1)
    seconds = time.perf_counter() - started
    return record.results(specs, seconds / runs)


def _stack(per_run: list[dict[str, Tensor]], dtype: torch.dtype) -> dict[str, Tensor]:
    return {k: torch.stack([p[k] for p in per_run]).to(dtype) for k in per_run[0]}


def _frozen_to_zero(update: Tensor, active: Tensor) -> Tensor:
    """The update of the runs still active; 0 for the frozen (diverged) ones."""
    return torch.where(active.view(-1, *[1] * (update.ndim - 1)), update, 0.0)


def _lr_at(opt: optim.Optimizer, step: int, runs: int) -> Tensor:
    lr = opt.hyperparams["lr"]
    value = lr(step) if callable(lr) else lr
    return torch.as_tensor(value, dtype=torch.float64).expand(runs)


def _flat(params: dict[str, Tensor]) -> Tensor:  # (K, dim): every run's parameters in a row
    return torch.cat([p.reshape(p.shape[0], -1) for p in params.values()], dim=1)


class Recorder:
    """Preallocated records of K runs; freezes a run when it diverges."""

    def __init__(self, runs: int, steps: int, params: dict[str, Tensor], dtype: torch.dtype):
        nan = float("nan")
        start = _flat(params)  # (K, dim)
        self.trajectory: Tensor | None = None
        if start.shape[1] <= MAX_RECORDED:
            self.trajectory = torch.full((runs, steps + 1, start.shape[1]), nan, dtype=dtype)
            self.trajectory[:, 0] = start
        self.losses = torch.full((runs, steps + 1), nan, dtype=dtype)
        self.lrs = torch.full((runs, steps), nan, dtype=torch.float64)
        self.active = torch.ones(runs, dtype=torch.bool)
        self.diverged_at = torch.full((runs,), -1, dtype=torch.long)

    def loss(self, t: int, loss: Tensor, limit: Tensor) -> None:
        self.losses[:, t] = torch.where(self.active, loss, float("nan"))
        diverging = self.active & ~(torch.isfinite(loss) & (loss.abs() <= limit))
        if diverging.any():
            self.diverged_at[diverging] = t
            self.active &= ~diverging

    def step(self, t: int, params: dict[str, Tensor], lr: Tensor) -> None:
        if self.trajectory is not None:
            self.trajectory[:, t + 1] = torch.where(
                self.active[:, None], _flat(params), float("nan")
            )
        self.lrs[:, t] = lr

    def results(self, specs: Sequence[RunSpec], wall_time: float) -> list[RunResult]:
        return [
            RunResult(
                spec=spec,
                trajectory=None if self.trajectory is None else self.trajectory[k],
                loss=self.losses[k],
                lr=self.lrs[k],
                diverged_at=int(self.diverged_at[k]) if self.diverged_at[k] >= 0 else None,
                wall_time=wall_time,
            )
            for k, spec in enumerate(specs)
        ]


class GradientNoise:
    """σ·z with z ~ N(0, I), per run. Runs that share a seed share one generator and draw
    from it as one block in their order, so the noise is reproducible for a given set of
    specs, and a run with a seed of its own gets the same noise alone or in a group."""

    def __init__(self, specs: Sequence[RunSpec], params: dict[str, Tensor]):
        sigmas = [s.gradient_noise for s in specs]
        self.enabled = any(s > 0 for s in sigmas)
        self.sigma = torch.tensor(sigmas, dtype=torch.float64)
        self.shapes = {k: p.shape for k, p in params.items()}  # (K, ...)
        self.dtype = next(iter(params.values())).dtype
        by_seed: dict[int, list[int]] = {}
        for k, spec in enumerate(specs):
            by_seed.setdefault(spec.seed, []).append(k)
        self.streams = [
            (torch.Generator().manual_seed(seed), torch.tensor(ks)) for seed, ks in by_seed.items()
        ]

    def sample(self, name: str) -> Tensor | float:
        if not self.enabled:
            return 0.0
        shape = self.shapes[name]
        z = torch.empty(shape, dtype=self.dtype)
        for generator, runs in self.streams:
            z[runs] = torch.randn(len(runs), *shape[1:], generator=generator, dtype=self.dtype)
        return self.sigma.to(self.dtype).view(-1, *[1] * (len(shape) - 1)) * z
