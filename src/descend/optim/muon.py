"""Muon: momentum orthogonalised by Newton–Schulz (Jordan et al. 2024, "Muon: an
optimizer for hidden layers in neural networks"), as torch.optim.Muon.

For a weight matrix θ (A × B) with gradient G:

    M ← μ·M + (1 − μ)·G                      (momentum, μ = momentum)
    D = (1 − μ)·G + μ·M   if nesterov,   D = M   otherwise
    O = NS(D)                                (≈ U·Vᵀ for D = U·S·Vᵀ: all singular values → ~1)
    θ ← θ − η·λ·θ − η'·O                     (decoupled decay λ = weight_decay)
    η' = η·√max(1, A/B)   (adjust_lr_fn None or "original", Jordan's)
       = 0.2·η·√max(A, B)  ("match_rms_adamw": steps of AdamW's RMS, Liu et al. 2025)

NS is ns_steps iterations of a quintic Newton–Schulz map on X = D/max(‖D‖_F, ε), whose
coefficients (a, b, c) = ns_coefficients push every singular value towards 1 quickly
rather than exactly (they end between about 0.7 and 1.2):

    X ← a·X + (b·XXᵀ + c·(XXᵀ)²)·X           (on the wide orientation: X is transposed
                                              first when A > B, and back after)

As torch, the iteration runs in bfloat16: O has bfloat16's ~3 significant digits
whatever the parameters' dtype (this is the method, not a rounding accident).

Parameters that are not matrices: torch.optim.Muon refuses them, and so does this rule
for tensors of three or more dimensions (a convolution's filters: flatten them, or give
them to another rule, as torch advises). A vector, however, is taken as one row (1 × B):
its orthogonalisation is its direction, O ≈ D/‖D‖, with η' = η, so Muon on a vector is
normalised momentum descent. That is what Muon's update means for a rank-1 matrix, and
it lets the rule run on the 2-D surfaces, where torch would refuse.

Run-wise (`stacked()`): axis 0 holds runs, so a (K, A, B) tensor is K matrices, each
orthogonalised on its own, and a (K, B) tensor K vectors.

A tensor lr is taken in the parameters' dtype. torch.optim.Muon computes 1 − lr·λ and η'
in the lr tensor's own dtype: with a float32 lr (torch.tensor(0.001) under the default
dtype) and float64 parameters it rounds them to float32, ~5e-7 relative after 30 steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.errors import DescendError, HyperparameterError
from descend.optim.base import Matrixwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_choice, check_flag, check_lr, check_range
from descend.optim.updates import Update

# Jordan's coefficients and ε (torch.optim.Muon's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
EPS = 1e-7
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def orthogonalise(d: Tensor, h: Hyper) -> Tensor:
    """NS(D) of each run's matrix (or row) in D, as a tensor of D's shape, in bfloat16.

    Each matrix goes through torch.addmm alone, so that the result is torch's bit for bit
    (a batched matmul adds in another order: a last bit of bfloat16 differs, and a few
    steps later the runs do) and a run stacked with others is the run alone. Vectors,
    which torch has no rule for, are done all at once (10 000 runs on a surface)."""
    coefficients, steps, eps = h.ns_coefficients, h.ns_steps, h.eps
    if d.ndim - bool(h.run_axis) == 1:
        rows = d.reshape(-1, d.shape[-1])  # (N, B): one row per run
        return orthogonalise_rows(rows, coefficients, steps, eps).view(d.shape)
    if not h.run_axis:
        return newton_schulz(d, coefficients, steps, eps)
    orthogonal = [newton_schulz(matrix, coefficients, steps, eps) for matrix in d]
    return torch.stack(orthogonal)


def newton_schulz(
    d: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Tensor:
    """NS(D) for one matrix D (A, B), in bfloat16, step for step as torch.optim.Muon."""
    a, b, c = coefficients
    x = d.to(torch.bfloat16, copy=True)  # a copy even from bfloat16: D may be state
    tall = d.shape[-2] > d.shape[-1]
    if tall:  # iterate on the wide orientation: XXᵀ is then the smaller Gram matrix
        x = x.mT
    x = x.div_(torch.linalg.vector_norm(x).clamp_(min=eps))
    for _ in range(steps):
        gram = x @ x.mT  # (A, A)
        polynomial = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b·XXᵀ + c·(XXᵀ)²
        x = torch.addmm(x, polynomial, x, beta=a)  # a·X + (…)·X
    return x.mT if tall else x


def orthogonalise_rows(
    d: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Tensor:
    """NS(D) for each row of D (N, B) taken as a 1 × B matrix, in bfloat16. XXᵀ is then
    the number ‖X‖², so each iteration only rescales the row: X ← (a + b·g + c·g²)·X."""
    a, b, c = coefficients
    x = d.to(torch.bfloat16, copy=True)
    x = x.div_(torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_(min=eps))
    for _ in range(steps):
        gram = (x * x).sum(dim=-1, keepdim=True)  # (N, 1)
        x = x * (a + (b * gram + c * gram * gram))
    return x


def _lr_scale(shape: tuple[int, ...], h: Hyper) -> float:
    """η'/η for one run's matrix of shape (A, B); a vector is one row (1, B)."""
    rows, cols = shape if len(shape) == 2 else (1, shape[-1])
    if h.adjust_lr_fn == "match_rms_adamw":
        return 0.2 * max(rows, cols) ** 0.5
    return max(1, rows / cols) ** 0.5


def _check(param: Tensor, h: Hyper) -> None:
    if param.is_complex():
        raise DescendError("muon supports real parameters only (as torch.optim).")
    dims = param.ndim - bool(h.run_axis)
    if dims not in (1, 2):
        run = "each run's parameter" if h.run_axis else "the parameter"
        raise DescendError(
            f"muon orthogonalises matrices (a vector is taken as one row), but {run} has "
            f"shape {tuple(param.shape)[bool(h.run_axis) :]}: {dims} dimensions (as "
            "torch.optim.Muon, it refuses others; flatten a convolution's filters to "
            "(out, in·kh·kw), or give such parameters to another rule such as adamw)."
        )


def _init(param: Tensor, h: Hyper) -> State:
    return {"momentum_buffer": torch.zeros_like(param)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    mu = h.momentum
    m = state["momentum_buffer"]
    m = torch.lerp(m, grad, 1 - mu, out=h.reuse(m))
    direction = grad.lerp(m, mu) if h.nesterov else m
    o = orthogonalise(direction, h)
    lr = h.lr * _lr_scale(param.shape[bool(h.run_axis) :], h)
    # An Update rounds θ' as torch does, in both APIs: the bfloat16 rounding in NS would
    # turn a last-bit difference in θ into a visible one a few steps later.
    update = Update(o, -lr, decay=h.lr * h.weight_decay)  # (O in bfloat16: added exactly)
    return update, {**state, "momentum_buffer": m}


def _check_numbers(name: str, value: Any, count: int) -> None:
    numbers = isinstance(value, tuple | list) and len(value) == count
    if not numbers or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise HyperparameterError(
            f"Invalid {name}: {value!r} (allowed: {count} numbers, e.g. {NS_COEFFICIENTS})."
        )


@register
def muon(
    lr: Any = 1e-3,
    weight_decay: Any = 0.1,
    momentum: Any = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = EPS,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
) -> Optimizer:
    """Muon: momentum SGD whose step, per matrix, is orthogonalised (module docstring)."""
    check_lr(lr)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("momentum", momentum, 0.0)
    check_flag("nesterov", nesterov)
    _check_numbers("ns_coefficients", ns_coefficients, 3)
    if isinstance(eps, bool) or not isinstance(eps, int | float):  # a bfloat16 clamp: a number
        raise HyperparameterError(f"Invalid eps: {eps!r} (allowed: a number >= 0).")
    check_range("eps", eps, 0.0)
    if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or not 0 <= ns_steps < 100:
        raise HyperparameterError(
            f"Invalid ns_steps: {ns_steps!r} (allowed: an integer 0 <= ns_steps < 100)."
        )
    check_choice("adjust_lr_fn", adjust_lr_fn, ADJUST_LR_FNS)
    hyperparams = dict(
        lr=lr,
        weight_decay=weight_decay,
        momentum=momentum,
        nesterov=nesterov,
        ns_coefficients=tuple(ns_coefficients),
        eps=eps,
        ns_steps=ns_steps,
        adjust_lr_fn=adjust_lr_fn,
    )
    return Matrixwise(
        "muon", hyperparams, _init, _update, check_tensor=_check,
        fixed_per_update=("ns_coefficients", "eps", "ns_steps"),
    )  # fmt: skip
