"""Minima of a 2-D surface found numerically, for surfaces whose minima nobody wrote down
(a user's formula).

Newton's method runs from a grid of starts over the window, all at once (one batched
gradient and Hessian per iteration, with torch.func). Where the Hessian is not positive
definite the step uses H + μI with μ just large enough, and every step is capped at a
tenth of the window, so starts near maxima and saddles slide off instead of jumping
away. A point is kept when its gradient vanishes to rounding and its Hessian is positive
definite (smallest eigenvalue above 1e-6 of the largest); points closer than 1e-6 of the
window merge. The lowest one found is marked global: the lowest *found in the window*,
which is not a proof that none is lower. Minima at kinks (abs) are not found.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import grad, hessian, vmap

from descend.cpu import one_thread
from descend.tasks.surfaces import Minimum, Window

GRID = 48  # starts per axis: a few in every basin of a Rastrigin-like ripple
ITERATIONS = 80


def find_minima(fn: Callable[[Tensor], Tensor], window: Window) -> tuple[Minimum, ...]:
    """The local minima of f inside the window that Newton's method finds from a grid."""
    with one_thread():  # hundreds of tiny ops: see descend.cpu
        return _find_minima(fn, window)


def _find_minima(fn: Callable[[Tensor], Tensor], window: Window) -> tuple[Minimum, ...]:
    points = _newton(fn, _grid(window), window)
    with torch.no_grad():
        values = fn(points)
        gradients = vmap(grad(fn))(points)
        eigenvalues = torch.linalg.eigvalsh(vmap(hessian(fn))(points))  # (N, 2), ascending
    scale = 1.0 + values.abs()
    # Strictly positive curvature, relative to the largest: rules out flat and degenerate
    # stationary points such as the inflection of w1**3 at 0, where Newton also ends.
    curved = eigenvalues[:, 0] > 1e-6 * eigenvalues[:, 1].abs().clamp(min=1.0)
    keep = (
        torch.isfinite(values)
        & (gradients.norm(dim=1) <= 1e-7 * scale)
        & curved
        & _inside(points, window)
    )
    return _distinct(points[keep], values[keep], window)


def _grid(window: Window) -> Tensor:
    (x0, x1), (y0, y1) = window
    xs = torch.linspace(x0, x1, GRID + 2, dtype=torch.float64)[1:-1]
    ys = torch.linspace(y0, y1, GRID + 2, dtype=torch.float64)[1:-1]
    return torch.cartesian_prod(xs, ys)  # (GRID², 2)


def _newton(fn: Callable[[Tensor], Tensor], points: Tensor, window: Window) -> Tensor:
    (x0, x1), (y0, y1) = window
    max_step = 0.1 * max(x1 - x0, y1 - y0)
    gradient_of, hessian_of = vmap(grad(fn)), vmap(hessian(fn))
    eye = torch.eye(2, dtype=points.dtype)
    for _ in range(ITERATIONS):
        g, h = gradient_of(points), hessian_of(points)  # (N, 2), (N, 2, 2)
        smallest = torch.linalg.eigvalsh(h)[:, 0]
        shift = (1e-6 - smallest).clamp(min=0.0)  # make H + μI positive definite
        step = torch.linalg.solve(h + shift[:, None, None] * eye, g.unsqueeze(-1)).squeeze(-1)
        length = step.norm(dim=1, keepdim=True)
        step = step * (max_step / length).clamp(max=1.0)
        points = torch.where(torch.isfinite(step), points - step, points)
    return points


def _inside(points: Tensor, window: Window) -> Tensor:
    (x0, x1), (y0, y1) = window
    return (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)


def _distinct(points: Tensor, values: Tensor, window: Window) -> tuple[Minimum, ...]:
    (x0, x1), (y0, y1) = window
    radius = 1e-6 * max(x1 - x0, y1 - y0)
    found: list[tuple[Tensor, float]] = []
    for i in values.argsort().tolist():  # lowest first: the first of a cluster is kept
        if all((points[i] - p).norm() > radius for p, _ in found):
            found.append((points[i], float(values[i])))
    return tuple(
        Minimum((float(p[0]), float(p[1])), value, is_global=(k == 0))
        for k, (p, value) in enumerate(found)
    )
