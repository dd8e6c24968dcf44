"""Running averages shared by the adaptive rules.

Each returns a new tensor and leaves its inputs alone. They are written as torch.optim
computes them (lerp; mul then addcmul), so that the arithmetic, and hence the rounding,
is the same; `beta` may be a number or a run-wise tensor.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def ema(average: Tensor, x: Tensor, beta: Any) -> Tensor:
    """β·average + (1 − β)·x"""
    return torch.lerp(average, x, 1 - beta)


def ema_square(average: Tensor, g: Tensor, beta: Any) -> Tensor:
    """β·average + (1 − β)·g²"""
    if isinstance(beta, Tensor):  # addcmul's scale must be a number: fold it into g
        return average.mul(beta).addcmul_(g * (1 - beta), g)
    return average.mul(beta).addcmul_(g, g, value=1 - beta)
