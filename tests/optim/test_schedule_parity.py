"""An lr schedule drives a descend rule exactly as the matching torch.optim.lr_scheduler
drives the torch optimizer (scheduler.step() after every optimizer.step())."""

from __future__ import annotations

import pytest
from torch.optim import lr_scheduler as ts

import descend
from descend import schedules
from optim_cases import (
    TORCH_EQUIVALENT,
    compare_trajectories,
    float64,
    mlp_for,
    run_adapter,
    run_functional,
    run_torch,
)

STEPS = 100
LR = 0.02


def _factor(k):
    return 1 / (1 + 0.05 * k)


# (our schedule, the torch scheduler doing the same to an optimizer built with lr=LR)
SCHEDULE_TABLE = {
    "constant": (schedules.constant(LR, 0.5, 30), lambda o: ts.ConstantLR(o, 0.5, 30)),
    "linear": (schedules.linear(LR, 0.1, 1.0, 40), lambda o: ts.LinearLR(o, 0.1, 1.0, 40)),
    "step": (schedules.step(LR, 15, 0.5), lambda o: ts.StepLR(o, 15, 0.5)),
    "multistep": (
        schedules.multistep(LR, [20, 50], 0.3),
        lambda o: ts.MultiStepLR(o, [20, 50], 0.3),
    ),
    "exponential": (schedules.exponential(LR, 0.98), lambda o: ts.ExponentialLR(o, 0.98)),
    "polynomial": (schedules.polynomial(LR, 80, 2.0), lambda o: ts.PolynomialLR(o, 80, 2.0)),
    "cosine": (schedules.cosine(LR, 30, 0.001), lambda o: ts.CosineAnnealingLR(o, 30, 0.001)),
    "cosine_warm_restarts": (
        schedules.cosine_warm_restarts(LR, T_0=10, T_mult=2, eta_min=0.001),
        lambda o: ts.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=0.001),
    ),
    "cyclic": (
        schedules.cyclic(0.002, LR, 10, 15, "triangular2"),
        lambda o: ts.CyclicLR(o, 0.002, LR, 10, 15, "triangular2", cycle_momentum=False),
    ),
    "one_cycle": (
        schedules.one_cycle(LR, STEPS, three_phase=True),
        lambda o: ts.OneCycleLR(o, LR, STEPS, three_phase=True, cycle_momentum=False),
    ),
    "lambda": (schedules.lambda_lr(LR, _factor), lambda o: ts.LambdaLR(o, _factor)),
    "warmup": (
        schedules.warmup(LR, 10, 0.1, then=schedules.cosine(LR, 90)),
        lambda o: ts.SequentialLR(
            o, [ts.LinearLR(o, 0.1, total_iters=10), ts.CosineAnnealingLR(o, 90)], [10]
        ),
    ),
    "sequential": (
        schedules.sequential([schedules.exponential(LR, 0.95), schedules.step(LR, 10)], [30]),
        lambda o: ts.SequentialLR(o, [ts.ExponentialLR(o, 0.95), ts.StepLR(o, 10)], [30]),
    ),
}

ELEMENTWISE_WITH_TORCH_EQUIVALENT = sorted(set(TORCH_EQUIVALENT) - {"lbfgs"})
RULE_SETTINGS = {"sgd": dict(momentum=0.9), "adam": dict(amsgrad=True)}


def test_every_schedule_with_a_torch_equivalent_is_in_the_table():
    # per_epoch and reduce_on_plateau: their parity in tests/test_schedules_in_studies.py
    without_torch_equivalent = {"linear_decay", "per_epoch", "reduce_on_plateau"}
    assert set(schedules.names()) - without_torch_equivalent == set(SCHEDULE_TABLE)


def _compare(rule, settings, schedule_name, runner):
    schedule, torch_scheduler = SCHEDULE_TABLE[schedule_name]
    with float64():
        problem = mlp_for(rule)
        expected = run_torch(
            TORCH_EQUIVALENT[rule], dict(lr=LR, **settings), problem, STEPS, torch_scheduler
        )
        opt = descend.optim.get(rule, lr=schedule, **settings)
        compare_trajectories(runner(opt, problem, STEPS), expected)


@pytest.mark.parametrize("runner", [run_functional, run_adapter], ids=["functional", "to_torch"])
@pytest.mark.parametrize("rule", sorted(RULE_SETTINGS))
@pytest.mark.parametrize("schedule_name", sorted(SCHEDULE_TABLE))
def test_schedule_drives_the_rule_as_torch_scheduler_drives_torch(schedule_name, rule, runner):
    _compare(rule, RULE_SETTINGS[rule], schedule_name, runner)


@pytest.mark.parametrize("rule", ELEMENTWISE_WITH_TORCH_EQUIVALENT)
def test_every_rule_under_warm_restarts(rule):
    _compare(rule, {}, "cosine_warm_restarts", run_functional)
