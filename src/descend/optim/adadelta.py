"""Adadelta (Zeiler 2012).

    g ← ∇f(θ) + λ·θ                        (λ = weight_decay)
    v ← ρ·v + (1 − ρ)·g²                   (running average of squared gradients)
    Δ = √(u + ε) / √(v + ε) · g            (units of θ: RMS of past steps over RMS of g)
    u ← ρ·u + (1 − ρ)·Δ²                   (running average of squared steps)
    θ ← θ − η·Δ

Zeiler's rule has no learning rate (η = 1, torch's default); seed 002 uses η = 0.5.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_flag, check_lr, check_range, nonzero
from descend.optim.moments import ema_square, plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    return {"square_avg": torch.zeros_like(param), "acc_delta": torch.zeros_like(param)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    rho, eps = h.rho, h.eps
    v = ema_square(state["square_avg"], grad, rho, out=h.reuse(state["square_avg"]))
    delta = state["acc_delta"].add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(grad)
    u = ema_square(state["acc_delta"], delta, rho, out=h.reuse(state["acc_delta"]))
    return Update(delta, -h.lr), {**state, "square_avg": v, "acc_delta": u}


@register
def adadelta(
    lr: Any = 1.0,
    rho: Any = 0.9,
    eps: Any = 1e-6,
    weight_decay: Any = 0.0,
    maximize: bool = False,
) -> Optimizer:
    """Adadelta: steps in the units of θ, from running RMS of steps and gradients."""
    check_lr(lr)
    check_range("rho", rho, 0.0, 1.0)
    check_range("eps", eps, 0.0, low_open=True)
    check_range("weight_decay", weight_decay, 0.0)
    check_flag("maximize", maximize)
    hyperparams = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return Elementwise("adadelta", hyperparams, _init, _update)
