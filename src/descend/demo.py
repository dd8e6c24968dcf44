"""The demo: every registered rule on the anisotropic bowl f(w) = w₁² + 8·w₂² from (1, 1).

Each rule runs with its default hyper-parameters (torch.optim's), and lr 0.1 where a rule
has no default learning rate, unless the caller sets one lr for all.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from descend import optim

FALLBACK_LR = 0.1


def anisotropic_bowl(params: dict[str, torch.Tensor]) -> torch.Tensor:
    w = params["w"]
    return w[0] ** 2 + 8 * w[1] ** 2


@dataclass(frozen=True)
class DemoRow:
    name: str
    lr: float
    loss_after: dict[int, float]  # {number of updates: loss}


def default_lr(name: str) -> float:
    default = optim.hyperparameter_defaults(name)["lr"]
    return FALLBACK_LR if default is inspect.Parameter.empty else float(default)


def descend_bowl(opt: optim.Optimizer, checkpoints: Sequence[int]) -> dict[int, float]:
    """The loss after each number of updates in `checkpoints`, from w = (1, 1)."""
    params = {"w": torch.tensor([1.0, 1.0], dtype=torch.float64)}
    state = opt.init(params)
    losses = {}
    for step in range(1, max(checkpoints) + 1):
        grads = None
        if opt.name != "lbfgs":  # L-BFGS evaluates the loss itself, through value_fn
            w = params["w"].detach().requires_grad_(True)
            grads = {"w": torch.autograd.grad(anisotropic_bowl({"w": w}), w)[0]}
        updates, state = opt.update(grads, state, params, value_fn=anisotropic_bowl)
        params = optim.apply_updates(params, updates)
        if step in checkpoints:
            losses[step] = float(anisotropic_bowl(params))
    return losses


def bowl_table(checkpoints: Sequence[int] = (50, 500), lr: float | None = None) -> list[DemoRow]:
    rows = []
    for name in optim.names():
        rule_lr = default_lr(name) if lr is None else lr
        losses = descend_bowl(optim.get(name, lr=rule_lr), checkpoints)
        rows.append(DemoRow(name, rule_lr, losses))
    return rows
