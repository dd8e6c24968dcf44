"""An update as a rule states it: how θ moves, not yet applied.

    θ' = θ·(1 − decay) + scale · direction [/ denominator]  [+ a further such term]

This is the last line of nearly every torch.optim rule: decoupled weight decay first
(param.mul_), then one fused multiply-add (param.add_ with alpha, or addcdiv_). A rule
that returns an `Update` is written once and serves both APIs:

- `to_torch` applies it in place with those same fused ops: no temporary for
  scale·direction, and the rounding is torch's;
- the functional API needs a tensor to add (optax's contract: params + updates): it gets
  θ' − θ, with θ' computed by the same ops, so that θ + (θ' − θ) is θ' exactly whenever
  θ' and θ are within a factor 2 of each other (Sterbenz's lemma), i.e. nearly always.

`scale` and `decay` may be numbers or run-wise tensors (K, 1, ..., 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from descend.optim.hyper import nonzero
from descend.optim.moments import plus_scaled


@dataclass(slots=True)  # not frozen: made for every tensor at every step, keep it cheap
class Update:
    direction: Tensor
    scale: Any = 1.0
    denominator: Tensor | None = None
    decay: Any = 0.0
    plus: Update | None = None  # a second term, added after this one (NAdam's)

    @classmethod
    def replacing(cls, new: Tensor) -> Update:
        """θ' = new (θ·0 + 1·new): for a rule that has made θ' itself (ASGD keeps it)."""
        return cls(new, decay=1.0)

    def apply_to(self, param: Tensor) -> None:
        """θ ← θ', in place (to_torch)."""
        if self._is_plain_step():  # most steps of most rules: straight to add_ (this is hot)
            param.add_(self.direction, alpha=self.scale)
            return
        if nonzero(self.decay):
            if self._replaces():
                param.copy_(self.direction)
                return
            param.mul_(1 - self.decay)
        self._add_to(param, out=param)
        if self.plus is not None:
            self.plus.apply_to(param)

    def new_value(self, param: Tensor, out: Tensor | None = None) -> Tensor:
        """θ' as a new tensor (or written into `out`; `direction` itself for
        `replacing`), θ left alone."""
        if self._replaces():
            return self.direction if out is None else out.copy_(self.direction)
        if nonzero(self.decay):
            new = self._add_to(torch.mul(param, 1 - self.decay, out=out), out=out)
        else:
            new = self._add_to(param, out=out)
        if self.plus is not None:
            self.plus.apply_to(new)  # new is ours: the second term goes in place
        return new

    def as_tensor(self, param: Tensor) -> Tensor:
        """θ' − θ: what the functional API returns for params + updates."""
        if self._replaces():  # (new_value would be the rule's own tensor: not in place)
            return self.direction - param
        return self.new_value(param).sub_(param)

    def _is_plain_step(self) -> bool:
        """θ' = θ + scale·direction, scale a number."""
        return (
            type(self.scale) is float
            and type(self.decay) is float
            and self.decay == 0.0
            and self.denominator is None
            and self.plus is None
        )

    def _replaces(self) -> bool:
        return (
            _is_number(self.decay, 1)
            and _is_number(self.scale, 1)
            and self.denominator is None
            and self.plus is None
        )

    def _add_to(self, x: Tensor, out: Tensor | None) -> Tensor:
        """x + scale · direction [/ denominator], rounded once as torch's add with alpha
        or addcdiv round it."""
        scale = self.scale
        if isinstance(scale, Tensor) and scale.ndim == 0:  # one value: a number, as torch
            scale = scale.item()
        if self.denominator is None:
            return plus_scaled(x, self.direction, scale, out=out)
        if isinstance(scale, Tensor):  # run-wise: addcdiv's value must be a number
            return plus_scaled(x, self.direction / self.denominator, scale, out=out)
        return torch.addcdiv(x, self.direction, self.denominator, value=scale, out=out)


def _is_number(value: Any, number: float) -> bool:
    return not isinstance(value, Tensor) and value == number


def as_tensor(update: Tensor | Update, param: Tensor) -> Tensor:
    """The update to add to `param`, as a tensor (the functional API)."""
    return update.as_tensor(param) if isinstance(update, Update) else update


def new_value(update: Tensor | Update, param: Tensor) -> Tensor:
    """param + update, as a new tensor (`param` left alone)."""
    return update.new_value(param) if isinstance(update, Update) else param + update


def apply(update: Tensor | Update, param: Tensor) -> None:
    """param += update, in place (to_torch)."""
    if isinstance(update, Update):
        update.apply_to(param)
    else:
        param.add_(update)
