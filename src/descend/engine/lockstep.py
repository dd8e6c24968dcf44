"""The K-run executor: runs that can share one computation advance together.

Runs of the same rule on the same task with the same budget and regime form a group.
Their parameters are stacked along a leading run axis, (K, ...); one evaluation of the
task gives the K losses (each run on its own batch: a (K, B) index tensor), one backward
of their sum gives every run its own gradient (the runs do not interact), and one update
with run-wise hyper-parameter tensors (`descend.optim.hyper`) steps all K. For a 2-D
surface, 10 000 runs cost little more than one. Rules that evaluate the objective
themselves (L-BFGS) run one at a time.

This module is the loop; the batches come from `regimes`, the records go to `records`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from numbers import Real
from typing import Any

import torch
from torch import Tensor

from descend import optim
from descend.engine.records import Recorder
from descend.engine.regimes import BatchOrders
from descend.engine.results import RunResult
from descend.engine.runs import DTYPES, RunSpec, Step, Task, TaskSpec, takes_gradients
from descend.engine.threads import ThreadChoice
from descend.plateau import PlateauState, ReduceOnPlateau


def group_runs(specs: Sequence[RunSpec], device: torch.device | str = "cpu") -> list[list[int]]:
    """Indices of specs that can advance together, in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(_group_key(spec, i, torch.device(device)), []).append(i)
    return list(groups.values())


def _group_key(spec: RunSpec, index: int, device: torch.device) -> tuple:
    rule = spec.optimizer.build()
    if not takes_gradients(rule):
        return ("alone", index)  # L-BFGS: one run at a time
    stacks = getattr(spec.built_task, "stacks_on", None)
    if stacks is not None and not stacks(device):
        return ("alone", index)  # a task that runs faster one run at a time here
    fixed = getattr(rule, "fixed_per_update", ())
    structure = tuple(
        (k, v) for k, v in rule.hyperparams.items() if k in fixed or not _stackable(v)
    )
    task = spec.task.key if isinstance(spec.task, TaskSpec) else id(spec.task)
    regime = None if spec.regime is None else str(spec.regime)  # one batch order kind
    return (task, rule.name, spec.steps, structure, regime, spec.dtype, spec.eval_every)


def _stackable(value: Any) -> bool:
    """Numbers, tensors, schedules and pairs of them can differ from run to run (not a
    plateau schedule: its runs share one PlateauState, so one set of settings)."""
    if isinstance(value, ReduceOnPlateau):
        return False
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


def run_group(
    specs: Sequence[RunSpec],
    *,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, Tensor], None] | None = None,
) -> list[RunResult]:
    """Advance the K runs of one group together and record them. `on_step(updates done,
    epoch, batch losses (K,))` is called after every update."""
    group = Group(specs, torch.device(device))
    record = Recorder(group.params, group.steps, has_data=group.batches is not None)
    threads = ThreadChoice(group.device, group.steps, len(record.names))
    clock, update_clock = EpochClock(group.device), UpdateClock(group.device)
    t = 0
    try:
        if group.batches is not None:
            record.evaluation(0, group.task.evaluate(group.params))
        for epoch in range(group.epochs):
            clock.start()
            for batch in group.next_epoch(t):
                threads.start(t)
                loss = group.forward(batch, t)
                record.loss(t, loss)  # freezes a run whose loss diverged ...
                update_clock.start()
                group.update(record.active)  # ... before its update: it stays where it was
                update_clock.stop()
                record.step(t, group.params, group.lr_at(t))
                threads.stop(t)
                t += 1
                if on_step is not None:
                    on_step(t, epoch, loss.detach())
            record.epoch_seconds.append(clock.stop())
            if group.batches is not None and group.evaluation_due(epoch, t):
                values = group.task.evaluate(group.params)
                record.evaluation(t, values)
                if group.plateau is not None:  # as scheduler.step(metric) after an epoch
                    group.plateau.observe(values[group.plateau.metric])
        if group.batches is None:  # f at the final point: no data, so no batch to take it on
            record.loss(t, group.losses(None, t, grad=False))
        chosen = threads.chosen
    finally:
        threads.close()
    record.update_seconds = update_clock.total()
    return record.results(specs, group.params, sum(record.epoch_seconds), threads=chosen)


