"""AdaGrad (Duchi, Hazan & Singer 2011).

    g ← ∇f(θ) + λ·θ                        (λ = weight_decay)
    η_t = η / (1 + (t − 1)·lr_decay)
    r ← r + g²                             (r₀ = initial_accumulator_value)
    θ ← θ − η_t · g / (√r + ε)

Every coordinate gets its own step, shrinking with the sum of its squared gradients.
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
    return {"sum": torch.zeros_like(param) + h.initial_accumulator_value}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t = state["step"]
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    lr_t = h.lr / (1 + (t - 1) * h.lr_decay)
    r = torch.addcmul(state["sum"], grad, grad, out=h.reuse(state["sum"]))
    std = r.sqrt().add_(h.eps)
    return Update(grad, -lr_t, denominator=std), {**state, "sum": r}


@register
def adagrad(
    lr: Any = 1e-2,
    lr_decay: Any = 0.0,
    weight_decay: Any = 0.0,
    initial_accumulator_value: Any = 0.0,
    eps: Any = 1e-10,
    maximize: bool = False,
) -> Optimizer:
    """AdaGrad: per-coordinate steps η/√(Σ g²)."""
    check_lr(lr)
    check_range("lr_decay", lr_decay, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
    check_range("eps", eps, 0.0, low_open=True)
    check_flag("maximize", maximize)
    hyperparams = dict(
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
        maximize=maximize,
    )
    return Elementwise("adagrad", hyperparams, _init, _update)
