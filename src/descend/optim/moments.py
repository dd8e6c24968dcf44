"""Running averages shared by the adaptive rules.

Each returns a new tensor and leaves its inputs alone, unless `out` is given (the rule
passes `out=h.reuse(average)`: `to_torch` lets the new average overwrite the old one).
They are written as torch.optim computes them (lerp; mul then addcmul), so that the
arithmetic, and hence the rounding, is the same; `beta` may be a number or a run-wise
tensor.
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
