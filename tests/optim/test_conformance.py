"""Every registered rule descends: it reduces the loss on a bowl, and it reaches the
minimum of Rosenbrock's valley (1, 1) from (−1.5, 2) within the budget, learning rate
and tolerance stated in the table (the slow adaptive rules get the tolerance they earn
on this classic: a learner should see that, not a flattering number)."""

from __future__ import annotations

import pytest
import torch

import descend
from optim_cases import float64, gradients


def rosenbrock(p):
    x, y = p["w"][0], p["w"][1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def anisotropic_bowl(p):
    return p["w"][0] ** 2 + 8 * p["w"][1] ** 2


# rule: (hyper-parameters, updates, tolerance on ‖θ − (1, 1)‖)
ROSENBROCK_TABLE = {
    "sgd": (dict(lr=2e-3, momentum=0.9), 3000, 1e-6),
    "adam": (dict(lr=3e-3), 8000, 1e-6),
    # Decoupled decay moves the fixed point off the minimum by design: test it without.
    "adamw": (dict(lr=3e-3, weight_decay=0.0), 8000, 1e-6),
    "adamax": (dict(lr=1e-3), 10000, 1e-6),
    "nadam": (dict(lr=1e-3), 20000, 1e-4),
    "radam": (dict(lr=2e-3), 10000, 1e-6),
    "rmsprop": (dict(lr=1e-3), 10000, 2e-3),
    "adagrad": (dict(lr=1.5), 20000, 1e-5),
    "ftrl": (dict(lr=1.5), 20000, 1e-5),
    "adadelta": (dict(lr=0.03), 20000, 1e-2),
    "rprop": (dict(lr=0.01), 10000, 2e-3),
    "asgd": (dict(lr=2e-3), 10000, 1e-3),
    # No momentum, and steps of ρ_t·RMS(θ) with ρ_t = min(lr, 1/√t): it closes in as 1/√t.
    "adafactor": (dict(lr=0.1), 20000, 3e-2),
    # Normalised steps (a vector's orthogonalisation is its direction): it circles the
    # minimum at the scale of lr. Weight decay off, as for AdamW.
    "muon": (dict(lr=3e-3, weight_decay=0.0), 3000, 5e-3),
    # tolerance_change=0: with the default 1e-9, L-BFGS (torch's too) stops 3e-6 away.
    "lbfgs": (dict(line_search_fn="strong_wolfe", tolerance_change=0.0), 30, 1e-8),
}


def descend_from(opt, loss, start, steps):
    params = {"w": torch.tensor(start)}
    state = opt.init(params)
    for _ in range(steps):
        grads = None if opt.name == "lbfgs" else gradients(loss, params)
        updates, state = opt.update(grads, state, params, value_fn=loss)
        params = descend.optim.apply_updates(params, updates)
    return params, state


def test_every_registered_rule_is_in_the_table():
    assert set(descend.optim.names()) == set(ROSENBROCK_TABLE)


@pytest.mark.parametrize("name", sorted(ROSENBROCK_TABLE))
def test_reduces_the_loss_on_a_bowl_with_default_hyperparameters(name):
    with float64():
        start = [1.0, 1.0]
        opt = descend.optim.get(name)
        params, _ = descend_from(opt, anisotropic_bowl, start, 50)
        assert anisotropic_bowl(params) < anisotropic_bowl({"w": torch.tensor(start)})


@pytest.mark.parametrize("name", sorted(ROSENBROCK_TABLE))
def test_reaches_the_minimum_of_rosenbrock(name):
    hyperparams, steps, tolerance = ROSENBROCK_TABLE[name]
    with float64():
        params, state = descend_from(
            descend.optim.get(name, **hyperparams), rosenbrock, [-1.5, 2.0], steps
        )
        answer = state["w"]["ax"] if name == "asgd" else params["w"]  # ASGD answers the average
        distance = float((answer - 1).norm())
        assert distance <= tolerance, f"{name}: ‖θ − (1, 1)‖ = {distance:.3g} after {steps} steps"
