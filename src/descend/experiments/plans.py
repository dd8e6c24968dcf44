"""A study's settings -> its run specs: the one path from the CLI, TOML and Python.

`surface_plan` and `compare_plan` read every word through `vocabulary` (checked once),
and return the specs the engine runs, with each run's place in the study in its tags
("lr" in a sweep, "regime"). Studies (descend.studies) call them; nothing here runs.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import torch

from descend import checks
from descend.engine import OptimizerSpec, RunSpec, TaskSpec
from descend.errors import DescendError
from descend.experiments import vocabulary

Point = tuple[float, ...]
Window = tuple[tuple[float, float], tuple[float, float]]


def surface_plan(
    surface: str | TaskSpec,
    optimizers: Sequence[str | OptimizerSpec],
    *,
    lr: Any = None,
    steps: int = 100,
    start: Sequence[float] | None = None,
    starts: int | None = None,
    seeds: Sequence[int] = (0,),
    noise: float = 0.0,
    schedule: Any = None,
    window: Window | None = None,
) -> tuple[TaskSpec, list[RunSpec]]:
    """Every optimizer at every lr, from every start, once per seed."""
    task = vocabulary.task(surface, kind="surface")
    built = task.build()
    rates = vocabulary.lrs(lr)
    sweeping = len(rates) > 1
    entries = vocabulary.labelled(
        [vocabulary.optimizer(o) for o in optimizers], {"lr"} if sweeping else set()
    )
    checks.integer("steps", steps, low=1)
    rules = [
        (rate, vocabulary.with_lr(entry, rate, schedule, sweeping=sweeping))
        for entry in entries
        for rate in rates
    ]
    vocabulary.check_schedules([rule for _, rule in rules], steps)
    check_memory(len(rules) * len(seeds) * grid_side(start, starts) ** 2, steps, 2)
    points = starts_of(built, window or built.window, start, starts)
    specs = []
    for rate, rule in rules:
        tags = {"lr": rate} if sweeping else {}
        specs += [
            RunSpec(task, rule, steps, start=p, seed=s, gradient_noise=noise, tags=tags)
            for s in seeds
            for p in points
        ]
    return task, specs


def check_memory(runs: int, steps: int, numbers: int) -> None:
    """Refuse, before allocating anything, a study whose records would not fit: each run
    keeps its path (steps + 1 points of `numbers` float64s), losses and lrs, and costs
    about 2 KB as a spec and a result besides. The limit is half the memory available."""
    per_run = 8 * (steps + 1) * (numbers + 2) + 2048
    needed = runs * per_run
    limit = available_memory() // 2
    if needed > limit:
        fits = max(limit // per_run, 1)
        raise DescendError(
            f"This study would need about {needed / 2**30:.1f} GiB ({runs} runs × {steps} "
            f"steps), more than the {limit / 2**30:.1f} GiB allowed (half of the memory "
            f"available): run at most about {fits} runs (fewer starts, seeds or lrs) or "
            "fewer steps.",
            key="starts",
        )


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable), else 4 GiB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def grid_side(start: Any, starts: int | None) -> int:
    """The side of the grid of starts: `starts` is rounded to a square (2000 -> 45 × 45)."""
    if start is not None and starts is not None:
        raise DescendError(
            "Give either start (one point) or starts (a number of points), not both.",
            key="start",
        )
    if starts is None:
        return 1
    return max(1, round(math.sqrt(checks.integer("starts", starts, low=1))))


def starts_of(
    surface: Any, window: Window, start: Sequence[float] | None, starts: int | None
) -> list[Point | None]:
    """One start (the surface's usual one by default), or a grid of `starts` points inside
    the window (side × side, side = round(√starts): see grid_side)."""
    side = grid_side(start, starts)
    if starts is None:
        return [checks.point("start", start, 2) if start is not None else None]
    (x0, x1), (y0, y1) = window
    xs = torch.linspace(x0, x1, side + 2)[1:-1]  # inside the window, off its edges
    ys = torch.linspace(y0, y1, side + 2)[1:-1]
    grid = torch.cartesian_prod(ys, xs)  # row by row: (w2, w1)
    return [(float(w1), float(w2)) for w2, w1 in grid]


def compare_plan(
    task: str | TaskSpec,
    optimizers: Sequence[str | OptimizerSpec],
    *,
    regimes: Sequence[Any] | None = None,
    epochs: int | None = None,
    updates: int | None = None,
    seeds: int | Sequence[int] = 5,
    lr: Any = None,
    schedule: Any = None,
    fixed_init: bool = False,
    drop_last: bool = False,
    eval_every: int = 1,
    dtype: str = "float32",
    dataset: str | None = None,
    data_dir: str | None = None,
    schedules: Sequence[Any] = (),
    schedule_unit: str = "step",
) -> tuple[TaskSpec, list[RunSpec]]:
    """Every optimizer at every lr under every regime, once per seed. Runs with the same
    seed start from the same weights and, under the same regime, see the same batches;
    `fixed_init` gives every seed the first seed's weights (only the order varies).
    dataset / data_dir: for a network task, the data it learns and where its files are.
    schedule: one for every optimizer without its own; schedules: several, each run by
    every optimizer (a row per optimizer and schedule); schedule_unit: "step" (the
    schedule's k counts updates) or "epoch" (k counts epochs: torch's scheduler.step()
    after each epoch)."""
    # (built once its data settings are in: MNIST's files may be only where data_dir says)
    spec = vocabulary.with_data(vocabulary.task(task, "task", build=False), dataset, data_dir)
    if (epochs is None) == (updates is None):
        raise DescendError(
            "Give the budget as epochs or as updates, not both and not neither.", key="epochs"
        )
    if regimes is None:  # the task's usual one: full batch for a regression, minibatches else
        regimes = [getattr(spec.build(), "default_regime", "full")]
    chosen = [vocabulary.regime(r) for r in regimes]
    if drop_last:
        chosen = [
            r if r.drop_last else type(r)(r.kind, r.batch_size, r.order, True) for r in chosen
        ]
    if not chosen or len({str(r) for r in chosen}) != len(chosen):
        raise DescendError(
            f"Invalid regimes: {regimes!r} (allowed: distinct regimes).", key="regimes"
        )
    run_seeds = vocabulary.seeds(seeds)
    rates = vocabulary.lrs(lr)
    sweeping = len(rates) > 1
    checks.choice("schedule_unit", schedule_unit, ("step", "epoch"))
    entries = vocabulary.labelled(
        vocabulary.with_schedules([vocabulary.optimizer(o) for o in optimizers], schedules),
        {"lr"} if sweeping else set(),
    )
    specs = []
    for entry in entries:
        for rate in rates:
            for regime in chosen:
                per_epoch = regime.updates_per_epoch(spec.build().examples)
                opt = vocabulary.with_lr(
                    entry, rate, schedule, sweeping=sweeping,
                    updates_per_epoch=per_epoch if schedule_unit == "epoch" else None,
                )  # fmt: skip
                if sweeping:
                    opt = opt.relabelled(f"{entry.label} lr={rate:g}")
                budget = updates if updates is not None else epochs * per_epoch  # type: ignore[operator]
                vocabulary.check_schedules([opt], budget, has_data=True)
                tags = {"regime": str(regime), **({"lr": rate} if sweeping else {})}
                specs += [
                    RunSpec(
                        spec,
                        opt,
                        updates,
                        epochs,
                        regime,
                        seed=s,
                        init_seed=run_seeds[0] if fixed_init else None,
                        dtype=dtype,
                        eval_every=eval_every,
                        tags=tags,
                    )
                    for s in run_seeds
                ]
    return spec, specs


def _keywords(function: Any) -> frozenset[str]:
    return frozenset(
        p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY
    )


SURFACE_PLAN_KEYS = _keywords(surface_plan) - {"seeds"}  # (a TOML file writes seed)
COMPARE_PLAN_KEYS = _keywords(compare_plan) | {"task"}
