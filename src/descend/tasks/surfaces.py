"""Analytic 2-D surfaces f(w₁, w₂): textbook landscapes with known minima.

A surface is evaluated on any batch of points: `surface(w)` with w of shape (..., 2)
returns f of shape (...), so K runs stacked as (K, 2) cost one call. Each surface knows
its minima (global and, where there are several, local), a plotting window, and, for
quadratics, its Hessian (for the convergence theory in `descend.theory`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from descend.errors import DescendError
from descend.registry import Registry

Window = tuple[tuple[float, float], tuple[float, float]]  # ((w1 min, w1 max), (w2 min, w2 max))


@dataclass(frozen=True)
class Minimum:
    point: tuple[float, float]
    value: float
    is_global: bool = True


@dataclass(frozen=True, eq=False)
class Surface:
    """f(w) for w of shape (..., 2), with what is known about its minima."""

    name: str
    formula: str  # for titles and tables, e.g. "w1**2 + 8*w2**2"
    fn: Callable[[Tensor], Tensor]
    minima: tuple[Minimum, ...]
    window: Window
    default_start: tuple[float, float]
    hessian: Tensor | None = None  # (2, 2), constant: quadratics only
    params: dict[str, Any] = field(default_factory=dict)
    minima_found_numerically: bool = False  # a formula's: see descend.tasks.minima

    def __call__(self, w: Tensor) -> Tensor:
        return self.fn(w)

    # --- the engine's Task protocol (descend.engine.runs.Task) ---

    examples = None  # an analytic function: no data, the gradient is exact

    def check(self, run: Any) -> None:
        """A start must be a point (w1, w2) (finite numbers: the spec checked that)."""
        if run.start is not None and len(run.start) != 2:
            raise DescendError(
                f"Invalid start: {run.start!r} (allowed: a point (w1, w2) of the surface).",
                key="start",
            )

    def initial_params(self, run: Any, generator: torch.Generator) -> dict[str, Tensor]:
        start = self.default_start if run.start is None else run.start
        return {"w": torch.tensor([float(x) for x in start], dtype=torch.float64)}

    def on(self, device: torch.device, dtype: torch.dtype) -> Surface:
        return self  # f is a formula: it runs wherever its argument is

    def losses(self, params: Mapping[str, Tensor], batch: Any, step: Any) -> Tensor:
        """f at every run's point: params["w"] is (K, 2)."""
        return self.fn(params["w"])

    def evaluate(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {}  # the loss at every step is already exact

    @property
    def minimum_value(self) -> float | None:
        """The global minimum value, or None when it is not known."""
        values = [m.value for m in self.minima if m.is_global]
        return min(values) if values else None

    @property
    def label(self) -> str:
        args = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )
        return f"{self.name}({args})" if args else self.name


SURFACES = Registry("surface")


def register(factory: Callable[..., Surface]) -> Callable[..., Surface]:
    SURFACES.add(factory.__name__, factory)
    return factory


def names() -> list[str]:
    return SURFACES.names()


def get(name: str, **params: Any) -> Surface:
    """The surface registered as `name`, with the given parameters (e.g. rosenbrock's b)."""
    return SURFACES.get(name, **params)


def _quadratic(name: str, formula: str, hessian: Tensor, window: Window, **params: Any) -> Surface:
    """f(w) = ½·wᵀHw: minimum 0 at the origin."""
    hessian = hessian.to(torch.float64)

    def fn(w: Tensor) -> Tensor:
        h = hessian.to(w)  # (the dtype and device of the points)
        return 0.5 * torch.einsum("...i,ij,...j->...", w, h, w)

    return Surface(
        name, formula, fn, (Minimum((0.0, 0.0), 0.0),), window, (1.0, 1.0), hessian, params
    )


@register
def bowl() -> Surface:
    """f = w₁² + w₂²: the isotropic bowl of seed 004."""
    return _quadratic("bowl", "w1**2 + w2**2", 2 * torch.eye(2), ((-2.0, 2.0), (-2.0, 2.0)))


