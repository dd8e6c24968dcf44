"""Every registered surface: shapes, dtypes, finite gradients, and minima that really are
minima (stationary, positive definite Hessian, right value, not beaten on a dense grid,
and, where the list claims to be complete, found again by Newton's method)."""

import math

import pytest
import torch
from torch import Tensor

from descend.errors import HyperparameterError, UnknownNameError
from descend.tasks import surfaces
from descend.tasks.surfaces import Surface

# (number of global minima, number of local minima) each surface must list. A surface
# registered without an entry here fails test_every_surface_is_covered.
EXPECTED_MINIMA = {
    "ackley": (1, 0),  # its ripples' local minima are not listed (see its docstring)
    "anisotropic": (1, 0),
    "beale": (1, 0),
    "booth": (1, 0),
    "bowl": (1, 0),
    "goldstein_price": (1, 3),
    "himmelblau": (4, 0),
    "matyas": (1, 0),
    "rastrigin": (1, 120),  # 11 x 11 lattice in [-5.12, 5.12]², less the global one
    "rosenbrock": (1, 0),
    "rotated_quadratic": (1, 0),
    "saddle": (0, 0),
    "six_hump_camel": (2, 4),
    "styblinski_tang": (1, 3),
}
# Surfaces whose list of minima is not every minimum in the window.
INCOMPLETE = {"ackley"}
QUADRATICS = {"anisotropic", "booth", "bowl", "matyas", "rotated_quadratic", "saddle"}

# Non-default parameters, so the minima (and windows) that move with them are checked too.
CASES = [(name, {}) for name in EXPECTED_MINIMA] + [
    ("rosenbrock", {"a": 2.0, "b": 10.0}),
    ("rosenbrock", {"a": -1.0, "b": 100.0}),
    ("rastrigin", {"A": 5.0}),
    ("ackley", {"a": 10.0, "b": 0.5}),
    ("anisotropic", {"kappa": 100.0}),
    ("rotated_quadratic", {"condition": 50.0, "angle": -20.0}),
]
IDS = [f"{name}{params or ''}" for name, params in CASES]

# Published values, to the digits their sources give: the precise minima must round to them.
# Himmelblau: Wikipedia, "Test functions for optimization"; six-hump camel: Surjanovic &
# Bingham, Virtual Library of Simulation Experiments (sfu.ca/~ssurjano/camel6.html);
# Styblinski-Tang: -39.16617 per dimension (same library and Wikipedia).
PUBLISHED = [
    ("himmelblau", (3.0, 2.0), 0.0, 1e-12),
    ("himmelblau", (-2.805118, 3.131312), 0.0, 1e-6),
    ("himmelblau", (-3.779310, -3.283186), 0.0, 1e-6),
    ("himmelblau", (3.584428, -1.848126), 0.0, 1e-6),
    ("six_hump_camel", (0.0898, -0.7126), -1.0316, 1e-4),
    ("six_hump_camel", (-0.0898, 0.7126), -1.0316, 1e-4),
    ("styblinski_tang", (-2.903534, -2.903534), -78.33233, 1e-5),
    ("goldstein_price", (0.0, -1.0), 3.0, 1e-12),
    ("beale", (3.0, 0.5), 0.0, 1e-12),
    ("booth", (1.0, 3.0), 0.0, 1e-12),
    ("rosenbrock", (1.0, 1.0), 0.0, 1e-12),
    ("rastrigin", (0.0, 0.0), 0.0, 1e-12),
    ("ackley", (0.0, 0.0), 0.0, 1e-12),
    ("matyas", (0.0, 0.0), 0.0, 1e-12),
]


def window_grid(surface: Surface, n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """(n*n, 2) points spanning the window, edges included."""
    (low1, high1), (low2, high2) = surface.window
    axes = torch.linspace(low1, high1, n, dtype=dtype), torch.linspace(low2, high2, n, dtype=dtype)
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 2)


def inside(point: tuple[float, float], surface: Surface) -> bool:
    return all(low <= x <= high for x, (low, high) in zip(point, surface.window, strict=True))


def gradient(surface: Surface, w: Tensor) -> Tensor:
    w = w.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(surface(w).sum(), w)
    return g


def gradient_and_hessian(surface: Surface, w: Tensor) -> tuple[Tensor, Tensor]:
    """∇f and ∇²f at each of the points w (N, 2), by autograd: (N, 2) and (N, 2, 2)."""
    w = w.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(surface(w).sum(), w, create_graph=True)
    rows = [torch.autograd.grad(g[:, i].sum(), w, retain_graph=True)[0] for i in range(2)]
    return g.detach(), torch.stack(rows, dim=1)


def test_every_surface_is_covered():
    assert set(EXPECTED_MINIMA) == set(surfaces.names())


