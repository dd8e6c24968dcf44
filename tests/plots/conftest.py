"""Run results for plot tests, made without the engine: a plain loop over the functional
optimizers, with the engine's divergence rule (RunResult's docstring)."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

import descend
from descend.engine import OptimizerSpec, RunResult, RunSpec
from descend.tasks import surfaces
from descend.tasks.surfaces import Minimum, Surface

matplotlib.use("Agg")

HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118, 3.131312),
    (-3.779310, -3.283186),
    (3.584428, -1.848126),
)


def himmelblau() -> Surface:
    """Four global minima, built here so these tests do not depend on surfaces.py's."""

    def fn(w: torch.Tensor) -> torch.Tensor:
        w1, w2 = w[..., 0], w[..., 1]
        return (w1**2 + w2 - 11) ** 2 + (w1 + w2**2 - 7) ** 2

    minima = tuple(Minimum(p, 0.0) for p in HIMMELBLAU_MINIMA)
    formula = "(w1**2 + w2 - 11)**2 + (w1 + w2**2 - 7)**2"
    return Surface("himmelblau", formula, fn, minima, ((-5.0, 5.0), (-5.0, 5.0)), (0.0, 0.0))


def double_well() -> Surface:
    """A global minimum near (-1.036, 0) and a local one near (0.960, 0)."""

    def fn(w: torch.Tensor) -> torch.Tensor:
        return (w[..., 0] ** 2 - 1) ** 2 + 0.3 * w[..., 0] + w[..., 1] ** 2

    minima = (  # the roots of 4·w1·(w1² − 1) + 0.3 = 0 with f'' > 0
        Minimum((-1.035579, 0.0), -0.305428),
        Minimum((0.960150, 0.0), 0.294146, is_global=False),
    )
    formula = "(w1**2 - 1)**2 + 0.3*w1 + w2**2"
    return Surface("double_well", formula, fn, minima, ((-2.0, 2.0), (-1.5, 1.5)), (0.0, 1.0))


def descend_run(
    surface: Surface,
    rule: str,
    hyperparams: dict,
    start: tuple[float, float] = (1.0, 1.0),
    steps: int = 50,
    name: str | None = None,
    tags: dict | None = None,
) -> RunResult:
    """`steps` updates of `rule` from `start`, recorded as the engine records them; `tags`
    as a sweep sets them (e.g. {"lr": 0.1})."""
    optimizer = descend.optim.get(rule, **hyperparams)
    w = torch.tensor(start, dtype=torch.float64)
    state = optimizer.init({"w": w})
    trajectory = torch.full((steps + 1, 2), math.nan, dtype=torch.float64)
    loss = torch.full((steps + 1,), math.nan, dtype=torch.float64)
    lrs = torch.full((steps,), math.nan, dtype=torch.float64)
    trajectory[0], loss[0] = w, surface(w)
    limit = 1e6 * max(abs(float(loss[0])), 1.0)
    diverged_at = None
    for t in range(steps):
        point = w.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(surface(point), point)
        updates, state = optimizer.update({"w": grad}, state, {"w": w})
        w = descend.optim.apply_updates({"w": w}, updates)["w"].detach()
        lr = hyperparams.get("lr", 1e-3)
        lrs[t] = float(lr(t) if callable(lr) else lr)
        trajectory[t + 1], loss[t + 1] = w, surface(w)
        if not math.isfinite(float(loss[t + 1])) or float(loss[t + 1]) > limit:
            diverged_at = t + 1
            break
    spec = RunSpec(
        surface, OptimizerSpec(rule, hyperparams, name), steps, start=start, tags=tags or {}
    )
    return RunResult(spec, trajectory, loss, lrs, diverged_at, wall_time=0.0)


def straight_run(
    surface: Surface,
    start: tuple[float, float],
    end: tuple[float, float],
    steps: int = 10,
    name: str = "straight",
    diverged_at: int | None = None,
) -> RunResult:
    """A made-up run going straight from `start` to `end` (NaN after `diverged_at`)."""
    t = torch.linspace(0, 1, steps + 1, dtype=torch.float64)[:, None]  # (steps+1, 1)
    origin, target = (torch.tensor(p, dtype=torch.float64) for p in (start, end))
    trajectory = (1 - t) * origin + t * target  # (steps+1, 2)
    loss = surface(trajectory)
    if diverged_at is not None:
        trajectory[diverged_at + 1 :] = math.nan
        loss[diverged_at + 1 :] = math.nan
    spec = RunSpec(surface, OptimizerSpec("sgd", {"lr": 0.01}, name), steps, start=start)
    lr = torch.full((steps,), 0.01, dtype=torch.float64)
    return RunResult(spec, trajectory, loss, lr, diverged_at, wall_time=0.0)


@pytest.fixture
def anisotropic() -> Surface:
    return surfaces.get("anisotropic")


@pytest.fixture
def seed_004_runs(anisotropic: Surface) -> list[RunResult]:
    """Seed 004 on w1² + 8·w2²: SGD, momentum 0.9 and RMSProp from (1, 1), 50 steps."""
    return [
        descend_run(anisotropic, "sgd", {"lr": 0.1}),
        descend_run(anisotropic, "sgd", {"lr": 0.1, "momentum": 0.9}),
        descend_run(anisotropic, "rmsprop", {"lr": 0.1, "alpha": 0.9}),
    ]


@pytest.fixture
def diverged_run(anisotropic: Surface) -> RunResult:
    """GD with η·λ_max = 0.2·16 > 2: the steep coordinate grows ×2.2 per step."""
    run = descend_run(anisotropic, "sgd", {"lr": 0.2}, steps=50)
    assert run.diverged_at is not None
    return run


@pytest.fixture
def make_run():
    """descend_run(surface, rule, hyperparams, start=(1, 1), steps=50, name=None, tags=None)."""
    return descend_run


@pytest.fixture
def make_straight_run():
    """straight_run(surface, start, end, steps=10, name="straight", diverged_at=None)."""
    return straight_run


@pytest.fixture(name="himmelblau")
def himmelblau_surface() -> Surface:
    return himmelblau()


@pytest.fixture(name="double_well")
def double_well_surface() -> Surface:
    return double_well()
