"""Minima found numerically agree with the minima the surfaces list (found and verified
independently, see test_surfaces.py), and degenerate or absent minima are not invented."""

from __future__ import annotations

import pytest

from descend.tasks import surfaces
from descend.tasks.formula import parse_formula
from descend.tasks.minima import find_minima

# Ackley's listed minima are the global one only (its ripples' minima are not listed).
CHECKED = sorted(set(surfaces.names()) - {"ackley"})


@pytest.mark.parametrize("name", CHECKED)
def test_finds_exactly_the_listed_minima(name):
    surface = surfaces.get(name)
    found = find_minima(surface.fn, surface.window)
    listed = sorted(m.point for m in surface.minima)
    assert len(found) == len(listed)
    for minimum in found:
        nearest = min(
            listed, key=lambda p: (p[0] - minimum.point[0]) ** 2 + (p[1] - minimum.point[1]) ** 2
        )
        assert minimum.point == pytest.approx(nearest, abs=1e-7)
    if surface.minima:
        lowest = min(found, key=lambda m: m.value)
        assert lowest.is_global and sum(m.is_global for m in found) == 1
        assert lowest.value == pytest.approx(surface.minimum_value, abs=1e-9)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("(w1 - 1)**2 + 3*(w2 + 0.5)**2", [(1.0, -0.5)]),
        ("sin(w1)*cos(w2) + 0.1*(w1**2 + w2**2)", [(-1.3064400083695, 0.0)]),
        ("w1**3 + w2**2", []),  # an inflection at 0, not a minimum
        ("w1 + w2", []),  # no stationary point at all
        ("abs(w1) + w2**2", []),  # a kink: not a smooth minimum (documented limit)
        ("(w1**2 - 1)**2 + w2**2", [(-1.0, 0.0), (1.0, 0.0)]),
    ],
)
def test_formulas(formula, expected):
    found = sorted(m.point for m in parse_formula(formula).minima)
    assert len(found) == len(expected)
    for point, want in zip(found, sorted(expected), strict=True):
        assert point == pytest.approx(want, abs=1e-9)