@pytest.mark.parametrize("name", sorted(EXPECTED_MINIMA))
def test_lists_the_expected_minima(name: str):
    surface = surfaces.get(name)
    n_global = sum(m.is_global for m in surface.minima)
    assert (n_global, len(surface.minima) - n_global) == EXPECTED_MINIMA[name]
    assert len({m.point for m in surface.minima}) == len(surface.minima)  # no duplicates
    if surface.minima:
        values = [m.value for m in surface.minima]
        assert surface.minimum_value == min(values)
        for m in surface.minima:  # global minima share the lowest value; local ones are above
            assert math.isclose(m.value, min(values), abs_tol=1e-9) == m.is_global


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_evaluates_on_any_batch_shape(name: str, params: dict, dtype: torch.dtype):
    surface = surfaces.get(name, **params)
    w = window_grid(surface, 7, dtype)  # (49, 2)
    values = surface(w)
    assert values.shape == (49,) and values.dtype == dtype
    assert surface(w[3]).shape == ()
    torch.testing.assert_close(surface(w[3]), values[3])
    torch.testing.assert_close(surface(w.reshape(7, 7, 2)), values.reshape(7, 7))
    exact = surface(w.double())
    torch.testing.assert_close(values.double(), exact, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_are_finite_over_the_window(name: str, params: dict, dtype: torch.dtype):
    surface = surfaces.get(name, **params)
    tiny = torch.finfo(dtype).tiny
    special = [(0.0, 0.0), (tiny, 0.0), (0.0, -tiny), (1e-12, 1e-12), surface.default_start]
    special += [m.point for m in surface.minima]
    points = [p for p in special if inside(p, surface)]
    w = torch.cat([window_grid(surface, 41, dtype), torch.tensor(points, dtype=dtype)])
    g = gradient(surface, w)
    assert g.shape == w.shape and g.dtype == dtype
    assert torch.isfinite(g).all(), w[~torch.isfinite(g).all(-1)]


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_minima_are_stationary_with_positive_definite_hessian(name: str, params: dict):
    surface = surfaces.get(name, **params)
    for m in surface.minima:
        point = torch.tensor(m.point, dtype=torch.float64)
        hessian = torch.autograd.functional.hessian(surface, point)  # (2, 2)
        assert torch.linalg.eigvalsh(hessian).min() > 1e-6, (m, hessian)
        # One Newton step from the listed point lands on the true stationary point: the
        # step's length is how far off the listed point is.
        newton_step = torch.linalg.solve(hessian, gradient(surface, point))
        assert newton_step.norm() <= 1e-9, (m, newton_step)
        scale = max(1.0, abs(m.value))  # goldstein_price's minima reach 840
        assert abs(surface(point).item() - m.value) <= 1e-9 * scale, m


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_global_minima_are_not_beaten_on_a_dense_grid(name: str, params: dict):
    surface = surfaces.get(name, **params)
    if surface.minimum_value is None:
        assert name == "saddle"  # the one surface with no minimum
        return
    values = surface(window_grid(surface, 1001))  # 10⁶ points
    assert values.min().item() >= surface.minimum_value - 1e-9
    # ... and the grid gets near it: the window frames the minimum.
    assert values.min().item() <= surface.minimum_value + 0.05 * (1 + abs(surface.minimum_value))


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_start_and_minima_lie_inside_the_window(name: str, params: dict):
    surface = surfaces.get(name, **params)
    assert inside(surface.default_start, surface)
    assert all(inside(m.point, surface) for m in surface.minima)
    assert surface.default_start not in {m.point for m in surface.minima}


@pytest.mark.parametrize("name", sorted(set(EXPECTED_MINIMA) - INCOMPLETE - {"saddle"}))
def test_newton_from_a_grid_of_starts_finds_no_unlisted_minimum(name: str):
    """Newton's method from 24 x 24 starts converges to stationary points; each one with a
    positive definite Hessian must be a listed minimum (so none is missing)."""
    surface = surfaces.get(name)
    w = window_grid(surface, 26).reshape(26, 26, 2)[1:-1, 1:-1].reshape(-1, 2)  # (576, 2)
    w = w + 1e-3  # off the symmetry lines, where a start could sit on a saddle's ridge
    for _ in range(100):
        g, h = gradient_and_hessian(surface, w)  # (N, 2), (N, 2, 2)
        step = torch.linalg.solve(h, g)
        w = torch.where(torch.isfinite(step), w - step, w)
        if step[torch.isfinite(step)].abs().max() < 1e-15:  # converged or stuck
            break
    g, h = gradient_and_hessian(surface, w)
    found = (g.norm(dim=-1) < 1e-8) & (torch.linalg.eigvalsh(h)[:, 0] > 0)
    found &= torch.tensor([inside(tuple(p), surface) for p in w.tolist()])
    minima = torch.tensor([m.point for m in surface.minima], dtype=torch.float64)  # (M, 2)
    distance = torch.cdist(w[found], minima).min(dim=1).values
    assert found.sum() >= 10
    assert distance.max() < 1e-6, w[found][distance.argmax()]


@pytest.mark.parametrize(("name", "point", "value", "tolerance"), PUBLISHED)
def test_minima_agree_with_published_values(name, point, value, tolerance):
    surface = surfaces.get(name)
    matches = [
        m
        for m in surface.minima
        if math.dist(m.point, point) <= tolerance and abs(m.value - value) <= tolerance
    ]
    assert len(matches) == 1 and matches[0].is_global


def test_rastrigin_nearest_local_minima_match_high_precision_roots():
    # x₁ and g(x₁), the 1-D minimum next to 1 of x² − 10cos 2πx + 10, by mpmath.findroot
    # at 40 digits: 0.99495863765233479545, 0.99495905709329139328.
    x1, g1 = 0.9949586376523348, 0.9949590570932914
    minima = {m.point: m for m in surfaces.get("rastrigin").minima}
    for s1, s2 in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]:
        m = min(minima.values(), key=lambda m, s=(s1, s2): math.dist(m.point, s))
        assert math.dist(m.point, (s1 * x1, s2 * x1)) < 1e-12
        assert abs(m.value - (abs(s1) + abs(s2)) * g1) < 1e-12
        assert not m.is_global