class Group:
    """The state of K runs advancing together: task, rule, parameters, batches, noise."""

    def __init__(self, specs: Sequence[RunSpec], device: torch.device):
        first = specs[0]
        self.specs, self.device, self.steps = specs, device, first.steps
        dtype = DTYPES[first.dtype]
        self.task: Task = first.built_task.on(device, dtype)
        hyperparams = stack_hyperparams([dict(s.optimizer.build().hyperparams) for s in specs])
        self.plateau: PlateauState | None = None
        if isinstance(hyperparams.get("lr"), ReduceOnPlateau):  # lr driven by a metric
            self.plateau = hyperparams["lr"].state(len(specs), device)
            hyperparams["lr"] = self.plateau
        rule = optim.get(first.optimizer.rule, **hyperparams)
        self.rule = rule.stacked() if rule.lockstep else rule  # (L-BFGS runs alone)
        self.takes_gradients = takes_gradients(rule)
        self.params = _stack(
            [
                self.task.initial_params(s, torch.Generator().manual_seed(s.stream("init")))
                for s in specs
            ],
            dtype,
            device,
        )
        self.state = self.rule.init(self.params)
        self.noise = GradientNoise(specs, self.params)
        self.dropout_seeds = tuple(s.stream("dropout") for s in specs)
        self.batches: BatchOrders | None = None
        self.per_epoch, self.epochs = self.steps, 1
        if first.regime is not None and self.task.examples is not None:
            data_seeds = [s.stream("data") for s in specs]
            self.batches = BatchOrders(first.regime, self.task.examples, data_seeds, device)
            self.per_epoch = first.regime.updates_per_epoch(self.task.examples)
            self.epochs = -(-self.steps // self.per_epoch)  # the last one may be partial
        self.eval_every = first.eval_every

    def next_epoch(self, done: int) -> Iterator[Tensor | None]:
        """The batches of the next epoch (None each, for no data), up to the budget."""
        if self.batches is None:
            yield from [None] * self.steps
            return
        for batch in self.batches.epoch():
            if done == self.steps:
                return
            yield batch
            done += 1

    def evaluation_due(self, epoch: int, updates: int) -> bool:
        return (epoch + 1) % self.eval_every == 0 or updates == self.steps

    def losses(self, batch: Tensor | None, t: int, *, grad: bool) -> Tensor:
        leaves = {k: v.detach().requires_grad_(grad) for k, v in self.params.items()}
        return self.task.losses(leaves, batch, Step(t, self.dropout_seeds))

    def forward(self, batch: Tensor | None, t: int) -> Tensor:
        """Every run's loss on its batch (K,), and (for rules that take them) its gradient;
        `update` then steps the runs still active."""
        leaves = {
            k: v.detach().requires_grad_(self.takes_gradients) for k, v in self.params.items()
        }
        step = Step(t, self.dropout_seeds)
        loss = self.task.losses(leaves, batch, step)  # (K,)
        self.grads = None
        if self.takes_gradients:
            gradients = torch.autograd.grad(loss.sum(), list(leaves.values()))
            self.grads = {
                k: g + self.noise.sample(k) for k, g in zip(leaves, gradients, strict=True)
            }

        def value_fn(p: dict[str, Tensor]) -> Tensor:  # L-BFGS evaluates f itself
            return self.task.losses(p, batch, step).sum()

        self.value_fn = value_fn
        return loss

    def update(self, active: Tensor) -> None:
        # The new parameters at once (one pass where θ' − θ, then θ plus it, took three:
        # on the CPU a ConvNet's update is memory-bound, and slowest with every core busy),
        # the state written over the old one, which nothing else holds.
        new, self.state = self.rule.step(
            self.grads, self.state, self.params, value_fn=self.value_fn, reuse_state=True
        )
        if self.device.type != "cpu" or not bool(active.all()):  # (CUDA: no sync to ask)
            new = {k: _keep_frozen(new[k], old, active) for k, old in self.params.items()}
        self.params = new

    def lr_at(self, t: int) -> Tensor:
        lr = self.rule.hyperparams["lr"]
        value = lr(t) if callable(lr) else lr
        return torch.as_tensor(value, dtype=torch.float64).to(self.device).expand(len(self.specs))


def _stack(
    per_run: list[dict[str, Tensor]], dtype: torch.dtype, device: torch.device
) -> dict[str, Tensor]:
    return {k: torch.stack([p[k] for p in per_run]).to(device, dtype) for k in per_run[0]}


def _keep_frozen(new: Tensor, old: Tensor, active: Tensor) -> Tensor:
    """The new values of the runs still active; the frozen (diverged) ones stay put."""
    return torch.where(active.view(-1, *[1] * (new.ndim - 1)), new, old)


class EpochClock:
    """Wall time of an epoch's updates, evaluation left out (CUDA: synchronised at the
    ends only, so the GPU's queue is timed, not the Python that feeds it)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.started = 0.0

    def start(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.started = time.perf_counter()

    def stop(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - self.started


class UpdateClock:
    """The time spent in the rule's update (the optimizer step), summed over the run. On
    CUDA, event pairs read once at the end: timing never makes the loop wait."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds = 0.0
        self.started = 0.0
        self.events: list[tuple[Any, Any]] = []

    def start(self) -> None:
        if self.cuda:
            self.events.append(self._pair())
            self.events[-1][0].record()
        else:
            self.started = time.perf_counter()

    def _pair(self) -> tuple[Any, Any]:
        return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def stop(self) -> None:
        if self.cuda:
            self.events[-1][1].record()
        else:
            self.seconds += time.perf_counter() - self.started

    def total(self) -> float:
        if self.cuda and self.events:
            torch.cuda.synchronize()
            self.seconds = sum(a.elapsed_time(b) for a, b in self.events) / 1000
        return self.seconds


class GradientNoise:
    """σ·z with z ~ N(0, I), per run. Runs that share a seed share one generator and draw
    from it as one block in their order, so the noise is reproducible for a given set of
    specs, and a run with a seed of its own gets the same noise alone or in a group."""

    def __init__(self, specs: Sequence[RunSpec], params: dict[str, Tensor]):
        sigmas = [s.gradient_noise for s in specs]
        self.enabled = any(s > 0 for s in sigmas)
        first = next(iter(params.values()))
        self.dtype, self.device = first.dtype, first.device
        self.sigma = torch.tensor(sigmas, dtype=self.dtype, device=self.device)
        self.shapes = {k: p.shape for k, p in params.items()}  # (K, ...)
        by_seed: dict[int, list[int]] = {}
        for k, spec in enumerate(specs):
            by_seed.setdefault(spec.stream("noise"), []).append(k)
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
        return self.sigma.view(-1, *[1] * (len(shape) - 1)) * z.to(self.device)
