"""RMSProp (Tieleman & Hinton 2012, lecture 6.5; centred form: Graves 2013).

    g ← ∇f(θ) + λ·θ                        (λ = weight_decay)
    v ← α·v + (1 − α)·g²                   (α = alpha: the decay of the average)
    centered:  ḡ ← α·ḡ + (1 − α)·g,   v̄ = v − ḡ²     (a variance instead of a raw moment)
    δ = g / (√v̄ + ε)                        (√v when not centred)
    momentum μ > 0:  b ← μ·b + δ,  θ ← θ − η·b
    otherwise:       θ ← θ − η·δ

ε is added outside the square root, as in torch.optim and in seed 004
(w ← w − η·g/(√s + 1e-10)), whose β is this α.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_flag, check_lr, check_range, nonzero
from descend.optim.moments import ema, ema_square, plus_scaled
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    state = {"square_avg": torch.zeros_like(param)}
    if nonzero(h.momentum):
        state["momentum_buffer"] = torch.zeros_like(param)
    if h.centered:
        state["grad_avg"] = torch.zeros_like(param)
    return state


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    alpha = h.alpha
    v = ema_square(state["square_avg"], grad, alpha, out=h.reuse(state["square_avg"]))
    new_state = {**state, "square_avg": v}
    if h.centered:
        g_avg = ema(state["grad_avg"], grad, alpha, out=h.reuse(state["grad_avg"]))
        new_state["grad_avg"] = g_avg
        rms = v.addcmul(g_avg, g_avg, value=-1).sqrt_()
    else:
        rms = v.sqrt()
    rms.add_(h.eps)
    if nonzero(h.momentum):
        b = torch.mul(state["momentum_buffer"], h.momentum, out=h.reuse(state["momentum_buffer"]))
        new_state["momentum_buffer"] = b.addcdiv_(grad, rms)
        return Update(b, -h.lr), new_state
    return Update(grad, -h.lr, denominator=rms), new_state


@register
def rmsprop(
    lr: Any = 1e-2,
    alpha: Any = 0.99,
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    momentum: Any = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """RMSProp: steps scaled by a running root mean square of the gradient."""
    check_lr(lr)
    check_range("alpha", alpha, 0.0, 1.0)
    check_range("eps", eps, 0.0, low_open=True)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("momentum", momentum, 0.0)
    check_flag("centered", centered)
    check_flag("maximize", maximize)
    hyperparams = dict(
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
        centered=centered,
        maximize=maximize,
    )
    return Elementwise("rmsprop", hyperparams, _init, _update)