@register
def anisotropic(kappa: float = 8.0) -> Surface:
    """f = w₁² + κ·w₂²: the anisotropic bowl of seed 004 (κ = 8), condition number κ."""
    hessian = torch.diag(torch.tensor([2.0, 2.0 * kappa]))
    formula = f"w1**2 + {kappa:g}*w2**2"
    return _quadratic("anisotropic", formula, hessian, ((-2.0, 2.0), (-2.0, 2.0)), kappa=kappa)


@register
def rotated_quadratic(condition: float = 10.0, angle: float = 30.0) -> Surface:
    """f = ½·wᵀ R diag(2, 2·condition) Rᵀ w, R the rotation by `angle` degrees: the
    anisotropic bowl turned away from the axes, so coordinate-wise rules lose their edge."""
    a = math.radians(angle)
    rotation = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    hessian = rotation @ torch.diag(torch.tensor([2.0, 2.0 * condition])) @ rotation.T
    formula = f"rotated quadratic (condition {condition:g}, angle {angle:g}°)"
    return _quadratic(
        "rotated_quadratic",
        formula,
        hessian,
        ((-2.0, 2.0), (-2.0, 2.0)),
        condition=condition,
        angle=angle,
    )


@register
def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """f = (a − w₁)² + b·(w₂ − w₁²)²: minimum 0 at (a, a²) at the end of a long, curved,
    flat-bottomed valley. H. H. Rosenbrock, "An automatic method for finding the greatest
    or least value of a function", The Computer Journal 3(3), 1960."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return (a - w1) ** 2 + b * (w2 - w1**2) ** 2

    r = max(2.0, abs(a) + 1.0)  # the usual [-2, 2] x [-1, 3] view, widened to hold (a, a²)
    window = ((-r, r), (-1.0, r * r - 1.0))
    formula = f"({a:g} - w1)**2 + {b:g}*(w2 - w1**2)**2"
    minimum = Minimum((a, a * a), 0.0)
    return Surface(
        "rosenbrock", formula, fn, (minimum,), window, (-1.5, 2.0), params={"a": a, "b": b}
    )


@register
def beale() -> Surface:
    """f = (1.5 − w₁ + w₁w₂)² + (2.25 − w₁ + w₁w₂²)² + (2.625 − w₁ + w₁w₂³)²: minimum 0 at
    (3, 0.5), between flat plateaus and steep walls (its only minimum in the window; the
    other stationary points, (0, 1) and (0.1005, −2.6445), are saddles). E. M. L. Beale,
    "On an iterative method for finding a local minimum of a function of more than one
    variable", Technical Report 25, Princeton University, 1958."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return (
            (1.5 - w1 + w1 * w2) ** 2
            + (2.25 - w1 + w1 * w2**2) ** 2
            + (2.625 - w1 + w1 * w2**3) ** 2
        )

    formula = "(1.5 - w1 + w1*w2)**2 + (2.25 - w1 + w1*w2**2)**2 + (2.625 - w1 + w1*w2**3)**2"
    window = ((-4.5, 4.5), (-4.5, 4.5))  # the usual domain
    return Surface("beale", formula, fn, (Minimum((3.0, 0.5), 0.0),), window, (1.0, 1.5))


