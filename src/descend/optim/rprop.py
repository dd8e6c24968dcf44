"""Rprop: resilient backpropagation (Riedmiller & Braun 1993), as torch.optim's Rprop.

Only the sign of the gradient is used; each coordinate keeps its own step size Δ:

    s = sign(g · g_prev)
    Δ ← min(Δ·η₊, Δ_max)  where s > 0      (same direction: accelerate)
    Δ ← max(Δ·η₋, Δ_min)  where s < 0      (overshot: brake, and skip this step: g ← 0)
    θ ← θ − sign(g)·Δ,     g_prev ← g

(η₋, η₊) = etas, (Δ_min, Δ_max) = step_sizes, Δ₀ = lr. The learning rate is only the
initial step size: with a schedule, its value at step 0 is used.

The factors η₊, η₋, 1 are written into a tensor of the parameters' dtype: built from
Python numbers alone (torch.where(s > 0, 1.2, ...)), torch would make them in the default
dtype, and η₊ = 1.2 would become 1.2000000476837158 in a float64 run under a float32
default.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.errors import HyperparameterError
from descend.optim.base import Elementwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_flag, check_lr, check_range
from descend.optim.updates import Update


def _init(param: Tensor, h: Hyper) -> State:
    return {"prev": torch.zeros_like(param), "step_size": torch.zeros_like(param) + h.lr}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    eta_minus, eta_plus = h.etas
    step_size_min, step_size_max = h.step_sizes
    same_sign = grad.mul(state["prev"]).sign_()
    accelerate, brake = same_sign > 0, same_sign < 0
    factor = same_sign.fill_(1.0)  # (same_sign is spent) 1 where the sign is 0, then η₊, η₋
    factor = _put(_put(factor, accelerate, eta_plus), brake, eta_minus)
    step_size = torch.mul(state["step_size"], factor, out=h.reuse(state["step_size"]))
    step_size.clamp_(step_size_min, step_size_max)
    grad = grad.masked_fill(brake, 0)
    return Update(grad.sign().mul_(step_size), -1.0), {
        **state,
        "prev": grad,
        "step_size": step_size,
    }


def _put(x: Tensor, where: Tensor, value: Any) -> Tensor:
    """x with `value` where `where` holds: in place for a number (then exactly the number,
    in x's dtype), a new tensor for run-wise values."""
    if isinstance(value, Tensor):
        return torch.where(where, value, x)
    return x.masked_fill_(where, value)


@register
def rprop(
    lr: Any = 1e-2,
    etas: tuple[Any, Any] = (0.5, 1.2),
    step_sizes: tuple[Any, Any] = (1e-6, 50.0),
    maximize: bool = False,
) -> Optimizer:
    """Rprop: sign-based steps with per-coordinate adaptive step sizes."""
    check_lr(lr)
    if not (isinstance(etas, tuple | list) and len(etas) == 2):
        raise HyperparameterError(f"Invalid etas: {etas!r} (allowed: 0 < etas[0] < 1 < etas[1]).")
    check_range("etas[0]", etas[0], 0.0, 1.0, low_open=True, high_open=True)
    check_range("etas[1]", etas[1], 1.0, low_open=True)
    if not (isinstance(step_sizes, tuple | list) and len(step_sizes) == 2):
        raise HyperparameterError(
            f"Invalid step_sizes: {step_sizes!r} (allowed: a pair 0 <= min <= max)."
        )
    check_range("step_sizes[0]", step_sizes[0], 0.0)
    check_range("step_sizes[1]", step_sizes[1], 0.0)
    check_flag("maximize", maximize)
    hyperparams = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize)
    return Elementwise("rprop", hyperparams, _init, _update)
