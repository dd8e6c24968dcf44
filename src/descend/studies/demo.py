"""The demo's table: every registered rule on the anisotropic bowl f = w₁² + 8·w₂² from (1, 1).

Each rule runs with its default hyper-parameters (torch.optim's), and lr 0.1 where a rule
has no default learning rate, unless the caller sets one lr for all. The runs go through
the engine, so they are the runs any study would make.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

from descend import optim
from descend.engine import OptimizerSpec, RunSpec, run
from descend.tasks import surfaces

FALLBACK_LR = 0.1


@dataclass(frozen=True)
class DemoRow:
    name: str
    lr: float
    loss_after: dict[int, float]  # {number of updates: loss}


def default_lr(name: str) -> float:
    default = optim.hyperparameter_defaults(name)["lr"]
    return FALLBACK_LR if default is inspect.Parameter.empty else float(default)


def bowl_table(checkpoints: Sequence[int] = (50, 500), lr: float | None = None) -> list[DemoRow]:
    bowl = surfaces.get("anisotropic")
    lrs = {name: default_lr(name) if lr is None else lr for name in optim.names()}
    specs = [
        RunSpec(bowl, OptimizerSpec(name, {"lr": rate}), max(checkpoints), start=(1.0, 1.0))
        for name, rate in lrs.items()
    ]
    return [
        DemoRow(
            spec.optimizer.rule,
            lrs[spec.optimizer.rule],
            {k: float(result.loss[k]) for k in checkpoints},
        )
        for spec, result in zip(specs, run(specs), strict=True)
    ]
