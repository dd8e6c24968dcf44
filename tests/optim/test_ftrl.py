"""FTRL-Proximal: hand-computed steps, and its documented special cases."""

from __future__ import annotations

import math

import pytest
import torch

import descend
from optim_cases import PROBLEMS, Problem, compare_trajectories, float64, run_functional, run_torch

HYPER = dict(
    lr=0.5, learning_rate_power=-0.5, initial_accumulator_value=0.1, l1=0.1, l2=0.2,
    l2_shrinkage=0.05, beta=0.3,
)  # fmt: skip

# f(θ) = ½‖θ − c‖², c = (1, 0.1), θ₀ = (0.5, 0.02), so g = θ − c. Worked by hand with
#   g' = g + 2·0.05·θ,  n' = n + g²,  σ = (√n' − √n)/0.5,  z ← z + g' − σ·θ,
#   θ = 0 if |z| <= 0.1 else −(z − sign(z)·0.1) / ((0.3 + √n')/0.5 + 2·0.2).
# Step 1, coordinate 2: g = −0.08, g' = −0.078, n' = 0.1064, σ = 0.0199247…,
#   z = −0.078 − 0.0199247…·0.02 = −0.0783985…: |z| <= l1, so θ₂ is exactly 0.
# Step 1, coordinate 1: g = −0.5, g' = −0.45, n' = 0.35, σ = 0.5507604…, z = −0.7253802…,
#   quadratic = (0.3 + √0.35)/0.5 + 0.4 = 2.1832159…, θ₁ = 0.6253802…/2.1832159… = 0.2864490…
HAND_COMPUTED = [  # (θ, n, z) after steps 1, 2, 3
    (
        (0.2864490846161383, 0.0),
        (0.35, 0.1064),
        (-0.7253802122931237, -0.07839849450356655),
    ),
    (
        (0.5264459594451429, 0.04660061609810411),
        (0.859154908845147, 0.1164),
        (-1.6023778963822934, -0.17839849450356654),
    ),
    (
        (0.6630277961691712, 0.0754292581936949),
        (1.0834083381709783, 0.11925149420110207),
        (-2.1432779946477964, -0.2275249424917489),
    ),
]


def test_first_three_steps_match_hand_computation():
    with float64():
        target = torch.tensor([1.0, 0.1])
        problem = Problem(
            "bowl", {"w": torch.tensor([0.5, 0.02])}, lambda p: 0.5 * ((p["w"] - target) ** 2).sum()
        )
        trajectory = run_functional(descend.optim.ftrl(**HYPER), problem, 3)
        for (params, state), (theta, n, z) in zip(trajectory, HAND_COMPUTED, strict=True):
            torch.testing.assert_close(params["w"], torch.tensor(theta), rtol=1e-12, atol=1e-15)
            torch.testing.assert_close(
                state["w"]["accumulator"], torch.tensor(n), rtol=1e-12, atol=0
            )
            torch.testing.assert_close(state["w"]["linear"], torch.tensor(z), rtol=1e-12, atol=0)
        assert trajectory[0][0]["w"][1].item() == 0.0  # L1 gives an exact zero


def _adagrad_special_case(start_at_origin: bool, initial_accumulator_value: float):
    """FTRL with l1 = l2 = l2_shrinkage = β = 0 and p = −½ against torch's Adagrad, ε = 0."""
    with float64():
        problem = PROBLEMS["quadratic"]()
        if start_at_origin:
            problem = Problem(problem.name, {"w": torch.zeros(10)}, problem.loss)
        ftrl = descend.optim.ftrl(lr=0.3, initial_accumulator_value=initial_accumulator_value)
        adagrad = dict(lr=0.3, eps=0.0, initial_accumulator_value=initial_accumulator_value)
        ours = run_functional(ftrl, problem, 120)
        reference = run_torch(torch.optim.Adagrad, adagrad, problem, 120)
        renamed = [(p, {"w": {"accumulator": s["w"]["sum"]}}) for p, s in reference]
        return compare_trajectories(ours, renamed)


@pytest.mark.parametrize(("start_at_origin", "n0"), [(True, 0.1), (True, 0.0), (False, 0.0)])
def test_follows_adagrad_when_the_proximal_centre_is_the_start(start_at_origin, n0):
    _adagrad_special_case(start_at_origin, n0)


def test_pulls_towards_the_origin_from_elsewhere():
    """From θ₀ ≠ 0 with n₀ > 0 it is not Adagrad: step 1 is θ₀·(1 − √(n₀/n₁)) − η·g/√n₁."""
    with pytest.raises(AssertionError, match="relative difference"):
        _adagrad_special_case(start_at_origin=False, initial_accumulator_value=0.1)
    theta0, g, lr, n0 = 2.0, 0.5, 0.3, 0.1
    opt = descend.optim.ftrl(lr=lr, initial_accumulator_value=n0)
    params = {"w": torch.tensor([theta0], dtype=torch.float64)}
    updates, _ = opt.update({"w": torch.tensor([g], dtype=torch.float64)}, opt.init(params), params)
    n1 = n0 + g * g
    expected = theta0 * (1 - math.sqrt(n0 / n1)) - lr * g / math.sqrt(n1)
    assert (params["w"] + updates["w"]).item() == pytest.approx(expected, rel=1e-14)
