"""NAdam: Adam with Nesterov momentum (Dozat 2016), with torch.optim's momentum schedule.

    g ← ∇f(θ) + λ·θ       (or θ ← θ − η·λ·θ with decoupled_weight_decay, as AdamW)
    μ_t = β₁·(1 − ½·0.96^(t·ψ))            (ψ = momentum_decay: μ warms up towards β₁)
    Π_t = Π_{t−1}·μ_t                      (Π₀ = 1; kept in the state as mu_product)
    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
    d = √(v / (1 − β₂ᵗ)) + ε
    θ ← θ − η·(1 − μ_t)/(1 − Π_t) · g/d − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d

The last line is the Nesterov look-ahead: the current gradient enters the step directly,
and the momentum term uses next step's μ.

Π_t is kept in the parameters' dtype (a Python number, or a run-wise tensor of that
dtype). torch.optim.NAdam keeps it as a tensor of the default dtype: under a float32
default it rounds it to float32 even for float64 parameters, so the two differ there by
~1e-10 relative after 30 steps, descend being the more exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_adam_like, check_flag, check_range, nonzero
from descend.optim.moments import ema, ema_square, plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    return {
        "mu_product": 1.0,
        "exp_avg": torch.zeros_like(param),
        "exp_avg_sq": torch.zeros_like(param),
    }


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t = state["step"]
    beta1, beta2 = h.betas
    decoupled_decay = h.decoupled_weight_decay and nonzero(h.weight_decay)
    if nonzero(h.weight_decay) and not h.decoupled_weight_decay:
        grad = plus_scaled(grad, param, h.weight_decay)

    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * h.momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * h.momentum_decay))
    mu_product = state["mu_product"] * mu
    m = ema(state["exp_avg"], grad, beta1, out=h.reuse(state["exp_avg"]))
    v = ema_square(state["exp_avg_sq"], grad, beta2, out=h.reuse(state["exp_avg_sq"]))
    denom = v.div(1 - beta2**t).sqrt_().add_(h.eps)

    decay = h.lr * h.weight_decay if decoupled_decay else 0.0
    momentum_part = Update(m, -h.lr * mu_next / (1.0 - mu_product * mu_next), denominator=denom)
    gradient_part = Update(
        grad, -h.lr * (1.0 - mu) / (1.0 - mu_product), denom, decay, plus=momentum_part
    )
    new_state = {**state, "mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}
    return gradient_part, new_state


@register
def nadam(
    lr: Any = 2e-3,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    momentum_decay: Any = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """NAdam: Adam whose momentum looks one step ahead, as Nesterov's."""
    check_adam_like(lr, betas, eps, weight_decay, maximize)
    check_range("momentum_decay", momentum_decay, 0.0)
    check_flag("decoupled_weight_decay", decoupled_weight_decay)
    hyperparams = dict(
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        momentum_decay=momentum_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
    )
    return Elementwise("nadam", hyperparams, _init, _update)
