"""Convergence theory of GD and heavy-ball momentum on a quadratic f = ½·wᵀHw.

Along each eigenvector of H (eigenvalue λ), the error of GD with step η evolves as
e ← (1 − ηλ)·e, so GD contracts by max_i |1 − ηλ_i| per step and is stable iff
ηλ_max < 2. Heavy-ball momentum (torch's SGD with momentum β at a constant lr; the
classical form gives the same iterates) follows

    e_{t+1} = (1 + β − ηλ)·e_t − β·e_{t−1},  i.e.  [e_{t+1}, e_t] = M·[e_t, e_{t−1}],
    M = [[1 + β − ηλ, −β], [1, 0]],

so it contracts by the spectral radius of M (the largest |z| with z² − (1 + β − ηλ)z + β
= 0), maximised over the eigenvalues, and is stable iff ηλ_max < 2 + 2β (Polyak 1964;
Goh 2017, "Why momentum really works").
"""

from __future__ import annotations

import cmath
from collections.abc import Sequence

import torch
from torch import Tensor


def gd_rate(lr: float, eigenvalues: Sequence[float]) -> float:
    """max_i |1 − η·λ_i|: the factor by which GD shrinks the error per step."""
    return max(abs(1 - lr * lam) for lam in eigenvalues)


def momentum_rate(lr: float, momentum: float, eigenvalues: Sequence[float]) -> float:
    """max_i ρ(M_i): the asymptotic contraction per step of heavy-ball momentum."""
    return max(_momentum_radius(lr * lam, momentum) for lam in eigenvalues)


def _momentum_radius(lr_lambda: float, beta: float) -> float:
    """The spectral radius of [[1 + β − ηλ, −β], [1, 0]]: the larger root of
    z² − (1 + β − ηλ)·z + β in absolute value."""
    trace = 1 + beta - lr_lambda
    root = cmath.sqrt(trace * trace - 4 * beta)
    return max(abs((trace + root) / 2), abs((trace - root) / 2))


def gd_stability_limit(eigenvalues: Sequence[float]) -> float:
    """The largest stable learning rate of GD: η < 2/λ_max."""
    return 2 / max(eigenvalues)


def momentum_stability_limit(momentum: float, eigenvalues: Sequence[float]) -> float:
    """The largest stable learning rate of heavy-ball momentum: η < (2 + 2β)/λ_max."""
    return (2 + 2 * momentum) / max(eigenvalues)


def eigenvalues(hessian: Tensor) -> list[float]:
    return [float(v) for v in torch.linalg.eigvalsh(hessian.to(torch.float64))]


def measured_rate(
    trajectory: Tensor, minimum: Sequence[float], *, skip: int = 50, window: int = 25
) -> float:
    """The contraction per step seen along a path, from its distance d_t to the minimum.

    Momentum's d_t oscillates (complex eigenvalues of M), so the rate is measured between
    two peaks of d: the largest d in the first `window` steps after `skip` (past the
    transient), and the largest in the last `window` steps whose d is still far above
    rounding (1e-250, so that underflow does not pass for convergence):
    rate = (d_peak_late / d_peak_early)^(1 / steps between them)."""
    distance = (trajectory - torch.tensor(minimum, dtype=trajectory.dtype)).norm(dim=-1)  # (T,)
    usable = torch.isfinite(distance) & (distance > 1e-250)
    last = int(usable.nonzero()[-1]) if usable.any() else 0
    if last - skip < 2 * window:
        raise ValueError(
            f"Too few usable steps to measure a rate: {last + 1} (need {skip + 2 * window + 1})."
        )
    early = skip + int(distance[skip : skip + window].argmax())
    late = last - window + 1 + int(distance[last - window + 1 : last + 1].argmax())
    return float((distance[late] / distance[early]) ** (1.0 / (late - early)))
