"""FTRL-Proximal (McMahan et al. 2013, "Ad click prediction: a view from the trenches",
Algorithm 1), with the hyper-parameters and update of TensorFlow/Keras' Ftrl.

Per coordinate, with n the accumulated squared gradients and z the "linear" term:

    g' = g + 2·λ_s·θ                       (λ_s = l2_shrinkage: an L2 penalty on the loss)
    n' = n + g²                            (n₀ = initial_accumulator_value)
    σ  = (n'^(−p) − n^(−p)) / η            (p = learning_rate_power, −½ in the paper)
    z ← z + g' − σ·θ
    θ ← (clip(z, −λ₁, λ₁) − z) / ((β + n'^(−p))/η + 2·λ₂)
      =  0                                    where |z| <= λ₁   (L1 makes exact zeros)
      = −(z − sign(z)·λ₁) / ((β + √n')/η + 2·λ₂)   otherwise

θ is not stepped from its previous value but recomputed from z: the proximal term is
centred at the origin (z₀ = 0). So, with λ₁ = λ₂ = λ_s = β = 0 and p = −½, FTRL follows
AdaGrad's rule θ ← θ − η·g/√n' (with ε = 0) exactly when it starts at θ = 0 or with
n₀ = 0; from another start with n₀ > 0 its first step also pulls θ towards 0 by the
factor √(n₀/n₁).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_lr, check_range


def _init(param: Tensor, h: Hyper) -> State:
    return {
        "accumulator": torch.zeros_like(param) + h.initial_accumulator_value,
        "linear": torch.zeros_like(param),
    }


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Tensor, State]:
    n, z = state["accumulator"], state["linear"]
    power = -h.learning_rate_power
    shrunk_grad = grad + 2 * h.l2_shrinkage * param
    n_new = n + grad * grad
    sigma = (n_new**power - n**power) / h.lr
    z = torch.add(z, shrunk_grad, out=h.reuse(z)).sub_(sigma * param)
    quadratic = (h.beta + n_new**power) / h.lr + 2 * h.l2
    new_param = (z.clamp(-h.l1, h.l1) - z) / quadratic
    return new_param - param, {**state, "accumulator": n_new, "linear": z}


@register
def ftrl(
    lr: Any = 1e-3,
    learning_rate_power: Any = -0.5,
    initial_accumulator_value: Any = 0.1,
    l1: Any = 0.0,
    l2: Any = 0.0,
    l2_shrinkage: Any = 0.0,
    beta: Any = 0.0,
) -> Optimizer:
    """FTRL-Proximal with L1/L2 regularisation, as Keras' Ftrl (defaults included)."""
    check_lr(lr)
    check_range("learning_rate_power", learning_rate_power, high=0.0)
    check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
    check_range("l1", l1, 0.0)
    check_range("l2", l2, 0.0)
    check_range("l2_shrinkage", l2_shrinkage, 0.0)
    check_range("beta", beta, 0.0)
    hyperparams = dict(
        lr=lr,
        learning_rate_power=learning_rate_power,
        initial_accumulator_value=initial_accumulator_value,
        l1=l1,
        l2=l2,
        l2_shrinkage=l2_shrinkage,
        beta=beta,
    )
    return Elementwise("ftrl", hyperparams, _init, _update)
