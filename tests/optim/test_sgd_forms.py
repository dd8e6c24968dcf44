"""SGD's two momentum forms: the torch form (η outside the velocity) and the classical
form of Sutskever et al. and seeds 003/004 (η inside): equal under a constant η,
different under a schedule."""

from __future__ import annotations

import pytest
import torch

import descend
from optim_cases import PROBLEMS, compare_trajectories, float64, run_functional

MOMENTUM_SETTINGS = [
    dict(momentum=0.9),
    dict(momentum=0.9, nesterov=True),
    dict(momentum=0.5, dampening=0.5),  # seed 003's moving-average form
    dict(momentum=0.9, weight_decay=0.1),
]


def _trajectory(momentum_form, lr, settings, steps=100):
    with float64():
        opt = descend.optim.sgd(lr=lr, momentum_form=momentum_form, **settings)
        # Compare params only: the two forms keep different buffers (b versus v = −η·b).
        return [
            (p, {key: {} for key in p}) for p, _ in run_functional(opt, PROBLEMS["mlp"](), steps)
        ]


@pytest.mark.parametrize("settings", MOMENTUM_SETTINGS)
def test_both_forms_agree_under_a_constant_lr(settings):
    compare_trajectories(
        _trajectory("classical", 0.05, settings), _trajectory("torch", 0.05, settings)
    )


@pytest.mark.parametrize("settings", MOMENTUM_SETTINGS)
def test_the_forms_differ_under_a_schedule(settings):
    def decaying(step):
        return 0.05 * 0.95**step

    with pytest.raises(AssertionError, match="relative difference"):
        compare_trajectories(
            _trajectory("classical", decaying, settings), _trajectory("torch", decaying, settings)
        )


def test_classical_form_by_hand():
    """Seed 004's momentum: v ← α·v + η·g, w ← w − v (our v is its −v). Two steps by hand
    on f = w² from w = 1 with η = 0.1, α = 0.9 and η halved at step 2:
    g₁ = 2, v₁ = −0.2, w₁ = 0.8;  g₂ = 1.6, v₂ = 0.9·(−0.2) − 0.05·1.6 = −0.26, w₂ = 0.54.
    The torch form would give b₂ = 0.9·2 + 1.6 = 3.4 and w₂ = 0.8 − 0.05·3.4 = 0.63."""
    lrs = [0.1, 0.05]
    for form, expected in [("classical", 0.54), ("torch", 0.63)]:
        opt = descend.optim.sgd(lr=lambda k: lrs[k], momentum=0.9, momentum_form=form)
        params = {"w": torch.tensor(1.0, dtype=torch.float64)}
        state = opt.init(params)
        for _ in range(2):
            updates, state = opt.update({"w": 2 * params["w"]}, state, params)
            params = descend.optim.apply_updates(params, updates)
        assert params["w"].item() == pytest.approx(expected, rel=1e-14), form