@register
def himmelblau() -> Surface:
    """f = (w₁² + w₂ − 11)² + (w₁ + w₂² − 7)²: four global minima of value 0, a local
    maximum at (−0.2708, −0.9230) and four saddles, so the start decides the basin.
    D. M. Himmelblau, Applied Nonlinear Programming, McGraw-Hill, 1972."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return (w1**2 + w2 - 11) ** 2 + (w1 + w2**2 - 7) ** 2

    # (3, 2) is exact; the other three are roots found by Newton's method on ∇f = 0 in
    # 40-digit arithmetic (mpmath.findroot), rounded to float64.
    minima = (
        Minimum((3.0, 2.0), 0.0),
        Minimum((-2.805118086952745, 3.131312518250573), 0.0),
        Minimum((-3.779310253377747, -3.283185991286170), 0.0),
        Minimum((3.584428340330492, -1.848126526964404), 0.0),
    )
    formula = "(w1**2 + w2 - 11)**2 + (w1 + w2**2 - 7)**2"
    return Surface("himmelblau", formula, fn, minima, ((-5.0, 5.0), (-5.0, 5.0)), (0.0, 0.0))


def _rastrigin_minima_1d(A: float, reach: int) -> list[tuple[float, float]]:
    """(x, g(x)) for the local minima of g(x) = x² − A·cos 2πx + A next to the integers
    −reach..reach. They sit slightly inside the integers (x ≈ 0.99496 for A = 10), so each
    is found by Newton's method on g′(x) = 2x + 2πA·sin 2πx started at its integer, in
    float64 (converged to rounding in < 10 steps)."""
    found = []
    for k in range(-reach, reach + 1):
        x = float(k)
        for _ in range(20):
            x -= (2 * x + 2 * math.pi * A * math.sin(2 * math.pi * x)) / (
                2 + 4 * math.pi**2 * A * math.cos(2 * math.pi * x)
            )
        curvature = 2 + 4 * math.pi**2 * A * math.cos(2 * math.pi * x)
        if abs(x - k) < 0.5 and curvature > 0:  # else no minimum near k (small A)
            found.append((x, x * x - A * math.cos(2 * math.pi * x) + A))
    return found


@register
def rastrigin(A: float = 10.0) -> Surface:
    """f = 2A + Σᵢ (wᵢ² − A·cos 2πwᵢ): a bowl under an egg carton, global minimum 0 at the
    origin and a local minimum next to every integer point, each worse the farther out.
    L. A. Rastrigin, Systems of Extremal Control, Nauka, 1974; the 2-D form as in A. Törn
    and A. Žilinskas, Global Optimization, LNCS 350, Springer, 1989."""

    def fn(w: Tensor) -> Tensor:
        return 2 * A + (w**2 - A * torch.cos(2 * math.pi * w)).sum(-1)

    # f is separable: its minima are the pairs of 1-D minima, their values the sums. The
    # standard window [-5.12, 5.12]² (not a closer view) because the bowl under the
    # ripples, which rewards optimizers that can hop basins, only shows at that scale.
    # It holds 11 x 11 = 121 minima; all are listed, so a basin map can name each one.
    line = _rastrigin_minima_1d(A, reach=5)
    minima = tuple(
        Minimum((x1, x2), g1 + g2, is_global=(x1, x2) == (0.0, 0.0))
        for x1, g1 in line
        for x2, g2 in line
    )
    formula = f"{2 * A:g} + w1**2 - {A:g}*cos(2*pi*w1) + w2**2 - {A:g}*cos(2*pi*w2)"
    window = ((-5.12, 5.12), (-5.12, 5.12))
    return Surface("rastrigin", formula, fn, minima, window, (2.2, 2.2), params={"A": A})


def _safe_sqrt(s: Tensor) -> Tensor:
    """√s for s ≥ 0 whose gradient at s = 0 is 0 instead of inf (hence 0·inf = NaN
    upstream): the inner `where` keeps sqrt away from 0, the outer restores the value."""
    positive = s > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, s, torch.ones_like(s))), 0.0)


@register
def ackley(a: float = 20.0, b: float = 0.2) -> Surface:
    """f = −a·exp(−b·√(½(w₁² + w₂²))) − exp(½(cos 2πw₁ + cos 2πw₂)) + e + a: a nearly flat
    outer region full of ripples around a deep funnel, global minimum 0 at the origin.
    The minimum is a cone point (f ≈ a·b·|w|/√2 near 0): there autograd gives the
    subgradient 0, not NaN. D. H. Ackley, A Connectionist Machine for Genetic
    Hillclimbing, Kluwer, 1987."""

    def fn(w: Tensor) -> Tensor:
        radius = _safe_sqrt(0.5 * (w**2).sum(-1))
        ripples = torch.exp(0.5 * torch.cos(2 * math.pi * w).sum(-1))
        return -a * torch.exp(-b * radius) - ripples + math.e + a

    formula = (
        f"-{a:g}*exp(-{b:g}*sqrt(0.5*(w1**2 + w2**2)))"
        " - exp(0.5*(cos(2*pi*w1) + cos(2*pi*w2))) + e + " + f"{a:g}"
    )
    # The usual domain is [-32.768, 32.768]²; [-5, 5]² shows the funnel and the ripples.
    # Its local minima (near the integer points) are not listed: only the global one.
    window = ((-5.0, 5.0), (-5.0, 5.0))
    minimum = Minimum((0.0, 0.0), 0.0)
    return Surface("ackley", formula, fn, (minimum,), window, (3.5, 2.5), params={"a": a, "b": b})


@register
def booth() -> Surface:
    """f = (w₁ + 2w₂ − 7)² + (2w₁ + w₂ − 5)²: a quadratic, minimum 0 at (1, 3), Hessian
    [[10, 8], [8, 10]] (eigenvalues 18 and 2). M. Jamil and X.-S. Yang, "A literature
    survey of benchmark functions for global optimisation problems", IJMMNO 4(2), 2013."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return (w1 + 2 * w2 - 7) ** 2 + (2 * w1 + w2 - 5) ** 2

    formula = "(w1 + 2*w2 - 7)**2 + (2*w1 + w2 - 5)**2"
    hessian = torch.tensor([[10.0, 8.0], [8.0, 10.0]], dtype=torch.float64)
    minima = (Minimum((1.0, 3.0), 0.0),)
    return Surface(
        "booth", formula, fn, minima, ((-10.0, 10.0), (-10.0, 10.0)), (-5.0, -5.0), hessian
    )


