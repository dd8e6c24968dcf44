"""Every rule torch.optim also has matches it step for step: params and every state
tensor, float64, 120 steps, several settings, two problems (Muon: a network of matrices,
the only parameters torch.optim.Muon takes), through the functional API (`update` then
`apply_updates`), `step` (the new parameters at once, the state overwritten, as the
engine steps) and `to_torch`. test_torch_optim_db.py runs torch's own settings beside
these."""

from __future__ import annotations

import pytest
import torch

import descend
from optim_cases import (
    MATRIX_ONLY,
    PROBLEMS,
    Problem,
    compare_trajectories,
    float64,
    matrix_mlp,
    problem_for,
    run_adapter,
    run_functional,
    run_step,
    run_torch,
)

STEPS = 120

# (descend name, torch class, settings): the same keyword arguments go to both.
PARITY_TABLE = [
    (
        "sgd",
        torch.optim.SGD,
        [
            dict(lr=0.05),
            dict(lr=0.05, momentum=0.9),
            dict(lr=0.05, momentum=0.9, nesterov=True),
            dict(lr=0.05, momentum=0.8, dampening=0.5),
            dict(lr=0.05, momentum=0.5, weight_decay=0.1),
            dict(lr=0.01, maximize=True),
        ],
    ),
    (
        "adagrad",
        torch.optim.Adagrad,
        [
            dict(lr=0.1),
            dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5),
            dict(lr=0.05, eps=1e-3, maximize=True),
        ],
    ),
    (
        "rmsprop",
        torch.optim.RMSprop,
        [
            dict(lr=0.01),
            dict(lr=0.01, centered=True, momentum=0.9),
            # lr 0.002: from lr ≈ 0.005 on the MLP, RMSProp's effective step η/√v grows
            # once v is small and the iteration amplifies any rounding difference ~5×
            # per step (chaos, not a rule difference); parity is then not measurable.
            dict(lr=0.002, alpha=0.9, weight_decay=0.1, eps=1e-4),
            dict(lr=0.002, momentum=0.5, maximize=True),
        ],
    ),
    (
        "adadelta",
        torch.optim.Adadelta,
        [dict(lr=1.0), dict(lr=0.5, rho=0.95, weight_decay=0.1, eps=1e-4)],
    ),
    (
        "adam",
        torch.optim.Adam,
        [
            dict(lr=0.01),
            dict(lr=0.01, amsgrad=True, weight_decay=0.1),
            dict(lr=0.02, betas=(0.5, 0.9), eps=1e-4),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, maximize=True),
        ],
    ),
    ("adamw", torch.optim.AdamW, [dict(lr=0.01), dict(lr=0.01, amsgrad=True, weight_decay=0.1)]),
    ("adamax", torch.optim.Adamax, [dict(lr=0.01), dict(betas=(0.8, 0.99), weight_decay=0.1)]),
    (
        "nadam",
        torch.optim.NAdam,
        [
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1),
        ],
    ),
    (
        "radam",
        torch.optim.RAdam,
        [
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1),
        ],
    ),
    (
        "rprop",
        torch.optim.Rprop,
        [dict(lr=0.01), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-4, 1.0))],
    ),
    (
        "asgd",
        torch.optim.ASGD,
        [
            dict(lr=0.01),
            dict(lr=0.01, lambd=1e-3, alpha=0.6, t0=50, weight_decay=0.1),
        ],
    ),
    (
        "adafactor",
        torch.optim.Adafactor,
        [
            dict(lr=0.01),
            dict(lr=0.01, weight_decay=0.1, beta2_decay=-0.5, d=1.5),
            dict(eps=(1e-30, 1e-2), maximize=True),
        ],
    ),
    (
        "muon",
        torch.optim.Muon,
        [
            dict(lr=0.02),
            dict(lr=0.02, momentum=0.8, nesterov=False, weight_decay=0.05),
            dict(lr=0.02, adjust_lr_fn="match_rms_adamw", ns_steps=3),
        ],
    ),
]

MATRIX_PROBLEMS = {"matrix-mlp": matrix_mlp}
CASES = [
    pytest.param(name, torch_class, settings, problem_name, id=f"{name}-{i}-{problem_name}")
    for name, torch_class, all_settings in PARITY_TABLE
    for i, settings in enumerate(all_settings)
    for problem_name in (MATRIX_PROBLEMS if name in MATRIX_ONLY else PROBLEMS)
]


def _problem(problem_name: str, settings: dict) -> Problem:
    if problem_name in MATRIX_PROBLEMS:
        problem = MATRIX_PROBLEMS[problem_name]()
        if settings.get("maximize"):
            return Problem(problem.name, problem.start, lambda p: -problem.loss(p))
        return problem
    return problem_for(problem_name, settings)


@pytest.mark.parametrize(
    "runner", [run_functional, run_step, run_adapter], ids=["functional", "step", "to_torch"]
)
@pytest.mark.parametrize(("name", "torch_class", "settings", "problem_name"), CASES)
def test_matches_torch(name, torch_class, settings, problem_name, runner):
    with float64():
        problem = _problem(problem_name, settings)
        expected = run_torch(torch_class, settings, problem, STEPS)
        ours = runner(descend.optim.get(name, **settings), problem, STEPS)
        compare_trajectories(ours, expected)


def test_every_rule_torch_has_is_in_the_parity_table():
    in_table = {name for name, _, _ in PARITY_TABLE}
    without_torch_equivalent = {"ftrl", "lbfgs"}  # FTRL: hand-computed; L-BFGS: own test
    assert set(descend.optim.names()) - without_torch_equivalent == in_table


def test_the_comparison_detects_a_difference():
    """The checker itself can fail: a 1e-9 relative change in lr is caught."""
    with float64():
        problem = PROBLEMS["quadratic"]()
        expected = run_torch(torch.optim.Adam, dict(lr=0.01), problem, 20)
        ours = run_functional(descend.optim.adam(lr=0.01 * (1 + 1e-8)), problem, 20)
        with pytest.raises(AssertionError, match="relative difference"):
            compare_trajectories(ours, expected)
