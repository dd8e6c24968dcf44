"""Adafactor (Shazeer & Stern 2018), as torch.optim.Adafactor.

Adam's second moment costs one number per entry; for a matrix G (m × n) Adafactor keeps
only its row and column means, m + n numbers, and rebuilds a rank-1 estimate. Per step
t = 1, 2, ...:

    β̂₂ₜ = 1 − t^τ                          (τ = beta2_decay: the average lengthens with t)
    ρₜ = min(η, 1/√t)                        (relative step size; η = lr)
    αₜ = max(ε₂, RMS(θ)) · ρₜ                (steps relative to the size of θ)
    θ ← θ − η·λ·θ                            (decoupled weight decay, λ = weight_decay)
    matrix:  R ← β̂₂ₜ·R + (1 − β̂₂ₜ)·mean_row(G²)      (m × 1)
             C ← β̂₂ₜ·C + (1 − β̂₂ₜ)·mean_col(G²)      (1 × n)
             V̂ = R·C / max(mean(R), ε₁)
    vector:  V̂ ← V ← β̂₂ₜ·V + (1 − β̂₂ₜ)·G²
    U = G / √max(V̂, ε₁²)
    θ ← θ − αₜ / max(1, RMS(U)/d) · U         (update clipping at threshold d)

RMS(x) = ‖x‖₂/√(number of entries). A tensor of more than two dimensions is a stack of
matrices over its last two; a vector or a scalar keeps the full V. ε₁ = None means the
machine epsilon of the parameters' dtype.

As torch (and unlike the paper): η caps ρₜ (the paper uses 0.01, torch's default η) and
scales the weight decay; ε₁ enters V̂ and U, not R and C; R and C hold means, not sums.

Run-wise (`stacked()`): axis 0 holds runs, so a (K, n) tensor is K vectors and a
(K, m, n) tensor K matrices; RMS(θ), RMS(U) and hence αₜ and the clipping are per run.
Those per-run scalars are Python floats for one run, as in torch, and float64 tensors
(K, 1, ..., 1) for stacked runs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from descend.errors import DescendError, HyperparameterError
from descend.optim.base import Matrixwise, Optimizer, State, register
from descend.optim.hyper import Hyper, check_flag, check_lr, check_range, nonzero
from descend.optim.updates import Update


def _is_matrix(param: Tensor, h: Hyper) -> bool:
    """Whether one run's tensor has two dimensions or more (and so is factored)."""
    return param.ndim - bool(h.run_axis) >= 2


def _norm(x: Tensor, h: Hyper) -> tuple[Any, int]:
    """‖x‖₂ of each run's tensor and the number of entries it is taken over. One run: a
    Python float, as torch's .item() (torch then works in Python floats, and so do we);
    stacked runs: a float64 tensor (K, 1, ..., 1)."""
    if h.run_axis:
        norm = torch.linalg.vector_norm(x, dim=tuple(range(1, x.ndim)), keepdim=True)
        return norm.double(), x[0].numel()
    return torch.linalg.vector_norm(x).item(), x.numel()


def _check(param: Tensor, h: Hyper) -> None:
    if param.is_complex():
        raise DescendError("adafactor supports real parameters only (as torch.optim).")


def _init(param: Tensor, h: Hyper) -> State:
    if not _is_matrix(param, h):
        return {"variance": torch.zeros_like(param)}
    rows, cols = list(param.shape), list(param.shape)
    rows[-1] = 1  # (..., m, 1)
    cols[-2] = 1  # (..., 1, n)
    return {"row_var": param.new_zeros(rows), "col_var": param.new_zeros(cols)}


def _update(grad: Tensor, state: State, param: Tensor, h: Hyper) -> tuple[Update, State]:
    t = state["step"]
    eps1, eps2 = h.eps
    if eps1 is None:
        eps1 = torch.finfo(param.dtype).eps
    one_minus_beta2 = t**h.beta2_decay
    rho = _smaller(h.lr, 1 / t**0.5)
    norm, entries = _norm(param, h)
    alpha = _larger(norm / entries**0.5, eps2) * rho

    if _is_matrix(param, h):  # the means of G² over each row (m × 1) and column (1 × n)
        row_mean = torch.linalg.vector_norm(grad, dim=-1, keepdim=True).square_()
        col_mean = torch.linalg.vector_norm(grad, dim=-2, keepdim=True).square_()
        r, c = state["row_var"], state["col_var"]
        r = torch.lerp(r, row_mean.div_(grad.shape[-1]), one_minus_beta2, out=h.reuse(r))
        c = torch.lerp(c, col_mean.div_(grad.shape[-2]), one_minus_beta2, out=h.reuse(c))
        new_state = {**state, "row_var": r, "col_var": c}
        v_hat = torch.matmul(r, c).div_(r.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        u = v_hat.clamp_(min=eps1 * eps1)
    else:
        v = state["variance"]
        v = torch.lerp(v, grad * grad, one_minus_beta2, out=h.reuse(v))
        new_state = {**state, "variance": v}
        u = v.clamp(min=eps1 * eps1)  # a new tensor: v is state
    u = u.rsqrt_().mul_(grad)

    norm_u, _ = _norm(u, h)
    clipping = _larger(norm_u / (entries**0.5 * h.d), 1.0)
    scale = -alpha / clipping
    if isinstance(scale, Tensor):
        scale = scale.to(param.dtype)
    decay = h.lr * h.weight_decay if nonzero(h.weight_decay) else 0.0
    return Update(u, scale, decay=decay), new_state


def _smaller(a: Any, b: Any) -> Any:
    """min(a, b) of numbers or run-wise tensors."""
    if isinstance(a, Tensor):
        return torch.minimum(a, b) if isinstance(b, Tensor) else a.clamp(max=b)
    return b.clamp(max=a) if isinstance(b, Tensor) else min(a, b)


def _larger(a: Any, b: Any) -> Any:
    """max(a, b) of numbers or run-wise tensors."""
    if isinstance(a, Tensor):
        return torch.maximum(a, b) if isinstance(b, Tensor) else a.clamp(min=b)
    return b.clamp(min=a) if isinstance(b, Tensor) else max(a, b)


def _check_eps(eps: Any) -> None:
    if not (isinstance(eps, tuple | list) and len(eps) == 2):
        raise HyperparameterError(
            f"Invalid eps: {eps!r} (allowed: a pair (eps1, eps2), eps1 None or >= 0, eps2 >= 0)."
        )
    if eps[0] is not None:
        check_range("eps[0]", eps[0], 0.0)
    check_range("eps[1]", eps[1], 0.0)


@register
def adafactor(
    lr: Any = 1e-2,
    beta2_decay: Any = -0.8,
    eps: tuple[Any, Any] = (None, 1e-3),
    d: Any = 1.0,
    weight_decay: Any = 0.0,
    maximize: bool = False,
) -> Optimizer:
    """Adafactor: Adam-like steps from factored second moments, relative to |θ|."""
    check_lr(lr)
    check_range("beta2_decay", beta2_decay, high=0.0)
    _check_eps(eps)
    check_range("d", d, 1.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_flag("maximize", maximize)
    hyperparams = dict(
        lr=lr,
        beta2_decay=beta2_decay,
        eps=tuple(eps),
        d=d,
        weight_decay=weight_decay,
        maximize=maximize,
    )
    return Matrixwise("adafactor", hyperparams, _init, _update, check_tensor=_check)
