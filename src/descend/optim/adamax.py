"""Adamax, Adam's infinity-norm variant (Kingma & Ba 2015, §7.1).

Per step t = 1, 2, ...:
    g ← ∇f(θ) + λ·θ                        (λ = weight_decay)
    m ← β₁·m + (1 − β₁)·g
    u ← max(β₂·u, |g| + ε)                 (an exponentially weighted infinity norm)
    θ ← θ − η/(1 − β₁ᵗ) · m / u
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_adam_like, nonzero
from descend.optim.moments import ema, plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    return {"exp_avg": torch.zeros_like(param), "exp_inf": torch.zeros_like(param)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t = state["step"]
    beta1, beta2 = h.betas
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    m = ema(state["exp_avg"], grad, beta1, out=h.reuse(state["exp_avg"]))
    decayed = torch.mul(state["exp_inf"], beta2, out=h.reuse(state["exp_inf"]))
    u = torch.maximum(decayed, grad.abs().add_(h.eps), out=h.reuse(state["exp_inf"]))
    update = Update(m, -h.lr / (1 - beta1**t), denominator=u)
    return update, {**state, "exp_avg": m, "exp_inf": u}


@register
def adamax(
    lr: Any = 2e-3,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    maximize: bool = False,
) -> Optimizer:
    """Adamax: Adam with the second moment replaced by a decaying max of |g|."""
    check_adam_like(lr, betas, eps, weight_decay, maximize)
    hyperparams = dict(
        lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize
    )
    return Elementwise("adamax", hyperparams, _init, _update)