@register
def matyas() -> Surface:
    """f = 0.26(w₁² + w₂²) − 0.48·w₁w₂: a quadratic, minimum 0 at the origin at the end of
    a shallow valley along w₁ = w₂ (Hessian eigenvalues 1 and 0.04: condition 25).
    J. Matyas, "Random optimization", Automation and Remote Control 26(2), 1965."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return 0.26 * (w1**2 + w2**2) - 0.48 * w1 * w2

    hessian = torch.tensor([[0.52, -0.48], [-0.48, 0.52]], dtype=torch.float64)
    minima = (Minimum((0.0, 0.0), 0.0),)
    window = ((-10.0, 10.0), (-10.0, 10.0))
    return Surface(
        "matyas", "0.26*(w1**2 + w2**2) - 0.48*w1*w2", fn, minima, window, (8.0, -2.0), hessian
    )


@register
def six_hump_camel() -> Surface:
    """f = (4 − 2.1w₁² + w₁⁴/3)·w₁² + w₁w₂ + (4w₂² − 4)·w₂²: six minima, two of them
    global (≈ ±(0.0898, −0.7126), f ≈ −1.0316). L. C. W. Dixon and G. P. Szegő, "The
    global optimization problem: an introduction", Towards Global Optimisation 2, 1978."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return (4 - 2.1 * w1**2 + w1**4 / 3) * w1**2 + w1 * w2 + (4 * w2**2 - 4) * w2**2

    # Roots of ∇f = 0 by Newton's method in 40-digit arithmetic (mpmath.findroot) from a
    # 41 x 41 grid of starts over the window; f(−w) = f(w), so they come in pairs ±w.
    minima = []
    for (w1, w2), value, is_global in (
        ((0.08984201310031806, -0.7126564030207396), -1.031628453489877, True),
        ((1.703606714969981, -0.7960835686726251), -0.2154638243837184, False),
        ((1.607104752920197, 0.5686514548841314), 2.104250310311258, False),
    ):
        minima += [Minimum((w1, w2), value, is_global), Minimum((-w1, -w2), value, is_global)]
    formula = "(4 - 2.1*w1**2 + w1**4/3)*w1**2 + w1*w2 + (4*w2**2 - 4)*w2**2"
    # The usual domain is [-3, 3] x [-2, 2]; its walls (f up to 160) flatten the picture.
    window = ((-2.0, 2.0), (-1.0, 1.0))
    return Surface("six_hump_camel", formula, fn, tuple(minima), window, (-1.0, -0.75))


