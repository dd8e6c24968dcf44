"""RAdam: Adam with a rectified adaptive step (Liu et al. 2020).

Per step t = 1, 2, ...:
    g ← ∇f(θ) + λ·θ       (or θ ← θ − η·λ·θ with decoupled_weight_decay, as AdamW)
    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   m̂ = m / (1 − β₁ᵗ)
    ρ∞ = 2/(1 − β₂) − 1,     ρ_t = ρ∞ − 2·t·β₂ᵗ/(1 − β₂ᵗ)   (length of the SMA of g²)
    if ρ_t > 5:  r_t = √((ρ_t − 4)(ρ_t − 2)·ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)·ρ_t))
                 θ ← θ − η·m̂ · r_t·√(1 − β₂ᵗ)/(√v + ε)
    else:        θ ← θ − η·m̂               (too few steps to trust v: plain momentum SGD)
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
    return {"exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}


def _rectification(rho_t: Any, rho_inf: Any) -> Any:
    """r_t, the ratio of the adaptive step's variance bound to its limit (needs ρ_t > 4)."""
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t = state["step"]
    beta1, beta2 = h.betas
    decoupled_decay = h.decoupled_weight_decay and nonzero(h.weight_decay)
    if nonzero(h.weight_decay) and not h.decoupled_weight_decay:
        grad = plus_scaled(grad, param, h.weight_decay)

    m = ema(state["exp_avg"], grad, beta1, out=h.reuse(state["exp_avg"]))
    v = ema_square(state["exp_avg_sq"], grad, beta2, out=h.reuse(state["exp_avg_sq"]))
    new_state = {**state, "exp_avg": m, "exp_avg_sq": v}
    bias_correction2 = 1 - beta2**t
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2

    def adaptive_step(rho: Any) -> Tensor:  # m̂·η·(√(1 − β₂ᵗ)/(√v + ε))·r_t, as torch orders it
        adaptive_lr = bias_correction2**0.5 / v.sqrt().add_(h.eps)
        return (m_hat * h.lr).mul_(adaptive_lr).mul_(_rectification(rho, rho_inf))

    if isinstance(rho_t, Tensor):  # run-wise β₂: each run takes its own branch
        step = torch.where(rho_t > 5.0, adaptive_step(rho_t.clamp(min=5.0)), m_hat * h.lr)
    elif rho_t > 5.0:
        step = adaptive_step(rho_t)
    else:
        step = m_hat * h.lr
    decay = h.lr * h.weight_decay if decoupled_decay else 0.0
    return Update(step, -1.0, decay=decay), new_state


@register
def radam(
    lr: Any = 1e-3,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """RAdam: Adam that starts as momentum SGD until its variance estimate is usable."""
    check_adam_like(lr, betas, eps, weight_decay, maximize)
    check_flag("decoupled_weight_decay", decoupled_weight_decay)
    hyperparams = dict(
        lr=lr,
        betas=tuple(betas),
        eps=eps,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
    )
    return Elementwise("radam", hyperparams, _init, _update)
