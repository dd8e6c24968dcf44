"""SGD, with heavy-ball or Nesterov momentum (Robbins & Monro 1951; Polyak 1964;
Nesterov 1983; Sutskever et al. 2013).

GD, SGD and minibatch SGD are this one rule: they differ only in which examples the
gradient comes from (the engine's data regimes: full batch, one example, a minibatch),
not in the update.

    g ← ∇f(θ) + λ·θ                      (λ = weight_decay; −∇f(θ) if maximize)
    no momentum:   θ ← θ − η·g

momentum_form="torch" (PyTorch's form, the default):
    b ← μ·b + (1 − τ)·g                  (τ = dampening; the first step sets b ← g)
    θ ← θ − η·(g + μ·b)  if nesterov,   θ ← θ − η·b  otherwise

momentum_form="classical" (the learning rate inside the velocity, as in Sutskever et al.
2013, Goodfellow et al. 2016 §8.3 and seeds 003/004):
    v ← μ·v − η·(1 − τ)·g                (the first step sets v ← −η·g)
    θ ← θ + μ·v − η·g    if nesterov,   θ ← θ + v    otherwise

With a constant η the two forms give the same iterates (v = −η·b). Under a schedule they
differ: the torch form rescales the whole accumulated velocity by today's η, the classical
form keeps each past gradient scaled by the η of its own step. τ = μ gives seed 003's
moving-average form v ← μ·v − (1 − μ)·η·g.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from descend.errors import HyperparameterError
from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import (
    Hyper,
    check_choice,
    check_flag,
    check_lr,
    check_range,
    is_zero,
    nonzero,
)
from descend.optim.moments import plus_scaled
from descend.optim.updates import Update

MOMENTUM_FORMS = ("torch", "classical")


def _init(param: Tensor, h: Hyper) -> State:
    if not nonzero(h.momentum):
        return {}
    buffer = "velocity" if h.momentum_form == "classical" else "momentum_buffer"
    return {buffer: torch.zeros_like(param)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    if nonzero(h.weight_decay):
        grad = plus_scaled(grad, param, h.weight_decay)
    if not nonzero(h.momentum):
        return Update(grad, -h.lr), state

    first_step = state["step"] == 1
    mu, tau = h.momentum, h.dampening
    if h.momentum_form == "classical":
        if first_step:
            v = -h.lr * grad
        else:
            v = torch.mul(state["velocity"], mu, out=h.reuse(state["velocity"]))
            v.sub_(h.lr * (1 - tau) * grad)
        update = Update(mu * v - h.lr * grad) if h.nesterov else Update(v)
        return update, {**state, "velocity": v}

    if first_step:  # a copy: the state must not share its memory with the gradient
        b = grad.clone()
    else:
        b = torch.mul(state["momentum_buffer"], mu, out=h.reuse(state["momentum_buffer"]))
        plus_scaled(b, grad, 1 - tau, out=b)
    direction = plus_scaled(grad, b, mu) if h.nesterov else b
    return Update(direction, -h.lr), {**state, "momentum_buffer": b}


@register
def sgd(
    lr: Any = 1e-3,
    momentum: Any = 0.0,
    dampening: Any = 0.0,
    weight_decay: Any = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    momentum_form: Literal["torch", "classical"] = "torch",
) -> Optimizer:
    """SGD; GD and minibatch SGD are the same rule on other batches (module docstring)."""
    check_lr(lr)
    check_range("momentum", momentum, 0.0)
    check_range("dampening", dampening, 0.0, 1.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_flag("nesterov", nesterov)
    check_flag("maximize", maximize)
    check_choice("momentum_form", momentum_form, MOMENTUM_FORMS)
    if nesterov and (is_zero(momentum) or not is_zero(dampening)):
        raise HyperparameterError(
            f"Invalid nesterov=True with momentum={momentum}, dampening={dampening} "
            "(allowed: nesterov needs momentum > 0 and dampening = 0)."
        )
    hyperparams = dict(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
        momentum_form=momentum_form,
    )
    return Elementwise("sgd", hyperparams, _init, _update)