@pytest.mark.parametrize("name", sorted(QUADRATICS))
def test_hessian_of_quadratics_matches_autograd(name: str):
    surface = surfaces.get(name)
    assert surface.hessian is not None and surface.hessian.shape == (2, 2)
    generator = torch.Generator().manual_seed(0)
    for point in 20 * torch.randn(10, 2, dtype=torch.float64, generator=generator):
        hessian = torch.autograd.functional.hessian(surface, point)
        torch.testing.assert_close(hessian, surface.hessian, rtol=0, atol=1e-12)


def test_only_quadratics_carry_a_hessian():
    assert {n for n in surfaces.names() if surfaces.get(n).hessian is not None} == QUADRATICS


def test_ackley_gradient_at_and_near_its_cone_point():
    surface = surfaces.get("ackley")
    for dtype in (torch.float32, torch.float64):
        tiny = torch.finfo(dtype).tiny
        w = torch.tensor([[0.0, 0.0], [tiny, 0.0], [1e-20, -1e-20], [1e-6, 0.0]], dtype=dtype)
        g = gradient(surface, w)
        assert torch.isfinite(g).all()
        assert g[0].abs().max() == 0  # the subgradient 0 at the apex
        # Near the apex the cone's slope a·b/√2 ≈ 2.83 dominates: bounded, not exploding.
        assert g.norm(dim=-1).max() < 3.0
        assert surface(w[:1]).abs().item() < 1e-6


def test_saddle_has_no_minimum_and_is_unbounded_below():
    surface = surfaces.get("saddle")
    assert surface.minima == () and surface.minimum_value is None
    torch.testing.assert_close(
        torch.linalg.eigvalsh(surface.hessian), torch.tensor([-2.0, 2.0], dtype=torch.float64)
    )
    w2 = torch.tensor([1.0, 10.0, 100.0])
    torch.testing.assert_close(surface(torch.stack([0 * w2, w2], dim=-1)), -(w2**2))
    start = torch.tensor(surface.default_start)
    assert 0 < abs(start[1].item()) < 1e-2 * abs(start[0].item())  # close to the saddle's ridge


def test_rosenbrock_parameters_move_the_minimum_and_show_in_the_label():
    surface = surfaces.get("rosenbrock", a=2.0, b=10.0)
    assert surface.label == "rosenbrock(a=2, b=10)"
    assert surface.minima[0].point == (2.0, 4.0)
    assert surfaces.get("rosenbrock").label == "rosenbrock(a=1, b=100)"
    assert surface.formula == "(2 - w1)**2 + 10*(w2 - w1**2)**2"


def test_unknown_surface_and_unknown_parameter_are_refused():
    with pytest.raises(
        UnknownNameError, match=r"Unknown surface 'rosenbrok'\. Did you mean 'rosenbrock'\?"
    ):
        surfaces.get("rosenbrok")
    with pytest.raises(
        HyperparameterError, match=r"Surface \'rosenbrock\' has no parameter 'c'\. Allowed: a, b\."
    ):
        surfaces.get("rosenbrock", c=1.0)
    with pytest.raises(
        HyperparameterError, match=r"Surface \'bowl\' has no parameter 'kappa'\. Allowed: none\."
    ):
        surfaces.get("bowl", kappa=2.0)
