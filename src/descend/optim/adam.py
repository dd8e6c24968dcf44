"""Adam, AMSGrad and AdamW (Kingma & Ba 2015; Reddi et al. 2018; Loshchilov & Hutter 2019).

    g ← ∇f(θ) + λ·θ                        (Adam: L2 weight decay, through the gradient)
    θ ← θ − η·λ·θ                          (AdamW, or decoupled_weight_decay=True)
    m ← β₁·m + (1 − β₁)·g                  (first moment)
    v ← β₂·v + (1 − β₂)·g²                 (second moment)
    v ← v_max ← max(v_max, v)              (AMSGrad only: never let the step grow back)
    θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

ε is added to the bias-corrected √v̂, as in torch.optim (the paper's ε placement).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_adam_like, check_flag, nonzero
from descend.optim.moments import ema, ema_square, plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    state = {"exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}
    if h.amsgrad:
        state["max_exp_avg_sq"] = torch.zeros_like(param)
    return state


def _adam_step(
    grad: Tensor, state: State, param: Tensor, h: Hyper, decoupled: bool
) -> tuple[Update, State]:
    t = state["step"]
    beta1, beta2 = h.betas
    decoupled_decay = decoupled and nonzero(h.weight_decay)
    if nonzero(h.weight_decay) and not decoupled:
        grad = plus_scaled(grad, param, h.weight_decay)

    m = ema(state["exp_avg"], grad, beta1, out=h.reuse(state["exp_avg"]))
    v = ema_square(state["exp_avg_sq"], grad, beta2, out=h.reuse(state["exp_avg_sq"]))
    new_state = {**state, "exp_avg": m, "exp_avg_sq": v}
    if h.amsgrad:
        v_max = state["max_exp_avg_sq"]
        v = new_state["max_exp_avg_sq"] = torch.maximum(v_max, v, out=h.reuse(v_max))

    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    denom = v.sqrt().div_(bias_correction2**0.5).add_(h.eps)
    decay = h.lr * h.weight_decay if decoupled_decay else 0.0
    return Update(m, -h.lr / bias_correction1, denominator=denom, decay=decay), new_state


def _adam_update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    return _adam_step(grad, state, param, h, decoupled=h.decoupled_weight_decay)


def _adamw_update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    return _adam_step(grad, state, param, h, decoupled=True)


@register
def adam(
    lr: Any = 1e-3,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> Optimizer:
    """Adam with L2 weight decay (AdamW's decoupled decay with decoupled_weight_decay)."""
    check_adam_like(lr, betas, eps, weight_decay, maximize)
    check_flag("amsgrad", amsgrad)
    check_flag("decoupled_weight_decay", decoupled_weight_decay)
    hyperparams = dict(
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=decoupled_weight_decay,
    )
    return Elementwise("adam", hyperparams, _init, _adam_update)


@register
def adamw(
    lr: Any = 1e-3,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: Any = 1e-8,
    weight_decay: Any = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """AdamW: Adam with weight decay applied to θ directly, not through the moments."""
    check_adam_like(lr, betas, eps, weight_decay, maximize)
    check_flag("amsgrad", amsgrad)
    hyperparams = dict(
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
    )
    return Elementwise("adamw", hyperparams, _init, _adamw_update)