@register
def saddle() -> Surface:
    """f = w₁² − w₂²: a saddle at the origin and no minimum (unbounded below along w₂).
    The start lies almost on the saddle's attracting direction: gradient descent first
    slides towards the saddle, stalls there, then escapes along w₂ (at rate 1 + 2·lr per
    step). Y. Dauphin et al., "Identifying and attacking the saddle point problem in
    high-dimensional non-convex optimization", NeurIPS 2014."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        return w1**2 - w2**2

    hessian = torch.diag(torch.tensor([2.0, -2.0], dtype=torch.float64))
    window = ((-2.0, 2.0), (-2.0, 2.0))
    return Surface("saddle", "w1**2 - w2**2", fn, (), window, (1.0, 1e-3), hessian)


@register
def styblinski_tang() -> Surface:
    """f = ½ Σᵢ (wᵢ⁴ − 16wᵢ² + 5wᵢ): four minima, global −78.33233 at (−2.903534,
    −2.903534). M. A. Styblinski and T.-S. Tang, "Experiments in nonconvex optimization:
    stochastic approximation with function smoothing and simulated annealing", Neural
    Networks 3(4), 1990."""

    def fn(w: Tensor) -> Tensor:
        return 0.5 * (w**4 - 16 * w**2 + 5 * w).sum(-1)

    # f is separable: each coordinate's minima are the outer roots of 4x³ − 32x + 5 = 0,
    # found by Newton's method in 40-digit arithmetic (mpmath.findroot); the minima of f
    # are their pairs, with values the sums of ½(x⁴ − 16x² + 5x).
    low, high = -2.903534027771177, 2.746802770990837
    g_low, g_high = -39.16616570377142, -25.02944665528394
    minima = (
        Minimum((low, low), 2 * g_low),
        Minimum((low, high), g_low + g_high, is_global=False),
        Minimum((high, low), g_low + g_high, is_global=False),
        Minimum((high, high), 2 * g_high, is_global=False),
    )
    formula = "0.5*(w1**4 - 16*w1**2 + 5*w1 + w2**4 - 16*w2**2 + 5*w2)"
    return Surface("styblinski_tang", formula, fn, minima, ((-5.0, 5.0), (-5.0, 5.0)), (0.5, 0.5))


@register
def goldstein_price() -> Surface:
    """f = [1 + (w₁ + w₂ + 1)²(19 − 14w₁ + 3w₁² − 14w₂ + 6w₁w₂ + 3w₂²)]
    · [30 + (2w₁ − 3w₂)²(18 − 32w₁ + 12w₁² + 48w₂ − 36w₁w₂ + 27w₂²)]: global minimum 3 at
    (0, −1), three local minima, values spanning six decades. A. A. Goldstein and
    J. F. Price, "On descent from local minima", Mathematics of Computation 25(115), 1971."""

    def fn(w: Tensor) -> Tensor:
        w1, w2 = w.unbind(-1)
        left = 1 + (w1 + w2 + 1) ** 2 * (
            19 - 14 * w1 + 3 * w1**2 - 14 * w2 + 6 * w1 * w2 + 3 * w2**2
        )
        right = 30 + (2 * w1 - 3 * w2) ** 2 * (
            18 - 32 * w1 + 12 * w1**2 + 48 * w2 - 36 * w1 * w2 + 27 * w2**2
        )
        return left * right

    # All minima in the window, found by Newton's method on ∇f = 0 from a 41 x 41 grid
    # of starts and refined in 40-digit arithmetic: they are these decimals to 40 digits.
    minima = (
        Minimum((0.0, -1.0), 3.0),
        Minimum((-0.6, -0.4), 30.0, is_global=False),
        Minimum((1.8, 0.2), 84.0, is_global=False),
        Minimum((1.2, 0.8), 840.0, is_global=False),
    )
    formula = (
        "(1 + (w1 + w2 + 1)**2*(19 - 14*w1 + 3*w1**2 - 14*w2 + 6*w1*w2 + 3*w2**2))"
        "*(30 + (2*w1 - 3*w2)**2*(18 - 32*w1 + 12*w1**2 + 48*w2 - 36*w1*w2 + 27*w2**2))"
    )
    return Surface("goldstein_price", formula, fn, minima, ((-2.0, 2.0), (-2.0, 2.0)), (0.5, 1.5))
