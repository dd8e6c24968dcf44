"""Running averages and the other small sums the rules share.

Each returns a new tensor and leaves its inputs alone, unless `out` is given (the rule
passes `out=h.reuse(average)`: `to_torch` lets the new average overwrite the old one).
They are written as torch.optim computes them (lerp; mul then addcmul; add with alpha),
so that the arithmetic, and hence the rounding, is the same; `beta` and `scale` may be
numbers or run-wise tensors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def ema(average: Tensor, x: Tensor, beta: Any, out: Tensor | None = None) -> Tensor:
    """β·average + (1 − β)·x"""
    return torch.lerp(average, x, 1 - beta, out=out)


def ema_square(average: Tensor, g: Tensor, beta: Any, out: Tensor | None = None) -> Tensor:
    """β·average + (1 − β)·g²"""
    decayed = torch.mul(average, beta, out=out)
    if isinstance(beta, Tensor):  # addcmul's scale must be a number: fold it into g
        return decayed.addcmul_(g * (1 - beta), g)
    return decayed.addcmul_(g, g, value=1 - beta)


def plus_scaled(x: Tensor, y: Tensor, scale: Any, out: Tensor | None = None) -> Tensor:
    """x + scale·y, rounded once as torch's x.add(y, alpha=scale) rounds it."""
    if isinstance(scale, Tensor):  # alpha must be a number; addcmul rounds alike
        return torch.addcmul(x, y, scale, out=out)
    return torch.add(x, y, alpha=scale, out=out)
