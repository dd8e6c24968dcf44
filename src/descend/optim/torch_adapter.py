"""`to_torch`: run a descend rule as a real torch.optim.Optimizer.

The adapter calls the rule's own per-tensor functions (`Elementwise.step_one`), so the
update a training loop gets is, by construction, the one the functional API computes.
Parameter groups, `zero_grad`, `state_dict` / `load_state_dict` and torch's LR schedulers
(which rewrite `group["lr"]`) all work as with any torch optimizer.

Speed: the adapter keeps only the newest state, so it lets the rule write each new state
tensor over the old one (`reuse_state`), and it applies an `Update` in place with
torch's fused ops: no more large temporaries or passes per step than torch.optim's own
single-tensor loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from descend.optim.base import Elementwise, get
from descend.optim.hyper import shareable
from descend.optim.updates import apply


class ElementwiseTorchOptimizer(torch.optim.Optimizer):
    """A torch.optim.Optimizer whose step is a per-tensor descend rule."""

    def __init__(self, params: Iterable[Any], rule: Elementwise):
        self.rule = rule
        super().__init__(params, dict(rule.hyperparams))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        hyperparams = self._hyperparams(group)
        # Validate a group's own hyper-parameters the way the functional API would, and
        # refuse at construction what the rule cannot update (as torch.optim does).
        get(self.rule.name, **hyperparams)
        for param in group["params"]:
            self.rule.check_param(param, hyperparams)

    def _hyperparams(self, group: dict[str, Any]) -> dict[str, Any]:
        # the rule's names only: torch adds its own keys ("differentiable") to defaults
        return {key: group[key] for key in self.rule.hyperparams}

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hyperparams = self._hyperparams(group)
            shared = {} if shareable(hyperparams) else None  # one Hyper for the group's tensors
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state.update(self.rule.init_one(param, hyperparams))
                update, new_state = self.rule.step_one(
                    param.grad, state, param, hyperparams, reuse_state=True, shared=shared
                )
                state.update(new_state)
                apply(update, param)
        return loss
