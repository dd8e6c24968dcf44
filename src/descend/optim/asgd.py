"""ASGD: averaged SGD (Polyak & Juditsky 1992), with torch.optim's step-size decay.

    g ← ∇f(θ) + λ_w·θ                      (λ_w = weight_decay)
    θ ← θ·(1 − λ·η_t) − η_t·g              (λ = lambd; η₁ = lr)
    θ̄ ← θ̄ + μ_t·(θ − θ̄)                    (ax: the running average of the iterates)
    η_{t+1} = lr / (1 + λ·lr·t)^α,   μ_{t+1} = 1 / max(1, t − t₀)

Averaging starts after t₀ steps; before that θ̄ simply follows θ. The answer of ASGD is
θ̄ (state["ax"]), not θ.

η_t and μ_t are kept in the parameters' dtype (Python numbers, or run-wise tensors of
that dtype). torch.optim.ASGD keeps them as tensors of the default dtype: under a float32
default it rounds them to float32 even for float64 parameters, so the two differ there
by ~1e-10 relative after 30 steps, descend being the more exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_flag, check_lr, check_range, nonzero
from descend.optim.moments import plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    return {"eta": h.lr, "mu": 1.0, "ax": torch.zeros_like(param)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t, eta, mu = state["step"], state["eta"], state["mu"]
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    step = Update(grad, -eta, decay=h.lambd * eta)  # θ·(1 − λ·η) − η·g, as torch rounds it
    if isinstance(mu, Tensor) or mu != 1:
        new_param = step.new_value(param)
        ax = torch.add(state["ax"], mu * (new_param - state["ax"]), out=h.reuse(state["ax"]))
    else:  # θ̄ follows θ: θ' is made where θ̄ is kept, and θ takes it from there
        new_param = ax = step.new_value(param, out=h.reuse(state["ax"]))
    update = Update.replacing(new_param)
    next_eta = h.lr / (1 + h.lambd * h.lr * t) ** h.alpha
    next_mu = 1 / _at_least_one(t - h.t0)
    return update, {**state, "eta": next_eta, "mu": next_mu, "ax": ax}


def _at_least_one(x: Any) -> Any:
    return x.clamp(min=1) if isinstance(x, Tensor) else max(1, x)


@register
def asgd(
    lr: Any = 1e-2,
    lambd: Any = 1e-4,
    alpha: Any = 0.75,
    t0: Any = 1e6,
    weight_decay: Any = 0.0,
    maximize: bool = False,
) -> Optimizer:
    """ASGD: SGD whose answer is the average of the iterates after step t0."""
    check_lr(lr)
    check_range("lambd", lambd, 0.0)
    check_range("alpha", alpha, 0.0)
    check_range("t0", t0, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_flag("maximize", maximize)
    hyperparams = dict(
        lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize
    )
    return Elementwise("asgd", hyperparams, _init, _update)
